//! The one error type of the log store.

/// What can go wrong storing or reading logs.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The SQLite database could not be opened or queried.
    #[error("log database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The log group named does not exist.
    #[error("The specified log group does not exist.")]
    GroupNotFound,
    /// The log stream named does not exist.
    #[error("The specified log stream does not exist.")]
    StreamNotFound,
    /// CreateLogGroup of an existing group.
    #[error("The specified log group already exists")]
    GroupExists,
    /// CreateLogStream of an existing stream.
    #[error("The specified log stream already exists")]
    StreamExists,
    /// The subscription filter named does not exist.
    #[error("The specified subscription filter does not exist.")]
    FilterNotFound,
    /// A per-group limit (two subscription filters) would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// `logs.db` cannot be used by this build (a newer schema).
    #[error("{0}")]
    Schema(String),
    /// PutLogEvents' batch could not be committed.
    #[error("the log events could not be stored")]
    NotStored,
    /// A parameter the caller can fix (bad token, bad retention value, bad pattern).
    #[error("{0}")]
    InvalidParameter(String),
    /// The store was closed (server shutting down).
    #[error("the log store is closed")]
    Closed,
    /// A background thread could not be started.
    #[error("cannot start the log writer: {0}")]
    Thread(#[from] std::io::Error),
}
