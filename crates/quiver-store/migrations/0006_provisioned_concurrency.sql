-- Provisioned concurrency configs (PutProvisionedConcurrencyConfig), one per published
-- version or alias of a function, as the config was put: `qualifier` is the version
-- number or the alias name. Deleting the function, the version or the alias removes
-- its config (the cascade here, the version and alias deletes explicitly).
CREATE TABLE provisioned_concurrency (
    function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier     TEXT NOT NULL,
    requested     INTEGER NOT NULL,
    last_modified TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);
