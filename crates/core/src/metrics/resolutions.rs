//! How finely a series is kept as it ages, and which of the kept resolutions answer a window.
//!
//! Every sample is kept as taken for an hour. Each sample is also added, when it is recorded,
//! to its bucket of every rollup: per minute (kept a day), per 5 minutes (kept a week) and per
//! hour (kept the whole retention). A bucket holds, per series, the sum of the values measured
//! in it and how many there were: averaging several buckets weighs each by its samples, so a
//! `TimeStep` that is a multiple of a rollup's step is answered from it exactly as from the
//! samples. A pod that runs for the default week of retention leaves 720 samples (at the default
//! 5 s) and 1,440 + 2,016 + 168 buckets: 4,344 rows instead of 120,960.

use crate::time::Millis;

const MINUTE_MS: Millis = 60_000;
const HOUR_MS: Millis = 60 * MINUTE_MS;
const DAY_MS: Millis = 24 * HOUR_MS;

/// How long samples are kept one by one (within the retention).
pub const SAMPLES_KEPT_MS: Millis = HOUR_MS;

/// Buckets of `step` ms, aligned on the epoch, kept for `kept` ms (within the retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollup {
    pub step: Millis,
    /// `None`: for the whole retention.
    pub kept: Option<Millis>,
}

/// The rollups, finest first. Each step divides the next, and each is kept longer than the
/// finer ones (and the samples), so that the coarser ones hold everything the finer ones let go.
pub const ROLLUPS: [Rollup; 3] = [
    Rollup {
        step: MINUTE_MS,
        kept: Some(DAY_MS),
    },
    Rollup {
        step: 5 * MINUTE_MS,
        kept: Some(7 * DAY_MS),
    },
    Rollup {
        step: HOUR_MS,
        kept: None,
    },
];

/// Where a stretch of a series is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The samples as taken.
    Samples,
    /// The buckets of the rollup of this step.
    Buckets(Millis),
}

/// One read of a series: the samples (or buckets) whose time (a bucket's: its start) is in
/// `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub resolution: Resolution,
    pub from: Millis,
    pub until: Millis,
}

/// The reads that answer the window `[start, end]` with points averaged over `step` ms, at
/// `now`, oldest first, none overlapping another.
///
/// The resolution is the coarsest kept no coarser than `step` (a step under a minute reads
/// the samples): the fewest rows that still fill every step. Where that resolution is no longer
/// kept, the next coarser one that is answers instead. Boundaries between two resolutions fall
/// on the coarser one's buckets, past the point where the finer one starts being deleted, so
/// that every sample counts once. The bucket that holds `start` counts whole (with its samples
/// before `start`), so that the step holding `start` keeps its point.
pub fn reads(start: Millis, end: Millis, step: Millis, now: Millis) -> Vec<Read> {
    let chain: Vec<(Resolution, Option<Millis>)> =
        std::iter::once((Resolution::Samples, Some(SAMPLES_KEPT_MS)))
            .chain(
                ROLLUPS
                    .iter()
                    .map(|r| (Resolution::Buckets(r.step), r.kept)),
            )
            .collect();
    let first = ROLLUPS
        .iter()
        .rposition(|r| r.step <= step)
        .map_or(0, |i| i + 1);
    let mut reads = Vec::new();
    let mut until = end.saturating_add(1);
    for (i, &(resolution, kept)) in chain.iter().enumerate().skip(first) {
        // Where this resolution starts: past what it has let go, on a bucket of the next one.
        let kept_from = match (kept, chain.get(i + 1)) {
            (Some(kept), Some((Resolution::Buckets(next_step), _))) => {
                ceil_to(now.saturating_sub(kept), *next_step)
            }
            _ => Millis::MIN,
        };
        let from = match resolution {
            Resolution::Samples => start.max(kept_from),
            Resolution::Buckets(step) => bucket(start, step).max(kept_from),
        };
        if from < until {
            reads.push(Read {
                resolution,
                from,
                until,
            });
        }
        until = until.min(kept_from);
        if until <= start {
            break;
        }
    }
    reads.reverse();
    reads
}

/// The time before which `resolution` is deleted at `now`, samples being kept `retention` ms.
pub fn kept_from(resolution: Resolution, now: Millis, retention: Millis) -> Millis {
    let kept = match resolution {
        Resolution::Samples => Some(SAMPLES_KEPT_MS),
        Resolution::Buckets(step) => ROLLUPS.iter().find(|r| r.step == step).and_then(|r| r.kept),
    };
    now.saturating_sub(kept.map_or(retention, |k| k.min(retention)))
}

/// The start of the bucket of `step` ms holding `time`.
pub fn bucket(time: Millis, step: Millis) -> Millis {
    time.div_euclid(step) * step
}

fn ceil_to(time: Millis, step: Millis) -> Millis {
    let floor = bucket(time, step);
    if floor == time {
        time
    } else {
        floor + step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_123_456;

    #[test]
    fn each_rollup_divides_the_next_and_outlives_the_finer_ones() {
        let mut kept = SAMPLES_KEPT_MS;
        for pair in ROLLUPS.windows(2) {
            assert_eq!(pair[1].step % pair[0].step, 0, "{pair:?}");
        }
        for r in ROLLUPS {
            let longer = r.kept.is_none_or(|k| k > kept);
            assert!(longer, "{r:?} kept no longer than a finer resolution");
            kept = r.kept.unwrap_or(Millis::MAX);
        }
    }

    #[test]
    fn a_recent_window_reads_one_resolution_chosen_by_the_step() {
        let (start, end) = (NOW - 30 * MINUTE_MS, NOW);
        let read = |step| reads(start, end, step, NOW);
        let one = |resolution| {
            let from = match resolution {
                Resolution::Samples => start,
                // The bucket that holds the start counts whole.
                Resolution::Buckets(step) => bucket(start, step),
            };
            vec![Read {
                resolution,
                from,
                until: end + 1,
            }]
        };
        assert_eq!(read(1_000), one(Resolution::Samples));
        assert_eq!(read(59_999), one(Resolution::Samples));
        assert_eq!(read(MINUTE_MS), one(Resolution::Buckets(MINUTE_MS)));
        assert_eq!(read(90_000), one(Resolution::Buckets(MINUTE_MS)));
        assert_eq!(read(5 * MINUTE_MS), one(Resolution::Buckets(5 * MINUTE_MS)));
        assert_eq!(read(4_032_000), one(Resolution::Buckets(HOUR_MS)));
        assert_eq!(read(DAY_MS), one(Resolution::Buckets(HOUR_MS)));
    }

    #[test]
    fn older_stretches_come_from_coarser_resolutions_on_their_boundaries() {
        let start = NOW - 10 * DAY_MS;
        let got = reads(start, NOW, 1_000, NOW);
        let hour_from = ceil_to(NOW - HOUR_MS, MINUTE_MS);
        let day_from = ceil_to(NOW - DAY_MS, 5 * MINUTE_MS);
        let week_from = ceil_to(NOW - 7 * DAY_MS, HOUR_MS);
        assert_eq!(
            got,
            vec![
                Read {
                    resolution: Resolution::Buckets(HOUR_MS),
                    from: bucket(start, HOUR_MS),
                    until: week_from,
                },
                Read {
                    resolution: Resolution::Buckets(5 * MINUTE_MS),
                    from: week_from,
                    until: day_from,
                },
                Read {
                    resolution: Resolution::Buckets(MINUTE_MS),
                    from: day_from,
                    until: hour_from,
                },
                Read {
                    resolution: Resolution::Samples,
                    from: hour_from,
                    until: NOW + 1,
                },
            ]
        );
        // Each boundary is on a bucket of the coarser side and within what the finer side
        // still keeps.
        assert_eq!(week_from % HOUR_MS, 0);
        assert!(week_from >= NOW - 7 * DAY_MS && day_from >= NOW - DAY_MS);
        assert!(hour_from >= NOW - HOUR_MS);
    }

    #[test]
    fn a_window_of_old_data_reads_only_what_still_holds_it() {
        // Three days ago, at a 1 s step: only the 5-minute buckets still cover it.
        let (start, end) = (NOW - 3 * DAY_MS, NOW - 3 * DAY_MS + HOUR_MS);
        assert_eq!(
            reads(start, end, 1_000, NOW),
            vec![Read {
                resolution: Resolution::Buckets(5 * MINUTE_MS),
                from: bucket(start, 5 * MINUTE_MS),
                until: end + 1,
            }]
        );
        // A whole week at an hourly step: the hours alone, up to an end far in the future.
        assert_eq!(
            reads(NOW - 7 * DAY_MS, Millis::MAX, HOUR_MS, NOW),
            vec![Read {
                resolution: Resolution::Buckets(HOUR_MS),
                from: bucket(NOW - 7 * DAY_MS, HOUR_MS),
                until: Millis::MAX,
            }]
        );
    }

    #[test]
    fn what_is_deleted_when() {
        let week = 7 * DAY_MS;
        assert_eq!(kept_from(Resolution::Samples, NOW, week), NOW - HOUR_MS);
        assert_eq!(
            kept_from(Resolution::Buckets(MINUTE_MS), NOW, week),
            NOW - DAY_MS
        );
        assert_eq!(
            kept_from(Resolution::Buckets(HOUR_MS), NOW, 30 * DAY_MS),
            NOW - 30 * DAY_MS
        );
        // A retention shorter than a resolution's span bounds it too.
        assert_eq!(
            kept_from(Resolution::Buckets(5 * MINUTE_MS), NOW, 2 * HOUR_MS),
            NOW - 2 * HOUR_MS
        );
        assert_eq!(
            kept_from(Resolution::Samples, NOW, 10 * MINUTE_MS),
            NOW - 10 * MINUTE_MS
        );
    }
}
