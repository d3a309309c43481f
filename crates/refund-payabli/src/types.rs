//! Payabli-only inputs and outputs: [`PayabliRefund`] (a core refund plus the optional body
//! fields of contract §3.4) and [`TransactionDetails`] (what Y-L1 says about a transaction).

use std::net::IpAddr;

use refund_core::{Currency, Error, Money, RefundAmount, RefundRequest, RefundStatus};

/// The longest `orderId` Payabli accepts, in characters (§3.4).
pub const MAX_ORDER_ID_CHARS: usize = 250;
/// The longest `orderDescription` Payabli accepts, in characters (§3.4).
pub const MAX_ORDER_DESCRIPTION_CHARS: usize = 250;
/// The longest `source` Payabli accepts, in characters (§3.4).
pub const MAX_SOURCE_CHARS: usize = 100;

/// A refund with the options only Payabli has: split refunds, line items, `orderId`,
/// `orderDescription`, `source` and `ipaddress` (contract §3.4).
///
/// Built with [`PayabliRefund::builder`] from a core [`RefundRequest`] (which says which
/// transaction, how much, and the refund reference sent as `idempotencyKey`); sent with
/// [`Client::refund_with`](crate::Client::refund_with). A built value is always valid, so the
/// client never has to re-check it.
///
/// A request body is sent only when at least one option is set; a plain refund goes out with no
/// body and no `Content-Type` ("omit the body for a standard refund", §3.4). The body never
/// carries the refund amount: it travels only in the path.
///
/// ```
/// use refund_payabli::{LineItem, PayabliRefund, SplitRefund};
/// use refund_payabli::refund_core::{Currency, Money, PaymentId, RefundReference, RefundRequest};
///
/// # fn main() -> Result<(), refund_payabli::refund_core::Error> {
/// let usd = |text| Money::parse(text, Currency::USD);
/// let request = RefundRequest::builder(
///     PaymentId::new("10-3ffa27df-b171-44e0-b251-e95fbfc7a723")?,
///     RefundReference::new("rf-9c02")?,
/// )
/// .partial(usd("10.50")?)
/// .build()?;
/// let refund = PayabliRefund::builder(request)
///     .order_id("rf-9c02")
///     .source("api")
///     .split(SplitRefund::new("entry-a", "acct-1", usd("7.00")?))
///     .split(SplitRefund::new("entry-b", "acct-2", usd("3.50")?).with_description("fees"))
///     .line_item(LineItem::new("dues", usd("10.50")?, 1))
///     .build()?;
/// assert_eq!(refund.split_refunds().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayabliRefund {
    request: RefundRequest,
    order_id: Option<String>,
    order_description: Option<String>,
    source: Option<String>,
    ip_address: Option<IpAddr>,
    split_refunds: Vec<SplitRefund>,
    line_items: Vec<LineItem>,
}

impl PayabliRefund {
    /// Starts a Payabli refund of `request`, with no options set.
    pub fn builder(request: RefundRequest) -> PayabliRefundBuilder {
        PayabliRefundBuilder {
            request,
            order_id: None,
            order_description: None,
            source: None,
            ip_address: None,
            split_refunds: Vec::new(),
            line_items: Vec::new(),
        }
    }

    /// The core request: transaction, amount and refund reference.
    pub fn request(&self) -> &RefundRequest {
        &self.request
    }

    /// `orderId`, when set.
    pub fn order_id(&self) -> Option<&str> {
        self.order_id.as_deref()
    }

    /// `orderDescription`, when set.
    pub fn order_description(&self) -> Option<&str> {
        self.order_description.as_deref()
    }

    /// `source`, when set.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// `ipaddress`, when set.
    pub fn ip_address(&self) -> Option<IpAddr> {
        self.ip_address
    }

    /// The split instructions (`refundDetails.splitRefunding`), in order.
    pub fn split_refunds(&self) -> &[SplitRefund] {
        &self.split_refunds
    }

    /// The line items (`refundDetails.categories`), in order.
    pub fn line_items(&self) -> &[LineItem] {
        &self.line_items
    }

    /// Whether any option is set, that is whether a request body is sent.
    pub fn has_body(&self) -> bool {
        self.order_id.is_some()
            || self.order_description.is_some()
            || self.source.is_some()
            || self.ip_address.is_some()
            || !self.split_refunds.is_empty()
            || !self.line_items.is_empty()
    }
}

impl From<RefundRequest> for PayabliRefund {
    /// A Payabli refund with no options: no body is sent.
    fn from(request: RefundRequest) -> Self {
        PayabliRefund {
            request,
            order_id: None,
            order_description: None,
            source: None,
            ip_address: None,
            split_refunds: Vec::new(),
            line_items: Vec::new(),
        }
    }
}

/// Builder of a [`PayabliRefund`]; errors are reported by [`build`](Self::build).
#[derive(Clone, Debug)]
#[must_use]
pub struct PayabliRefundBuilder {
    request: RefundRequest,
    order_id: Option<String>,
    order_description: Option<String>,
    source: Option<String>,
    ip_address: Option<String>,
    split_refunds: Vec<SplitRefund>,
    line_items: Vec<LineItem>,
}

impl PayabliRefundBuilder {
    /// Sets `orderId`, a custom identifier of at most 250 characters. Default: not sent.
    pub fn order_id(mut self, order_id: impl Into<String>) -> Self {
        self.order_id = Some(order_id.into());
        self
    }

    /// Sets `orderDescription`, a text of at most 250 characters. Default: not sent.
    ///
    /// The core request's [`reason`](RefundRequest::reason) is not sent by itself (Payabli has
    /// no reason field); pass it here to send it.
    pub fn order_description(mut self, description: impl Into<String>) -> Self {
        self.order_description = Some(description.into());
        self
    }

    /// Sets `source`, the request source, at most 100 characters. Default: not sent.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets `ipaddress`, an IPv4 or IPv6 address in text form. It is sent in its canonical form
    /// (`::1`, `192.0.2.7`). Default: not sent.
    pub fn ip_address(mut self, address: impl Into<String>) -> Self {
        self.ip_address = Some(address.into());
        self
    }

    /// Adds one split instruction (`refundDetails.splitRefunding`). Default: none.
    pub fn split(mut self, split: SplitRefund) -> Self {
        self.split_refunds.push(split);
        self
    }

    /// Adds one line item (`refundDetails.categories`). Default: none.
    pub fn line_item(mut self, item: LineItem) -> Self {
        self.line_items.push(item);
        self
    }

    /// Checks and builds the refund.
    ///
    /// # Errors
    /// [`InvalidInput`](refund_core::ErrorKind::InvalidInput), before anything is sent, when
    /// `orderId` or `orderDescription` is longer than 250 characters, `source` longer than 100,
    /// `ipaddress` is not an IP address, or the amounts of the split instructions and line items
    /// are not all in one currency (the refund's own currency for a partial refund).
    pub fn build(self) -> Result<PayabliRefund, Error> {
        check_len("orderId", self.order_id.as_deref(), MAX_ORDER_ID_CHARS)?;
        check_len(
            "orderDescription",
            self.order_description.as_deref(),
            MAX_ORDER_DESCRIPTION_CHARS,
        )?;
        check_len("source", self.source.as_deref(), MAX_SOURCE_CHARS)?;
        let ip_address =
            match &self.ip_address {
                Some(text) => Some(text.parse::<IpAddr>().map_err(|_| {
                    Error::invalid_input("ipaddress must be an IPv4 or IPv6 address")
                })?),
                None => None,
            };
        // Payabli reads these amounts in the transaction's currency; mixing currencies is a
        // mistake we can catch before sending.
        let mut currency: Option<Currency> = match self.request.amount() {
            RefundAmount::Partial(m) => Some(m.currency()),
            _ => None,
        };
        let amounts = self
            .split_refunds
            .iter()
            .map(|s| s.amount)
            .chain(self.line_items.iter().map(|i| i.amount));
        for amount in amounts {
            match currency {
                Some(c) if c != amount.currency() => {
                    return Err(Error::invalid_input(format!(
                        "split and line item amounts must be in the refund's currency {c} \
                         (found {})",
                        amount.currency()
                    )));
                }
                Some(_) => {}
                None => currency = Some(amount.currency()),
            }
        }
        Ok(PayabliRefund {
            request: self.request,
            order_id: self.order_id,
            order_description: self.order_description,
            source: self.source,
            ip_address,
            split_refunds: self.split_refunds,
            line_items: self.line_items,
        })
    }
}

fn check_len(field: &str, value: Option<&str>, max: usize) -> Result<(), Error> {
    match value {
        Some(v) if v.chars().count() > max => Err(Error::invalid_input(format!(
            "{field} must be at most {max} characters"
        ))),
        _ => Ok(()),
    }
}

/// One split instruction of a split-funded refund (`refundDetails.splitRefunding[]`, §3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplitRefund {
    /// `originationEntryPoint`: the paypoint entry point the split came from.
    pub origination_entry_point: String,
    /// `accountId`: the account the split is taken back from.
    pub account_id: String,
    /// `description`, when set.
    pub description: Option<String>,
    /// `amount`, sent as an exact JSON number in major units (`7.00`).
    pub amount: Money,
}

impl SplitRefund {
    /// A split instruction without a description.
    pub fn new(
        origination_entry_point: impl Into<String>,
        account_id: impl Into<String>,
        amount: Money,
    ) -> Self {
        SplitRefund {
            origination_entry_point: origination_entry_point.into(),
            account_id: account_id.into(),
            description: None,
            amount,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// One line item of a refund (`refundDetails.categories[]`, §3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineItem {
    /// `label`.
    pub label: String,
    /// `description`, when set.
    pub description: Option<String>,
    /// `amount`, sent as an exact JSON number in major units (`10.50`).
    pub amount: Money,
    /// `qty`.
    pub quantity: u32,
}

impl LineItem {
    /// A line item without a description.
    pub fn new(label: impl Into<String>, amount: Money, quantity: u32) -> Self {
        LineItem {
            label: label.into(),
            description: None,
            amount,
            quantity,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// What Payabli's transaction details lookup (Y-L1, `GET /MoneyIn/details/{transId}`) says
/// about a transaction, read by [`Client::transaction_details`](crate::Client::transaction_details).
///
/// Every field is `None` when Payabli did not provide it (§0.6).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TransactionDetails {
    /// `PaymentTransId`: the transaction's id.
    pub trans_id: Option<String>,
    /// `Operation`: `Sale`, `Refund`, … as Payabli wrote it.
    pub operation: Option<String>,
    /// `TransStatus` (§3.5): 1 approved/captured, 2 and 3 declined, 5 voided, 0 and −1 failed,
    /// 10 initiated, 11 authorized.
    pub trans_status: Option<i64>,
    /// `SettlementStatus` (§3.5): 0 batch open, 1 in transit, 2 transferred, 3 funded,
    /// −1 exception, −2 ACH return or chargeback, −5 held, −6 released.
    pub settlement_status: Option<i64>,
    /// `TotalAmount` in `paymentDetails.currency`, as a magnitude (Payabli writes refund
    /// transactions as negative amounts). `None` without a currency.
    pub total_amount: Option<Money>,
    /// `paymentDetails.serviceFee`, in the same currency.
    pub service_fee: Option<Money>,
    /// The most a refund may return: `TotalAmount` − `serviceFee` (§3.4), before any earlier
    /// refunds, which this record does not list. `None` when either is missing.
    pub refundable_amount: Option<Money>,
    /// `RefundId`: non-zero when a refund is linked to the transaction.
    pub refund_id: Option<i64>,
    /// `ReturnedId`: non-zero when a return is linked to the transaction.
    pub returned_id: Option<i64>,
    /// `OrderId`, informational.
    pub order_id: Option<String>,
    /// Whether a refund can be sent now (§3.4).
    pub refundability: Refundability,
}

impl TransactionDetails {
    /// The refund outcome this record stands for when it is a refund transaction (Y-L1 on a
    /// refund's transId; §3.4, ASSUMED): `TransStatus` 1 → succeeded; 10 or 11 → pending; 2, 3, 5,
    /// 0 or −1 → declined. `None` for any other or a missing status.
    pub fn refund_status(&self) -> Option<RefundStatus> {
        match self.trans_status? {
            1 => Some(RefundStatus::Succeeded),
            10 | 11 => Some(RefundStatus::Pending),
            2 | 3 | 5 | 0 | -1 => Some(RefundStatus::Declined),
            _ => None,
        }
    }
}

/// Whether a transaction can be refunded now (§3.4: rules CONFIRMED, mapping ASSUMED).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refundability {
    /// `TransStatus` 1 and a settlement state that allows refunds.
    Refundable,
    /// `TransStatus` 1 but `SettlementStatus` 0: the batch is still open, so void the
    /// transaction instead of refunding it.
    VoidInstead,
    /// `TransStatus` is not 1, or `SettlementStatus` −2 (ACH return or chargeback; v1 code
    /// 3007).
    NotRefundable,
    /// `TransStatus` or `SettlementStatus` is missing.
    Unknown,
}

impl Refundability {
    /// Reads the two statuses (§3.4).
    pub fn from_statuses(trans_status: Option<i64>, settlement_status: Option<i64>) -> Self {
        match (trans_status, settlement_status) {
            (Some(t), _) if t != 1 => Refundability::NotRefundable,
            (Some(_), Some(-2)) => Refundability::NotRefundable,
            (Some(_), Some(0)) => Refundability::VoidInstead,
            (Some(_), Some(_)) => Refundability::Refundable,
            _ => Refundability::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use refund_core::{ErrorKind, PaymentId, RefundReference};

    use super::*;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::USD).unwrap()
    }

    fn request(amount: Option<Money>) -> RefundRequest {
        let b = RefundRequest::builder(
            PaymentId::new("10-abc").unwrap(),
            RefundReference::new("rf-1").unwrap(),
        );
        match amount {
            Some(m) => b.partial(m),
            None => b,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn limits_are_enforced_at_their_boundaries() {
        let b = || PayabliRefund::builder(request(None));
        assert!(b().order_id("x".repeat(250)).build().is_ok());
        assert!(b().order_description("é".repeat(250)).build().is_ok());
        assert!(b().source("x".repeat(100)).build().is_ok());
        for (builder, needle) in [
            (b().order_id("x".repeat(251)), "orderId"),
            (b().order_description("é".repeat(251)), "orderDescription"),
            (b().source("x".repeat(101)), "source"),
            (b().ip_address("300.1.1.1"), "ipaddress"),
            (b().ip_address("localhost"), "ipaddress"),
            (b().ip_address(""), "ipaddress"),
        ] {
            let err = builder.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(!err.may_have_reached_provider());
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn ip_addresses_are_canonical() {
        for (given, sent) in [
            ("192.0.2.7", "192.0.2.7"),
            ("::1", "::1"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ] {
            let r = PayabliRefund::builder(request(None))
                .ip_address(given)
                .build()
                .unwrap();
            assert_eq!(r.ip_address().unwrap().to_string(), sent);
        }
    }

    #[test]
    fn amounts_share_one_currency() {
        let eur = Money::parse("1.00", Currency::EUR).unwrap();
        let err = PayabliRefund::builder(request(Some(usd("5.00"))))
            .split(SplitRefund::new("e", "a", eur))
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("USD"), "{err}");
        let err = PayabliRefund::builder(request(None))
            .split(SplitRefund::new("e", "a", usd("1.00")))
            .line_item(LineItem::new("l", eur, 1))
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            PayabliRefund::builder(request(None))
                .split(SplitRefund::new("e", "a", usd("1.00")))
                .line_item(LineItem::new("l", usd("2.00"), 2))
                .build()
                .is_ok()
        );
    }

    #[test]
    fn body_only_with_an_option() {
        assert!(!PayabliRefund::from(request(None)).has_body());
        assert!(
            !PayabliRefund::builder(request(None))
                .build()
                .unwrap()
                .has_body()
        );
        let b = || PayabliRefund::builder(request(None));
        for builder in [
            b().order_id("o"),
            b().order_description("d"),
            b().source("s"),
            b().ip_address("::1"),
            b().split(SplitRefund::new("e", "a", usd("1.00"))),
            b().line_item(LineItem::new("l", usd("1.00"), 1)),
        ] {
            assert!(builder.build().unwrap().has_body());
        }
    }

    #[test]
    fn refundability_table() {
        use Refundability::*;
        for (trans, settlement, expected) in [
            (Some(1), Some(3), Refundable),
            (Some(1), Some(2), Refundable),
            (Some(1), Some(1), Refundable),
            (Some(1), Some(0), VoidInstead),
            (Some(1), Some(-2), NotRefundable),
            (Some(2), Some(3), NotRefundable),
            (Some(5), Some(3), NotRefundable),
            (Some(0), None, NotRefundable),
            (Some(1), None, Unknown),
            (None, Some(3), Unknown),
            (None, None, Unknown),
        ] {
            assert_eq!(
                Refundability::from_statuses(trans, settlement),
                expected,
                "{trans:?} {settlement:?}"
            );
        }
    }
}
