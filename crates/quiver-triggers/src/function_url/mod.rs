//! Function URLs as a trigger: one HTTP request in, one invocation over the
//! [`Invoker`], one HTTP answer out. The HTTP server (quiver-api) hands over the
//! request as plain values ([`UrlCall`]) and writes back the [`UrlOutcome`]; the
//! mapping itself is the model's ([`quiver_model::url_event`]). docs/wire.md §21.
//! A URL in `RESPONSE_STREAM` mode answers as the function writes ([`stream`], §21.6).

pub mod stream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use quiver_model::function_url::{AuthType, FunctionUrlConfig, InvokeMode};
use quiver_model::url_event::{self, UrlRequest};
use quiver_model::Chain;

use crate::invoker::{FunctionTarget, Invocation, Invoker, Source};
use crate::TriggerError;

/// Largest request and response payload of a URL in BUFFERED mode (Lambda's 6 MB).
pub const MAX_URL_PAYLOAD: usize = 6_291_456;

/// Entries kept in the url id cache before it is emptied (far above any real set).
const CACHE_MAX_ENTRIES: usize = 4096;

/// One request to a function URL, as received.
#[derive(Debug, Clone)]
pub struct UrlCall {
    pub url_id: String,
    pub method: String,
    pub raw_path: String,
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub protocol: String,
    pub source_ip: String,
    /// The host name the URL is served under (`<url-id>.lambda-url.<region>.<domain>`).
    pub domain_name: String,
}

impl UrlCall {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The answer to write back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlOutcome {
    pub status: u16,
    /// In order; `set-cookie` may repeat.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The invocation's request id, when the function was invoked.
    pub request_id: Option<String>,
}

/// A URL's answer: whole (BUFFERED, refusals, preflights) or streamed as the function
/// writes it (RESPONSE_STREAM).
#[derive(Debug)]
pub enum UrlAnswer {
    Whole(UrlOutcome),
    Streamed(stream::StreamedAnswer),
}

impl From<UrlOutcome> for UrlAnswer {
    fn from(o: UrlOutcome) -> Self {
        UrlAnswer::Whole(o)
    }
}

impl UrlOutcome {
    /// Lambda's JSON error answers of a URL (`{"Message":"Forbidden"}` and the like).
    pub(crate) fn message(status: u16, message: &str) -> Self {
        UrlOutcome {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(serde_json::json!({ "Message": message }).to_string()),
            request_id: None,
        }
    }
}

/// Whether a caller may invoke the URL: the function's resource policy decides, once
/// identities exist. Today `NONE` allows everyone and `AWS_IAM` nobody (403), since
/// SigV4 signatures are not verified yet.
fn authorize(config: &FunctionUrlConfig, _call: &UrlCall) -> bool {
    match config.auth_type {
        AuthType::None => true,
        AuthType::AwsIam => false,
    }
}

struct Cached {
    changes: u64,
    config: Option<Arc<FunctionUrlConfig>>,
}

/// Serves function URL requests; cheap to clone.
#[derive(Clone)]
pub struct FunctionUrls {
    invoker: Invoker,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

impl FunctionUrls {
    pub fn new(invoker: Invoker) -> Self {
        Self {
            invoker,
            cache: Arc::default(),
        }
    }

    /// The config of `url_id`, from the cache while the store's change counter has
    /// not moved (URL configs are store writes), so a warm request costs no query.
    async fn config(&self, url_id: &str) -> Result<Option<Arc<FunctionUrlConfig>>, TriggerError> {
        let store = self.invoker.store().clone();
        let changes = store.change_counter();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get(url_id).filter(|c| c.changes == changes) {
                return Ok(c.config.clone());
            }
        }
        let id = url_id.to_string();
        let found = tokio::task::spawn_blocking(move || store.function_url_by_id(&id))
            .await
            .map_err(|e| TriggerError::Platform(format!("store task failed: {e}")))?
            .map_err(|e| TriggerError::Platform(e.to_string()))?
            .map(Arc::new);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(
            url_id.to_string(),
            Cached {
                changes,
                config: found.clone(),
            },
        );
        Ok(found)
    }

    /// Answers one request: unknown id → 404, refused → 403, a CORS preflight from
    /// the config (no invocation), too large → 413, else the function's answer (its
    /// failure → 502, throttled → 429), streamed when the URL's mode says so.
    pub async fn handle(&self, call: UrlCall) -> UrlAnswer {
        let config = match self.config(&call.url_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return UrlOutcome::message(404, "Not Found").into(),
            Err(e) => {
                tracing::warn!(url_id = %call.url_id, "function URL lookup failed: {e}");
                return UrlOutcome::message(500, "Internal Server Error").into();
            }
        };
        if !authorize(&config, &call) {
            return UrlOutcome::message(403, "Forbidden").into();
        }
        let origin = call.header("origin").map(str::to_string);
        if let (Some(cors), Some(origin), true) = (
            config.cors.as_ref(),
            origin.as_deref(),
            call.method.eq_ignore_ascii_case("OPTIONS"),
        ) {
            if let Some(method) = call.header("access-control-request-method") {
                let headers = cors.preflight(
                    origin,
                    method,
                    call.header("access-control-request-headers"),
                );
                return UrlOutcome {
                    status: 200,
                    headers,
                    body: Bytes::new(),
                    request_id: None,
                }
                .into();
            }
        }
        let mut answer = match config.invoke_mode {
            InvokeMode::Buffered => self.invoke(&config, &call).await.into(),
            InvokeMode::ResponseStream => self.invoke_streamed(&config, &call).await,
        };
        if let (Some(cors), Some(origin)) = (config.cors.as_ref(), origin.as_deref()) {
            let added = cors.simple(origin);
            let headers = match &mut answer {
                UrlAnswer::Whole(o) => &mut o.headers,
                UrlAnswer::Streamed(s) => &mut s.headers,
            };
            // The URL's CORS settings win over headers of the same name from the function.
            headers.retain(|(n, _)| !added.iter().any(|(a, _)| a.eq_ignore_ascii_case(n)));
            headers.extend(added);
        }
        answer
    }

    /// The invocation of one request: its event (payload 2.0) and request id, or the
    /// answer that refuses it (413).
    fn invocation(
        &self,
        config: &FunctionUrlConfig,
        call: &UrlCall,
    ) -> Result<(Invocation, String), UrlOutcome> {
        if call.body.len() > MAX_URL_PAYLOAD {
            return Err(UrlOutcome::message(413, "Request Entity Too Large"));
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let now = time::OffsetDateTime::now_utc();
        let partition = self.invoker.partition();
        let req = UrlRequest {
            method: &call.method,
            raw_path: &call.raw_path,
            raw_query: &call.raw_query,
            headers: &call.headers,
            body: &call.body,
            protocol: &call.protocol,
            source_ip: &call.source_ip,
            account_id: &partition.account,
            url_id: &config.url_id,
            domain_name: &call.domain_name,
            request_id: &request_id,
            time_epoch_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        };
        let event = url_event::event(&req).to_string();
        if event.len() > MAX_URL_PAYLOAD {
            return Err(UrlOutcome::message(413, "Request Entity Too Large"));
        }
        let invocation = Invocation {
            target: FunctionTarget {
                name: config.function_name.clone(),
                qualifier: config.qualifier.clone(),
            },
            invoked_arn: partition.function_arn(&config.function_name, config.qualifier.as_deref()),
            payload: Bytes::from(event),
            request_id: request_id.clone(),
            client_context: None,
            want_log_tail: false,
            source: Source::Url,
            chain: Chain::start(now.unix_timestamp().max(0) as u64, fastrand::u128(..)),
        };
        Ok((invocation, request_id))
    }

    /// Lambda's answer when the invocation did not run.
    fn not_run(config: &FunctionUrlConfig, request_id: &str, e: TriggerError) -> UrlOutcome {
        match e {
            TriggerError::Throttled { .. } => UrlOutcome::message(429, "Rate Exceeded."),
            TriggerError::NotFound => UrlOutcome::message(404, "Not Found"),
            e => {
                tracing::warn!(url_id = %config.url_id, %request_id, "function URL invocation failed: {e}");
                UrlOutcome::message(502, "Internal Server Error")
            }
        }
    }

    /// The 502 of a function that failed or answered what cannot be mapped.
    fn failed(config: &FunctionUrlConfig, request_id: &str, why: &str) -> UrlOutcome {
        tracing::info!(url_id = %config.url_id, %request_id, "function URL answer is a failure: {why}");
        let mut o = UrlOutcome::message(502, "Internal Server Error");
        o.request_id = Some(request_id.to_string());
        o
    }

    async fn invoke(&self, config: &FunctionUrlConfig, call: &UrlCall) -> UrlOutcome {
        let (invocation, request_id) = match self.invocation(config, call) {
            Ok(i) => i,
            Err(refused) => return refused,
        };
        let result = match self.invoker.invoke(invocation).await {
            Ok(r) => r,
            Err(e) => return Self::not_run(config, &request_id, e),
        };
        let bad = |why: &str| Self::failed(config, &request_id, why);
        if result.function_error.is_some() {
            return bad("the function failed");
        }
        let mapped = match url_event::response(&result.payload) {
            Ok(m) => m,
            Err(e) => return bad(&e.to_string()),
        };
        let mut headers = mapped.headers;
        headers.extend(
            mapped
                .cookies
                .into_iter()
                .map(|c| ("set-cookie".to_string(), c)),
        );
        UrlOutcome {
            status: mapped.status,
            headers,
            body: Bytes::from(mapped.body),
            request_id: Some(request_id),
        }
    }
}
