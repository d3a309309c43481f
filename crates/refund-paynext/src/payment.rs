//! The public, PayNext-specific view of a payment's refund state (N-L1, contract §2.4).
//!
//! Built from the private wire model in `convert.rs`; these types carry exact [`Money`] and open
//! enums, so a new PayNext value never breaks a caller.

use std::fmt;

use refund_core::{DeclineCode, Money, PaymentId, RefundStatus};

/// A PayNext payment, reduced to what tells its refund state: what
/// [`Client::get_payment`](crate::Client::get_payment) answers.
///
/// Amounts are PayNext's integer minor units read in the payment's `currency_code`; when that
/// code is missing or unknown, the amounts are `None` (the raw code stays in
/// [`currency_code`](Self::currency_code)).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Payment {
    /// The payment id.
    pub id: PaymentId,
    /// The payment amount.
    pub amount: Option<Money>,
    /// The ISO 4217 code as PayNext wrote it.
    pub currency_code: Option<String>,
    /// The payment's own status. "Refunded payments retain their original status" (contract
    /// §2.5), so this never tells whether a refund exists.
    pub status: Option<PaymentStatus>,
    /// The amount refunded so far (`refunded_amount`; it counts completed refunds, contract
    /// §2.4).
    pub refunded_amount: Option<Money>,
    /// The refund, when PayNext reports one (`refund`).
    pub refund: Option<PaymentRefund>,
    /// The refund's outcome derived as in contract §2.4, `None` when no refund exists (no
    /// `refund` object and `refunded_amount` 0 or absent).
    pub refund_status: Option<RefundStatus>,
    /// Why the *payment* ended as it did (`status_reason`), when PayNext says.
    pub status_reason: Option<StatusReason>,
}

impl Payment {
    /// Whether a refund exists on this payment (contract §2.6: `refund` is non-null or
    /// `refunded_amount > 0`).
    pub fn has_refund(&self) -> bool {
        self.refund_status.is_some()
    }
}

/// The `refund` object of a payment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PaymentRefund {
    /// `refund.status` as PayNext wrote it (a known value in its upper-case spelling; refund
    /// statuses are processor-specific, so any text may appear).
    pub raw_status: Option<String>,
    /// The outcome derived from it (contract §2.4; without a status, from `refunded_amount`).
    pub status: RefundStatus,
    /// The refund amount.
    pub amount: Option<Money>,
    /// The processor's id of the refund, when non-empty.
    pub processor_transaction_id: Option<String>,
    /// When the refund was created, as PayNext wrote it (ISO 8601 UTC).
    pub created_at: Option<String>,
    /// When the refund last changed, as PayNext wrote it (ISO 8601 UTC).
    pub updated_at: Option<String>,
}

/// PayNext's `status_reason`: why the payment ended as it did (decline-codes guide). Values are
/// kept as PayNext wrote them; [`normalized_decline_code`](Self::normalized_decline_code) maps
/// the decline code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StatusReason {
    /// The outcome it explains, for example `declined`.
    pub status: Option<String>,
    /// Retry advice: `try_again_later` or `do_not_try_again` (open).
    pub advice_code: Option<String>,
    /// The decline code, for example `insufficient_funds` (open).
    pub decline_code: Option<String>,
    /// PayNext's message. Free text: show it, never parse it.
    pub message: Option<String>,
}

impl StatusReason {
    /// The provider-independent reading of [`decline_code`](Self::decline_code), `None` when
    /// there is none.
    pub fn normalized_decline_code(&self) -> Option<DeclineCode> {
        self.decline_code
            .as_deref()
            .map(crate::convert::normalize_decline_code)
    }
}

/// A payment's `payment_status` (contract §2.5). Open: a value this version does not know is
/// kept in [`Other`](Self::Other); compare with [`as_str`](Self::as_str) to be robust against
/// values added later.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaymentStatus {
    /// `PENDING`
    Pending,
    /// `AUTHORIZED`
    Authorized,
    /// `SETTLING`: refundable.
    Settling,
    /// `SETTLED`: refundable.
    Settled,
    /// `DECLINED`
    Declined,
    /// `FAILED`
    Failed,
    /// `BLOCKED`
    Blocked,
    /// `CANCELLED`
    Cancelled,
    /// `INCOMPLETE`
    Incomplete,
    /// Any other value, exactly as received.
    Other(String),
}

impl PaymentStatus {
    /// The value as PayNext writes it (`"SETTLED"`).
    pub fn as_str(&self) -> &str {
        match self {
            PaymentStatus::Pending => "PENDING",
            PaymentStatus::Authorized => "AUTHORIZED",
            PaymentStatus::Settling => "SETTLING",
            PaymentStatus::Settled => "SETTLED",
            PaymentStatus::Declined => "DECLINED",
            PaymentStatus::Failed => "FAILED",
            PaymentStatus::Blocked => "BLOCKED",
            PaymentStatus::Cancelled => "CANCELLED",
            PaymentStatus::Incomplete => "INCOMPLETE",
            PaymentStatus::Other(raw) => raw,
        }
    }

    /// Whether PayNext accepts a refund of a payment in this status (`SETTLING` or `SETTLED`,
    /// contract §2.4).
    pub fn is_refundable(&self) -> bool {
        matches!(self, PaymentStatus::Settling | PaymentStatus::Settled)
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for PaymentStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_status_text() {
        for (status, text) in [
            (PaymentStatus::Pending, "PENDING"),
            (PaymentStatus::Authorized, "AUTHORIZED"),
            (PaymentStatus::Settling, "SETTLING"),
            (PaymentStatus::Settled, "SETTLED"),
            (PaymentStatus::Declined, "DECLINED"),
            (PaymentStatus::Failed, "FAILED"),
            (PaymentStatus::Blocked, "BLOCKED"),
            (PaymentStatus::Cancelled, "CANCELLED"),
            (PaymentStatus::Incomplete, "INCOMPLETE"),
            (PaymentStatus::Other("REFUNDED".into()), "REFUNDED"),
        ] {
            assert_eq!(status.as_str(), text);
            assert_eq!(status.to_string(), text);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{text}\"")
            );
            assert_eq!(
                status.is_refundable(),
                matches!(text, "SETTLING" | "SETTLED")
            );
        }
    }

    #[test]
    fn status_reason_normalizes_its_decline_code() {
        let reason = |code: Option<&str>| StatusReason {
            status: Some("declined".into()),
            advice_code: None,
            decline_code: code.map(str::to_owned),
            message: None,
        };
        assert_eq!(reason(None).normalized_decline_code(), None);
        assert_eq!(
            reason(Some("expired_card")).normalized_decline_code(),
            Some(DeclineCode::CardExpired)
        );
        assert_eq!(
            reason(Some("velocity_exceeded")).normalized_decline_code(),
            Some(DeclineCode::Other)
        );
    }
}
