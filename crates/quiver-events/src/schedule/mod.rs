//! Schedule expressions (`rate(...)`, `cron(...)`, `at(...)`) and their fire times.
