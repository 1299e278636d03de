//! Function configuration: the wire input (`FunctionSettings`, every member optional, shared
//! by CreateFunction and UpdateFunctionConfiguration) and the validated value it produces
//! (`FunctionConfig`). Validation returns a new value; it never half-mutates.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Violations};
use crate::limits::*;
use crate::runtime::{kind_of, RuntimeCatalogue, RuntimeKind, LAMBDA_RUNTIMES};

pub const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";
pub const HANDLER_PATTERN: &str = r"[^\s]+";
pub const ENV_KEY_PATTERN: &str = r"[a-zA-Z]([a-zA-Z0-9_])+";
static ROLE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{ROLE_PATTERN})$")).expect("static regex"));
static ENV_KEY_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-zA-Z0-9_]+$").expect("static regex"));

const ARCHITECTURES: &[&str] = &["x86_64", "arm64"];
const TRACING_MODES: &[&str] = &["Active", "PassThrough"];
const LOG_FORMATS: &[&str] = &["JSON", "Text"];
const APP_LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const SYSTEM_LOG_LEVELS: &[&str] = &["DEBUG", "INFO", "WARN"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentInput {
    pub variables: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorageInput {
    pub size: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingInput {
    pub mode: Option<String>,
}

/// `DeadLetterConfig`: `TargetArn` names an SQS queue; `""` (or no TargetArn) clears it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterInput {
    pub target_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingInput {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// The configuration members of CreateFunction / UpdateFunctionConfiguration as sent on the
/// wire. Unknown members are refused before this is parsed (quiver-api `members`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionSettings {
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<EnvironmentInput>,
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    pub architectures: Option<Vec<String>>,
    pub tracing_config: Option<TracingInput>,
    pub logging_config: Option<LoggingInput>,
    pub package_type: Option<String>,
    pub dead_letter_config: Option<DeadLetterInput>,
    /// Layer version ARNs; resolved against the store by the API (the model only
    /// checks their shape: [`crate::layer::check_function_layers`]).
    pub layers: Option<Vec<String>>,
    /// Overrides of an image function's EntryPoint / Command / WorkingDirectory
    /// ([`crate::image_function`]).
    pub image_config: Option<crate::image_function::ImageConfigInput>,
}

/// A validated, complete function configuration (one per version). `Default` is the
/// empty placeholder a store uses where a config is required but not yet known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfig {
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub environment: BTreeMap<String, String>,
    pub ephemeral_storage: u32,
    pub architecture: String,
    pub tracing_mode: String,
    pub log_format: String,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    /// None = the default `/aws/lambda/<name>`.
    pub log_group: Option<String>,
    /// `DeadLetterConfig.TargetArn`: the SQS queue that receives events whose asynchronous
    /// invocation failed for good. Part of the version (frozen on publish, as in Lambda).
    /// Defaulted so configurations stored before this member existed still load.
    #[serde(default)]
    pub dead_letter_target: Option<String>,
    /// The layer versions in order, pinned by content (docs/wire.md §16). Defaulted
    /// so configurations stored before layers existed still load.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<crate::layer::FunctionLayer>,
    /// `Zip`, or `Image` for a container-image function (then `runtime` and `handler`
    /// are empty and `image` says what runs). Defaulted: older configurations are Zip.
    #[serde(default, skip_serializing_if = "is_zip")]
    pub package_type: crate::image_function::PackageType,
    /// An image function's `ImageConfig` overrides (EntryPoint, Command,
    /// WorkingDirectory); empty for Zip.
    #[serde(default, skip_serializing_if = "is_default_image_config")]
    pub image_config: crate::image_function::ImageConfig,
    /// The pulled image of an image function (set by the API after the pull).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::image_function::FunctionImage>,
}

fn is_zip(p: &crate::image_function::PackageType) -> bool {
    *p == crate::image_function::PackageType::Zip
}

fn is_default_image_config(c: &crate::image_function::ImageConfig) -> bool {
    *c == crate::image_function::ImageConfig::default()
}

fn enum_constraint(values: &[&str]) -> String {
    format!(
        "Member must satisfy enum value set: [{}]",
        values.join(", ")
    )
}

fn check_range(v: &mut Violations, value: Option<i64>, member: &str, min: i64, max: i64) {
    if let Some(x) = value {
        if x < min {
            v.push(
                x.to_string(),
                member,
                format!("Member must have value greater than or equal to {min}"),
            );
        } else if x > max {
            v.push(
                x.to_string(),
                member,
                format!("Member must have value less than or equal to {max}"),
            );
        }
    }
}

fn check_enum(v: &mut Violations, value: Option<&str>, member: &str, allowed: &[&str]) {
    if let Some(x) = value {
        if !allowed.contains(&x) {
            v.push(x, member, enum_constraint(allowed));
        }
    }
}

/// Shape constraints (ValidationException) on every member present in `s`.
fn check_shapes(s: &FunctionSettings) -> Result<(), ModelError> {
    let mut v = Violations::new();
    if let Some(r) = &s.runtime {
        if !LAMBDA_RUNTIMES.contains(&r.as_str()) {
            v.push(r.as_str(), "runtime", enum_constraint(LAMBDA_RUNTIMES));
        }
    }
    if let Some(h) = &s.handler {
        if h.chars().count() > HANDLER_MAX {
            v.push(
                h.as_str(),
                "handler",
                format!("Member must have length less than or equal to {HANDLER_MAX}"),
            );
        } else if h.is_empty() || h.chars().any(char::is_whitespace) {
            v.push(
                h.as_str(),
                "handler",
                format!("Member must satisfy regular expression pattern: {HANDLER_PATTERN}"),
            );
        }
    }
    if let Some(r) = &s.role {
        if !ROLE_RE.is_match(r) {
            v.push(
                r.as_str(),
                "role",
                format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
            );
        }
    }
    if let Some(d) = &s.description {
        if d.chars().count() > DESCRIPTION_MAX {
            v.push(
                d.as_str(),
                "description",
                format!("Member must have length less than or equal to {DESCRIPTION_MAX}"),
            );
        }
    }
    check_range(&mut v, s.timeout, "timeout", TIMEOUT_MIN_S, TIMEOUT_MAX_S);
    check_range(
        &mut v,
        s.memory_size,
        "memorySize",
        MEMORY_MIN_MB,
        MEMORY_MAX_MB,
    );
    if let Some(e) = &s.ephemeral_storage {
        match e.size {
            None => v.push("null", "ephemeralStorage.size", "Member must not be null"),
            Some(_) => check_range(
                &mut v,
                e.size,
                "ephemeralStorage.size",
                EPHEMERAL_MIN_MB,
                EPHEMERAL_MAX_MB,
            ),
        }
    }
    if let Some(vars) = s.environment.as_ref().and_then(|e| e.variables.as_ref()) {
        // Reserved keys get their own, more useful, InvalidParameterValueException later.
        let bad: Vec<&str> = vars
            .keys()
            .filter(|k| !ENV_KEY_RE.is_match(k) && !RESERVED_ENV_KEYS.contains(&k.as_str()))
            .map(String::as_str)
            .collect();
        if !bad.is_empty() {
            v.push(
                format!("[{}]", bad.join(", ")),
                "environment.variables",
                format!("Map keys must satisfy constraint: [Member must satisfy regular expression pattern: {ENV_KEY_PATTERN}]"),
            );
        }
    }
    if let Some(a) = &s.architectures {
        if a.len() != 1 {
            v.push(
                format!("[{}]", a.join(", ")),
                "architectures",
                "Member must have length less than or equal to 1 and greater than or equal to 1",
            );
        } else {
            check_enum(&mut v, Some(a[0].as_str()), "architectures", ARCHITECTURES);
        }
    }
    check_enum(
        &mut v,
        s.tracing_config.as_ref().and_then(|t| t.mode.as_deref()),
        "tracingConfig.mode",
        TRACING_MODES,
    );
    if let Some(l) = &s.logging_config {
        check_enum(
            &mut v,
            l.log_format.as_deref(),
            "loggingConfig.logFormat",
            LOG_FORMATS,
        );
        check_enum(
            &mut v,
            l.application_log_level.as_deref(),
            "loggingConfig.applicationLogLevel",
            APP_LOG_LEVELS,
        );
        check_enum(
            &mut v,
            l.system_log_level.as_deref(),
            "loggingConfig.systemLogLevel",
            SYSTEM_LOG_LEVELS,
        );
        if let Some(g) = &l.log_group {
            if g.is_empty()
                || g.len() > 512
                || !g
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./#".contains(c))
            {
                v.push(
                    g.as_str(),
                    "loggingConfig.logGroup",
                    r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+",
                );
            }
        }
    }
    check_enum(
        &mut v,
        s.package_type.as_deref(),
        "packageType",
        &["Zip", "Image"],
    );
    v.into_result()
}

fn check_runtime_available(id: &str, catalogue: &RuntimeCatalogue) -> Result<(), ModelError> {
    if catalogue.get(id).is_some() {
        return Ok(());
    }
    Err(ModelError::InvalidParameter(
        crate::runtime_config::unavailable_message(id, catalogue),
    ))
}

/// The handler must name something the runtime's bootstrap can load.
fn check_handler(runtime: &str, handler: &str) -> Result<(), ModelError> {
    let example = match kind_of(runtime) {
        Some(RuntimeKind::Python { .. }) => "lambda_function.lambda_handler",
        Some(RuntimeKind::Node { .. }) => "index.handler",
        Some(RuntimeKind::Ruby { .. }) => "lambda_function.lambda_handler",
        _ => return Ok(()),
    };
    let ok = match handler.rsplit_once('.') {
        Some((module, func)) => !module.is_empty() && !func.is_empty() && !handler.contains(".."),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ModelError::InvalidParameter(format!(
            "Handler '{handler}' is not valid for runtime {runtime}: use <file>.<function>, e.g. {example}."
        )))
    }
}

/// 4 KB over the JSON serialization of the Variables map, and no reserved keys.
fn check_environment(vars: &BTreeMap<String, String>) -> Result<(), ModelError> {
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV_KEYS.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(ModelError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > ENV_MAX_BYTES {
        return Err(ModelError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

impl FunctionConfig {
    /// CreateFunction: required members, defaults, every rule.
    pub fn create(s: &FunctionSettings, catalogue: &RuntimeCatalogue) -> Result<Self, ModelError> {
        check_shapes(s)?;
        if let Some(l) = &s.layers {
            crate::layer::check_function_layers(l)?;
        }
        let Some(role) = s.role.clone() else {
            let mut v = Violations::new();
            v.push("null", "role", "Member must not be null");
            return Err(v.into_result().unwrap_err());
        };
        if s.package_type.as_deref() == Some("Image") {
            // Lambda's own refusals come first, so a client learns what it would
            // have to change for Lambda too; hosting the image is the refusal after them.
            crate::image_function::check_image_settings(
                s.handler.as_deref(),
                s.runtime.as_deref(),
                s.layers.as_deref(),
            )?;
            let image_config = match &s.image_config {
                Some(i) => crate::image_function::ImageConfig::from_input(i)?,
                None => Default::default(),
            };
            // The image (what runs, its CodeSha256) is filled in by the pull.
            let base = FunctionConfig {
                role,
                timeout: TIMEOUT_DEFAULT_S,
                memory_size: MEMORY_DEFAULT_MB,
                ephemeral_storage: EPHEMERAL_DEFAULT_MB,
                architecture: "x86_64".into(),
                tracing_mode: "PassThrough".into(),
                log_format: "Text".into(),
                package_type: crate::image_function::PackageType::Image,
                image_config,
                ..FunctionConfig::default()
            };
            return base.merged(s, false);
        }
        let (Some(runtime), Some(handler)) = (s.runtime.clone(), s.handler.clone()) else {
            return Err(ModelError::InvalidParameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
            ));
        };
        let base = FunctionConfig {
            runtime,
            handler,
            role,
            description: String::new(),
            timeout: TIMEOUT_DEFAULT_S,
            memory_size: MEMORY_DEFAULT_MB,
            environment: BTreeMap::new(),
            ephemeral_storage: EPHEMERAL_DEFAULT_MB,
            architecture: "x86_64".into(),
            tracing_mode: "PassThrough".into(),
            log_format: "Text".into(),
            application_log_level: None,
            system_log_level: None,
            log_group: None,
            dead_letter_target: None,
            layers: Vec::new(),
            package_type: Default::default(),
            image_config: Default::default(),
            image: None,
        };
        check_runtime_available(&base.runtime, catalogue)?;
        base.merged(s, true)
    }

    /// UpdateFunctionConfiguration: only the members present change.
    pub fn update(
        &self,
        s: &FunctionSettings,
        catalogue: &RuntimeCatalogue,
    ) -> Result<Self, ModelError> {
        check_shapes(s)?;
        if let Some(l) = &s.layers {
            crate::layer::check_function_layers(l)?;
        }
        if self.package_type == crate::image_function::PackageType::Image {
            crate::image_function::check_image_settings(
                s.handler.as_deref(),
                s.runtime.as_deref(),
                s.layers.as_deref(),
            )?;
            let mut c = self.merged(s, false)?;
            if let Some(i) = &s.image_config {
                c.image_config = crate::image_function::ImageConfig::from_input(i)?;
            }
            return Ok(c);
        }
        if s.image_config.is_some() {
            return Err(ModelError::InvalidParameter(
                "ImageConfig can only be set for functions with PackageType Image.".into(),
            ));
        }
        if let Some(r) = &s.runtime {
            if r != &self.runtime {
                check_runtime_available(r, catalogue)?;
            }
        }
        let changed_code_path = s.runtime.is_some() || s.handler.is_some();
        self.merged(s, changed_code_path)
    }

    /// Applies `s` (already shape-checked) on top of `self`, then checks cross-member rules.
    fn merged(&self, s: &FunctionSettings, check_handler_now: bool) -> Result<Self, ModelError> {
        let mut c = self.clone();
        if let Some(x) = &s.runtime {
            c.runtime = x.clone();
        }
        if let Some(x) = &s.handler {
            c.handler = x.clone();
        }
        if let Some(x) = &s.role {
            c.role = x.clone();
        }
        if let Some(x) = &s.description {
            c.description = x.clone();
        }
        // Ranges were checked by check_shapes, so the casts cannot truncate.
        if let Some(x) = s.timeout {
            c.timeout = x as u32;
        }
        if let Some(x) = s.memory_size {
            c.memory_size = x as u32;
        }
        if let Some(e) = &s.environment {
            c.environment = e.variables.clone().unwrap_or_default();
            check_environment(&c.environment)?;
        }
        if let Some(size) = s.ephemeral_storage.as_ref().and_then(|e| e.size) {
            c.ephemeral_storage = size as u32;
        }
        if let Some(a) = s.architectures.as_ref().and_then(|a| a.first()) {
            c.architecture = a.clone();
        }
        if let Some(m) = s.tracing_config.as_ref().and_then(|t| t.mode.clone()) {
            c.tracing_mode = m;
        }
        if let Some(l) = &s.logging_config {
            if let Some(f) = &l.log_format {
                c.log_format = f.clone();
            }
            if l.application_log_level.is_some() {
                c.application_log_level = l.application_log_level.clone();
            }
            if l.system_log_level.is_some() {
                c.system_log_level = l.system_log_level.clone();
            }
            if l.log_group.is_some() {
                c.log_group = l.log_group.clone();
            }
            if c.log_format == "Text"
                && (c.application_log_level.is_some() || c.system_log_level.is_some())
            {
                return Err(ModelError::InvalidParameter(
                    "ApplicationLogLevel and SystemLogLevel can only be set when LogFormat is JSON.".into(),
                ));
            }
        }
        if let Some(d) = &s.dead_letter_config {
            c.dead_letter_target =
                crate::event_config::dead_letter_target(d.target_arn.as_deref())?;
        }
        if check_handler_now {
            check_handler(&c.runtime, &c.handler)?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::AvailableRuntime;

    fn catalogue() -> RuntimeCatalogue {
        RuntimeCatalogue::new([
            AvailableRuntime::host("python3.11", "/usr/bin/python3.11", "3.11.2"),
            AvailableRuntime::package("provided.al2023"),
        ])
    }

    fn settings(json: &str) -> FunctionSettings {
        serde_json::from_str(json).unwrap()
    }

    const BASE: &str = r#""Runtime":"python3.11","Handler":"app.handler","Role":"arn:aws:iam::123456789012:role/r""#;

    fn create(extra: &str) -> Result<FunctionConfig, ModelError> {
        // Later members override the base ones (serde refuses duplicate keys).
        let mut base: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&format!("{{{BASE}}}")).unwrap();
        if !extra.is_empty() {
            let over: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&format!("{{{extra}}}")).unwrap();
            base.extend(over);
        }
        FunctionConfig::create(&serde_json::from_value(base.into()).unwrap(), &catalogue())
    }

    fn validation(extra: &str) -> String {
        match create(extra) {
            Err(ModelError::Validation(v)) => crate::error::format_violations(&v),
            other => panic!("expected ValidationException for {extra}, got {other:?}"),
        }
    }

    fn invalid(extra: &str) -> String {
        match create(extra) {
            Err(ModelError::InvalidParameter(m)) => m,
            other => panic!("expected InvalidParameterValueException for {extra}, got {other:?}"),
        }
    }

    #[test]
    fn image_functions_get_lambdas_refusals_first() {
        let role = r#""Role":"arn:aws:iam::123456789012:role/r","PackageType":"Image""#;
        let image = |extra: &str| {
            FunctionConfig::create(&settings(&format!("{{{role}{extra}}}")), &catalogue())
        };
        let lambda = "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.";
        for extra in [
            r#","Handler":"app.handler""#,
            r#","Runtime":"python3.11""#,
            r#","Layers":["arn:aws:lambda:us-east-1:123456789012:layer:l:1"]"#,
        ] {
            match image(extra) {
                Err(ModelError::InvalidParameter(m)) => assert_eq!(m, lambda, "{extra}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
        let long = format!(
            r#","ImageConfig":{{"WorkingDirectory":"{}"}}"#,
            "d".repeat(1001)
        );
        assert!(matches!(image(&long), Err(ModelError::Validation(_))));
    }

    #[test]
    fn an_image_function_has_no_runtime_or_handler_and_keeps_its_overrides() {
        let c = FunctionConfig::create(
            &settings(
                r#"{"Role":"arn:aws:iam::123456789012:role/r","PackageType":"Image","ImageConfig":{"Command":["app.other"]},"MemorySize":256}"#,
            ),
            &catalogue(),
        )
        .unwrap();
        assert_eq!(c.package_type, crate::PackageType::Image);
        assert_eq!((c.runtime.as_str(), c.handler.as_str()), ("", ""));
        assert_eq!(c.memory_size, 256);
        assert_eq!(
            c.image_config.command.as_deref(),
            Some(&["app.other".to_string()][..])
        );
        let msg = "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.";
        match c.update(&settings(r#"{"Handler":"a.b"}"#), &catalogue()) {
            Err(ModelError::InvalidParameter(m)) => assert_eq!(m, msg),
            other => panic!("{other:?}"),
        }
        let u = c
            .update(
                &settings(r#"{"ImageConfig":{"WorkingDirectory":"/srv"}}"#),
                &catalogue(),
            )
            .unwrap();
        assert_eq!(u.image_config.working_directory.as_deref(), Some("/srv"));
        assert_eq!(
            u.image_config.command, None,
            "ImageConfig is replaced whole"
        );
        let zip = create("").unwrap();
        assert!(matches!(
            zip.update(
                &settings(r#"{"ImageConfig":{"Command":["x"]}}"#),
                &catalogue()
            ),
            Err(ModelError::InvalidParameter(_))
        ));
    }

    #[test]
    fn defaults_match_lambda() {
        let c = create("").unwrap();
        assert_eq!(
            (c.timeout, c.memory_size, c.ephemeral_storage),
            (3, 128, 512)
        );
        assert_eq!(
            (
                c.architecture.as_str(),
                c.tracing_mode.as_str(),
                c.log_format.as_str()
            ),
            ("x86_64", "PassThrough", "Text")
        );
        assert_eq!(c.description, "");
    }

    #[test]
    fn ranges_are_enforced_at_both_ends() {
        assert!(validation(r#""MemorySize":127"#).contains("Value '127' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"));
        assert!(validation(r#""MemorySize":10241"#).contains("less than or equal to 10240"));
        assert_eq!(
            create(r#""MemorySize":10240,"Timeout":900"#)
                .unwrap()
                .memory_size,
            10240
        );
        assert!(validation(r#""Timeout":0"#).contains("'timeout'"));
        assert!(validation(r#""Timeout":901"#).contains("less than or equal to 900"));
        assert!(
            validation(r#""EphemeralStorage":{"Size":511}"#).contains("'ephemeralStorage.size'")
        );
        assert!(validation(r#""EphemeralStorage":{"Size":10241}"#).contains("10240"));
        assert!(
            validation(&format!(r#""Description":"{}""#, "d".repeat(257)))
                .contains("length less than or equal to 256")
        );
        let two = validation(r#""Timeout":0,"MemorySize":1"#);
        assert!(two.starts_with("2 validation errors detected"), "{two}");
    }

    #[test]
    fn runtime_enum_and_availability_are_different_errors() {
        let body = format!("{{{}}}", BASE.replace("python3.11", "python9"));
        let err = FunctionConfig::create(&settings(&body), &catalogue()).unwrap_err();
        assert!(matches!(err, ModelError::Validation(_)));
        assert!(
            err.to_string()
                .contains("Member must satisfy enum value set: [nodejs,"),
            "{err}"
        );
        let body = format!("{{{}}}", BASE.replace("python3.11", "python3.12"));
        let err = FunctionConfig::create(&settings(&body), &catalogue()).unwrap_err();
        assert_eq!(
            err,
            ModelError::InvalidParameter(
                "The runtime parameter of python3.12 is not available on this server. Available: provided.al2023, python3.11. Add it with: quiver serve --runtime python3.12=<prefix of a Python 3.12 install>. Or pull its image (with no server running on the data dir): quiver runtime pull python3.12 (default public.ecr.aws/lambda/python:3.12).".into()
            )
        );
    }

    #[test]
    fn role_and_handler_rules() {
        assert!(validation(r#""Role":"not-a-role""#).contains("at 'role'"));
        assert!(validation(r#""Handler":"has space""#).contains("at 'handler'"));
        assert!(invalid(r#""Handler":"nodot""#).contains("lambda_function.lambda_handler"));
        let missing_role = FunctionConfig::create(
            &settings(r#"{"Runtime":"python3.11","Handler":"a.b"}"#),
            &catalogue(),
        )
        .unwrap_err();
        assert!(missing_role.to_string().contains(
            "Value null at 'role' failed to satisfy constraint: Member must not be null"
        ));
        let no_handler = FunctionConfig::create(
            &settings(r#"{"Runtime":"python3.11","Role":"arn:aws:iam::123456789012:role/r"}"#),
            &catalogue(),
        )
        .unwrap_err();
        assert!(matches!(no_handler, ModelError::InvalidParameter(_)));
        // provided.* handlers are free-form
        let body = r#"{"Runtime":"provided.al2023","Handler":"whatever","Role":"arn:aws:iam::123456789012:role/r"}"#;
        assert!(FunctionConfig::create(&settings(body), &catalogue()).is_ok());
    }

    #[test]
    fn environment_rules() {
        let c = create(r#""Environment":{"Variables":{"GOOD_1":"v"}}"#).unwrap();
        assert_eq!(c.environment.get("GOOD_1").map(String::as_str), Some("v"));
        assert!(validation(r#""Environment":{"Variables":{"1bad":"v"}}"#)
            .contains("Map keys must satisfy constraint"));
        assert!(validation(r#""Environment":{"Variables":{"A":"v"}}"#)
            .contains("'environment.variables'"));
        let msg = invalid(r#""Environment":{"Variables":{"AWS_REGION":"x","_HANDLER":"y"}}"#);
        assert!(
            msg.ends_with("Reserved keys used in this request: AWS_REGION, _HANDLER"),
            "{msg}"
        );
        let big = format!(
            r#""Environment":{{"Variables":{{"BIG":"{}"}}}}"#,
            "x".repeat(4090)
        );
        assert!(invalid(&big).contains("exceeded the 4KB limit. String measured: {\"BIG\""));
        // exactly 4096 bytes of JSON is allowed: {"BIG":"…"} is 10 bytes of framing
        let exact = format!(
            r#""Environment":{{"Variables":{{"BIG":"{}"}}}}"#,
            "x".repeat(4086)
        );
        assert!(create(&exact).is_ok());
    }

    #[test]
    fn update_changes_only_what_is_given_and_revalidates() {
        let c = create(r#""Timeout":10,"Environment":{"Variables":{"AA":"1"}}"#).unwrap();
        let u = c
            .update(&settings(r#"{"MemorySize":256}"#), &catalogue())
            .unwrap();
        assert_eq!((u.memory_size, u.timeout), (256, 10));
        assert_eq!(u.environment, c.environment);
        let cleared = c
            .update(&settings(r#"{"Environment":{}}"#), &catalogue())
            .unwrap();
        assert!(cleared.environment.is_empty());
        assert!(c
            .update(&settings(r#"{"Timeout":1000}"#), &catalogue())
            .is_err());
        assert!(c
            .update(&settings(r#"{"Runtime":"python3.12"}"#), &catalogue())
            .is_err());
        let logs = c
            .update(
                &settings(
                    r#"{"LoggingConfig":{"LogFormat":"JSON","ApplicationLogLevel":"DEBUG"}}"#,
                ),
                &catalogue(),
            )
            .unwrap();
        assert_eq!(logs.application_log_level.as_deref(), Some("DEBUG"));
        assert!(c
            .update(
                &settings(r#"{"LoggingConfig":{"ApplicationLogLevel":"DEBUG"}}"#),
                &catalogue()
            )
            .is_err());
    }

    #[test]
    fn dead_letter_config_sets_changes_and_clears() {
        let q1 = "arn:aws:sqs:us-east-1:000000000000:dlq1";
        let c = create(&format!(r#""DeadLetterConfig":{{"TargetArn":"{q1}"}}"#)).unwrap();
        assert_eq!(c.dead_letter_target.as_deref(), Some(q1));
        let q2 = "arn:aws:sqs:us-east-1:000000000000:dlq2";
        let u = c
            .update(
                &settings(&format!(r#"{{"DeadLetterConfig":{{"TargetArn":"{q2}"}}}}"#)),
                &catalogue(),
            )
            .unwrap();
        assert_eq!(u.dead_letter_target.as_deref(), Some(q2));
        // other updates keep it; "" clears it
        assert_eq!(
            u.update(&settings(r#"{"Timeout":5}"#), &catalogue())
                .unwrap()
                .dead_letter_target
                .as_deref(),
            Some(q2)
        );
        let cleared = u
            .update(
                &settings(r#"{"DeadLetterConfig":{"TargetArn":""}}"#),
                &catalogue(),
            )
            .unwrap();
        assert_eq!(cleared.dead_letter_target, None);
        assert!(invalid(
            r#""DeadLetterConfig":{"TargetArn":"arn:aws:events:us-east-1:000000000000:event-bus/b"}"#
        )
        .contains("SQS queues"));
        // documents stored before the member existed still load
        let mut old = serde_json::to_value(&c).unwrap();
        old.as_object_mut().unwrap().remove("dead_letter_target");
        let back: FunctionConfig = serde_json::from_value(old).unwrap();
        assert_eq!(back.dead_letter_target, None);
    }
}
