//! Execution-environment sandboxes.
