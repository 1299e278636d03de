//! Aliases: a name that points to a function version, optionally splitting invocations
//! with a second, published version (`RoutingConfig.AdditionalVersionWeights`).
//!
//! The wire input (`AliasInput`) is validated here into an [`AliasDraft`]; the store adds
//! the RevisionId. Which version serves one invocation is [`pick`], a pure function of the
//! routing weight and a uniform random draw, so that the invoker's choice is testable
//! with fixed draws.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Violations};
use crate::limits::{ALIAS_NAME_MAX, DESCRIPTION_MAX};
use crate::version::Version;

/// The `Alias` shape's pattern, as quoted in Lambda's ValidationException.
pub const ALIAS_NAME_PATTERN: &str = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)";
/// The `VersionWithLatestPublished` shape's pattern (CreateAlias/UpdateAlias
/// `FunctionVersion`, ListAliases `FunctionVersion`).
pub const FUNCTION_VERSION_PATTERN: &str = r"(\$LATEST(\.PUBLISHED)?|[0-9]+)";
/// Longest `FunctionVersion` / `AdditionalVersion` string the model allows.
const VERSION_STRING_MAX: usize = 1024;

static ALIAS_CHARS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_-]+$").expect("static regex"));

const WEIGHT_CONSTRAINT: &str = "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]";
const VERSION_KEY_CONSTRAINT: &str = "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]";

/// `RoutingConfig` as sent on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingConfigInput {
    /// Version → weight; a null weight is a constraint violation, not a parse error.
    pub additional_version_weights: Option<BTreeMap<String, Option<f64>>>,
}

/// The body of CreateAlias / UpdateAlias as sent on the wire (`Name` only in CreateAlias,
/// `RevisionId` only in UpdateAlias: the API's member check refuses the others).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<RoutingConfigInput>,
    pub revision_id: Option<String>,
}

/// The second version of a weighted alias and the share of invocations it receives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AliasRouting {
    pub additional_version: u64,
    /// In [0.0, 1.0].
    pub weight: f64,
}

/// A validated alias without its RevisionId: what CreateAlias asks for, or what an
/// UpdateAlias makes of the current alias.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasDraft {
    pub name: String,
    pub function_version: Version,
    pub description: String,
    pub routing: Option<AliasRouting>,
}

/// One stored alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub function_name: String,
    pub name: String,
    pub function_version: Version,
    pub description: String,
    pub routing: Option<AliasRouting>,
    /// Changes on every UpdateAlias (even one that changes nothing, as in Lambda).
    pub revision_id: String,
}

impl Alias {
    /// True when invocations through this alias may run `version` (as the target or as
    /// the routing's additional version): such a version cannot be deleted.
    pub fn references(&self, version: u64) -> bool {
        self.function_version == Version::Published(version)
            || self
                .routing
                .is_some_and(|r| r.additional_version == version)
    }

    /// The draft this alias is, for UpdateAlias to change.
    pub fn draft(&self) -> AliasDraft {
        AliasDraft {
            name: self.name.clone(),
            function_version: self.function_version,
            description: self.description.clone(),
            routing: self.routing,
        }
    }
}

/// Which of an alias's versions serves one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The alias's `FunctionVersion`.
    Primary,
    /// The routing's additional version.
    Additional,
}

/// The version for one invocation through an alias whose additional version gets
/// `additional_weight` of the traffic (None: no routing). `draw` is uniform in [0, 1):
/// the additional version runs when the draw falls below its weight, so weight 0.0
/// never and weight 1.0 always picks it.
pub fn pick(additional_weight: Option<f64>, draw: f64) -> Pick {
    match additional_weight {
        Some(w) if draw < w => Pick::Additional,
        _ => Pick::Primary,
    }
}

/// An alias name: 1–128 of `[a-zA-Z0-9-_]`, not all digits (that would be a version).
pub fn validate_alias_name(name: &str, member: &str) -> Result<(), ModelError> {
    let mut v = Violations::new();
    check_alias_name(&mut v, name, member);
    v.into_result()
}

fn check_alias_name(v: &mut Violations, name: &str, member: &str) {
    if name.is_empty() {
        v.push(
            name,
            member,
            "Member must have length greater than or equal to 1",
        );
    } else if name.len() > ALIAS_NAME_MAX {
        v.push(
            name,
            member,
            format!("Member must have length less than or equal to {ALIAS_NAME_MAX}"),
        );
    } else if !ALIAS_CHARS_RE.is_match(name) || name.bytes().all(|b| b.is_ascii_digit()) {
        v.push(
            name,
            member,
            format!("Member must satisfy regular expression pattern: {ALIAS_NAME_PATTERN}"),
        );
    }
}

/// Shape check of a `FunctionVersion` string (pushes a violation, returns nothing).
fn check_version_shape(v: &mut Violations, s: &str, member: &str) {
    if s.is_empty() {
        v.push(
            s,
            member,
            "Member must have length greater than or equal to 1",
        );
    } else if s.len() > VERSION_STRING_MAX {
        v.push(
            s,
            member,
            format!("Member must have length less than or equal to {VERSION_STRING_MAX}"),
        );
    } else if !(s == "$LATEST" || s == "$LATEST.PUBLISHED" || s.bytes().all(|b| b.is_ascii_digit()))
    {
        v.push(
            s,
            member,
            format!("Member must satisfy regular expression pattern: {FUNCTION_VERSION_PATTERN}"),
        );
    }
}

/// A `FunctionVersion` that passed [`check_version_shape`] as a [`Version`].
fn version_value(s: &str) -> Result<Version, ModelError> {
    if s == "$LATEST" {
        return Ok(Version::Latest);
    }
    match s.parse::<u64>() {
        // Version 0 does not exist; it is `$LATEST`'s ordinal in the store, never a number.
        Ok(0) => Err(ModelError::InvalidParameter(
            "Version 0 does not exist: published versions start at 1.".into(),
        )),
        Ok(n) => Ok(Version::Published(n)),
        Err(_) if s == "$LATEST.PUBLISHED" => Err(ModelError::InvalidParameter(
            "$LATEST.PUBLISHED is not supported by Quiver (it belongs to Lambda Managed Instances): use $LATEST or a version number.".into(),
        )),
        Err(_) => Err(ModelError::InvalidParameter(format!(
            "Version {s} is out of range."
        ))),
    }
}

/// Java's rendering of a map entry's double (`2.0`, `0.25`), as Lambda quotes it.
fn java_double(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        x.to_string()
    }
}

/// `{2=0.5}`: the weights map as Lambda quotes it in a violation.
fn quote_weights(m: &BTreeMap<String, Option<f64>>) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|(k, w)| match w {
            Some(w) => format!("{k}={}", java_double(*w)),
            None => format!("{k}=null"),
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Shape check of `RoutingConfig.AdditionalVersionWeights`.
fn check_weights_shape(v: &mut Violations, m: &BTreeMap<String, Option<f64>>) {
    const MEMBER: &str = "routingConfig.additionalVersionWeights";
    let bad_key = m.keys().any(|k| {
        k.is_empty() || k.len() > VERSION_STRING_MAX || !k.bytes().all(|b| b.is_ascii_digit())
    });
    if bad_key {
        v.push(quote_weights(m), MEMBER, VERSION_KEY_CONSTRAINT);
    }
    let bad_value = m
        .values()
        .any(|w| !w.is_some_and(|w| (0.0..=1.0).contains(&w)));
    if bad_value {
        v.push(quote_weights(m), MEMBER, WEIGHT_CONSTRAINT);
    }
}

/// The routing a shape-checked weights map describes; an empty map is no routing.
fn routing_value(m: &BTreeMap<String, Option<f64>>) -> Result<Option<AliasRouting>, ModelError> {
    if m.len() > 1 {
        return Err(ModelError::InvalidParameter(
            "Number of items in AdditionalVersionWeights cannot be greater than 1".into(),
        ));
    }
    let Some((k, w)) = m.iter().next() else {
        return Ok(None);
    };
    let Version::Published(n) = version_value(k)? else {
        unreachable!("keys are digits after the shape check")
    };
    Ok(Some(AliasRouting {
        additional_version: n,
        weight: w.unwrap_or(0.0),
    }))
}

/// The rules that tie the routing to the target version.
fn check_routing(
    function_version: Version,
    routing: Option<&AliasRouting>,
) -> Result<(), ModelError> {
    let Some(r) = routing else { return Ok(()) };
    match function_version {
        Version::Latest => Err(ModelError::InvalidParameter(
            "$LATEST is not supported for an alias pointing to more than 1 version".into(),
        )),
        Version::Published(n) if n == r.additional_version => {
            Err(ModelError::InvalidParameter(format!(
                "Invalid function version {n}. Function version {n} is already included in routing configuration."
            )))
        }
        Version::Published(_) => Ok(()),
    }
}

fn check_description(v: &mut Violations, d: Option<&str>) {
    if let Some(d) = d {
        if d.chars().count() > DESCRIPTION_MAX {
            v.push(
                d,
                "description",
                format!("Member must have length less than or equal to {DESCRIPTION_MAX}"),
            );
        }
    }
}

impl AliasInput {
    /// CreateAlias: `Name` and `FunctionVersion` are required; shape violations are
    /// reported all at once (ValidationException) before the routing rules
    /// (InvalidParameterValueException). Whether the versions exist is the store's check.
    pub fn create(&self) -> Result<AliasDraft, ModelError> {
        let mut v = Violations::new();
        match &self.name {
            Some(n) => check_alias_name(&mut v, n, "name"),
            None => v.push("null", "name", "Member must not be null"),
        }
        match &self.function_version {
            Some(fv) => check_version_shape(&mut v, fv, "functionVersion"),
            None => v.push("null", "functionVersion", "Member must not be null"),
        }
        check_description(&mut v, self.description.as_deref());
        let weights = self.weights();
        if let Some(m) = weights {
            check_weights_shape(&mut v, m);
        }
        v.into_result()?;
        let function_version = version_value(self.function_version.as_deref().unwrap_or(""))?;
        let routing = weights.map(routing_value).transpose()?.flatten();
        check_routing(function_version, routing.as_ref())?;
        Ok(AliasDraft {
            name: self.name.clone().unwrap_or_default(),
            function_version,
            description: self.description.clone().unwrap_or_default(),
            routing,
        })
    }

    /// UpdateAlias: members given replace the current ones; a `RoutingConfig` without
    /// weights (or with an empty map) removes the routing. The rules are checked against
    /// the result, so moving `FunctionVersion` onto the additional version is refused.
    pub fn update(&self, current: &AliasDraft) -> Result<AliasDraft, ModelError> {
        let mut v = Violations::new();
        if let Some(fv) = &self.function_version {
            check_version_shape(&mut v, fv, "functionVersion");
        }
        check_description(&mut v, self.description.as_deref());
        let weights = self.weights();
        if let Some(m) = weights {
            check_weights_shape(&mut v, m);
        }
        v.into_result()?;
        let mut next = current.clone();
        if let Some(fv) = &self.function_version {
            next.function_version = version_value(fv)?;
        }
        if let Some(d) = &self.description {
            next.description = d.clone();
        }
        if self.routing_config.is_some() {
            next.routing = weights.map(routing_value).transpose()?.flatten();
        }
        check_routing(next.function_version, next.routing.as_ref())?;
        Ok(next)
    }

    fn weights(&self) -> Option<&BTreeMap<String, Option<f64>>> {
        self.routing_config
            .as_ref()
            .and_then(|r| r.additional_version_weights.as_ref())
    }
}

/// ListAliases' `FunctionVersion` filter.
pub fn parse_version_filter(raw: &str) -> Result<Version, ModelError> {
    let mut v = Violations::new();
    check_version_shape(&mut v, raw, "functionVersion");
    v.into_result()?;
    version_value(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> AliasInput {
        serde_json::from_str(json).unwrap()
    }

    fn err(r: Result<AliasDraft, ModelError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn names_are_checked_like_lambda() {
        for ok in ["live", "2024-01-02", "a_b-C9", &"x".repeat(128)] {
            assert!(validate_alias_name(ok, "name").is_ok(), "{ok}");
        }
        assert_eq!(
            validate_alias_name("2024", "name").unwrap_err().to_string(),
            "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        );
        for bad in ["", "a b", "$LATEST", &"x".repeat(129)] {
            assert!(
                matches!(
                    validate_alias_name(bad, "name"),
                    Err(ModelError::Validation(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn create_validates_shapes_then_routing_rules() {
        let d = input(r#"{"Name":"live","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":0.3}}}"#)
            .create()
            .unwrap();
        assert_eq!(d.function_version, Version::Published(1));
        assert_eq!(d.description, "");
        assert_eq!(
            d.routing,
            Some(AliasRouting {
                additional_version: 2,
                weight: 0.3
            })
        );
        let plain = input(r#"{"Name":"l","FunctionVersion":"$LATEST","RoutingConfig":{"AdditionalVersionWeights":{}}}"#)
            .create()
            .unwrap();
        assert_eq!(
            (plain.function_version, plain.routing),
            (Version::Latest, None)
        );

        assert_eq!(
            err(input(r#"{"Name":"l","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":2}}}"#).create()),
            "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"
        );
        assert!(err(input(r#"{"Name":"l","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":-0.5}}}"#).create()).contains("Value '{2=-0.5}'"));
        assert!(err(input(r#"{"Name":"l","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"$LATEST":0.5}}}"#).create())
            .contains("Map keys must satisfy constraint"));
        assert_eq!(
            err(input(r#"{"Name":"l","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"1":0.8,"2":0.2}}}"#).create()),
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        );
        assert_eq!(
            err(input(r#"{"Name":"l","FunctionVersion":"$LATEST","RoutingConfig":{"AdditionalVersionWeights":{"1":0.5}}}"#).create()),
            "$LATEST is not supported for an alias pointing to more than 1 version"
        );
        assert_eq!(
            err(input(r#"{"Name":"l","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"1":0.5}}}"#).create()),
            "Invalid function version 1. Function version 1 is already included in routing configuration."
        );
        let msg = err(input(r#"{"FunctionVersion":"x"}"#).create());
        assert!(
            msg.starts_with("2 validation errors detected: Value null at 'name'"),
            "{msg}"
        );
        assert!(msg.contains(r"Value 'x' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\$LATEST(\.PUBLISHED)?|[0-9]+)"), "{msg}");
        assert!(matches!(
            input(r#"{"Name":"l","FunctionVersion":"$LATEST.PUBLISHED"}"#).create(),
            Err(ModelError::InvalidParameter(_))
        ));
        assert!(err(input(&format!(
            r#"{{"Name":"l","FunctionVersion":"1","Description":"{}"}}"#,
            "d".repeat(257)
        ))
        .create())
        .contains("'description'"));
    }

    #[test]
    fn update_merges_then_checks_the_result() {
        let cur = input(r#"{"Name":"l","FunctionVersion":"1","Description":"d","RoutingConfig":{"AdditionalVersionWeights":{"2":0.5}}}"#)
            .create()
            .unwrap();
        // Nothing given: nothing changes.
        assert_eq!(AliasInput::default().update(&cur).unwrap(), cur);
        // Moving onto the additional version conflicts with the kept routing.
        assert!(err(input(r#"{"FunctionVersion":"2"}"#).update(&cur)).contains("already included"));
        // ... unless the routing is removed in the same call.
        let moved = input(r#"{"FunctionVersion":"2","RoutingConfig":{}}"#)
            .update(&cur)
            .unwrap();
        assert_eq!(
            (
                moved.function_version,
                moved.routing,
                moved.description.as_str()
            ),
            (Version::Published(2), None, "d")
        );
        assert!(err(input(r#"{"FunctionVersion":"$LATEST"}"#).update(&cur))
            .starts_with("$LATEST is not supported"));
        let shifted = input(r#"{"RoutingConfig":{"AdditionalVersionWeights":{"3":1.0}}}"#)
            .update(&cur)
            .unwrap();
        assert_eq!(shifted.routing.unwrap().additional_version, 3);
    }

    #[test]
    fn references_cover_target_and_routing() {
        let a = Alias {
            function_name: "f".into(),
            name: "l".into(),
            function_version: Version::Published(1),
            description: String::new(),
            routing: Some(AliasRouting {
                additional_version: 3,
                weight: 0.1,
            }),
            revision_id: "r".into(),
        };
        assert!(a.references(1) && a.references(3) && !a.references(2));
    }

    /// A seeded generator (SplitMix64) so the proportion test is exact and repeatable.
    struct SplitMix(u64);
    impl SplitMix {
        fn next_f64(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn pick_splits_in_the_configured_proportion() {
        assert_eq!(pick(None, 0.0), Pick::Primary);
        assert_eq!(pick(Some(0.0), 0.0), Pick::Primary, "weight 0 never routes");
        assert_eq!(
            pick(Some(1.0), 0.999_999),
            Pick::Additional,
            "weight 1 always routes"
        );
        assert_eq!(pick(Some(0.3), 0.299), Pick::Additional);
        assert_eq!(
            pick(Some(0.3), 0.3),
            Pick::Primary,
            "the boundary belongs to the primary"
        );
        let mut rng = SplitMix(42);
        let n = 100_000;
        let hits = (0..n)
            .filter(|_| pick(Some(0.3), rng.next_f64()) == Pick::Additional)
            .count();
        let share = hits as f64 / n as f64;
        // 99.9 % binomial interval: 0.3 ± 3.29·sqrt(0.3·0.7/n) ≈ ± 0.0048.
        assert!((share - 0.3).abs() < 0.0048, "share {share}");
    }
}
