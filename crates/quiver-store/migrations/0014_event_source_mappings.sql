-- Event source mappings (CreateEventSourceMapping): one JSON document per mapping
-- (quiver-model's EventSourceMapping), the function and the source beside it for the
-- list filters and the duplicate check. Deleting the function removes its mappings.
CREATE TABLE event_source_mappings (
    uuid             TEXT PRIMARY KEY,
    function_name    TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    event_source_arn TEXT NOT NULL,
    doc              TEXT NOT NULL,
    tags             TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX event_source_mappings_by_source ON event_source_mappings (event_source_arn);
