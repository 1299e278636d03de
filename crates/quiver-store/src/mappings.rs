//! The store's side of event source mappings: one value per UUID (quiver-model's
//! [`EventSourceMapping`]) and its tags. The function's existence and the duplicate
//! rule (one mapping per source and function) are checked in the create's transaction.

use std::collections::BTreeMap;

use quiver_model::event_source_mapping::EventSourceMapping;

use crate::StoreError;

/// A change applied to one mapping inside the store's transaction.
pub type MappingEdit<'a> = &'a mut dyn FnMut(&mut EventSourceMapping) -> Result<(), StoreError>;

pub trait MappingStore {
    /// Stores a new mapping. [`StoreError::NotFound`] if the function does not exist;
    /// [`StoreError::AlreadyExists`] if one maps the same source to the same function
    /// and qualifier.
    fn create_mapping(&self, m: &EventSourceMapping) -> Result<(), StoreError>;
    /// The mapping, or None.
    fn get_mapping(&self, uuid: &str) -> Result<Option<EventSourceMapping>, StoreError>;
    /// Every mapping, by UUID.
    fn list_mappings(&self) -> Result<Vec<EventSourceMapping>, StoreError>;
    /// Applies `edit` in one transaction and returns the result;
    /// [`StoreError::NotFound`] when there is none.
    fn update_mapping(
        &self,
        uuid: &str,
        edit: MappingEdit<'_>,
    ) -> Result<EventSourceMapping, StoreError>;
    /// Removes it; false when there was none.
    fn delete_mapping(&self, uuid: &str) -> Result<bool, StoreError>;
    /// Its tags; [`StoreError::NotFound`] when there is no such mapping.
    fn mapping_tags(&self, uuid: &str) -> Result<BTreeMap<String, String>, StoreError>;
    /// Replaces its tags; [`StoreError::NotFound`] when there is no such mapping.
    fn put_mapping_tags(
        &self,
        uuid: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), StoreError>;
}
