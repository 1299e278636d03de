//! The loop every durable trigger queue's workers run (asynchronous invocations, SNS
//! deliveries, EventBridge events and deliveries): receive a batch with a short long
//! poll, hand it over, until the trigger closes. A failing receive is logged and
//! retried shortly, never the end of the worker: the queue file may be busy or full
//! for a moment, and the events in it are still owed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use quiver_queue::{Message, Queues, ReceiveRequest};

/// How long one receive waits for a message before the closed flag is looked at again.
const POLL: Duration = Duration::from_secs(1);
/// The pause after a failed receive.
const BACKOFF: Duration = Duration::from_millis(200);

/// Receives from `queue` until `closed`, handing every non-empty batch to `handle`;
/// `what` names the queue in the log.
pub(crate) async fn consume<F, Fut>(
    queues: &Queues,
    queue: &str,
    req: ReceiveRequest,
    closed: &AtomicBool,
    what: &str,
    mut handle: F,
) where
    F: FnMut(Vec<Message>) -> Fut,
    Fut: Future<Output = ()>,
{
    while !closed.load(Ordering::SeqCst) {
        match queues.receive_wait(queue, req, POLL).await {
            Ok(msgs) if msgs.is_empty() => {}
            Ok(msgs) => handle(msgs).await,
            Err(e) => {
                tracing::error!("{what} receive failed: {e}");
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
}
