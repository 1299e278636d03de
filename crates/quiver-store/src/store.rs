//! The `Store` trait: every metadata operation the API needs, each one atomic.
//!
//! Backends (SQLite now, PostgreSQL later) implement it and pass the same tests. Calls are
//! synchronous and short; async callers run them on a blocking thread.

use std::collections::{BTreeMap, HashSet};

use quiver_model::{
    Alias, AliasDraft, CodeRef, EffectiveInvokeConfig, EventInvokeConfig, FunctionConfig,
    FunctionVersion, Qualifier, StoredEventInvokeConfig, Version,
};

use crate::StoreError;
use quiver_model::RecursiveLoop;

/// A function to create.
#[derive(Debug, Clone)]
pub struct NewFunction {
    pub name: String,
    pub config: FunctionConfig,
    pub code: CodeRef,
    pub tags: BTreeMap<String, String>,
    /// Also publish version 1.
    pub publish: bool,
}

/// A write to `$LATEST`, and whether to publish it.
#[derive(Debug, Clone)]
pub struct LatestUpdate {
    pub config: FunctionConfig,
    pub code: CodeRef,
    /// The `$LATEST` revision the caller based its change on; the write fails with
    /// [`StoreError::RevisionMismatch`] if another write got there first.
    pub base_revision: String,
    pub publish: bool,
}

/// PublishVersion's preconditions.
#[derive(Debug, Clone, Default)]
pub struct PublishRequest {
    /// Base64 CodeSha256 the caller expects `$LATEST` to have.
    pub code_sha256: Option<String>,
    pub revision_id: Option<String>,
    pub description: Option<String>,
}

/// `$LATEST` after a write, plus the version it published, if any.
#[derive(Debug, Clone)]
pub struct Written {
    pub latest: FunctionVersion,
    pub published: Option<FunctionVersion>,
}

/// Totals for GetAccountSettings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub total_code_size: u64,
    pub function_count: u64,
    pub reserved_concurrency: u64,
}

/// Where a listing continues: (function name, version ordinal) of the last item returned.
pub type Cursor = (String, u64);

/// What an invocation of a name and qualifier may run: the version the qualifier
/// designates and, for an alias with a RoutingConfig, its additional version with the
/// share of invocations that version receives. Which one runs is decided per call
/// (`quiver_model::alias::pick`); the store only says what the choice is between.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub primary: FunctionVersion,
    pub additional: Option<(FunctionVersion, f64)>,
}

/// The one qualifier resolution behind [`Store::resolve`] and [`Store::resolve_routed`]:
/// `with_routing` also loads an alias's additional version.
fn resolution<S: Store + ?Sized>(
    s: &S,
    name: &str,
    qualifier: Option<&str>,
    with_routing: bool,
) -> Result<Option<Resolution>, StoreError> {
    let (version, routing) = match qualifier.map(Qualifier::classify) {
        None | Some(Qualifier::Latest) => (Version::Latest, None),
        Some(Qualifier::Version(n)) => (Version::Published(n), None),
        Some(Qualifier::Alias(a)) => match s.get_alias(name, &a)? {
            Some(alias) => (alias.function_version, alias.routing),
            None => return Ok(None),
        },
    };
    let Some(primary) = s.get_version(name, version)? else {
        return Ok(None);
    };
    let additional = match routing.filter(|_| with_routing) {
        // Versions an alias routes to cannot be deleted, so a missing one means the
        // alias changed in between: the caller's change counter catches that.
        Some(r) => s
            .get_version(name, Version::Published(r.additional_version))?
            .map(|v| (v, r.weight)),
        None => None,
    };
    Ok(Some(Resolution {
        primary,
        additional,
    }))
}

/// Code signing configs are in [`crate::signing::SigningStore`], provisioned concurrency
/// configs in [`crate::provisioned::ProvisionedStore`] and layers in
/// [`crate::layers::LayerStore`], supertraits so every backend has them and `dyn Store`
/// reaches them.
pub trait Store:
    crate::signing::SigningStore
    + crate::provisioned::ProvisionedStore
    + crate::layers::LayerStore
    + crate::urls::UrlStore
    + crate::http_apis::HttpApiStore
    + crate::schedules::ScheduleStore
    + crate::sns::SnsStore
    + crate::event_rules::EventRuleStore
    + crate::mappings::MappingStore
    + Send
    + Sync
    + 'static
{
    /// Creates `$LATEST` (and version 1 if asked). [`StoreError::AlreadyExists`] if the name is taken.
    fn create_function(&self, f: &NewFunction) -> Result<Written, StoreError>;
    /// One version, or None.
    fn get_version(
        &self,
        name: &str,
        version: Version,
    ) -> Result<Option<FunctionVersion>, StoreError>;
    /// One alias, or None (also when the function does not exist).
    fn get_alias(&self, name: &str, alias: &str) -> Result<Option<Alias>, StoreError>;
    /// Creates an alias of function `name` with a new RevisionId.
    /// [`StoreError::VersionNotFound`] names the missing version (the target, also when the
    /// function itself is missing, or the routing's additional version);
    /// [`StoreError::AlreadyExists`] if the function has an alias of that name.
    fn create_alias(&self, name: &str, alias: &AliasDraft) -> Result<Alias, StoreError>;
    /// Replaces alias `alias.name` of `name` with `alias` and a new RevisionId, if its
    /// RevisionId is still `base_revision` ([`StoreError::RevisionMismatch`] otherwise).
    /// [`StoreError::NotFound`] if the alias is gone; versions as in `create_alias`.
    fn update_alias(
        &self,
        name: &str,
        alias: &AliasDraft,
        base_revision: &str,
    ) -> Result<Alias, StoreError>;
    /// Removes an alias (and its EventInvokeConfig); false when there was none.
    /// [`StoreError::NotFound`] if the function does not exist.
    fn delete_alias(&self, name: &str, alias: &str) -> Result<bool, StoreError>;
    /// One function's aliases in name order after `after`, only those whose
    /// `FunctionVersion` is `version` when given. [`StoreError::NotFound`] if the function
    /// does not exist.
    fn list_aliases(
        &self,
        name: &str,
        version: Option<Version>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Alias>, StoreError>;
    /// **The one qualifier resolution**: the version that `name` with `qualifier`
    /// designates — `None` and `$LATEST` are `$LATEST`, digits a published version,
    /// anything else an alias (followed to its version). None when the function, the
    /// version or the alias does not exist. Every read path (Invoke, the async
    /// dispatcher, Get*, event invoke configs) goes through here, so a new kind of
    /// qualifier is taught to the whole server in one place.
    /// An alias with a RoutingConfig resolves to its `FunctionVersion` here (what
    /// Get* show); invocations use [`Store::resolve_routed`].
    fn resolve(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Option<FunctionVersion>, StoreError> {
        Ok(resolution(self, name, qualifier, false)?.map(|r| r.primary))
    }
    /// [`Store::resolve`] for invocations: the same resolution, plus an alias's
    /// additional version and weight, so that the invoker can split calls between them.
    fn resolve_routed(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Option<Resolution>, StoreError> {
        resolution(self, name, qualifier, true)
    }
    /// A number that grows whenever a write to function metadata commits through this
    /// store (functions, versions, aliases, configs). Caches of resolved versions (the
    /// invoker's spec cache) keep an entry only while this number is unchanged, so that
    /// the warm invoke path needs no query at all. Reading it must be cheap (an atomic)
    /// and must not block. A backend shared by several servers must also bump it when
    /// another server writes (e.g. on a change notification).
    fn change_counter(&self) -> u64;
    /// Functions in name order after `after`; `$LATEST` only, or every version when `all_versions`.
    fn list_functions(
        &self,
        all_versions: bool,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<FunctionVersion>, StoreError>;
    /// One function's versions (`$LATEST` first) after version ordinal `after`.
    fn list_versions(
        &self,
        name: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<FunctionVersion>, StoreError>;
    /// Replaces `$LATEST` (new RevisionId and LastModified), optionally publishing it.
    fn update_latest(&self, name: &str, update: &LatestUpdate) -> Result<Written, StoreError>;
    /// Publishes `$LATEST` unless it is unchanged since the last published version, in
    /// which case that version is returned.
    fn publish_version(
        &self,
        name: &str,
        req: &PublishRequest,
    ) -> Result<FunctionVersion, StoreError>;
    /// Removes a function with all its versions, aliases and tags.
    fn delete_function(&self, name: &str) -> Result<(), StoreError>;
    /// Removes one published version; [`StoreError::Conflict`] (Lambda's message, naming
    /// them) while aliases route to it, as target or as additional version.
    fn delete_version(&self, name: &str, version: u64) -> Result<(), StoreError>;
    fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, StoreError>;
    fn tag(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), StoreError>;
    fn untag(&self, name: &str, keys: &[String]) -> Result<(), StoreError>;
    fn reserved_concurrency(&self, name: &str) -> Result<Option<u32>, StoreError>;
    /// Sets (`Some`) or removes (`None`) the reserved concurrency of `name`
    /// (PutFunctionConcurrency / DeleteFunctionConcurrency). A new value is first shown
    /// to `check` with the sum every *other* function reserves (plus the provisioned
    /// concurrency of functions without a reservation), in the same transaction
    /// as the write, so two Puts can never both pass against the same total; `check`'s
    /// refusal comes back as [`StoreError::Invalid`]. Returns the account's new total.
    /// [`StoreError::NotFound`] if the function does not exist.
    fn put_reserved_concurrency(
        &self,
        name: &str,
        reserved: Option<u64>,
        check: &dyn Fn(u64) -> Result<(), quiver_model::ModelError>,
    ) -> Result<u64, StoreError>;
    /// The sum of every function's reserved concurrency (what the unreserved pool is
    /// carved out of). Cheap: the invoker reads it whenever the change counter moved.
    fn total_reserved_concurrency(&self) -> Result<u64, StoreError> {
        Ok(self.usage()?.reserved_concurrency)
    }
    fn usage(&self) -> Result<Usage, StoreError>;
    /// The function's recursive loop setting (`Terminate` until changed).
    /// [`StoreError::NotFound`] if the function does not exist.
    fn recursive_loop(&self, name: &str) -> Result<RecursiveLoop, StoreError>;
    /// Stores it (PutFunctionRecursionConfig). [`StoreError::NotFound`] if the function
    /// does not exist.
    fn put_recursive_loop(&self, name: &str, value: RecursiveLoop) -> Result<(), StoreError>;
    /// Hex SHA-256 of every package some version uses, and of every layer zip a layer
    /// version or a function's `Layers` names (garbage collection).
    fn referenced_code(&self) -> Result<HashSet<String>, StoreError>;

    /// Stores (replacing) the EventInvokeConfig of `name` for the qualifier string
    /// `qualifier`, stamped now. [`StoreError::NotFound`] if the function does not exist.
    /// Whether the qualifier designates something is the caller's check.
    fn put_event_invoke_config(
        &self,
        name: &str,
        qualifier: &str,
        config: &EventInvokeConfig,
    ) -> Result<StoredEventInvokeConfig, StoreError>;
    /// The EventInvokeConfig stored for exactly this qualifier string, or None.
    fn get_event_invoke_config(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<Option<StoredEventInvokeConfig>, StoreError>;
    /// Removes it; false when there was none.
    fn delete_event_invoke_config(&self, name: &str, qualifier: &str) -> Result<bool, StoreError>;
    /// One function's configs in qualifier order after `after`. [`StoreError::NotFound`] if
    /// the function does not exist.
    fn list_event_invoke_configs(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEventInvokeConfig>, StoreError>;

    /// **The async dispatcher's one call**: what applies to an event sent to `name` with the
    /// qualifier it was invoked with (`None` = unqualified = `$LATEST`; an alias name stays
    /// the alias, since configs are per qualifier as in Lambda). Returns the qualifier's
    /// EventInvokeConfig with Lambda's defaults (2 retries, 21600 s, no destinations) filled
    /// in, plus the `DeadLetterConfig` target of the version the qualifier resolves to.
    /// [`StoreError::NotFound`] if the function, version or alias does not exist (any more).
    fn effective_invoke_config(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<EffectiveInvokeConfig, StoreError> {
        let qualifier = qualifier.unwrap_or("$LATEST");
        let executed = self
            .resolve(name, Some(qualifier))?
            .ok_or(StoreError::NotFound)?;
        let stored = self.get_event_invoke_config(name, qualifier)?;
        Ok(EventInvokeConfig::effective(
            stored.as_ref().map(|s| &s.config),
            executed.config.dead_letter_target.as_deref(),
        ))
    }
}
