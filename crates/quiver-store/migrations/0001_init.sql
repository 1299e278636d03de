-- Functions, their versions ($LATEST = version 0, published = 1..), aliases and tags.
-- Version configuration is a JSON document (quiver_model::FunctionConfig) so new
-- configuration members need no migration; columns hold what is queried or joined.
CREATE TABLE functions (
    name                 TEXT PRIMARY KEY,
    created_at           TEXT NOT NULL,
    -- highest version number ever published: numbers are never reused, even after delete
    last_version         INTEGER NOT NULL DEFAULT 0,
    reserved_concurrency INTEGER
);

CREATE TABLE function_versions (
    function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    config        TEXT NOT NULL,
    code_sha256   TEXT NOT NULL,
    code_b64      TEXT NOT NULL,
    code_size     INTEGER NOT NULL,
    revision_id   TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    PRIMARY KEY (function_name, version)
);
CREATE INDEX function_versions_code ON function_versions(code_sha256);

CREATE TABLE aliases (
    function_name    TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    function_version INTEGER NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    routing          TEXT,
    revision_id      TEXT NOT NULL,
    PRIMARY KEY (function_name, name)
);

CREATE TABLE tags (
    function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (function_name, key)
);
