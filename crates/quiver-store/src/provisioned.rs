//! The store's side of provisioned concurrency: the configs per version or alias,
//! checked against the account inside the write's transaction
//! (see [`quiver_model::provisioned`]).

use quiver_model::provisioned::{Account, ProvisionedConfig};

use crate::StoreError;

pub trait ProvisionedStore {
    /// Stores (replacing) the config of `name` for `qualifier` (a version number or an
    /// alias name), stamped now. In the same transaction: [`StoreError::NotFound`] if
    /// the function, version or alias does not exist; [`StoreError::Conflict`] when the
    /// alias's version, or an alias pointing to the version, has its own config; then
    /// `check` sees the account's figures (without the config being replaced) and its
    /// refusal comes back as [`StoreError::Invalid`].
    fn put_provisioned(
        &self,
        name: &str,
        qualifier: &str,
        requested: u32,
        check: &dyn Fn(&Account) -> Result<(), quiver_model::ModelError>,
    ) -> Result<ProvisionedConfig, StoreError>;
    /// The config stored for exactly this qualifier, or None. [`StoreError::NotFound`]
    /// if the function, version or alias does not exist.
    fn get_provisioned(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<Option<ProvisionedConfig>, StoreError>;
    /// Removes it; false when there was none. [`StoreError::NotFound`] as in `get`.
    fn delete_provisioned(&self, name: &str, qualifier: &str) -> Result<bool, StoreError>;
    /// One function's configs in qualifier order after `after`.
    /// [`StoreError::NotFound`] if the function does not exist.
    fn list_provisioned(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ProvisionedConfig>, StoreError>;
    /// Every config of every function (what the server provisions at start and after
    /// any change).
    fn all_provisioned(&self) -> Result<Vec<ProvisionedConfig>, StoreError>;
    /// The configs of functions without a reservation, summed: what provisioned
    /// concurrency takes out of the unreserved pool (GetAccountSettings).
    fn unreserved_provisioned_total(&self) -> Result<u64, StoreError>;
}
