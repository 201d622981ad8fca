//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::{Connection, Transaction};

use crate::Result;

/// One step of the schema: SQL, or code where SQL cannot say it.
enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> Result<()>),
}

impl Migration {
    fn apply(&self, tx: &Transaction<'_>) -> Result<()> {
        match self {
            Migration::Sql(sql) => Ok(tx.execute_batch(sql)?),
            Migration::Code(code) => code(tx),
        }
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration::Sql(
        r#"
CREATE TABLE jobs (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id              TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    job_type            TEXT NOT NULL,
    status              TEXT NOT NULL,
    reason_code         TEXT,
    reason_message      TEXT,
    priority            INTEGER NOT NULL,
    workspace_id        TEXT NOT NULL,
    resource_id         TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    accessibility       TEXT NOT NULL,
    user_command        TEXT NOT NULL,
    images              TEXT NOT NULL,
    roles               TEXT NOT NULL,
    envs                TEXT NOT NULL,
    tags                TEXT NOT NULL,
    request             TEXT NOT NULL,
    max_running_minutes INTEGER,
    ports               TEXT NOT NULL DEFAULT '[]',
    restart_count       INTEGER NOT NULL DEFAULT 0,
    gmt_create          INTEGER NOT NULL,
    gmt_submitted       INTEGER,
    gmt_running         INTEGER,
    gmt_finish          INTEGER,
    gmt_successed       INTEGER,
    gmt_failed          INTEGER,
    gmt_stopped         INTEGER
);
CREATE INDEX jobs_by_create ON jobs (gmt_create);
CREATE INDEX jobs_by_status ON jobs (status);

CREATE TABLE pods (
    pod_uid     TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    pod_id      TEXT NOT NULL,
    role        TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    status      TEXT NOT NULL,
    ip          TEXT,
    node_name   TEXT,
    pid         INTEGER,
    exit_code   INTEGER,
    exit_signal INTEGER,
    reason      TEXT,
    gmt_create  INTEGER NOT NULL,
    gmt_start   INTEGER,
    gmt_finish  INTEGER,
    current     INTEGER NOT NULL
);
CREATE INDEX pods_by_job ON pods (job_id);

CREATE TABLE status_history (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id         TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    status         TEXT NOT NULL,
    start_time     INTEGER NOT NULL,
    end_time       INTEGER,
    reason_code    TEXT,
    reason_message TEXT
);
CREATE INDEX status_history_by_job ON status_history (job_id);

CREATE TABLE events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    pod_id TEXT,
    time   INTEGER NOT NULL,
    text   TEXT NOT NULL
);
CREATE INDEX events_by_job ON events (job_id, time);
"#,
    ),
    Migration::Sql(
        r#"
CREATE TABLE users (
    user_id    TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    is_admin   INTEGER NOT NULL DEFAULT 0,
    gmt_create INTEGER NOT NULL
);

CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    secret        TEXT NOT NULL,
    gmt_create    INTEGER NOT NULL,
    gmt_revoked   INTEGER
);
CREATE INDEX access_keys_by_user ON access_keys (user_id);

CREATE TABLE workspaces (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    description  TEXT NOT NULL,
    env_types    TEXT NOT NULL,
    creator_id   TEXT NOT NULL,
    gmt_create   INTEGER NOT NULL,
    gmt_modified INTEGER NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    gmt_create   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_by_user ON workspace_members (user_id);
"#,
    ),
    Migration::Sql(
        r#"
CREATE TABLE sanity_results (
    job_id       TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    check_number INTEGER NOT NULL,
    phase        TEXT NOT NULL,
    status       TEXT NOT NULL,
    message      TEXT NOT NULL,
    started      INTEGER,
    finished     INTEGER,
    PRIMARY KEY (job_id, check_number, phase)
);
"#,
    ),
    // Observability: pod metric samples (GetJobMetrics) and TensorBoards.
    Migration::Sql(
        r#"
CREATE TABLE metric_samples (
    job_id     TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    pod_id     TEXT NOT NULL,
    pod_uid    TEXT NOT NULL,
    time       INTEGER NOT NULL,
    cpu        REAL,
    memory     REAL,
    disk_read  REAL,
    disk_write REAL,
    net_in     REAL,
    net_out    REAL,
    gpu_core   REAL,
    gpu_memory REAL
);
CREATE INDEX metric_samples_by_job ON metric_samples (job_id, time);
CREATE INDEX metric_samples_by_time ON metric_samples (time);

CREATE TABLE tensorboards (
    tensorboard_id      TEXT PRIMARY KEY,
    display_name        TEXT NOT NULL,
    job_id              TEXT,
    workspace_id        TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    accessibility       TEXT NOT NULL,
    priority            TEXT,
    summary_path        TEXT NOT NULL,
    logdir              TEXT NOT NULL,
    request             TEXT NOT NULL,
    max_running_minutes INTEGER,
    status              TEXT NOT NULL,
    reason_code         TEXT,
    reason_message      TEXT,
    port                INTEGER,
    pid                 INTEGER,
    gmt_create          INTEGER NOT NULL,
    gmt_modify          INTEGER NOT NULL,
    gmt_start           INTEGER,
    gmt_finish          INTEGER
);
CREATE INDEX tensorboards_by_create ON tensorboards (gmt_create);
"#,
    ),
    // The Unix identity a user's pods run as, where an administrator set one.
    Migration::Sql(
        r#"
ALTER TABLE users ADD COLUMN unix_uid INTEGER;
ALTER TABLE users ADD COLUMN unix_gid INTEGER;
"#,
    ),
    // ListJobs over a long history: indexes that answer its filters, its count and the order of
    // its page without reading the jobs' rows (each holds what the common filters test), by
    // owner (ShowOwn, the default), by time (all users), and by status.
    Migration::Sql(
        r#"
CREATE INDEX jobs_own ON jobs (user_id, gmt_create, seq, status, job_type, workspace_id,
                               accessibility, priority, display_name);
CREATE INDEX jobs_recent ON jobs (gmt_create, seq, user_id, status, job_type, workspace_id,
                                  accessibility, priority, display_name);
CREATE INDEX jobs_status ON jobs (status, gmt_create, seq, user_id, workspace_id,
                                  accessibility, job_type);
DROP INDEX jobs_by_create;
DROP INDEX jobs_by_status;
"#,
    ),
    // ListJobs' TotalCount over a whole history without walking it: how many jobs there are of
    // each owner, workspace, accessibility, status and type, kept by the jobs table's triggers.
    Migration::Sql(
        r#"
CREATE TABLE job_counts (
    user_id       TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    accessibility TEXT NOT NULL,
    status        TEXT NOT NULL,
    job_type      TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (user_id, workspace_id, accessibility, status, job_type)
) WITHOUT ROWID;
INSERT INTO job_counts
    SELECT user_id, workspace_id, accessibility, status, job_type, COUNT(*) FROM jobs
    GROUP BY user_id, workspace_id, accessibility, status, job_type;
CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts VALUES
        (NEW.user_id, NEW.workspace_id, NEW.accessibility, NEW.status, NEW.job_type, 1)
    ON CONFLICT (user_id, workspace_id, accessibility, status, job_type) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1
    WHERE user_id = OLD.user_id AND workspace_id = OLD.workspace_id
      AND accessibility = OLD.accessibility AND status = OLD.status AND job_type = OLD.job_type;
END;
CREATE TRIGGER job_counts_update
AFTER UPDATE OF user_id, workspace_id, accessibility, status, job_type ON jobs BEGIN
    UPDATE job_counts SET n = n - 1
    WHERE user_id = OLD.user_id AND workspace_id = OLD.workspace_id
      AND accessibility = OLD.accessibility AND status = OLD.status AND job_type = OLD.job_type;
    INSERT INTO job_counts VALUES
        (NEW.user_id, NEW.workspace_id, NEW.accessibility, NEW.status, NEW.job_type, 1)
    ON CONFLICT (user_id, workspace_id, accessibility, status, job_type) DO UPDATE SET n = n + 1;
END;
"#,
    ),
    // ListJobs' DisplayName substring over a long history: the names' trigrams (any case).
    Migration::Sql(
        r#"
CREATE VIRTUAL TABLE job_names USING fts5(
    display_name, content = 'jobs', content_rowid = 'seq', tokenize = 'trigram', detail = 'full'
);
INSERT INTO job_names (job_names) VALUES ('rebuild');
CREATE TRIGGER job_names_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_names (rowid, display_name) VALUES (NEW.seq, NEW.display_name);
END;
CREATE TRIGGER job_names_delete AFTER DELETE ON jobs BEGIN
    INSERT INTO job_names (job_names, rowid, display_name)
        VALUES ('delete', OLD.seq, OLD.display_name);
END;
CREATE TRIGGER job_names_update AFTER UPDATE OF display_name ON jobs BEGIN
    INSERT INTO job_names (job_names, rowid, display_name)
        VALUES ('delete', OLD.seq, OLD.display_name);
    INSERT INTO job_names (rowid, display_name) VALUES (NEW.seq, NEW.display_name);
END;
"#,
    ),
    // 11: a job's own credentials (CredentialConfig.EnableCredentialInject): keys that act for
    // one job only, revoked when it ends.
    Migration::Sql(
        r#"
ALTER TABLE access_keys ADD COLUMN job_id TEXT;
CREATE INDEX access_keys_by_job ON access_keys (job_id) WHERE job_id IS NOT NULL;
"#,
    ),
    // 12: each restart of a job or of one of its pods, with its cause and where it happened
    // (GetJob's RestartRecord); restarts for failures from outside the job counted apart from
    // its budget. Earlier restarts come from the status history, without a cause.
    Migration::Sql(
        r#"
ALTER TABLE jobs ADD COLUMN infra_restart_count INTEGER NOT NULL DEFAULT 0;
CREATE TABLE restarts (
    job_id   TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    n        INTEGER NOT NULL,
    time     INTEGER NOT NULL,
    level    TEXT NOT NULL,
    message  TEXT NOT NULL,
    cause    TEXT,
    value    INTEGER,
    pod_id   TEXT,
    node     TEXT,
    excluded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, n)
) WITHOUT ROWID;
INSERT INTO restarts (job_id, n, time, level, message)
    SELECT job_id, ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY seq), start_time, 'Job',
           COALESCE(reason_message, '')
    FROM status_history WHERE status = 'Restarting';
"#,
    ),
    // 13: pod metrics rolled up per minute, 5 minutes and hour (`step`, in ms: core's
    // `metrics::ROLLUPS`), so that GetJobMetrics over a long window reads few rows and samples
    // older than an hour can go. Each bucket (`time`: its start) holds, per series, the sum of
    // the values measured in it and how many there were. Every sample is added to its buckets
    // as it is recorded; the samples already stored are added here.
    Migration::Sql(
        r#"
CREATE TABLE metric_rollups (
    job_id           TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    step             INTEGER NOT NULL,
    time             INTEGER NOT NULL,
    pod_id           TEXT NOT NULL,
    gpu_core_sum     REAL NOT NULL,
    gpu_core_count   INTEGER NOT NULL,
    gpu_memory_sum   REAL NOT NULL,
    gpu_memory_count INTEGER NOT NULL,
    cpu_sum          REAL NOT NULL,
    cpu_count        INTEGER NOT NULL,
    memory_sum       REAL NOT NULL,
    memory_count     INTEGER NOT NULL,
    net_in_sum       REAL NOT NULL,
    net_in_count     INTEGER NOT NULL,
    net_out_sum      REAL NOT NULL,
    net_out_count    INTEGER NOT NULL,
    disk_read_sum    REAL NOT NULL,
    disk_read_count  INTEGER NOT NULL,
    disk_write_sum   REAL NOT NULL,
    disk_write_count INTEGER NOT NULL,
    PRIMARY KEY (job_id, step, time, pod_id)
) WITHOUT ROWID;
CREATE INDEX metric_rollups_by_age ON metric_rollups (step, time);
INSERT INTO metric_rollups
    SELECT job_id, step, time - time % step, pod_id,
           total(gpu_core), count(gpu_core), total(gpu_memory), count(gpu_memory),
           total(cpu), count(cpu), total(memory), count(memory),
           total(net_in), count(net_in), total(net_out), count(net_out),
           total(disk_read), count(disk_read), total(disk_write), count(disk_write)
    FROM metric_samples, (SELECT 60000 AS step UNION ALL SELECT 300000 UNION ALL SELECT 3600000)
    GROUP BY job_id, step, time - time % step, pod_id;
"#,
    ),
    // 14: who may see each job, by its row: a DisplayName's trigrams give rows, and a caller
    // who may see only some jobs has each of them tested here instead of in its large row.
    Migration::Sql(
        r#"
CREATE INDEX jobs_access ON jobs (seq, user_id, workspace_id, accessibility);
"#,
    ),
    // 15: the names' trigrams under who may see each job, so that a DisplayName search is
    // answered by the full-text index alone for any caller, reading only the matches among
    // what they may see (`crate::search` writes the terms: the name's trigrams for everyone,
    // under its owner's code and under its scope's; `search_codes` numbers the principals).
    // Replaces 10's `job_names` and 14's index.
    Migration::Sql(
        r#"
DROP TRIGGER job_names_insert;
DROP TRIGGER job_names_delete;
DROP TRIGGER job_names_update;
DROP TABLE job_names;
DROP INDEX jobs_access;
CREATE TABLE search_codes (
    code      INTEGER PRIMARY KEY,
    principal TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE job_search USING fts5(
    terms, content = '', contentless_delete = 1, tokenize = 'ascii', detail = 'full'
);
-- A job's principals: its owner, and its scope (its workspace, PUBLIC or not).
CREATE VIEW job_principals AS
    SELECT seq, 'user:' || user_id AS owner,
           (CASE accessibility WHEN 'PUBLIC' THEN 'public:' ELSE 'private:' END)
               || workspace_id AS scope
    FROM jobs;
CREATE VIEW job_search_rows AS
    SELECT seq, search_terms(display_name,
               (SELECT code FROM search_codes WHERE principal = owner),
               (SELECT code FROM search_codes WHERE principal = scope)) AS terms
    FROM jobs JOIN job_principals USING (seq);
INSERT OR IGNORE INTO search_codes (principal)
    SELECT owner FROM job_principals UNION SELECT scope FROM job_principals;
INSERT INTO job_search (rowid, terms) SELECT * FROM job_search_rows;
CREATE TRIGGER job_search_insert AFTER INSERT ON jobs BEGIN
    INSERT OR IGNORE INTO search_codes (principal)
        SELECT owner FROM job_principals WHERE seq = NEW.seq
        UNION ALL SELECT scope FROM job_principals WHERE seq = NEW.seq;
    INSERT INTO job_search (rowid, terms) SELECT * FROM job_search_rows WHERE seq = NEW.seq;
END;
CREATE TRIGGER job_search_delete AFTER DELETE ON jobs BEGIN
    DELETE FROM job_search WHERE rowid = OLD.seq;
END;
CREATE TRIGGER job_search_update
AFTER UPDATE OF display_name, user_id, workspace_id, accessibility ON jobs
WHEN OLD.display_name IS NOT NEW.display_name OR OLD.user_id IS NOT NEW.user_id
  OR OLD.workspace_id IS NOT NEW.workspace_id OR OLD.accessibility IS NOT NEW.accessibility
BEGIN
    INSERT OR IGNORE INTO search_codes (principal)
        SELECT owner FROM job_principals WHERE seq = NEW.seq
        UNION ALL SELECT scope FROM job_principals WHERE seq = NEW.seq;
    DELETE FROM job_search WHERE rowid = OLD.seq;
    INSERT INTO job_search (rowid, terms) SELECT * FROM job_search_rows WHERE seq = NEW.seq;
END;
"#,
    ),
    // 16: the owner's and the time index hold each job's Tags too (a short JSON object, most
    // often `{}`): a Tags filter is answered from them, not from each candidate's 1.5 KB row.
    Migration::Sql(
        r#"
DROP INDEX jobs_own;
DROP INDEX jobs_recent;
CREATE INDEX jobs_own ON jobs (user_id, gmt_create, seq, status, job_type, workspace_id,
                               accessibility, priority, display_name, tags);
CREATE INDEX jobs_recent ON jobs (gmt_create, seq, user_id, status, job_type, workspace_id,
                                  accessibility, priority, display_name, tags);
"#,
    ),
    // 17: everyone's terms in the name index hold the name's grams of 4 to 6 characters too
    // (`crate::search`): an administrator's search of a common name reads one term instead of
    // a phrase of trigrams. Every job's terms written again (a million jobs: ~30 s, once).
    Migration::Sql(
        r#"
INSERT INTO job_search (job_search) VALUES ('delete-all');
INSERT INTO job_search (rowid, terms) SELECT * FROM job_search_rows;
"#,
    ),
    // 18: a rollup's bucket is one row per job, its pods and their sums packed in a column per
    // series (`crate::metrics` says how), instead of a row per pod: a week of a 100-pod job is
    // 2,016 rows to read, not 201,600. The rows of `metric_rollups` are packed into it.
    Migration::Code(crate::metrics::pack_rollups),
];

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let applied: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (version, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        migration.apply(&tx)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in memory as the migrations before the first holding `statement` left it.
    fn migrated_before(statement: &str) -> Connection {
        migrated_to(
            MIGRATIONS
                .iter()
                .position(|m| matches!(m, Migration::Sql(sql) if sql.contains(statement)))
                .unwrap(),
        )
    }

    /// A database in memory as the first `version` migrations left it.
    fn migrated_to(version: usize) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::search::register(&conn).unwrap();
        let tx = conn.transaction().unwrap();
        for migration in &MIGRATIONS[..version] {
            migration.apply(&tx).unwrap();
        }
        tx.pragma_update(None, "user_version", version).unwrap();
        tx.commit().unwrap();
        conn
    }

    /// Stores a finished job of `user`'s in `workspace` as the jobs table has held it since
    /// before the migrations tested here.
    fn insert_job(
        conn: &Connection,
        id: &str,
        name: &str,
        workspace: &str,
        user: &str,
        access: &str,
    ) {
        conn.execute(
            "INSERT INTO jobs (job_id, display_name, job_type, status, priority, workspace_id,
                 resource_id, user_id, accessibility, user_command, images, roles, envs, tags,
                 request, gmt_create)
             VALUES (?1, ?2, 'PyTorchJob', 'Succeeded', 1, ?3, '', ?4, ?5, 'true', '', '[]',
                 '{}', '{}', '{}', 0)",
            [id, name, workspace, user, access],
        )
        .unwrap();
    }

    /// A database from before the rollups, with samples, gets them added to their buckets.
    #[test]
    fn the_samples_stored_before_the_rollups_are_rolled_up() {
        let mut conn = migrated_before("CREATE TABLE metric_rollups");
        insert_job(&conn, "dlc1", "x", "default", "1", "PRIVATE");
        conn.execute_batch(
            "INSERT INTO metric_samples (job_id, pod_id, pod_uid, time, cpu, memory) VALUES
                 ('dlc1', 'w0', 'u0', 3600000, NULL, 10.0),
                 ('dlc1', 'w0', 'u0', 3630000, 50.0, 30.0),
                 ('dlc1', 'w0', 'u0', 3900000, 70.0, 50.0);",
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        let sums = |series| {
            buckets_of(&conn, "dlc1", series)
                .into_iter()
                .map(|(step, time, pods)| {
                    let [(pod, sum, count)] = &pods[..] else {
                        panic!("{pods:?}")
                    };
                    assert_eq!(pod, "w0");
                    (step, time, *sum, *count)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sums("cpu"),
            [
                (60_000, 3_600_000, 50.0, 1),
                (60_000, 3_900_000, 70.0, 1),
                (300_000, 3_600_000, 50.0, 1),
                (300_000, 3_900_000, 70.0, 1),
                (3_600_000, 3_600_000, 120.0, 2),
            ]
        );
        assert_eq!(
            sums("memory"),
            [
                (60_000, 3_600_000, 40.0, 2),
                (60_000, 3_900_000, 50.0, 1),
                (300_000, 3_600_000, 40.0, 2),
                (300_000, 3_900_000, 50.0, 1),
                (3_600_000, 3_600_000, 90.0, 3),
            ]
        );
        // Never measured: no column.
        assert!(sums("gpu_core").is_empty());
    }

    /// A bucket as the tests read it back: its step, its time and each pod's sum and count.
    type StoredBucket = (i64, i64, Vec<(String, f64, u32)>);

    /// Every bucket of a job that holds `series` (a column of `metric_buckets`), in order.
    fn buckets_of(conn: &Connection, job_id: &str, series: &str) -> Vec<StoredBucket> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT step, time, pods, {series} FROM metric_buckets
                 WHERE job_id = ?1 AND {series} IS NOT NULL ORDER BY step, time"
            ))
            .unwrap();
        let mut rows = stmt.query([job_id]).unwrap();
        let mut buckets = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let pods: String = row.get(2).unwrap();
            let ids: Vec<&str> = crate::metrics::buckets::pod_ids(&pods).collect();
            let column: Vec<u8> = row.get(3).unwrap();
            let entries = crate::metrics::buckets::entries(&column, ids.len())
                .unwrap()
                .map(|(i, sum, count)| (ids[i].to_string(), sum, count))
                .collect();
            buckets.push((row.get(0).unwrap(), row.get(1).unwrap(), entries));
        }
        buckets
    }

    /// The rollups stored a row per pod are packed a row per job and bucket, every pod's sums
    /// and counts kept, and the old table is gone.
    #[test]
    fn the_rollups_stored_a_row_per_pod_are_packed_a_row_per_bucket() {
        let packing = MIGRATIONS
            .iter()
            .position(|m| matches!(m, Migration::Code(_)));
        let mut conn = migrated_to(packing.unwrap());
        insert_job(&conn, "dlc1", "x", "default", "1", "PRIVATE");
        insert_job(&conn, "dlc2", "y", "default", "1", "PRIVATE");
        let row = |job: &str, step: i64, time: i64, pod: &str, cpu: Option<(f64, i64)>| {
            let (cpu_sum, cpu_count) = cpu.unwrap_or_default();
            conn.execute(
                "INSERT INTO metric_rollups VALUES
                     (?1, ?2, ?3, ?4, 0, 0, 0, 0, ?5, ?6, 7.0, 1, 0, 0, 0, 0, 0, 0, 0, 0)",
                rusqlite::params![job, step, time, pod, cpu_sum, cpu_count],
            )
            .unwrap();
        };
        row("dlc1", 60_000, 0, "dlc1-worker-1", Some((30.0, 2)));
        row("dlc1", 60_000, 0, "dlc1-worker-0", Some((10.0, 1)));
        row("dlc1", 60_000, 60_000, "dlc1-worker-0", None);
        row("dlc1", 3_600_000, 0, "dlc1-worker-0", Some((40.0, 3)));
        row("dlc2", 60_000, 0, "dlc2-worker-0", Some((5.0, 1)));

        migrate(&mut conn).unwrap();
        let pod = |id: &str, sum, count| (id.to_string(), sum, count);
        assert_eq!(
            buckets_of(&conn, "dlc1", "cpu"),
            [
                (
                    60_000,
                    0,
                    vec![pod("dlc1-worker-0", 10.0, 1), pod("dlc1-worker-1", 30.0, 2)]
                ),
                (3_600_000, 0, vec![pod("dlc1-worker-0", 40.0, 3)]),
            ]
        );
        // A bucket whose pods measured a series only in part still holds it.
        assert_eq!(buckets_of(&conn, "dlc1", "memory").len(), 3);
        assert_eq!(
            buckets_of(&conn, "dlc2", "cpu"),
            [(60_000, 0, vec![pod("dlc2-worker-0", 5.0, 1)])]
        );
        let old: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'metric_rollups'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0);
    }

    /// The jobs stored before the name index held who may see them are found in it, each by
    /// its name for everyone, under its owner and under its scope.
    #[test]
    fn the_jobs_stored_before_the_search_index_are_found_in_it() {
        let mut conn = migrated_before("CREATE VIRTUAL TABLE job_search");
        insert_job(&conn, "dlc1", "bert-large", "default", "1", "PRIVATE");
        insert_job(&conn, "dlc2", "bert-base", "ws-b", "2", "PUBLIC");

        migrate(&mut conn).unwrap();
        let found = |principal: Option<&str>| -> Vec<String> {
            let codes: Option<Vec<i64>> = principal.map(|principal| {
                vec![conn
                    .query_row(
                        "SELECT code FROM search_codes WHERE principal = ?1",
                        [principal],
                        |r| r.get(0),
                    )
                    .unwrap()]
            });
            conn.prepare(
                "SELECT job_id FROM jobs WHERE seq IN
                   (SELECT rowid FROM job_search WHERE job_search MATCH ?1) ORDER BY seq",
            )
            .unwrap()
            .query_map(
                [crate::search::query("BERT", codes.as_deref()).unwrap()],
                |r| r.get(0),
            )
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        assert_eq!(found(None), ["dlc1", "dlc2"]);
        assert_eq!(found(Some("user:1")), ["dlc1"]);
        assert_eq!(found(Some("user:2")), ["dlc2"]);
        assert_eq!(found(Some("public:ws-b")), ["dlc2"]);
        assert_eq!(found(Some("private:default")), ["dlc1"]);
    }

    /// The jobs whose terms were written before everyone's held the longer grams are found by
    /// a needle of 4 characters or more, which everyone searches by those grams.
    #[test]
    fn the_jobs_indexed_by_trigrams_alone_are_found_by_their_longer_grams() {
        let mut conn = migrated_before("VALUES ('delete-all')");
        insert_job(&conn, "dlc1", "bert-large", "default", "1", "PRIVATE");
        conn.execute_batch(
            "-- Its terms as the index held them before: trigrams only.
             INSERT INTO job_search (job_search) VALUES ('delete-all');
             INSERT INTO job_search (rowid, terms)
                 SELECT seq, 'ax626572 ax657274 ax72742d' FROM jobs;",
        )
        .unwrap();
        let found = |conn: &Connection| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM job_search WHERE job_search MATCH ?1",
                [crate::search::query("BERT", None).unwrap()],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(found(&conn), 0);

        migrate(&mut conn).unwrap();
        assert_eq!(found(&conn), 1);
    }
}
