//! Code signing configs (CreateCodeSigningConfig and friends): the stored shape and its
//! validation.
//!
//! Stored and reported only. Verifying a package's signature needs a signing service
//! (AWS Signer) to check the signing profile versions against, which Quiver does not
//! have; so neither `Warn` nor `Enforce` changes what a deployment accepts.

use serde::{Deserialize, Serialize};

use crate::{ModelError, Violations};

/// `CodeSigningPolicies.UntrustedArtifactOnDeployment`, `Warn` unless given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum UntrustedArtifactPolicy {
    #[default]
    Warn,
    Enforce,
}

impl UntrustedArtifactPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warn => "Warn",
            Self::Enforce => "Enforce",
        }
    }
}

/// One code signing config as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSigningConfig {
    /// `csc-` + 17 lowercase alphanumerics, as Lambda's ARN pattern has it.
    pub id: String,
    pub description: String,
    pub signing_profile_version_arns: Vec<String>,
    pub untrusted_artifact_on_deployment: UntrustedArtifactPolicy,
    /// Lambda's `2020-11-12T23:00:00.000+0000` form.
    pub last_modified: String,
    /// Resource tags (CreateCodeSigningConfig's `Tags`, TagResource on its ARN).
    /// Documents stored before configs had tags read as none.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The members a Create or Update may carry (Update may leave any out).
#[derive(Debug, Default)]
pub struct CodeSigningInput<'a> {
    pub description: Option<&'a str>,
    pub signing_profile_version_arns: Option<&'a [String]>,
    pub policy: Option<&'a str>,
}

/// The validated members: None where the input left one out.
#[derive(Debug, Default)]
pub struct CodeSigningChange {
    pub description: Option<String>,
    pub signing_profile_version_arns: Option<Vec<String>>,
    pub policy: Option<UntrustedArtifactPolicy>,
}

/// Checks the members with Lambda's constraints (Description ≤ 256 characters, 1–20
/// signing profile version ARNs, the policy enum); `require_publishers` for Create,
/// where `AllowedPublishers` is required.
pub fn validate(
    input: &CodeSigningInput<'_>,
    require_publishers: bool,
) -> Result<CodeSigningChange, ModelError> {
    let mut v = Violations::new();
    if let Some(d) = input.description {
        if d.chars().count() > 256 {
            v.push(
                d,
                "description",
                "Member must have length less than or equal to 256",
            );
        }
    }
    match input.signing_profile_version_arns {
        None if require_publishers => v.push(
            "null",
            "allowedPublishers.signingProfileVersionArns",
            "Member must not be null",
        ),
        Some(arns) if arns.is_empty() || arns.len() > 20 => v.push(
            format!("[{}]", arns.join(", ")),
            "allowedPublishers.signingProfileVersionArns",
            if arns.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 20"
            },
        ),
        _ => {}
    }
    let policy = match input.policy {
        None => None,
        Some("Warn") => Some(UntrustedArtifactPolicy::Warn),
        Some("Enforce") => Some(UntrustedArtifactPolicy::Enforce),
        Some(other) => {
            v.push(
                other,
                "codeSigningPolicies.untrustedArtifactOnDeployment",
                "Member must satisfy enum value set: [Warn, Enforce]",
            );
            None
        }
    };
    v.into_result()?;
    Ok(CodeSigningChange {
        description: input.description.map(str::to_string),
        signing_profile_version_arns: input.signing_profile_version_arns.map(<[String]>::to_vec),
        policy,
    })
}

/// The config id an ARN (or a bare id) names, if it has Lambda's form.
pub fn id_from_arn(raw: &str) -> Option<&str> {
    let id = raw.rsplit(':').next()?;
    let ok = raw == id || raw.contains(":code-signing-config:");
    let tail = id.strip_prefix("csc-")?;
    (ok && tail.len() == 17
        && tail
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    .then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_lambda() {
        let arns = vec!["arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/v".to_string()];
        let ok = validate(
            &CodeSigningInput {
                description: Some("d"),
                signing_profile_version_arns: Some(&arns),
                policy: Some("Enforce"),
            },
            true,
        )
        .unwrap();
        assert_eq!(ok.policy, Some(UntrustedArtifactPolicy::Enforce));
        let err = validate(&CodeSigningInput::default(), true).unwrap_err();
        assert!(err.to_string().contains("Member must not be null"));
        assert!(validate(&CodeSigningInput::default(), false).is_ok());
        let err = validate(
            &CodeSigningInput {
                policy: Some("warn"),
                ..Default::default()
            },
            false,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "1 validation error detected: Value 'warn' at 'codeSigningPolicies.untrustedArtifactOnDeployment' failed to satisfy constraint: Member must satisfy enum value set: [Warn, Enforce]");
        let many = vec![arns[0].clone(); 21];
        assert!(validate(
            &CodeSigningInput {
                signing_profile_version_arns: Some(&many),
                ..Default::default()
            },
            true
        )
        .is_err());
    }

    #[test]
    fn ids_come_from_arns() {
        let id = "csc-0123456789abcdefa";
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:code-signing-config:{id}");
        assert_eq!(id_from_arn(&arn), Some(id));
        assert_eq!(id_from_arn(id), Some(id));
        assert_eq!(id_from_arn("csc-short"), None);
        assert_eq!(
            id_from_arn("arn:aws:lambda:us-east-1:1:function:csc-0123456789abcdefa"),
            None
        );
    }
}
