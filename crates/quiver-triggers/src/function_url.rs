//! Function URLs as a trigger: one HTTP request in, one invocation over the
//! [`Invoker`], one HTTP answer out. The HTTP server (quiver-api) hands over the
//! request as plain values ([`UrlCall`]) and writes back the [`UrlOutcome`]; the
//! mapping itself is the model's ([`quiver_model::url_event`]). docs/wire.md §21.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use quiver_model::function_url::{AuthType, FunctionUrlConfig};
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

impl UrlOutcome {
    /// Lambda's JSON error answers of a URL (`{"Message":"Forbidden"}` and the like).
    fn message(status: u16, message: &str) -> Self {
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
    /// failure → 502, throttled → 429).
    pub async fn handle(&self, call: UrlCall) -> UrlOutcome {
        let config = match self.config(&call.url_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return UrlOutcome::message(404, "Not Found"),
            Err(e) => {
                tracing::warn!(url_id = %call.url_id, "function URL lookup failed: {e}");
                return UrlOutcome::message(500, "Internal Server Error");
            }
        };
        if !authorize(&config, &call) {
            return UrlOutcome::message(403, "Forbidden");
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
                };
            }
        }
        let mut out = self.invoke(&config, &call).await;
        if let (Some(cors), Some(origin)) = (config.cors.as_ref(), origin.as_deref()) {
            let added = cors.simple(origin);
            // The URL's CORS settings win over headers of the same name from the function.
            out.headers
                .retain(|(n, _)| !added.iter().any(|(a, _)| a.eq_ignore_ascii_case(n)));
            out.headers.extend(added);
        }
        out
    }

    async fn invoke(&self, config: &FunctionUrlConfig, call: &UrlCall) -> UrlOutcome {
        if call.body.len() > MAX_URL_PAYLOAD {
            return UrlOutcome::message(413, "Request Entity Too Large");
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
            return UrlOutcome::message(413, "Request Entity Too Large");
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
        let result = match self.invoker.invoke(invocation).await {
            Ok(r) => r,
            Err(TriggerError::Throttled { .. }) => {
                return UrlOutcome::message(429, "Rate Exceeded.")
            }
            Err(TriggerError::NotFound) => return UrlOutcome::message(404, "Not Found"),
            Err(e) => {
                tracing::warn!(url_id = %config.url_id, %request_id, "function URL invocation failed: {e}");
                return UrlOutcome::message(502, "Internal Server Error");
            }
        };
        let bad = |why: &str| {
            tracing::info!(url_id = %config.url_id, %request_id, "function URL answer is a failure: {why}");
            let mut o = UrlOutcome::message(502, "Internal Server Error");
            o.request_id = Some(request_id.clone());
            o
        };
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
