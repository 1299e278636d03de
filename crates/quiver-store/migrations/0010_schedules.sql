-- EventBridge Scheduler: schedule groups and schedules, each definition one JSON document
-- (quiver_model::schedule), the last fire in its own column so that a fire never
-- rewrites the definition an update may be replacing. The `default` group always exists.
CREATE TABLE schedule_groups (
    name TEXT PRIMARY KEY,
    doc  TEXT NOT NULL
);
CREATE TABLE schedules (
    group_name   TEXT NOT NULL REFERENCES schedule_groups(name) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    doc          TEXT NOT NULL,
    last_fire_ms INTEGER,
    PRIMARY KEY (group_name, name)
);
INSERT INTO schedule_groups (name, doc) VALUES (
    'default',
    json_object('name', 'default', 'tags', json_object(),
                'created_ms', CAST(strftime('%s', 'now') AS INTEGER) * 1000,
                'modified_ms', CAST(strftime('%s', 'now') AS INTEGER) * 1000)
);
