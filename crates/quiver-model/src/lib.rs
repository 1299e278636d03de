//! Lambda's resources and their rules, as pure values.
//!
//! Nothing here does IO: the API layer parses bytes into these types, the store
//! persists them, the engine reads them. Keeping validation pure lets it be unit
//! tested exhaustively and shared by every entry point (API, CLI, file config).
#![forbid(unsafe_code)]
