//! Lambda layers (docs/wire.md §16): PublishLayerVersion, GetLayerVersion,
//! GetLayerVersionByArn, ListLayers, ListLayerVersions, DeleteLayerVersion,
//! Add/RemoveLayerVersionPermission, GetLayerVersionPolicy; and the resolution of a
//! function's `Layers` list that CreateFunction / UpdateFunctionConfiguration use.
//!
//! Layer content goes through the same hostile-zip intake and content-addressed store
//! as function code. Resource policies are stored and reported only: nothing on this
//! server reads a layer across accounts yet, so no statement changes who may use it.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use quiver_model::layer::{
    self, FunctionLayer, LayerName, LayerVersion, PermissionInput, PublishLayerInput,
};
use quiver_model::limits::CODE_REQUEST_MAX_BYTES;
use quiver_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{decode_zip, ingest};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

const POLICY_BODY_LIMIT: u64 = 1 << 20;

/// The path labels of a layer route, percent-decoded, routing errors in Lambda's shape.
pub struct LayerPath(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for LayerPath {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| LayerPath(p))
            .map_err(|e| ApiError::Validation(format!("1 validation error detected: {e}")))
    }
}

impl LayerPath {
    fn label(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    /// `{LayerName}` as a layer of this server (an ARN of another region or account
    /// names nothing here).
    fn layer(&self, state: &AppState) -> Result<(String, bool), ApiError> {
        let n = LayerName::parse(self.label("layer"))?;
        let foreign = n.is_foreign(&state.partition);
        Ok((n.name, foreign))
    }

    /// `{VersionNumber}`: a long on the wire.
    fn version(&self) -> Result<u64, ApiError> {
        let raw = self.label("version");
        raw.parse::<u64>().map_err(|_| {
            ApiError::Validation(format!(
                "1 validation error detected: Value '{raw}' at 'versionNumber' failed to satisfy constraint: Member must be a number"
            ))
        })
    }
}

/// Lambda's answer for a layer or layer version that is not there.
fn not_found() -> ApiError {
    ApiError::NotFound("The resource you requested does not exist.".into())
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => not_found(),
        StoreError::RevisionMismatch { .. } => ApiError::PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetLayerVersionPolicy API to retrieve the latest Revision Id".into(),
        ),
        other => ApiError::from_store(other, ""),
    }
}

/// The list item of one version (ListLayerVersions, ListLayers' LatestMatchingVersion).
fn list_item(state: &AppState, v: &LayerVersion) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert(
        "LayerVersionArn".into(),
        json!(layer::layer_version_arn(
            &state.partition,
            &v.name,
            v.version
        )),
    );
    o.insert("Version".into(), json!(v.version));
    o.insert("Description".into(), json!(v.settings.description));
    o.insert("CreatedDate".into(), json!(v.created));
    if !v.settings.compatible_runtimes.is_empty() {
        o.insert(
            "CompatibleRuntimes".into(),
            json!(v.settings.compatible_runtimes),
        );
    }
    if !v.settings.compatible_architectures.is_empty() {
        o.insert(
            "CompatibleArchitectures".into(),
            json!(v.settings.compatible_architectures),
        );
    }
    if let Some(l) = &v.settings.license_info {
        o.insert("LicenseInfo".into(), json!(l));
    }
    o
}

/// PublishLayerVersion's and GetLayerVersion's answer.
fn full(state: &AppState, v: &LayerVersion) -> Value {
    let mut o = list_item(state, v);
    let token = state.code_urls.issue(&v.code.sha256_hex);
    o.insert(
        "Content".into(),
        json!({
            "Location": format!("{}/_quiver/code/{token}", state.public_url),
            "CodeSha256": v.code.sha256_b64,
            "CodeSize": v.code.size,
        }),
    );
    o.insert(
        "LayerArn".into(),
        json!(layer::layer_arn(&state.partition, &v.name)),
    );
    Value::Object(o)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContentInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    s3_object_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublishInput {
    content: Option<ContentInput>,
    #[serde(flatten)]
    settings: PublishLayerInput,
}

pub async fn publish(
    State(state): State<AppState>,
    path: LayerPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(
        &headers,
        body,
        CODE_REQUEST_MAX_BYTES,
        "PublishLayerVersion",
    )
    .await?;
    crate::members::check(&bytes, &crate::members::PUBLISH_LAYER_VERSION)?;
    let input: PublishInput = parse_json(&bytes)?;
    let (name, foreign) = path.layer(&state)?;
    let settings = input.settings.validate()?;
    let Some(content) = input.content else {
        return Err(ApiError::Validation(
            "1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    if foreign {
        return Err(ApiError::InvalidParameter(
            "Layers can only be published in this server's region and account.".into(),
        ));
    }
    let zip = match content {
        ContentInput {
            zip_file: Some(z), ..
        } => decode_zip(&z)?,
        ContentInput {
            s3_bucket: None,
            s3_key: None,
            s3_object_version: None,
            ..
        } => {
            return Err(ApiError::InvalidParameter(
                "Please provide a source for the layer content: ZipFile.".into(),
            ))
        }
        _ => {
            return Err(ApiError::InvalidParameter(
                "Layer content from S3 (S3Bucket, S3Key) is not supported: only ZipFile is supported on this server.".into(),
            ))
        }
    };
    let code = ingest(&state, zip, false, "").await?;
    let (codes, sha) = (state.code.clone(), code.sha256_hex.clone());
    let unzipped = tokio::task::spawn_blocking(move || codes.unzipped_size(&sha))
        .await
        .map_err(|e| ApiError::Service(format!("size task failed: {e}")))?
        .map_err(store_error)?;
    let published = state
        .store(move |s| s.publish_layer_version(&name, &code, unzipped, &settings))
        .await?
        .map_err(store_error)?;
    tracing::info!(layer = %published.name, version = published.version, "published layer version");
    Ok((StatusCode::CREATED, Json(full(&state, &published))).into_response())
}

async fn load(state: &AppState, name: String, version: u64) -> Result<LayerVersion, ApiError> {
    state
        .store(move |s| s.layer_version(&name, version))
        .await?
        .map_err(store_error)?
        .ok_or_else(not_found)
}

pub async fn get(State(state): State<AppState>, path: LayerPath) -> Result<Response, ApiError> {
    let (name, foreign) = path.layer(&state)?;
    let version = path.version()?;
    if foreign {
        return Err(not_found());
    }
    let v = load(&state, name, version).await?;
    Ok(Json(full(&state, &v)).into_response())
}

pub async fn delete(State(state): State<AppState>, path: LayerPath) -> Result<Response, ApiError> {
    let (name, foreign) = path.layer(&state)?;
    let version = path.version()?;
    if !foreign {
        // Idempotent, as in Lambda; functions keep the content they pinned.
        let n = name.clone();
        let removed = state
            .store(move |s| s.delete_layer_version(&n, version))
            .await?
            .map_err(store_error)?;
        if removed {
            tracing::info!(layer = %name, version, "deleted layer version");
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `MaxItems` of the layer listings: 1–50.
fn max_items(raw: Option<&str>) -> Result<usize, ApiError> {
    super::max_items(
        raw,
        layer::LAYER_LIST_MAX_ITEMS,
        layer::LAYER_LIST_MAX_ITEMS,
    )
}

fn encode_marker(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn decode_marker(m: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(m)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::InvalidParameter(format!("Invalid Marker: {m}")))
}

/// `GET /2018-10-31/layers`: ListLayers, or GetLayerVersionByArn with `find=LayerVersion`.
pub async fn list_or_find(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    if query::first(&pairs, "find") == Some("LayerVersion") {
        return find(&state, query::first(&pairs, "Arn")).await;
    }
    let runtime = query::first(&pairs, "CompatibleRuntime").map(str::to_string);
    let arch = query::first(&pairs, "CompatibleArchitecture").map(str::to_string);
    layer::check_list_filters(runtime.as_deref(), arch.as_deref())?;
    let limit = max_items(query::first(&pairs, "MaxItems"))?;
    let after = query::first(&pairs, "Marker")
        .filter(|m| !m.is_empty())
        .map(decode_marker)
        .transpose()?;
    let all = state
        .store(|s| s.all_layer_versions())
        .await?
        .map_err(store_error)?;
    // Newest version first within each layer: the first match is the latest matching.
    let mut layers: Vec<&LayerVersion> = Vec::new();
    for v in &all {
        if after.as_deref().is_some_and(|a| v.name.as_str() <= a) {
            continue;
        }
        if layers.last().is_some_and(|l| l.name == v.name) {
            continue;
        }
        if v.matches(runtime.as_deref(), arch.as_deref()) {
            layers.push(v);
        }
    }
    let next = (layers.len() > limit).then(|| {
        layers.truncate(limit);
        encode_marker(&layers[limit - 1].name)
    });
    let items: Vec<Value> = layers
        .iter()
        .map(|v| {
            json!({
                "LayerName": v.name,
                "LayerArn": layer::layer_arn(&state.partition, &v.name),
                "LatestMatchingVersion": Value::Object(list_item(&state, v)),
            })
        })
        .collect();
    let mut out = json!({ "Layers": items });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}

async fn find(state: &AppState, arn: Option<&str>) -> Result<Response, ApiError> {
    let Some(arn) = arn else {
        return Err(ApiError::Validation(
            "1 validation error detected: Value null at 'arn' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    let Some(r) = layer::parse_layer_version_arn(arn, "arn")? else {
        return Err(not_found());
    };
    if r.region != state.partition.region || r.account != state.partition.account {
        return Err(not_found());
    }
    let v = load(state, r.name, r.version).await?;
    Ok(Json(full(state, &v)).into_response())
}

pub async fn list_versions(
    State(state): State<AppState>,
    path: LayerPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let (name, foreign) = path.layer(&state)?;
    let runtime = query::first(&pairs, "CompatibleRuntime").map(str::to_string);
    let arch = query::first(&pairs, "CompatibleArchitecture").map(str::to_string);
    layer::check_list_filters(runtime.as_deref(), arch.as_deref())?;
    let limit = max_items(query::first(&pairs, "MaxItems"))?;
    let after: Option<u64> = query::first(&pairs, "Marker")
        .filter(|m| !m.is_empty())
        .map(|m| {
            decode_marker(m)?
                .parse()
                .map_err(|_| ApiError::InvalidParameter(format!("Invalid Marker: {m}")))
        })
        .transpose()?;
    // A layer of no versions (or of another account) lists as empty, as in Lambda.
    let all = if foreign {
        Vec::new()
    } else {
        state
            .store(move |s| s.layer_versions(&name))
            .await?
            .map_err(store_error)?
    };
    let mut versions: Vec<&LayerVersion> = all
        .iter()
        .filter(|v| after.is_none_or(|a| v.version < a))
        .filter(|v| v.matches(runtime.as_deref(), arch.as_deref()))
        .collect();
    let next = (versions.len() > limit).then(|| {
        versions.truncate(limit);
        encode_marker(&versions[limit - 1].version.to_string())
    });
    let items: Vec<Value> = versions
        .iter()
        .map(|v| Value::Object(list_item(&state, v)))
        .collect();
    let mut out = json!({ "LayerVersions": items });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}

pub async fn add_permission(
    State(state): State<AppState>,
    path: LayerPath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(
        &headers,
        body,
        POLICY_BODY_LIMIT,
        "AddLayerVersionPermission",
    )
    .await?;
    crate::members::check(&bytes, &crate::members::ADD_LAYER_VERSION_PERMISSION)?;
    let input: PermissionInput = parse_json(&bytes)?;
    let (name, foreign) = path.layer(&state)?;
    let version = path.version()?;
    let statement = input.validate()?;
    if foreign {
        return Err(not_found());
    }
    let pairs = query::pairs(q.as_deref());
    let revision = query::first(&pairs, "RevisionId").map(str::to_string);
    let resource = layer::layer_version_arn(&state.partition, &name, version);
    let st = statement.clone();
    let policy = state
        .store(move |s| s.add_layer_statement(&name, version, &st, revision.as_deref()))
        .await?
        .map_err(|e| match e {
            StoreError::AlreadyExists => ApiError::Conflict(format!(
                "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                statement.sid
            )),
            other => store_error(other),
        })?;
    let doc = statement.document(&resource);
    Ok((
        StatusCode::CREATED,
        Json(json!({"Statement": doc.to_string(), "RevisionId": policy.revision_id})),
    )
        .into_response())
}

pub async fn get_policy(
    State(state): State<AppState>,
    path: LayerPath,
) -> Result<Response, ApiError> {
    let (name, foreign) = path.layer(&state)?;
    let version = path.version()?;
    if foreign {
        return Err(not_found());
    }
    let resource = layer::layer_version_arn(&state.partition, &name, version);
    let policy = state
        .store(move |s| s.layer_policy(&name, version))
        .await?
        .map_err(store_error)?;
    if policy.statements.is_empty() {
        return Err(ApiError::NotFound(
            "No policy is associated with the given resource.".into(),
        ));
    }
    let doc = layer::policy_document(&policy.statements, &resource);
    Ok(Json(json!({"Policy": doc.to_string(), "RevisionId": policy.revision_id})).into_response())
}

pub async fn remove_permission(
    State(state): State<AppState>,
    path: LayerPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (name, foreign) = path.layer(&state)?;
    let version = path.version()?;
    let sid = path.label("sid").to_string();
    layer::validate_statement_id(&sid)?;
    if foreign {
        return Err(not_found());
    }
    let pairs = query::pairs(q.as_deref());
    let revision = query::first(&pairs, "RevisionId").map(str::to_string);
    state
        .store(move |s| s.remove_layer_statement(&name, version, &sid, revision.as_deref()))
        .await?
        .map_err(|e| match e {
            StoreError::Conflict(sid) => {
                ApiError::NotFound(format!("Statement {sid} is not found in resource policy."))
            }
            other => store_error(other),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A function's `Layers`, resolved: each ARN must name a layer version of this server
/// (Lambda's message otherwise), no layer twice. The content is pinned by digest, so
/// the function keeps working after the version is deleted.
pub async fn resolve_function_layers(
    state: &AppState,
    arns: &[String],
) -> Result<Vec<FunctionLayer>, ApiError> {
    layer::check_function_layers(arns)?;
    let mut refs = Vec::new();
    for arn in arns {
        match layer::parse_layer_version_arn(arn, "layers")? {
            Some(r) => refs.push((arn.clone(), r)),
            None => return Err(layer::layer_version_not_found(arn).into()),
        }
    }
    layer::check_distinct_layers(&refs)?;
    let p = state.partition.clone();
    let found = state
        .store(move |s| {
            refs.into_iter()
                .map(|(arn, r)| {
                    let here = r.region == p.region && r.account == p.account;
                    let v = if here {
                        s.layer_version(&r.name, r.version)?
                    } else {
                        None
                    };
                    Ok((arn, v))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await?
        .map_err(store_error)?;
    found
        .into_iter()
        .map(|(arn, v)| match v {
            Some(v) => Ok(FunctionLayer {
                arn,
                code_size: v.code.size,
                sha256_hex: v.code.sha256_hex,
                unzipped_size: v.unzipped_size,
            }),
            None => Err(layer::layer_version_not_found(&arn).into()),
        })
        .collect()
}

/// [`super::ingest`] for a function's code next to `layers`: the package is refused
/// (nothing stored) when code and layers together exceed Lambda's 250 MB unzipped.
pub async fn ingest_beside(
    state: &AppState,
    zip: Vec<u8>,
    dry_run: bool,
    arn: &str,
    layers: &[FunctionLayer],
) -> Result<quiver_model::CodeRef, ApiError> {
    if layers.is_empty() {
        return ingest(state, zip, dry_run, arn).await;
    }
    if zip.len() as u64 > quiver_model::limits::ZIP_MAX_BYTES {
        return Err(ApiError::TooLarge(quiver_model::limits::zipped_too_large()));
    }
    let sizes: Vec<u64> = layers.iter().map(|l| l.unzipped_size).collect();
    let code = state.code.clone();
    tokio::task::spawn_blocking(move || {
        code.ingest_checked(&zip, dry_run, &|n| layer::check_combined_size(n, &sizes))
    })
    .await
    .map_err(|e| ApiError::Service(format!("ingest task failed: {e}")))?
    .map(|(c, _)| c)
    .map_err(|e| ApiError::from_store(e, arn))
}

/// Function code plus `layers`, unzipped, within Lambda's 250 MB.
pub async fn check_combined_size(
    state: &AppState,
    code_sha_hex: &str,
    layers: &[FunctionLayer],
) -> Result<(), ApiError> {
    if layers.is_empty() {
        return Ok(());
    }
    let (codes, sha) = (state.code.clone(), code_sha_hex.to_string());
    let code = tokio::task::spawn_blocking(move || codes.unzipped_size(&sha))
        .await
        .map_err(|e| ApiError::Service(format!("size task failed: {e}")))?
        .map_err(|e| ApiError::from_store(e, ""))?;
    let sizes: Vec<u64> = layers.iter().map(|l| l.unzipped_size).collect();
    Ok(layer::check_combined_size(code, &sizes)?)
}
