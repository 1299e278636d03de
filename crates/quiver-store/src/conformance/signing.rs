//! The shared suite's check of code signing configs.

use quiver_model::code_signing::{CodeSigningConfig, UntrustedArtifactPolicy};

use crate::conformance::new_function;
use crate::store::Store;
use crate::StoreError;

fn csc(n: u32) -> CodeSigningConfig {
    CodeSigningConfig {
        id: format!("csc-{n:017}"),
        description: format!("d{n}"),
        signing_profile_version_arns: vec![
            "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/v".into(),
        ],
        untrusted_artifact_on_deployment: UntrustedArtifactPolicy::Warn,
        last_modified: "2024-01-01T00:00:00.000+0000".into(),
        tags: Default::default(),
    }
}

/// Create/get/list/replace/delete, attach/detach, in-use refusal, and the listing of
/// functions by config.
pub fn code_signing_configs_round_trip_and_guard_their_functions(s: &dyn Store) {
    for n in [2, 1, 3] {
        s.create_code_signing_config(&csc(n)).unwrap();
    }
    assert_eq!(s.code_signing_config(&csc(1).id).unwrap(), Some(csc(1)));
    assert_eq!(s.code_signing_config("csc-nope").unwrap(), None);
    let page = s.list_code_signing_configs(None, 2).unwrap();
    assert_eq!(page, vec![csc(1), csc(2)]);
    assert_eq!(
        s.list_code_signing_configs(Some(&csc(2).id), 2).unwrap(),
        vec![csc(3)]
    );
    let mut changed = csc(2);
    changed.untrusted_artifact_on_deployment = UntrustedArtifactPolicy::Enforce;
    s.replace_code_signing_config(&changed).unwrap();
    assert_eq!(s.code_signing_config(&changed.id).unwrap(), Some(changed));
    assert!(matches!(
        s.replace_code_signing_config(&csc(9)),
        Err(StoreError::CodeSigningConfigNotFound(_))
    ));

    s.create_function(&new_function("f", false)).unwrap();
    s.create_function(&new_function("g", false)).unwrap();
    assert_eq!(s.function_code_signing_config("f").unwrap(), None);
    assert!(matches!(
        s.function_code_signing_config("nope"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_function_code_signing_config("f", Some("csc-nope")),
        Err(StoreError::CodeSigningConfigNotFound(_))
    ));
    assert!(matches!(
        s.set_function_code_signing_config("nope", Some(&csc(1).id)),
        Err(StoreError::NotFound)
    ));
    s.set_function_code_signing_config("g", Some(&csc(1).id))
        .unwrap();
    s.set_function_code_signing_config("f", Some(&csc(1).id))
        .unwrap();
    assert_eq!(
        s.function_code_signing_config("f").unwrap(),
        Some(csc(1).id)
    );
    assert_eq!(
        s.functions_by_code_signing_config(&csc(1).id, None, 1)
            .unwrap(),
        vec!["f"]
    );
    assert_eq!(
        s.functions_by_code_signing_config(&csc(1).id, Some("f"), 5)
            .unwrap(),
        vec!["g"]
    );
    assert!(matches!(
        s.functions_by_code_signing_config("csc-nope", None, 5),
        Err(StoreError::CodeSigningConfigNotFound(_))
    ));
    assert!(matches!(
        s.delete_code_signing_config(&csc(1).id),
        Err(StoreError::Conflict(_))
    ));
    s.set_function_code_signing_config("f", None).unwrap();
    s.delete_function("g").unwrap();
    s.delete_code_signing_config(&csc(1).id).unwrap();
    assert_eq!(s.code_signing_config(&csc(1).id).unwrap(), None);
    assert!(matches!(
        s.delete_code_signing_config(&csc(1).id),
        Err(StoreError::CodeSigningConfigNotFound(_))
    ));
}
