//! Pure conversions: core requests → HTTP requests, PayNext's Payment object → core outcomes and
//! the public [`Payment`] (contract §2.4, §2.6, §0.5). No I/O here.

use refund_core::http::{BaseUrl, HeaderName, HeaderValue, Request, Segment};
use refund_core::{
    Currency, Decline, DeclineCode, Error, Lookup, Money, PaymentId, RefundAmount, RefundId,
    RefundQuery, RefundReference, RefundRequest, RefundStatus,
};
use refund_core::{ProviderId, Refund};

use crate::payment::{Payment, PaymentRefund, PaymentStatus, StatusReason};
use crate::{API_VERSION, wire};

/// `X-API-Version`, sent on every request (§2.3).
const X_API_VERSION: HeaderName = HeaderName::from_static("x-api-version");

/// N-R1: `POST /payments/refund/{payment_id}` with no body (§2.4). The client adds the auth,
/// `Accept` and `User-Agent` headers; a POST without a body goes out with no `Content-Type` and
/// `Content-Length: 0`.
///
/// # Errors
/// `Unsupported` for a partial refund (N-R2: PayNext documents no amount, so nothing is sent);
/// `InvalidInput` for a payment id that cannot be a path segment (`.`, `..`, §0.2).
pub(crate) fn refund_request(base: &BaseUrl, request: &RefundRequest) -> Result<Request, Error> {
    if request.amount() != RefundAmount::Full {
        return Err(Error::unsupported(
            "partial refunds are not supported: PayNext refunds whole payments only",
        ));
    }
    let endpoint = base.endpoint(&[
        Segment::Lit("payments/refund"),
        Segment::Param(request.payment_id().as_str()),
    ])?;
    Ok(Request::post(endpoint)
        .operation("refund")
        .header(X_API_VERSION, HeaderValue::from_static(API_VERSION)))
}

/// N-L1: `GET /payments/{payment_id}` (§2.4), named `operation` in traces.
///
/// # Errors
/// `InvalidInput` for a payment id that cannot be a path segment (§0.2).
pub(crate) fn lookup_request(
    base: &BaseUrl,
    payment_id: &PaymentId,
    operation: &'static str,
) -> Result<Request, Error> {
    let endpoint = base.endpoint(&[
        Segment::Lit("payments"),
        Segment::Param(payment_id.as_str()),
    ])?;
    Ok(Request::get(endpoint)
        .operation(operation)
        .header(X_API_VERSION, HeaderValue::from_static(API_VERSION)))
}

/// The amounts of a Payment object, checked: PayNext writes non-negative integers of minor units.
struct Amounts {
    currency: Option<Currency>,
    amount: Option<i64>,
    refunded_amount: Option<i64>,
    refund_amount: Option<i64>,
}

impl Amounts {
    /// # Errors
    /// `Decode` when an amount is negative: the answer contradicts itself and proves nothing.
    fn of(payment: &wire::Payment) -> Result<Amounts, Error> {
        let amounts = Amounts {
            // An unknown (or missing) code never fails the answer: the amounts are then left
            // out (§0.6), and the outcome does not depend on them.
            currency: payment
                .currency_code
                .as_deref()
                .and_then(|code| Currency::from_code(code).ok()),
            amount: payment.amount,
            refunded_amount: payment.refunded_amount,
            refund_amount: payment.refund.as_ref().and_then(|r| r.amount),
        };
        for (name, value) in [
            ("amount", amounts.amount),
            ("refunded_amount", amounts.refunded_amount),
            ("refund.amount", amounts.refund_amount),
        ] {
            if let Some(v) = value
                && v < 0
            {
                return Err(Error::decode(format!(
                    "the answer has a negative `{name}` ({v})"
                )));
            }
        }
        Ok(amounts)
    }

    fn money(&self, minor: Option<i64>) -> Option<Money> {
        Money::from_minor(minor?, self.currency?).ok()
    }

    /// Without a refund status: `refunded_amount >= amount` → Succeeded, otherwise Pending
    /// (§2.4). A refunded amount of 0 never counts as a success (no money moved), and without
    /// both amounts there is nothing to compare.
    fn fallback_status(&self) -> RefundStatus {
        match (self.refunded_amount, self.amount) {
            (Some(refunded), Some(amount)) if refunded > 0 && refunded >= amount => {
                RefundStatus::Succeeded
            }
            _ => RefundStatus::Pending,
        }
    }

    /// The refunded amount: `refund.amount`, else `refunded_amount` (§2.4).
    fn refunded(&self) -> Option<Money> {
        self.money(self.refund_amount.or(self.refunded_amount))
    }
}

/// The family of a refund status (§2.4; the wire type already matched it in any case).
fn status_family(status: &wire::RefundStatus) -> RefundStatus {
    use wire::RefundStatus as W;
    match status {
        W::Succeeded
        | W::Success
        | W::Successful
        | W::Completed
        | W::Settled
        | W::Refunded
        | W::Processed => RefundStatus::Succeeded,
        W::Failed | W::Declined | W::Rejected | W::Cancelled | W::Canceled | W::Error => {
            RefundStatus::Declined
        }
        W::Pending | W::Processing | W::Settling | W::Created | W::Submitted | W::Other(_) => {
            RefundStatus::Pending
        }
    }
}

/// The refund's outcome, or `None` when no refund exists: `refund` null/absent and
/// `refunded_amount` 0/absent (§2.6). A `refund` object without a status is read like a missing
/// one.
fn refund_outcome(payment: &wire::Payment, amounts: &Amounts) -> Option<RefundStatus> {
    match &payment.refund {
        Some(refund) => Some(match &refund.status {
            Some(status) => status_family(status),
            None => amounts.fallback_status(),
        }),
        None if amounts.refunded_amount.is_some_and(|r| r > 0) => Some(amounts.fallback_status()),
        None => None,
    }
}

/// Normalizes PayNext's `decline_code` (decline-codes guide, §2.5).
pub(crate) fn normalize_decline_code(raw: &str) -> DeclineCode {
    use wire::DeclineCode as W;
    match W::from(raw) {
        W::InsufficientFunds => DeclineCode::InsufficientFunds,
        W::DoNotHonor => DeclineCode::DoNotHonor,
        W::WithdrawalLimitExceeded => DeclineCode::LimitExceeded,
        W::IssuerUnavailable => DeclineCode::IssuerUnavailable,
        W::CardLostOrStolen => DeclineCode::CardLostOrStolen,
        W::ExpiredCard => DeclineCode::CardExpired,
        W::SuspectedFraud => DeclineCode::SuspectedFraud,
        W::CardDeclined | W::InvalidCardNumber | W::Other(_) => DeclineCode::Other,
    }
}

/// Decline details: the `status_reason` decline code and message where present, else the raw
/// refund status as the provider's code.
fn decline(payment: &wire::Payment, raw_status: Option<&str>) -> Decline {
    let details = payment
        .status_reason
        .as_ref()
        .and_then(|reason| reason.status_reason.as_ref());
    let code = details.and_then(|d| d.decline_code.as_ref());
    let mut decline =
        Decline::new(code.map_or(DeclineCode::Other, |c| normalize_decline_code(c.as_str())));
    if let Some(provider_code) = code.map(wire::DeclineCode::as_str).or(raw_status) {
        decline = decline.with_provider_code(provider_code);
    }
    if let Some(message) = details.and_then(|d| d.message.as_deref()) {
        decline = decline.with_message(message);
    }
    decline
}

/// Checks that the answer is about `payment_id`: an answer naming another payment proves
/// nothing about ours. A missing id is accepted (every field is optional, §0.6).
///
/// # Errors
/// `Decode` when the answer names another payment.
fn check_id(payment: &wire::Payment, payment_id: &PaymentId) -> Result<(), Error> {
    match payment.id.as_deref() {
        // The id comes from the body: quote a bounded prefix (found by fuzzing: a 2,000-character
        // id made a 2 KiB error message).
        Some(id) if id != payment_id.as_str() => Err(Error::decode(format!(
            "the answer is about payment {:?}, not {:?}",
            id.chars().take(64).collect::<String>(),
            payment_id.as_str()
        ))),
        _ => Ok(()),
    }
}

/// The refund state a Payment object reports (§2.4), independent of any request: what a refund
/// answer, a lookup and a webhook (§4.2) all read.
pub(crate) struct RefundState {
    /// Whether a refund exists: `refund` non-null or `refunded_amount > 0` (§2.6). Without one,
    /// `status` is the contract's fallback (Pending unless `refunded_amount >= amount`).
    pub(crate) exists: bool,
    /// The refund's outcome (§2.4).
    pub(crate) status: RefundStatus,
    /// `refund.processor_transaction_id` when it is a usable id, else the payment id.
    pub(crate) refund_id: Option<RefundId>,
    /// `refund.amount`, else `refunded_amount`, in `currency_code` (none without a known one).
    pub(crate) amount: Option<Money>,
    /// `refund.status` as PayNext wrote it.
    pub(crate) raw_status: Option<String>,
}

/// Reads the refund state of a Payment object about `payment_id` (§2.4).
///
/// # Errors
/// `Decode` when the object names another payment or has a negative amount.
pub(crate) fn refund_state(
    payment: &wire::Payment,
    payment_id: &PaymentId,
) -> Result<RefundState, Error> {
    check_id(payment, payment_id)?;
    let amounts = Amounts::of(payment)?;
    let outcome = refund_outcome(payment, &amounts);
    // The processor's id when it is a usable id, else the payment id (PayNext refunds a payment
    // at most once, so the payment id names the refund too).
    let refund_id = payment
        .refund
        .as_ref()
        .and_then(|r| r.processor_transaction_id.as_deref())
        .filter(|id| !id.is_empty())
        .and_then(|id| RefundId::new(id).ok())
        .or_else(|| RefundId::new(payment_id.as_str()).ok());
    Ok(RefundState {
        exists: outcome.is_some(),
        status: outcome.unwrap_or_else(|| amounts.fallback_status()),
        refund_id,
        amount: amounts.refunded(),
        raw_status: payment
            .refund
            .as_ref()
            .and_then(|r| r.status.as_ref())
            .map(|s| s.as_str().to_owned()),
    })
}

/// The outcome of a refund from the Payment object PayNext answered (§2.4). A Payment without
/// any refund state (a refund POST's answer never is) reads as Pending, as the contract's
/// fallback says.
///
/// # Errors
/// `Decode` when the answer names another payment or has a negative amount; the caller turns it
/// into `OutcomeUnknown` (refund) or an inconclusive lookup.
pub(crate) fn refund_from_payment(
    payment: &wire::Payment,
    payment_id: &PaymentId,
    reference: &RefundReference,
) -> Result<Refund, Error> {
    let state = refund_state(payment, payment_id)?;
    let mut refund = Refund::new(
        ProviderId::PAYNEXT,
        payment_id.clone(),
        reference.clone(),
        state.status,
    );
    if let Some(id) = state.refund_id {
        refund = refund.with_refund_id(id);
    }
    if let Some(amount) = state.amount {
        refund = refund.with_amount(amount);
    }
    if let Some(raw) = &state.raw_status {
        refund = refund.with_raw_status(raw.as_str());
    }
    if state.status == RefundStatus::Declined {
        refund = refund.with_decline(decline(payment, state.raw_status.as_deref()));
    }
    Ok(refund)
}

/// Reconciliation through N-L1 (§2.6, §0.5):
/// - a refund exists (`refund` non-null or `refunded_amount > 0`) → `Found` with its outcome;
/// - the answer names our payment (`id` equal to the payment id) and shows no refund → `Absent`;
/// - anything else (no id, another payment's id, a negative amount) → `Inconclusive`.
pub(crate) fn lookup_from_payment(payment: &wire::Payment, query: &RefundQuery) -> Lookup {
    if let Err(e) = check_id(payment, &query.payment_id) {
        return Lookup::Inconclusive(e.message().to_owned());
    }
    let amounts = match Amounts::of(payment) {
        Ok(amounts) => amounts,
        Err(e) => return Lookup::Inconclusive(e.message().to_owned()),
    };
    if refund_outcome(payment, &amounts).is_some() {
        return match refund_from_payment(payment, &query.payment_id, &query.reference) {
            Ok(refund) => Lookup::Found(refund),
            Err(e) => Lookup::Inconclusive(e.message().to_owned()),
        };
    }
    if payment.id.as_deref() == Some(query.payment_id.as_str()) {
        Lookup::Absent
    } else {
        Lookup::Inconclusive(
            "the answer has no payment id, so it does not prove that no refund exists".to_owned(),
        )
    }
}

/// The public view of a Payment object that answered a lookup of `payment_id`.
///
/// # Errors
/// `Decode` when the answer names another payment or has a negative amount.
pub(crate) fn payment_view(
    payment: &wire::Payment,
    payment_id: &PaymentId,
) -> Result<Payment, Error> {
    check_id(payment, payment_id)?;
    let amounts = Amounts::of(payment)?;
    let refund_status = refund_outcome(payment, &amounts);
    let refund = payment.refund.as_ref().map(|r| PaymentRefund {
        raw_status: r.status.as_ref().map(|s| s.as_str().to_owned()),
        status: refund_status.unwrap_or(RefundStatus::Pending),
        amount: amounts.money(r.amount),
        processor_transaction_id: r
            .processor_transaction_id
            .clone()
            .filter(|id| !id.is_empty()),
        created_at: r.created_at.clone(),
        updated_at: r.updated_at.clone(),
    });
    let status_reason = payment.status_reason.as_ref().map(|reason| {
        let details = reason.status_reason.as_ref();
        StatusReason {
            status: reason.status.clone(),
            advice_code: details
                .and_then(|d| d.advice_code.as_ref())
                .map(|c| c.as_str().to_owned()),
            decline_code: details
                .and_then(|d| d.decline_code.as_ref())
                .map(|c| c.as_str().to_owned()),
            message: details.and_then(|d| d.message.clone()),
        }
    });
    Ok(Payment {
        id: payment_id.clone(),
        amount: amounts.money(amounts.amount),
        currency_code: payment.currency_code.clone(),
        status: payment.payment_status.as_ref().map(payment_status),
        refunded_amount: amounts.money(amounts.refunded_amount),
        refund,
        refund_status,
        status_reason,
    })
}

fn payment_status(status: &wire::PaymentStatus) -> PaymentStatus {
    use wire::PaymentStatus as W;
    match status {
        W::Pending => PaymentStatus::Pending,
        W::Authorized => PaymentStatus::Authorized,
        W::Settling => PaymentStatus::Settling,
        W::Settled => PaymentStatus::Settled,
        W::Declined => PaymentStatus::Declined,
        W::Failed => PaymentStatus::Failed,
        W::Blocked => PaymentStatus::Blocked,
        W::Cancelled => PaymentStatus::Cancelled,
        W::Incomplete => PaymentStatus::Incomplete,
        W::Other(raw) => PaymentStatus::Other(raw.clone()),
    }
}

#[cfg(test)]
mod tests {
    use refund_core::{ErrorKind, RefundRequest};

    use super::*;

    const PAY: &str = "pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789";
    const PENDING: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","payment_type":"CIT","refunded_amount":0,"refund":{"amount":15000,"amount_usd":15000,"status":"PENDING","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:00Z"},"status_reason":null,"metadata":{"order_id":"ord_123"},"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:15:00Z"}"#;
    const SUCCEEDED: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":15000,"refund":{"amount":15000,"amount_usd":15000,"status":"SUCCEEDED","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:16:10Z"},"status_reason":null,"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:16:10Z"}"#;
    const DECLINED: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":0,"refund":{"amount":15000,"status":"FAILED","processor_transaction_id":"","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:02Z"},"status_reason":null,"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:15:02Z"}"#;

    fn wire(json: &str) -> wire::Payment {
        serde_json::from_str(json).unwrap()
    }
    fn pay() -> PaymentId {
        PaymentId::new(PAY).unwrap()
    }
    fn reference() -> RefundReference {
        RefundReference::new("rf-7f3c2b").unwrap()
    }
    fn map(json: &str) -> Refund {
        refund_from_payment(&wire(json), &pay(), &reference()).unwrap()
    }
    fn lookup(json: &str) -> Lookup {
        lookup_from_payment(&wire(json), &RefundQuery::new(pay(), reference()))
    }
    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::USD).unwrap()
    }
    fn base() -> BaseUrl {
        BaseUrl::parse("https://api.paynext.com").unwrap()
    }

    #[test]
    fn refund_request_is_a_bare_post() {
        let request = RefundRequest::builder(pay(), reference())
            .reason("not sent: N-R1 has no body")
            .metadata("order", "ord_1")
            .build()
            .unwrap();
        let r = refund_request(&base(), &request).unwrap();
        assert_eq!(r.method(), "POST");
        assert_eq!(
            r.endpoint().as_str(),
            "https://api.paynext.com/payments/refund/pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789"
        );
        assert_eq!(r.operation_name(), "refund");
        assert_eq!(r.headers().len(), 1);
        assert_eq!(r.headers()["x-api-version"], "1.0.0");
        assert_eq!(r.body(), None);
    }

    #[test]
    fn partial_refunds_are_refused_before_building_anything() {
        let request = RefundRequest::builder(pay(), reference())
            .partial(usd(100))
            .build()
            .unwrap();
        let e = refund_request(&base(), &request).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(!e.may_have_reached_provider());
    }

    #[test]
    fn path_parameters_are_one_segment() {
        let id = PaymentId::new("pay_with/slash id%").unwrap();
        let r = lookup_request(&base(), &id, "get_payment").unwrap();
        assert_eq!(r.endpoint().path(), "/payments/pay_with%2Fslash%20id%25");
        assert_eq!(r.method(), "GET");
        assert_eq!(r.headers()["x-api-version"], "1.0.0");
        assert_eq!(r.body(), None);
        let request = RefundRequest::builder(id, reference()).build().unwrap();
        let r = refund_request(&base(), &request).unwrap();
        assert_eq!(
            r.endpoint().path(),
            "/payments/refund/pay_with%2Fslash%20id%25"
        );
        for bad in [".", ".."] {
            let id = PaymentId::new(bad).unwrap();
            let e = lookup_request(&base(), &id, "get_payment").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            let request = RefundRequest::builder(id, reference()).build().unwrap();
            let e = refund_request(&base(), &request).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn fixture_pending() {
        let r = map(PENDING);
        assert_eq!(r.status, RefundStatus::Pending);
        assert_eq!(r.provider, ProviderId::PAYNEXT);
        assert_eq!(r.payment_id, pay());
        assert_eq!(r.reference, reference());
        assert_eq!(
            r.refund_id.as_ref().map(RefundId::as_str),
            Some("re_3RgN6TJVVBuowJOx1a2b3c4d")
        );
        assert_eq!(r.amount, Some(usd(15000)));
        assert_eq!(r.remaining, None);
        assert_eq!(r.decline, None);
        assert_eq!(r.raw_status.as_deref(), Some("PENDING"));
    }

    #[test]
    fn fixture_succeeded() {
        let r = map(SUCCEEDED);
        assert_eq!(r.status, RefundStatus::Succeeded);
        assert_eq!(
            r.amount.map(|m| m.decimal_text()).as_deref(),
            Some("150.00")
        );
        assert_eq!(r.raw_status.as_deref(), Some("SUCCEEDED"));
        assert_eq!(r.decline, None);
    }

    #[test]
    fn fixture_declined() {
        let r = map(DECLINED);
        assert_eq!(r.status, RefundStatus::Declined);
        // An empty processor id falls back to the payment id.
        assert_eq!(r.refund_id.as_ref().map(RefundId::as_str), Some(PAY));
        assert_eq!(
            r.decline,
            Some(Decline::new(DeclineCode::Other).with_provider_code("FAILED"))
        );
        assert_eq!(r.raw_status.as_deref(), Some("FAILED"));
        assert_eq!(r.amount, Some(usd(15000)));
    }

    #[test]
    fn status_families_in_any_case() {
        use RefundStatus::*;
        for (raw, status) in [
            ("SUCCEEDED", Succeeded),
            ("success", Succeeded),
            ("Successful", Succeeded),
            ("completed", Succeeded),
            ("SETTLED", Succeeded),
            ("refunded", Succeeded),
            ("PROCESSED", Succeeded),
            ("FAILED", Declined),
            ("declined", Declined),
            ("Rejected", Declined),
            ("CANCELLED", Declined),
            ("canceled", Declined),
            ("error", Declined),
            ("PENDING", Pending),
            ("processing", Pending),
            ("SETTLING", Pending),
            ("created", Pending),
            ("SUBMITTED", Pending),
            ("requires_action", Pending),
            ("", Pending),
            (" SUCCEEDED", Pending),
        ] {
            let json = format!(
                r#"{{"id":"{PAY}","amount":100,"currency_code":"USD","refunded_amount":100,"refund":{{"status":"{raw}"}}}}"#
            );
            let r = map(&json);
            assert_eq!(r.status, status, "{raw:?}");
            assert_eq!(r.decline.is_some(), status == Declined, "{raw:?}");
            assert!(
                matches!(lookup(&json), Lookup::Found(f) if f.status == status),
                "{raw:?}"
            );
        }
        // An unknown status is kept as written.
        let r = map(&format!(
            r#"{{"id":"{PAY}","refund":{{"status":"requires_action"}}}}"#
        ));
        assert_eq!(r.raw_status.as_deref(), Some("requires_action"));
    }

    #[test]
    fn without_a_refund_object_refunded_amount_decides() {
        use RefundStatus::*;
        for (json, status, amount) in [
            (
                r#""amount":15000,"refunded_amount":15000"#,
                Succeeded,
                Some(15000),
            ),
            (
                r#""amount":15000,"refunded_amount":20000"#,
                Succeeded,
                Some(20000),
            ),
            (
                r#""amount":15000,"refunded_amount":14999"#,
                Pending,
                Some(14999),
            ),
            (
                r#""amount":15000,"refunded_amount":0,"refund":null"#,
                Pending,
                Some(0),
            ),
            (r#""amount":15000"#, Pending, None),
            (r#""refunded_amount":15000"#, Pending, Some(15000)),
            (r#""amount":0,"refunded_amount":0"#, Pending, Some(0)),
            // A refund object without a status is read the same way.
            (
                r#""amount":15000,"refunded_amount":15000,"refund":{}"#,
                Succeeded,
                Some(15000),
            ),
            (
                r#""amount":15000,"refunded_amount":0,"refund":{"amount":15000}"#,
                Pending,
                Some(15000),
            ),
        ] {
            let json = format!(r#"{{"id":"{PAY}","currency_code":"USD",{json}}}"#);
            let r = map(&json);
            assert_eq!(r.status, status, "{json}");
            assert_eq!(r.amount, amount.map(usd), "{json}");
            assert_eq!(r.raw_status, None, "{json}");
            assert_eq!(r.refund_id.as_ref().map(RefundId::as_str), Some(PAY));
        }
    }

    #[test]
    fn amounts_follow_the_currency_exponent() {
        for (code, minor, text) in [
            ("USD", 15000, "150.00"),
            ("USD", 5, "0.05"),
            ("JPY", 10000, "10000"),
            ("KWD", 12345, "12.345"),
            ("BHD", 1, "0.001"),
            ("CLF", 123456, "12.3456"),
            ("AED", 123, "1.23"),
            ("EUR", 0, "0.00"),
        ] {
            let json = format!(
                r#"{{"id":"{PAY}","amount":{minor},"currency_code":"{code}","refunded_amount":{minor},"refund":{{"amount":{minor},"status":"SUCCEEDED"}}}}"#
            );
            let r = map(&json);
            let amount = r.amount.unwrap();
            assert_eq!(amount.minor_units(), minor);
            assert_eq!(amount.currency().code(), code);
            assert_eq!(amount.decimal_text(), text, "{code}");
            let view = payment_view(&wire(&json), &pay()).unwrap();
            assert_eq!(view.amount, Some(amount));
            assert_eq!(view.refunded_amount, Some(amount));
            assert_eq!(view.refund.unwrap().amount, Some(amount));
        }
    }

    #[test]
    fn refund_amount_wins_over_refunded_amount() {
        let r = map(&format!(
            r#"{{"id":"{PAY}","amount":15000,"currency_code":"USD","refunded_amount":1000,"refund":{{"amount":15000,"status":"PENDING"}}}}"#
        ));
        assert_eq!(r.amount, Some(usd(15000)));
    }

    #[test]
    fn unknown_or_missing_currency_leaves_amounts_out() {
        for currency in [
            r#""currency_code":"XYZ","#,
            r#""currency_code":"usd","#,
            r#""currency_code":"XAU","#,
            r#""currency_code":"<string>","#,
            r#""currency_code":null,"#,
            "",
        ] {
            let json = format!(
                r#"{{"id":"{PAY}",{currency}"amount":15000,"refunded_amount":15000,"refund":{{"amount":15000,"status":"SUCCEEDED"}}}}"#
            );
            let r = map(&json);
            assert_eq!(r.status, RefundStatus::Succeeded, "{json}");
            assert_eq!(r.amount, None, "{json}");
            let view = payment_view(&wire(&json), &pay()).unwrap();
            assert_eq!(view.amount, None);
            assert_eq!(view.refunded_amount, None);
            assert_eq!(view.refund_status, Some(RefundStatus::Succeeded));
        }
    }

    #[test]
    fn negative_amounts_are_decode_errors() {
        for field in [
            r#""amount":-1"#,
            r#""refunded_amount":-15000"#,
            r#""refund":{"amount":-5,"status":"SUCCEEDED"}"#,
        ] {
            let json = format!(r#"{{"id":"{PAY}","currency_code":"USD",{field}}}"#);
            let e = refund_from_payment(&wire(&json), &pay(), &reference()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Decode, "{json}");
            assert!(matches!(lookup(&json), Lookup::Inconclusive(_)), "{json}");
            assert_eq!(
                payment_view(&wire(&json), &pay()).unwrap_err().kind(),
                ErrorKind::Decode
            );
        }
    }

    #[test]
    fn declines_carry_the_status_reason() {
        use DeclineCode::*;
        for (code, normalized) in [
            ("insufficient_funds", InsufficientFunds),
            ("do_not_honor", DoNotHonor),
            ("withdrawal_limit_exceeded", LimitExceeded),
            ("issuer_unavailable", IssuerUnavailable),
            ("card_lost_or_stolen", CardLostOrStolen),
            ("expired_card", CardExpired),
            ("suspected_fraud", SuspectedFraud),
            ("card_declined", Other),
            ("invalid_card_number", Other),
            ("velocity_exceeded", Other),
        ] {
            assert_eq!(normalize_decline_code(code), normalized, "{code}");
            let json = format!(
                r#"{{"id":"{PAY}","refund":{{"status":"DECLINED"}},"status_reason":{{"status":"declined","status_reason":{{"advice_code":"do_not_try_again","decline_code":"{code}","message":"Refund declined by issuer"}}}}}}"#
            );
            let r = map(&json);
            assert_eq!(r.status, RefundStatus::Declined);
            assert_eq!(
                r.decline,
                Some(
                    Decline::new(normalized)
                        .with_provider_code(code)
                        .with_message("Refund declined by issuer")
                ),
                "{code}"
            );
        }
        // A status_reason without a decline code: the refund status is the provider code.
        let r = map(&format!(
            r#"{{"id":"{PAY}","refund":{{"status":"rejected"}},"status_reason":{{"status":"declined","status_reason":{{"message":"no"}}}}}}"#
        ));
        assert_eq!(
            r.decline,
            Some(
                Decline::new(Other)
                    .with_provider_code("REJECTED")
                    .with_message("no")
            )
        );
        // A succeeded refund carries no decline, whatever the payment's status_reason says.
        let r = map(&format!(
            r#"{{"id":"{PAY}","refund":{{"status":"SUCCEEDED"}},"status_reason":{{"status_reason":{{"decline_code":"do_not_honor"}}}}}}"#
        ));
        assert_eq!(r.decline, None);
    }

    #[test]
    fn unusable_processor_ids_fall_back_to_the_payment_id() {
        for id in [r#""""#, r#"" re_1""#, r#""a\nb""#, "null"] {
            let r = map(&format!(
                r#"{{"id":"{PAY}","refund":{{"status":"PENDING","processor_transaction_id":{id}}}}}"#
            ));
            assert_eq!(
                r.refund_id.as_ref().map(RefundId::as_str),
                Some(PAY),
                "{id}"
            );
        }
    }

    #[test]
    fn another_payments_answer_proves_nothing() {
        let json = SUCCEEDED.replace(PAY, "pay_other");
        let e = refund_from_payment(&wire(&json), &pay(), &reference()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(matches!(lookup(&json), Lookup::Inconclusive(r) if r.contains("pay_other")));
        assert_eq!(
            payment_view(&wire(&json), &pay()).unwrap_err().kind(),
            ErrorKind::Decode
        );
        let absent = r#"{"id":"pay_other","amount":15000,"refunded_amount":0,"refund":null}"#;
        assert!(matches!(lookup(absent), Lookup::Inconclusive(_)));
    }

    #[test]
    fn lookups_follow_section_0_5() {
        // Found: refund non-null or refunded_amount > 0, adopting its outcome.
        assert!(matches!(lookup(PENDING), Lookup::Found(r) if r.status == RefundStatus::Pending));
        assert!(
            matches!(lookup(SUCCEEDED), Lookup::Found(r) if r.status == RefundStatus::Succeeded)
        );
        assert!(matches!(lookup(DECLINED), Lookup::Found(r) if r.status == RefundStatus::Declined));
        let only_amount = format!(r#"{{"id":"{PAY}","amount":15000,"refunded_amount":15000}}"#);
        assert!(
            matches!(lookup(&only_amount), Lookup::Found(r) if r.status == RefundStatus::Succeeded)
        );
        let empty_refund = format!(r#"{{"id":"{PAY}","amount":15000,"refund":{{}}}}"#);
        assert!(
            matches!(lookup(&empty_refund), Lookup::Found(r) if r.status == RefundStatus::Pending)
        );
        // A refund without the id still counts as found (that never causes a re-send).
        assert!(matches!(
            lookup(r#"{"refund":{"status":"PENDING"}}"#),
            Lookup::Found(_)
        ));
        if let Lookup::Found(r) = lookup(PENDING) {
            assert_eq!(r.reference, reference());
        }

        // Absent: our id, refund null/absent, refunded_amount 0/absent.
        for json in [
            format!(
                r#"{{"id":"{PAY}","amount":15000,"payment_status":"SETTLED","refunded_amount":0,"refund":null}}"#
            ),
            format!(r#"{{"id":"{PAY}","amount":15000,"refunded_amount":null}}"#),
            format!(r#"{{"id":"{PAY}"}}"#),
        ] {
            assert_eq!(lookup(&json), Lookup::Absent, "{json}");
        }
        // Inconclusive: no id.
        for json in [
            r#"{}"#,
            r#"{"amount":15000,"refunded_amount":0,"refund":null}"#,
        ] {
            assert!(matches!(lookup(json), Lookup::Inconclusive(_)), "{json}");
        }
    }

    #[test]
    fn payment_view_of_each_fixture() {
        let v = payment_view(&wire(PENDING), &pay()).unwrap();
        assert_eq!(v.id, pay());
        assert_eq!(v.amount, Some(usd(15000)));
        assert_eq!(v.currency_code.as_deref(), Some("USD"));
        assert_eq!(v.status, Some(PaymentStatus::Settled));
        assert_eq!(v.refunded_amount, Some(usd(0)));
        assert_eq!(v.refund_status, Some(RefundStatus::Pending));
        assert!(v.has_refund());
        assert_eq!(v.status_reason, None);
        let refund = v.refund.unwrap();
        assert_eq!(refund.raw_status.as_deref(), Some("PENDING"));
        assert_eq!(refund.status, RefundStatus::Pending);
        assert_eq!(
            refund.processor_transaction_id.as_deref(),
            Some("re_3RgN6TJVVBuowJOx1a2b3c4d")
        );
        assert_eq!(refund.created_at.as_deref(), Some("2025-05-26T10:15:00Z"));

        let v = payment_view(&wire(DECLINED), &pay()).unwrap();
        assert_eq!(v.refund_status, Some(RefundStatus::Declined));
        assert_eq!(v.refund.unwrap().processor_transaction_id, None);

        // No refund; an unknown payment status; no id in the answer (the requested id is kept).
        let v = payment_view(
            &wire(r#"{"amount":500,"currency_code":"JPY","payment_status":"ON_HOLD"}"#),
            &pay(),
        )
        .unwrap();
        assert_eq!(v.id, pay());
        assert_eq!(v.status, Some(PaymentStatus::Other("ON_HOLD".into())));
        assert_eq!(v.amount.map(|m| m.decimal_text()).as_deref(), Some("500"));
        assert_eq!(v.refund, None);
        assert_eq!(v.refund_status, None);
        assert!(!v.has_refund());
    }
}
