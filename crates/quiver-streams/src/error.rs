//! The one error type of this crate.

/// Why a stream operation failed. The HTTP layer maps each variant to Kinesis's wire error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The named stream does not exist.
    #[error("stream {0} not found")]
    StreamNotFound(String),
    /// The shard does not exist in the stream.
    #[error("shard {shard} in stream {stream} not found")]
    ShardNotFound { stream: String, shard: String },
    /// The stream already exists (CreateStream) or is not in a state for the call.
    #[error("stream {0} already exists")]
    InUse(String),
    /// A value outside what a stream accepts (message is the caller's to show).
    #[error("{0}")]
    Invalid(String),
    /// The shard iterator is past its 5-minute life.
    #[error("iterator expired")]
    ExpiredIterator,
    /// SQLite or the file system failed; nothing was acknowledged.
    #[error("stream storage failed: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for StreamError {
    fn from(e: rusqlite::Error) -> Self {
        StreamError::Storage(e.to_string())
    }
}

impl From<serde_json::Error> for StreamError {
    fn from(e: serde_json::Error) -> Self {
        StreamError::Storage(format!("corrupt tags: {e}"))
    }
}
