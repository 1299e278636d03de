-- Code signing configs (CreateCodeSigningConfig), one JSON document per config
-- (quiver_model::code_signing::CodeSigningConfig), and the config each function uses
-- (PutFunctionCodeSigningConfig; NULL = none). Stored and reported only.
CREATE TABLE code_signing_configs (
    id     TEXT PRIMARY KEY,
    config TEXT NOT NULL
);
ALTER TABLE functions ADD COLUMN code_signing_config_id TEXT REFERENCES code_signing_configs(id);
