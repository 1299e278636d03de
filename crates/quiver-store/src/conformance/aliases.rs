//! Aliases: create/get/update/delete/list, version guards, routed resolution.

use super::*;

/// `$LATEST` changed (so that the next publish makes a new version) and published.
fn publish_new(s: &dyn Store, name: &str, memory: u32) -> Version {
    let latest = s.get_version(name, Version::Latest).unwrap().unwrap();
    let mut cfg = latest.config.clone();
    cfg.memory_size = memory;
    s.update_latest(
        name,
        &LatestUpdate {
            config: cfg,
            code: latest.code,
            base_revision: latest.revision_id,
            publish: true,
        },
    )
    .unwrap()
    .published
    .unwrap()
    .version
}

pub fn draft(name: &str, version: Version, routing: Option<(u64, f64)>) -> AliasDraft {
    AliasDraft {
        name: name.into(),
        function_version: version,
        description: String::new(),
        routing: routing.map(|(v, w)| AliasRouting {
            additional_version: v,
            weight: w,
        }),
    }
}

pub(super) fn aliases_round_trip_and_guard_their_versions(s: &dyn Store) {
    // A missing function is reported as its missing target version (Lambda's wording).
    assert!(matches!(
        s.create_alias("f", &draft("live", Version::Published(1), None)),
        Err(StoreError::VersionNotFound(Version::Published(1)))
    ));
    s.create_function(&new_function("f", true)).unwrap();
    assert_eq!(publish_new(s, "f", 256), Version::Published(2));
    let before = s.change_counter();
    let live = s
        .create_alias("f", &draft("live", Version::Published(1), Some((2, 0.25))))
        .unwrap();
    assert!(
        s.change_counter() > before,
        "create_alias did not bump the change counter"
    );
    assert_eq!(s.get_alias("f", "live").unwrap().as_ref(), Some(&live));
    assert!(s.get_alias("f", "nope").unwrap().is_none());
    assert!(s.get_alias("g", "live").unwrap().is_none());
    assert!(matches!(
        s.create_alias("f", &draft("live", Version::Latest, None)),
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        s.create_alias("f", &draft("x", Version::Published(9), None)),
        Err(StoreError::VersionNotFound(Version::Published(9)))
    ));
    assert!(matches!(
        s.create_alias("f", &draft("x", Version::Published(1), Some((7, 0.5)))),
        Err(StoreError::VersionNotFound(Version::Published(7)))
    ));
    s.create_alias("f", &draft("edge", Version::Latest, None))
        .unwrap();

    // Neither the target nor the additional version can go while an alias uses them.
    for v in [1, 2] {
        match s.delete_version("f", v) {
            Err(StoreError::Conflict(m)) => assert_eq!(
                m,
                "Unable to delete version because the following aliases reference it: [live]"
            ),
            other => panic!("delete of version {v}: {other:?}"),
        }
    }

    // Update: precondition on the RevisionId; every update gets a new one.
    assert!(matches!(
        s.update_alias("f", &draft("live", Version::Published(2), None), "stale"),
        Err(StoreError::RevisionMismatch { .. })
    ));
    let before = s.change_counter();
    let moved = s
        .update_alias(
            "f",
            &draft("live", Version::Published(2), None),
            &live.revision_id,
        )
        .unwrap();
    assert!(
        s.change_counter() > before,
        "update_alias did not bump the change counter"
    );
    assert_ne!(moved.revision_id, live.revision_id);
    assert_eq!(
        (moved.function_version, moved.routing),
        (Version::Published(2), None)
    );
    assert_eq!(s.get_alias("f", "live").unwrap(), Some(moved.clone()));
    assert!(matches!(
        s.update_alias(
            "f",
            &draft("live", Version::Published(8), None),
            &moved.revision_id
        ),
        Err(StoreError::VersionNotFound(Version::Published(8)))
    ));
    assert!(matches!(
        s.update_alias("f", &draft("gone", Version::Published(1), None), "r"),
        Err(StoreError::NotFound)
    ));
    // Version 1 is free now.
    s.delete_version("f", 1).unwrap();

    // Delete: the alias and its event invoke config; false the second time.
    s.put_event_invoke_config("f", "live", &EventInvokeConfig::default())
        .unwrap();
    let before = s.change_counter();
    assert!(s.delete_alias("f", "live").unwrap());
    assert!(
        s.change_counter() > before,
        "delete_alias did not bump the change counter"
    );
    assert!(!s.delete_alias("f", "live").unwrap());
    assert!(s.get_event_invoke_config("f", "live").unwrap().is_none());
    assert!(matches!(
        s.delete_alias("g", "live"),
        Err(StoreError::NotFound)
    ));
    // Aliases go with their function.
    s.delete_function("f").unwrap();
    s.create_function(&new_function("f", false)).unwrap();
    assert!(s.get_alias("f", "edge").unwrap().is_none());
}

pub(super) fn alias_listing_pages_and_filters(s: &dyn Store) {
    assert!(matches!(
        s.list_aliases("f", None, None, 10),
        Err(StoreError::NotFound)
    ));
    s.create_function(&new_function("f", true)).unwrap();
    publish_new(s, "f", 256);
    for (name, v) in [("d", 2), ("a", 1), ("c", 1), ("b", 2)] {
        s.create_alias("f", &draft(name, Version::Published(v), None))
            .unwrap();
    }
    s.create_alias("f", &draft("e", Version::Latest, None))
        .unwrap();
    let names = |v: Vec<quiver_model::Alias>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_aliases("f", None, None, 2).unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        names(s.list_aliases("f", None, Some("b"), 10).unwrap()),
        ["c", "d", "e"]
    );
    assert_eq!(
        names(
            s.list_aliases("f", Some(Version::Published(1)), None, 10)
                .unwrap()
        ),
        ["a", "c"]
    );
    assert_eq!(
        names(
            s.list_aliases("f", Some(Version::Published(2)), Some("b"), 10)
                .unwrap()
        ),
        ["d"]
    );
    assert_eq!(
        names(
            s.list_aliases("f", Some(Version::Latest), None, 10)
                .unwrap()
        ),
        ["e"]
    );
}

pub(super) fn resolve_follows_aliases_and_their_routing(s: &dyn Store) {
    s.create_function(&new_function("f", true)).unwrap();
    publish_new(s, "f", 256);
    s.create_alias("f", &draft("plain", Version::Published(1), None))
        .unwrap();
    s.create_alias("f", &draft("split", Version::Published(1), Some((2, 0.3))))
        .unwrap();
    s.create_alias("f", &draft("edge", Version::Latest, None))
        .unwrap();
    let v = |q: &str| s.resolve("f", Some(q)).unwrap().unwrap().version;
    assert_eq!(v("plain"), Version::Published(1));
    assert_eq!(
        v("split"),
        Version::Published(1),
        "resolve is the primary version"
    );
    assert_eq!(v("edge"), Version::Latest);
    let r = s.resolve_routed("f", Some("split")).unwrap().unwrap();
    assert_eq!(r.primary.version, Version::Published(1));
    let (extra, weight) = r.additional.unwrap();
    assert_eq!(
        (extra.version, extra.config.memory_size, weight),
        (Version::Published(2), 256, 0.3)
    );
    for q in [None, Some("$LATEST"), Some("1"), Some("plain")] {
        let r = s.resolve_routed("f", q).unwrap().unwrap();
        assert!(r.additional.is_none(), "{q:?}");
    }
    assert!(s.resolve_routed("f", Some("nope")).unwrap().is_none());
}
