//! Cross-crate integration tests of refund-rs live in `tests/tests/`; this library is empty.
