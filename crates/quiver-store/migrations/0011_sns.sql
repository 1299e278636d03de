-- SNS-compatible topics and their subscriptions: one JSON document each
-- (quiver_model::sns::Topic / Subscription); a topic's subscriptions go with it.
CREATE TABLE sns_topics (
    name TEXT PRIMARY KEY,
    doc  TEXT NOT NULL
);
CREATE TABLE sns_subscriptions (
    arn        TEXT PRIMARY KEY,
    topic_name TEXT NOT NULL REFERENCES sns_topics(name) ON DELETE CASCADE,
    doc        TEXT NOT NULL
);
CREATE INDEX sns_subscriptions_by_topic ON sns_subscriptions (topic_name, arn);
