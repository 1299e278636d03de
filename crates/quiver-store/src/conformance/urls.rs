//! The shared suite's check of function URL configs.

use quiver_model::function_url::{
    AuthType, Cors, FunctionUrlChange, FunctionUrlConfig, InvokeMode,
};
use quiver_model::Version;

use crate::conformance::aliases::draft;
use crate::conformance::new_function;
use crate::store::Store;
use crate::StoreError;

fn cfg(name: &str, qualifier: Option<&str>, id: &str) -> FunctionUrlConfig {
    FunctionUrlConfig {
        url_id: id.to_string(),
        function_name: name.to_string(),
        qualifier: qualifier.map(str::to_string),
        auth_type: AuthType::None,
        cors: None,
        invoke_mode: InvokeMode::Buffered,
        creation_time: "2026-01-01T00:00:00.000Z".into(),
        last_modified_time: "2026-01-01T00:00:00.000Z".into(),
    }
}

/// One config per function and qualifier, found by id, updated in place, listed in
/// qualifier order, and gone with its alias or its function.
pub fn function_urls_round_trip_and_go_with_what_they_name(s: &dyn Store) {
    s.create_function(&new_function("f", true)).unwrap();
    s.create_alias("f", &draft("live", Version::Published(1), None))
        .unwrap();
    let a = "a".repeat(32);
    let b = "b".repeat(32);
    assert!(matches!(
        s.create_function_url(&cfg("nope", None, &a)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.create_function_url(&cfg("f", Some("ghost"), &a)),
        Err(StoreError::NotFound)
    ));
    let before = s.change_counter();
    s.create_function_url(&cfg("f", None, &a)).unwrap();
    assert!(s.change_counter() > before, "a create is a write");
    assert!(matches!(
        s.create_function_url(&cfg("f", None, &b)),
        Err(StoreError::AlreadyExists)
    ));
    s.create_function_url(&cfg("f", Some("live"), &b)).unwrap();
    assert_eq!(
        s.function_url_by_id(&b)
            .unwrap()
            .unwrap()
            .qualifier
            .as_deref(),
        Some("live")
    );
    assert_eq!(s.get_function_url("f", None).unwrap().unwrap().url_id, a);

    let cors = Cors {
        allow_origins: Some(vec!["*".into()]),
        ..Default::default()
    };
    let changed = s
        .update_function_url(
            "f",
            None,
            &FunctionUrlChange {
                auth_type: Some(AuthType::AwsIam),
                cors: Some(cors.clone()),
                invoke_mode: Some(InvokeMode::ResponseStream),
            },
        )
        .unwrap();
    assert_eq!(changed.auth_type, AuthType::AwsIam);
    assert_eq!(changed.invoke_mode, InvokeMode::ResponseStream);
    assert_eq!(changed.url_id, a);
    let again = s
        .update_function_url("f", None, &FunctionUrlChange::default())
        .unwrap();
    assert_eq!(
        (again.auth_type, again.cors, again.invoke_mode),
        (AuthType::AwsIam, Some(cors), InvokeMode::ResponseStream)
    );
    assert!(matches!(
        s.update_function_url("f", Some("other"), &FunctionUrlChange::default()),
        Err(StoreError::NotFound)
    ));

    let ids = |after: Option<&str>, n| {
        s.list_function_urls("f", after, n)
            .unwrap()
            .into_iter()
            .map(|c| c.url_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(None, 10), vec![a.clone(), b.clone()]);
    assert_eq!(ids(Some(""), 10), vec![b.clone()]);
    assert!(matches!(
        s.list_function_urls("nope", None, 10),
        Err(StoreError::NotFound)
    ));

    s.delete_alias("f", "live").unwrap();
    assert!(s.function_url_by_id(&b).unwrap().is_none());
    assert!(s.delete_function_url("f", None).unwrap());
    assert!(!s.delete_function_url("f", None).unwrap());
    s.create_function_url(&cfg("f", None, &a)).unwrap();
    s.delete_function("f").unwrap();
    assert!(s.function_url_by_id(&a).unwrap().is_none());
}
