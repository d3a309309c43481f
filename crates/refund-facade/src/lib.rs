//! # refund-facade
//!
//! One entry point for applications that refund on several providers: routing by provider,
//! capability checks before any I/O, safe retries, and reconciliation so that at most one refund
//! is applied per reference. It is a shell until its issue lands.

pub use refund_core;
