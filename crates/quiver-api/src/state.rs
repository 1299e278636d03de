//! Shared state of the HTTP surface.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quiver_model::{Partition, RuntimeCatalogue};
use quiver_store::{CodeStore, Store, StoreError};

use crate::error::ApiError;

/// How long a GetFunction `Code.Location` URL stays valid (Lambda: 10 minutes).
pub const CODE_URL_TTL: Duration = Duration::from_secs(600);

/// The public URL of a state built without [`AppState::with_public_url`] (the binary always
/// sets the real one).
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:9000";

/// The domain function URLs are served under unless `--domain` says otherwise.
pub const DEFAULT_URL_DOMAIN: &str = "localhost";

/// Everything the routes need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub code: CodeStore,
    pub partition: Partition,
    pub runtimes: RuntimeCatalogue,
    pub code_urls: CodeUrls,
    /// Runs invocations; None in a server started without sandboxes.
    pub engine: Option<Arc<quiver_engine::Engine>>,
    /// Function logs (CloudWatch Logs API); None in a server that keeps none.
    pub logs: Option<Arc<quiver_logs::LogStore>>,
    /// Durable queues (SQS API); None in a server that keeps none.
    pub queues: Option<Arc<quiver_queue::Queues>>,
    /// Kinesis-compatible streams; None in a server that keeps none.
    pub streams: Option<quiver_streams::StreamService>,
    /// Asynchronous invocation (InvocationType Event); None without a dispatcher.
    pub async_invoker: Option<quiver_triggers::AsyncInvoker>,
    /// SNS-compatible topics' delivery; None in a server without it.
    pub sns: Option<quiver_triggers::Topics>,
    /// EventBridge delivery (PutEvents); None in a server that delivers no events.
    pub eventbridge: Option<quiver_triggers::EventBridge>,
    /// The one way to run a function (sync Invoke; the dispatcher holds a clone).
    pub invoker: quiver_triggers::Invoker,
    /// The server's own base URL (`http://host:port`, no trailing slash) for the URLs it
    /// hands out, such as GetFunction's `Code.Location`. Never taken from a request's
    /// `Host` header, which the client controls.
    pub public_url: String,
    /// Serves function URL requests (the listener in [`crate::function_url`]).
    pub function_urls: quiver_triggers::FunctionUrls,
    /// The schedule ticker the Scheduler API tells of every change; None in a server
    /// without one (schedules are then only stored).
    pub schedules: Option<quiver_triggers::Schedules>,
    /// The event source mapping supervisor the Lambda API tells of every change; None
    /// in a server without one (mappings are then only stored).
    pub mappings: Option<quiver_triggers::Mappings>,
    /// Serves HTTP API requests (the listener in [`crate::http_api`]).
    pub http_apis: quiver_triggers::HttpApis,
    /// The domain function URLs are served under: `<url-id>.lambda-url.<region>.<domain>`
    /// (`--domain`; `localhost` by default, which resolves to the loopback).
    pub url_domain: String,
    /// Serve `POST /_quiver/echo` (the benchmarks' same-server baseline); off by default.
    pub echo_route: bool,
    /// The account concurrency limit (ConcurrentExecutions): the engine's own figure
    /// once [`AppState::with_engine`] gave one, so the API never reports or carves
    /// reservations out of a number the engine does not enforce; Lambda's default
    /// without an engine.
    pub account_concurrency: u64,
    /// Where container-image functions are pulled to (docs/wire.md §17.4); None in a
    /// server without one, which refuses ImageUri.
    pub images: Option<quiver_store::ImageStore>,
    /// The S3-compatible object store's service (docs/wire.md §30); None in a server
    /// without one (S3 requests then reach the other routes and are unknown there).
    pub s3: Option<crate::s3::S3Service>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        code: CodeStore,
        partition: Partition,
        runtimes: RuntimeCatalogue,
    ) -> Self {
        // Resolves but cannot run until `with_invoker` gives one with an engine.
        let invoker =
            quiver_triggers::Invoker::new(store.clone(), code.clone(), partition.clone(), None);
        let function_urls = quiver_triggers::FunctionUrls::new(invoker.clone());
        let http_apis = quiver_triggers::HttpApis::new(invoker.clone());
        Self(Arc::new(Inner {
            function_urls,
            http_apis,
            url_domain: DEFAULT_URL_DOMAIN.to_string(),
            store,
            code,
            partition,
            runtimes,
            invoker,
            code_urls: CodeUrls::default(),
            engine: None,
            logs: None,
            queues: None,
            streams: None,
            async_invoker: None,
            schedules: None,
            mappings: None,
            sns: None,
            eventbridge: None,
            public_url: DEFAULT_PUBLIC_URL.to_string(),
            echo_route: false,
            account_concurrency: quiver_model::limits::CONCURRENT_EXECUTIONS,
            images: None,
            s3: None,
        }))
    }

    /// The same state serving S3 (call before cloning).
    pub fn with_s3(mut self, s3: crate::s3::S3Service) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.s3 = Some(s3);
        }
        self
    }

    /// The S3 service, if this server has one.
    pub fn s3(&self) -> Option<crate::s3::S3Service> {
        self.0.s3.clone()
    }

    /// The same state delivering SNS topics' messages with `topics` (call before cloning).
    pub fn with_sns(mut self, topics: quiver_triggers::Topics) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.sns = Some(topics);
        }
        self
    }

    /// The same state with the server's invoker (call before cloning).
    pub fn with_invoker(mut self, invoker: quiver_triggers::Invoker) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.function_urls = quiver_triggers::FunctionUrls::new(invoker.clone());
            inner.http_apis = quiver_triggers::HttpApis::new(invoker.clone());
            inner.invoker = invoker;
        }
        self
    }

    /// The same state handing out URLs under `url` (call before cloning). A trailing `/`
    /// is dropped.
    pub fn with_public_url(mut self, url: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.public_url = url.trim_end_matches('/').to_string();
        }
        self
    }

    /// The same state serving function URLs under `domain` (call before cloning).
    pub fn with_url_domain(mut self, domain: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.url_domain = domain.trim_matches('.').to_ascii_lowercase();
        }
        self
    }

    /// `.execute-api.<region>.<domain>`: what an HTTP API's host ends with after its id.
    pub fn api_host_suffix(&self) -> String {
        format!(".execute-api.{}.{}", self.partition.region, self.url_domain)
    }

    /// `.lambda-url.<region>.<domain>`: what a URL's host ends with after its id.
    pub fn url_host_suffix(&self) -> String {
        format!(".lambda-url.{}.{}", self.partition.region, self.url_domain)
    }

    /// The `FunctionUrl` of `url_id`: the public URL's scheme and port under the URL's
    /// own host name, so that it resolves from the machine running Quiver.
    pub fn function_url(&self, url_id: &str) -> String {
        let (scheme, rest) = self
            .public_url
            .split_once("://")
            .unwrap_or(("http", self.public_url.as_str()));
        let authority = rest.split('/').next().unwrap_or(rest);
        let port = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() {
                    format!(":{p}")
                } else {
                    String::new()
                }
            }
            _ => String::new(),
        };
        format!("{scheme}://{url_id}{}{port}/", self.url_host_suffix())
    }

    /// The same state with the `POST /_quiver/echo` benchmark baseline route (call before
    /// cloning).
    pub fn with_echo_route(mut self, enabled: bool) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.echo_route = enabled;
        }
        self
    }

    /// The same state with an async dispatcher for `InvocationType: Event` (call before cloning).
    pub fn with_async(mut self, invoker: quiver_triggers::AsyncInvoker) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.async_invoker = Some(invoker);
        }
        self
    }

    /// The same state with the event source mapping supervisor (call before cloning).
    pub fn with_mappings(mut self, mappings: quiver_triggers::Mappings) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.mappings = Some(mappings);
        }
        self
    }

    /// The same state with the schedule ticker (call before cloning).
    pub fn with_schedules(mut self, schedules: quiver_triggers::Schedules) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.schedules = Some(schedules);
        }
        self
    }

    /// The same state delivering PutEvents entries through `bridge` (call before cloning).
    pub fn with_eventbridge(mut self, bridge: quiver_triggers::EventBridge) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.eventbridge = Some(bridge);
        }
        self
    }

    /// The same state with an execution engine for Invoke (call before cloning).
    pub fn with_engine(mut self, engine: Arc<quiver_engine::Engine>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.account_concurrency = engine.account_concurrency() as u64;
            inner.engine = Some(engine);
        }
        self
    }

    /// The same state pulling container-image functions into `images` (call before
    /// cloning).
    pub fn with_images(mut self, images: quiver_store::ImageStore) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.images = Some(images);
        }
        self
    }

    /// The same state with a log store for the Logs API (call before cloning).
    pub fn with_logs(mut self, logs: Arc<quiver_logs::LogStore>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.logs = Some(logs);
        }
        self
    }

    /// The same state with durable queues for the SQS API (call before cloning).
    pub fn with_queues(mut self, queues: Arc<quiver_queue::Queues>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.queues = Some(queues);
        }
        self
    }

    /// The same state with streams for the Kinesis API (call before cloning).
    pub fn with_streams(mut self, streams: quiver_streams::StreamService) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.streams = Some(streams);
        }
        self
    }

    /// Runs a store call on a blocking thread.
    pub async fn store<T, F>(&self, f: F) -> Result<Result<T, StoreError>, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || f(inner.store.as_ref()))
            .await
            .map_err(|e| ApiError::Service(format!("store task failed: {e}")))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Unguessable, expiring download tokens for code packages. In memory: a restart
/// invalidates outstanding URLs, which is allowed since they expire anyway.
#[derive(Default)]
pub struct CodeUrls {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl CodeUrls {
    /// A new token for the package `sha_hex`.
    pub fn issue(&self, sha_hex: &str) -> String {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = Instant::now();
        let mut t = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|_, (_, exp)| *exp > now);
        t.insert(token.clone(), (sha_hex.to_string(), now + CODE_URL_TTL));
        token
    }

    /// The package a live token grants, if any.
    pub fn redeem(&self, token: &str) -> Option<String> {
        let t = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        t.get(token)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(sha, _)| sha.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_redeemable() {
        let u = CodeUrls::default();
        let a = u.issue("abc");
        let b = u.issue("abc");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(u.redeem(&a).as_deref(), Some("abc"));
        assert_eq!(u.redeem("nope"), None);
    }
}
