//! FunctionConfiguration as Lambda writes it (docs/wire.md §1.3).

use quiver_model::{FunctionVersion, Partition, RuntimeCatalogue, Version};
use serde_json::{json, Map, Value};

/// The level Lambda reports for an unset `ApplicationLogLevel` / `SystemLogLevel` of a
/// function that logs JSON.
const DEFAULT_LOG_LEVEL: &str = "INFO";

/// Which flavour of the configuration object to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Get*/Create/Update responses: with State and LastUpdateStatus.
    Full,
    /// List items: without State*/LastUpdateStatus*/RuntimeVersionConfig.
    ListItem,
}

/// Renders one version. `qualified_latest`: write `:$LATEST` on `$LATEST`'s ARN (a
/// request that named the qualifier, or a listing of versions).
pub fn configuration(
    v: &FunctionVersion,
    p: &Partition,
    runtimes: &RuntimeCatalogue,
    flavor: Flavor,
    qualified_latest: bool,
) -> Value {
    let c = &v.config;
    let version = v.version.to_string();
    let arn = match v.version {
        Version::Latest if !qualified_latest => p.function_arn(&v.name, None),
        _ => p.function_arn(&v.name, Some(&version)),
    };
    let mut logging = Map::new();
    logging.insert("LogFormat".into(), json!(c.log_format));
    // Lambda filters by level only for JSON logs, and reports INFO for a level left unset
    // there; Text logs carry no levels at all (docs/wire.md §1.3).
    if c.log_format == "JSON" {
        let level = |l: &Option<String>| l.clone().unwrap_or_else(|| DEFAULT_LOG_LEVEL.into());
        logging.insert(
            "ApplicationLogLevel".into(),
            json!(level(&c.application_log_level)),
        );
        logging.insert("SystemLogLevel".into(), json!(level(&c.system_log_level)));
    }
    let group = c
        .log_group
        .clone()
        .unwrap_or_else(|| format!("/aws/lambda/{}", v.name));
    logging.insert("LogGroup".into(), json!(group));

    let mut out = json!({
        "FunctionName": v.name,
        "FunctionArn": arn,
        "Runtime": c.runtime,
        "Role": c.role,
        "Handler": c.handler,
        "CodeSize": v.code.size,
        "Description": c.description,
        "Timeout": c.timeout,
        "MemorySize": c.memory_size,
        "LastModified": v.last_modified,
        "CodeSha256": v.code.sha256_b64,
        "Version": version,
        "TracingConfig": {"Mode": c.tracing_mode},
        "RevisionId": v.revision_id,
        "PackageType": "Zip",
        "Architectures": [c.architecture],
        "EphemeralStorage": {"Size": c.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": Value::Object(logging),
    });
    let obj = out.as_object_mut().expect("object literal");
    if let Some(image) = &c.image {
        image_members(obj, image, &c.image_config);
    }
    if !c.environment.is_empty() {
        obj.insert("Environment".into(), json!({"Variables": c.environment}));
    }
    if !c.layers.is_empty() {
        let layers: Vec<Value> = c
            .layers
            .iter()
            .map(|l| json!({"Arn": l.arn, "CodeSize": l.code_size}))
            .collect();
        obj.insert("Layers".into(), Value::Array(layers));
    }
    if let Some(t) = &c.dead_letter_target {
        obj.insert("DeadLetterConfig".into(), json!({"TargetArn": t}));
    }
    if flavor == Flavor::Full {
        // docs/wire.md §13: Pending while created/published, InProgress while updated.
        let f = v.lifecycle.fields();
        obj.insert("State".into(), json!(f.state));
        if let Some((reason, code)) = f.state_reason {
            obj.insert("StateReason".into(), json!(reason));
            obj.insert("StateReasonCode".into(), json!(code));
        }
        if let Some((status, reason)) = f.last_update {
            obj.insert("LastUpdateStatus".into(), json!(status));
            if let Some((reason, code)) = reason {
                obj.insert("LastUpdateStatusReason".into(), json!(reason));
                obj.insert("LastUpdateStatusReasonCode".into(), json!(code));
            }
        }
        if let Some(rt) = runtimes.get(&c.runtime) {
            // Not a real AWS runtime-version ARN: it names the interpreter version this
            // host resolved at start, which is what the function will run on.
            obj.insert(
                "RuntimeVersionConfig".into(),
                json!({"RuntimeVersionArn": format!("arn:aws:lambda:{}::runtime:quiver-{}-{}", p.region, rt.id, rt.version)}),
            );
        }
    }
    out
}

/// A container-image function as Lambda shows it (docs/wire.md §17.4): no Runtime or
/// Handler, `PackageType` Image, `CodeSha256` the manifest digest's hex, `CodeSize` 0,
/// and the ImageConfig overrides, when there are any, under `ImageConfigResponse`.
fn image_members(
    obj: &mut Map<String, Value>,
    image: &quiver_model::FunctionImage,
    overrides: &quiver_model::ImageConfig,
) {
    obj.remove("Runtime");
    obj.remove("Handler");
    obj.insert("PackageType".into(), json!("Image"));
    obj.insert("CodeSha256".into(), json!(image.code_sha256()));
    obj.insert("CodeSize".into(), json!(0));
    let mut cfg = Map::new();
    if let Some(e) = &overrides.entry_point {
        cfg.insert("EntryPoint".into(), json!(e));
    }
    if let Some(c) = &overrides.command {
        cfg.insert("Command".into(), json!(c));
    }
    if let Some(w) = &overrides.working_directory {
        cfg.insert("WorkingDirectory".into(), json!(w));
    }
    if !cfg.is_empty() {
        obj.insert(
            "ImageConfigResponse".into(),
            json!({ "ImageConfig": Value::Object(cfg) }),
        );
    }
}
