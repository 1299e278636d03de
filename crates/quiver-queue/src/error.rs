//! The one error type of this crate.

/// Why a queue operation failed. Each variant is something the caller can act on;
/// the HTTP layer maps them to SQS's wire errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The named queue does not exist.
    #[error("queue {0} does not exist")]
    QueueNotFound(String),
    /// The receipt handle is not one this queue issued (malformed or for another queue).
    #[error("receipt handle {0:?} is not valid")]
    InvalidReceipt(String),
    /// The message of a well-formed receipt is gone (deleted, expired or moved).
    #[error("message of receipt handle {0:?} does not exist")]
    MessageNotFound(String),
    /// The message is not in flight, so its visibility cannot be changed.
    #[error("message of receipt handle {0:?} is not in flight")]
    MessageNotInFlight(String),
    /// A value outside what the queue accepts (the caller validates first; this is the backstop).
    #[error("{0}")]
    Invalid(String),
    /// The store is closed (server shutting down).
    #[error("the queue store is closed")]
    Closed,
    /// SQLite or the file system failed; nothing was acknowledged.
    #[error("queue storage failed: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for QueueError {
    fn from(e: rusqlite::Error) -> Self {
        QueueError::Storage(e.to_string())
    }
}

impl From<serde_json::Error> for QueueError {
    fn from(e: serde_json::Error) -> Self {
        QueueError::Storage(format!("corrupt record: {e}"))
    }
}
