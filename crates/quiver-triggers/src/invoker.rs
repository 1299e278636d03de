//! The one way to run a function by name.
//!
//! Sync Invoke, the async dispatcher and every trigger to come hand an [`Invocation`]
//! (function name + qualifier + payload + metadata) to [`Invoker::invoke`]. It resolves
//! the qualifier through the store's one resolution ([`Store::resolve`]), makes sure the
//! code tree exists, builds the engine's frozen [`FunctionSpec`] and runs it.
//!
//! Resolution is cached: the warm path must not pay a `spawn_blocking` hop and an SQLite
//! query per call. An entry is kept while [`Store::change_counter`] is unchanged since
//! it was loaded, so any write to function metadata (update, publish, delete, a new
//! alias target) is seen by the very next invocation — no time-based staleness.
//!
//! An alias with a RoutingConfig resolves ([`Store::resolve_routed`]) to a [`Route`]:
//! both versions' specs and the weight, cached together. The choice between them is made
//! per invocation, here and nowhere else, by [`Route::pick`] with a fresh uniform draw —
//! so sync Invoke and every async attempt through the alias split the same way. An
//! invocation keeps the spec it picked until it ends: moving an alias never disturbs
//! calls in flight.
//!
//! Reserved concurrency rides on the same rule. The function's own reservation is read
//! with the version and cached in its spec (`FunctionSpec::reserved_concurrency`); the
//! sum of all reservations, which the engine's unreserved pool is carved out of, is
//! read on the same cache miss when the counter moved since it was last read, and
//! handed to the engine (`Engine::set_reserved_concurrency`) before the invocation. So
//! PutFunctionConcurrency, DeleteFunctionConcurrency and DeleteFunction take effect
//! from the next invocation, and the warm path still does no query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use quiver_engine::{Engine, EngineError, FunctionSpec, ImageSpec, InvokeRequest, InvokeResult};
use quiver_model::alias::{pick, Pick};
use quiver_model::{Chain, FunctionVersion, Partition, RecursiveLoop};
use quiver_store::{CodeStore, ImageStore, Store, StoreError};

use crate::TriggerError;

/// More distinct (function, qualifier) pairs than this and the cache starts over: a
/// bound against callers cycling through names, far above any real working set.
const CACHE_MAX_ENTRIES: usize = 4096;

/// Who asked for an invocation (for the server's own log lines and, later, metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `Invoke` with `RequestResponse`.
    Api,
    /// The asynchronous dispatcher (`Invoke` with `Event`, destinations).
    Event,
    /// A function URL request (`function_url`).
    Url,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Event => "event",
            Source::Url => "url",
        }
    }
}

/// A function as callers name it: the bare name (ARNs are parsed at the edges, where
/// the caller's wording of errors is known) and the qualifier as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionTarget {
    pub name: String,
    /// `None` = unqualified (`$LATEST`); a version number or an alias name otherwise.
    pub qualifier: Option<String>,
}

/// One invocation to run.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub target: FunctionTarget,
    /// The ARN as invoked (with the qualifier if one was used): the function's
    /// `context.invoked_function_arn`.
    pub invoked_arn: String,
    /// The event, already checked to be JSON.
    pub payload: Bytes,
    /// The request id the function sees (the caller's `x-amzn-RequestId`).
    pub request_id: String,
    /// Decoded client context JSON, if any.
    pub client_context: Option<String>,
    /// Whether the caller wants the last 4 KB of the log.
    pub want_log_tail: bool,
    pub source: Source,
    /// The chain of requests this invocation belongs to (recursive loop detection).
    pub chain: Chain,
}

/// A qualifier resolved to a stored version, with the spec the engine runs for it.
#[derive(Debug)]
pub struct Resolved {
    pub version: FunctionVersion,
    pub spec: FunctionSpec,
}

/// What a target resolved to: one version, or an alias's two with the routing weight.
#[derive(Debug)]
pub struct Route {
    /// The version the qualifier designates (an alias's `FunctionVersion`).
    pub primary: Arc<Resolved>,
    /// An alias's additional version and the share of invocations it gets.
    pub additional: Option<(Arc<Resolved>, f64)>,
}

impl Route {
    /// The version one invocation runs, for a uniform `draw` in [0, 1).
    pub fn pick(&self, draw: f64) -> &Arc<Resolved> {
        match (
            &self.additional,
            pick(self.additional.as_ref().map(|a| a.1), draw),
        ) {
            (Some((extra, _)), Pick::Additional) => extra,
            _ => &self.primary,
        }
    }
}

struct Entry {
    /// The store's change counter read before this entry was loaded.
    changes: u64,
    route: Arc<Route>,
}

struct Inner {
    store: Arc<dyn Store>,
    code: CodeStore,
    partition: Partition,
    /// None in a server started without sandboxes: resolution works, running does not.
    engine: Option<Arc<Engine>>,
    cache: Mutex<HashMap<FunctionTarget, Entry>>,
    /// The change counter at which the engine was last told the total reserved
    /// concurrency (None: never).
    reservations_at: Mutex<Option<u64>>,
    /// The change counter at which the engine was last told what to provision (None:
    /// never); held while reconciling, so reconciliations run one at a time.
    pub(crate) provisioned_at: tokio::sync::Mutex<Option<u64>>,
    /// Where container-image functions' roots are (None: a server without an image
    /// store cannot run them).
    images: Option<ImageStore>,
}

/// Resolves and runs invocations; cheap to clone (all clones share one cache).
#[derive(Clone)]
pub struct Invoker {
    inner: Arc<Inner>,
}

impl Invoker {
    pub fn new(
        store: Arc<dyn Store>,
        code: CodeStore,
        partition: Partition,
        engine: Option<Arc<Engine>>,
    ) -> Invoker {
        Invoker {
            inner: Arc::new(Inner {
                store,
                code,
                partition,
                engine,
                cache: Mutex::new(HashMap::new()),
                reservations_at: Mutex::new(None),
                provisioned_at: tokio::sync::Mutex::new(None),
                images: None,
            }),
        }
    }

    /// The same invoker running container-image functions from `images` (call before
    /// cloning).
    pub fn with_images(mut self, images: ImageStore) -> Invoker {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.images = Some(images);
        }
        self
    }

    pub fn partition(&self) -> &Partition {
        &self.inner.partition
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn engine(&self) -> Option<&Arc<Engine>> {
        self.inner.engine.as_ref()
    }

    pub(crate) fn provisioned_at(&self) -> &tokio::sync::Mutex<Option<u64>> {
        &self.inner.provisioned_at
    }

    /// The version `target` designates now, with its spec (for an alias with a
    /// RoutingConfig, its `FunctionVersion`); [`TriggerError::NotFound`] when the
    /// function, version or alias does not exist.
    pub async fn resolve(&self, target: &FunctionTarget) -> Result<Arc<Resolved>, TriggerError> {
        Ok(self.route(target).await?.primary.clone())
    }

    /// What invocations of `target` choose between now. Served from the cache unless
    /// the store changed since the entry was loaded.
    pub async fn route(&self, target: &FunctionTarget) -> Result<Arc<Route>, TriggerError> {
        let inner = &self.inner;
        let changes = inner.store.change_counter();
        if let Some(e) = lock(&inner.cache).get(target) {
            if e.changes == changes {
                return Ok(e.route.clone());
            }
        }
        let (store, code, t) = (inner.store.clone(), inner.code.clone(), target.clone());
        let want_total =
            inner.engine.is_some() && lock(&inner.reservations_at).is_none_or(|at| at < changes);
        let found = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let Some(r) = store.resolve_routed(&t.name, t.qualifier.as_deref())? else {
                return Ok(None);
            };
            // The trees are normally there; a restart re-creates missing ones, but be
            // sure before the first environment binds one.
            ensure_code(&code, &r.primary)?;
            if let Some((v, _)) = &r.additional {
                ensure_code(&code, v)?;
            }
            let reservations = reservations(store.as_ref(), &t.name, want_total)?;
            Ok(reservations.map(|res| (r, res)))
        })
        .await
        .map_err(|e| TriggerError::Platform(format!("store task failed: {e}")))?
        .map_err(|e| TriggerError::Platform(format!("store: {e}")))?
        .ok_or(TriggerError::NotFound)?;
        let (found, reservations) = found;
        if let (Some(total), Some(engine)) = (reservations.total, inner.engine.as_ref()) {
            // Under the lock, and only forwards: a slower lookup that started at an
            // older counter never overwrites a newer total.
            let mut at = lock(&inner.reservations_at);
            if at.is_none_or(|at| at < changes) {
                engine.set_reserved_concurrency(total);
                *at = Some(changes);
            }
        }
        let own = reservations.own;
        let route = Arc::new(Route {
            primary: self.resolved(found.primary, own),
            additional: found.additional.map(|(v, w)| (self.resolved(v, own), w)),
        });
        let mut cache = lock(&inner.cache);
        if cache.len() >= CACHE_MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(
            target.clone(),
            Entry {
                changes,
                route: route.clone(),
            },
        );
        Ok(route)
    }

    /// The spec of one version; `reserved` is the function's reserved concurrency
    /// (function-wide, the same for every version).
    fn resolved(&self, version: FunctionVersion, reserved: Option<u32>) -> Arc<Resolved> {
        let mut spec = FunctionSpec::from_version(
            &version,
            self.inner.code.tree_path(&version.code.sha256_hex),
            &self.inner.partition,
        );
        spec.reserved_concurrency = reserved;
        if let (Some(image), Some(images)) = (&version.config.image, &self.inner.images) {
            // The image's root is the sandbox's `/`, its own /var/task the code.
            let root = images.root_of(&image.image_id);
            let overrides = &version.config.image_config;
            spec.handler = image.handler(overrides);
            spec.code_dir = root.join("var/task");
            spec.image = Some(ImageSpec {
                argv: image.argv(overrides),
                env: image.env.clone(),
                working_dir: overrides
                    .working_dir(image.working_dir.as_deref())
                    .to_string(),
                root,
            });
        }
        if !version.config.layers.is_empty() {
            spec.opt_dir = Some(self.inner.code.opt_path(&layer_digests(&version)));
        }
        Arc::new(Resolved { version, spec })
    }

    /// Runs one invocation to its end. Function failures of every kind are results
    /// (`function_error` set), never `Err`: `Err` means it did not run — the target does
    /// not exist, it was throttled, or the platform could not run it now.
    pub async fn invoke(&self, call: Invocation) -> Result<InvokeResult, TriggerError> {
        self.invoke_streaming(call, None).await
    }

    /// As [`Invoker::invoke`]; a function that streams its response sends the chunks to
    /// `chunks` as they come (the result's payload is then empty), any other function's
    /// result is the payload as usual (docs/wire.md §23).
    pub async fn invoke_streaming(
        &self,
        call: Invocation,
        chunks: Option<quiver_engine::ChunkSink>,
    ) -> Result<InvokeResult, TriggerError> {
        let route = self.route(&call.target).await?;
        if call.chain.is_recursive_loop() {
            self.check_recursion(&call).await?;
        }
        let resolved = route.pick(fastrand::f64());
        let Some(engine) = self.inner.engine.as_ref() else {
            return Err(TriggerError::Platform(
                "this server runs without an execution engine".into(),
            ));
        };
        let req = InvokeRequest {
            payload: call.payload,
            request_id: call.request_id,
            invoked_arn: call.invoked_arn,
            client_context: call.client_context,
            want_log_tail: call.want_log_tail,
            trace_id: (!call.chain.root.is_empty()).then(|| call.chain.trace_header()),
            chunks,
        };
        // In a task of its own: a caller that goes away (an HTTP client that hangs up
        // mid-request drops this future) must not cancel the invocation halfway, which
        // would leave its environment out of the pool and its memory charge never
        // returned. The caller waits on the task; dropping the wait leaves it running.
        let (engine, resolved) = (engine.clone(), resolved.clone());
        let run = tokio::spawn(async move {
            let r = engine.invoke(&resolved.spec, req).await;
            (r, resolved)
        });
        let (result, resolved) = run
            .await
            .map_err(|e| TriggerError::Platform(format!("invocation task failed: {e}")))?;
        result.map_err(|e| match e {
                EngineError::Throttled { reason, detail } => {
                    tracing::info!(function = %resolved.spec.name, version = %resolved.spec.version, source = call.source.as_str(), %detail, "invocation throttled");
                    TriggerError::Throttled { reason, detail }
                }
                other => TriggerError::Platform(other.to_string()),
            })
    }
}

impl Invoker {
    /// A chain past its 16th invocation runs only if the function allows recursive
    /// loops. Read from the store, not cached: only such deep calls pay for it.
    async fn check_recursion(&self, call: &Invocation) -> Result<(), TriggerError> {
        let (store, name) = (self.inner.store.clone(), call.target.name.clone());
        let setting = tokio::task::spawn_blocking(move || store.recursive_loop(&name))
            .await
            .map_err(|e| TriggerError::Platform(format!("store task failed: {e}")))?;
        match setting {
            Ok(RecursiveLoop::Allow) => Ok(()),
            Ok(RecursiveLoop::Terminate) => {
                tracing::warn!(function = %call.target.name, request_id = %call.request_id, chain = %call.chain.root, depth = call.chain.depth, source = call.source.as_str(), "recursive loop detected; invocation stopped");
                Err(TriggerError::RecursiveLoop {
                    depth: call.chain.depth,
                })
            }
            Err(StoreError::NotFound) => Err(TriggerError::NotFound),
            Err(e) => Err(TriggerError::Platform(format!("store: {e}"))),
        }
    }
}

/// What the engine needs to know of reservations, read with a version.
struct Reservations {
    /// The function's own reserved concurrency.
    own: Option<u32>,
    /// The account's total reserved, when asked for.
    total: Option<u64>,
}

/// The function's own reservation and, if `want_total`, the account's total; None when
/// the function was deleted since its version was read.
fn reservations(
    store: &dyn Store,
    name: &str,
    want_total: bool,
) -> Result<Option<Reservations>, StoreError> {
    let own = match store.reserved_concurrency(name) {
        Ok(r) => r,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let total = if want_total {
        Some(store.total_reserved_concurrency()?)
    } else {
        None
    };
    Ok(Some(Reservations { own, total }))
}

/// The version's layer digests, in the order they are laid over `/opt`.
fn layer_digests(v: &FunctionVersion) -> Vec<&str> {
    v.config
        .layers
        .iter()
        .map(|l| l.sha256_hex.as_str())
        .collect()
}

/// Makes sure a version's code tree and merged layers exist (an image function has
/// neither: its code is the image).
fn ensure_code(code: &CodeStore, v: &FunctionVersion) -> Result<(), StoreError> {
    if v.config.image.is_some() {
        return Ok(());
    }
    code.ensure_tree(&v.code.sha256_hex)?;
    ensure_layers(code, v)
}

/// Builds the merged `/opt` of a version's layers once (a no-op when it exists), so
/// that the spec's `opt_dir` is there before the first environment binds it.
fn ensure_layers(code: &CodeStore, v: &FunctionVersion) -> Result<(), StoreError> {
    if !v.config.layers.is_empty() {
        code.ensure_opt(&layer_digests(v))?;
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_model::{CodeRef, FunctionConfig, Version};
    use quiver_store::{LatestUpdate, NewFunction, SqliteStore};

    /// A real package in the code store (resolution makes sure its tree exists).
    fn package(code: &CodeStore) -> CodeRef {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file("app.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"def handler(e, c):\n    return e\n").unwrap();
        w.finish().unwrap();
        code.ingest(buf.get_ref(), false).unwrap()
    }

    /// Creates `f` and reads it back as a client would: the read settles it (Pending →
    /// Active, a new RevisionId), so what is returned is what invocations will see.
    fn created(store: &dyn Store, f: NewFunction) -> FunctionVersion {
        let name = f.name.clone();
        store.create_function(&f).unwrap();
        store.resolve(&name, None).unwrap().unwrap()
    }

    fn function(name: &str, code: CodeRef) -> NewFunction {
        NewFunction {
            name: name.into(),
            config: FunctionConfig {
                runtime: "python3.11".into(),
                handler: "app.handler".into(),
                memory_size: 128,
                timeout: 3,
                ..FunctionConfig::default()
            },
            code,
            tags: Default::default(),
            publish: true,
        }
    }

    struct Fixture {
        inv: Invoker,
        store: Arc<dyn Store>,
        pkg: CodeRef,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let code = CodeStore::open(dir.path()).unwrap();
        let pkg = package(&code);
        let inv = Invoker::new(
            store.clone(),
            code,
            Partition::new("us-east-1", "000000000000"),
            None,
        );
        Fixture {
            inv,
            store,
            pkg,
            _dir: dir,
        }
    }

    fn target(q: Option<&str>) -> FunctionTarget {
        FunctionTarget {
            name: "f".into(),
            qualifier: q.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn an_image_function_resolves_to_its_image_root_and_command() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let code = CodeStore::open(dir.path()).unwrap();
        let images = ImageStore::open(dir.path()).unwrap();
        let inv = Invoker::new(
            store.clone(),
            code,
            Partition::new("us-east-1", "000000000000"),
            None,
        )
        .with_images(images.clone());
        let image_id = format!("sha256:{}", "cd".repeat(32));
        let config = FunctionConfig {
            memory_size: 128,
            timeout: 3,
            package_type: quiver_model::PackageType::Image,
            image_config: quiver_model::ImageConfig {
                command: Some(vec!["app.other".into()]),
                ..Default::default()
            },
            image: Some(quiver_model::FunctionImage {
                image_id: image_id.clone(),
                entry_point: vec!["/lambda-entrypoint.sh".into()],
                cmd: vec!["app.handler".into()],
                env: vec![("PATH".into(), "/var/lang/bin".into())],
                ..Default::default()
            }),
            ..FunctionConfig::default()
        };
        let no_package = CodeRef {
            sha256_hex: String::new(),
            sha256_b64: String::new(),
            size: 0,
        };
        created(
            store.as_ref(),
            NewFunction {
                config,
                ..function("f", no_package)
            },
        );
        assert!(
            store.referenced_code().unwrap().is_empty(),
            "an image function references no code package"
        );
        let r = inv.resolve(&target(None)).await.unwrap();
        let root = images.root_of(&image_id);
        let img = r.spec.image.as_ref().expect("an image spec");
        assert_eq!(img.root, root);
        assert_eq!(img.argv, ["/lambda-entrypoint.sh", "app.other"]);
        assert_eq!(img.working_dir, "/var/task");
        assert_eq!(img.env, [("PATH".to_string(), "/var/lang/bin".to_string())]);
        assert_eq!(
            r.spec.handler, "app.other",
            "_HANDLER is the overridden CMD[0]"
        );
        assert_eq!(r.spec.code_dir, root.join("var/task"));
    }

    #[tokio::test]
    async fn caches_until_the_store_changes() {
        let Fixture {
            inv,
            store,
            pkg,
            _dir,
        } = fixture();
        let w = created(store.as_ref(), function("f", pkg.clone()));
        let a = inv.resolve(&target(None)).await.unwrap();
        let b = inv.resolve(&target(None)).await.unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "second resolution was not served from the cache"
        );
        assert_eq!(a.spec.revision, w.revision_id);
        assert_eq!(a.spec.memory_mb, 128);

        let mut cfg = a.version.config.clone();
        cfg.memory_size = 256;
        let u = LatestUpdate {
            config: cfg,
            code: pkg,
            base_revision: w.revision_id.clone(),
            publish: false,
        };
        store.update_latest("f", &u).unwrap();
        let w2 = store.resolve("f", None).unwrap().unwrap();
        let c = inv.resolve(&target(None)).await.unwrap();
        assert_eq!(c.spec.revision, w2.revision_id, "update not seen");
        assert_eq!(c.spec.memory_mb, 256);
        // Version 1 is still what it was.
        let v1 = inv.resolve(&target(Some("1"))).await.unwrap();
        assert_eq!(v1.version.version, Version::Published(1));
        assert_eq!(v1.spec.memory_mb, 128);
    }

    #[tokio::test]
    async fn the_reservation_is_cached_with_the_version_and_drains_nothing() {
        let Fixture {
            inv,
            store,
            pkg,
            _dir,
        } = fixture();
        store.create_function(&function("f", pkg)).unwrap();
        let a = inv.resolve(&target(None)).await.unwrap();
        assert_eq!(a.spec.reserved_concurrency, None);
        store
            .put_reserved_concurrency("f", Some(3), &|_| Ok(()))
            .unwrap();
        let b = inv.resolve(&target(None)).await.unwrap();
        assert_eq!(b.spec.reserved_concurrency, Some(3), "Put not seen");
        assert_eq!(a.spec.pool_key(), b.spec.pool_key(), "a reservation drains");
        let v1 = inv.resolve(&target(Some("1"))).await.unwrap();
        assert_eq!(
            v1.spec.reserved_concurrency,
            Some(3),
            "per function, not version"
        );
        let c = inv.resolve(&target(None)).await.unwrap();
        assert!(Arc::ptr_eq(&b, &c), "cached until the store changes");
        store
            .put_reserved_concurrency("f", None, &|_| Ok(()))
            .unwrap();
        let d = inv.resolve(&target(None)).await.unwrap();
        assert_eq!(d.spec.reserved_concurrency, None, "Delete not seen");
    }

    #[tokio::test]
    async fn missing_targets_and_deletes_are_not_found() {
        let Fixture {
            inv,
            store,
            pkg,
            _dir,
        } = fixture();
        assert!(matches!(
            inv.resolve(&target(None)).await,
            Err(TriggerError::NotFound)
        ));
        store.create_function(&function("f", pkg)).unwrap();
        assert!(inv.resolve(&target(None)).await.is_ok());
        assert!(matches!(
            inv.resolve(&target(Some("7"))).await,
            Err(TriggerError::NotFound)
        ));
        assert!(matches!(
            inv.resolve(&target(Some("prod"))).await,
            Err(TriggerError::NotFound)
        ));
        store.delete_function("f").unwrap();
        assert!(matches!(
            inv.resolve(&target(None)).await,
            Err(TriggerError::NotFound)
        ));
    }

    fn alias(name: &str, version: u64, routing: Option<(u64, f64)>) -> quiver_model::AliasDraft {
        quiver_model::AliasDraft {
            name: name.into(),
            function_version: Version::Published(version),
            description: String::new(),
            routing: routing.map(|(v, weight)| quiver_model::AliasRouting {
                additional_version: v,
                weight,
            }),
        }
    }

    #[tokio::test]
    async fn aliases_route_between_two_cached_versions_and_follow_updates() {
        let Fixture {
            inv,
            store,
            pkg,
            _dir,
        } = fixture();
        let w = created(store.as_ref(), function("f", pkg.clone()));
        let mut cfg = w.config.clone();
        cfg.memory_size = 256;
        let u = LatestUpdate {
            config: cfg,
            code: pkg,
            base_revision: w.revision_id.clone(),
            publish: true,
        };
        store.update_latest("f", &u).unwrap();
        // A read settles the update and the new version (as a client's waiter would).
        store.resolve("f", None).unwrap();
        let live = store
            .create_alias("f", &alias("live", 1, Some((2, 0.25))))
            .unwrap();
        let route = inv.route(&target(Some("live"))).await.unwrap();
        let again = inv.route(&target(Some("live"))).await.unwrap();
        assert!(Arc::ptr_eq(&route, &again), "alias route not cached");
        // Draws below the weight run version 2, the rest version 1.
        assert_eq!(route.pick(0.1).spec.version, "2");
        assert_eq!(route.pick(0.1).spec.memory_mb, 256);
        assert_eq!(route.pick(0.25).spec.version, "1");
        assert_eq!(route.pick(0.9).spec.version, "1");
        // resolve() is the alias's FunctionVersion.
        assert_eq!(
            inv.resolve(&target(Some("live")))
                .await
                .unwrap()
                .spec
                .version,
            "1"
        );
        // Moving the alias is seen by the next call.
        store
            .update_alias("f", &alias("live", 2, None), &live.revision_id)
            .unwrap();
        let moved = inv.route(&target(Some("live"))).await.unwrap();
        assert!(moved.additional.is_none());
        assert_eq!(moved.pick(0.1).spec.version, "2");
        // An unqualified target never routes.
        let plain = inv.route(&target(None)).await.unwrap();
        assert_eq!(plain.pick(0.0).spec.version, "$LATEST");
        store.delete_alias("f", "live").unwrap();
        assert!(matches!(
            inv.route(&target(Some("live"))).await,
            Err(TriggerError::NotFound)
        ));
    }

    #[tokio::test]
    async fn without_an_engine_invoke_is_a_platform_error() {
        let Fixture {
            inv,
            store,
            pkg,
            _dir,
        } = fixture();
        store.create_function(&function("f", pkg)).unwrap();
        let call = Invocation {
            target: target(None),
            invoked_arn: inv.partition().function_arn("f", None),
            payload: Bytes::from_static(b"{}"),
            request_id: "r".into(),
            client_context: None,
            want_log_tail: false,
            source: Source::Api,
            chain: Chain::start(0, 0),
        };
        assert!(matches!(
            inv.invoke(call.clone()).await,
            Err(TriggerError::Platform(_))
        ));
        // Past the 16th of its chain, a Terminate function does not run at all...
        let mut deep = call.clone();
        deep.chain.depth = 17;
        assert!(matches!(
            inv.invoke(deep.clone()).await,
            Err(TriggerError::RecursiveLoop { depth: 17 })
        ));
        // ...and an Allow one goes on to the engine (absent here).
        store.put_recursive_loop("f", RecursiveLoop::Allow).unwrap();
        assert!(matches!(
            inv.invoke(deep).await,
            Err(TriggerError::Platform(_))
        ));
    }
}
