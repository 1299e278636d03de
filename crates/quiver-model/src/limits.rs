//! Lambda's quotas for standard functions (docs/wire.md §9), in one place.

pub const MEMORY_MIN_MB: i64 = 128;
pub const MEMORY_MAX_MB: i64 = 10240;
pub const MEMORY_DEFAULT_MB: u32 = 128;
pub const TIMEOUT_MIN_S: i64 = 1;
pub const TIMEOUT_MAX_S: i64 = 900;
pub const TIMEOUT_DEFAULT_S: u32 = 3;
pub const EPHEMERAL_MIN_MB: i64 = 512;
pub const EPHEMERAL_MAX_MB: i64 = 10240;
pub const EPHEMERAL_DEFAULT_MB: u32 = 512;
pub const DESCRIPTION_MAX: usize = 256;
pub const HANDLER_MAX: usize = 128;
pub const FUNCTION_NAME_MAX: usize = 64;
/// Whole-string limit of the `FunctionName` and `UnqualifiedFunctionName` shapes (names,
/// partial and full ARNs).
pub const FUNCTION_REF_MAX: usize = 140;
/// Whole-string limit of the `NamespacedFunctionName` shape (Get*, Delete, Invoke).
pub const NAMESPACED_REF_MAX: usize = 256;
pub const QUALIFIER_MAX: usize = 128;
pub const ALIAS_NAME_MAX: usize = 128;
/// Environment variables: 4 KB over the JSON serialization of the Variables map.
pub const ENV_MAX_BYTES: usize = 4096;
/// A direct upload: 50 MB of zip.
pub const ZIP_MAX_BYTES: u64 = 52_428_800;
/// The request body of CreateFunction, UpdateFunctionCode and PublishLayerVersion: the
/// zip base64-encoded inside JSON (69,905,067 bytes for 50 MB) plus 256 KiB for the rest
/// of the request, the figure Lambda names in its 413 today (it named 69,905,067 until
/// late 2023). A zip over [`ZIP_MAX_BYTES`] inside a body under this limit gets its own
/// 413, [`zipped_too_large`].
pub const CODE_REQUEST_MAX_BYTES: u64 = 70_167_211;
/// Lambda's message for a decoded zip over [`ZIP_MAX_BYTES`] (413
/// RequestEntityTooLargeException, checked before the package is opened).
pub fn zipped_too_large() -> String {
    format!("Zipped size must be smaller than {ZIP_MAX_BYTES} bytes")
}
/// Synchronous invoke payload.
pub const INVOKE_REQUEST_MAX_BYTES: u64 = 6_291_456;
/// Unzipped code, counted as bytes actually written.
pub const UNZIPPED_MAX_BYTES: u64 = 262_144_000;
/// Files in one package; guards against inode bombs (Lambda has no published figure).
pub const ZIP_MAX_ENTRIES: usize = 100_000;
pub const TOTAL_CODE_SIZE: u64 = 80_530_636_800;
pub const CONCURRENT_EXECUTIONS: u64 = 1000;
pub const LIST_MAX_ITEMS: usize = 50;
pub const TAGS_MAX: usize = 50;
pub const TAG_KEY_MAX: usize = 128;
pub const TAG_VALUE_MAX: usize = 256;

/// Environment keys the platform sets itself and a user may not override.
pub const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];
