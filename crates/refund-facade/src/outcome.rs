//! What the facade reports for one logical refund.

use refund_core::{Money, Refund, RefundAmount, RefundRequest};

/// The provider's truth about one logical refund, and how the facade got it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefundOutcome {
    /// The refund as the provider reports it.
    pub refund: Refund,
    /// Refund requests sent (1 unless a failure that never reached the provider, a 429, or a
    /// proven-absent lookup led to a re-send).
    pub attempts: u32,
    /// Reconciliation lookups made.
    pub lookups: u32,
    /// Whether the outcome was established by a reconciliation lookup rather than the answer
    /// to a refund request (the answer was lost, so the facade looked the refund up).
    pub reconciled: bool,
    /// Set when the provider reported an amount or currency that differs from the request.
    /// The refund happened as the provider says; the caller must look at it.
    pub mismatch: Option<AmountMismatch>,
}

impl RefundOutcome {
    /// Whether the provider's reported amount agrees with the request (or reported none).
    pub fn is_consistent(&self) -> bool {
        self.mismatch.is_none()
    }
}

/// The provider reported a refunded amount that differs from what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AmountMismatch {
    /// What the request asked for.
    pub requested: Money,
    /// What the provider reported.
    pub reported: Money,
}

/// Compares the provider's reported amount with the request (integrity check).
///
/// Only a partial refund has a known expected amount; for a full refund the currency alone
/// cannot be checked without the payment, so nothing is flagged.
pub(crate) fn check_integrity(request: &RefundRequest, refund: &Refund) -> Option<AmountMismatch> {
    let requested = match request.amount() {
        RefundAmount::Partial(m) => m,
        _ => return None,
    };
    let reported = refund.amount?;
    (reported != requested).then_some(AmountMismatch {
        requested,
        reported,
    })
}
