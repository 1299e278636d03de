//! Lambda layers: layer names and version ARNs, PublishLayerVersion's input, the stored
//! layer version, its permission statements, and the rules a function's `Layers` list
//! follows (docs/wire.md §16). Pure: the store persists these, the API resolves ARNs.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::arn::Partition;
use crate::error::{ModelError, Violations};
use crate::limits::{DESCRIPTION_MAX, UNZIPPED_MAX_BYTES};
use crate::runtime::LAMBDA_RUNTIMES;

/// A function references at most this many layer versions.
pub const FUNCTION_LAYERS_MAX: usize = 5;
/// `LicenseInfo` length limit.
pub const LICENSE_INFO_MAX: usize = 512;
/// `CompatibleRuntimes` entries.
pub const COMPATIBLE_RUNTIMES_MAX: usize = 15;
/// `CompatibleArchitectures` entries.
pub const COMPATIBLE_ARCHITECTURES_MAX: usize = 2;
/// `MaxItems` of ListLayers / ListLayerVersions.
pub const LAYER_LIST_MAX_ITEMS: usize = 50;

const ARCHITECTURES: &[&str] = &["x86_64", "arm64"];

/// The `LayerNameOrArn` pattern of Lambda's model (a bare name or an unversioned ARN).
pub const LAYER_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]{1,140}|[a-zA-Z0-9-_]{1,140})";
/// The `LayerVersionArn` pattern of Lambda's model.
pub const LAYER_VERSION_ARN_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)";

static NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{LAYER_NAME_PATTERN})$")).expect("static regex"));
static VERSION_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!("^(?:{LAYER_VERSION_ARN_PATTERN})$")).expect("static regex")
});
static STATEMENT_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9-_]+$").expect("static regex"));
static PRINCIPAL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)$").expect("static regex")
});
static ORG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^o-[a-z0-9]{10,32}$").expect("static regex"));

/// A layer named by a request: its bare name, and the region and account when the
/// caller used an ARN (anything but this server's partition holds no layers here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerName {
    pub name: String,
    pub region: Option<String>,
    pub account: Option<String>,
}

impl LayerName {
    /// Parses the `{LayerName}` path label (a name or a layer ARN without version).
    pub fn parse(raw: &str) -> Result<Self, ModelError> {
        let mut v = Violations::new();
        if raw.is_empty() || raw.len() > 2048 {
            v.push(
                raw,
                "layerName",
                "Member must have length less than or equal to 2048",
            );
        } else if !NAME_RE.is_match(raw) {
            v.push(
                raw,
                "layerName",
                format!("Member must satisfy regular expression pattern: {LAYER_NAME_PATTERN}"),
            );
        }
        v.into_result()?;
        if let Some(rest) = raw.strip_prefix("arn:") {
            // arn:<partition>:lambda:<region>:<account>:layer:<name>
            let parts: Vec<&str> = rest.splitn(6, ':').collect();
            return Ok(Self {
                name: parts[5].to_string(),
                region: Some(parts[2].to_string()),
                account: Some(parts[3].to_string()),
            });
        }
        Ok(Self {
            name: raw.to_string(),
            region: None,
            account: None,
        })
    }

    /// Named by an ARN of another region or account.
    pub fn is_foreign(&self, p: &Partition) -> bool {
        self.region.as_deref().is_some_and(|r| r != p.region)
            || self.account.as_deref().is_some_and(|a| a != p.account)
    }
}

/// `arn:aws:lambda:<region>:<account>:layer:<name>`.
pub fn layer_arn(p: &Partition, name: &str) -> String {
    format!("arn:aws:lambda:{}:{}:layer:{name}", p.region, p.account)
}

/// `arn:aws:lambda:<region>:<account>:layer:<name>:<version>`.
pub fn layer_version_arn(p: &Partition, name: &str, version: u64) -> String {
    format!("{}:{version}", layer_arn(p, name))
}

/// A layer version ARN taken apart: the (region, account, name, version) it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersionRef {
    pub region: String,
    pub account: String,
    pub name: String,
    pub version: u64,
}

/// Checks one `LayerVersionArn` against the model's shape and takes it apart. `None`
/// for the AWS-managed `awslayer` form, which matches the pattern but names nothing a
/// self-hosted server can hold.
pub fn parse_layer_version_arn(
    raw: &str,
    member: &str,
) -> Result<Option<LayerVersionRef>, ModelError> {
    let mut v = Violations::new();
    if raw.is_empty() || raw.len() > 2048 || !VERSION_ARN_RE.is_match(raw) {
        v.push(
            raw,
            member,
            format!("Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}"),
        );
    }
    v.into_result()?;
    let rest = raw.strip_prefix("arn:").unwrap_or(raw);
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() != 7 || parts[4] != "layer" {
        return Ok(None);
    }
    let Ok(version) = parts[6].parse::<u64>() else {
        return Ok(None);
    };
    Ok(Some(LayerVersionRef {
        region: parts[2].to_string(),
        account: parts[3].to_string(),
        name: parts[5].to_string(),
        version,
    }))
}

/// The shape checks of a function's `Layers` member: each entry a layer version ARN
/// (ValidationException as Lambda words it for the list), at most five of them.
pub fn check_function_layers(arns: &[String]) -> Result<(), ModelError> {
    let mut v = Violations::new();
    if arns
        .iter()
        .any(|a| a.is_empty() || a.len() > 2048 || !VERSION_ARN_RE.is_match(a))
    {
        v.push(
            format!("[{}]", arns.join(", ")),
            "layers",
            format!("Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}, Member must not be null]"),
        );
    }
    v.into_result()?;
    if arns.len() > FUNCTION_LAYERS_MAX {
        return Err(ModelError::InvalidParameter(format!(
            "Cannot reference more than {FUNCTION_LAYERS_MAX} layers."
        )));
    }
    Ok(())
}

/// Lambda refuses two versions of one layer (and the same version twice) in one list.
pub fn check_distinct_layers(refs: &[(String, LayerVersionRef)]) -> Result<(), ModelError> {
    for (i, (arn_a, a)) in refs.iter().enumerate() {
        for (arn_b, b) in &refs[i + 1..] {
            if (&a.region, &a.account, &a.name) == (&b.region, &b.account, &b.name) {
                return Err(ModelError::InvalidParameter(format!(
                    "Two different versions of the same layer are not allowed to be referenced in the same function. {arn_a} and {arn_b} are versions of the same layer."
                )));
            }
        }
    }
    Ok(())
}

/// Lambda's message for a layer version that does not exist (or not here).
pub fn layer_version_not_found(arn: &str) -> ModelError {
    ModelError::InvalidParameter(format!("Layer version {arn} does not exist."))
}

/// Function code and every layer, unzipped, within 250 MB.
pub fn check_combined_size(code_unzipped: u64, layers_unzipped: &[u64]) -> Result<(), ModelError> {
    let total = layers_unzipped
        .iter()
        .fold(code_unzipped, |acc, n| acc.saturating_add(*n));
    if total > UNZIPPED_MAX_BYTES {
        return Err(ModelError::InvalidParameter(format!(
            "Function code combined with layers exceeds the maximum allowed size of {UNZIPPED_MAX_BYTES} bytes. The actual size is {total} bytes."
        )));
    }
    Ok(())
}

/// One layer version a function uses, pinned when the function was configured: its
/// content digest keeps the extracted tree alive (and the function working) after
/// DeleteLayerVersion, as in Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionLayer {
    /// The layer version ARN as configured.
    pub arn: String,
    /// Zip size (FunctionConfiguration's `Layers[].CodeSize`).
    pub code_size: u64,
    /// Hex SHA-256 of the zip: names the blob and the extracted tree.
    pub sha256_hex: String,
    /// Bytes of its extracted tree, for the 250 MB rule on later code updates.
    #[serde(default)]
    pub unzipped_size: u64,
}

/// The settings of PublishLayerVersion besides the content, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishLayerInput {
    pub description: Option<String>,
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
}

/// The validated settings of a new layer version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSettings {
    pub description: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
}

fn enum_set(values: &[&str]) -> String {
    format!("[{}]", values.join(", "))
}

impl PublishLayerInput {
    /// Shape checks (ValidationException), each violation as Lambda lists it.
    pub fn validate(&self) -> Result<LayerSettings, ModelError> {
        let mut v = Violations::new();
        if let Some(d) = &self.description {
            if d.chars().count() > DESCRIPTION_MAX {
                v.push(
                    d.as_str(),
                    "description",
                    format!("Member must have length less than or equal to {DESCRIPTION_MAX}"),
                );
            }
        }
        if let Some(l) = &self.license_info {
            if l.chars().count() > LICENSE_INFO_MAX {
                v.push(
                    l.as_str(),
                    "licenseInfo",
                    format!("Member must have length less than or equal to {LICENSE_INFO_MAX}"),
                );
            }
        }
        let runtimes = self.compatible_runtimes.clone().unwrap_or_default();
        if runtimes.len() > COMPATIBLE_RUNTIMES_MAX {
            v.push(
                format!("[{}]", runtimes.join(", ")),
                "compatibleRuntimes",
                format!("Member must have length less than or equal to {COMPATIBLE_RUNTIMES_MAX}"),
            );
        } else if runtimes
            .iter()
            .any(|r| !LAMBDA_RUNTIMES.contains(&r.as_str()))
        {
            v.push(
                format!("[{}]", runtimes.join(", ")),
                "compatibleRuntimes",
                format!(
                    "Member must satisfy constraint: [Member must satisfy enum value set: {}]",
                    enum_set(LAMBDA_RUNTIMES)
                ),
            );
        }
        let archs = self.compatible_architectures.clone().unwrap_or_default();
        if archs.len() > COMPATIBLE_ARCHITECTURES_MAX {
            v.push(
                format!("[{}]", archs.join(", ")),
                "compatibleArchitectures",
                format!(
                    "Member must have length less than or equal to {COMPATIBLE_ARCHITECTURES_MAX}"
                ),
            );
        } else if archs.iter().any(|a| !ARCHITECTURES.contains(&a.as_str())) {
            v.push(
                format!("[{}]", archs.join(", ")),
                "compatibleArchitectures",
                format!(
                    "Member must satisfy constraint: [Member must satisfy enum value set: {}]",
                    enum_set(ARCHITECTURES)
                ),
            );
        }
        v.into_result()?;
        Ok(LayerSettings {
            description: self.description.clone().unwrap_or_default(),
            compatible_runtimes: runtimes,
            compatible_architectures: archs,
            license_info: self.license_info.clone(),
        })
    }
}

/// A `CompatibleRuntime` / `CompatibleArchitecture` filter of the list operations.
pub fn check_list_filters(
    runtime: Option<&str>,
    architecture: Option<&str>,
) -> Result<(), ModelError> {
    let mut v = Violations::new();
    if let Some(r) = runtime {
        if !LAMBDA_RUNTIMES.contains(&r) {
            v.push(
                r,
                "compatibleRuntime",
                format!(
                    "Member must satisfy enum value set: {}",
                    enum_set(LAMBDA_RUNTIMES)
                ),
            );
        }
    }
    if let Some(a) = architecture {
        if !ARCHITECTURES.contains(&a) {
            v.push(
                a,
                "compatibleArchitecture",
                format!(
                    "Member must satisfy enum value set: {}",
                    enum_set(ARCHITECTURES)
                ),
            );
        }
    }
    v.into_result()
}

/// One stored layer version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersion {
    pub name: String,
    pub version: u64,
    pub code: crate::CodeRef,
    /// Bytes of the extracted tree (the 250 MB rule counts it against functions).
    pub unzipped_size: u64,
    pub settings: LayerSettings,
    /// `CreatedDate`, Lambda's timestamp format.
    pub created: String,
}

impl LayerVersion {
    /// Matches ListLayers' / ListLayerVersions' filters (a version that declares no
    /// runtimes or architectures matches no filter of that kind, as in Lambda).
    pub fn matches(&self, runtime: Option<&str>, architecture: Option<&str>) -> bool {
        runtime.is_none_or(|r| self.settings.compatible_runtimes.iter().any(|x| x == r))
            && architecture.is_none_or(|a| {
                self.settings
                    .compatible_architectures
                    .iter()
                    .any(|x| x == a)
            })
    }
}

/// AddLayerVersionPermission's input, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionInput {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub organization_id: Option<String>,
}

/// A statement of a layer version's resource policy. Stored and reported only: nothing
/// reads layers across accounts on this server yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerStatement {
    pub sid: String,
    pub principal: String,
    pub organization_id: Option<String>,
}

/// Checks `StatementId`, `Action`, `Principal` and `OrganizationId` (ValidationException).
pub fn validate_statement_id(sid: &str) -> Result<(), ModelError> {
    let mut v = Violations::new();
    if sid.is_empty() || sid.len() > 100 {
        v.push(
            sid,
            "statementId",
            "Member must have length less than or equal to 100",
        );
    } else if !STATEMENT_ID_RE.is_match(sid) {
        v.push(
            sid,
            "statementId",
            "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
        );
    }
    v.into_result()
}

impl PermissionInput {
    pub fn validate(&self) -> Result<LayerStatement, ModelError> {
        let mut v = Violations::new();
        let null = |v: &mut Violations, m: &str| v.push("null", m, "Member must not be null");
        match &self.statement_id {
            None => null(&mut v, "statementId"),
            Some(s) => {
                if let Err(ModelError::Validation(e)) = validate_statement_id(s) {
                    for x in e {
                        v.push(x.value, &x.member, x.constraint);
                    }
                }
            }
        }
        match self.action.as_deref() {
            None => null(&mut v, "action"),
            Some("lambda:GetLayerVersion") => {}
            Some(a) => v.push(
                a,
                "action",
                "Member must satisfy regular expression pattern: lambda:GetLayerVersion",
            ),
        }
        match self.principal.as_deref() {
            None => null(&mut v, "principal"),
            Some(p) if PRINCIPAL_RE.is_match(p) => {}
            Some(p) => v.push(
                p,
                "principal",
                r"Member must satisfy regular expression pattern: \d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root",
            ),
        }
        if let Some(o) = &self.organization_id {
            if !ORG_RE.is_match(o) {
                v.push(
                    o.as_str(),
                    "organizationId",
                    "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}",
                );
            }
        }
        v.into_result()?;
        Ok(LayerStatement {
            sid: self.statement_id.clone().unwrap_or_default(),
            principal: self.principal.clone().unwrap_or_default(),
            organization_id: self.organization_id.clone(),
        })
    }
}

impl LayerStatement {
    /// The statement as Lambda writes it into the policy document.
    pub fn document(&self, resource: &str) -> serde_json::Value {
        let principal = if self.principal == "*" {
            serde_json::json!("*")
        } else if self.principal.starts_with("arn:") {
            serde_json::json!({ "AWS": self.principal })
        } else {
            serde_json::json!({ "AWS": format!("arn:aws:iam::{}:root", self.principal) })
        };
        let mut s = serde_json::json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Principal": principal,
            "Action": "lambda:GetLayerVersion",
            "Resource": resource,
        });
        if let Some(o) = &self.organization_id {
            s["Condition"] = serde_json::json!({"StringEquals": {"aws:PrincipalOrgID": o}});
        }
        s
    }
}

/// The whole policy document of a layer version with these statements.
pub fn policy_document(statements: &[LayerStatement], resource: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": statements.iter().map(|s| s.document(resource)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        let n = LayerName::parse("my-layer_1").unwrap();
        assert_eq!((n.name.as_str(), n.region), ("my-layer_1", None));
        let n = LayerName::parse("arn:aws:lambda:us-east-1:000000000000:layer:x").unwrap();
        assert_eq!(n.name, "x");
        let p = Partition::new("us-east-1", "000000000000");
        assert!(!n.is_foreign(&p));
        assert!(
            LayerName::parse("arn:aws:lambda:eu-west-1:000000000000:layer:x")
                .unwrap()
                .is_foreign(&p)
        );
        assert!(LayerName::parse("bad name").is_err());
        assert!(LayerName::parse(&"a".repeat(141)).is_err());
        let r = parse_layer_version_arn("arn:aws:lambda:us-east-1:000000000000:layer:x:3", "arn")
            .unwrap()
            .unwrap();
        assert_eq!((r.name.as_str(), r.version), ("x", 3));
        assert!(parse_layer_version_arn("arn:aws:lambda:us-east-1:0:layer:x:3", "arn").is_err());
        assert!(
            parse_layer_version_arn("arn:aws:lambda:::awslayer:y", "arn")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn function_layer_rules() {
        let arn = |n: &str, v: u64| format!("arn:aws:lambda:us-east-1:000000000000:layer:{n}:{v}");
        let six: Vec<String> = (1..=6).map(|i| arn("l", i)).collect();
        assert_eq!(
            check_function_layers(&six).unwrap_err().to_string(),
            "Cannot reference more than 5 layers."
        );
        assert!(matches!(
            check_function_layers(&["nope".into()]),
            Err(ModelError::Validation(_))
        ));
        let refs: Vec<_> = [arn("a", 1), arn("b", 1), arn("a", 2)]
            .into_iter()
            .map(|a| {
                (
                    a.clone(),
                    parse_layer_version_arn(&a, "l").unwrap().unwrap(),
                )
            })
            .collect();
        let e = check_distinct_layers(&refs).unwrap_err().to_string();
        assert!(e.contains(&format!("{} and {} are versions", arn("a", 1), arn("a", 2))));
        assert!(check_distinct_layers(&refs[..2]).is_ok());
        assert!(check_combined_size(UNZIPPED_MAX_BYTES - 10, &[10]).is_ok());
        assert_eq!(
            check_combined_size(UNZIPPED_MAX_BYTES, &[1]).unwrap_err().to_string(),
            "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is 262144001 bytes."
        );
    }

    #[test]
    fn publish_input_and_statements() {
        let ok = PublishLayerInput {
            compatible_runtimes: Some(vec!["python3.11".into()]),
            compatible_architectures: Some(vec!["x86_64".into(), "arm64".into()]),
            ..Default::default()
        };
        assert_eq!(ok.validate().unwrap().compatible_runtimes, ["python3.11"]);
        let bad = PublishLayerInput {
            compatible_architectures: Some(vec!["sparc".into()]),
            license_info: Some("x".repeat(513)),
            ..Default::default()
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.starts_with("2 validation errors detected"), "{e}");
        let s = PermissionInput {
            statement_id: Some("all".into()),
            action: Some("lambda:GetLayerVersion".into()),
            principal: Some("123456789012".into()),
            organization_id: None,
        }
        .validate()
        .unwrap();
        let d = s.document("arn:l:1");
        assert_eq!(d["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
        assert!(PermissionInput::default().validate().is_err());
    }
}
