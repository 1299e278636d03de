//! The crate's one error type.

/// Why a [`crate::RuntimeApi`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeApiError {
    /// The listener could not be prepared for serving (e.g. switching it to non-blocking).
    #[error("runtime API listener setup failed: {0}")]
    Listener(#[source] std::io::Error),
    /// An invocation is already queued or in flight: one environment serves one invocation at a time.
    #[error("the environment is busy with invocation {0}")]
    Busy(String),
    /// The runtime reported an init error earlier, so this environment can never serve an invocation.
    #[error("the runtime failed its init; the environment is unusable")]
    InitFailed,
    /// The server was shut down (the environment died or is being torn down) before an answer came.
    #[error("the runtime API was shut down")]
    Closed,
    /// A field of the invocation cannot be sent to the runtime as an HTTP header.
    #[error("invalid invocation field {field}: {reason}")]
    InvalidInvocation {
        /// Which field of [`crate::Invocation`] is wrong.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}
