//! Route handlers, one file per resource. Shared helpers live here.

pub mod account;
pub mod admin;
pub mod aliases;
pub mod code;
pub mod code_signing;
pub mod concurrency;
pub mod event_config;
pub mod event_source_mappings;
pub mod function_image;
pub mod function_urls;
pub mod functions;
pub mod invoke;
pub mod invoke_stream;
pub mod layers;
pub mod provisioned;
pub mod recursion;
pub mod tags;
pub mod target;
pub mod versions;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use base64::Engine;
use quiver_model::{CodeRef, FunctionRef, FunctionVersion, NameShape};

use crate::error::ApiError;
use crate::state::AppState;

/// The `{FunctionName}` path label, percent-decoded, with routing errors in Lambda's format.
pub struct FnPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for FnPath {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| FnPath(p))
            .map_err(|e| ApiError::Validation(format!("1 validation error detected: {e}")))
    }
}

/// Lambda's refusal of a version or alias for per-function settings.
const FUNCTION_ONLY: &str = "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.";

/// A function reference resolved against this server's partition.
pub struct Target {
    pub name: String,
    /// The qualifier as the caller gave it (None = unqualified).
    pub qualifier: Option<String>,
    /// The ARN to quote in not-found messages.
    pub arn: String,
}

impl Target {
    /// Parses a raw path label (the model's `FunctionName` shape) and an optional
    /// `?Qualifier=`.
    pub fn parse(
        state: &AppState,
        raw: &str,
        query_qualifier: Option<&str>,
    ) -> Result<Self, ApiError> {
        Self::parse_as(state, raw, query_qualifier, NameShape::Function)
    }

    /// Parses a path label of the `NamespacedFunctionName` shape (GetFunction,
    /// GetFunctionConfiguration, DeleteFunction, Invoke).
    pub fn namespaced(
        state: &AppState,
        raw: &str,
        query_qualifier: Option<&str>,
    ) -> Result<Self, ApiError> {
        Self::parse_as(state, raw, query_qualifier, NameShape::Namespaced)
    }

    /// Shape validation first (ValidationException), then the qualifier's agreement
    /// (InvalidParameterValueException), then where the ARN points (docs/wire.md §3).
    fn parse_as(
        state: &AppState,
        raw: &str,
        query_qualifier: Option<&str>,
        shape: NameShape,
    ) -> Result<Self, ApiError> {
        let r = FunctionRef::parse_as(raw, "functionName", shape)?
            .with_query_qualifier(query_qualifier)?;
        if let Some(region) = r.other_region(&state.partition) {
            return Err(ApiError::NotFound(format!(
                "Functions from '{region}' are not reachable in this region ('{}')",
                state.partition.region
            )));
        }
        if r.is_foreign(&state.partition) {
            // Another account: Lambda answers as IAM does, refusing the caller.
            let resource = format!(
                "arn:{}:lambda:{}:{}:function:{}{}",
                r.partition.as_deref().unwrap_or("aws"),
                r.region.as_deref().unwrap_or(&state.partition.region),
                r.account.as_deref().unwrap_or(&state.partition.account),
                r.name,
                r.qualifier
                    .as_deref()
                    .map(|q| format!(":{q}"))
                    .unwrap_or_default(),
            );
            return Err(ApiError::AccessDenied(resource));
        }
        let arn = state
            .partition
            .function_arn(&r.name, r.qualifier.as_deref());
        Ok(Self {
            name: r.name,
            qualifier: r.qualifier,
            arn,
        })
    }

    /// Parses a path label that must name the function itself: per-function settings
    /// (reserved concurrency, recursion, code signing) refuse any qualifier, even
    /// `$LATEST`, with Lambda's wording.
    pub fn function_only(state: &AppState, raw: &str) -> Result<Self, ApiError> {
        let target = Target::parse(state, raw, None)?;
        if target.qualifier.is_some() {
            return Err(ApiError::InvalidParameter(FUNCTION_ONLY.into()));
        }
        Ok(target)
    }

    /// Rejects a qualifier on operations that act on the unqualified function.
    pub fn unqualified(self) -> Result<Self, ApiError> {
        match &self.qualifier {
            Some(q) if q != "$LATEST" => Err(ApiError::InvalidParameter(format!(
                "Unsupported qualifier '{q}': this operation applies to the unqualified function."
            ))),
            _ => Ok(self),
        }
    }

    /// Loads the version this target designates (aliases resolved) through the
    /// store's one resolution; control-plane reads go to the store, not the cache.
    pub async fn load(&self, state: &AppState) -> Result<FunctionVersion, ApiError> {
        let name = self.name.clone();
        let qualifier = self.qualifier.clone();
        let found = state
            .store(move |s| s.resolve(&name, qualifier.as_deref()))
            .await?
            .map_err(|e| ApiError::from_store(e, &self.arn))?;
        found.ok_or_else(|| ApiError::function_not_found(&self.arn))
    }

    /// The same function as the invoker names it.
    pub fn function_target(&self) -> quiver_triggers::FunctionTarget {
        quiver_triggers::FunctionTarget {
            name: self.name.clone(),
            qualifier: self.qualifier.clone(),
        }
    }
}

/// Decodes `Code.ZipFile` / `ZipFile` (base64 in JSON).
pub fn decode_zip(b64: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| {
            ApiError::InvalidRequestContent(format!(
                "Could not parse request body into json: ZipFile is not valid base64 ({e})"
            ))
        })
}

/// Validates and stores a package off the async threads.
pub async fn ingest(
    state: &AppState,
    zip: Vec<u8>,
    dry_run: bool,
    arn: &str,
) -> Result<CodeRef, ApiError> {
    if zip.len() as u64 > quiver_model::limits::ZIP_MAX_BYTES {
        return Err(ApiError::TooLarge(quiver_model::limits::zipped_too_large()));
    }
    let code = state.code.clone();
    tokio::task::spawn_blocking(move || code.ingest(&zip, dry_run))
        .await
        .map_err(|e| ApiError::Service(format!("ingest task failed: {e}")))?
        .map_err(|e| ApiError::from_store(e, arn))
}

/// `MaxItems`: 1–10000 on the wire, at most 50 per page served.
pub fn page_size(raw: Option<&str>) -> Result<usize, ApiError> {
    Ok(max_items(raw, quiver_model::limits::LIST_MAX_ITEMS, 10000)?
        .min(quiver_model::limits::LIST_MAX_ITEMS))
}

/// A listing's `MaxItems`: `default` when absent, else 1..=`max` with Lambda's
/// ValidationException wording (each listing has its own bound).
pub fn max_items(raw: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let n: i64 = raw.parse().map_err(|_| {
        ApiError::Validation(format!(
            "1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy constraint: Member must be a number"
        ))
    })?;
    let mut v = quiver_model::Violations::new();
    if n < 1 {
        v.push(
            raw,
            "maxItems",
            "Member must have value greater than or equal to 1",
        );
    } else if n > max as i64 {
        v.push(
            raw,
            "maxItems",
            format!("Member must have value less than or equal to {max}"),
        );
    }
    v.into_result()?;
    Ok(n as usize)
}

/// Markers of the per-function listings (event invoke configs, provisioned concurrency):
/// base64url of `<function>\n<last qualifier>`, bound to the function listed.
pub fn qualifier_marker(function: &str, qualifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{function}\n{qualifier}"))
}

/// The qualifier a [`qualifier_marker`] ends at; a marker of another function (or no
/// marker of ours) is InvalidParameterValueException.
pub fn decode_qualifier_marker(m: &str, function: &str) -> Result<String, ApiError> {
    let bad = || ApiError::InvalidParameter(format!("Invalid Marker: {m}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(m)
        .map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    match s.split_once('\n') {
        Some((f, q)) if f == function => Ok(q.to_string()),
        _ => Err(bad()),
    }
}

/// Opaque pagination markers: base64url of `<name>\n<version ordinal>`.
pub fn encode_marker(v: &FunctionVersion) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}\n{}",
        v.name,
        v.version.ordinal()
    ))
}

pub fn decode_marker(m: &str) -> Result<(String, u64), ApiError> {
    let bad = || ApiError::InvalidParameter(format!("Invalid Marker: {m}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(m)
        .map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let (name, ord) = s.split_once('\n').ok_or_else(bad)?;
    Ok((name.to_string(), ord.parse().map_err(|_| bad())?))
}
