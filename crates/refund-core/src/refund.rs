//! What a provider answered: [`Refund`], its [`RefundStatus`] and decline details.

use std::fmt;

use crate::id::{PaymentId, ProviderId, RefundId, RefundReference};
use crate::money::Money;

/// The state of a refund as the provider reports it (contract §0.4).
///
/// Rejections (the request was refused before processing) and unknown outcomes are errors, not
/// statuses: see [`ErrorKind`](crate::ErrorKind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefundStatus {
    /// The provider approved the refund; money moved.
    Succeeded,
    /// The provider accepted the refund; the final state comes later.
    Pending,
    /// The provider processed the request and refused it; no money moved.
    Declined,
}

impl RefundStatus {
    /// `"succeeded"`, `"pending"` or `"declined"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Pending => "pending",
            RefundStatus::Declined => "declined",
        }
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider-independent reason for a decline. Providers' raw codes stay in
/// [`Decline::provider_code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeclineCode {
    /// The amount is invalid for this refund.
    InvalidAmount,
    /// The amount exceeds the original payment.
    AmountExceedsOriginal,
    /// The amount is no longer available (already refunded, or the balance is lower).
    AmountNoLongerAvailable,
    /// The merchant or issuer account lacks funds.
    InsufficientFunds,
    /// The issuer declined without more detail ("do not honour").
    DoNotHonor,
    /// The card has expired.
    CardExpired,
    /// The card was reported lost or stolen.
    CardLostOrStolen,
    /// The issuer suspects fraud.
    SuspectedFraud,
    /// The issuer or processor could not be reached.
    IssuerUnavailable,
    /// The payment cannot be refunded in its state.
    NotRefundable,
    /// The transaction is invalid or not allowed.
    InvalidTransaction,
    /// A limit was exceeded.
    LimitExceeded,
    /// Anything else; see the provider's code and message.
    Other,
}

impl DeclineCode {
    /// A stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeclineCode::InvalidAmount => "invalid_amount",
            DeclineCode::AmountExceedsOriginal => "amount_exceeds_original",
            DeclineCode::AmountNoLongerAvailable => "amount_no_longer_available",
            DeclineCode::InsufficientFunds => "insufficient_funds",
            DeclineCode::DoNotHonor => "do_not_honor",
            DeclineCode::CardExpired => "card_expired",
            DeclineCode::CardLostOrStolen => "card_lost_or_stolen",
            DeclineCode::SuspectedFraud => "suspected_fraud",
            DeclineCode::IssuerUnavailable => "issuer_unavailable",
            DeclineCode::NotRefundable => "not_refundable",
            DeclineCode::InvalidTransaction => "invalid_transaction",
            DeclineCode::LimitExceeded => "limit_exceeded",
            DeclineCode::Other => "other",
        }
    }
}

/// Why a refund was declined.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Decline {
    /// The normalized reason.
    pub code: DeclineCode,
    /// The provider's raw code (`"51"`, `"D0100"`, `"insufficient_funds"`), when it gave one.
    pub provider_code: Option<String>,
    /// The provider's message, when it gave one. Free text: show it, never parse it.
    pub message: Option<String>,
}

impl Decline {
    /// A decline with a normalized code and no provider detail.
    pub fn new(code: DeclineCode) -> Self {
        Decline {
            code,
            provider_code: None,
            message: None,
        }
    }

    /// Sets the provider's raw code.
    #[must_use]
    pub fn with_provider_code(mut self, code: impl Into<String>) -> Self {
        self.provider_code = Some(code.into());
        self
    }

    /// Sets the provider's message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// The outcome of a refund, as the provider reported it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Refund {
    /// Which provider.
    pub provider: ProviderId,
    /// The refunded payment.
    pub payment_id: PaymentId,
    /// The caller's reference for this logical refund.
    pub reference: RefundReference,
    /// The provider's id of the refund, when it gave one.
    pub refund_id: Option<RefundId>,
    /// Succeeded, pending or declined.
    pub status: RefundStatus,
    /// The amount refunded, when the provider said.
    pub amount: Option<Money>,
    /// The refundable amount left on the payment, when the provider said.
    pub remaining: Option<Money>,
    /// Decline details, for a declined refund.
    pub decline: Option<Decline>,
    /// The provider's raw status or result code (`"00"`, `"SUCCEEDED"`, `"A0004"`).
    pub raw_status: Option<String>,
}

impl Refund {
    /// A refund outcome with the required fields; the rest start empty.
    pub fn new(
        provider: ProviderId,
        payment_id: PaymentId,
        reference: RefundReference,
        status: RefundStatus,
    ) -> Self {
        Refund {
            provider,
            payment_id,
            reference,
            refund_id: None,
            status,
            amount: None,
            remaining: None,
            decline: None,
            raw_status: None,
        }
    }

    /// Sets the provider's refund id.
    #[must_use]
    pub fn with_refund_id(mut self, id: RefundId) -> Self {
        self.refund_id = Some(id);
        self
    }

    /// Sets the refunded amount.
    #[must_use]
    pub fn with_amount(mut self, amount: Money) -> Self {
        self.amount = Some(amount);
        self
    }

    /// Sets the remaining refundable amount.
    #[must_use]
    pub fn with_remaining(mut self, remaining: Money) -> Self {
        self.remaining = Some(remaining);
        self
    }

    /// Sets decline details.
    #[must_use]
    pub fn with_decline(mut self, decline: Decline) -> Self {
        self.decline = Some(decline);
        self
    }

    /// Sets the provider's raw status.
    #[must_use]
    pub fn with_raw_status(mut self, raw: impl Into<String>) -> Self {
        self.raw_status = Some(raw.into());
        self
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Money", 2)?;
        st.serialize_field("amount", &self.decimal_text())?;
        st.serialize_field("currency", &self.currency())?;
        st.end()
    }
}
