//! The behaviour every [`Store`] backend must have: one suite, run against each backend
//! (SQLite today; PostgreSQL later runs the same functions).
#![cfg(test)]

use std::collections::BTreeMap;

use quiver_model::{CodeRef, FunctionConfig, Version};

use crate::store::*;
use crate::StoreError;

/// Runs every check, each on a fresh store from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    create_get_round_trip_and_duplicate(make().as_ref());
    publish_numbers_versions_and_skips_unchanged(make().as_ref());
    listing_pages_by_cursor(make().as_ref());
    delete_cascades_and_tags_update(make().as_ref());
}

pub fn empty_config() -> FunctionConfig {
    FunctionConfig {
        runtime: String::new(),
        handler: String::new(),
        role: String::new(),
        description: String::new(),
        timeout: 0,
        memory_size: 0,
        environment: BTreeMap::new(),
        ephemeral_storage: 0,
        architecture: String::new(),
        tracing_mode: String::new(),
        log_format: String::new(),
        application_log_level: None,
        system_log_level: None,
        log_group: None,
    }
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
    CodeRef { sha256_hex: format!("{tag:0>64}"), sha256_b64: format!("{tag}="), size: 10 }
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
    assert_eq!(got.last_modified.len(), "2020-04-10T19:06:32.563+0000".len());
    assert!(matches!(s.create_function(&new_function("f", false)), Err(StoreError::AlreadyExists)));
    assert_eq!(s.tags("f").unwrap().get("team").map(String::as_str), Some("x"));
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
    let u = LatestUpdate { config: cfg, code: code("a"), base_revision: w.latest.revision_id.clone(), publish: false };
    let w2 = s.update_latest("f", &u).unwrap();
    assert_ne!(w2.latest.revision_id, w.latest.revision_id);
    // a stale base revision is refused
    assert!(matches!(s.update_latest("f", &u), Err(StoreError::RevisionMismatch { .. })));
    let bad = PublishRequest { code_sha256: Some("nope".into()), ..Default::default() };
    assert!(matches!(s.publish_version("f", &bad), Err(StoreError::CodeShaMismatch { .. })));
    let v2 = s
        .publish_version("f", &PublishRequest { description: Some("second".into()), ..Default::default() })
        .unwrap();
    assert_eq!((v2.version, v2.config.memory_size, v2.config.description.as_str()), (Version::Published(2), 256, "second"));
    let versions = s.list_versions("f", None, 50).unwrap();
    let names: Vec<String> = versions.iter().map(|v| v.version.to_string()).collect();
    assert_eq!(names, ["$LATEST", "1", "2"]);
    // numbers are never reused
    s.delete_version("f", 2).unwrap();
    let mut cfg = config();
    cfg.timeout = 9;
    let latest = s.get_version("f", Version::Latest).unwrap().unwrap();
    s.update_latest("f", &LatestUpdate { config: cfg, code: code("b"), base_revision: latest.revision_id, publish: true })
        .map(|w| assert_eq!(w.published.unwrap().version, Version::Published(3)))
        .unwrap();
    assert!(matches!(s.delete_version("f", 2), Err(StoreError::NotFound)));
    assert!(matches!(s.delete_version("f", 0), Err(StoreError::NotFound)));
}

fn listing_pages_by_cursor(s: &dyn Store) {
    for i in 0..5 {
        s.create_function(&new_function(&format!("f{i}"), i % 2 == 0)).unwrap();
    }
    let page = s.list_functions(false, None, 2).unwrap();
    assert_eq!(page.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["f0", "f1"]);
    let last = page.last().unwrap();
    let cursor = (last.name.clone(), last.version.ordinal());
    let page = s.list_functions(false, Some(&cursor), 10).unwrap();
    assert_eq!(page.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["f2", "f3", "f4"]);
    let all = s.list_functions(true, None, 100).unwrap();
    assert_eq!(all.len(), 5 + 3);
    let usage = s.usage().unwrap();
    assert_eq!((usage.function_count, usage.total_code_size), (5, 80));
}

fn delete_cascades_and_tags_update(s: &dyn Store) {
    s.create_function(&new_function("f", true)).unwrap();
    s.tag("f", &[("a".to_string(), "1".to_string()), ("team".to_string(), "y".to_string())].into()).unwrap();
    assert_eq!(s.tags("f").unwrap().len(), 2);
    s.untag("f", &["a".to_string(), "missing".to_string()]).unwrap();
    assert_eq!(s.tags("f").unwrap(), [("team".to_string(), "y".to_string())].into());
    assert!(s.referenced_code().unwrap().contains(&code("a").sha256_hex));
    s.delete_function("f").unwrap();
    assert!(matches!(s.delete_function("f"), Err(StoreError::NotFound)));
    assert!(matches!(s.tags("f"), Err(StoreError::NotFound)));
    assert!(s.referenced_code().unwrap().is_empty());
    assert!(s.list_functions(true, None, 100).unwrap().is_empty());
}

