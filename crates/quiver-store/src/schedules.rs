//! The store's side of EventBridge Scheduler: schedule groups (the `default` one always
//! there) and their schedules, each with the instant it last fired, so the ticker
//! resumes after a restart without firing a missed tick more than once.

use quiver_model::schedule::{Schedule, ScheduleGroup};

use crate::StoreError;

/// A stored schedule and when it last fired (ms since the epoch), if it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    pub schedule: Schedule,
    pub last_fire_ms: Option<i64>,
}

/// A change to one group's tags, applied in the store's transaction.
pub type GroupEdit<'a> = &'a mut dyn FnMut(&mut ScheduleGroup) -> Result<(), StoreError>;

pub trait ScheduleStore {
    /// Stores a new group; [`StoreError::AlreadyExists`] if the name is taken.
    fn create_schedule_group(&self, group: &ScheduleGroup) -> Result<(), StoreError>;
    /// The group, or None.
    fn get_schedule_group(&self, name: &str) -> Result<Option<ScheduleGroup>, StoreError>;
    /// Every group, by name.
    fn list_schedule_groups(&self) -> Result<Vec<ScheduleGroup>, StoreError>;
    /// Applies `edit` to the group in one transaction; [`StoreError::NotFound`] when
    /// there is none.
    fn update_schedule_group(&self, name: &str, edit: GroupEdit<'_>) -> Result<(), StoreError>;
    /// Removes the group and every schedule in it; false when there was none.
    fn delete_schedule_group(&self, name: &str) -> Result<bool, StoreError>;

    /// Stores a new schedule. [`StoreError::NotFound`] if its group does not exist,
    /// [`StoreError::AlreadyExists`] if the group has one of that name.
    fn create_schedule(&self, schedule: &Schedule) -> Result<(), StoreError>;
    /// The schedule, or None.
    fn get_schedule(&self, group: &str, name: &str) -> Result<Option<StoredSchedule>, StoreError>;
    /// Every schedule, by group then name.
    fn list_schedules(&self) -> Result<Vec<StoredSchedule>, StoreError>;
    /// Replaces a schedule's definition (its last fire is kept);
    /// [`StoreError::NotFound`] when there is none.
    fn replace_schedule(&self, schedule: &Schedule) -> Result<(), StoreError>;
    /// Removes it; false when there was none.
    fn delete_schedule(&self, group: &str, name: &str) -> Result<bool, StoreError>;
    /// Notes that the schedule fired at `at_ms`; false when it no longer exists.
    fn record_schedule_fire(&self, group: &str, name: &str, at_ms: i64)
        -> Result<bool, StoreError>;
}
