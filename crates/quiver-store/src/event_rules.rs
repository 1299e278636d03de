//! The store's side of EventBridge: buses and their rules (each rule with its targets,
//! [`quiver_events::bridge::Rule`]).

use quiver_events::bridge::{EventBus, Rule};

use crate::StoreError;

/// A change to one stored value, applied inside the store's transaction: it edits in
/// place or refuses with a [`StoreError`] (nothing is written then).
pub type Edit<'a, T> = &'a mut dyn FnMut(&mut T) -> Result<(), StoreError>;

pub trait EventRuleStore {
    /// Stores a new bus; [`StoreError::AlreadyExists`] if the name is taken.
    fn create_event_bus(&self, bus: &EventBus) -> Result<(), StoreError>;
    fn get_event_bus(&self, name: &str) -> Result<Option<EventBus>, StoreError>;
    /// Every bus, by name.
    fn list_event_buses(&self) -> Result<Vec<EventBus>, StoreError>;
    fn update_event_bus(
        &self,
        name: &str,
        edit: Edit<'_, EventBus>,
    ) -> Result<EventBus, StoreError>;
    /// Removes the bus with its rules; false when there was none.
    fn delete_event_bus(&self, name: &str) -> Result<bool, StoreError>;
    /// Creates or replaces a rule (targets and tags of an existing rule are kept by
    /// the caller's value); [`StoreError::NotFound`] if its bus does not exist.
    fn put_event_rule(&self, rule: &Rule) -> Result<(), StoreError>;
    fn get_event_rule(&self, bus: &str, name: &str) -> Result<Option<Rule>, StoreError>;
    /// A bus's rules, by name.
    fn list_event_rules(&self, bus: &str) -> Result<Vec<Rule>, StoreError>;
    /// [`StoreError::NotFound`] when there is no such rule.
    fn update_event_rule(
        &self,
        bus: &str,
        name: &str,
        edit: Edit<'_, Rule>,
    ) -> Result<Rule, StoreError>;
    /// Removes a rule; [`StoreError::Conflict`] while it has targets and `force` is
    /// false; false when there was none.
    fn delete_event_rule(&self, bus: &str, name: &str, force: bool) -> Result<bool, StoreError>;
}
