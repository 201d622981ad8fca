// Unit tests of the charts' axis ticks: a readable number of round ticks for any range.
//
//     node --test console/tests/plot.test.mjs

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { niceStep, yTicks } from '../../crates/server/console/js/plot.js';

const KiB = 1024, MiB = 1024 ** 2, GiB = 1024 ** 3;

/** Values from `from` to `to`, 40 per decade, plus the round ones and their neighbours. */
function sweep(from, to) {
  const values = [];
  for (let v = from; v <= to; v *= 10 ** (1 / 40)) values.push(v, Math.round(v));
  for (let p = 1; p <= to; p *= 2) values.push(p - 1, p, p + 1);
  for (let p = 1; p <= to; p *= 10) values.push(p - 1, p, p + 1);
  return values.filter((v) => v >= from && v <= to);
}

function checkAxis(vmax, ticks) {
  const label = `vmax ${vmax}: ${ticks.join(', ')}`;
  assert.equal(ticks[0], 0, label);
  assert.ok(ticks.at(-1) >= vmax * (1 - 1e-9), label);
  assert.ok(ticks.at(-2) < vmax || ticks.length === 2, `no tick wholly above the data: ${label}`);
  const step = ticks[1] - ticks[0];
  ticks.forEach((t, i) => assert.ok(Math.abs(t - i * step) <= step * 1e-9, label));
  return step;
}

test('memory and rates: 4 to 6 ticks, each step a power of two (whole bytes)', () => {
  for (const vmax of sweep(5, 2 ** 50)) {
    const ticks = yTicks(vmax, true);
    assert.ok(ticks.length >= 4 && ticks.length <= 6, `${ticks.length} ticks for ${vmax}: ${ticks.join(', ')}`);
    const step = checkAxis(vmax, ticks);
    assert.ok(Number.isInteger(step), `whole bytes: ${step} for ${vmax}`);
    if (step >= KiB) assert.equal(Math.log2(step) % 1, 0, `a power of two: ${step} for ${vmax}`);
  }
});

test('a job using a few GiB of memory gets a few ticks, not hundreds', () => {
  assert.deepEqual(yTicks(3.2e9, true), [0, 1, 2, 3].map((g) => g * GiB));
  assert.deepEqual(yTicks(1.1 * GiB, true), [0, 1, 2, 3, 4, 5].map((q) => q * 256 * MiB));
  assert.deepEqual(yTicks(600 * MiB, true), [0, 1, 2, 3, 4, 5].map((q) => q * 128 * MiB));
});

test('tiny and empty byte series still get an axis', () => {
  assert.deepEqual(yTicks(0, true), [0, 1]);
  assert.deepEqual(yTicks(1, true), [0, 1]);
  assert.ok(yTicks(3, true).length <= 6);
});

test('percentages and other numbers: 4 to 6 ticks of 1, 2 or 5 times a power of ten', () => {
  for (const vmax of sweep(0.001, 1e9)) {
    const ticks = yTicks(vmax, false);
    assert.ok(ticks.length >= 4 && ticks.length <= 6, `${ticks.length} ticks for ${vmax}: ${ticks.join(', ')}`);
    const step = checkAxis(vmax, ticks);
    const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
    assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6), `round step ${step} for ${vmax}`);
  }
  assert.deepEqual(yTicks(100, false), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(yTicks(0, false), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1]);
});

test('niceStep never gives more intervals than asked', () => {
  for (const span of sweep(1, 1e12)) {
    for (const binary of [false, true]) {
      const step = niceStep(span, 4, binary);
      assert.ok(span / step <= 4 + 1e-9, `${span}/${step}`);
    }
  }
  assert.equal(niceStep(0, 4), 1);
});
