//! Layers in SQLite (migration 0007_layers.sql). Each write is one IMMEDIATE
//! transaction, so version numbers and policy revisions are decided where they are
//! written.

use quiver_model::layer::{LayerSettings, LayerStatement, LayerVersion};
use quiver_model::CodeRef;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{new_revision, now, SqliteStore};
use crate::layers::{LayerPolicy, LayerStore};
use crate::StoreError;

const COLS: &str =
    "layer_name, version, code_sha256, code_b64, code_size, unzipped_size, settings, created_date";

fn row(r: &Row<'_>) -> rusqlite::Result<(LayerVersion, String)> {
    let (version, size, unzipped): (i64, i64, i64) = (r.get(1)?, r.get(4)?, r.get(5)?);
    Ok((
        LayerVersion {
            name: r.get(0)?,
            version: version as u64,
            code: CodeRef {
                sha256_hex: r.get(2)?,
                sha256_b64: r.get(3)?,
                size: size as u64,
            },
            unzipped_size: unzipped as u64,
            settings: LayerSettings::default(),
            created: r.get(7)?,
        },
        r.get(6)?,
    ))
}

fn decode((mut v, settings): (LayerVersion, String)) -> Result<LayerVersion, StoreError> {
    v.settings = serde_json::from_str(&settings)
        .map_err(|e| StoreError::Corrupt(format!("layer {}:{}: {e}", v.name, v.version)))?;
    Ok(v)
}

fn query(
    c: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<LayerVersion>, StoreError> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(args, row)?;
    rows.map(|r| decode(r?)).collect()
}

fn policy_tx(c: &Connection, name: &str, version: u64) -> Result<LayerPolicy, StoreError> {
    let found: Option<(String, String)> = c
        .query_row(
            "SELECT policy, policy_revision FROM layer_versions WHERE layer_name = ?1 AND version = ?2",
            params![name, version as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (doc, revision_id) = found.ok_or(StoreError::NotFound)?;
    let statements = serde_json::from_str(&doc)
        .map_err(|e| StoreError::Corrupt(format!("policy of layer {name}:{version}: {e}")))?;
    Ok(LayerPolicy {
        statements,
        revision_id,
    })
}

impl SqliteStore {
    /// Reads the policy, lets `change` edit its statements, and writes it back with a
    /// new revision, all in one transaction.
    fn edit_policy(
        &self,
        name: &str,
        version: u64,
        base_revision: Option<&str>,
        change: impl FnOnce(&mut Vec<LayerStatement>) -> Result<(), StoreError>,
    ) -> Result<LayerPolicy, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut p = policy_tx(&tx, name, version)?;
        if let Some(r) = base_revision {
            if r != p.revision_id {
                return Err(StoreError::RevisionMismatch {
                    current: p.revision_id,
                });
            }
        }
        change(&mut p.statements)?;
        p.revision_id = new_revision();
        let doc =
            serde_json::to_string(&p.statements).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "UPDATE layer_versions SET policy = ?3, policy_revision = ?4 WHERE layer_name = ?1 AND version = ?2",
            params![name, version as i64, doc, p.revision_id],
        )?;
        tx.commit()?;
        Ok(p)
    }
}

impl LayerStore for SqliteStore {
    fn publish_layer_version(
        &self,
        name: &str,
        code: &CodeRef,
        unzipped_size: u64,
        settings: &LayerSettings,
    ) -> Result<LayerVersion, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO layers (name) VALUES (?1) ON CONFLICT(name) DO NOTHING",
            [name],
        )?;
        let last: i64 = tx.query_row(
            "UPDATE layers SET last_version = last_version + 1 WHERE name = ?1 RETURNING last_version",
            [name],
            |r| r.get(0),
        )?;
        let v = LayerVersion {
            name: name.to_string(),
            version: last as u64,
            code: code.clone(),
            unzipped_size,
            settings: settings.clone(),
            created: now(),
        };
        let doc =
            serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            &format!("INSERT INTO layer_versions ({COLS}, policy_revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                v.name,
                last,
                code.sha256_hex,
                code.sha256_b64,
                code.size as i64,
                unzipped_size as i64,
                doc,
                v.created,
                new_revision()
            ],
        )?;
        tx.commit()?;
        Ok(v)
    }

    fn layer_version(&self, name: &str, version: u64) -> Result<Option<LayerVersion>, StoreError> {
        let sql =
            format!("SELECT {COLS} FROM layer_versions WHERE layer_name = ?1 AND version = ?2");
        Ok(query(&self.lock(), &sql, params![name, version as i64])?
            .into_iter()
            .next())
    }

    fn layer_versions(&self, name: &str) -> Result<Vec<LayerVersion>, StoreError> {
        let sql = format!(
            "SELECT {COLS} FROM layer_versions WHERE layer_name = ?1 ORDER BY version DESC"
        );
        query(&self.lock(), &sql, [name])
    }

    fn all_layer_versions(&self) -> Result<Vec<LayerVersion>, StoreError> {
        let sql = format!("SELECT {COLS} FROM layer_versions ORDER BY layer_name, version DESC");
        query(&self.lock(), &sql, [])
    }

    fn delete_layer_version(&self, name: &str, version: u64) -> Result<bool, StoreError> {
        let n = self.write().execute(
            "DELETE FROM layer_versions WHERE layer_name = ?1 AND version = ?2",
            params![name, version as i64],
        )?;
        Ok(n > 0)
    }

    fn layer_policy(&self, name: &str, version: u64) -> Result<LayerPolicy, StoreError> {
        policy_tx(&self.lock(), name, version)
    }

    fn add_layer_statement(
        &self,
        name: &str,
        version: u64,
        statement: &LayerStatement,
        base_revision: Option<&str>,
    ) -> Result<LayerPolicy, StoreError> {
        self.edit_policy(name, version, base_revision, |s| {
            if s.iter().any(|x| x.sid == statement.sid) {
                return Err(StoreError::AlreadyExists);
            }
            s.push(statement.clone());
            Ok(())
        })
    }

    fn remove_layer_statement(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        base_revision: Option<&str>,
    ) -> Result<LayerPolicy, StoreError> {
        self.edit_policy(name, version, base_revision, |s| {
            let before = s.len();
            s.retain(|x| x.sid != sid);
            if s.len() == before {
                return Err(StoreError::Conflict(sid.to_string()));
            }
            Ok(())
        })
    }
}

/// Digests of every layer zip a layer version or a function configuration names.
pub(super) fn referenced(c: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = c.prepare(
        "SELECT code_sha256 FROM layer_versions \
         UNION SELECT json_extract(l.value, '$.sha256_hex') \
         FROM function_versions f, json_each(f.config, '$.layers') l",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, Option<String>>(0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(s) = r? {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: u8) -> CodeRef {
        CodeRef {
            sha256_hex: format!("{n:02x}").repeat(32),
            sha256_b64: "b64".into(),
            size: 10,
        }
    }

    #[test]
    fn versions_are_never_reused_and_policies_have_revisions() {
        let s = SqliteStore::open_in_memory().unwrap();
        let set = LayerSettings::default();
        assert_eq!(
            s.publish_layer_version("l", &code(1), 5, &set)
                .unwrap()
                .version,
            1
        );
        assert_eq!(
            s.publish_layer_version("l", &code(2), 5, &set)
                .unwrap()
                .version,
            2
        );
        assert!(s.delete_layer_version("l", 2).unwrap());
        assert!(!s.delete_layer_version("l", 2).unwrap());
        assert_eq!(
            s.publish_layer_version("l", &code(3), 5, &set)
                .unwrap()
                .version,
            3
        );
        let all: Vec<u64> = s
            .layer_versions("l")
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(all, [3, 1]);
        let st = LayerStatement {
            sid: "a".into(),
            principal: "*".into(),
            organization_id: None,
        };
        let p0 = s.layer_policy("l", 1).unwrap();
        assert!(p0.statements.is_empty());
        let p1 = s
            .add_layer_statement("l", 1, &st, Some(&p0.revision_id))
            .unwrap();
        assert_ne!(p1.revision_id, p0.revision_id);
        assert!(matches!(
            s.add_layer_statement("l", 1, &st, None),
            Err(StoreError::AlreadyExists)
        ));
        assert!(matches!(
            s.remove_layer_statement("l", 1, "a", Some(&p0.revision_id)),
            Err(StoreError::RevisionMismatch { .. })
        ));
        assert!(s
            .remove_layer_statement("l", 1, "a", None)
            .unwrap()
            .statements
            .is_empty());
        assert!(matches!(s.layer_policy("l", 2), Err(StoreError::NotFound)));
        let refs = referenced(&s.lock()).unwrap();
        assert!(refs.contains(&code(1).sha256_hex) && !refs.contains(&code(2).sha256_hex));
    }
}
