-- Function lifecycle (quiver_model::Lifecycle): Creating / Updating / Settled, and the
-- epoch-millisecond deadline after which the first store access settles the row (with a
-- new revision_id). Rows written before this migration are settled (Active, Successful).
ALTER TABLE function_versions ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'Settled';
ALTER TABLE function_versions ADD COLUMN settles_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX function_versions_unsettled ON function_versions (settles_at) WHERE lifecycle <> 'Settled';
