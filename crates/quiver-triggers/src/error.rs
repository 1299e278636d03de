//! Errors of the async path.

/// What went wrong accepting or delivering an asynchronous event.
#[derive(Debug, thiserror::Error)]
pub enum AsyncError {
    /// The durable event queue failed.
    #[error("async event queue: {0}")]
    Queue(#[from] quiver_queue::QueueError),
    /// The dispatcher is shutting down.
    #[error("the async dispatcher is shutting down")]
    ShuttingDown,
}
