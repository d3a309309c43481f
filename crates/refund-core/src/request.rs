//! What a caller asks for: [`RefundRequest`] and its builder.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::id::{PaymentId, RefundReference};
use crate::money::Money;

/// How much to refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefundAmount {
    /// The whole remaining refundable amount of the payment.
    Full,
    /// Exactly this amount, which is greater than zero.
    Partial(Money),
}

impl RefundAmount {
    /// The amount of a partial refund, `None` for a full one.
    pub fn partial(&self) -> Option<Money> {
        match self {
            RefundAmount::Full => None,
            RefundAmount::Partial(m) => Some(*m),
        }
    }
}

/// The longest reason accepted, in characters (Plexy's `description` and Payabli's
/// `orderDescription` limits are at least this).
pub const MAX_REASON_CHARS: usize = 250;
/// The most metadata entries accepted.
pub const MAX_METADATA_ENTRIES: usize = 20;

/// One logical refund: which payment, how much, and the caller's reference for it.
///
/// Built with [`RefundRequest::builder`]; a built request is always valid, so providers never
/// have to re-check it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRequest {
    payment_id: PaymentId,
    reference: RefundReference,
    amount: RefundAmount,
    reason: Option<String>,
    metadata: BTreeMap<String, String>,
}

impl RefundRequest {
    /// Starts a request for a full refund of `payment_id`, keyed by `reference`.
    pub fn builder(payment_id: PaymentId, reference: RefundReference) -> RefundRequestBuilder {
        RefundRequestBuilder {
            payment_id,
            reference,
            amount: RefundAmount::Full,
            reason: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The payment to refund.
    pub fn payment_id(&self) -> &PaymentId {
        &self.payment_id
    }

    /// The caller's reference (idempotency key) for this logical refund.
    pub fn reference(&self) -> &RefundReference {
        &self.reference
    }

    /// Full or partial, and how much.
    pub fn amount(&self) -> RefundAmount {
        self.amount
    }

    /// The reason given to the provider, when one was set.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Caller metadata. Providers that cannot carry metadata ignore it.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
}

/// Builder of a [`RefundRequest`]; errors are reported by [`build`](Self::build).
#[derive(Clone, Debug)]
#[must_use]
pub struct RefundRequestBuilder {
    payment_id: PaymentId,
    reference: RefundReference,
    amount: RefundAmount,
    reason: Option<String>,
    metadata: BTreeMap<String, String>,
}

impl RefundRequestBuilder {
    /// Refunds the whole remaining amount. This is the default.
    pub fn full(mut self) -> Self {
        self.amount = RefundAmount::Full;
        self
    }

    /// Refunds exactly `amount`, which must be greater than zero. Default: a full refund.
    pub fn partial(mut self, amount: Money) -> Self {
        self.amount = RefundAmount::Partial(amount);
        self
    }

    /// A free-text reason, at most 250 characters. Default: none.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds one metadata entry (at most 20; keys 1–40 and values up to 500 characters).
    /// Default: none.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Checks and builds the request.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) for a zero partial amount, an empty or
    /// over-long reason, or metadata over the limits.
    pub fn build(self) -> Result<RefundRequest, Error> {
        if let RefundAmount::Partial(m) = self.amount
            && m.is_zero()
        {
            return Err(Error::invalid_input(
                "a partial refund amount must be greater than zero (zero means a full refund to some providers)",
            ));
        }
        if let Some(reason) = &self.reason {
            let n = reason.chars().count();
            if n == 0 || n > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
                return Err(Error::invalid_input(format!(
                    "reason must be 1 to {MAX_REASON_CHARS} characters without control characters"
                )));
            }
        }
        if self.metadata.len() > MAX_METADATA_ENTRIES {
            return Err(Error::invalid_input(format!(
                "at most {MAX_METADATA_ENTRIES} metadata entries"
            )));
        }
        for (k, v) in &self.metadata {
            if !(1..=40).contains(&k.chars().count()) || v.chars().count() > 500 {
                return Err(Error::invalid_input(
                    "metadata keys must be 1 to 40 characters and values at most 500",
                ));
            }
        }
        Ok(RefundRequest {
            payment_id: self.payment_id,
            reference: self.reference,
            amount: self.amount,
            reason: self.reason,
            metadata: self.metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, ErrorKind};

    fn builder() -> RefundRequestBuilder {
        RefundRequest::builder(
            PaymentId::new("p1").unwrap(),
            RefundReference::new("rf-1").unwrap(),
        )
    }

    #[test]
    fn zero_partial_is_refused() {
        let zero = Money::from_minor(0, Currency::USD).unwrap();
        assert_eq!(
            builder().partial(zero).build().unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let zero = Money::parse("0.00", Currency::USD).unwrap();
        assert_eq!(
            builder().partial(zero).build().unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn defaults_and_limits() {
        let r = builder().build().unwrap();
        assert_eq!(r.amount(), RefundAmount::Full);
        assert_eq!(r.reason(), None);
        assert!(builder().reason("").build().is_err());
        assert!(builder().reason("x".repeat(251)).build().is_err());
        assert!(builder().reason("x".repeat(250)).build().is_ok());
        let ten = Money::parse("10", Currency::USD).unwrap();
        assert_eq!(
            builder().partial(ten).build().unwrap().amount().partial(),
            Some(ten)
        );
    }
}
