//! Where function metadata and code live.
#![forbid(unsafe_code)]
