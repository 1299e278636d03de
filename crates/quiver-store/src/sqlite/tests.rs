//! SQLite-specific checks (migrations, files on disk) plus the shared suite.

use super::*;

fn new_fn(name: &str) -> NewFunction {
    crate::conformance::new_function(name, false)
}

#[test]
fn passes_the_shared_store_suite() {
    crate::conformance::run_all(&|| {
        Box::new(SqliteStore::open_in_memory().unwrap().without_transitions())
    });
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    crate::conformance::run_all(&|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::new(
            SqliteStore::open(&dir.path().join(format!("{i}.db")))
                .unwrap()
                .without_transitions(),
        )
    });
}

#[test]
fn upgrading_a_schema_1_database_keeps_functions_and_adds_later_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        // A database written by a Quiver that knew only migration 1, with a config
        // document that predates `dead_letter_target`.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let mut doc = serde_json::to_value(crate::conformance::config()).unwrap();
        doc.as_object_mut().unwrap().remove("dead_letter_target");
        conn.execute(
            "INSERT INTO functions (name, created_at) VALUES ('old', 'x')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO function_versions (function_name, version, config, code_sha256, code_b64, code_size, revision_id, last_modified) \
             VALUES ('old', 0, ?1, 'h', 'b', 1, 'r', 'm')",
            [doc.to_string()],
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as u32);
    // Migration 3 gives the existing function Lambda's default.
    assert_eq!(
        s.recursive_loop("old").unwrap(),
        quiver_model::RecursiveLoop::Terminate
    );
    let v = s.get_version("old", Version::Latest).unwrap().unwrap();
    assert_eq!(v.config.dead_letter_target, None);
    let cfg = EventInvokeConfig {
        maximum_retry_attempts: Some(1),
        ..Default::default()
    };
    s.put_event_invoke_config("old", "$LATEST", &cfg).unwrap();
    assert_eq!(
        s.effective_invoke_config("old", None)
            .unwrap()
            .maximum_retry_attempts,
        1
    );
}

#[test]
fn migrations_are_versioned_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as u32);
        s.create_function(&new_fn("kept")).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as u32);
    assert!(s.get_version("kept", Version::Latest).unwrap().is_some());
    let mode: String = s
        .lock()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // a database from a newer Quiver is refused instead of being misread
    s.lock().pragma_update(None, "user_version", 99).unwrap();
    drop(s);
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn rows_from_before_lifecycles_read_settled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.create_function(&new_fn("f")).unwrap();
        // What migration 0003 leaves on an old row.
        s.lock()
            .execute(
                "UPDATE function_versions SET lifecycle = 'Settled', settles_at = 0",
                [],
            )
            .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let v = s.get_version("f", Version::Latest).unwrap().unwrap();
    assert_eq!(v.lifecycle, Lifecycle::Settled);
}

#[test]
fn writes_start_unsettled_and_the_next_access_settles_them_with_a_new_revision() {
    let s = SqliteStore::open_in_memory().unwrap();
    let w = s.create_function(&new_fn("f")).unwrap();
    assert_eq!(w.latest.lifecycle, Lifecycle::Creating);
    let before = s.change_counter();
    let got = s.get_version("f", Version::Latest).unwrap().unwrap();
    assert_eq!(got.lifecycle, Lifecycle::Settled);
    assert_ne!(got.revision_id, w.latest.revision_id);
    assert!(
        s.change_counter() > before,
        "settling must invalidate caches"
    );
    // Settled rows are not rewritten again.
    let again = s.get_version("f", Version::Latest).unwrap().unwrap();
    assert_eq!(again, got);
    let u = LatestUpdate {
        config: got.config.clone(),
        code: got.code.clone(),
        base_revision: got.revision_id.clone(),
        publish: true,
    };
    let w2 = s.update_latest("f", &u).unwrap();
    assert_eq!(w2.latest.lifecycle, Lifecycle::Updating);
    assert_eq!(w2.published.unwrap().lifecycle, Lifecycle::Creating);
    let all = s.list_versions("f", None, 10).unwrap();
    assert!(all.iter().all(|v| v.lifecycle == Lifecycle::Settled));
}

#[test]
fn an_update_in_progress_refuses_another_change_until_it_settles() {
    let s = SqliteStore::open_in_memory()
        .unwrap()
        .with_settle_ms(60_000);
    s.create_function(&new_fn("f")).unwrap();
    let v = s.get_version("f", Version::Latest).unwrap().unwrap();
    assert_eq!(v.lifecycle, Lifecycle::Creating, "window not over yet");
    let u = LatestUpdate {
        config: v.config.clone(),
        code: v.code.clone(),
        base_revision: v.revision_id.clone(),
        publish: false,
    };
    let w = s.update_latest("f", &u).unwrap();
    assert_eq!(w.latest.lifecycle, Lifecycle::Updating);
    let u2 = LatestUpdate {
        base_revision: w.latest.revision_id.clone(),
        ..u
    };
    assert!(matches!(
        s.update_latest("f", &u2),
        Err(StoreError::UpdateInProgress)
    ));
    assert!(matches!(
        s.publish_version("f", &PublishRequest::default()),
        Err(StoreError::UpdateInProgress)
    ));
    // Deadline passed (moved into the past): settled, and the change goes through.
    s.lock()
        .execute("UPDATE function_versions SET settles_at = 0", [])
        .unwrap();
    let settled = s.get_version("f", Version::Latest).unwrap().unwrap();
    assert_eq!(settled.lifecycle, Lifecycle::Settled);
    let u3 = LatestUpdate {
        base_revision: settled.revision_id,
        ..u2
    };
    s.update_latest("f", &u3).unwrap();
}
