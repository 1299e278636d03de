//! The async face of a [`Streams`] backend: what the HTTP layer calls, and what a Lambda
//! poller will call in-process (list shards, read from a position, wait for records).
//!
//! Blocking backend calls run on tokio's blocking pool. [`StreamService::read_wait`]
//! waits on the stream's notifier (woken after an append commits) instead of sleeping.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StreamError;
use crate::iterator::ShardIterator;
use crate::model::{Appended, NewRecord, ReadBatch, ShardInfo, StartPosition, StreamInfo};
use crate::Streams;

/// Cheap to clone; shares one backend.
#[derive(Clone)]
pub struct StreamService {
    backend: Arc<dyn Streams>,
}

impl StreamService {
    pub fn new(backend: Arc<dyn Streams>) -> Self {
        Self { backend }
    }

    pub fn backend(&self) -> &Arc<dyn Streams> {
        &self.backend
    }

    pub fn now_ms(&self) -> i64 {
        self.backend.now_ms()
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StreamError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Streams) -> Result<T, StreamError> + Send + 'static,
    {
        let b = self.backend.clone();
        tokio::task::spawn_blocking(move || f(b.as_ref()))
            .await
            .map_err(|e| StreamError::Storage(format!("stream task failed: {e}")))?
    }

    pub async fn create_stream(
        &self,
        name: &str,
        shards: u32,
        on_demand: bool,
    ) -> Result<StreamInfo, StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.create_stream(&n, shards, on_demand))
            .await
    }

    pub async fn describe(&self, name: &str) -> Result<StreamInfo, StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.describe(&n)).await
    }

    /// The shards of a stream (for a poller: one reader per shard).
    pub async fn list_shards(&self, name: &str) -> Result<Vec<ShardInfo>, StreamError> {
        Ok(self.describe(name).await?.shards())
    }

    pub async fn list_streams(&self) -> Result<Vec<StreamInfo>, StreamError> {
        self.blocking(|s| s.list_streams()).await
    }

    pub async fn delete_stream(&self, name: &str) -> Result<(), StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.delete_stream(&n)).await
    }

    pub async fn set_retention(&self, name: &str, hours: u32) -> Result<(), StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.set_retention(&n, hours)).await
    }

    pub async fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.tags(&n)).await
    }

    pub async fn update_tags(
        &self,
        name: &str,
        add: BTreeMap<String, String>,
        remove: Vec<String>,
    ) -> Result<(), StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.update_tags(&n, add, remove)).await
    }

    /// Durable when it returns `Ok`.
    pub async fn append(
        &self,
        name: &str,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Appended>, StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.append(&n, records)).await
    }

    pub async fn iterator(
        &self,
        name: &str,
        shard: u32,
        pos: StartPosition,
    ) -> Result<ShardIterator, StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.iterator(&n, shard, pos)).await
    }

    /// Reads by a decoded iterator: checks it still names the same stream (not one
    /// deleted and created again under its name).
    pub async fn read_iterator(
        &self,
        it: &ShardIterator,
        limit: u32,
    ) -> Result<ReadBatch, StreamError> {
        let info = self.describe(&it.stream).await?;
        if info.created_ms != it.stream_created_ms {
            return Err(StreamError::StreamNotFound(it.stream.clone()));
        }
        self.read(&it.stream, it.shard, it.next, limit).await
    }

    pub async fn read(
        &self,
        name: &str,
        shard: u32,
        from: u64,
        limit: u32,
    ) -> Result<ReadBatch, StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.read(&n, shard, from, limit)).await
    }

    /// Like [`Self::read`], but when there is nothing to read waits up to `wait` for an
    /// append to the stream and reads once more.
    pub async fn read_wait(
        &self,
        name: &str,
        shard: u32,
        from: u64,
        limit: u32,
        wait: Duration,
    ) -> Result<ReadBatch, StreamError> {
        let notify = self.backend.notifier(name);
        let notified = notify.notified();
        tokio::pin!(notified);
        // Registered before the read, so an append between the read and the wait wakes us.
        notified.as_mut().enable();
        let first = self.read(name, shard, from, limit).await?;
        if !first.records.is_empty() || wait.is_zero() {
            return Ok(first);
        }
        let _ = tokio::time::timeout(wait, notified).await;
        self.read(name, shard, from, limit).await
    }

    pub async fn latest_seq(&self, name: &str, shard: u32) -> Result<Option<u64>, StreamError> {
        let n = name.to_string();
        self.blocking(move |s| s.latest_seq(&n, shard)).await
    }

    /// Woken after records are appended to `name`.
    pub fn notifier(&self, name: &str) -> Arc<tokio::sync::Notify> {
        self.backend.notifier(name)
    }

    pub fn close(&self) {
        self.backend.close();
    }
}
