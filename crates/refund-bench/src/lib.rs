//! Benchmarks and fuzz harnesses of refund-rs. Not published; run through `cargo xtask bench`
//! and `cargo xtask fuzz` (see `BENCHMARKS.md` and `SECURITY.md` at the repository root).
//!
//! - [`fixtures`]: the contract's response fixtures (§1.7, §2.7, §3.7 and PayNext's full example
//!   document) as decode cases, each with the request or query it answers.
//! - [`fuzz`]: the fuzz targets (vendor answers, money, exact JSON numbers, ids) and a
//!   structure-aware JSON mutator, shared by the bounded tests in `tests/fuzz.rs` and the long
//!   runs of `cargo xtask fuzz`.
//! - [`stats`]: percentiles and peak memory for the load benchmarks (`src/bin/`).
//!
//! The vendor crates' decoders are private; they are reached through their `#[doc(hidden)]`
//! `__bench` modules, which are not part of their API.

#![allow(
    clippy::float_arithmetic,
    reason = "benchmark statistics (ratios, percentiles) are floats; no money is involved"
)]

pub mod fixtures;
pub mod fuzz;
pub mod stats;
