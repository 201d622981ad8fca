use opendlc_core::JobStatus;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("job {0} does not exist")]
    JobNotFound(String),
    #[error("job {job_id} cannot go from {from} to {to}")]
    Transition {
        job_id: String,
        from: JobStatus,
        to: JobStatus,
    },
    /// A name that must be unique is taken.
    #[error("{0}")]
    Conflict(String),
    /// The key that seals secrets at rest is missing, unreadable or not this database's.
    #[error("{0}")]
    Key(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
