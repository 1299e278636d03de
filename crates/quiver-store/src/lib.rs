//! Where function metadata and code live.
//!
//! - [`Store`]: the metadata trait; [`SqliteStore`] is the embedded backend.
//! - [`CodeStore`]: content-addressed zip blobs and extracted trees on disk.
//! - [`intake`]: hostile-input zip extraction.
//! - [`ImageStore`]: runtime images, unpacked as hostile input into read-only roots.
#![forbid(unsafe_code)]

pub mod code;
mod conformance;
pub mod event_rules;
pub mod http_apis;
pub mod image;
pub mod intake;
pub mod layers;
pub mod mappings;
pub mod provisioned;
pub mod schedules;
pub mod signing;
pub mod sns;
pub mod sqlite;
pub mod store;
pub mod urls;

pub use code::CodeStore;
pub use event_rules::EventRuleStore;
pub use image::{ImageError, ImageRecord, ImageStore};
pub use intake::IntakeError;
pub use layers::{LayerPolicy, LayerStore};
pub use mappings::MappingStore;
pub use provisioned::ProvisionedStore;
pub use schedules::{ScheduleStore, StoredSchedule};
pub use signing::SigningStore;
pub use sns::SnsStore;
pub use sqlite::SqliteStore;
pub use store::{
    Cursor, LatestUpdate, NewFunction, PublishRequest, Resolution, Store, Usage, Written,
};
pub use urls::UrlStore;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The function (or the version) does not exist.
    #[error("not found")]
    NotFound,
    /// A function (or an alias of the function) with this name exists already.
    #[error("already exists")]
    AlreadyExists,
    /// A version the write refers to (an alias's target or additional version) does not
    /// exist; Lambda names it in its not-found message.
    #[error("version {0} does not exist")]
    VersionNotFound(quiver_model::Version),
    /// The code signing config a write names does not exist (Lambda's
    /// `CodeSigningConfigNotFoundException`, apart from a missing function).
    #[error("code signing config {0} does not exist")]
    CodeSigningConfigNotFound(String),
    /// The caller's RevisionId is stale.
    #[error("revision mismatch: current revision is {current}")]
    RevisionMismatch { current: String },
    /// PublishVersion's CodeSha256 does not match `$LATEST`.
    #[error("CodeSha256 does not match $LATEST ({current})")]
    CodeShaMismatch { current: String },
    /// `$LATEST` has an update in progress (`LastUpdateStatus: InProgress`): Lambda
    /// refuses another change until it settles.
    #[error("an update is in progress")]
    UpdateInProgress,
    /// The change conflicts with other state (e.g. an alias uses the version).
    #[error("{0}")]
    Conflict(String),
    /// The code package was refused.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data cannot be decoded (written by a newer Quiver, or damaged).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A rule of the model refused the write, checked inside its transaction (e.g. a
    /// reservation that would leave the account too little unreserved concurrency).
    #[error(transparent)]
    Invalid(#[from] quiver_model::ModelError),
}
