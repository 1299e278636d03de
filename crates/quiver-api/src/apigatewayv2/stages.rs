//! Stages and deployments: CreateStage, GetStage(s), UpdateStage, DeleteStage;
//! CreateDeployment, GetDeployment(s), UpdateDeployment, DeleteDeployment.
//!
//! A deployment is a snapshot of the routes, integrations and CORS settings; a stage
//! without `autoDeploy` serves the one its `deploymentId` names (docs/wire.md §22.6).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::http_api::{HttpApi, HttpDeployment, HttpStage};
use serde_json::Value;

use super::parts::{find, find_mut, remove, rendered};
use super::wire::*;
use super::GatewayError;
use crate::state::AppState;

fn check_stage_name(name: &str) -> Result<()> {
    let valid = name == "$default"
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if valid {
        Ok(())
    } else {
        Err(bad(format!("Invalid stage name specified: {name}")))
    }
}

fn check_deployment(a: &HttpApi, id: &str) -> Result<()> {
    find::<HttpDeployment>(a, id).map(|_| ())
}

pub async fn create_stage(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "CreateStage").await?;
    let name = required_str(&m, "stageName")?.to_string();
    check_stage_name(&name)?;
    let t = now();
    let stage = HttpStage {
        stage_name: name,
        auto_deploy: opt_bool(&m, "autoDeploy")?.unwrap_or(false),
        stage_variables: opt_string_map(&m, "stageVariables")?.unwrap_or_default(),
        created_date: t.clone(),
        last_updated_date: t,
        deployment_id: opt_str(&m, "deploymentId")?.map(str::to_string),
        description: opt_description(&m)?,
    };
    let stored = stage.clone();
    edit(&state, &api, move |a| {
        if a.stages.iter().any(|s| s.stage_name == stored.stage_name) {
            return Err(GatewayError::Conflict(format!(
                "Stage already exists: {}",
                stored.stage_name
            )));
        }
        if let Some(d) = &stored.deployment_id {
            check_deployment(a, d)?;
        }
        a.stages.push(stored.clone());
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(render_stage(&stage))).into_response())
}

/// UpdateStage: `autoDeploy`, `deploymentId` (a deployment of this API: the stage
/// then serves it), `description`, `stageVariables` (replacing the map).
pub async fn update_stage(
    State(state): State<AppState>,
    Path((api, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    let m = body_object(&headers, body, "UpdateStage").await?;
    let auto_deploy = opt_bool(&m, "autoDeploy")?;
    let deployment = opt_str(&m, "deploymentId")?.map(str::to_string);
    let description = opt_description(&m)?;
    let vars = opt_string_map(&m, "stageVariables")?;
    let wanted = name.clone();
    let updated = edit(&state, &api, move |a| {
        if let Some(d) = &deployment {
            check_deployment(a, d)?;
        }
        let s = find_mut::<HttpStage>(a, &wanted)?;
        if let Some(b) = auto_deploy {
            s.auto_deploy = b;
        }
        if deployment.is_some() {
            s.deployment_id = deployment.clone();
        }
        if description.is_some() {
            s.description = description.clone();
        }
        if let Some(v) = &vars {
            s.stage_variables = v.clone();
        }
        s.last_updated_date = now();
        Ok(())
    })
    .await?;
    rendered::<HttpStage>(&updated, &name)
}

pub async fn delete_stage(
    State(state): State<AppState>,
    Path((api, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    edit(&state, &api, move |a| remove::<HttpStage>(a, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// CreateDeployment: snapshots the API now (it needs a route); with `stageName` (an
/// existing stage that does not deploy automatically) the stage is switched to it in
/// the same write.
pub async fn create_deployment(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "CreateDeployment").await?;
    let description = opt_description(&m)?;
    let stage = opt_str(&m, "stageName")?.map(str::to_string);
    let id = new_id();
    let made = id.clone();
    let updated = edit(&state, &api, move |a| {
        if let Some(name) = &stage {
            let s = find::<HttpStage>(a, name)?;
            if s.auto_deploy {
                return Err(bad(format!(
                    "Stage {name} has auto deploy enabled; it cannot be deployed to manually"
                )));
            }
        }
        if a.routes.is_empty() {
            return Err(bad(
                "Unable to deploy API because no routes exist in this API",
            ));
        }
        a.deployments.push(HttpDeployment {
            deployment_id: made.clone(),
            description: description.clone(),
            created_date: now(),
            snapshot: a.snapshot(),
        });
        if let Some(name) = &stage {
            if let Some(s) = a.stages.iter_mut().find(|s| s.stage_name == *name) {
                s.deployment_id = Some(made.clone());
                s.last_updated_date = now();
            }
        }
        Ok(())
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        rendered::<HttpDeployment>(&updated, &id)?,
    )
        .into_response())
}

pub async fn update_deployment(
    State(state): State<AppState>,
    Path((api, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    let m = body_object(&headers, body, "UpdateDeployment").await?;
    let description = opt_description(&m)?;
    let wanted = id.clone();
    let updated = edit(&state, &api, move |a| {
        let d = find_mut::<HttpDeployment>(a, &wanted)?;
        if description.is_some() {
            d.description = description.clone();
        }
        Ok(())
    })
    .await?;
    rendered::<HttpDeployment>(&updated, &id)
}

/// DeleteDeployment: refused while a stage still serves it.
pub async fn delete_deployment(
    State(state): State<AppState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    edit(&state, &api, move |a| {
        check_deployment(a, &id)?;
        if a.stages
            .iter()
            .any(|s| s.deployment_id.as_deref() == Some(id.as_str()))
        {
            return Err(bad(
                "Active stages pointing to this deployment must be moved or deleted",
            ));
        }
        remove::<HttpDeployment>(a, &id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
