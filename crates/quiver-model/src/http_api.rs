//! The stored value of an HTTP API (apigatewayv2 `Api`) with its routes, integrations
//! and stages. Pure; route keys and route choice are [`crate::http_api_route`]'s.
//! docs/wire.md §22.
//!
//! Why one value for the whole API: every request to an API needs its routes, their
//! integrations and the stage together, and API Gateway's own limits (300 routes, 10
//! stages) keep the value small; the store keeps it as one document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::function_url::Cors;

/// One route: a key and the integration it reaches (`integrations/<id>`), if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRoute {
    pub route_id: String,
    pub route_key: String,
    /// `integrations/<IntegrationId>` as the wire has it; None until one is attached.
    pub target: Option<String>,
}

/// An AWS_PROXY integration to a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpIntegration {
    pub integration_id: String,
    /// The function ARN (qualified or not) given as IntegrationUri.
    pub integration_uri: String,
    /// `1.0` or `2.0`.
    pub payload_format_version: String,
    pub timeout_in_millis: u32,
}

/// A stage: `$default` or a named one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpStage {
    pub stage_name: String,
    pub auto_deploy: bool,
    pub stage_variables: BTreeMap<String, String>,
    pub created_date: String,
    pub last_updated_date: String,
    /// The deployment a stage without `autoDeploy` serves; None until one is made.
    #[serde(default)]
    pub deployment_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// What a deployment fixes: the routes, integrations and CORS settings as they were
/// when it was made. A stage pinned to it serves these, whatever changed since.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpApiSnapshot {
    pub routes: Vec<HttpRoute>,
    pub integrations: Vec<HttpIntegration>,
    #[serde(default)]
    pub cors: Option<Cors>,
}

/// A deployment (CreateDeployment): its metadata and its snapshot.
///
/// Kept inside the API's value rather than in a table of its own so that making a
/// deployment and pointing a stage at it, or refusing to delete one a stage still
/// serves, happen in the one transaction that edits the API, and a request reads the
/// stage and what it serves in one read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpDeployment {
    pub deployment_id: String,
    pub description: Option<String>,
    pub created_date: String,
    pub snapshot: HttpApiSnapshot,
}

/// An HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpApi {
    pub api_id: String,
    pub name: String,
    pub description: Option<String>,
    /// ISO-8601 UTC, as `CreatedDate` is rendered.
    pub created_date: String,
    pub routes: Vec<HttpRoute>,
    pub integrations: Vec<HttpIntegration>,
    pub stages: Vec<HttpStage>,
    /// The API's CorsConfiguration; None when CORS is not configured.
    #[serde(default)]
    pub cors: Option<Cors>,
    /// With it set, requests to the `execute-api` endpoint are refused (403).
    #[serde(default)]
    pub disable_execute_api_endpoint: bool,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub deployments: Vec<HttpDeployment>,
}

impl HttpApi {
    /// The current routes, integrations and CORS settings, as a deployment keeps them.
    pub fn snapshot(&self) -> HttpApiSnapshot {
        HttpApiSnapshot {
            routes: self.routes.clone(),
            integrations: self.integrations.clone(),
            cors: self.cors.clone(),
        }
    }

    /// What `stage` serves: the current configuration when it deploys automatically,
    /// else its deployment's snapshot (None when nothing is deployed to it yet).
    pub fn served_by(&self, stage: &HttpStage) -> Option<HttpApiSnapshot> {
        if stage.auto_deploy {
            return Some(self.snapshot());
        }
        let id = stage.deployment_id.as_deref()?;
        self.deployments
            .iter()
            .find(|d| d.deployment_id == id)
            .map(|d| d.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(id: &str, key: &str) -> HttpRoute {
        HttpRoute {
            route_id: id.into(),
            route_key: key.into(),
            target: None,
        }
    }

    #[test]
    fn a_stage_serves_its_deployment_or_the_current_routes() {
        let mut api = HttpApi {
            routes: vec![route("r1", "GET /old")],
            ..Default::default()
        };
        let pinned = HttpStage {
            stage_name: "pinned".into(),
            ..Default::default()
        };
        // Nothing deployed: nothing served.
        assert_eq!(api.served_by(&pinned), None);
        api.deployments.push(HttpDeployment {
            deployment_id: "d1".into(),
            description: None,
            created_date: String::new(),
            snapshot: api.snapshot(),
        });
        api.routes.push(route("r2", "GET /new"));
        let pinned = HttpStage {
            deployment_id: Some("d1".into()),
            ..pinned
        };
        let keys = |s: Option<HttpApiSnapshot>| -> Vec<String> {
            s.unwrap().routes.into_iter().map(|r| r.route_key).collect()
        };
        assert_eq!(keys(api.served_by(&pinned)), ["GET /old"]);
        let auto = HttpStage {
            auto_deploy: true,
            ..pinned.clone()
        };
        assert_eq!(keys(api.served_by(&auto)), ["GET /old", "GET /new"]);
        let gone = HttpStage {
            deployment_id: Some("d9".into()),
            ..pinned
        };
        assert_eq!(api.served_by(&gone), None);
    }

    #[test]
    fn documents_from_before_deployments_still_read() {
        let old = r#"{"api_id":"a","name":"n","description":null,"created_date":"t",
            "routes":[],"integrations":[],"stages":[{"stage_name":"$default","auto_deploy":true,
            "stage_variables":{},"created_date":"t","last_updated_date":"t"}]}"#;
        let api: HttpApi = serde_json::from_str(old).unwrap();
        assert!(api.cors.is_none() && api.deployments.is_empty() && api.tags.is_empty());
        assert_eq!(api.stages[0].deployment_id, None);
    }
}
