// The web console end to end, in headless Chromium driven by playwright-core: sign in, submit
// a job through the form, watch it reach Succeeded without a reload while its logs stream and
// its CPU plot fills, search and download its logs, open a web terminal, see a job wait (job
// page, capacity, list), stop a running job, delete jobs in bulk and open a shared read-only
// link. Screenshots of the main pages go to $OPENDLC_SCREENSHOTS. The server's pool is 4 CPU.
//
// Run by crates/opendlc/tests/console.rs, which starts the server and sets:
//   OPENDLC_CONSOLE_URL, OPENDLC_AK_ID, OPENDLC_AK_SECRET, OPENDLC_CHROMIUM,
//   OPENDLC_CONSOLE_NODE_MODULES, OPENDLC_SCREENSHOTS

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const require = createRequire(path.join(env('OPENDLC_CONSOLE_NODE_MODULES'), 'noop.js'));
const { chromium } = require('playwright-core');

const BASE = env('OPENDLC_CONSOLE_URL');
const SHOTS = env('OPENDLC_SCREENSHOTS');
mkdirSync(SHOTS, { recursive: true });
const LONG = 90_000;

const step = (name) => console.log(`e2e: ${name}`);
const browser = await chromium.launch({
  executablePath: env('OPENDLC_CHROMIUM'),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const errors = [];
const watch = (page) => {
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  page.on('dialog', (d) => d.accept());
};

try {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  watch(page);
  const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  step('the console asks to sign in');
  await page.goto(`${BASE}/`);
  await page.waitForURL(/#\/signin/);
  await page.fill('#ak-id', 'wrong');
  await page.fill('#ak-secret', 'wrong');
  await page.click('form button[type=submit]');
  await page.waitForSelector('.error[role=alert]');
  assert.match(await page.textContent('.error'), /InvalidAccessKeyId/);
  await shot('signin');

  step('sign in');
  await page.fill('#ak-id', env('OPENDLC_AK_ID'));
  await page.fill('#ak-secret', env('OPENDLC_AK_SECRET'));
  await page.click('form button[type=submit]');
  await page.waitForURL(/#\/jobs/);
  await page.waitForSelector('#job-list[aria-busy=false]');

  step('submit a job through the form');
  await page.click('a[href="#/submit"]');
  await page.waitForSelector('#submit-form');
  // The job types, and each one's roles, are the server's.
  const typeNames = await page.$$eval('#submit-form [name=JobType] option', (os) => os.map((o) => o.value));
  assert.equal(typeNames[0], 'PyTorchJob');
  assert.ok(typeNames.includes('DataJuicerJob') && typeNames.length === 9, typeNames.join(', '));
  await page.selectOption('#submit-form [name=JobType]', 'TFJob');
  const tfRoles = await page.$$eval('#roles [name=Type] option', (os) => os.map((o) => o.value));
  assert.deepEqual(tfRoles, ['Chief', 'PS', 'Worker', 'Evaluator', 'GraphLearn']);
  assert.match(await page.textContent('#job-type-note'), /TF_CONFIG/);
  await page.selectOption('#submit-form [name=JobType]', 'PyTorchJob');
  await page.fill('#submit-form [name=DisplayName]', 'e2e-burn');
  await page.fill('#submit-form [name=UserCommand]',
    // A CPU burner that lives through the samples (a process's time counts while it lives).
    'sh -c "while :; do :; done" & b=$!; for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 1; done; kill $b; echo done-e2e');
  await page.click('text=Add a variable');
  await page.fill('#envs [name=key]', 'API_TOKEN');
  await page.fill('#envs [name=value]', 's3cret-value');
  const preview = JSON.parse(await page.textContent('#create-json'));
  assert.equal(preview.DisplayName, 'e2e-burn');
  assert.equal(preview.JobType, 'PyTorchJob');
  assert.deepEqual(preview.Envs, { API_TOKEN: 's3cret-value' });
  assert.equal(preview.JobSpecs[0].Type, 'Worker');
  await shot('submit');
  await page.evaluate(() => { window.noReload = 'still here'; });
  await page.click('#submit-job');
  await page.waitForURL(/#\/jobs\/dlc/);
  const burnId = decodeURIComponent(page.url().split('#/jobs/')[1].split('?')[0]);
  step(`job ${burnId}: follow its logs while it runs`);
  await page.click('#tab-logs');
  // Streaming: some ticks show before the job has printed them all.
  await page.waitForFunction(() => {
    const text = document.getElementById('log-output')?.textContent || '';
    return text.includes('tick 1') && !text.includes('done-e2e');
  }, null, { timeout: LONG });
  await page.waitForSelector('h1 .badge[data-status=Running]', { timeout: LONG });
  await page.waitForFunction(
    () => (document.getElementById('log-output')?.textContent || '').includes('done-e2e'),
    null, { timeout: LONG });
  await page.waitForSelector('h1 .badge[data-status=Succeeded]', { timeout: LONG });
  assert.equal(await page.evaluate(() => window.noReload), 'still here', 'the page was not reloaded');
  await page.waitForSelector('#log-status:has-text("End of the logs")', { timeout: LONG });
  const logText = await page.textContent('#log-output');
  for (let i = 1; i <= 8; i++) assert.ok(logText.includes(`tick ${i}`), `tick ${i} in the logs`);

  step('search and download the logs');
  await page.fill('#log-search', 'tick 3');
  await page.waitForFunction(() => document.getElementById('log-output').children.length === 1);
  assert.match(await page.textContent('#log-output'), /tick 3/);
  await shot('job-logs');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download')]);
  const downloaded = await readFile(await download.path(), 'utf8');
  assert.match(downloaded, /tick 3/);
  assert.equal(download.suggestedFilename(), `${burnId}.log`);
  await page.fill('#log-search', '');

  step('the CPU plot has data');
  await page.click('#tab-metrics');
  // Attached, not visible: a flat line (a burner at a steady 100%) has no height, and
  // Playwright calls an element with an empty box hidden.
  await page.waitForSelector('figure[data-metric=CpuCoreUsage] svg polyline', { state: 'attached', timeout: LONG });
  const points = Number(await page.getAttribute('figure[data-metric=CpuCoreUsage] svg', 'data-points'));
  assert.ok(points >= 2, `CPU plot points: ${points}`);
  const cpuMax = Number(await page.getAttribute('figure[data-metric=CpuCoreUsage] svg', 'data-max'));
  assert.ok(cpuMax >= 30, `the burner shows in the CPU plot: at most ${cpuMax}%`);
  const cpuTitle = await page.textContent('figure[data-metric=CpuCoreUsage] svg > title');
  assert.match(cpuTitle, /latest/);
  await page.waitForSelector('figure[data-metric=MemoryUsage] svg polyline', { state: 'attached', timeout: LONG });
  // A few round labels on the memory axis, not one per MiB.
  const memoryLabels = await page.$$eval('figure[data-metric=MemoryUsage] svg .grid text.y',
    (ts) => ts.map((t) => t.textContent));
  assert.ok(memoryLabels.length >= 2 && memoryLabels.length <= 8, `memory axis: ${memoryLabels.join(', ')}`);
  await shot('job-metrics');

  step('the overview: spec with masked secrets, pods, timeline, events');
  await page.click('#tab-overview');
  const overview = await page.textContent('#panel-overview');
  assert.ok(overview.includes('API_TOKEN') && !overview.includes('s3cret-value'), 'the secret is masked');
  await page.waitForSelector('#panel-overview table.pods tr[data-pod-id]');
  await page.waitForSelector('#panel-overview .timeline .seg');
  // The owner by name, as in the job list, not by user id.
  const owner = await page.evaluate(() => [...document.querySelectorAll('#panel-overview dt')]
    .find((dt) => dt.textContent === 'Owner')?.nextElementSibling?.textContent);
  assert.ok(owner && !/^\d+$/.test(owner), `owner: ${owner}`);
  await shot('job-overview');
  await page.click('#tab-events');
  await page.waitForFunction(() => document.querySelectorAll('#events-list li').length > 1);
  await shot('job-events');

  step('create a TensorBoard for the job and open it');
  await page.click('#tab-overview');
  await page.fill('#tb-summary', 'tb');
  await page.click('#create-tensorboard');
  await page.waitForSelector('#panel-overview tr[data-tensorboard-id] .badge', { timeout: LONG });
  await page.waitForFunction(() => {
    const row = document.querySelector('#panel-overview tr[data-tensorboard-id]');
    return row && /Running|Failed/.test(row.textContent);
  }, null, { timeout: LONG });
  const board = await page.textContent('#panel-overview tr[data-tensorboard-id]');
  assert.match(board, /Running/, `the TensorBoard runs: ${board}`);
  const [tab] = await Promise.all([
    page.context().waitForEvent('page'),
    page.click('#panel-overview tr[data-tensorboard-id] button'),
  ]);
  await tab.waitForLoadState('domcontentloaded');
  assert.match(tab.url(), /\/tensorboard\//, tab.url());
  assert.match(await tab.content(), /<html/i);
  await tab.close();
  await shot('job-tensorboard');

  step('share a read-only link');
  await page.click('#tab-overview');
  await page.click('#share-job');
  const shared = await page.inputValue('input[aria-label="Read-only link"]');
  assert.match(shared, new RegExp(`/#/jobs/${burnId}\\?token=`));

  step('submit a long job as pasted JSON, open a terminal in it, stop it');
  await page.click('a[href="#/submit"]');
  await page.waitForSelector('#paste-form');
  await page.fill('#pasted-json', JSON.stringify({
    DisplayName: 'e2e-sleeper', JobType: 'PyTorchJob', UserCommand: 'echo sleeping; sleep 300',
    JobSpecs: [{ Type: 'Worker', PodCount: 1, Image: 'local', EcsSpec: 'ecs.c6.large' }],
  }));
  await page.click('#paste-form button[type=submit]');
  await page.waitForURL(/#\/jobs\/dlc/);
  const sleeperId = decodeURIComponent(page.url().split('#/jobs/')[1].split('?')[0]);
  await page.waitForSelector('h1 .badge[data-status=Running]', { timeout: LONG });
  await page.click('#tab-terminal');
  await page.waitForSelector('#terminal-pod option', { state: 'attached', timeout: LONG });
  await page.click('#terminal-connect');
  await page.waitForSelector('#terminal-status:has-text("Connected")');
  await page.waitForSelector('.terminal');
  await page.waitForTimeout(500);
  await page.click('.terminal');
  await page.keyboard.type('echo hi-$((6*7))');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => (document.querySelector('.terminal')?.textContent || '').includes('hi-42'),
    null, { timeout: 20_000 });
  await shot('job-terminal');
  await page.click('#terminal-connect'); // disconnect

  step('a job that does not fit waits, and says why');
  await page.click('a[href="#/submit"]');
  await page.fill('#pasted-json', JSON.stringify({
    DisplayName: 'e2e-waiter', JobType: 'PyTorchJob', UserCommand: 'echo started',
    JobSpecs: [{ Type: 'Worker', PodCount: 1, Image: 'local', ResourceConfig: { CPU: '4', Memory: '1Gi' } }],
  }));
  await page.click('#paste-form button[type=submit]');
  await page.waitForURL(/#\/jobs\/dlc/);
  const waiterId = decodeURIComponent(page.url().split('#/jobs/')[1].split('?')[0]);
  await page.waitForSelector('#queue-wait:has-text("#1 in the queue")', { timeout: LONG });
  assert.match(await page.textContent('#queue-wait'), /needs 4 CPU, 2 free/);
  await shot('job-queued');

  step('capacity: the pool in use, the queue');
  await page.click('a[href="#/capacity"]');
  await page.waitForSelector(`#queue tr[data-job-id="${waiterId}"]`);
  await page.waitForSelector(`tr[data-job-id="${sleeperId}"] .badge[data-status=Running]`);
  assert.match(await page.textContent('main'), /2 cores used of 4 cores/);
  await shot('capacity');

  step('the job list shows where a queued job stands');
  await page.click('a[href="#/jobs"]');
  await page.waitForSelector(`tr[data-job-id="${waiterId}"] .why:has-text("#1 in queue")`);
  await page.waitForSelector(`tr[data-job-id="${burnId}"] .badge[data-status=Succeeded]`);
  await shot('jobs');

  step('stop the running job; the waiting one starts');
  await page.click(`tr[data-job-id="${sleeperId}"] a`);
  await page.waitForSelector('#stop-job');
  await page.click('#stop-job');
  await page.waitForSelector('h1 .badge[data-status=Stopped]', { timeout: LONG });

  step('the job list: filter, then delete jobs in bulk');
  await page.click('a[href="#/jobs"]');
  await page.waitForSelector(`tr[data-job-id="${waiterId}"] .badge[data-status=Succeeded]`, { timeout: LONG });
  await page.selectOption('select[name=Status]', 'Stopped');
  await page.waitForFunction((id) => !document.querySelector(`tr[data-job-id="${id}"]`), burnId);
  await page.waitForSelector(`tr[data-job-id="${sleeperId}"]`);
  await page.selectOption('select[name=Status]', '');
  await page.waitForSelector(`tr[data-job-id="${burnId}"]`);
  await page.check(`tr[data-job-id="${sleeperId}"] input[type=checkbox]`);
  await page.check(`tr[data-job-id="${waiterId}"] input[type=checkbox]`);
  await page.click('text=Delete selected');
  await page.waitForFunction((ids) => ids.every((id) => !document.querySelector(`tr[data-job-id="${id}"]`)),
    [sleeperId, waiterId], { timeout: LONG });
  await page.waitForSelector(`tr[data-job-id="${burnId}"]`);

  step('the shared link opens the job read-only, in a browser with no key');
  const guest = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const view = await guest.newPage();
  watch(view);
  await view.goto(shared);
  await view.waitForSelector('h1 .badge[data-status=Succeeded]', { timeout: LONG });
  assert.match(await view.textContent('main'), /read-only/);
  assert.equal(await view.$('#stop-job'), null, 'no Stop in a shared view');
  assert.equal(await view.$('#share-job'), null, 'no sharing in a shared view');
  assert.equal(await view.$('#tab-terminal'), null, 'no terminal in a shared view');
  assert.equal(await view.$$eval('#nav a', (a) => a.length), 0, 'no navigation in a shared view');
  await view.click('#tab-logs');
  await view.waitForFunction(() => (document.getElementById('log-output')?.textContent || '').includes('done-e2e'),
    null, { timeout: LONG });
  await view.click('#tab-metrics');
  await view.waitForSelector('figure[data-metric=CpuCoreUsage] svg polyline', { state: 'attached', timeout: LONG });
  await view.click('#tab-overview');
  await view.screenshot({ path: path.join(SHOTS, 'shared.png'), fullPage: true });
  // The token opens that job only: the list is refused.
  await view.goto(`${BASE}/#/jobs`);
  await view.waitForURL(/#\/signin/);

  assert.deepEqual(errors, [], 'no uncaught errors in the pages');
  step('passed');
} finally {
  await browser.close();
}
