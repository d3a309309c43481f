//! # refund-plexy
//!
//! Refunds on Plexy through the `refund-core` [`RefundProvider`](refund_core::RefundProvider)
//! trait. This crate will hold the Plexy client (full and partial refunds where Plexy supports them,
//! lookups and reconciliation) with its private wire models generated from `specs/plexy.yaml`.
//! It is a shell until its issue lands.

pub use refund_core;

#[allow(
    dead_code,
    unused_imports,
    reason = "used by the client, which lands in the vendor issue"
)]
mod wire;
