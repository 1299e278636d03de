-- Lambda layers (PublishLayerVersion): one row per layer name with the highest version
-- ever published (numbers are never reused after DeleteLayerVersion), one row per
-- version. The zip and its extracted tree live in the code store, named by code_sha256;
-- functions pin the digest in their configuration, so deleting a version here never
-- takes content from a function that uses it.
CREATE TABLE layers (
    name         TEXT PRIMARY KEY,
    last_version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE layer_versions (
    layer_name    TEXT NOT NULL REFERENCES layers(name) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    code_sha256   TEXT NOT NULL,
    code_b64      TEXT NOT NULL,
    code_size     INTEGER NOT NULL,
    unzipped_size INTEGER NOT NULL,
    -- quiver_model::layer::LayerSettings as JSON
    settings      TEXT NOT NULL,
    created_date  TEXT NOT NULL,
    -- the resource policy: a JSON array of quiver_model::layer::LayerStatement
    policy        TEXT NOT NULL DEFAULT '[]',
    -- changes with every policy change (AddLayerVersionPermission's RevisionId)
    policy_revision TEXT NOT NULL,
    PRIMARY KEY (layer_name, version)
);
CREATE INDEX layer_versions_code ON layer_versions(code_sha256);
