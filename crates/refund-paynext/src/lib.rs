//! # refund-paynext
//!
//! Refunds on [PayNext](https://docs.paynext.com) through the `refund-core`
//! [`RefundProvider`](refund_core::RefundProvider) trait, following the refund-rs wire contract §2.
//!
//! | operation | request | here |
//! |---|---|---|
//! | N-R1 full refund | `POST /payments/refund/{payment_id}`, no body | [`RefundProvider::refund`](refund_core::RefundProvider::refund) |
//! | N-R2 partial refund | unsupported | refused with [`ErrorKind::Unsupported`](refund_core::ErrorKind::Unsupported) before any request |
//! | N-L1 payment lookup | `GET /payments/{payment_id}` | [`Client::get_payment`], and [`RefundProvider::find_refund`](refund_core::RefundProvider::find_refund) for reconciliation |
//!
//! Every request sends `Authorization: Bearer <key>`, `X-API-Version: 1.0.0`,
//! `Accept: application/json` and `User-Agent: refund-paynext/<version>`. The refund POST has no
//! body (no `Content-Type`, `Content-Length: 0`), so the request's reason and metadata are not
//! sent, and PayNext never sees the caller's reference: there is no idempotency and no lookup by
//! reference ([`Client`]'s [`capabilities`](refund_core::RefundProvider::capabilities) say so).
//!
//! ## Quick start
//! ```no_run
//! use refund_paynext::refund_core::{
//!     PaymentId, RefundProvider, RefundReference, RefundRequest, RefundStatus,
//! };
//! use refund_paynext::Client;
//!
//! # async fn demo() -> Result<(), refund_paynext::refund_core::Error> {
//! let client = Client::builder(std::env::var("PAYNEXT_API_KEY").unwrap_or_default())
//!     .base_url(refund_paynext::SANDBOX_BASE_URL)
//!     .build()?;
//!
//! let payment_id = PaymentId::new("pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789")?;
//! let request = RefundRequest::builder(payment_id.clone(), RefundReference::new("rf-7f3c2b")?)
//!     .build()?;
//! let refund = client.refund(&request).await?;
//! match refund.status {
//!     RefundStatus::Succeeded => println!("refunded {:?}", refund.amount),
//!     RefundStatus::Pending => println!("accepted; PayNext settles it later"),
//!     RefundStatus::Declined => println!("declined: {:?}", refund.decline),
//!     _ => {}
//! }
//!
//! // The payment's refund state, straight from PayNext.
//! let payment = client.get_payment(&payment_id).await?;
//! println!("{:?} refunded of {:?}", payment.refunded_amount, payment.amount);
//! # Ok(()) }
//! ```
//!
//! ## Outcomes (contract §2.4)
//! The answer to a refund is the Payment object. `refund.status` is upper-cased and read by
//! family: `SUCCEEDED`, `SUCCESS`, `SUCCESSFUL`, `COMPLETED`, `SETTLED`, `REFUNDED`, `PROCESSED`
//! are [`Succeeded`](refund_core::RefundStatus::Succeeded); `FAILED`, `DECLINED`, `REJECTED`,
//! `CANCELLED`, `CANCELED`, `ERROR` are [`Declined`](refund_core::RefundStatus::Declined); any other
//! value is [`Pending`](refund_core::RefundStatus::Pending). Without a `refund` object (or without
//! its `status`), `refunded_amount >= amount` means Succeeded and anything else Pending. The
//! refund id is `refund.processor_transaction_id`, or the payment id when that is empty. Amounts
//! are integer minor units in the payment's `currency_code` (JPY has 0 digits, KWD 3, CLF 4); an
//! unknown currency leaves the amount out rather than failing.
//!
//! ## Webhooks
//! [`PayNextWebhookVerifier`] authenticates PayNext's webhook deliveries (Svix: HMAC-SHA256 over
//! `svix-id`, `svix-timestamp` and the raw body, with a 5-minute tolerance) and reads refund
//! events from them, with the refund state read exactly as above (§4.2). It implements
//! [`refund_core::WebhookVerifier`].
//!
//! ## Errors
//! Every function returns [`refund_core::Error`]; branch on its
//! [`kind`](refund_core::Error::kind):
//!
//! | PayNext answer | kind |
//! |---|---|
//! | 400 (invalid, "cannot be refunded", "already refunded"), 409, 422 | `InvalidInput` |
//! | 401, 403 | `Auth` |
//! | 404 | `NotFound` (a reconciliation lookup reports it as inconclusive instead) |
//! | 429 | `RateLimited`, with [`retry_after`](refund_core::Error::retry_after) |
//! | any 5xx, a lost connection or timeout after sending, or an unreadable 2xx, on a refund | `OutcomeUnknown`: reconcile before retrying |
//! | any 5xx on a lookup | `Provider` |
//!
//! A decline is not an error: it is `Ok` with [`RefundStatus::Declined`](refund_core::RefundStatus)
//! and decline details. The client sends one request per call and never retries; retries and
//! reconciliation belong to the caller (`refund-facade`).
//!
//! ## Not covered by semver
//! Error message wording, the default timeouts (connect 10 s, whole request 60 s) and the
//! User-Agent text may change in minor releases.
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
mod payment;
mod webhook;
mod wire;

pub use client::{Client, ClientBuilder};
pub use payment::{Payment, PaymentRefund, PaymentStatus, StatusReason};
pub use webhook::PayNextWebhookVerifier;

/// PayNext's production API (contract §2.1). There is no version segment in the path.
pub const PRODUCTION_BASE_URL: &str = "https://api.paynext.com";

/// PayNext's sandbox API (contract §2.1).
pub const SANDBOX_BASE_URL: &str = "https://sandbox-api.paynext.com";

/// The `X-API-Version` sent on every request (contract §2.3). With `2.0.0` PayNext changes the
/// shape of some answers, so the client pins this one.
pub const API_VERSION: &str = "1.0.0";
