//! The store's side of Lambda layers: layer versions with their settings and resource
//! policies (docs/wire.md §16). Content lives in the [`crate::CodeStore`] like function
//! code; a function pins the digests it uses in its configuration, and
//! [`crate::Store::referenced_code`] counts both, so garbage collection never removes a
//! layer's tree while a version or a function still needs it.

use quiver_model::layer::{LayerSettings, LayerStatement, LayerVersion};
use quiver_model::CodeRef;

use crate::StoreError;

/// A layer version's resource policy and the revision it is at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPolicy {
    pub statements: Vec<LayerStatement>,
    pub revision_id: String,
}

pub trait LayerStore {
    /// Publishes the next version of `name` (creating the layer), numbered after the
    /// highest ever published.
    fn publish_layer_version(
        &self,
        name: &str,
        code: &CodeRef,
        unzipped_size: u64,
        settings: &LayerSettings,
    ) -> Result<LayerVersion, StoreError>;
    /// One version, or None.
    fn layer_version(&self, name: &str, version: u64) -> Result<Option<LayerVersion>, StoreError>;
    /// Every version of `name`, newest first (empty when there is no such layer).
    fn layer_versions(&self, name: &str) -> Result<Vec<LayerVersion>, StoreError>;
    /// Every version of every layer, in layer name order, newest version first.
    fn all_layer_versions(&self) -> Result<Vec<LayerVersion>, StoreError>;
    /// Removes one version; false when there was none.
    fn delete_layer_version(&self, name: &str, version: u64) -> Result<bool, StoreError>;
    /// The version's policy. [`StoreError::NotFound`] if the version does not exist.
    fn layer_policy(&self, name: &str, version: u64) -> Result<LayerPolicy, StoreError>;
    /// Adds a statement if the policy is still at `base_revision` (when given).
    /// [`StoreError::NotFound`] for no such version, [`StoreError::AlreadyExists`] for a
    /// statement id in use, [`StoreError::RevisionMismatch`] for a stale revision.
    fn add_layer_statement(
        &self,
        name: &str,
        version: u64,
        statement: &LayerStatement,
        base_revision: Option<&str>,
    ) -> Result<LayerPolicy, StoreError>;
    /// Removes statement `sid`; as [`LayerStore::add_layer_statement`], plus
    /// [`StoreError::Conflict`] carrying the sid when there is no such statement.
    fn remove_layer_statement(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        base_revision: Option<&str>,
    ) -> Result<LayerPolicy, StoreError>;
}
