-- Asynchronous invocation settings (PutFunctionEventInvokeConfig), one row per function and
-- qualifier string as the caller gave it ($LATEST, a version number or an alias name), like
-- Lambda. The config is a JSON document (quiver_model::EventInvokeConfig); last_modified is
-- epoch seconds because Lambda writes this member as a JSON number.
CREATE TABLE event_invoke_configs (
    function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier     TEXT NOT NULL,
    config        TEXT NOT NULL,
    last_modified REAL NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);
