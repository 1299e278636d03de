//! The HTTP surface of Quiver: Lambda's restJson1 control plane.
//!
//! - [`auth`]: the one authentication seam (SigV4 parsing now, verification later).
//! - [`error`]: the one place errors become Lambda wire errors.
//! - [`body`]: per-operation body limits (axum's default limit is disabled).
//! - [`routes`]: one file per resource.
//! - [`function_url`]: the function URL listener (by host or `/_url/<id>/`), ahead of
//!   every route.
//! - [`server`]: the connection loop and its limits (timeouts, connection cap).
#![forbid(unsafe_code)]

pub mod apigatewayv2;
pub mod auth;
pub mod body;
pub mod denied;
pub mod error;
pub mod events;
pub mod function_url;
pub mod http_api;
mod http_front;
pub mod kinesis;
pub mod logs;
pub mod members;
pub mod query;
pub mod render;
pub mod routes;
pub mod s3;
pub mod scheduler;
pub mod server;
pub mod sns;
pub mod sqs;
pub mod state;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;
pub use server::{serve, ConnectionLimits};
pub use state::AppState;

/// Paths reachable without a signature (the echo route only when it is served; otherwise
/// its path is as unknown as any other).
fn is_public(path: &str, echo_route: bool) -> bool {
    path == "/healthz" || (echo_route && path == ECHO_PATH) || path.starts_with("/_quiver/code/")
}

/// The same-server baseline for invoke benchmarks: a bare HTTP round trip, served only
/// with `quiver serve --enable-echo-route`.
const ECHO_PATH: &str = "/_quiver/echo";

/// Every request gets an id, and every response (errors included) carries it.
async fn request_id(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), request_id = %id, "request");
    // Invoke sets its own: the id the function saw (docs/wire.md §1.1).
    if !resp.headers().contains_key("x-amzn-RequestId") {
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-amzn-RequestId", v);
        }
    }
    resp
}

/// Authentication through [`auth::authenticate`]; the caller goes into the request extensions.
async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_public(req.uri().path(), state.echo_route) || sns::is_link(&req) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    match auth::authenticate(&parts) {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(auth::AuthError::Missing) => ApiError::MissingToken.into_response(),
        Err(auth::AuthError::Malformed(m)) => ApiError::IncompleteSignature(m).into_response(),
    }
}

async fn unknown(req: Request) -> ApiError {
    ApiError::UnknownOperation(format!("{} {}", req.method(), req.uri().path()))
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    use routes::*;
    let f = "/2015-03-31/functions/{name}";
    let mut r = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", post(target::dispatch).get(sns::link));
    if state.echo_route {
        r = r.route(
            ECHO_PATH,
            post(|body: axum::body::Bytes| async move { body })
                .layer(DefaultBodyLimit::max(1 << 20)),
        );
    }
    r.route("/_quiver/code/{token}", get(code::download))
        .route(
            "/2015-03-31/functions",
            post(functions::create).get(functions::list),
        )
        .route(
            "/2015-03-31/functions/",
            post(functions::create).get(functions::list),
        )
        .route(f, get(functions::get).delete(functions::delete))
        .route(
            &format!("{f}/configuration"),
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            &format!("{f}/code"),
            axum::routing::put(functions::update_code),
        )
        .route(
            &format!("{f}/versions"),
            post(versions::publish).get(versions::list),
        )
        .route(&format!("{f}/invocations"), post(invoke::invoke))
        .route(
            "/2021-11-15/functions/{name}/response-streaming-invocations",
            post(invoke_stream::invoke_with_response_stream),
        )
        .route(
            &format!("{f}/aliases"),
            post(aliases::create).get(aliases::list),
        )
        .route(
            &format!("{f}/aliases/{{alias}}"),
            get(aliases::get)
                .put(aliases::update)
                .delete(aliases::delete),
        )
        .route("/_quiver/environments", get(admin::environments))
        .route("/_quiver/mappings", get(admin::mappings))
        .route("/_quiver/runtimes", get(admin::runtimes))
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(event_config::get)
                .put(event_config::put)
                .post(event_config::update)
                .delete(event_config::delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config/list",
            get(event_config::list),
        )
        .route(
            "/2017-03-31/tags/{name}",
            get(tags::list).post(tags::tag).delete(tags::untag),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            axum::routing::put(concurrency::put).delete(concurrency::delete),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(concurrency::get),
        )
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            get(provisioned::get)
                .put(provisioned::put)
                .delete(provisioned::delete),
        )
        .route(
            "/2024-08-31/functions/{name}/recursion-config",
            get(recursion::get).put(recursion::put),
        )
        .route(
            "/2020-04-22/code-signing-configs",
            post(code_signing::create).get(code_signing::list),
        )
        .route(
            "/2020-04-22/code-signing-configs/",
            post(code_signing::create).get(code_signing::list),
        )
        .route(
            "/2020-04-22/code-signing-configs/{arn}",
            get(code_signing::get)
                .put(code_signing::update)
                .delete(code_signing::delete),
        )
        .route(
            "/2020-04-22/code-signing-configs/{arn}/functions",
            get(code_signing::list_functions),
        )
        .route(
            "/2020-06-30/functions/{name}/code-signing-config",
            get(code_signing::get_function)
                .put(code_signing::put_function)
                .delete(code_signing::delete_function),
        )
        .route("/2018-10-31/layers", get(layers::list_or_find))
        .route("/2018-10-31/layers/", get(layers::list_or_find))
        .route(
            "/2018-10-31/layers/{layer}/versions",
            post(layers::publish).get(layers::list_versions),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}",
            get(layers::get).delete(layers::delete),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}/policy",
            post(layers::add_permission).get(layers::get_policy),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}/policy/{sid}",
            axum::routing::delete(layers::remove_permission),
        )
        .route(
            "/2021-10-31/functions/{name}/url",
            get(function_urls::get)
                .post(function_urls::create)
                .put(function_urls::update)
                .delete(function_urls::delete),
        )
        .route(
            "/2021-10-31/functions/{name}/urls",
            get(function_urls::list),
        )
        .route(
            "/2015-03-31/event-source-mappings/",
            get(event_source_mappings::list).post(event_source_mappings::create),
        )
        .route(
            "/2015-03-31/event-source-mappings",
            get(event_source_mappings::list).post(event_source_mappings::create),
        )
        .route(
            "/2015-03-31/event-source-mappings/{uuid}",
            get(event_source_mappings::get)
                .put(event_source_mappings::update)
                .delete(event_source_mappings::delete),
        )
        .merge(apigatewayv2::routes())
        .merge(scheduler::routes())
        .route("/2016-08-19/account-settings", get(account::settings))
        .route("/2016-08-19/account-settings/", get(account::settings))
        .fallback(unknown)
        .method_not_allowed_fallback(unknown)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            denied::complete,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn(request_id))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            function_url::dispatch,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http_api::dispatch,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), s3::dispatch))
        .with_state(state)
}
