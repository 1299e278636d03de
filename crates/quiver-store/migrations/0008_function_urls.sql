-- Function URL configs (CreateFunctionUrlConfig), one per function and qualifier: ''
-- for the unqualified function, else an alias name. `url_id` is the URL's 32-character
-- host label, unique across the server. Deleting the function removes its configs (the
-- cascade), deleting an alias removes that alias's config (the trigger).
CREATE TABLE function_urls (
    function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier     TEXT NOT NULL,
    url_id        TEXT NOT NULL UNIQUE,
    auth_type     TEXT NOT NULL,
    cors          TEXT,
    creation_time TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);
CREATE TRIGGER function_urls_alias_deleted AFTER DELETE ON aliases
BEGIN
    DELETE FROM function_urls WHERE function_name = OLD.function_name AND qualifier = OLD.name;
END;
