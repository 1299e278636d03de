//! The HTTP surface of Quiver.
#![forbid(unsafe_code)]
