//! Pure conversions between core types and Plexy's wire format (contract §1.4): requests out,
//! outcomes and transactions in. No I/O here; the client sends what these build.

use refund_core::http::{BaseUrl, Request, Response, Segment, refund_outcome_error};
use refund_core::retry::Operation;
use refund_core::{
    Currency, Decline, DeclineCode, Error, ErrorKind, JsonDecimal, Lookup, Money, PaymentId,
    ProviderId, Refund, RefundAmount, RefundId, RefundQuery, RefundReference, RefundRequest,
    RefundStatus,
};

use crate::error;
use crate::types::{Transaction, TransactionKind, TransactionStatus};
use crate::wire;

// ---------------------------------------------------------------------------------------------
// Requests

/// P-R1/P-R2: `POST /payments/{transaction_id}/refund` with the JSON body of
/// [`refund_body`] (`Content-Type: application/json`). No idempotency header (§1.3).
///
/// # Errors
/// [`InvalidInput`](ErrorKind::InvalidInput) when the payment id cannot be a path segment
/// (empty, `.`, `..`; §0.2); nothing is sent then.
pub(crate) fn refund_request(base: &BaseUrl, request: &RefundRequest) -> Result<Request, Error> {
    let endpoint = base.endpoint(&[
        Segment::Lit("payments"),
        Segment::Param(request.payment_id().as_str()),
        Segment::Lit("refund"),
    ])?;
    Request::post(endpoint)
        .operation("refund")
        .json(&refund_body(request))
}

/// The refund body (§1.4): a full refund is `{"orderReference":"<ref>"}`, a partial one
/// `{"amount":10.50,"minorAmount":1050,"orderReference":"<ref>"}`: `amount` an exact JSON
/// number with exactly the currency's fraction digits, `minorAmount` the same amount in minor
/// units. `description` is added, last, only when the request has a reason. Metadata is not
/// sent (Plexy has no such field).
pub(crate) fn refund_body(request: &RefundRequest) -> wire::RefundRequest {
    let order_reference = request.reference().as_str().to_owned();
    let description = request.reason().map(str::to_owned);
    match request.amount().partial() {
        Some(money) => wire::RefundRequest::Partial(wire::PartialRefundRequest {
            amount: money.to_json_number(),
            minor_amount: money.minor_units(),
            order_reference,
            description,
        }),
        None => wire::RefundRequest::Full(wire::FullRefundRequest {
            order_reference,
            description,
        }),
    }
}

/// P-L1: `GET /transactions/{id}`.
///
/// # Errors
/// [`InvalidInput`](ErrorKind::InvalidInput) when the id cannot be a path segment.
pub(crate) fn transaction_request(
    base: &BaseUrl,
    id: &str,
    operation: &'static str,
) -> Result<Request, Error> {
    let endpoint = base.endpoint(&[Segment::Lit("transactions"), Segment::Param(id)])?;
    Ok(Request::get(endpoint).operation(operation))
}

/// P-L2: `GET /transactions/by-order-reference/{refund_reference}`.
///
/// # Errors
/// [`InvalidInput`](ErrorKind::InvalidInput) when the reference cannot be a path segment (a
/// [`RefundReference`] never is `.` or `..`, so this does not happen in practice).
pub(crate) fn by_reference_request(
    base: &BaseUrl,
    reference: &RefundReference,
    operation: &'static str,
) -> Result<Request, Error> {
    let endpoint = base.endpoint(&[
        Segment::Lit("transactions/by-order-reference"),
        Segment::Param(reference.as_str()),
    ])?;
    Ok(Request::get(endpoint).operation(operation))
}

// ---------------------------------------------------------------------------------------------
// Refund answers

/// Reads the answer to a refund POST.
///
/// A non-2xx status is an error per [`error::status_error`] (every 5xx is `OutcomeUnknown`). A
/// 2xx body is decoded and mapped by [`refund_from_response`]; a body that cannot be decoded or
/// mapped is `OutcomeUnknown` (§0.4), because the refund may have been applied.
///
/// # Errors
/// As above.
pub(crate) fn refund_outcome(
    response: &Response,
    request: &RefundRequest,
) -> Result<Refund, Error> {
    if !response.is_success() {
        return Err(error::status_error(response, Operation::Refund));
    }
    let body: wire::RefundResponse = response.json().map_err(refund_outcome_error)?;
    refund_from_response(&body, request).map_err(|e| refund_outcome_error(response.decorate(e)))
}

/// Maps a decoded 2xx refund answer (§1.4 "Outcome derivation", in order):
/// 1. `responseCode` `09` ("wait") → Pending;
/// 2. `success: true` → Succeeded;
/// 3. `success: false` → Declined, the reason being `responseCode` (normalized by
///    [`decline_code`], the raw code kept) and `message`;
/// 4. `success` missing: `responseCode` `00` → Succeeded, any other non-empty code →
///    Declined, neither → the outcome is unknown (an error).
///
/// The refund id is `id`. The echoed `orderReference` and `originalTransactionId` are not
/// compared with the request (the contract gives them no role). Amounts are in major units
/// (§5.2) and the answer names no currency: for a partial refund the request's currency is used;
/// for a full refund the currency is unknown, so `amount` and `remaining` stay `None` rather
/// than being guessed.
///
/// # Errors
/// [`OutcomeUnknown`](ErrorKind::OutcomeUnknown) when neither `success` nor a `responseCode` is
/// present; [`Decode`](ErrorKind::Decode) when an amount cannot be converted (negative or too
/// large).
pub(crate) fn refund_from_response(
    body: &wire::RefundResponse,
    request: &RefundRequest,
) -> Result<Refund, Error> {
    let code = body
        .response_code
        .as_ref()
        .filter(|c| !c.as_str().trim().is_empty());
    let status = match (code, body.success) {
        (Some(wire::ResponseCode::Wait), _) => RefundStatus::Pending,
        (_, Some(true)) => RefundStatus::Succeeded,
        (_, Some(false)) => RefundStatus::Declined,
        (Some(wire::ResponseCode::Approved), None) => RefundStatus::Succeeded,
        (Some(_), None) => RefundStatus::Declined,
        (None, None) => {
            return Err(Error::new(
                ErrorKind::OutcomeUnknown,
                "the refund answer has neither `success` nor `responseCode`: it may have been \
                 applied, reconcile before retrying",
            ));
        }
    };
    let mut refund = Refund::new(
        ProviderId::PLEXY,
        request.payment_id().clone(),
        request.reference().clone(),
        status,
    );
    if let Some(id) = body
        .id
        .as_ref()
        .and_then(|id| RefundId::new(id.as_str()).ok())
    {
        refund = refund.with_refund_id(id);
    }
    if let Some(code) = code {
        refund = refund.with_raw_status(code.as_str());
    }
    if let Some(currency) = request.amount().partial().map(|m| m.currency()) {
        if let Some(amount) = money(body.amount, currency)? {
            refund = refund.with_amount(amount);
        }
        if let Some(remaining) = money(body.remaining_balance, currency)? {
            refund = refund.with_remaining(remaining);
        }
    }
    if status == RefundStatus::Declined {
        refund = refund.with_decline(decline(code, body.message.as_deref()));
    }
    Ok(refund)
}

/// The decline details: the normalized code of `code` (or `Other` without one), the raw code
/// and the message.
fn decline(code: Option<&wire::ResponseCode>, message: Option<&str>) -> Decline {
    let mut decline = Decline::new(code.map_or(DeclineCode::Other, decline_code));
    if let Some(code) = code {
        decline = decline.with_provider_code(code.as_str());
    }
    if let Some(message) = message.filter(|m| !m.trim().is_empty()) {
        decline = decline.with_message(message);
    }
    decline
}

/// The normalized reason of a Plexy `responseCode` (§1.5 meanings). Codes without a matching
/// normalized reason, and unlisted codes, are [`DeclineCode::Other`]; the raw code is always
/// kept in [`Decline::provider_code`]. `00` and `09` never decline (they are Succeeded and
/// Pending) unless `success` is `false` with `00`, which is `Other`.
pub(crate) fn decline_code(code: &wire::ResponseCode) -> DeclineCode {
    use wire::ResponseCode as C;
    match code {
        C::DoNotHonour => DeclineCode::DoNotHonor,
        C::InvalidTransaction | C::ReferencedTransactionOtherCard => {
            DeclineCode::InvalidTransaction
        }
        C::InvalidAmount => DeclineCode::InvalidAmount,
        C::CardExpired | C::ExpiredCard => DeclineCode::CardExpired,
        C::SuspectedManipulation => DeclineCode::SuspectedFraud,
        C::FunctionNotSupported => DeclineCode::NotRefundable,
        C::LostCard | C::StolenCard => DeclineCode::CardLostOrStolen,
        C::InsufficientFunds => DeclineCode::InsufficientFunds,
        C::ExceedsLimit => DeclineCode::LimitExceeded,
        C::AmountExceedsOriginal => DeclineCode::AmountExceedsOriginal,
        C::AmountNoLongerAvailable => DeclineCode::AmountNoLongerAvailable,
        C::IssuerTimeout | C::IssuerUnreachable | C::ProcessingTemporarilyImpossible => {
            DeclineCode::IssuerUnavailable
        }
        _ => DeclineCode::Other,
    }
}

/// An amount in major units converted exactly into `currency` (rounded half-to-even beyond the
/// currency's digits, §0.3).
fn money(value: Option<JsonDecimal>, currency: Currency) -> Result<Option<Money>, Error> {
    value
        .map(|v| Money::from_provider_decimal(v.value(), currency))
        .transpose()
}

// ---------------------------------------------------------------------------------------------
// Transactions (P-L1, P-L2)

/// Reads a P-L1 answer: 200 → the transaction.
///
/// # Errors
/// A non-2xx status per [`error::status_error`] (404 is `NotFound`, 5xx `Provider`);
/// [`Decode`](ErrorKind::Decode) for a body that is not a transaction or whose amounts cannot
/// be converted.
pub(crate) fn transaction(response: &Response) -> Result<Transaction, Error> {
    if !response.is_success() {
        return Err(error::status_error(response, Operation::Lookup));
    }
    let wire: wire::Transaction = response.json()?;
    transaction_from_wire(wire, None).map_err(|e| response.decorate(e))
}

/// Reads a P-L2 answer for [`Client::find_by_order_reference`](crate::Client::find_by_order_reference):
/// 200 → every transaction in it (a single object, a JSON array or `{"data":[…]}`).
///
/// # Errors
/// As for [`transaction`]; a 404 of any body is `NotFound`.
pub(crate) fn transactions(response: &Response) -> Result<Vec<Transaction>, Error> {
    if !response.is_success() {
        return Err(error::status_error(response, Operation::Lookup));
    }
    let lookup: wire::TransactionLookup = response.json()?;
    lookup_items(lookup)
        .into_iter()
        .map(|t| transaction_from_wire(t, None))
        .collect::<Result<_, _>>()
        .map_err(|e| response.decorate(e))
}

fn lookup_items(lookup: wire::TransactionLookup) -> Vec<wire::Transaction> {
    match lookup {
        wire::TransactionLookup::List(list) => list.data,
        wire::TransactionLookup::Array(items) => items,
        wire::TransactionLookup::Single(t) => vec![t],
    }
}

/// Converts a wire transaction. Amounts use the reported `currency`, else `fallback`; with
/// neither they stay `None`.
///
/// # Errors
/// [`Decode`](ErrorKind::Decode) when the reported currency is not a known ISO 4217 code or an
/// amount cannot be converted (negative, too large).
pub(crate) fn transaction_from_wire(
    t: wire::Transaction,
    fallback: Option<Currency>,
) -> Result<Transaction, Error> {
    let reported = t
        .currency
        .as_deref()
        .map(|code| {
            Currency::from_code(code.trim()).map_err(|_| {
                Error::decode(format!(
                    "the transaction's currency {:?} is not a known ISO 4217 code",
                    clip_code(code)
                ))
            })
        })
        .transpose()?;
    let currency = reported.or(fallback);
    let (amount, remaining) = match currency {
        Some(c) => (money(t.amount, c)?, money(t.remaining_balance, c)?),
        None => (None, None),
    };
    Ok(Transaction {
        id: t.id.map(wire::FlexId::into_string),
        kind: t
            .type_
            .as_ref()
            .map(|k| TransactionKind::from_wire(k.as_str())),
        status: t
            .status
            .as_ref()
            .map(|s| TransactionStatus::from_wire(s.as_str())),
        raw_status: t.status.as_ref().map(|s| s.as_str().to_owned()),
        amount,
        remaining,
        currency: reported,
        order_reference: t.order_reference,
        parent_id: t.parent_transaction_id.map(wire::FlexId::into_string),
        response_code: t.response_code.as_ref().map(|c| c.as_str().to_owned()),
        message: t.message,
        created_at: t.created_at,
        updated_at: t.updated_at,
    })
}

fn clip_code(code: &str) -> String {
    code.chars().take(16).collect()
}

/// Reads the P-L2 answer for `find_refund` (§1.4 match rule, §0.5 absence rule, §1.6).
///
/// | answer | lookup |
/// |---|---|
/// | 2xx with a transaction that matches | `Found`, with the outcome of [`Transaction::refund_status`] |
/// | 2xx with no matching transaction, or a body that cannot be read | `Inconclusive` |
/// | 404 with Plexy's JSON error body carrying `code` 4 ([`error::is_plexy_not_found`]) | `Absent` |
/// | 404 with any other body: `{"message":"Not Found"}` (the web framework's unknown route), no `code` or another one, empty, HTML, not JSON | `Inconclusive` |
/// | any other status | `Err` per [`error::status_error`] (401/403 `Auth`, 429 `RateLimited`, 5xx `Provider`, …) |
///
/// A transaction matches when its `parentTransactionId` equals the payment id, its `type`, when
/// present, is `refund`, and its `orderReference`, when present, equals the reference (the last
/// check is ours: P-L2 is keyed by that reference, so another value means the answer is not
/// about it). In a list, the first matching element is taken. A 2xx answer that does not match
/// is not proof of absence (only the 404 is, §0.5), so it is inconclusive.
///
/// # Errors
/// As in the table.
pub(crate) fn lookup(response: &Response, query: &RefundQuery) -> Result<Lookup, Error> {
    let status = response.status().as_u16();
    if status == 404 {
        return Ok(if error::is_plexy_not_found(response.body()) {
            Lookup::Absent
        } else {
            Lookup::Inconclusive(format!(
                "http 404 without Plexy's JSON error body with code 4 (body starts with {}): \
                 it may be an unknown route, so it does not prove that no refund exists",
                response.body_excerpt()
            ))
        });
    }
    if !response.is_success() {
        return Err(error::status_error(response, Operation::Lookup));
    }
    let lookup: wire::TransactionLookup = match response.json() {
        Ok(lookup) => lookup,
        Err(e) => {
            return Ok(Lookup::Inconclusive(format!(
                "the lookup answer could not be read: {}",
                e.message()
            )));
        }
    };
    let Some(found) = lookup_items(lookup)
        .into_iter()
        .find(|t| matches_query(t, &query.payment_id, &query.reference))
    else {
        return Ok(Lookup::Inconclusive(format!(
            "http {status}: no refund transaction of payment {} with reference {} in the answer",
            query.payment_id, query.reference
        )));
    };
    match refund_from_transaction(found, query) {
        Ok(refund) => Ok(Lookup::Found(refund)),
        Err(e) => Ok(Lookup::Inconclusive(format!(
            "the matching refund transaction could not be read: {}",
            e.message()
        ))),
    }
}

fn matches_query(t: &wire::Transaction, payment: &PaymentId, reference: &RefundReference) -> bool {
    let parent_ok = t
        .parent_transaction_id
        .as_ref()
        .is_some_and(|p| p.as_str() == payment.as_str());
    let type_ok = t
        .type_
        .as_ref()
        .is_none_or(|k| TransactionKind::from_wire(k.as_str()) == TransactionKind::Refund);
    let reference_ok = t
        .order_reference
        .as_deref()
        .is_none_or(|r| r == reference.as_str());
    parent_ok && type_ok && reference_ok
}

/// The refund described by a matching refund transaction. The currency is the transaction's,
/// else the query's (for a partial refund); for a full refund of a transaction with no currency
/// the amounts stay `None`.
///
/// # Errors
/// [`Decode`](ErrorKind::Decode) as for [`transaction_from_wire`].
fn refund_from_transaction(t: wire::Transaction, query: &RefundQuery) -> Result<Refund, Error> {
    let fallback = match query.amount {
        RefundAmount::Partial(m) => Some(m.currency()),
        _ => None,
    };
    let t = transaction_from_wire(t, fallback)?;
    let status = t.refund_status();
    let mut refund = Refund::new(
        ProviderId::PLEXY,
        query.payment_id.clone(),
        query.reference.clone(),
        status,
    );
    if let Some(id) = t.id.as_deref().and_then(|id| RefundId::new(id).ok()) {
        refund = refund.with_refund_id(id);
    }
    if let Some(raw) = &t.raw_status {
        refund = refund.with_raw_status(raw.clone());
    }
    if let Some(amount) = t.amount {
        refund = refund.with_amount(amount);
    }
    if let Some(remaining) = t.remaining {
        refund = refund.with_remaining(remaining);
    }
    if status == RefundStatus::Declined {
        let code = t
            .response_code
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(wire::ResponseCode::from);
        refund = refund.with_decline(decline(code.as_ref(), t.message.as_deref()));
    }
    Ok(refund)
}

#[cfg(test)]
mod tests {
    use refund_core::http::{HeaderMap, StatusCode};

    use super::*;

    const ORIGINAL: &str = "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae";

    fn kzt(text: &str) -> Money {
        Money::parse(text, Currency::KZT).unwrap()
    }

    fn full(reference: &str) -> RefundRequest {
        RefundRequest::builder(
            PaymentId::new(ORIGINAL).unwrap(),
            RefundReference::new(reference).unwrap(),
        )
        .build()
        .unwrap()
    }

    fn partial(reference: &str, amount: Money) -> RefundRequest {
        RefundRequest::builder(
            PaymentId::new(ORIGINAL).unwrap(),
            RefundReference::new(reference).unwrap(),
        )
        .partial(amount)
        .build()
        .unwrap()
    }

    fn body_text(request: &RefundRequest) -> String {
        serde_json::to_string(&refund_body(request)).unwrap()
    }

    #[test]
    fn request_bodies_of_section_1_7() {
        assert_eq!(
            body_text(&full("rf-7f3c2a")),
            r#"{"orderReference":"rf-7f3c2a"}"#
        );
        assert_eq!(
            body_text(&partial("rf-7f3c2b", kzt("10.50"))),
            r#"{"amount":10.50,"minorAmount":1050,"orderReference":"rf-7f3c2b"}"#
        );
    }

    #[test]
    fn amounts_have_exactly_the_currency_digits() {
        for (money, text, minor) in [
            (kzt("0.05"), "0.05", 5_i64),
            (kzt("100"), "100.00", 10000),
            (kzt("10.5"), "10.50", 1050),
            (Money::parse("1000", Currency::JPY).unwrap(), "1000", 1000),
            (
                Money::parse("12.345", Currency::KWD).unwrap(),
                "12.345",
                12345,
            ),
            (Money::parse("0.001", Currency::KWD).unwrap(), "0.001", 1),
            (
                Money::parse("1.2345", Currency::CLF).unwrap(),
                "1.2345",
                12345,
            ),
            (
                Money::from_minor(9_007_199_254_740_993, Currency::USD).unwrap(),
                "90071992547409.93",
                9_007_199_254_740_993,
            ),
        ] {
            assert_eq!(
                body_text(&partial("rf-1", money)),
                format!(r#"{{"amount":{text},"minorAmount":{minor},"orderReference":"rf-1"}}"#)
            );
        }
    }

    #[test]
    fn description_only_with_a_reason() {
        let with_reason = RefundRequest::builder(
            PaymentId::new(ORIGINAL).unwrap(),
            RefundReference::new("rf-1").unwrap(),
        )
        .reason("customer \"asked\"")
        .metadata("order", "42")
        .build()
        .unwrap();
        assert_eq!(
            body_text(&with_reason),
            r#"{"orderReference":"rf-1","description":"customer \"asked\""}"#
        );
    }

    #[test]
    fn request_parts() {
        let base = BaseUrl::parse("https://api.plexypay.com/v1").unwrap();
        let r = refund_request(&base, &partial("rf-7f3c2b", kzt("10.50"))).unwrap();
        assert_eq!(r.method(), "POST");
        assert_eq!(
            r.endpoint().as_str(),
            "https://api.plexypay.com/v1/payments/1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae/refund"
        );
        assert_eq!(r.operation_name(), "refund");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers().len(), 1, "no other header, no idempotency key");

        let weird = RefundRequest::builder(
            PaymentId::new("ab/c d").unwrap(),
            RefundReference::new("rf-1").unwrap(),
        )
        .build()
        .unwrap();
        let r = refund_request(&base, &weird).unwrap();
        assert_eq!(r.endpoint().path(), "/v1/payments/ab%2Fc%20d/refund");

        for id in [".", ".."] {
            let bad = RefundRequest::builder(
                PaymentId::new(id).unwrap(),
                RefundReference::new("rf-1").unwrap(),
            )
            .build()
            .unwrap();
            let e = refund_request(&base, &bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(!e.may_have_reached_provider());
        }

        let r = transaction_request(&base, "a%b", "transaction").unwrap();
        assert_eq!(r.method(), "GET");
        assert_eq!(r.endpoint().path(), "/v1/transactions/a%25b");
        assert!(r.body().is_none());
        assert!(r.headers().is_empty());
        assert_eq!(
            transaction_request(&base, "", "t").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let r = by_reference_request(&base, &RefundReference::new("rf:7f.3_c-2b").unwrap(), "f")
            .unwrap();
        assert_eq!(
            r.endpoint().path(),
            "/v1/transactions/by-order-reference/rf%3A7f.3_c-2b"
        );
    }

    fn response_of(json: &str) -> wire::RefundResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn outcome_derivation_rules() {
        use RefundStatus::*;
        let request = partial("rf-1", kzt("10.50"));
        for (json, expected) in [
            // Rule 1: 09 is Pending whatever `success` says.
            (r#"{"responseCode":"09","success":false}"#, Some(Pending)),
            (r#"{"responseCode":"09","success":true}"#, Some(Pending)),
            (r#"{"responseCode":"09"}"#, Some(Pending)),
            // Rule 2.
            (r#"{"responseCode":"00","success":true}"#, Some(Succeeded)),
            (r#"{"success":true}"#, Some(Succeeded)),
            (r#"{"responseCode":"05","success":true}"#, Some(Succeeded)),
            // Rule 3.
            (r#"{"responseCode":"05","success":false}"#, Some(Declined)),
            (r#"{"responseCode":"00","success":false}"#, Some(Declined)),
            (r#"{"success":false}"#, Some(Declined)),
            // Rule 4.
            (r#"{"responseCode":"00"}"#, Some(Succeeded)),
            (r#"{"responseCode":"51"}"#, Some(Declined)),
            (r#"{"responseCode":"ZZ"}"#, Some(Declined)),
            (r#"{"responseCode":""}"#, None),
            (r#"{"responseCode":null,"success":null}"#, None),
            (r#"{"id":"x","amount":10.50,"message":"approved"}"#, None),
            ("{}", None),
        ] {
            let result = refund_from_response(&response_of(json), &request);
            match expected {
                Some(status) => assert_eq!(result.unwrap().status, status, "{json}"),
                None => assert_eq!(
                    result.unwrap_err().kind(),
                    ErrorKind::OutcomeUnknown,
                    "{json}"
                ),
            }
        }
    }

    /// Every `responseCode` of §1.5, through the whole derivation (`success: false`), plus
    /// unlisted ones.
    #[test]
    fn response_code_table() {
        use DeclineCode as D;
        let listed: [(&str, Option<DeclineCode>); 49] = [
            ("00", Some(D::Other)),
            ("01", Some(D::Other)),
            ("02", Some(D::Other)),
            ("04", Some(D::Other)),
            ("05", Some(D::DoNotHonor)),
            ("06", Some(D::Other)),
            ("07", Some(D::Other)),
            ("08", Some(D::Other)),
            ("09", None),
            ("10", Some(D::Other)),
            ("12", Some(D::InvalidTransaction)),
            ("13", Some(D::InvalidAmount)),
            ("1A", Some(D::Other)),
            ("21", Some(D::Other)),
            ("30", Some(D::Other)),
            ("33", Some(D::CardExpired)),
            ("34", Some(D::SuspectedFraud)),
            ("40", Some(D::NotRefundable)),
            ("41", Some(D::CardLostOrStolen)),
            ("43", Some(D::CardLostOrStolen)),
            ("51", Some(D::InsufficientFunds)),
            ("52", Some(D::Other)),
            ("53", Some(D::Other)),
            ("54", Some(D::CardExpired)),
            ("55", Some(D::Other)),
            ("56", Some(D::Other)),
            ("57", Some(D::InvalidTransaction)),
            ("58", Some(D::Other)),
            ("60", Some(D::Other)),
            ("61", Some(D::LimitExceeded)),
            ("62", Some(D::Other)),
            ("64", Some(D::AmountExceedsOriginal)),
            ("65", Some(D::Other)),
            ("75", Some(D::Other)),
            ("77", Some(D::Other)),
            ("78", Some(D::Other)),
            ("79", Some(D::Other)),
            ("80", Some(D::AmountNoLongerAvailable)),
            ("81", Some(D::Other)),
            ("82", Some(D::IssuerUnavailable)),
            ("85", Some(D::Other)),
            ("87", Some(D::Other)),
            ("91", Some(D::IssuerUnavailable)),
            ("92", Some(D::Other)),
            ("95", Some(D::Other)),
            ("96", Some(D::IssuerUnavailable)),
            ("97", Some(D::Other)),
            ("98", Some(D::Other)),
            ("99", Some(D::Other)),
        ];
        let unlisted = [
            ("03", D::Other),
            ("Z9", D::Other),
            ("1a", D::Other),
            ("100", D::Other),
        ];
        let request = partial("rf-1", kzt("10.50"));
        let cases = listed
            .iter()
            .cloned()
            .chain(unlisted.iter().map(|(c, d)| (*c, Some(*d))));
        for (code, expected) in cases {
            let json = format!(
                r#"{{"id":"r-{code}","responseCode":"{code}","success":false,"message":"m {code}"}}"#
            );
            let refund = refund_from_response(&response_of(&json), &request).unwrap();
            assert_eq!(refund.raw_status.as_deref(), Some(code));
            match expected {
                None => {
                    assert_eq!(refund.status, RefundStatus::Pending, "{code}");
                    assert_eq!(refund.decline, None);
                }
                Some(normalized) => {
                    assert_eq!(refund.status, RefundStatus::Declined, "{code}");
                    let decline = refund.decline.unwrap();
                    assert_eq!(decline.code, normalized, "{code}");
                    assert_eq!(decline.provider_code.as_deref(), Some(code));
                    assert_eq!(decline.message, Some(format!("m {code}")));
                }
            }
        }
        // Every listed code is a known wire variant (the table above is the whole §1.5 list).
        for (code, _) in listed {
            assert!(
                !matches!(wire::ResponseCode::from(code), wire::ResponseCode::Other(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn partial_refund_amounts_use_the_request_currency() {
        let body = response_of(
            r#"{"id":"3f8c","responseCode":"00","amount":10.50,"remainingBalance":189.50,"success":true}"#,
        );
        let refund = refund_from_response(&body, &partial("rf-1", kzt("10.50"))).unwrap();
        assert_eq!(refund.amount, Some(kzt("10.50")));
        assert_eq!(refund.remaining, Some(kzt("189.50")));
        assert_eq!(refund.refund_id.unwrap().as_str(), "3f8c");
        assert_eq!(refund.decline, None);

        // A full refund: no currency is known, so no amount is guessed.
        let refund = refund_from_response(&body, &full("rf-1")).unwrap();
        assert_eq!(refund.amount, None);
        assert_eq!(refund.remaining, None);

        // More digits than the currency: half-to-even (§0.3). JPY: 1000.5 → 1000, 1001.5 → 1002.
        let jpy = Money::parse("1000", Currency::JPY).unwrap();
        let body = response_of(r#"{"success":true,"amount":1000.5,"remainingBalance":1001.5}"#);
        let refund = refund_from_response(&body, &partial("rf-1", jpy)).unwrap();
        assert_eq!(refund.amount.unwrap().minor_units(), 1000);
        assert_eq!(refund.remaining.unwrap().minor_units(), 1002);

        let negative = response_of(r#"{"success":true,"amount":-10.50}"#);
        let e = refund_from_response(&negative, &partial("rf-1", kzt("10.50"))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        // ...which the client reports as unknown.
        let response = Response::new(
            ProviderId::PLEXY,
            StatusCode::OK,
            HeaderMap::new(),
            r#"{"success":true,"amount":-10.50}"#,
        );
        let e = refund_outcome(&response, &partial("rf-1", kzt("10.50"))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
        assert_eq!(e.http_status(), Some(200));
    }

    #[test]
    fn unusable_refund_ids_are_left_out() {
        for id in [r#""""#, r#"" x""#, &format!("\"{}\"", "a".repeat(300))] {
            let body = response_of(&format!(r#"{{"id":{id},"success":true}}"#));
            let refund = refund_from_response(&body, &full("rf-1")).unwrap();
            assert_eq!(refund.refund_id, None, "{id}");
        }
        let body = response_of(r#"{"id":{"Value":"r-1"},"success":true}"#);
        let refund = refund_from_response(&body, &full("rf-1")).unwrap();
        assert_eq!(refund.refund_id.unwrap().as_str(), "r-1");
    }

    fn wire_tx(json: &str) -> wire::Transaction {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn transactions_convert_with_the_observed_variants() {
        let t = transaction_from_wire(
            wire_tx(
                r#"{"transactionId":{"Value":"3f8c"},"type":"refund","status":"TRANSACTION_STATUS_AUTHED","merchantReference":"rf-7f3c2b","originalTransactionId":{"Value":"1c4b"},"amount":10.50,"currency":"KZT","responseCode":"00"}"#,
            ),
            None,
        )
        .unwrap();
        assert_eq!(t.id.as_deref(), Some("3f8c"));
        assert_eq!(t.kind, Some(TransactionKind::Refund));
        assert_eq!(t.status, Some(TransactionStatus::Authorized));
        assert_eq!(t.raw_status.as_deref(), Some("TRANSACTION_STATUS_AUTHED"));
        assert_eq!(t.order_reference.as_deref(), Some("rf-7f3c2b"));
        assert_eq!(t.parent_id.as_deref(), Some("1c4b"));
        assert_eq!(t.amount, Some(kzt("10.50")));
        assert_eq!(t.currency, Some(Currency::KZT));
        assert_eq!(t.response_code.as_deref(), Some("00"));

        // No currency: no amount, unless a fallback is known.
        let no_currency = r#"{"amount":10.50,"remainingBalance":1}"#;
        let t = transaction_from_wire(wire_tx(no_currency), None).unwrap();
        assert_eq!((t.amount, t.remaining), (None, None));
        let t = transaction_from_wire(wire_tx(no_currency), Some(Currency::KZT)).unwrap();
        assert_eq!(t.amount, Some(kzt("10.50")));
        assert_eq!(t.remaining, Some(kzt("1")));
        assert_eq!(t.currency, None, "only the reported currency is shown");

        for bad in [
            r#"{"amount":1,"currency":"usd"}"#,
            r#"{"amount":1,"currency":"XXX"}"#,
            r#"{"currency":"ABCDEF"}"#,
            r#"{"amount":-1,"currency":"USD"}"#,
            r#"{"amount":1e25,"currency":"USD"}"#,
        ] {
            let e = transaction_from_wire(wire_tx(bad), None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Decode, "{bad}");
        }
    }

    fn query(partial_amount: Option<Money>) -> RefundQuery {
        let q = RefundQuery::new(
            PaymentId::new(ORIGINAL).unwrap(),
            RefundReference::new("rf-7f3c2b").unwrap(),
        );
        match partial_amount {
            Some(m) => q.with_amount(RefundAmount::Partial(m)),
            None => q,
        }
    }

    #[test]
    fn match_rule() {
        let payment = PaymentId::new(ORIGINAL).unwrap();
        let reference = RefundReference::new("rf-7f3c2b").unwrap();
        for (json, matches) in [
            (
                r#"{"type":"refund","parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae","orderReference":"rf-7f3c2b"}"#,
                true,
            ),
            (
                r#"{"parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#,
                true,
            ),
            (
                r#"{"type":"REFUND","originalTransactionId":{"Value":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"},"merchantReference":"rf-7f3c2b"}"#,
                true,
            ),
            (
                r#"{"type":"payment","parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#,
                false,
            ),
            (
                r#"{"type":"reversal","parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#,
                false,
            ),
            (
                r#"{"type":"refund","parentTransactionId":"another"}"#,
                false,
            ),
            (r#"{"type":"refund"}"#, false),
            (r#"{"type":"refund","parentTransactionId":null}"#, false),
            (
                r#"{"type":"refund","parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae","orderReference":"rf-other"}"#,
                false,
            ),
            ("{}", false),
        ] {
            assert_eq!(
                matches_query(&wire_tx(json), &payment, &reference),
                matches,
                "{json}"
            );
        }
    }

    #[test]
    fn refund_outcome_from_a_refund_transaction() {
        use RefundStatus::*;
        for (status, code, expected, decline) in [
            ("refunded", "00", Succeeded, None),
            ("charged", "00", Succeeded, None),
            ("TRANSACTION_STATUS_REFUNDED", "00", Succeeded, None),
            (
                "rejected",
                "51",
                Declined,
                Some(DeclineCode::InsufficientFunds),
            ),
            ("failed", "05", Declined, Some(DeclineCode::DoNotHonor)),
            ("cancelled", "", Declined, Some(DeclineCode::Other)),
            ("created", "09", Pending, None),
            ("new", "", Pending, None),
            ("3d", "", Pending, None),
            ("authorized", "", Pending, None),
            ("disputed", "", Pending, None),
        ] {
            let json = format!(
                r#"{{"id":"r1","type":"refund","status":"{status}","responseCode":"{code}","message":"msg","parentTransactionId":"{ORIGINAL}","amount":10.50}}"#
            );
            let refund = refund_from_transaction(wire_tx(&json), &query(None)).unwrap();
            assert_eq!(refund.status, expected, "{status}");
            assert_eq!(refund.raw_status.as_deref(), Some(status));
            assert_eq!(refund.refund_id.as_ref().unwrap().as_str(), "r1");
            assert_eq!(refund.amount, None, "full refund, no currency");
            assert_eq!(refund.decline.as_ref().map(|d| d.code), decline, "{status}");
            if let Some(d) = &refund.decline {
                assert_eq!(d.message.as_deref(), Some("msg"));
                assert_eq!(
                    d.provider_code.as_deref(),
                    (!code.is_empty()).then_some(code)
                );
            }
        }
        let json =
            format!(r#"{{"status":"refunded","parentTransactionId":"{ORIGINAL}","amount":10.50}}"#);
        let refund = refund_from_transaction(wire_tx(&json), &query(Some(kzt("10.50")))).unwrap();
        assert_eq!(refund.amount, Some(kzt("10.50")), "the query's currency");
        let refund = refund_from_transaction(wire_tx(&json), &query(None)).unwrap();
        assert_eq!(refund.status, Succeeded);
        assert_eq!(refund.refund_id, None);
    }
}
