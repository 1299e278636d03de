//! Routes: CreateRoute, GetRoute(s), UpdateRoute, DeleteRoute.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::http_api::HttpRoute;
use serde_json::Value;

use super::parts::{find, find_mut, remove, rendered};
use super::wire::*;
use super::GatewayError;
use crate::state::AppState;

fn duplicate(key: &str) -> GatewayError {
    GatewayError::Conflict(format!("Route with key {key} already exists for this API"))
}

pub async fn create_route(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "CreateRoute").await?;
    let key = required_str(&m, "routeKey")?.to_string();
    route_key(&key)?;
    let target = opt_str(&m, "target")?.map(str::to_string);
    let route = HttpRoute {
        route_id: new_id(),
        route_key: key.clone(),
        target,
    };
    let stored = route.clone();
    edit(&state, &api, move |a| {
        if a.routes.iter().any(|r| r.route_key == stored.route_key) {
            return Err(duplicate(&stored.route_key));
        }
        if let Some(t) = &stored.target {
            check_target(a, t)?;
        }
        a.routes.push(stored.clone());
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(render_route(&route))).into_response())
}

/// UpdateRoute: a new `routeKey` (checked, and not one another route has) and/or a
/// new `target` (an integration of this API).
pub async fn update_route(
    State(state): State<AppState>,
    Path((api, route)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    let m = body_object(&headers, body, "UpdateRoute").await?;
    let key = opt_str(&m, "routeKey")?.map(str::to_string);
    if let Some(k) = &key {
        route_key(k)?;
    }
    let target = opt_str(&m, "target")?.map(str::to_string);
    let id = route.clone();
    let updated = edit(&state, &api, move |a| {
        find::<HttpRoute>(a, &route)?;
        if let Some(k) = &key {
            if a.routes
                .iter()
                .any(|r| r.route_key == *k && r.route_id != route)
            {
                return Err(duplicate(k));
            }
        }
        if let Some(t) = &target {
            check_target(a, t)?;
        }
        let r = find_mut::<HttpRoute>(a, &route)?;
        if let Some(k) = &key {
            r.route_key = k.clone();
        }
        if target.is_some() {
            r.target = target.clone();
        }
        Ok(())
    })
    .await?;
    rendered::<HttpRoute>(&updated, &id)
}

pub async fn delete_route(
    State(state): State<AppState>,
    Path((api, route)): Path<(String, String)>,
) -> Result<StatusCode> {
    edit(&state, &api, move |a| remove::<HttpRoute>(a, &route)).await?;
    Ok(StatusCode::NO_CONTENT)
}
