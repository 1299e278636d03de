//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::image_function::{check_create_source, check_update_source};
use quiver_model::limits::CODE_REQUEST_MAX_BYTES;
use quiver_model::{CodeRef, FunctionConfig, FunctionSettings, PackageType, Qualifier, Version};
use quiver_store::{LatestUpdate, NewFunction, StoreError};
use serde::Deserialize;
use serde_json::json;

use super::{decode_marker, decode_zip, encode_marker, page_size, FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::render::{configuration, Flavor};
use crate::state::AppState;

/// Limit for configuration-only bodies (they carry at most 4 KB of environment).
const CONFIG_REQUEST_MAX_BYTES: u64 = 6_291_456;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CodeInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    image_uri: Option<String>,
}

impl CodeInput {
    /// Whether a .zip source is named (inline or in S3).
    fn has_zip(&self) -> bool {
        self.zip_file.is_some() || self.s3_bucket.is_some() || self.s3_key.is_some()
    }

    /// The inline zip, or Lambda-style refusals of what Quiver does not host. An
    /// ImageUri was refused before for a .zip function (`check_*_source`).
    fn zip(&self) -> Result<Vec<u8>, ApiError> {
        if let Some(z) = &self.zip_file {
            return decode_zip(z);
        }
        if self.s3_bucket.is_some() || self.s3_key.is_some() {
            return Err(ApiError::InvalidParameter(
                "Quiver does not read code from S3: upload the package inline with ZipFile.".into(),
            ));
        }
        Err(ApiError::InvalidParameter(
            "Please provide a source for function code.".into(),
        ))
    }
}

/// The code reference of a container-image function: it has no package (its
/// `CodeSha256` is the image's manifest digest, rendered from the image).
fn no_package() -> CodeRef {
    CodeRef {
        sha256_hex: String::new(),
        sha256_b64: String::new(),
        size: 0,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateInput {
    function_name: Option<String>,
    code: Option<CodeInput>,
    publish: Option<bool>,
    tags: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    settings: FunctionSettings,
}

fn full(state: &AppState, v: &quiver_model::FunctionVersion, qualified: bool) -> serde_json::Value {
    configuration(
        v,
        &state.partition,
        &state.runtimes,
        Flavor::Full,
        qualified,
    )
}

/// The configuration Get* answer for `target`: through an alias it is the version the
/// alias points to, with the alias's ARN as `FunctionArn` (as Lambda answers).
fn shown(
    state: &AppState,
    v: &quiver_model::FunctionVersion,
    target: &Target,
) -> serde_json::Value {
    let mut out = full(state, v, target.qualifier.is_some());
    if let Some(Qualifier::Alias(_)) = target.qualifier.as_deref().map(Qualifier::classify) {
        out["FunctionArn"] = json!(target.arn);
    }
    out
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, CODE_REQUEST_MAX_BYTES, "CreateFunction").await?;
    crate::members::check(&bytes, &crate::members::CREATE_FUNCTION)?;
    let input: CreateInput = parse_json(&bytes)?;
    let Some(raw_name) = input.function_name.as_deref() else {
        return Err(ApiError::Validation(
            "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    let target = Target::parse(&state, raw_name, None)?;
    if target.qualifier.is_some() {
        return Err(ApiError::InvalidParameter(
            "A function name for CreateFunction cannot include a qualifier.".into(),
        ));
    }
    let config = FunctionConfig::create(&input.settings, &state.runtimes)?;
    let tags = input.tags.unwrap_or_default();
    quiver_model::tags::validate_tags(&tags)?;
    let Some(code) = input.code.as_ref() else {
        return Err(ApiError::Validation(
            "1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    check_create_source(
        config.package_type,
        code.has_zip(),
        code.image_uri.is_some(),
    )?;
    let zip = match config.package_type {
        PackageType::Zip => Some(code.zip()?),
        PackageType::Image => None,
    };
    // Cheap early refusal before the package is written or the image pulled (the
    // insert re-checks atomically).
    let name = target.name.clone();
    if state
        .store(move |s| s.get_version(&name, Version::Latest))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?
        .is_some()
    {
        return Err(ApiError::from_store(StoreError::AlreadyExists, &target.arn));
    }
    let mut config = config;
    if let Some(arns) = &input.settings.layers {
        config.layers = super::layers::resolve_function_layers(&state, arns).await?;
    }
    let code = match (zip, code.image_uri.as_deref()) {
        (Some(zip), _) => {
            super::layers::ingest_beside(&state, zip, false, &target.arn, &config.layers).await?
        }
        (None, uri) => {
            let uri = uri.expect("check_create_source: an Image function has an ImageUri");
            config.image = Some(super::function_image::pull(&state, uri).await?);
            no_package()
        }
    };
    let new = NewFunction {
        name: target.name.clone(),
        config,
        code,
        tags,
        publish: input.publish.unwrap_or(false),
    };
    let written = state
        .store(move |s| s.create_function(&new))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    tracing::info!(function = %target.name, "created function");
    let shown = written.published.as_ref().unwrap_or(&written.latest);
    Ok((StatusCode::CREATED, Json(full(&state, shown, false))).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = Target::namespaced(&state, &raw, query::first(&pairs, "Qualifier"))?;
    let v = target.load(&state).await?;
    let name = target.name.clone();
    let (tags, concurrency) = state
        .store(move |s| Ok((s.tags(&name)?, s.reserved_concurrency(&name)?)))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    let code = match &v.config.image {
        // Lambda names the image's repository type as ECR, whatever registry it is in.
        Some(i) => json!({
            "RepositoryType": "ECR",
            "ImageUri": i.image_uri,
            "ResolvedImageUri": i.resolved_image_uri,
        }),
        None => {
            let token = state.code_urls.issue(&v.code.sha256_hex);
            json!({"RepositoryType": "S3", "Location": format!("{}/_quiver/code/{token}", state.public_url)})
        }
    };
    let mut out = json!({
        "Configuration": shown(&state, &v, &target),
        "Code": code,
    });
    if !tags.is_empty() {
        out["Tags"] = json!(tags);
    }
    if let Some(n) = concurrency {
        out["Concurrency"] = json!({"ReservedConcurrentExecutions": n});
    }
    Ok(Json(out).into_response())
}

pub async fn get_configuration(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = Target::namespaced(&state, &raw, query::first(&pairs, "Qualifier"))?;
    let v = target.load(&state).await?;
    Ok(Json(shown(&state, &v, &target)).into_response())
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let all = match query::first(&pairs, "FunctionVersion") {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(ApiError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
            )))
        }
    };
    let limit = page_size(query::first(&pairs, "MaxItems"))?;
    let after = query::first(&pairs, "Marker")
        .filter(|m| !m.is_empty())
        .map(decode_marker)
        .transpose()?;
    let mut items = state
        .store(move |s| s.list_functions(all, after.as_ref(), limit + 1))
        .await?
        .map_err(|e| ApiError::Service(e.to_string()))?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        encode_marker(items.last().expect("limit >= 1"))
    });
    let functions: Vec<_> = items
        .iter()
        .map(|v| configuration(v, &state.partition, &state.runtimes, Flavor::ListItem, all))
        .collect();
    let mut out = json!({ "Functions": functions });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = Target::namespaced(&state, &raw, query::first(&pairs, "Qualifier"))?;
    let name = target.name.clone();
    let result = match target.qualifier.as_deref().map(Qualifier::classify) {
        None => state.store(move |s| s.delete_function(&name)).await?,
        Some(Qualifier::Latest) => {
            return Err(ApiError::InvalidParameter(
                "$LATEST version cannot be deleted without deleting the function.".into(),
            ))
        }
        Some(Qualifier::Version(n)) => state.store(move |s| s.delete_version(&name, n)).await?,
        Some(Qualifier::Alias(_)) => {
            return Err(ApiError::InvalidParameter(
                "Deletion of aliases is not currently supported.".into(),
            ))
        }
    };
    result.map_err(|e| ApiError::from_store(e, &target.arn))?;
    if let Some(engine) = &state.engine {
        let version = match target.qualifier.as_deref().map(Qualifier::classify) {
            Some(Qualifier::Version(n)) => Some(n.to_string()),
            _ => None,
        };
        engine.retire(&target.name, version.as_deref()).await;
    }
    tracing::info!(function = %target.name, qualifier = target.qualifier.as_deref(), "deleted function");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateCodeInput {
    #[serde(flatten)]
    code: CodeInput,
    publish: Option<bool>,
    dry_run: Option<bool>,
    revision_id: Option<String>,
    architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateConfigInput {
    revision_id: Option<String>,
    #[serde(flatten)]
    settings: FunctionSettings,
}

/// The revision a write is based on: the caller's (checked now, for a clean 412) or the one read.
fn base_revision(given: Option<String>, current: &str) -> Result<(String, bool), ApiError> {
    match given {
        Some(r) if r != current => Err(ApiError::from_store(
            StoreError::RevisionMismatch {
                current: current.into(),
            },
            "",
        )),
        Some(r) => Ok((r, true)),
        None => Ok((current.to_string(), false)),
    }
}

/// Maps a lost race: the caller's own RevisionId → 412; otherwise another update won → 409.
fn write_error(e: StoreError, caller_gave_revision: bool, arn: &str) -> ApiError {
    match e {
        StoreError::RevisionMismatch { .. } if !caller_gave_revision => ApiError::Conflict(format!(
            "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
        )),
        other => ApiError::from_store(other, arn),
    }
}

pub async fn update_code(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, CODE_REQUEST_MAX_BYTES, "UpdateFunctionCode").await?;
    crate::members::check(&bytes, &crate::members::UPDATE_CODE)?;
    let input: UpdateCodeInput = parse_json(&bytes)?;
    let target = Target::parse(&state, &raw, None)?.unqualified()?;
    let current = Target {
        qualifier: None,
        ..target
    }
    .load(&state)
    .await?;
    let arn = state.partition.function_arn(&current.name, None);
    let (base, given) = base_revision(input.revision_id, &current.revision_id)?;
    let mut config = current.config.clone();
    if input.architectures.is_some() {
        let s = FunctionSettings {
            architectures: input.architectures.clone(),
            ..Default::default()
        };
        config = config.update(&s, &state.runtimes)?;
    }
    // Lambda keeps a function's package type: a new image for an image function, a
    // new package for a .zip one.
    let c = &input.code;
    check_update_source(
        current.config.package_type,
        c.has_zip(),
        c.image_uri.is_some(),
    )?;
    let dry_run = input.dry_run.unwrap_or(false);
    let code = match (current.config.package_type, c.image_uri.as_deref()) {
        (PackageType::Image, Some(uri)) => {
            // A dry run checks the image exists, so it pulls it too (the root is
            // content-addressed: a later real update finds it in place).
            config.image = Some(super::function_image::pull(&state, uri).await?);
            no_package()
        }
        _ => {
            let zip = input.code.zip()?;
            super::layers::ingest_beside(&state, zip, dry_run, &arn, &config.layers).await?
        }
    };
    if dry_run {
        let mut preview = current.clone();
        preview.code = code;
        preview.config = config;
        return Ok(Json(full(&state, &preview, false)).into_response());
    }
    let update = LatestUpdate {
        config,
        code,
        base_revision: base,
        publish: input.publish.unwrap_or(false),
    };
    let name = current.name.clone();
    let written = state
        .store(move |s| s.update_latest(&name, &update))
        .await?
        .map_err(|e| write_error(e, given, &arn))?;
    let shown = written.published.as_ref().unwrap_or(&written.latest);
    Ok(Json(full(&state, shown, false)).into_response())
}

pub async fn update_configuration(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(
        &headers,
        body,
        CONFIG_REQUEST_MAX_BYTES,
        "UpdateFunctionConfiguration",
    )
    .await?;
    crate::members::check(&bytes, &crate::members::UPDATE_CONFIGURATION)?;
    let input: UpdateConfigInput = parse_json(&bytes)?;
    let target = Target::parse(&state, &raw, None)?.unqualified()?;
    let current = Target {
        qualifier: None,
        ..target
    }
    .load(&state)
    .await?;
    let arn = state.partition.function_arn(&current.name, None);
    let (base, given) = base_revision(input.revision_id, &current.revision_id)?;
    let mut config = current.config.update(&input.settings, &state.runtimes)?;
    if let Some(arns) = &input.settings.layers {
        config.layers = super::layers::resolve_function_layers(&state, arns).await?;
        super::layers::check_combined_size(&state, &current.code.sha256_hex, &config.layers)
            .await?;
    }
    let update = LatestUpdate {
        config,
        code: current.code.clone(),
        base_revision: base,
        publish: false,
    };
    let name = current.name.clone();
    let written = state
        .store(move |s| s.update_latest(&name, &update))
        .await?
        .map_err(|e| write_error(e, given, &arn))?;
    Ok(Json(full(&state, &written.latest, false)).into_response())
}
