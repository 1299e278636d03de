//! Lambda's resources and their rules, as pure values.
//!
//! Nothing here does IO: the API layer parses bytes into these types, the store
//! persists them, the engine reads them. Keeping validation pure lets it be unit
//! tested exhaustively and shared by every entry point (API, CLI, file config).
#![forbid(unsafe_code)]

pub mod alias;
pub mod arn;
pub mod code_signing;
pub mod concurrency;
pub mod error;
pub mod event_config;
pub mod event_source_mapping;
pub mod eventstream;
pub mod function;
pub mod function_url;
pub mod http_api;
pub mod http_api_cors;
pub mod http_api_event;
pub mod http_api_route;
pub mod image_function;
pub mod image_ref;
pub mod layer;
pub mod lifecycle;
pub mod limits;
pub mod provisioned;
pub mod recursion;
pub mod runtime;
pub mod runtime_config;
pub mod schedule;
pub mod sns;
pub mod tags;
pub mod url_event;
pub mod url_stream;
pub mod version;

pub use alias::{Alias, AliasDraft, AliasInput, AliasRouting, Pick};
pub use arn::{FunctionRef, NameShape, Partition, Qualifier};
pub use error::{ModelError, Violation, Violations};
pub use event_config::{
    Destination, EffectiveInvokeConfig, EventInvokeConfig, EventInvokeConfigInput,
    StoredEventInvokeConfig,
};
pub use function::{FunctionConfig, FunctionSettings};
pub use image_function::{FunctionImage, ImageConfig, PackageType};
pub use lifecycle::Lifecycle;
pub use recursion::{Chain, RecursiveLoop};
pub use runtime::{AvailableRuntime, ImageRuntime, RuntimeCatalogue, RuntimeKind, RuntimeSource};
pub use runtime_config::PrefixRuntime;
pub use version::{format_iso_millis, format_last_modified, CodeRef, FunctionVersion, Version};
