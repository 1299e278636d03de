//! Integrations: CreateIntegration, GetIntegration(s), UpdateIntegration,
//! DeleteIntegration (refused while a route targets it, as API Gateway does).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::http_api::HttpIntegration;
use serde_json::{Map, Value};

use super::parts::{find, find_mut, remove, rendered};
use super::wire::*;
use super::GatewayError;
use crate::state::AppState;

/// Only Lambda proxy integrations reach a function on this server.
fn check_type(m: &Map<String, Value>, required: bool) -> Result<()> {
    let kind = if required {
        Some(required_str(m, "integrationType")?)
    } else {
        opt_str(m, "integrationType")?
    };
    match kind {
        None | Some("AWS_PROXY") => Ok(()),
        Some(other) => Err(bad(format!(
            "Unsupported integration type: {other}; this server supports AWS_PROXY"
        ))),
    }
}

fn version(m: &Map<String, Value>) -> Result<Option<String>> {
    match opt_str(m, "payloadFormatVersion")? {
        None => Ok(None),
        Some(v @ ("1.0" | "2.0")) => Ok(Some(v.to_string())),
        Some(other) => Err(bad(format!(
            "Invalid payload format version specified: {other}"
        ))),
    }
}

fn timeout(m: &Map<String, Value>) -> Result<Option<u32>> {
    match m.get("timeoutInMillis") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(t) if (TIMEOUT_MIN..=TIMEOUT_MAX).contains(&t) => Ok(Some(t as u32)),
            _ => Err(bad(format!(
                "Invalid timeout specified: must be between {TIMEOUT_MIN} and {TIMEOUT_MAX} milliseconds"
            ))),
        },
    }
}

pub async fn create_integration(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "CreateIntegration").await?;
    check_type(&m, true)?;
    let uri = required_str(&m, "integrationUri")?.to_string();
    let version = version(&m)?.ok_or_else(|| {
        bad("PayloadFormatVersion is required for AWS_PROXY integrations of HTTP APIs")
    })?;
    let timeout = timeout(&m)?.unwrap_or(TIMEOUT_MAX as u32);
    load(&state, &api).await?;
    check_function(&state, &uri).await?;
    let integration = HttpIntegration {
        integration_id: new_id(),
        integration_uri: uri,
        payload_format_version: version,
        timeout_in_millis: timeout,
    };
    let stored = integration.clone();
    edit(&state, &api, move |a| {
        a.integrations.push(stored.clone());
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(render_integration(&integration))).into_response())
}

/// UpdateIntegration: `integrationUri` (a function that exists now),
/// `payloadFormatVersion`, `timeoutInMillis`; the members not given stay.
pub async fn update_integration(
    State(state): State<AppState>,
    Path((api, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    let m = body_object(&headers, body, "UpdateIntegration").await?;
    check_type(&m, false)?;
    let uri = opt_str(&m, "integrationUri")?.map(str::to_string);
    let version = version(&m)?;
    let timeout = timeout(&m)?;
    load(&state, &api).await?;
    if let Some(u) = &uri {
        check_function(&state, u).await?;
    }
    let wanted = id.clone();
    let updated = edit(&state, &api, move |a| {
        let i = find_mut::<HttpIntegration>(a, &wanted)?;
        if let Some(u) = &uri {
            i.integration_uri = u.clone();
        }
        if let Some(v) = &version {
            i.payload_format_version = v.clone();
        }
        if let Some(t) = timeout {
            i.timeout_in_millis = t;
        }
        Ok(())
    })
    .await?;
    rendered::<HttpIntegration>(&updated, &id)
}

pub async fn delete_integration(
    State(state): State<AppState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    edit(&state, &api, move |a| {
        find::<HttpIntegration>(a, &id)?;
        let target = format!("integrations/{id}");
        let users: Vec<&str> = a
            .routes
            .iter()
            .filter(|r| r.target.as_deref() == Some(target.as_str()))
            .map(|r| r.route_id.as_str())
            .collect();
        if !users.is_empty() {
            return Err(GatewayError::Conflict(format!(
                "Cannot delete Integration because it is referenced by the following Routes with Ids: [{}]",
                users.join(", ")
            )));
        }
        remove::<HttpIntegration>(a, &id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
