-- EventBridge: event buses and their rules. Each rule is one JSON document
-- (quiver_events::bridge::Rule) holding its pattern or schedule, state and targets,
-- since a delivery needs a bus's rules with their targets together. The default bus
-- always exists.
CREATE TABLE event_buses (
    name TEXT PRIMARY KEY,
    doc  TEXT NOT NULL
);
CREATE TABLE event_rules (
    bus  TEXT NOT NULL REFERENCES event_buses(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    doc  TEXT NOT NULL,
    PRIMARY KEY (bus, name)
);
INSERT INTO event_buses (name, doc)
VALUES ('default', json_object('name', 'default', 'created', CAST(strftime('%s', 'now') AS INTEGER), 'tags', json_object()));
