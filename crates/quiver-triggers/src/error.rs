//! Errors of the trigger crate: the invoker and every event source.

/// Why an invocation did not run, or an event could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The function, version or alias does not exist.
    #[error("the function, version or alias does not exist")]
    NotFound,
    /// Refused for now (account concurrency, memory budget); `reason` is Lambda's
    /// throttle reason for the 429.
    #[error("throttled: {detail}")]
    Throttled {
        reason: &'static str,
        detail: String,
    },
    /// The platform could not run it now (store, code tree, sandbox or engine failure,
    /// no engine in this server). Not the function's fault: async events are retried.
    #[error("{0}")]
    Platform(String),
    /// The invocation is past the 16th of its chain and the function's RecursiveLoop
    /// is `Terminate`: it did not run (docs/wire.md §18).
    #[error("recursive loop: invocation {depth} of its chain stopped")]
    RecursiveLoop { depth: u32 },
    /// The durable event queue failed.
    #[error("async event queue: {0}")]
    Queue(#[from] quiver_queue::QueueError),
    /// The dispatcher is shutting down.
    #[error("the async dispatcher is shutting down")]
    ShuttingDown,
}
