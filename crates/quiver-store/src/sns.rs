//! The store's side of SNS-compatible topics: topics by name, subscriptions by ARN
//! ([`quiver_model::sns`]'s values), a topic's subscriptions removed with it.

use quiver_model::sns::{Subscription, Topic};

use crate::StoreError;

/// A change to one stored value, applied in the store's transaction: it edits the
/// value in place or refuses (nothing is written then).
pub type TopicEdit<'a> = &'a mut dyn FnMut(&mut Topic) -> Result<(), StoreError>;
pub type SubscriptionEdit<'a> = &'a mut dyn FnMut(&mut Subscription) -> Result<(), StoreError>;

pub trait SnsStore {
    /// Stores `topic` unless one of that name exists; returns the stored topic and
    /// whether it is new (CreateTopic is idempotent, the caller compares attributes).
    fn create_topic(&self, topic: &Topic) -> Result<(Topic, bool), StoreError>;
    fn get_topic(&self, name: &str) -> Result<Option<Topic>, StoreError>;
    /// Topics by name, those after `after`, at most `limit`.
    fn list_topics(&self, after: Option<&str>, limit: usize) -> Result<Vec<Topic>, StoreError>;
    /// [`StoreError::NotFound`] when there is no such topic.
    fn update_topic(&self, name: &str, edit: TopicEdit<'_>) -> Result<Topic, StoreError>;
    /// Removes the topic and its subscriptions; false when there was none.
    fn delete_topic(&self, name: &str) -> Result<bool, StoreError>;

    /// Stores a subscription of an existing topic ([`StoreError::NotFound`] if it is
    /// gone). One with the same protocol and endpoint on that topic is returned
    /// instead (Subscribe is idempotent); the bool says whether it is new.
    fn create_subscription(
        &self,
        topic_name: &str,
        sub: &Subscription,
    ) -> Result<(Subscription, bool), StoreError>;
    fn get_subscription(&self, arn: &str) -> Result<Option<Subscription>, StoreError>;
    /// Subscriptions by ARN (of one topic, or all), those after `after`, at most `limit`.
    fn list_subscriptions(
        &self,
        topic_name: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Subscription>, StoreError>;
    fn update_subscription(
        &self,
        arn: &str,
        edit: SubscriptionEdit<'_>,
    ) -> Result<Subscription, StoreError>;
    /// Removes it (counted in its topic's SubscriptionsDeleted); false when there was none.
    fn delete_subscription(&self, arn: &str) -> Result<bool, StoreError>;
}
