//! The store's side of HTTP APIs: each API with its routes, integrations and stages as
//! one value ([`quiver_model::http_api::HttpApi`]), found by its api id.

use quiver_model::http_api::HttpApi;

use crate::StoreError;

/// A change to one stored API, applied in the store's transaction: it edits the value
/// in place or refuses with a [`StoreError`] (nothing is written then).
pub type HttpApiEdit<'a> = &'a mut dyn FnMut(&mut HttpApi) -> Result<(), StoreError>;

pub trait HttpApiStore {
    /// Stores a new API; [`StoreError::AlreadyExists`] if its id is taken.
    fn create_http_api(&self, api: &HttpApi) -> Result<(), StoreError>;
    /// The API with this id, or None.
    fn get_http_api(&self, api_id: &str) -> Result<Option<HttpApi>, StoreError>;
    /// Every API, by id.
    fn list_http_apis(&self) -> Result<Vec<HttpApi>, StoreError>;
    /// Applies `edit` to the stored API and writes the result in one transaction;
    /// [`StoreError::NotFound`] when there is no such API.
    fn update_http_api(&self, api_id: &str, edit: HttpApiEdit<'_>) -> Result<HttpApi, StoreError>;
    /// Removes it; false when there was none.
    fn delete_http_api(&self, api_id: &str) -> Result<bool, StoreError>;
}
