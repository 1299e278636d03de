//! The stored value of an HTTP API (apigatewayv2 `Api`) with its routes, integrations
//! and stages. Pure; route keys and route choice are [`crate::http_api_route`]'s.
//! docs/wire.md §22.
//!
//! Why one value for the whole API: every request to an API needs its routes, their
//! integrations and the stage together, and API Gateway's own limits (300 routes, 10
//! stages) keep the value small; the store keeps it as one document.

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpStage {
    pub stage_name: String,
    pub auto_deploy: bool,
    pub stage_variables: std::collections::BTreeMap<String, String>,
    pub created_date: String,
    pub last_updated_date: String,
}

/// An HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpApi {
    pub api_id: String,
    pub name: String,
    pub description: Option<String>,
    /// ISO-8601 UTC, as `CreatedDate` is rendered.
    pub created_date: String,
    pub routes: Vec<HttpRoute>,
    pub integrations: Vec<HttpIntegration>,
    pub stages: Vec<HttpStage>,
}
