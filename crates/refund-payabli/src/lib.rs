//! # refund-payabli
//!
//! Refunds on [Payabli](https://payabli.com) (Pay In, v2 endpoints) through the `refund-core`
//! [`RefundProvider`](refund_core::RefundProvider) trait, plus what only Payabli has. The wire
//! contract followed is `wire-contract.md` §3; sections are cited as §N.N.
//!
//! - **Full refund** (Y-R1): `POST /v2/MoneyIn/refund/{transId}`, with no body.
//! - **Partial refund** (Y-R2): `POST /v2/MoneyIn/refund/{transId}/{amount}`, the amount written
//!   as exact decimal text with the currency's digits (`10.50`, `1000` for JPY). A zero amount
//!   is never sent (Payabli reads 0 as a full refund).
//! - **Headers**: `requestToken: <token>`, and `idempotencyKey: <refund reference>` on every
//!   refund POST, including re-sends. Payabli answers a key it saw within its window (2 minutes,
//!   §3.6) with a plain-text 409 and does not replay the first answer: that is
//!   [`OutcomeUnknown`](refund_core::ErrorKind::OutcomeUnknown) with HTTP status 409.
//! - **Payabli options** ([`PayabliRefund`], sent with [`Client::refund_with`]): split refunds,
//!   line items, `orderId`, `orderDescription`, `source`, `ipaddress`, checked against the
//!   documented limits before sending. A JSON body is sent only when one is set.
//! - **Reconciliation** ([`find_refund`](refund_core::RefundProvider::find_refund)): Payabli
//!   cannot look a refund up by our reference, so the original transaction is read through the
//!   details lookup (Y-L1, `GET /MoneyIn/details/{transId}`): its `RefundId` tells whether a
//!   full refund exists, and for a partial refund it is compared with the
//!   [`snapshot`](refund_core::RefundProvider::snapshot) taken before the refund.
//!   [`Client::transaction_details`] exposes the same lookup. No official SDK sends
//!   `idempotencyKey` on the v2 refund, and a refund still being processed is not visible yet,
//!   so an unchanged `RefundId` proves absence only 2 minutes after the last send, seen twice
//!   ([`Capabilities::absence_settles_after`](refund_core::Capabilities::absence_settles_after);
//!   the facade waits for it).
//!
//! ## Quick start
//! ```no_run
//! use refund_payabli::refund_core::{
//!     Currency, Money, PaymentId, RefundProvider, RefundReference, RefundRequest, RefundStatus,
//! };
//! use refund_payabli::{Client, PayabliRefund, SANDBOX_BASE_URL};
//!
//! # async fn demo() -> Result<(), refund_payabli::refund_core::Error> {
//! let client = Client::builder(std::env::var("PAYABLI_API_TOKEN").unwrap_or_default())
//!     .base_url(SANDBOX_BASE_URL)
//!     .build()?;
//!
//! // A partial refund of 10.50 USD: POST /v2/MoneyIn/refund/{transId}/10.50
//! let request = RefundRequest::builder(
//!     PaymentId::new("10-3ffa27df-b171-44e0-b251-e95fbfc7a723")?,
//!     RefundReference::new("rf-9c01")?,
//! )
//! .partial(Money::parse("10.50", Currency::USD)?)
//! .build()?;
//! let refund = client.refund(&request).await?;
//! match refund.status {
//!     RefundStatus::Succeeded => println!("refunded {:?} as {:?}", refund.amount, refund.refund_id),
//!     RefundStatus::Pending => println!("accepted; the final state comes by webhook"),
//!     _ => println!("declined: {:?}", refund.decline),
//! }
//!
//! // The same with Payabli's own fields: a body {"orderId":"rf-9c02","source":"api"}.
//! let request = RefundRequest::builder(request.payment_id().clone(), RefundReference::new("rf-9c02")?)
//!     .build()?;
//! let refund = client
//!     .refund_with(&PayabliRefund::builder(request).order_id("rf-9c02").source("api").build()?)
//!     .await?;
//! # let _ = refund;
//!
//! // Is the original refundable, and for how much?
//! let details = client.transaction_details(&PaymentId::new("10-3ffa27df-b171-44e0-b251-e95fbfc7a723")?).await?;
//! println!("{:?}, up to {:?}", details.refundability, details.refundable_amount);
//! # Ok(()) }
//! ```
//!
//! ## Outcomes
//! | HTTP | `code` | result |
//! |---|---|---|
//! | 200 or 201 | `A0001`, `A0050` | `Ok`, [`Pending`](refund_core::RefundStatus::Pending) |
//! | 200 or 201 | any other `A…` | `Ok`, [`Succeeded`](refund_core::RefundStatus::Succeeded) |
//! | 402 (or 2xx) | `D…` | `Ok`, [`Declined`](refund_core::RefundStatus::Declined), with `reason`, `explanation` and `action` |
//! | 400 | `E…` or none | `Err`, [`InvalidInput`](refund_core::ErrorKind::InvalidInput) (not applied) |
//! | 401, 403 | | `Err`, [`Auth`](refund_core::ErrorKind::Auth) |
//! | 404 | | `Err`, [`NotFound`](refund_core::ErrorKind::NotFound) |
//! | 409 | `Duplicated idempotencyKey: …` | `Err`, [`OutcomeUnknown`](refund_core::ErrorKind::OutcomeUnknown), status 409 |
//! | 429 | | `Err`, [`RateLimited`](refund_core::ErrorKind::RateLimited), with `Retry-After` |
//! | 5xx, anything else | | `Err`, [`OutcomeUnknown`](refund_core::ErrorKind::OutcomeUnknown) |
//!
//! Codes are branched on by their first letter (`A`, `D` or `E` and four digits), so codes this
//! version does not know (`A0099`, `D9999`, `E1234`) still map. The refunded amount is
//! `|data.totalAmount|` (Payabli writes refunds as negative amounts) and the refund id is
//! `data.paymentTransId`, unless `data` echoes the original sale (`operation` other than
//! `Refund`, or the sale's own `paymentTransId`): then the amount is the requested one (unknown
//! for a full refund) and the id is `data.refundId` when not 0. Field names are matched in any letter case, because Payabli mixes
//! camelCase and PascalCase (§3.4).
//!
//! ## Webhooks
//! Payabli does not sign webhooks: [`PayabliWebhookVerifier`] checks the custom header the
//! merchant configured (compared in constant time) and, optionally, the source IP, then reads
//! `RefundedPayment` notifications into refund events (§4.3). It implements
//! [`refund_core::WebhookVerifier`]. [`Client::confirm_event`] re-queries an event's
//! transaction (Y-L1), as Payabli advises, instead of trusting the payload.
//!
//! ## Errors
//! Every fallible function returns [`refund_core::Error`]; branch on its
//! [`kind`](refund_core::Error::kind). A client never retries: the `refund-facade` crate
//! reconciles [`OutcomeUnknown`](refund_core::ErrorKind::OutcomeUnknown) refunds through
//! [`find_refund`](refund_core::RefundProvider::find_refund) and re-sends only when Payabli
//! proves that no refund exists.
//!
//! ## Not covered by semver
//! Error message wording, the default timeouts (connect 10 s, whole request 60 s) and the
//! User-Agent text may change in minor releases. The [`Snapshot`](refund_core::Snapshot) text
//! (`refund_id=<n>`) is stable, so stored snapshots stay readable.
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
pub use types::{
    LineItem, MAX_ORDER_DESCRIPTION_CHARS, MAX_ORDER_ID_CHARS, MAX_SOURCE_CHARS, PayabliRefund,
    PayabliRefundBuilder, Refundability, SplitRefund, TransactionDetails,
};
pub use webhook::PayabliWebhookVerifier;

/// Payabli's production API (§3.1); request paths are relative to it.
pub const PRODUCTION_BASE_URL: &str = "https://api.payabli.com/api";

/// Payabli's sandbox API (§3.1).
pub const SANDBOX_BASE_URL: &str = "https://api-sandbox.payabli.com/api";

/// How long Payabli remembers an `idempotencyKey` (§3.6: one documentation page says 1 minute,
/// another 2; we design for the longer).
pub const IDEMPOTENCY_WINDOW: std::time::Duration = std::time::Duration::from_secs(120);
