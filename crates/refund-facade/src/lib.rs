//! # refund-facade
//!
//! One entry point for applications that refund on several providers: a [`Router`] that routes
//! by provider, checks capabilities before any I/O, retries only what is safe, and reconciles
//! unknown outcomes so that **for one refund reference, at most one refund is applied, and the
//! outcome reported is the provider's truth**.
//!
//! ```no_run
//! use std::sync::Arc;
//! use refund_facade::{Router, refund_core::{PaymentId, ProviderId, RefundReference, RefundRequest}};
//!
//! # async fn demo(plexy: Arc<dyn refund_facade::refund_core::RefundProvider>) -> Result<(), refund_facade::refund_core::Error> {
//! let router = Router::builder().provider(plexy).build()?;
//! let request = RefundRequest::builder(PaymentId::new("1c4b2ce1")?, RefundReference::new("rf-7f3c2a")?).build()?;
//! let outcome = router.refund(&ProviderId::PLEXY, &request).await?;
//! println!("{}: {}", outcome.refund.reference, outcome.refund.status);
//! # Ok(()) }
//! ```
//!
//! A refund that is `pending` when the call returns can be followed to its final status with
//! [`Router::follow`] (polling with backoff and jitter within a [`FollowPolicy`] budget).
//!
//! ## Errors
//! Everything returns [`refund_core::Error`]. [`ErrorKind::OutcomeUnknown`](refund_core::ErrorKind)
//! means the truth could not be established within the budget: keep the
//! [`PreparedRefund`] and call [`Router::resume`] later; never send a new refund for it.
//!
//! ## Feature flags
//! `plexy`, `paynext`, `payabli` (all on by default) compile the matching provider crate.
//!
//! ## Not covered by semver
//! Default budgets, backoffs and timeouts, and message wording.

mod env;
mod follow;
mod outcome;
mod router;
mod webhook;

pub use env::{ClientOptions, ENV_VARS, PAYABLI_SANDBOX_WINDOW_VAR};
pub use follow::{FollowEnd, FollowPolicy, Followed, StatusChange};
pub use outcome::{AmountMismatch, RefundOutcome};
pub use router::{PreparedRefund, ReconcilePolicy, Router, RouterBuilder, WindowWait};
pub use webhook::{Delivery, WEBHOOK_ENV_VARS, WebhookReceiver, WebhookReceiverBuilder};

pub use refund_core;
#[cfg(feature = "payabli")]
pub use refund_payabli;
#[cfg(feature = "paynext")]
pub use refund_paynext;
#[cfg(feature = "plexy")]
pub use refund_plexy;
