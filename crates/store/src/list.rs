//! ListJobs: filters, sort and paging, done in SQL.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use opendlc_core::time::Millis;
use opendlc_core::Job;
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::vtab::array::Array;
use rusqlite::OptionalExtension;

use crate::rows::{self, JOB_COLUMNS};
use crate::{Result, Store};

/// Which time `StartTime`/`EndTime` apply to (`TimeRangeField`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeField {
    #[default]
    GmtCreateTime,
    GmtRunningTime,
    GmtFinishTime,
}

impl TimeField {
    fn column(self) -> &'static str {
        match self {
            TimeField::GmtCreateTime => "gmt_create",
            TimeField::GmtRunningTime => "gmt_running",
            TimeField::GmtFinishTime => "gmt_finish",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortField {
    #[default]
    GmtCreateTime,
    GmtFinishTime,
    GmtRunningTime,
    DisplayName,
    JobType,
    Status,
    Priority,
}

impl SortField {
    fn column(self) -> &'static str {
        match self {
            SortField::GmtCreateTime => "gmt_create",
            SortField::GmtFinishTime => "gmt_finish",
            SortField::GmtRunningTime => "gmt_running",
            SortField::DisplayName => "display_name",
            SortField::JobType => "job_type",
            SortField::Status => "status",
            SortField::Priority => "priority",
        }
    }
}

/// How ListJobs' DisplayName matches (`DisplayNameSearchMode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NameMatch {
    /// Anywhere in the name, any case (`wildcard`, the default, and `fulltext`).
    #[default]
    Substring,
    /// At its start, any case (`prefix`).
    Prefix,
    /// The whole name (`term`, and opendlc's `exact`).
    Exact,
}

/// Every field narrows the result; `None`/empty means "no condition".
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Matched as `display_name_match` says.
    pub display_name: Option<String>,
    pub display_name_match: NameMatch,
    pub job_types: Vec<String>,
    pub statuses: Vec<String>,
    pub time_field: TimeField,
    pub start: Option<Millis>,
    pub end: Option<Millis>,
    pub job_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub workspace_id: Option<String>,
    pub resource_ids: Vec<String>,
    pub user_id: Option<String>,
    pub accessibility: Option<String>,
    pub user_command_search: Option<String>,
    pub reason_search: Option<String>,
    pub image_search: Option<String>,
    /// Only jobs whose AssignNodeSpec is on in some role (`Some(true)`), or in none.
    pub assigned_nodes: Option<bool>,
    /// Only jobs whose total request of this kind lies in the bounds (inclusive).
    pub numeric_range: Option<NumericRange>,
    /// Only jobs this caller may see; `None` for a server administrator.
    pub visible_to: Option<Visibility>,
    pub sort: SortField,
    pub descending: bool,
    pub offset: u64,
    pub limit: u64,
}

/// `NumericRangeField`/`Min`/`Max`: a job's total request (over its pods) within bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumericRange {
    pub field: RequestField,
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// What `NumericRangeField` names: the job's request in GPUs, CPU cores or GiB of memory, as
/// GetJob's RequestGPU, RequestCPU and RequestMemory say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestField {
    Gpu,
    Cpu,
    MemoryGib,
}

impl RequestField {
    /// The job's total, from its roles (JSON), in the field's unit.
    fn expression(self) -> &'static str {
        match self {
            RequestField::Gpu => {
                "(SELECT COALESCE(SUM(json_extract(value, '$.pod_count') \
                 * json_extract(value, '$.resources.gpu')), 0) FROM json_each(roles))"
            }
            RequestField::Cpu => {
                "(SELECT COALESCE(SUM(json_extract(value, '$.pod_count') \
                 * json_extract(value, '$.resources.cpu_milli')), 0) / 1000.0 FROM json_each(roles))"
            }
            RequestField::MemoryGib => {
                "(SELECT COALESCE(SUM(json_extract(value, '$.pod_count') \
                 * json_extract(value, '$.resources.memory_mib')), 0) / 1024.0 FROM json_each(roles))"
            }
        }
    }
}

/// What a caller may see (the rules of `opendlc_core::identity`, as SQL): their own jobs,
/// every job of the workspaces they administer, and the PUBLIC jobs of the others they belong to.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    pub user_id: String,
    pub member_of: Vec<String>,
    pub admin_of: Vec<String>,
}

impl JobFilter {
    /// Whether every condition is on a column `job_counts` keeps (owner, workspace,
    /// accessibility, status, type), once vacuous time bounds are left out.
    fn countable(&self) -> bool {
        self.display_name.is_none()
            && self.job_ids.is_empty()
            && self.resource_ids.is_empty()
            && self.tags.is_empty()
            && self.user_command_search.is_none()
            && self.reason_search.is_none()
            && self.image_search.is_none()
            && self.assigned_nodes.is_none()
            && self.numeric_range.is_none()
    }

    /// Whether the time bounds hold every job created between `first` and `last` (the
    /// console asks from 1970): leaving them out changes nothing, and frees the count.
    fn bounds_cover(&self, first: Option<Millis>, last: Option<Millis>) -> bool {
        if self.start.is_none() && self.end.is_none() {
            return true;
        }
        let (Some(first), Some(last)) = (first, last) else {
            // No job at all.
            return true;
        };
        self.time_field == TimeField::GmtCreateTime
            && self.start.is_none_or(|s| s <= first)
            && self.end.is_none_or(|e| e >= last)
    }

    /// Whether the DisplayName's trigrams find the candidates: a name of 3 characters or more
    /// (a trigram each), matched anywhere or at the start, over more than one owner's jobs
    /// (one owner's are fewer than that index's answer for a common name, and are tested in
    /// their own index).
    fn searches_trigrams(&self) -> bool {
        self.display_name
            .as_ref()
            .is_some_and(|name| name.chars().count() >= 3)
            && self.user_id.is_none()
            && self.display_name_match != NameMatch::Exact
    }

    /// The codes in `search_codes` of what makes a job visible to the caller (any one does):
    /// their own user, both scopes of the workspaces they administer, the public one of those
    /// they belong to; `None` when the caller is not restricted ([`JobFilter::visibility`]).
    /// Principals no job has have no code yet.
    fn visible_codes(&self, conn: &rusqlite::Connection) -> Result<Option<Vec<i64>>> {
        let Some(v) = self
            .visible_to
            .as_ref()
            .filter(|_| self.visibility(1).is_some())
        else {
            return Ok(None);
        };
        let principals = std::iter::once(format!("user:{}", v.user_id))
            .chain(
                v.admin_of
                    .iter()
                    .flat_map(|w| [format!("public:{w}"), format!("private:{w}")]),
            )
            .chain(v.member_of.iter().map(|w| format!("public:{w}")));
        let mut stmt = conn.prepare_cached("SELECT code FROM search_codes WHERE principal = ?1")?;
        let mut codes = Vec::new();
        for principal in principals {
            if let Some(code) = stmt.query_row([principal], |r| r.get(0)).optional()? {
                codes.push(code);
            }
        }
        Ok(Some(codes))
    }

    /// Whether the trigrams' answer is the match itself, with no row to read to check it: a
    /// phrase of the index's grams (trigrams, or for everyone up to 6 characters) is
    /// `instr(lower(…))`'s substring ([`crate::search`]).
    fn trigrams_exact(&self) -> bool {
        self.display_name_match == NameMatch::Substring && self.searches_trigrams()
    }

    /// Whether the full-text index's answer (the name's trigrams, and who may see each job)
    /// is the whole filter: its size is then the count.
    fn only_trigrams(&self) -> bool {
        let JobFilter {
            display_name: _,
            display_name_match: _,
            job_types,
            statuses,
            time_field: _,
            start,
            end,
            job_ids,
            tags,
            workspace_id,
            resource_ids,
            user_id,
            accessibility,
            user_command_search,
            reason_search,
            image_search,
            assigned_nodes,
            numeric_range,
            visible_to: _,
            sort: _,
            descending: _,
            offset: _,
            limit: _,
        } = self;
        let lists = [job_types, statuses, job_ids, resource_ids];
        let texts = [
            workspace_id,
            user_id,
            accessibility,
            user_command_search,
            reason_search,
            image_search,
        ];
        self.trigrams_exact()
            && lists.iter().all(|v| v.is_empty())
            && texts.iter().all(|v| v.is_none())
            && tags.is_empty()
            && (start, end) == (&None, &None)
            && assigned_nodes.is_none()
            && numeric_range.is_none()
    }

    /// How far to walk the creation-time index for the page of a DisplayName search of
    /// `total` matches among about `jobs` jobs, when that beats looking each match up: the
    /// index holds each job's name and who may see it, and a row read costs about ten of its
    /// entries. The walk goes four times as far as the matches' density says the page lies,
    /// in case they are not spread evenly; `None` when it would not pay, when the page is
    /// ordered otherwise, or bounded by another time. The walk tests each name as one owner's
    /// search does (`instr`), which finds what the trigrams count.
    fn walk(&self, total: u64, jobs: u64) -> Option<Walk> {
        let page = self.limit.min(total.saturating_sub(self.offset));
        let reach = self.offset.saturating_add(self.limit).saturating_mul(jobs) / total.max(1);
        let entries = reach.saturating_mul(4).max(1_000);
        let other_time =
            self.time_field != TimeField::GmtCreateTime && (self.start, self.end) != (None, None);
        (self.sort == SortField::GmtCreateTime
            && !other_time
            && page > 0
            && entries < total.saturating_mul(10))
        .then_some(Walk { entries, page })
    }

    /// The visibility test, as SQL over the columns `jobs` and `job_counts` share, and its
    /// arguments numbered from `?{first}`; `None` when the caller is not restricted or asks
    /// only for their own jobs.
    fn visibility(&self, first: usize) -> Option<(String, Vec<Value>)> {
        // The caller's own jobs are theirs to read: no visibility test (it would need each
        // row) when only those are asked for.
        let v = self.visible_to.as_ref()?;
        if self.user_id.as_deref() == Some(v.user_id.as_str()) {
            return None;
        }
        let mut args = vec![Value::Text(v.user_id.clone())];
        let mut list = |ids: &[String]| {
            let ps: Vec<String> = ids
                .iter()
                .map(|id| {
                    args.push(Value::Text(id.clone()));
                    format!("?{}", first + args.len() - 1)
                })
                .collect();
            ps.join(", ")
        };
        let admin = list(&v.admin_of);
        let member = list(&v.member_of);
        let sql = format!(
            "(user_id = ?{first} OR workspace_id IN ({admin}) \
             OR (accessibility = 'PUBLIC' AND workspace_id IN ({member})))"
        );
        Some((sql, args))
    }

    /// `names`: the trigrams' candidates, when the filter has a DisplayName they find and they
    /// are to be looked up; without them each row's name is tested itself (an index walked in
    /// the page's order holds it).
    fn where_clause(&self, names: Option<&Candidates>) -> (String, Vec<ToSqlOutput<'static>>) {
        let mut conditions: Vec<String> = Vec::new();
        let mut args: Vec<ToSqlOutput<'static>> = Vec::new();
        let mut arg = |v: ToSqlOutput<'static>, args_len: &mut usize| {
            args.push(v);
            *args_len += 1;
            format!("?{}", args_len)
        };
        let mut n = 0usize;
        let text = |s: &str| ToSqlOutput::from(s.to_string());
        let integer = |i: i64| ToSqlOutput::from(i);

        if let Some(name) = self
            .display_name
            .as_ref()
            .filter(|_| names.is_none() || !self.trigrams_exact())
        {
            let p = arg(text(name), &mut n);
            conditions.push(match self.display_name_match {
                NameMatch::Exact => format!("display_name = {p}"),
                NameMatch::Prefix => format!("instr(lower(display_name), lower({p})) = 1"),
                NameMatch::Substring => format!("instr(lower(display_name), lower({p})) > 0"),
            });
        }
        if let Some(candidates) = names {
            conditions.push(match candidates {
                Candidates::Listed(seqs) => {
                    let p = arg(ToSqlOutput::Array(Rc::clone(seqs)), &mut n);
                    format!("seq IN rarray({p})")
                }
                Candidates::Phrase(query) => {
                    let q = arg(text(query), &mut n);
                    format!("seq IN (SELECT rowid FROM job_search WHERE job_search MATCH {q})")
                }
            });
        }
        for (column, values) in [
            ("job_type", &self.job_types),
            ("status", &self.statuses),
            ("job_id", &self.job_ids),
            ("resource_id", &self.resource_ids),
        ] {
            if !values.is_empty() {
                let ps: Vec<String> = values.iter().map(|v| arg(text(v), &mut n)).collect();
                conditions.push(format!("{column} IN ({})", ps.join(", ")));
            }
        }
        let column = self.time_field.column();
        if let Some(start) = self.start {
            let p = arg(integer(start), &mut n);
            conditions.push(format!("{column} >= {p}"));
        }
        if let Some(end) = self.end {
            let p = arg(integer(end), &mut n);
            conditions.push(format!("{column} <= {p}"));
        }
        for (key, value) in &self.tags {
            let path = arg(text(&format!("$.\"{}\"", key.replace('"', "\\\""))), &mut n);
            let v = arg(text(value), &mut n);
            conditions.push(format!("json_extract(tags, {path}) = {v}"));
        }
        for (column, value) in [
            ("workspace_id", &self.workspace_id),
            ("user_id", &self.user_id),
            ("accessibility", &self.accessibility),
        ] {
            if let Some(value) = value {
                let p = arg(text(value), &mut n);
                conditions.push(format!("{column} = {p}"));
            }
        }
        if let Some((visible, values)) = self.visibility(n + 1) {
            for value in values {
                arg(ToSqlOutput::Owned(value), &mut n);
            }
            conditions.push(visible);
        }
        for (column, needle) in [
            ("user_command", &self.user_command_search),
            (
                "COALESCE(reason_code, '') || ' ' || COALESCE(reason_message, '')",
                &self.reason_search,
            ),
            ("images", &self.image_search),
        ] {
            if let Some(needle) = needle {
                let p = arg(text(needle), &mut n);
                conditions.push(format!("instr(lower({column}), lower({p})) > 0"));
            }
        }
        if let Some(on) = self.assigned_nodes {
            let any = "EXISTS (SELECT 1 FROM json_each(request, '$.JobSpecs') \
                       WHERE json_extract(value, '$.AssignNodeSpec.EnableAssignNode') = 1)";
            conditions.push(if on {
                any.to_string()
            } else {
                format!("NOT {any}")
            });
        }
        if let Some(range) = self.numeric_range {
            let total = range.field.expression();
            if let Some(min) = range.min {
                let p = arg(integer(min), &mut n);
                conditions.push(format!("{total} >= {p}"));
            }
            if let Some(max) = range.max {
                let p = arg(integer(max), &mut n);
                conditions.push(format!("{total} <= {p}"));
            }
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        (clause, args)
    }
}

impl Store {
    /// One page of jobs matching `filter`, and how many match in all.
    ///
    /// The page is chosen from the indexes alone (their columns answer the common filters and
    /// give the order), and only its rows are read: the jobs' rows are large (their requests).
    /// Ties are broken by creation, which the indexes hold after each sort key's position.
    ///
    /// The count comes from `job_counts` (kept by triggers, one row per owner, workspace,
    /// accessibility, status and type) when the filter tests only those and its time bounds
    /// hold every job; from the index otherwise. It is exact either way.
    pub fn list_jobs(&self, filter: &JobFilter) -> Result<(Vec<Job>, u64)> {
        let order = if filter.descending { "DESC" } else { "ASC" };
        let by = match filter.sort {
            SortField::GmtCreateTime => format!("gmt_create {order}, seq {order}"),
            sort => format!("{} {order}, gmt_create {order}, seq {order}", sort.column()),
        };
        self.read(|conn| {
            // One snapshot for the bounds, the count and the page.
            let conn = conn.unchecked_transaction()?;
            let (first, last, jobs_stored): (Option<Millis>, Option<Millis>, Option<u64>) = conn
                // Subqueries: each is one index lookup (MIN and MAX together scan).
                .prepare_cached(
                    "SELECT (SELECT MIN(gmt_create) FROM jobs), (SELECT MAX(gmt_create) FROM jobs),
                            (SELECT MAX(seq) FROM jobs)",
                )?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            // About how many jobs there are (the highest seq: deleted ones leave gaps).
            let jobs_stored = jobs_stored.unwrap_or(0);
            let mut filter = filter.clone();
            if filter.bounds_cover(first, last) {
                (filter.start, filter.end) = (None, None);
            }
            // A caller who may see every job stored (an administrator of the only workspace)
            // needs no test of each row.
            if let Some((visible, args)) = filter.visibility(1) {
                let hidden: u64 = conn
                    .prepare_cached(&format!(
                        "SELECT COALESCE(SUM(n), 0) FROM job_counts WHERE NOT {visible}"
                    ))?
                    .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
                if hidden == 0 {
                    filter.visible_to = None;
                }
            }
            let counted = filter.countable() && filter.start.is_none() && filter.end.is_none();
            // The trigrams' candidates among the jobs the caller may see, found once for the
            // count and the page.
            let found = match filter.display_name.as_deref() {
                Some(name) if filter.searches_trigrams() => {
                    let codes = filter.visible_codes(&conn)?;
                    Some(match crate::search::query(name, codes.as_deref()) {
                        Some(query) => self.name_matches(&conn, &filter, &query, jobs_stored)?,
                        // Not one job the caller may see has been stored.
                        None => (Candidates::Listed(Rc::default()), 0),
                    })
                }
                _ => None,
            };
            let (candidates, found) = found.unzip();
            let total: u64 = match (found, filter.only_trigrams()) {
                (Some(found), true) => found,
                _ => {
                    let (clause, args) = filter.where_clause(candidates.as_ref());
                    let count = if counted {
                        format!("SELECT COALESCE(SUM(n), 0) FROM job_counts {clause}")
                    } else {
                        format!("SELECT COUNT(*) FROM jobs {clause}")
                    };
                    conn.prepare_cached(&count)?
                        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
                }
            };
            let page = |filter: &JobFilter, names: Option<&Candidates>| -> Result<Vec<Job>> {
                let (clause, mut args) = filter.where_clause(names);
                let (limit, offset) = (args.len() + 1, args.len() + 2);
                args.push(i64::try_from(filter.limit).unwrap_or(i64::MAX).into());
                args.push(i64::try_from(filter.offset).unwrap_or(i64::MAX).into());
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE seq IN
                       (SELECT seq FROM jobs {clause} ORDER BY {by} LIMIT ?{limit} OFFSET ?{offset})
                     ORDER BY {by}"
                ))?;
                let jobs = stmt
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                        rows::job(r, &self.sealer)
                    })?
                    .collect::<Result<_, _>>()?;
                Ok(jobs)
            };
            // A DisplayName search's page is walked for first, among the newest (or oldest)
            // jobs as far as `walk` says, and its candidates looked up if that fell short.
            if let Some(walk) = candidates
                .as_ref()
                .and_then(|_| filter.walk(total, jobs_stored))
            {
                let bound: Option<Millis> = conn
                    .prepare_cached(&format!(
                        "SELECT gmt_create FROM jobs ORDER BY gmt_create {order}, seq {order}
                         LIMIT 1 OFFSET ?1"
                    ))?
                    .query_row([walk.entries], |r| r.get(0))
                    .optional()?;
                let mut walked = filter.clone();
                walked.time_field = TimeField::GmtCreateTime;
                match (bound, filter.descending) {
                    (Some(bound), true) => walked.start = walked.start.max(Some(bound)),
                    (Some(bound), false) => {
                        walked.end = Some(walked.end.map_or(bound, |end| end.min(bound)))
                    }
                    (None, _) => {}
                }
                let jobs = page(&walked, None)?;
                if jobs.len() as u64 == walk.page {
                    return Ok((jobs, total));
                }
            }
            let jobs = page(&filter, candidates.as_ref())?;
            Ok((jobs, total))
        })
    }
}

/// A walk of the creation-time index ([`JobFilter::walk`]): how many entries, and how many
/// jobs the page holds once complete.
struct Walk {
    entries: u64,
    page: u64,
}

/// The most trigram candidates held in memory for a ListJobs (32 bytes each: 3.2 MiB).
const MOST_LISTED: usize = 100_000;

/// The rows of a DisplayName's trigrams ([`JobFilter::searches_trigrams`]) that the caller may
/// see, as the count and the page take them.
enum Candidates {
    /// Their `seq`s, found once, bound to each statement as one parameter (`rarray`).
    Listed(Array),
    /// More than the store holds (a name most jobs share, [`MOST_LISTED`]): each statement
    /// finds them itself with this `job_search` query.
    Phrase(String),
}

/// How ListJobs reads the DisplayName's trigram index (`job_search`).
#[derive(Debug, Clone, Copy)]
pub struct NameSearch {
    /// The most candidates held in memory; beyond that each statement finds them itself.
    pub most_listed: usize,
    /// From how many jobs stored (the highest `seq`) the index is read by several threads.
    pub split_from: u64,
    /// How many threads read it then, each on a connection of its own.
    pub threads: usize,
}

impl Default for NameSearch {
    /// Over 100,000 jobs, every core reads (at most 4): FTS5 reads a name a fifth of a million
    /// jobs share (200,000 matches of one term, for a caller who may see them all) in ~7 ms on
    /// one core of the benchmark's machine, and a phrase in about that per term; over fewer
    /// jobs one thread is done in a few milliseconds.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        NameSearch {
            most_listed: MOST_LISTED,
            split_from: 100_000,
            threads: cores.min(4),
        }
    }
}

/// How many ranges of `seq` each thread of a split search reads, one after the other, taking
/// the next one left: the matches of a name are seldom spread evenly over the history (a
/// project's are recent), and a thread that is done early takes on the others' ranges.
const RANGES_PER_THREAD: u64 = 4;

impl Store {
    /// The candidates of `filter`'s DisplayName (`query`) among the jobs numbered up to
    /// `last_seq`, and how many there are.
    ///
    /// Where the index's answer is the count ([`JobFilter::only_trigrams`]), the matches are
    /// counted first, and their numbers read only if the page is to be looked up among them: a
    /// name few jobs share, whose page a walk of the creation order would not find. Taking each
    /// match's number costs as much again as counting it (200,000 matches: 13 ms against 7 on
    /// one core), and a name many jobs share is walked for. Otherwise they are read once, as
    /// counting them apart would run the query again.
    fn name_matches(
        &self,
        conn: &rusqlite::Connection,
        filter: &JobFilter,
        query: &str,
        last_seq: u64,
    ) -> Result<(Candidates, u64)> {
        let most = self.name_search().most_listed;
        if filter.only_trigrams() {
            let (phrase, count) = self.name_candidates(conn, query, last_seq, 0)?;
            if count > most as u64 || filter.walk(count, last_seq).is_some() {
                return Ok((phrase, count));
            }
        }
        self.name_candidates(conn, query, last_seq, most)
    }

    /// The candidates of a `job_search` query among the jobs numbered up to `last_seq` (the
    /// caller's snapshot), and how many there are: their numbers held when there are at most
    /// `most` of them, else the query itself.
    ///
    /// Over a long history ([`NameSearch::split_from`]) the index is read in ranges of `seq`
    /// by several threads at once; those beside the caller's read on connections of their own,
    /// each in a snapshot taken when it starts: bounded by `last_seq`, they see no job the
    /// caller's snapshot lacks, and a job deleted or made PRIVATE in between is counted as it
    /// is now, as a next call would.
    fn name_candidates(
        &self,
        conn: &rusqlite::Connection,
        query: &str,
        last_seq: u64,
        most: usize,
    ) -> Result<(Candidates, u64)> {
        let tuning = self.name_search();
        let threads = if last_seq >= tuning.split_from {
            tuning.threads.max(1)
        } else {
            1
        };
        let ranges = seq_ranges(last_seq, threads as u64 * RANGES_PER_THREAD);
        let search = RangeSearch {
            query,
            ranges: &ranges,
            next: AtomicUsize::new(0),
            most,
            found: AtomicU64::new(0),
        };
        let parts: Vec<(Vec<i64>, u64)> = std::thread::scope(|scope| {
            // A thread the system refuses is done without: the caller's reads every range left.
            let helpers: Vec<_> = (1..threads)
                .filter_map(|_| {
                    let search = &search;
                    let helper = std::thread::Builder::new().name("name-search".into());
                    helper
                        .spawn_scoped(scope, move || {
                            self.read(|conn| {
                                let conn = conn.unchecked_transaction()?;
                                search.read(&conn)
                            })
                        })
                        .ok()
                })
                .collect();
            let mine = search.read(conn);
            std::iter::once(mine)
                .chain(helpers.into_iter().map(|helper| {
                    helper
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                }))
                .collect::<Result<_>>()
        })?;
        let count = parts.iter().map(|(_, n)| n).sum();
        Ok(if count > most as u64 {
            (Candidates::Phrase(query.to_string()), count)
        } else {
            let seqs = parts
                .into_iter()
                .flat_map(|(seqs, _)| seqs)
                .map(Value::Integer)
                .collect();
            (Candidates::Listed(Rc::new(seqs)), count)
        })
    }
}

/// `1..=last` cut into `n` ranges of about the same length (fewer when `last` is smaller).
fn seq_ranges(last: u64, n: u64) -> Vec<(i64, i64)> {
    let last = i64::try_from(last).unwrap_or(i64::MAX);
    let n = n.clamp(1, last.max(1) as u64) as i64;
    let width = last / n;
    let end = |i: i64| if i == n - 1 { last } else { width * (i + 1) };
    (0..n).map(|i| (width * i + 1, end(i))).collect()
}

/// The matches of a `job_search` query (`?1`) in a range of `seq` (`?2`, `?3`).
macro_rules! in_range {
    () => {
        "job_search WHERE job_search MATCH ?1 AND rowid BETWEEN ?2 AND ?3"
    };
}

/// One `job_search` query read in ranges of `seq` by the threads that share it.
struct RangeSearch<'a> {
    query: &'a str,
    ranges: &'a [(i64, i64)],
    /// The next range left to read.
    next: AtomicUsize,
    /// The most candidates a thread holds (0: only count them).
    most: usize,
    /// How many matches the threads have found so far: from `most` on, the ranges left are
    /// only counted (SQLite counts without handing each row over).
    found: AtomicU64,
}

impl RangeSearch<'_> {
    /// Reads ranges until none is left: the matches' `seq`s (the first `most`, unless more
    /// than `most` are found in all) and how many.
    fn read(&self, conn: &rusqlite::Connection) -> Result<(Vec<i64>, u64)> {
        let mut rows = conn.prepare_cached(concat!("SELECT rowid FROM ", in_range!()))?;
        let mut counted = conn.prepare_cached(concat!("SELECT count(*) FROM ", in_range!()))?;
        let (mut seqs, mut count) = (Vec::new(), 0u64);
        while let Some(&(low, high)) = self.ranges.get(self.next.fetch_add(1, Ordering::Relaxed)) {
            let args = rusqlite::params![self.query, low, high];
            let n = if self.found.load(Ordering::Relaxed) >= self.most as u64 {
                counted.query_row(args, |r| r.get::<_, i64>(0))? as u64
            } else {
                let mut n = 0;
                let mut found = rows.query(args)?;
                while let Some(row) = found.next()? {
                    n += 1;
                    if seqs.len() < self.most {
                        seqs.push(row.get(0)?);
                    }
                }
                n
            };
            self.found.fetch_add(n, Ordering::Relaxed);
            count += n;
        }
        Ok((seqs, count))
    }
}
