//! # refund-plexy
//!
//! Refunds on [Plexy](https://plexy.money) (Pay API v1) through the `refund-core`
//! [`RefundProvider`](refund_core::RefundProvider) trait, plus Plexy's own lookups. The wire
//! contract followed is `wire-contract.md` §1; sections are cited as §N.N.
//!
//! - **Full refund** (P-R1): `POST /payments/{transaction_id}/refund` with
//!   `{"orderReference":"<refund reference>"}`; no amount fields (an absent amount means a full
//!   refund).
//! - **Partial refund** (P-R2): the same path with
//!   `{"amount":10.50,"minorAmount":1050,"orderReference":"<refund reference>"}`: `amount` an
//!   exact JSON number with exactly the currency's fraction digits (never through a float),
//!   `minorAmount` the same amount in minor units.
//! - Both add `"description":"<reason>"` when the request has a reason, and send
//!   `Authorization: <raw API key>` (no `Bearer`) and `Content-Type: application/json`. Plexy
//!   has no idempotency header (§1.3): the refund reference travels as `orderReference`, and
//!   reconciliation looks it up.
//! - **Reconciliation** ([`find_refund`](refund_core::RefundProvider::find_refund)): P-L2,
//!   `GET /transactions/by-order-reference/{refund_reference}`. A refund transaction of the same
//!   payment is found; only a 404 carrying Plexy's own JSON error body with `code` 4 proves that
//!   no refund exists (§0.5); anything doubtful is inconclusive, including the bare
//!   `{"message":"Not Found"}` a web framework or gateway answers for an unknown route.
//! - **Native lookups**: [`Client::transaction`] (P-L1, `GET /transactions/{id}`) and
//!   [`Client::find_by_order_reference`] (P-L2 as is) return a [`Transaction`].
//! - Path parameters are percent-encoded into exactly one segment (§0.2): payment id `ab/c d`
//!   gives `/v1/payments/ab%2Fc%20d/refund`.
//!
//! ## Quick start
//! ```no_run
//! use refund_plexy::refund_core::{
//!     Currency, Money, PaymentId, RefundProvider, RefundReference, RefundRequest, RefundStatus,
//! };
//! use refund_plexy::{Client, Refundability, SANDBOX_BASE_URL};
//!
//! # async fn demo() -> Result<(), refund_plexy::refund_core::Error> {
//! let client = Client::builder(std::env::var("PLEXY_API_KEY").unwrap_or_default())
//!     .base_url(SANDBOX_BASE_URL)
//!     .build()?;
//!
//! // Is the payment refundable, and for how much?
//! let payment = client.transaction("1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae").await?;
//! if payment.refundability() == Refundability::CancelInstead {
//!     println!("not captured yet: cancel it instead");
//! }
//!
//! // A partial refund of 10.50 KZT:
//! // {"amount":10.50,"minorAmount":1050,"orderReference":"rf-7f3c2b","description":"damaged"}
//! let request = RefundRequest::builder(
//!     PaymentId::new("1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae")?,
//!     RefundReference::new("rf-7f3c2b")?,
//! )
//! .partial(Money::parse("10.50", Currency::KZT)?)
//! .reason("damaged")
//! .build()?;
//! match client.refund(&request).await {
//!     Ok(refund) if refund.status == RefundStatus::Succeeded => {
//!         println!("refunded {:?}, {:?} left", refund.amount, refund.remaining);
//!     }
//!     Ok(refund) if refund.status == RefundStatus::Pending => println!("code 09: wait"),
//!     Ok(refund) => println!("declined: {:?}", refund.decline),
//!     Err(e) if e.is_outcome_unknown() => {
//!         // Sent, but we cannot tell whether it was applied: reconcile, never re-send blindly.
//!         let lookup = client
//!             .find_refund(&refund_plexy::refund_core::RefundQuery::for_request(&request))
//!             .await?;
//!         println!("{lookup:?}");
//!     }
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! ## Outcomes
//! | HTTP | body | result |
//! |---|---|---|
//! | 2xx | `responseCode` `09` | `Ok`, [`Pending`](refund_core::RefundStatus::Pending) |
//! | 2xx | `success: true`, or no `success` and `responseCode` `00` | `Ok`, [`Succeeded`](refund_core::RefundStatus::Succeeded) |
//! | 2xx | `success: false`, or no `success` and another code | `Ok`, [`Declined`](refund_core::RefundStatus::Declined), normalized [`DeclineCode`](refund_core::DeclineCode), raw code and message kept |
//! | 2xx | neither `success` nor `responseCode`, or a body that cannot be read | `Err`, [`OutcomeUnknown`](refund_core::ErrorKind::OutcomeUnknown) |
//! | 400, 422 | any | `Err`, [`InvalidInput`](refund_core::ErrorKind::InvalidInput) (not applied) |
//! | 401, 403 | any | `Err`, [`Auth`](refund_core::ErrorKind::Auth) |
//! | 404 | any | `Err`, [`NotFound`](refund_core::ErrorKind::NotFound) |
//! | 429 | any | `Err`, [`RateLimited`](refund_core::ErrorKind::RateLimited), with `Retry-After` |
//! | 5xx, anything else | any | `Err`, [`OutcomeUnknown`](refund_core::ErrorKind::OutcomeUnknown): a 5xx never proves "not applied" |
//!
//! Error bodies (`{code, message, source, type}`, `code` an integer or a numeric string, the
//! legacy `{message, code}`, or no JSON at all) only add detail: the `code` becomes
//! [`Error::provider_code`](refund_core::Error::provider_code). `responseCode`s map to
//! [`DeclineCode`](refund_core::DeclineCode)s: `05` do not honour, `12`/`57` invalid
//! transaction, `13` invalid amount, `33`/`54` card expired, `34` suspected fraud, `40` not
//! refundable, `41`/`43` lost or stolen, `51` insufficient funds, `61` limit exceeded, `64`
//! amount exceeds original, `80` amount no longer available, `82`/`91`/`96` issuer
//! unavailable, any other code `Other`.
//!
//! ## Amounts
//! Plexy reports amounts in major units (§5.2), read as exact decimals and rounded half-to-even
//! to the currency's digits. The refund answer names no currency: a partial refund's amounts
//! are read in the request's currency, and a **full refund's `amount` and `remaining` are
//! `None`**, because its currency is not known to the client and is never guessed. Lookups
//! read the transaction's `currency` (or, in `find_refund`, a partial query's currency).
//!
//! ## Webhooks
//! [`PlexyWebhookVerifier`] authenticates Plexy's webhook deliveries (`Authorization: Bearer
//! <webhook token>`, compared in constant time) and reads refund events from them (§4.1). It
//! implements [`refund_core::WebhookVerifier`]. Merchants still on Plexy's legacy callbacks,
//! signed with their private key in the `x-signature` header, use
//! [`PlexyWebhookVerifier::legacy_signature`], which documents that scheme, its sources (Plexy's
//! PHP SDK and WooCommerce plugin) and what it leaves unsigned.
//!
//! ## Errors
//! Every fallible function returns [`refund_core::Error`]; branch on its
//! [`kind`](refund_core::Error::kind). A client never retries: the `refund-facade` crate
//! reconciles [`OutcomeUnknown`](refund_core::ErrorKind::OutcomeUnknown) refunds through
//! [`find_refund`](refund_core::RefundProvider::find_refund) and re-sends only when Plexy
//! proves that no refund exists.
//!
//! ## Not covered by semver
//! Error message wording, the default timeouts (connect 10 s, whole request 60 s), the
//! response size cap (1 MiB) and the User-Agent text may change in minor releases.
//!
//! ## Feature flags
//! None.

pub use refund_core;

/// Benchmark and fuzzing hooks of the `refund-bench` crate; not part of the API (no semver).
#[doc(hidden)]
pub mod __bench;

mod client;
mod convert;
mod error;
mod types;
mod webhook;
mod wire;

pub use client::{Client, ClientBuilder};
pub use types::{Refundability, Transaction, TransactionKind, TransactionStatus};
pub use webhook::PlexyWebhookVerifier;

/// Plexy's production Pay API (§1.1, CONFIRMED); request paths are relative to it.
pub const PRODUCTION_BASE_URL: &str = "https://api.plexypay.com/v1";

/// Plexy's sandbox Pay API (§1.1; CONFIRMED for 2023, not confirmed to be current, so keep it
/// configurable).
pub const SANDBOX_BASE_URL: &str = "https://test-api.plexypay.com/v1";
