//! Drives the emulators with raw HTTP (reqwest), never through the refund-rs client crates, so
//! that a misunderstanding shared by a client and the sandbox cannot hide.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod admin;
mod common;
mod concurrency;
mod faults;
mod lifecycle;
mod payabli;
mod paynext;
mod plexy;
mod webhooks;
