//! The async face of a [`Queue`]: what the HTTP layer and the engine call.
//!
//! Blocking backend calls run on tokio's blocking pool. Long polling waits on the queue's
//! notifier (woken after a send commits) or until the next hidden message becomes
//! visible, whichever is first — never a sleep-and-retry loop.

use std::sync::Arc;
use std::time::Duration;

use crate::error::QueueError;
use crate::model::{
    Depth, Message, NewMessage, QueueConfig, QueueInfo, ReceiveRequest, SentMessage,
};
use crate::{BatchResult, Queue};

/// Cheap to clone; shares one backend.
#[derive(Clone)]
pub struct Queues {
    backend: Arc<dyn Queue>,
}

impl Queues {
    pub fn new(backend: Arc<dyn Queue>) -> Self {
        Self { backend }
    }

    pub fn backend(&self) -> &Arc<dyn Queue> {
        &self.backend
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Queue) -> Result<T, QueueError> + Send + 'static,
    {
        let b = self.backend.clone();
        tokio::task::spawn_blocking(move || f(b.as_ref()))
            .await
            .map_err(|e| QueueError::Storage(format!("queue task failed: {e}")))?
    }

    /// Creates the queue or returns the existing one (`true` when created).
    pub async fn create_queue(
        &self,
        name: &str,
        config: QueueConfig,
    ) -> Result<(QueueInfo, bool), QueueError> {
        let n = name.to_string();
        self.blocking(move |q| q.create_queue(&n, config)).await
    }

    /// For internal queues (async invoke, destinations): the queue named `name`, created
    /// with `config` if missing; an existing queue keeps its settings.
    pub async fn ensure_queue(
        &self,
        name: &str,
        config: QueueConfig,
    ) -> Result<QueueInfo, QueueError> {
        Ok(self.create_queue(name, config).await?.0)
    }

    pub async fn get_queue(&self, name: &str) -> Result<QueueInfo, QueueError> {
        let n = name.to_string();
        self.blocking(move |q| q.get_queue(&n)).await
    }

    pub async fn list_queues(&self, prefix: &str) -> Result<Vec<QueueInfo>, QueueError> {
        let p = prefix.to_string();
        self.blocking(move |q| q.list_queues(&p)).await
    }

    pub async fn set_config(
        &self,
        name: &str,
        config: QueueConfig,
    ) -> Result<QueueInfo, QueueError> {
        let n = name.to_string();
        self.blocking(move |q| q.set_config(&n, config)).await
    }

    pub async fn delete_queue(&self, name: &str) -> Result<(), QueueError> {
        let n = name.to_string();
        self.blocking(move |q| q.delete_queue(&n)).await
    }

    /// Durable when it returns `Ok`.
    pub async fn send(
        &self,
        queue: &str,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<SentMessage>, QueueError> {
        let n = queue.to_string();
        self.blocking(move |q| q.send(&n, messages)).await
    }

    /// Receives without waiting.
    pub async fn receive(
        &self,
        queue: &str,
        req: ReceiveRequest,
    ) -> Result<Vec<Message>, QueueError> {
        let n = queue.to_string();
        Ok(self.blocking(move |q| q.receive(&n, req)).await?.messages)
    }

    /// Receives, waiting up to `wait` for a message: returns as soon as one is available.
    pub async fn receive_wait(
        &self,
        queue: &str,
        req: ReceiveRequest,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        let notify = self.backend.notifier(queue);
        loop {
            // Registered before looking, so a send that commits in between still wakes us.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let n = queue.to_string();
            let got = self.blocking(move |q| q.receive(&n, req)).await?;
            let now = tokio::time::Instant::now();
            if !got.messages.is_empty() || now >= deadline {
                return Ok(got.messages);
            }
            let until = match got.next_visible_in {
                Some(d) => deadline.min(now + d),
                None => deadline,
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    pub async fn delete(
        &self,
        queue: &str,
        receipts: Vec<String>,
    ) -> Result<BatchResult, QueueError> {
        let n = queue.to_string();
        self.blocking(move |q| q.delete(&n, &receipts)).await
    }

    pub async fn change_visibility(
        &self,
        queue: &str,
        changes: Vec<(String, u32)>,
    ) -> Result<BatchResult, QueueError> {
        let n = queue.to_string();
        self.blocking(move |q| q.change_visibility(&n, &changes))
            .await
    }

    pub async fn purge(&self, queue: &str) -> Result<u64, QueueError> {
        let n = queue.to_string();
        self.blocking(move |q| q.purge(&n)).await
    }

    /// Approximate depth (visible, in flight, delayed).
    pub async fn depth(&self, queue: &str) -> Result<Depth, QueueError> {
        let n = queue.to_string();
        self.blocking(move |q| q.depth(&n)).await
    }

    /// Waits for the last commit and refuses further work.
    pub async fn close(&self) {
        let b = self.backend.clone();
        let _ = tokio::task::spawn_blocking(move || b.close()).await;
    }
}
