//! The behaviour every [`Store`] backend must have: one suite, run against each backend
//! (SQLite today; PostgreSQL later runs the same functions).
#![cfg(test)]

use quiver_model::{
    AliasDraft, AliasRouting, CodeRef, Destination, EventInvokeConfig, FunctionConfig, Version,
};

use crate::store::*;
use crate::StoreError;

mod aliases;
mod concurrency;
mod http_apis;
mod provisioned;
mod recursion;
mod signing;
mod urls;
use aliases::{
    alias_listing_pages_and_filters, aliases_round_trip_and_guard_their_versions,
    resolve_follows_aliases_and_their_routing,
};
use concurrency::reserved_concurrency_is_checked_totalled_and_dropped;

/// Runs every check, each on a fresh store from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    create_get_round_trip_and_duplicate(make().as_ref());
    publish_numbers_versions_and_skips_unchanged(make().as_ref());
    listing_pages_by_cursor(make().as_ref());
    delete_cascades_and_tags_update(make().as_ref());
    event_invoke_configs_per_qualifier(make().as_ref());
    effective_invoke_config_defaults_and_dead_letter(make().as_ref());
    resolve_follows_qualifiers(make().as_ref());
    change_counter_grows_on_every_write(make().as_ref());
    aliases_round_trip_and_guard_their_versions(make().as_ref());
    alias_listing_pages_and_filters(make().as_ref());
    resolve_follows_aliases_and_their_routing(make().as_ref());
    reserved_concurrency_is_checked_totalled_and_dropped(make().as_ref());
    recursion::recursive_loop_defaults_round_trips_and_dies_with_the_function(make().as_ref());
    signing::code_signing_configs_round_trip_and_guard_their_functions(make().as_ref());
    provisioned::provisioned_configs_are_checked_and_go_with_what_they_name(make().as_ref());
    urls::function_urls_round_trip_and_go_with_what_they_name(make().as_ref());
    http_apis::http_apis_round_trip_edit_and_delete(make().as_ref());
}

pub fn empty_config() -> FunctionConfig {
    FunctionConfig::default()
}

pub fn config() -> FunctionConfig {
    FunctionConfig {
        runtime: "python3.11".into(),
        handler: "app.handler".into(),
        role: "arn:aws:iam::123456789012:role/r".into(),
        timeout: 3,
        memory_size: 128,
        ephemeral_storage: 512,
        architecture: "x86_64".into(),
        tracing_mode: "PassThrough".into(),
        log_format: "Text".into(),
        ..crate::conformance::empty_config()
    }
}

pub fn code(tag: &str) -> CodeRef {
    CodeRef {
        sha256_hex: format!("{tag:0>64}"),
        sha256_b64: format!("{tag}="),
        size: 10,
    }
}

pub fn new_function(name: &str, publish: bool) -> NewFunction {
    NewFunction {
        name: name.into(),
        config: config(),
        code: code("a"),
        tags: [("team".to_string(), "x".to_string())].into(),
        publish,
    }
}

fn create_get_round_trip_and_duplicate(s: &dyn Store) {
    let w = s.create_function(&new_function("f", false)).unwrap();
    assert!(w.published.is_none());
    let got = s.get_version("f", Version::Latest).unwrap().unwrap();
    assert_eq!(got, w.latest);
    assert_eq!(
        got.last_modified.len(),
        "2020-04-10T19:06:32.563+0000".len()
    );
    assert!(matches!(
        s.create_function(&new_function("f", false)),
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(
        s.tags("f").unwrap().get("team").map(String::as_str),
        Some("x")
    );
    assert!(s.get_version("g", Version::Latest).unwrap().is_none());
}

fn publish_numbers_versions_and_skips_unchanged(s: &dyn Store) {
    let w = s.create_function(&new_function("f", true)).unwrap();
    assert_eq!(w.published.as_ref().unwrap().version, Version::Published(1));
    // unchanged: the same version comes back
    let again = s.publish_version("f", &PublishRequest::default()).unwrap();
    assert_eq!(again.version, Version::Published(1));
    let mut cfg = config();
    cfg.memory_size = 256;
    let u = LatestUpdate {
        config: cfg,
        code: code("a"),
        base_revision: w.latest.revision_id.clone(),
        publish: false,
    };
    let w2 = s.update_latest("f", &u).unwrap();
    assert_ne!(w2.latest.revision_id, w.latest.revision_id);
    // a stale base revision is refused
    assert!(matches!(
        s.update_latest("f", &u),
        Err(StoreError::RevisionMismatch { .. })
    ));
    let bad = PublishRequest {
        code_sha256: Some("nope".into()),
        ..Default::default()
    };
    assert!(matches!(
        s.publish_version("f", &bad),
        Err(StoreError::CodeShaMismatch { .. })
    ));
    let v2 = s
        .publish_version(
            "f",
            &PublishRequest {
                description: Some("second".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (
            v2.version,
            v2.config.memory_size,
            v2.config.description.as_str()
        ),
        (Version::Published(2), 256, "second")
    );
    let versions = s.list_versions("f", None, 50).unwrap();
    let names: Vec<String> = versions.iter().map(|v| v.version.to_string()).collect();
    assert_eq!(names, ["$LATEST", "1", "2"]);
    // numbers are never reused
    s.delete_version("f", 2).unwrap();
    let mut cfg = config();
    cfg.timeout = 9;
    let latest = s.get_version("f", Version::Latest).unwrap().unwrap();
    s.update_latest(
        "f",
        &LatestUpdate {
            config: cfg,
            code: code("b"),
            base_revision: latest.revision_id,
            publish: true,
        },
    )
    .map(|w| assert_eq!(w.published.unwrap().version, Version::Published(3)))
    .unwrap();
    assert!(matches!(
        s.delete_version("f", 2),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_version("f", 0),
        Err(StoreError::NotFound)
    ));
}

fn listing_pages_by_cursor(s: &dyn Store) {
    for i in 0..5 {
        s.create_function(&new_function(&format!("f{i}"), i % 2 == 0))
            .unwrap();
    }
    let page = s.list_functions(false, None, 2).unwrap();
    assert_eq!(
        page.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["f0", "f1"]
    );
    let last = page.last().unwrap();
    let cursor = (last.name.clone(), last.version.ordinal());
    let page = s.list_functions(false, Some(&cursor), 10).unwrap();
    assert_eq!(
        page.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["f2", "f3", "f4"]
    );
    let all = s.list_functions(true, None, 100).unwrap();
    assert_eq!(all.len(), 5 + 3);
    let usage = s.usage().unwrap();
    assert_eq!((usage.function_count, usage.total_code_size), (5, 80));
}

fn delete_cascades_and_tags_update(s: &dyn Store) {
    s.create_function(&new_function("f", true)).unwrap();
    s.tag(
        "f",
        &[
            ("a".to_string(), "1".to_string()),
            ("team".to_string(), "y".to_string()),
        ]
        .into(),
    )
    .unwrap();
    assert_eq!(s.tags("f").unwrap().len(), 2);
    s.untag("f", &["a".to_string(), "missing".to_string()])
        .unwrap();
    assert_eq!(
        s.tags("f").unwrap(),
        [("team".to_string(), "y".to_string())].into()
    );
    assert!(s.referenced_code().unwrap().contains(&code("a").sha256_hex));
    s.delete_function("f").unwrap();
    assert!(matches!(s.delete_function("f"), Err(StoreError::NotFound)));
    assert!(matches!(s.tags("f"), Err(StoreError::NotFound)));
    assert!(s.referenced_code().unwrap().is_empty());
    assert!(s.list_functions(true, None, 100).unwrap().is_empty());
}

fn eic(retries: u32) -> EventInvokeConfig {
    EventInvokeConfig {
        maximum_retry_attempts: Some(retries),
        on_failure: Some("arn:aws:sqs:us-east-1:000000000000:q".into()),
        ..Default::default()
    }
}

fn event_invoke_configs_per_qualifier(s: &dyn Store) {
    assert!(matches!(
        s.put_event_invoke_config("f", "$LATEST", &eic(1)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.list_event_invoke_configs("f", None, 10),
        Err(StoreError::NotFound)
    ));
    s.create_function(&new_function("f", true)).unwrap();
    s.create_function(&new_function("g", false)).unwrap();
    let put = s.put_event_invoke_config("f", "$LATEST", &eic(1)).unwrap();
    assert!(
        put.last_modified > 1.5e9,
        "epoch seconds: {}",
        put.last_modified
    );
    assert_eq!(
        s.get_event_invoke_config("f", "$LATEST").unwrap(),
        Some(put.clone())
    );
    // keyed by the qualifier string: other qualifiers and other functions see nothing
    assert_eq!(s.get_event_invoke_config("f", "1").unwrap(), None);
    assert_eq!(s.get_event_invoke_config("g", "$LATEST").unwrap(), None);
    // put replaces
    let replaced = s
        .put_event_invoke_config("f", "$LATEST", &EventInvokeConfig::default())
        .unwrap();
    assert!(replaced.last_modified >= put.last_modified);
    assert_eq!(
        s.get_event_invoke_config("f", "$LATEST")
            .unwrap()
            .unwrap()
            .config,
        EventInvokeConfig::default()
    );
    s.put_event_invoke_config("f", "1", &eic(0)).unwrap();
    s.put_event_invoke_config("f", "live", &eic(2)).unwrap();
    let all: Vec<String> = s
        .list_event_invoke_configs("f", None, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.qualifier)
        .collect();
    assert_eq!(all, ["$LATEST", "1", "live"]);
    let page: Vec<String> = s
        .list_event_invoke_configs("f", Some("$LATEST"), 1)
        .unwrap()
        .into_iter()
        .map(|c| c.qualifier)
        .collect();
    assert_eq!(page, ["1"]);
    assert!(s
        .list_event_invoke_configs("g", None, 10)
        .unwrap()
        .is_empty());
    // delete: once true, then false
    assert!(s.delete_event_invoke_config("f", "live").unwrap());
    assert!(!s.delete_event_invoke_config("f", "live").unwrap());
    // deleting a version deletes its config; deleting the function deletes them all
    s.delete_version("f", 1).unwrap();
    assert_eq!(s.get_event_invoke_config("f", "1").unwrap(), None);
    assert!(s.get_event_invoke_config("f", "$LATEST").unwrap().is_some());
    s.delete_function("f").unwrap();
    s.create_function(&new_function("f", false)).unwrap();
    assert!(
        s.list_event_invoke_configs("f", None, 10)
            .unwrap()
            .is_empty(),
        "a recreated function starts clean"
    );
}

fn effective_invoke_config_defaults_and_dead_letter(s: &dyn Store) {
    assert!(matches!(
        s.effective_invoke_config("f", None),
        Err(StoreError::NotFound)
    ));
    let mut nf = new_function("f", true);
    nf.config.dead_letter_target = Some("arn:aws:sqs:us-east-1:000000000000:dlq".into());
    s.create_function(&nf).unwrap();
    let d = s.effective_invoke_config("f", None).unwrap();
    assert_eq!(
        (d.maximum_retry_attempts, d.maximum_event_age_in_seconds),
        (2, 21600)
    );
    assert!(d.on_failure.is_none() && d.on_success.is_none());
    assert!(
        matches!(d.dead_letter_queue, Some(Destination::Queue { ref name, .. }) if name == "dlq")
    );
    s.put_event_invoke_config("f", "$LATEST", &eic(0)).unwrap();
    let e = s.effective_invoke_config("f", Some("$LATEST")).unwrap();
    assert_eq!(
        (e.maximum_retry_attempts, e.maximum_event_age_in_seconds),
        (0, 21600)
    );
    assert_eq!(
        e.on_failure.as_ref().map(Destination::arn),
        Some("arn:aws:sqs:us-east-1:000000000000:q")
    );
    // version 1 has no config of its own: defaults, but its own (frozen) DLQ
    let v1 = s.effective_invoke_config("f", Some("1")).unwrap();
    assert_eq!(v1.maximum_retry_attempts, 2);
    assert!(v1.dead_letter_queue.is_some());
    assert!(matches!(
        s.effective_invoke_config("f", Some("7")),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.effective_invoke_config("f", Some("nosuchalias")),
        Err(StoreError::NotFound)
    ));
}

fn resolve_follows_qualifiers(s: &dyn Store) {
    s.create_function(&new_function("f", true)).unwrap();
    let latest = s.resolve("f", None).unwrap().unwrap();
    assert_eq!(latest.version, Version::Latest);
    assert_eq!(
        s.resolve("f", Some("$LATEST"))
            .unwrap()
            .unwrap()
            .revision_id,
        latest.revision_id
    );
    assert_eq!(
        s.resolve("f", Some("1")).unwrap().unwrap().version,
        Version::Published(1)
    );
    assert!(s.resolve("f", Some("2")).unwrap().is_none());
    // No alias of that name: nothing, not an error.
    assert!(s.resolve("f", Some("prod")).unwrap().is_none());
    assert!(s.resolve("nope", None).unwrap().is_none());
}

fn change_counter_grows_on_every_write(s: &dyn Store) {
    let seen = std::cell::Cell::new(s.change_counter());
    let grew = |s: &dyn Store, what: &str| {
        let now = s.change_counter();
        assert!(now > seen.get(), "{what} did not bump the change counter");
        seen.set(now);
    };
    let w = s.create_function(&new_function("f", false)).unwrap();
    grew(s, "create_function");
    // Reads leave it alone.
    s.resolve("f", None).unwrap();
    s.list_functions(false, None, 10).unwrap();
    assert_eq!(
        s.change_counter(),
        seen.get(),
        "a read bumped the change counter"
    );
    let mut cfg = config();
    cfg.memory_size = 256;
    let u = LatestUpdate {
        config: cfg,
        code: code("a"),
        base_revision: w.latest.revision_id.clone(),
        publish: false,
    };
    s.update_latest("f", &u).unwrap();
    grew(s, "update_latest");
    s.publish_version("f", &PublishRequest::default()).unwrap();
    grew(s, "publish_version");
    s.put_event_invoke_config("f", "$LATEST", &eic(1)).unwrap();
    grew(s, "put_event_invoke_config");
    s.delete_version("f", 1).unwrap();
    grew(s, "delete_version");
    s.delete_function("f").unwrap();
    grew(s, "delete_function");
}
