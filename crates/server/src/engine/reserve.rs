//! JobReservedMinutes / JobReservedPolicy (`opendlc_core::reservation`): a job whose pods have
//! all ended and whose outcome its policy keeps becomes SucceededReserving/FailedReserving
//! instead of Succeeded/Failed. It keeps its resources, its pods' files and their web terminals
//! (GetWebTerminal opens a shell in a kept pod's environment) until the reservation ends, on
//! the engine's tick or at StopJob; then it takes its final status, frees its resources and
//! its prepared environment (the job's venv and code checkout) is removed. Its working
//! directory, logs, events and metrics stay, as for every finished job.

use opendlc_core::lifecycle::Outcome;
use opendlc_core::reservation::{final_status, Reservation};
use opendlc_core::time::Millis;
use opendlc_core::JobStatus;
use opendlc_store::Transition;

use super::active::{ActiveJob, Phase, Reserving};
use super::apply::Engine;

impl Engine {
    /// The job's pods have all ended with `outcome`: keep the job if its reservation says so,
    /// else finish it.
    pub(super) fn finish(&mut self, job_id: &str, outcome: Outcome) {
        if self.waits_for_write_back(job_id, &outcome) {
            return;
        }
        let reservation = self
            .active
            .get(job_id)
            .and_then(|a| Reservation::of(a.job.request.settings.as_ref()));
        let reserving = reservation.and_then(|r| {
            r.reserving_status(outcome.status)
                .map(|status| (status, r.minutes))
        });
        let Some((status, minutes)) = reserving else {
            self.finish_now(job_id, outcome);
            return;
        };
        let now = self.clock.now();
        let t = Transition {
            to: status,
            reason: Some(outcome.reason.clone()),
            at: now,
        };
        if let Err(e) = self.store.transition(job_id, &t) {
            tracing::error!(job.id = %job_id, "failed to keep the finished job: {e}");
            self.finish_now(job_id, outcome);
            return;
        }
        let text = format!(
            "Job {job_id} has ended; its pods are kept for {minutes} minute(s) \
             (JobReservedMinutes), then it becomes {}.",
            outcome.status
        );
        if let Err(e) = self.store.add_event(job_id, &text) {
            tracing::warn!(job.id = %job_id, "failed to record an event: {e}");
        }
        let until = now + self.minutes_ms(minutes);
        if let Some(active) = self.active.get_mut(job_id) {
            active.status = status;
            active.phase = Phase::Reserving(Reserving { until, outcome });
        }
        self.dirty = true;
    }

    /// Ends reservations whose time is up.
    pub(super) fn end_reservations(&mut self) {
        let now = self.clock.now();
        let due: Vec<String> = self
            .active
            .iter()
            .filter(|(_, a)| matches!(&a.phase, Phase::Reserving(r) if r.until <= now))
            .map(|(id, _)| id.to_string())
            .collect();
        for job_id in due {
            self.end_reservation(&job_id);
        }
    }

    /// The job's reservation ends now (its time is up, or StopJob): it takes its final status.
    pub(super) fn end_reservation(&mut self, job_id: &str) {
        let Some(outcome) = self.active.get_mut(job_id).and_then(|a| {
            match std::mem::replace(&mut a.phase, Phase::live()) {
                Phase::Reserving(r) => Some(r.outcome),
                other => {
                    a.phase = other;
                    None
                }
            }
        }) else {
            return;
        };
        self.finish_now(job_id, outcome);
        for dir in [self.env_dir(job_id), self.jobs_dir.job(job_id).join("code")] {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(job.id = %job_id, "failed to remove {}: {e}", dir.display());
                }
            }
        }
    }

    fn minutes_ms(&self, minutes: u32) -> i64 {
        i64::try_from(self.minute.as_millis()).unwrap_or(60_000) * i64::from(minutes)
    }

    /// The job takes its final status and frees its resources.
    pub(super) fn finish_now(&mut self, job_id: &str, outcome: Outcome) {
        // Its pods' own credentials end with it: by the time its final status shows, they are
        // revoked.
        if let Some(active) = self.active.get(job_id) {
            self.revoke_credentials(&active.job);
        }
        let t = Transition {
            to: outcome.status,
            reason: Some(outcome.reason),
            at: self.clock.now(),
        };
        if let Err(e) = self.store.transition(job_id, &t) {
            tracing::error!(job.id = %job_id, "failed to finish the job: {e}");
        }
        if let Some(active) = self.active.remove(job_id) {
            self.release(&active);
        }
        self.dirty = true;
    }

    /// A job recovered in SucceededReserving/FailedReserving keeps its reservation: it ends
    /// `JobReservedMinutes` after the job entered that status.
    pub(super) fn resume_reservation(&self, active: &mut ActiveJob) {
        let Some(status) = final_status(active.status) else {
            return;
        };
        let minutes =
            Reservation::of(active.job.request.settings.as_ref()).map_or(0, |r| r.minutes);
        let since: Millis = self
            .store
            .status_history(&active.job.job_id)
            .ok()
            .and_then(|h| h.into_iter().rev().find(|p| p.status == active.status))
            .map_or_else(|| self.clock.now(), |p| p.start);
        let reason = active.job.reason.clone().unwrap_or_else(|| {
            opendlc_core::Reason::new(
                if status == JobStatus::Succeeded {
                    "JobSucceeded"
                } else {
                    "JobFailed"
                },
                "Job has ended.",
            )
        });
        active.phase = Phase::Reserving(Reserving {
            until: since + self.minutes_ms(minutes),
            outcome: Outcome { status, reason },
        });
    }
}
