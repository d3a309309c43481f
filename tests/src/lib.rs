//! Cross-crate integration tests of refund-rs live in `tests/tests/`.
//!
//! The top-level README is compiled here as documentation, so that its examples are doctests
//! and cannot drift from the code.
#![doc = include_str!("../../README.md")]
