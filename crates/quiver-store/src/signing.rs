//! The store's side of code signing configs: the configs themselves and which config
//! each function uses. Stored and reported only (see [`quiver_model::code_signing`]).

use quiver_model::code_signing::CodeSigningConfig;

use crate::StoreError;

pub trait SigningStore {
    /// Stores a new config (its id is the caller's, fresh).
    fn create_code_signing_config(&self, c: &CodeSigningConfig) -> Result<(), StoreError>;
    /// The config with this id, or None.
    fn code_signing_config(&self, id: &str) -> Result<Option<CodeSigningConfig>, StoreError>;
    /// Configs in id order after `after`.
    fn list_code_signing_configs(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CodeSigningConfig>, StoreError>;
    /// Replaces a stored config (same id). [`StoreError::CodeSigningConfigNotFound`] if
    /// it is gone.
    fn replace_code_signing_config(&self, c: &CodeSigningConfig) -> Result<(), StoreError>;
    /// Removes it. [`StoreError::CodeSigningConfigNotFound`] if there is none;
    /// [`StoreError::Conflict`] while a function uses it (Lambda refuses that too).
    fn delete_code_signing_config(&self, id: &str) -> Result<(), StoreError>;
    /// The id of the config `name` uses. [`StoreError::NotFound`] for no such function.
    fn function_code_signing_config(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Attaches (`Some`) or detaches (`None`) a config. [`StoreError::NotFound`] for no
    /// such function, [`StoreError::CodeSigningConfigNotFound`] for no such config.
    fn set_function_code_signing_config(
        &self,
        name: &str,
        id: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Names of the functions using config `id`, in name order after `after`.
    /// [`StoreError::CodeSigningConfigNotFound`] if the config does not exist.
    fn functions_by_code_signing_config(
        &self,
        id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
}
