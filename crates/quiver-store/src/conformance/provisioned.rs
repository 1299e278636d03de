//! Provisioned concurrency configs: qualifiers that must exist, alias/version
//! conflicts, the account figures a Put is checked against, removal with the version,
//! the alias and the function.

use quiver_model::provisioned::{check_put, Account};

use super::aliases::draft;
use super::*;

fn conflict(r: Result<quiver_model::provisioned::ProvisionedConfig, StoreError>) -> String {
    match r {
        Err(StoreError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub(super) fn provisioned_configs_are_checked_and_go_with_what_they_name(s: &dyn Store) {
    let ok = |_: &Account| Ok(());
    // The account rule of the model, as the API passes it: a limit of 150.
    let rule = |n: u32| move |a: &Account| check_put(&Account { limit: 150, ..*a }, n);
    assert!(matches!(
        s.put_provisioned("f", "1", 1, &ok),
        Err(StoreError::NotFound)
    ));
    s.create_function(&new_function("f", true)).unwrap();
    s.create_function(&new_function("g", true)).unwrap();
    assert!(matches!(
        s.put_provisioned("f", "2", 1, &ok),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.put_provisioned("f", "live", 1, &ok),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.put_provisioned("f", "$LATEST", 1, &ok),
        Err(StoreError::Invalid(_))
    ));
    let before = s.change_counter();
    let c = s.put_provisioned("f", "1", 3, &rule(3)).unwrap();
    assert!(s.change_counter() > before, "a config is a metadata write");
    assert_eq!((c.qualifier.as_str(), c.requested), ("1", 3));
    assert_eq!(s.get_provisioned("f", "1").unwrap(), Some(c.clone()));
    assert_eq!(s.unreserved_provisioned_total().unwrap(), 3);

    // The figures a Put sees leave out the config it replaces.
    let seen = std::cell::Cell::new(Account::default());
    s.put_provisioned("g", "1", 2, &|a| {
        seen.set(*a);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen.get().unreserved_provisioned, 3);
    s.put_provisioned("f", "1", 4, &|a| {
        seen.set(*a);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        (
            seen.get().unreserved_provisioned,
            seen.get().function_others
        ),
        (2, 0)
    );
    // 150 - 2 (g) - 49 leaves 99: refused, and nothing written.
    assert!(matches!(
        s.put_provisioned("f", "1", 49, &rule(49)),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.get_provisioned("f", "1").unwrap().unwrap().requested, 4);

    // Alias and version: never both.
    s.create_alias("f", &draft("live", Version::Published(1), None))
        .unwrap();
    assert_eq!(
        conflict(s.put_provisioned("f", "live", 1, &ok)),
        quiver_model::provisioned::ALIAS_ON_PROVISIONED_VERSION
    );
    assert!(s.delete_provisioned("f", "1").unwrap());
    assert!(!s.delete_provisioned("f", "1").unwrap(), "already gone");
    s.put_provisioned("f", "live", 1, &ok).unwrap();
    assert_eq!(
        conflict(s.put_provisioned("f", "1", 1, &ok)),
        quiver_model::provisioned::VERSION_OF_PROVISIONED_ALIAS
    );
    let listed: Vec<String> = s
        .list_provisioned("f", None, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.qualifier)
        .collect();
    assert_eq!(listed, ["live"]);
    assert!(matches!(
        s.list_provisioned("nope", None, 10),
        Err(StoreError::NotFound)
    ));

    // Deleting what a config names deletes the config.
    assert!(s.delete_alias("f", "live").unwrap());
    assert!(s.list_provisioned("f", None, 10).unwrap().is_empty());
    s.delete_version("g", 1).unwrap();
    assert!(s.all_provisioned().unwrap().is_empty());
    s.put_provisioned("f", "1", 1, &ok).unwrap();
    s.delete_function("f").unwrap();
    assert!(s.all_provisioned().unwrap().is_empty());
    assert_eq!(s.unreserved_provisioned_total().unwrap(), 0);
}
