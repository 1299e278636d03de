//! HTTP APIs as a trigger: a request addressed to an API is matched to a stage and a
//! route ([`quiver_model::http_api_route`]), becomes a payload 1.0 or 2.0 event
//! ([`quiver_model::http_api_event`]) and is invoked over the one [`Invoker`]; the
//! function's answer comes back as HTTP. The server (quiver-api) hands the request
//! over as plain values ([`ApiCall`]). docs/wire.md §22.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use quiver_model::http_api::{HttpApi, HttpApiSnapshot, HttpIntegration, HttpRoute, HttpStage};
use quiver_model::http_api_cors;
use quiver_model::http_api_event::{self, ApiRequest};
use quiver_model::http_api_route::{select, RouteKey};
use quiver_model::{url_event, Chain, FunctionRef};

use crate::function_url::UrlOutcome;
use crate::invoker::{FunctionTarget, Invocation, Invoker, Source};
use crate::TriggerError;

/// Largest request and response payload of an HTTP API (API Gateway's 10 MB).
pub const MAX_API_PAYLOAD: usize = 10 * 1024 * 1024;

/// One request addressed to an HTTP API, as received.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub api_id: String,
    pub method: String,
    /// The path as sent, including a named stage's first segment.
    pub raw_path: String,
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub protocol: String,
    pub source_ip: String,
    /// `<api-id>.execute-api.<region>.<domain>`.
    pub domain_name: String,
}

/// API Gateway's JSON answers of its own (`{"message":"Not Found"}` and the like).
fn message(status: u16, text: &str) -> UrlOutcome {
    UrlOutcome {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(serde_json::json!({ "message": text }).to_string()),
        request_id: None,
    }
}

/// Serves HTTP API requests; cheap to clone.
#[derive(Clone)]
pub struct HttpApis {
    invoker: Invoker,
}

/// The stage a path addresses and the path the routes see: a named stage is the
/// path's first segment; anything else goes to `$default` when the API has it.
fn stage_of<'a>(api: &'a HttpApi, raw_path: &str) -> Option<(&'a HttpStage, String)> {
    let rest = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let (first, tail) = rest.split_once('/').map_or((rest, ""), |(f, t)| (f, t));
    if let Some(s) = api
        .stages
        .iter()
        .find(|s| s.stage_name != "$default" && s.stage_name == first)
    {
        return Some((s, format!("/{tail}")));
    }
    api.stages
        .iter()
        .find(|s| s.stage_name == "$default")
        .map(|s| (s, raw_path.to_string()))
}

/// Whether a preflight goes to a route rather than being answered by API Gateway:
/// only when a route names `OPTIONS` itself (not `ANY`, not `$default`) and matches.
fn explicit_options_route(table: &[(RouteKey, &HttpRoute)], route_path: &str) -> bool {
    let options: Vec<(RouteKey, &HttpRoute)> = table
        .iter()
        .filter(|(k, _)| matches!(k, RouteKey::Path { method, .. } if method == "OPTIONS"))
        .cloned()
        .collect();
    select(&options, "OPTIONS", route_path).is_some()
}

impl HttpApis {
    pub fn new(invoker: Invoker) -> Self {
        Self { invoker }
    }

    /// Answers one request: unknown API, stage or route (or a stage with nothing
    /// deployed) → 404 `Not Found`, the endpoint disabled → 403, too large → 413, the
    /// function failed or answered malformed → 502, slower than the integration's
    /// TimeoutInMillis → 504, throttled → 429. With CORS configured, a preflight is
    /// answered here (204) and every answer gets the configured CORS headers.
    pub async fn handle(&self, call: ApiCall) -> UrlOutcome {
        if call.body.len() > MAX_API_PAYLOAD {
            return message(413, "Request Entity Too Large");
        }
        let store = self.invoker.store().clone();
        let id = call.api_id.clone();
        let api = match tokio::task::spawn_blocking(move || store.get_http_api(&id)).await {
            Ok(Ok(Some(api))) => api,
            Ok(Ok(None)) => return message(404, "Not Found"),
            Ok(Err(e)) => {
                tracing::warn!(api_id = %call.api_id, "HTTP API lookup failed: {e}");
                return message(500, "Internal Server Error");
            }
            Err(e) => {
                tracing::warn!(api_id = %call.api_id, "HTTP API lookup task failed: {e}");
                return message(500, "Internal Server Error");
            }
        };
        if api.disable_execute_api_endpoint {
            return message(403, "Forbidden");
        }
        let Some((stage, route_path)) = stage_of(&api, &call.raw_path) else {
            return message(404, "Not Found");
        };
        // A stage without autoDeploy serves its deployment; nothing deployed is a 404.
        let Some(served) = api.served_by(stage) else {
            return message(404, "Not Found");
        };
        let table: Vec<(RouteKey, &HttpRoute)> = served
            .routes
            .iter()
            .filter_map(|r| RouteKey::parse(&r.route_key).ok().map(|k| (k, r)))
            .collect();
        let Some(cors) = &served.cors else {
            return self.route(&call, stage, &route_path, &table, &served).await;
        };
        if http_api_cors::is_preflight(&call.method, &call.headers)
            && !explicit_options_route(&table, &route_path)
        {
            return UrlOutcome {
                status: 204,
                headers: http_api_cors::preflight(cors, &call.headers),
                body: Bytes::new(),
                request_id: None,
            };
        }
        let mut out = self.route(&call, stage, &route_path, &table, &served).await;
        http_api_cors::apply(cors, &call.headers, &mut out.headers);
        out
    }

    /// The answer before CORS headers are applied: the chosen route's integration
    /// invoked, or API Gateway's 404.
    async fn route(
        &self,
        call: &ApiCall,
        stage: &HttpStage,
        route_path: &str,
        table: &[(RouteKey, &HttpRoute)],
        served: &HttpApiSnapshot,
    ) -> UrlOutcome {
        let Some(selected) = select(table, &call.method, route_path) else {
            return message(404, "Not Found");
        };
        let route = *selected.route;
        let integration = route
            .target
            .as_deref()
            .and_then(|t| t.strip_prefix("integrations/"))
            .and_then(|id| served.integrations.iter().find(|i| i.integration_id == id));
        let Some(integration) = integration else {
            return message(404, "Not Found");
        };
        self.invoke(
            call,
            integration,
            &route.route_key,
            &stage.stage_name,
            &selected.path_parameters,
            &stage.stage_variables,
        )
        .await
    }

    async fn invoke(
        &self,
        call: &ApiCall,
        integration: &HttpIntegration,
        route_key: &str,
        stage: &str,
        path_parameters: &BTreeMap<String, String>,
        stage_variables: &BTreeMap<String, String>,
    ) -> UrlOutcome {
        let Ok(function) = FunctionRef::parse(&integration.integration_uri, "integrationUri")
        else {
            return message(500, "Internal Server Error");
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let now = time::OffsetDateTime::now_utc();
        let partition = self.invoker.partition();
        let req = ApiRequest {
            method: &call.method,
            raw_path: &call.raw_path,
            raw_query: &call.raw_query,
            headers: &call.headers,
            body: &call.body,
            protocol: &call.protocol,
            source_ip: &call.source_ip,
            account_id: &partition.account,
            api_id: &call.api_id,
            domain_name: &call.domain_name,
            request_id: &request_id,
            time_epoch_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
            route_key,
            stage,
            path_parameters,
            stage_variables,
        };
        let v1 = integration.payload_format_version == "1.0";
        let event = if v1 {
            http_api_event::event_v1(&req)
        } else {
            http_api_event::event_v2(&req)
        }
        .to_string();
        if event.len() > MAX_API_PAYLOAD {
            return message(413, "Request Entity Too Large");
        }
        let invocation = Invocation {
            target: FunctionTarget {
                name: function.name.clone(),
                qualifier: function.qualifier.clone(),
            },
            invoked_arn: partition.function_arn(&function.name, function.qualifier.as_deref()),
            payload: Bytes::from(event),
            request_id: request_id.clone(),
            client_context: None,
            want_log_tail: false,
            source: Source::Url,
            chain: Chain::start(now.unix_timestamp().max(0) as u64, fastrand::u128(..)),
        };
        let limit = Duration::from_millis(u64::from(integration.timeout_in_millis));
        let result = match tokio::time::timeout(limit, self.invoker.invoke(invocation)).await {
            Err(_) => return message(504, "Endpoint request timed out"),
            Ok(Ok(r)) => r,
            Ok(Err(TriggerError::Throttled { .. })) => return message(429, "Too Many Requests"),
            Ok(Err(e)) => {
                tracing::warn!(api_id = %call.api_id, %request_id, "HTTP API invocation failed: {e}");
                return message(502, "Internal Server Error");
            }
        };
        let bad = |why: &str| {
            tracing::info!(api_id = %call.api_id, %request_id, "HTTP API answer is a failure: {why}");
            let mut o = message(502, "Internal Server Error");
            o.request_id = Some(request_id.clone());
            o
        };
        if result.function_error.is_some() {
            return bad("the function failed");
        }
        if result.payload.len() > MAX_API_PAYLOAD {
            return bad("the answer is larger than 10 MB");
        }
        let mapped = if v1 {
            http_api_event::response_v1(&result.payload)
        } else {
            url_event::response(&result.payload)
        };
        let mapped = match mapped {
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
