//! What an API's four kinds of parts (routes, integrations, stages, deployments) share:
//! each lives in a list of the stored API document, has an id, renders itself and has
//! its own NotFoundException wording. Get, list, find-or-404, re-read after an edit and
//! delete are written once here over [`ApiPart`], so the handlers keep only their rules.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use quiver_model::http_api::{HttpApi, HttpDeployment, HttpIntegration, HttpRoute, HttpStage};
use serde_json::Value;

use super::wire::*;
use super::GatewayError;
use crate::state::AppState;

/// One kind of part of an HTTP API document.
pub trait ApiPart: Sized + Send + 'static {
    fn all(a: &HttpApi) -> &Vec<Self>;
    fn all_mut(a: &mut HttpApi) -> &mut Vec<Self>;
    fn id(&self) -> &str;
    fn render(&self) -> Value;
    /// API Gateway's 404 for an unknown id of this kind.
    fn not_found() -> GatewayError;
}

/// The part with `id`, or this kind's 404.
pub fn find<'a, P: ApiPart>(a: &'a HttpApi, id: &str) -> Result<&'a P> {
    P::all(a)
        .iter()
        .find(|p| p.id() == id)
        .ok_or_else(P::not_found)
}

/// The part with `id` to change in place, or this kind's 404.
pub fn find_mut<'a, P: ApiPart>(a: &'a mut HttpApi, id: &str) -> Result<&'a mut P> {
    P::all_mut(a)
        .iter_mut()
        .find(|p| p.id() == id)
        .ok_or_else(P::not_found)
}

/// The part with `id` as its JSON answer (after a create or an update re-reads it).
pub fn rendered<P: ApiPart>(a: &HttpApi, id: &str) -> Result<Json<Value>> {
    find::<P>(a, id).map(|p| Json(p.render()))
}

/// Removes the part with `id`, or this kind's 404.
pub fn remove<P: ApiPart>(a: &mut HttpApi, id: &str) -> Result<()> {
    let list = P::all_mut(a);
    let before = list.len();
    list.retain(|p| p.id() != id);
    if list.len() == before {
        return Err(P::not_found());
    }
    Ok(())
}

/// GetRoutes / GetIntegrations / GetStages / GetDeployments, paginated.
pub async fn get_all<P: ApiPart>(
    State(state): State<AppState>,
    Path(api): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>> {
    let a = load(&state, &api).await?;
    let items = P::all(&a)
        .iter()
        .map(|p| (p.id().to_string(), p.render()))
        .collect();
    Ok(Json(page(q.as_deref(), items)?))
}

/// GetRoute / GetIntegration / GetStage / GetDeployment.
pub async fn get_one<P: ApiPart>(
    State(state): State<AppState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let a = load(&state, &api).await?;
    rendered::<P>(&a, &id)
}

fn not_found(what: &str) -> GatewayError {
    GatewayError::NotFound(format!("Invalid {what} identifier specified"))
}

/// Each kind: its list in the document, its id field, its renderer and the word API
/// Gateway uses in its 404 (its own capitalisation: "stage" is lower case).
macro_rules! api_part {
    ($t:ty, $list:ident, $id:ident, $render:ident, $word:literal) => {
        impl ApiPart for $t {
            fn all(a: &HttpApi) -> &Vec<Self> {
                &a.$list
            }
            fn all_mut(a: &mut HttpApi) -> &mut Vec<Self> {
                &mut a.$list
            }
            fn id(&self) -> &str {
                &self.$id
            }
            fn render(&self) -> Value {
                $render(self)
            }
            fn not_found() -> GatewayError {
                not_found($word)
            }
        }
    };
}

api_part!(HttpRoute, routes, route_id, render_route, "Route");
api_part!(
    HttpIntegration,
    integrations,
    integration_id,
    render_integration,
    "Integration"
);
api_part!(HttpStage, stages, stage_name, render_stage, "stage");
api_part!(
    HttpDeployment,
    deployments,
    deployment_id,
    render_deployment,
    "Deployment"
);
