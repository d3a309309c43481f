//! # refund-core
//!
//! The shared vocabulary of [refund-rs](https://github.com/refund-rs/refund-rs): exact
//! [`Money`] in a [`Currency`], validated identifiers, the [`RefundRequest`] a caller builds, the
//! [`Refund`] outcome a provider answers, one opaque [`Error`], and the [`RefundProvider`] trait
//! that every provider crate implements. It also holds the HTTP layer and retry policy that the
//! provider crates share, so that timeouts, size caps, path encoding and secret handling are
//! written once.
//!
//! Most applications use a provider crate (`refund-plexy`, `refund-paynext`, `refund-payabli`) or
//! the `refund-facade`, and meet this crate through their re-exports.
//!
//! ## Quick start
//! ```
//! use refund_core::{Currency, Money, PaymentId, RefundReference, RefundRequest};
//!
//! # fn main() -> Result<(), refund_core::Error> {
//! let amount = Money::parse("10.50", Currency::from_code("USD")?)?;
//! let request = RefundRequest::builder(PaymentId::new("pay_123")?, RefundReference::new("rf-7f3c2b")?)
//!     .partial(amount)
//!     .reason("customer request")
//!     .build()?;
//! assert_eq!(request.amount().partial().map(|m| m.minor_units()), Some(1050));
//! # Ok(()) }
//! ```
//!
//! ## Errors
//! Every fallible function returns [`Error`]. Branch on [`Error::kind`]; ask
//! [`Error::is_retryable`] whether a request may be sent again as it is, and
//! [`Error::may_have_reached_provider`] whether it may have had an effect.
//!
//! ## Not covered by semver
//! Error message wording, default timeouts, the default retry policy's delays and the
//! User-Agent text may change in minor releases.
//!
//! ## Feature flags
//! None.

pub mod currency;
pub mod error;
pub mod http;
pub mod id;
pub mod json;
pub mod money;
pub mod provider;
pub mod refund;
pub mod request;
pub mod retry;
pub mod secret;
pub mod webhook;

pub use currency::Currency;
pub use error::{Error, ErrorKind, Reach, Result};
pub use id::{PaymentId, ProviderId, RefundId, RefundReference};
pub use json::JsonDecimal;
pub use money::Money;
pub use provider::{BoxFuture, Capabilities, Lookup, RefundProvider, RefundQuery, Snapshot};
pub use refund::{Decline, DeclineCode, Refund, RefundStatus};
pub use request::{RefundAmount, RefundRequest, RefundRequestBuilder};
pub use secret::Secret;
pub use webhook::{
    Deduplicator, MemoryDeduplicator, RefundEvent, Seen, WebhookOutcome, WebhookVerifier,
};

/// Re-exported so that provider crates and users name the same `Decimal`.
pub use rust_decimal::Decimal;
