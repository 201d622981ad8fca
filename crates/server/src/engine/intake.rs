//! CreateJob's group commit: new jobs are stored by one thread, as many to a transaction as are
//! waiting, and handed to the engine in the order they were stored. A job is stored already
//! waiting (Creating, then Queuing or Bidding at once, in the same transaction): the engine only
//! puts it in its queue, without a transaction of its own for every new job.
//!
//! A CreateJob that stored its job itself held a runtime worker for as long as it waited for
//! the store's one writer (behind the engine's writes and the other CreateJobs). Under 50
//! concurrent clients on two cores both workers sat in that wait and every other request
//! queued behind them: a GetJob polled every 10 ms answered in 100 ms at p99. Here a handler
//! only awaits its answer, and a burst of jobs costs one commit instead of one each.

use std::sync::Arc;

use opendlc_core::Job;
use opendlc_store::{Store, StoreError, Transition};
use tokio::sync::{mpsc, oneshot};

use super::apply::first_wait;
use super::Command;

/// At most this many jobs to a transaction: a flood still gets answers as it goes.
const BATCH_AT_MOST: usize = 256;

/// A job to store, the events it starts with, and who waits for it to be stored.
pub(super) struct Submission {
    pub job: Job,
    pub notes: Vec<String>,
    pub stored: oneshot::Sender<Result<(), StoreError>>,
}

/// Starts the thread that stores submitted jobs; it ends once every sender is gone.
pub(super) fn start(
    store: Arc<Store>,
    commands: mpsc::UnboundedSender<Command>,
) -> std::io::Result<mpsc::UnboundedSender<Submission>> {
    let (submit, mut submissions) = mpsc::unbounded_channel::<Submission>();
    std::thread::Builder::new()
        .name("intake".into())
        .spawn(move || {
            while let Some(first) = submissions.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < BATCH_AT_MOST {
                    match submissions.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                store_batch(&store, batch, &commands);
            }
        })?;
    Ok(submit)
}

/// One transaction for the batch; if it fails, one each, so that a job the store refuses
/// fails alone.
fn store_batch(store: &Store, batch: Vec<Submission>, commands: &mpsc::UnboundedSender<Command>) {
    let noted: Vec<(&Job, &[String], Transition)> = batch
        .iter()
        .map(|s| (&s.job, s.notes.as_slice(), s.waits()))
        .collect();
    let stored = store.insert_jobs_noting(&noted);
    match stored {
        Ok(seqs) => {
            for (submission, seq) in batch.into_iter().zip(seqs) {
                submission.accept(seq, commands);
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some(submission) = batch.into_iter().next() {
                submission.refuse(e);
            }
        }
        Err(e) => {
            tracing::warn!(
                "storing {} new jobs together failed ({e}); one by one",
                batch.len()
            );
            for submission in batch {
                let waits = submission.waits();
                match store.insert_job_noting(&submission.job, &submission.notes, &waits) {
                    Ok(seq) => submission.accept(seq, commands),
                    Err(e) => submission.refuse(e),
                }
            }
        }
    }
}

impl Submission {
    /// Where the job waits from its creation on.
    fn waits(&self) -> Transition {
        first_wait(&self.job, self.job.times.created)
    }

    /// Stored: the engine queues it, then its CreateJob is answered.
    fn accept(mut self, seq: i64, commands: &mpsc::UnboundedSender<Command>) {
        self.job.seq = seq;
        self.waits().record_in(&mut self.job);
        // If the engine is gone the server is shutting down; recovery queues the job on restart.
        let _ = commands.send(Command::Created(self.job));
        let _ = self.stored.send(Ok(()));
    }

    fn refuse(self, error: StoreError) {
        let _ = self.stored.send(Err(error));
    }
}
