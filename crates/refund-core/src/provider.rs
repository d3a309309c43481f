//! The trait every provider implements, and what it says about itself.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::Result;
use crate::id::{PaymentId, ProviderId, RefundReference};
use crate::refund::Refund;
use crate::request::{RefundAmount, RefundRequest};

/// A boxed, `Send` future: what the object-safe [`RefundProvider`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A payment provider that can refund.
///
/// Object-safe, so that the facade holds `Arc<dyn RefundProvider>` and an application can plug in
/// a provider of its own. Implementations must be cheap to share across tasks.
///
/// # Contract for implementors
/// - `refund` sends at most one refund request per call and never retries a request that may
///   have reached the provider; retries and reconciliation belong to the caller (the facade).
/// - A provider's business refusal is `Ok` with [`RefundStatus::Declined`](crate::RefundStatus);
///   "sent, but we don't know what happened" is [`ErrorKind::OutcomeUnknown`](crate::ErrorKind).
/// - `find_refund` only answers [`Lookup::Absent`] when the provider itself proved absence
///   (contract §0.5); anything doubtful is [`Lookup::Inconclusive`] or an error.
pub trait RefundProvider: Send + Sync + fmt::Debug {
    /// The provider's name.
    fn provider(&self) -> ProviderId;

    /// What this provider can do.
    fn capabilities(&self) -> Capabilities;

    /// Sends one refund request.
    ///
    /// # Errors
    /// Any [`ErrorKind`](crate::ErrorKind): `InvalidInput`/`Unsupported` before any I/O,
    /// `OutcomeUnknown` when the request may have been applied.
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> BoxFuture<'a, Result<Refund>>;

    /// Finds out whether a refund exists for `query` (the reconciliation step).
    ///
    /// # Errors
    /// Transport, timeout, auth and provider errors of the lookup itself; the caller treats them
    /// as inconclusive.
    fn find_refund<'a>(&'a self, query: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup>>;

    /// Reads what the provider needs remembered *before* a refund is sent, so that a later
    /// lookup can tell a new refund from an older one (Payabli partial refunds, contract §3.6).
    /// Providers that need nothing return `None`, which is the default.
    ///
    /// # Errors
    /// As for [`find_refund`](Self::find_refund).
    fn snapshot<'a>(
        &'a self,
        payment_id: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<Snapshot>>> {
        let _ = payment_id;
        Box::pin(async { Ok(None) })
    }
}

/// What a provider supports. Built with [`Capabilities::none`] and the `with_*` methods.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Partial refunds are possible.
    pub partial_refunds: bool,
    /// Several partial refunds of one payment are possible.
    pub multiple_partial_refunds: bool,
    /// The provider honours an idempotency key, and for how long it remembers it.
    pub idempotency_window: Option<Duration>,
    /// A refund can be looked up by the caller's reference.
    pub lookup_by_reference: bool,
    /// Reconciling a partial refund needs a [`Snapshot`] taken before the first attempt.
    pub snapshot_for_partial: bool,
    /// Every call of this provider ([`refund`](RefundProvider::refund),
    /// [`find_refund`](RefundProvider::find_refund), [`snapshot`](RefundProvider::snapshot))
    /// ends within this time, answered or failed with a timeout: the provider enforces it
    /// itself. A caller that would time the call out later than this need not add a timer of
    /// its own. `None`: no such promise.
    pub call_timeout: Option<Duration>,
    /// This provider's [`Lookup::Absent`] proves absence only when the lookup was made at least
    /// this long after the last refund request for the reference was sent (a request may still
    /// be processing, and its refund becomes visible only later), and a second such lookup
    /// agrees. `None`: an `Absent` answer proves absence at once.
    pub absence_settles_after: Option<Duration>,
}

impl Capabilities {
    /// Full refunds only, nothing else.
    pub fn none() -> Self {
        Capabilities {
            partial_refunds: false,
            multiple_partial_refunds: false,
            idempotency_window: None,
            lookup_by_reference: false,
            snapshot_for_partial: false,
            call_timeout: None,
            absence_settles_after: None,
        }
    }

    /// Partial refunds are possible.
    #[must_use]
    pub fn with_partial_refunds(mut self) -> Self {
        self.partial_refunds = true;
        self
    }

    /// Several partial refunds per payment are possible (implies partial refunds).
    #[must_use]
    pub fn with_multiple_partial_refunds(mut self) -> Self {
        self.partial_refunds = true;
        self.multiple_partial_refunds = true;
        self
    }

    /// The provider honours an idempotency key for `window`.
    #[must_use]
    pub fn with_idempotency_window(mut self, window: Duration) -> Self {
        self.idempotency_window = Some(window);
        self
    }

    /// Refunds can be looked up by reference.
    #[must_use]
    pub fn with_lookup_by_reference(mut self) -> Self {
        self.lookup_by_reference = true;
        self
    }

    /// Partial-refund reconciliation needs a snapshot.
    #[must_use]
    pub fn with_snapshot_for_partial(mut self) -> Self {
        self.snapshot_for_partial = true;
        self
    }

    /// Every call of the provider ends within `timeout` (see
    /// [`call_timeout`](Self::call_timeout)). Promise it only when the provider enforces it.
    #[must_use]
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// [`Lookup::Absent`] proves absence only `window` after the last send, confirmed by a
    /// second lookup (see [`absence_settles_after`](Self::absence_settles_after)).
    #[must_use]
    pub fn with_absence_settling(mut self, window: Duration) -> Self {
        self.absence_settles_after = Some(window);
        self
    }
}

/// Provider state remembered before a refund (opaque text the provider wrote, so it can be
/// stored in a journal and given back after a restart).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Snapshot(String);

impl Snapshot {
    /// Wraps provider-written text.
    pub fn new(text: impl Into<String>) -> Self {
        Snapshot(text.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What to look for when reconciling: the refund of `payment_id` keyed by `reference`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefundQuery {
    /// The refunded payment.
    pub payment_id: PaymentId,
    /// The caller's reference.
    pub reference: RefundReference,
    /// The amount that was asked for, which tells full from partial refunds.
    pub amount: RefundAmount,
    /// The snapshot taken before the first attempt, if any.
    pub snapshot: Option<Snapshot>,
}

impl RefundQuery {
    /// A query for a full refund.
    pub fn new(payment_id: PaymentId, reference: RefundReference) -> Self {
        RefundQuery {
            payment_id,
            reference,
            amount: RefundAmount::Full,
            snapshot: None,
        }
    }

    /// The query that reconciles `request`.
    pub fn for_request(request: &RefundRequest) -> Self {
        RefundQuery {
            payment_id: request.payment_id().clone(),
            reference: request.reference().clone(),
            amount: request.amount(),
            snapshot: None,
        }
    }

    /// Sets the amount that was asked for.
    #[must_use]
    pub fn with_amount(mut self, amount: RefundAmount) -> Self {
        self.amount = amount;
        self
    }

    /// Sets the snapshot.
    #[must_use]
    pub fn with_snapshot(mut self, snapshot: Option<Snapshot>) -> Self {
        self.snapshot = snapshot;
        self
    }
}

/// The answer of a reconciliation lookup (contract §0.5).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "one Lookup per reconciliation step; boxing would only make matching clumsier"
)]
pub enum Lookup {
    /// The refund exists; this is its current state.
    Found(Refund),
    /// The provider itself proved that no refund exists for the reference: re-sending is safe.
    Absent,
    /// The answer proves nothing either way (a bare 404 from a gateway, an unexpected body, a
    /// partial refund without a snapshot). The reason is for logs.
    Inconclusive(String),
}
