//! The members each operation's JSON body may carry (Lambda's model). A member outside
//! this list is refused as Lambda refuses it, so a typo (`Memorysize`) never silently
//! becomes a default. Members Quiver accepts but does not act on yet (VPC, layers,
//! dead-letter config, …) are listed in the model, so clients that send them work.

use serde_json::Value;

use crate::error::ApiError;

/// Allowed members of one JSON object, with the allowed members of nested objects.
pub struct Shape {
    pub members: &'static [&'static str],
    pub nested: &'static [(&'static str, &'static Shape)],
}

const CODE: Shape = Shape {
    members: &[
        "ZipFile",
        "S3Bucket",
        "S3Key",
        "S3ObjectVersion",
        "ImageUri",
        "SourceKMSKeyArn",
    ],
    nested: &[],
};
const ENVIRONMENT: Shape = Shape {
    members: &["Variables"],
    nested: &[],
};
const EPHEMERAL: Shape = Shape {
    members: &["Size"],
    nested: &[],
};
const TRACING: Shape = Shape {
    members: &["Mode"],
    nested: &[],
};
const LOGGING: Shape = Shape {
    members: &[
        "LogFormat",
        "ApplicationLogLevel",
        "SystemLogLevel",
        "LogGroup",
    ],
    nested: &[],
};
const DEAD_LETTER: Shape = Shape {
    members: &["TargetArn"],
    nested: &[],
};
const CONFIG_NESTED: &[(&str, &Shape)] = &[
    ("Environment", &ENVIRONMENT),
    ("EphemeralStorage", &EPHEMERAL),
    ("TracingConfig", &TRACING),
    ("LoggingConfig", &LOGGING),
    ("DeadLetterConfig", &DEAD_LETTER),
];

/// CreateFunction.
pub const CREATE_FUNCTION: Shape = Shape {
    members: &[
        "FunctionName",
        "Runtime",
        "Role",
        "Handler",
        "Code",
        "Description",
        "Timeout",
        "MemorySize",
        "Publish",
        "VpcConfig",
        "PackageType",
        "DeadLetterConfig",
        "Environment",
        "KMSKeyArn",
        "TracingConfig",
        "Tags",
        "Layers",
        "FileSystemConfigs",
        "ImageConfig",
        "CodeSigningConfigArn",
        "Architectures",
        "EphemeralStorage",
        "SnapStart",
        "LoggingConfig",
    ],
    nested: &[
        ("Code", &CODE),
        ("Environment", &ENVIRONMENT),
        ("EphemeralStorage", &EPHEMERAL),
        ("TracingConfig", &TRACING),
        ("LoggingConfig", &LOGGING),
        ("DeadLetterConfig", &DEAD_LETTER),
    ],
};

/// UpdateFunctionConfiguration.
pub const UPDATE_CONFIGURATION: Shape = Shape {
    members: &[
        "Role",
        "Handler",
        "Description",
        "Timeout",
        "MemorySize",
        "VpcConfig",
        "Environment",
        "Runtime",
        "DeadLetterConfig",
        "KMSKeyArn",
        "TracingConfig",
        "RevisionId",
        "Layers",
        "FileSystemConfigs",
        "ImageConfig",
        "EphemeralStorage",
        "SnapStart",
        "LoggingConfig",
    ],
    nested: CONFIG_NESTED,
};

/// UpdateFunctionCode.
pub const UPDATE_CODE: Shape = Shape {
    members: &[
        "ZipFile",
        "S3Bucket",
        "S3Key",
        "S3ObjectVersion",
        "ImageUri",
        "Publish",
        "DryRun",
        "RevisionId",
        "Architectures",
        "SourceKMSKeyArn",
    ],
    nested: &[],
};

const LAYER_CONTENT: Shape = Shape {
    members: &[
        "S3Bucket",
        "S3Key",
        "S3ObjectVersion",
        "ZipFile",
        "S3ObjectStorageMode",
    ],
    nested: &[],
};

/// PublishLayerVersion.
pub const PUBLISH_LAYER_VERSION: Shape = Shape {
    members: &[
        "Description",
        "Content",
        "CompatibleRuntimes",
        "LicenseInfo",
        "CompatibleArchitectures",
    ],
    nested: &[("Content", &LAYER_CONTENT)],
};

/// AddLayerVersionPermission.
pub const ADD_LAYER_VERSION_PERMISSION: Shape = Shape {
    members: &["StatementId", "Action", "Principal", "OrganizationId"],
    nested: &[],
};

/// PublishVersion.
pub const PUBLISH_VERSION: Shape = Shape {
    members: &["CodeSha256", "Description", "RevisionId"],
    nested: &[],
};

const DESTINATION: Shape = Shape {
    members: &["Destination"],
    nested: &[],
};
const DESTINATION_CONFIG: Shape = Shape {
    members: &["OnSuccess", "OnFailure"],
    nested: &[("OnSuccess", &DESTINATION), ("OnFailure", &DESTINATION)],
};

/// Put/UpdateFunctionEventInvokeConfig.
pub const EVENT_INVOKE_CONFIG: Shape = Shape {
    members: &[
        "MaximumRetryAttempts",
        "MaximumEventAgeInSeconds",
        "DestinationConfig",
    ],
    nested: &[("DestinationConfig", &DESTINATION_CONFIG)],
};

const ROUTING_CONFIG: Shape = Shape {
    members: &["AdditionalVersionWeights"],
    nested: &[],
};

/// CreateAlias.
pub const CREATE_ALIAS: Shape = Shape {
    members: &["Name", "FunctionVersion", "Description", "RoutingConfig"],
    nested: &[("RoutingConfig", &ROUTING_CONFIG)],
};

/// UpdateAlias.
pub const UPDATE_ALIAS: Shape = Shape {
    members: &[
        "FunctionVersion",
        "Description",
        "RoutingConfig",
        "RevisionId",
    ],
    nested: &[("RoutingConfig", &ROUTING_CONFIG)],
};

/// TagResource.
pub const TAG_RESOURCE: Shape = Shape {
    members: &["Tags"],
    nested: &[],
};

/// PutFunctionConcurrency.
pub const PUT_FUNCTION_CONCURRENCY: Shape = Shape {
    members: &["ReservedConcurrentExecutions"],
    nested: &[],
};

const ALLOWED_PUBLISHERS: Shape = Shape {
    members: &["SigningProfileVersionArns"],
    nested: &[],
};

const CODE_SIGNING_POLICIES: Shape = Shape {
    members: &["UntrustedArtifactOnDeployment"],
    nested: &[],
};

/// CreateCodeSigningConfig.
pub const CREATE_CODE_SIGNING_CONFIG: Shape = Shape {
    members: &[
        "Description",
        "AllowedPublishers",
        "CodeSigningPolicies",
        "Tags",
    ],
    nested: &[
        ("AllowedPublishers", &ALLOWED_PUBLISHERS),
        ("CodeSigningPolicies", &CODE_SIGNING_POLICIES),
    ],
};

/// UpdateCodeSigningConfig.
pub const UPDATE_CODE_SIGNING_CONFIG: Shape = Shape {
    members: &["Description", "AllowedPublishers", "CodeSigningPolicies"],
    nested: &[
        ("AllowedPublishers", &ALLOWED_PUBLISHERS),
        ("CodeSigningPolicies", &CODE_SIGNING_POLICIES),
    ],
};

/// PutFunctionCodeSigningConfig.
pub const PUT_FUNCTION_CODE_SIGNING_CONFIG: Shape = Shape {
    members: &["CodeSigningConfigArn"],
    nested: &[],
};

/// PutFunctionRecursionConfig.
pub const PUT_FUNCTION_RECURSION_CONFIG: Shape = Shape {
    members: &["RecursiveLoop"],
    nested: &[],
};

const CORS: Shape = Shape {
    members: &[
        "AllowCredentials",
        "AllowHeaders",
        "AllowMethods",
        "AllowOrigins",
        "ExposeHeaders",
        "MaxAge",
    ],
    nested: &[],
};

/// Create/UpdateFunctionUrlConfig.
pub const FUNCTION_URL_CONFIG: Shape = Shape {
    members: &["AuthType", "Cors", "InvokeMode"],
    nested: &[("Cors", &CORS)],
};

/// Refuses members the operation does not have. Non-objects are left to the typed parse.
pub fn check(body: &[u8], shape: &Shape) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    // A body that is not JSON is reported by the typed parse with its own message.
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    check_value(&v, shape)
}

fn check_value(v: &Value, shape: &Shape) -> Result<(), ApiError> {
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    for (key, value) in obj {
        if !shape.members.contains(&key.as_str()) {
            return Err(ApiError::InvalidRequestContent(format!(
                "Could not parse request body into json: Unrecognized field \"{key}\", not marked as ignorable"
            )));
        }
        if let Some((_, inner)) = shape.nested.iter().find(|(k, _)| k == key) {
            check_value(value, inner)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_members_pass_unknown_fail() {
        assert!(check(
            br#"{"FunctionName":"f","Code":{"ZipFile":"x"},"Layers":[]}"#,
            &CREATE_FUNCTION
        )
        .is_ok());
        assert!(check(br#"{"Bogus":1}"#, &CREATE_FUNCTION).is_err());
        assert!(check(br#"{"functionname":"f"}"#, &CREATE_FUNCTION).is_err());
        assert!(check(br#"{"Code":{"ZipFile":"x","Extra":1}}"#, &CREATE_FUNCTION).is_err());
        assert!(check(
            br#"{"Environment":{"Variables":{"anything":"goes"}}}"#,
            &UPDATE_CONFIGURATION
        )
        .is_ok());
        assert!(check(b"", &TAG_RESOURCE).is_ok());
        assert!(check(b"not json", &TAG_RESOURCE).is_ok());
        assert!(check(
            br#"{"DeadLetterConfig":{"TargetArn":"x"}}"#,
            &UPDATE_CONFIGURATION
        )
        .is_ok());
        assert!(check(br#"{"DeadLetterConfig":{"Target":"x"}}"#, &CREATE_FUNCTION).is_err());
        assert!(check(
            br#"{"DestinationConfig":{"OnFailure":{"Destination":"x"}}}"#,
            &EVENT_INVOKE_CONFIG
        )
        .is_ok());
        assert!(check(
            br#"{"DestinationConfig":{"OnFailure":{"Arn":"x"}}}"#,
            &EVENT_INVOKE_CONFIG
        )
        .is_err());
        assert!(check(br#"{"Qualifier":"1"}"#, &EVENT_INVOKE_CONFIG).is_err());
    }
}
