//! The store's side of function URLs: one config per function (unqualified) or alias,
//! found by its url id on the request path (see [`quiver_model::function_url`]).

use quiver_model::function_url::{FunctionUrlChange, FunctionUrlConfig};

use crate::StoreError;

pub trait UrlStore {
    /// Stores a new config. In one transaction: [`StoreError::NotFound`] if the function
    /// or the alias (`config.qualifier`) does not exist; [`StoreError::AlreadyExists`]
    /// if that function and qualifier have a config already.
    fn create_function_url(&self, config: &FunctionUrlConfig) -> Result<(), StoreError>;
    /// The config of exactly this function and qualifier (None = unqualified), or None.
    fn get_function_url(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Option<FunctionUrlConfig>, StoreError>;
    /// Applies `change` (members given replace the stored ones) and stamps
    /// LastModifiedTime; [`StoreError::NotFound`] when there is no config.
    fn update_function_url(
        &self,
        name: &str,
        qualifier: Option<&str>,
        change: &FunctionUrlChange,
    ) -> Result<FunctionUrlConfig, StoreError>;
    /// Removes it; false when there was none.
    fn delete_function_url(&self, name: &str, qualifier: Option<&str>) -> Result<bool, StoreError>;
    /// One function's configs in qualifier order (unqualified first) after `after`.
    /// [`StoreError::NotFound`] if the function does not exist.
    fn list_function_urls(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FunctionUrlConfig>, StoreError>;
    /// The config a request's url id names (the URL listener's one lookup).
    fn function_url_by_id(&self, url_id: &str) -> Result<Option<FunctionUrlConfig>, StoreError>;
}
