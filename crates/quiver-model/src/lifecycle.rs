//! Function lifecycle states: `State` and `LastUpdateStatus` as Lambda reports them.
//!
//! Lambda answers a create with `State: Pending` and an update with
//! `LastUpdateStatus: InProgress`, and clients (botocore's `function_active_v2`,
//! `function_updated_v2`, `published_version_active` waiters) poll until the function
//! settles. Quiver has the code tree in place before it answers, so the transition is
//! real but short: the store records the phase and a settle deadline, and the first
//! store access after the deadline applies it (with a new RevisionId, as Lambda does).

/// What Lambda writes in `StateReason` / `LastUpdateStatusReason` while a function is
/// being created or updated (Lambda uses the same sentence for both).
pub const CREATING_REASON: &str = "The function is being created.";
/// `StateReasonCode` / `LastUpdateStatusReasonCode` that goes with [`CREATING_REASON`].
pub const CREATING_REASON_CODE: &str = "Creating";

/// Where a version is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifecycle {
    /// Just created or published: `State: Pending`.
    Creating,
    /// `$LATEST` was just changed: `State: Active`, `LastUpdateStatus: InProgress`.
    Updating,
    /// `State: Active`, `LastUpdateStatus: Successful`.
    #[default]
    Settled,
}

/// The state members of a full FunctionConfiguration, in Lambda's spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFields {
    pub state: &'static str,
    pub state_reason: Option<(&'static str, &'static str)>,
    /// `None` while the function is still being created: Lambda's CreateFunction
    /// answer carries no LastUpdateStatus.
    pub last_update: Option<(&'static str, Option<(&'static str, &'static str)>)>,
}

impl Lifecycle {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Creating => "Creating",
            Lifecycle::Updating => "Updating",
            Lifecycle::Settled => "Settled",
        }
    }

    /// Parses [`Lifecycle::as_str`]; anything else is `None` (a corrupt row).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Creating" => Some(Lifecycle::Creating),
            "Updating" => Some(Lifecycle::Updating),
            "Settled" => Some(Lifecycle::Settled),
            _ => None,
        }
    }

    /// The `State*` / `LastUpdateStatus*` members to write.
    pub fn fields(self) -> StateFields {
        let reason = Some((CREATING_REASON, CREATING_REASON_CODE));
        match self {
            Lifecycle::Creating => StateFields {
                state: "Pending",
                state_reason: reason,
                last_update: None,
            },
            Lifecycle::Updating => StateFields {
                state: "Active",
                state_reason: None,
                last_update: Some(("InProgress", reason)),
            },
            Lifecycle::Settled => StateFields {
                state: "Active",
                state_reason: None,
                last_update: Some(("Successful", None)),
            },
        }
    }

    /// Lambda refuses a second change to a function whose update has not settled yet
    /// (409 ResourceConflictException); this is its message.
    pub fn update_conflict(self, arn: &str) -> Option<String> {
        match self {
            Lifecycle::Updating => Some(format!(
                "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
            )),
            Lifecycle::Creating | Lifecycle::Settled => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_renders() {
        for l in [Lifecycle::Creating, Lifecycle::Updating, Lifecycle::Settled] {
            assert_eq!(Lifecycle::parse(l.as_str()), Some(l));
        }
        assert_eq!(Lifecycle::parse("Active"), None);
        let c = Lifecycle::Creating.fields();
        assert_eq!(c.state, "Pending");
        assert_eq!(
            c.state_reason,
            Some(("The function is being created.", "Creating"))
        );
        assert!(c.last_update.is_none());
        let u = Lifecycle::Updating.fields();
        assert_eq!(u.last_update.unwrap().0, "InProgress");
        assert_eq!(
            Lifecycle::Settled.fields().last_update,
            Some(("Successful", None))
        );
    }

    #[test]
    fn only_an_update_in_progress_conflicts() {
        assert_eq!(
            Lifecycle::Updating.update_conflict("arn:x").as_deref(),
            Some("The operation cannot be performed at this time. An update is in progress for resource: arn:x")
        );
        assert!(Lifecycle::Settled.update_conflict("a").is_none());
        assert!(Lifecycle::Creating.update_conflict("a").is_none());
    }
}
