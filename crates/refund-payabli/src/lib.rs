//! # refund-payabli
//!
//! Refunds on Payabli through the `refund-core` [`RefundProvider`](refund_core::RefundProvider)
//! trait. This crate will hold the Payabli client (full and partial refunds where Payabli supports them,
//! lookups and reconciliation) with its private wire models generated from `specs/payabli.yaml`.
//! It is a shell until its issue lands.

pub use refund_core;

#[allow(
    dead_code,
    unused_imports,
    reason = "used by the client, which lands in the vendor issue"
)]
mod wire;
