//! Pure conversions: a [`PayabliRefund`] into the HTTP request of Y-R1/Y-R2, and Payabli's
//! answers into core [`Refund`]s, [`Lookup`]s, [`Snapshot`]s and [`TransactionDetails`]
//! (contract §3.4, §3.6). No I/O here: the client sends, these functions decide.

use refund_core::http::{BaseUrl, Request, Response, Segment, refund_outcome_error};
use refund_core::retry::Operation;
use refund_core::{
    Currency, Decline, DeclineCode, Error, ErrorKind, JsonDecimal, Lookup, Money, PaymentId,
    ProviderId, Refund, RefundAmount, RefundId, RefundQuery, RefundRequest, RefundStatus, Snapshot,
};

use crate::error::{code_letter, status_error};
use crate::types::{PayabliRefund, Refundability, TransactionDetails};
use crate::wire;

/// The `idempotencyKey` header (§3.3); header names go out in lowercase.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotencyKey";

/// The codes that mean Pending (§3.4): `A0001` Initiated and `A0050` Pending approval.
pub(crate) const PENDING_CODES: [&str; 2] = ["A0001", "A0050"];

/// The text a [`Snapshot`] holds: the original's `RefundId` before the refund.
const SNAPSHOT_PREFIX: &str = "refund_id=";

/// The refund POST: Y-R1 `POST /v2/MoneyIn/refund/{transId}` for a full refund, Y-R2
/// `POST /v2/MoneyIn/refund/{transId}/{amount}` with the §0.3 decimal text for a partial one;
/// `idempotencyKey: <refund reference>`; a JSON body only when a Payabli option is set.
///
/// # Errors
/// `InvalidInput` for a zero partial amount (never sent: Payabli reads 0 as a full refund, §0.3)
/// and for a transId that cannot be a path segment (§0.2).
#[cfg(test)]
pub(crate) fn refund_request(base: &BaseUrl, refund: &PayabliRefund) -> Result<Request, Error> {
    refund_request_with(base, refund.request(), refund_body(refund))
}

/// [`refund_request`] from a core request and the optional body (borrowed, so that a refund
/// without Payabli options needs no copy of the request).
pub(crate) fn refund_request_with(
    base: &BaseUrl,
    request: &RefundRequest,
    body: Option<wire::RefundRequest>,
) -> Result<Request, Error> {
    let trans_id = request.payment_id().as_str();
    let amount_text;
    let endpoint = match request.amount() {
        RefundAmount::Full => {
            base.endpoint(&[Segment::Lit("v2/MoneyIn/refund"), Segment::Param(trans_id)])?
        }
        RefundAmount::Partial(amount) => {
            if amount.is_zero() {
                return Err(Error::invalid_input(
                    "a partial refund amount must be greater than zero (payabli reads 0 as a full refund)",
                ));
            }
            amount_text = amount.decimal_text();
            base.endpoint(&[
                Segment::Lit("v2/MoneyIn/refund"),
                Segment::Param(trans_id),
                Segment::Param(&amount_text),
            ])?
        }
        _ => {
            return Err(Error::unsupported(
                "this refund amount kind is not supported by refund-payabli",
            )
            .with_provider(ProviderId::PAYABLI));
        }
    };
    let http = Request::post(endpoint)
        .operation("refund")
        .try_header(IDEMPOTENCY_KEY, request.reference().as_str())?;
    match body {
        Some(body) => http.json(&body),
        None => Ok(http),
    }
}

/// The optional body of §3.4, `None` when no option is set. Never carries the amount.
pub(crate) fn refund_body(refund: &PayabliRefund) -> Option<wire::RefundRequest> {
    if !refund.has_body() {
        return None;
    }
    let categories: Vec<wire::RefundCategory> = refund
        .line_items()
        .iter()
        .map(|item| wire::RefundCategory {
            label: Some(item.label.clone()),
            description: item.description.clone(),
            amount: Some(item.amount.to_json_number()),
            qty: Some(i64::from(item.quantity)),
        })
        .collect();
    let splits: Vec<wire::SplitRefundingInstruction> = refund
        .split_refunds()
        .iter()
        .map(|split| wire::SplitRefundingInstruction {
            origination_entry_point: Some(split.origination_entry_point.clone()),
            account_id: Some(split.account_id.clone()),
            description: split.description.clone(),
            amount: Some(split.amount.to_json_number()),
        })
        .collect();
    let refund_details =
        (!categories.is_empty() || !splits.is_empty()).then(|| wire::RefundDetails {
            categories: (!categories.is_empty()).then_some(categories),
            split_refunding: (!splits.is_empty()).then_some(splits),
        });
    Some(wire::RefundRequest {
        order_id: refund.order_id().map(str::to_owned),
        order_description: refund.order_description().map(str::to_owned),
        source: refund.source().map(str::to_owned),
        ipaddress: refund.ip_address().map(|ip| ip.to_string()),
        refund_details,
    })
}

/// Y-L1 `GET /MoneyIn/details/{transId}`.
///
/// # Errors
/// `InvalidInput` for a transId that cannot be a path segment (§0.2).
pub(crate) fn details_request(
    base: &BaseUrl,
    trans_id: &PaymentId,
    operation: &'static str,
) -> Result<Request, Error> {
    let endpoint = base.endpoint(&[
        Segment::Lit("MoneyIn/details"),
        Segment::Param(trans_id.as_str()),
    ])?;
    Ok(Request::get(endpoint).operation(operation))
}

/// Reads the answer to a refund POST (§3.4 "Outcome derivation", §3.5):
///
/// | HTTP | `code` | result |
/// |---|---|---|
/// | 200, 201 | `A0001`, `A0050` | `Ok`, Pending |
/// | 200, 201 | any other `A` + 4 digits | `Ok`, Succeeded |
/// | 402 or 2xx | `D` + 4 digits | `Ok`, Declined with `reason`/`explanation`/`action` |
/// | 2xx, 402 | anything else, or a body that is not the wrapper | `OutcomeUnknown` |
/// | other | | [`status_error`] (400 `E…` → `InvalidInput`, 409 and 5xx → `OutcomeUnknown`, …) |
///
/// The refunded amount is `|data.totalAmount|` in `data.paymentData.paymentDetails.currency`
/// (else the currency of a partial request); the refund id is `data.paymentTransId`. When
/// `data` echoes the original sale instead (`operation` other than `Refund`, or
/// `paymentTransId` equal to the refunded payment's id), the amount is the requested one (none
/// for a full refund) and the refund id is `data.refundId` when it is not 0 (else none).
///
/// # Errors
/// As in the table; every error that may hide an applied refund is `OutcomeUnknown`.
pub(crate) fn refund_outcome(
    response: &Response,
    request: &RefundRequest,
) -> Result<Refund, Error> {
    let http = response.status();
    if !(http.is_success() || http.as_u16() == 402) {
        return Err(status_error(response, Operation::Refund));
    }
    let wrapper: wire::RefundResponseWrapper = response.json().map_err(refund_outcome_error)?;
    let code = wrapper.code.as_ref().map(wire::ResultCode::as_str);
    let status = match (code.and_then(code_letter), http.as_u16()) {
        (Some('A'), 200 | 201) => {
            if code.is_some_and(|c| PENDING_CODES.contains(&c)) {
                RefundStatus::Pending
            } else {
                RefundStatus::Succeeded
            }
        }
        (Some('D'), s) if s == 402 || http.is_success() => RefundStatus::Declined,
        _ => {
            let message = match code {
                Some(_) => format!(
                    "a refund answered with a result code that has no known outcome with http {}: it may have been applied, reconcile before retrying",
                    http.as_u16()
                ),
                None => "a refund answered without a result code: it may have been applied, reconcile before retrying".to_owned(),
            };
            let error = response.error(ErrorKind::OutcomeUnknown, message);
            return Err(match code {
                Some(c) => error.with_provider_code(c),
                None => error,
            });
        }
    };
    let mut refund = Refund::new(
        ProviderId::PAYABLI,
        request.payment_id().clone(),
        request.reference().clone(),
        status,
    );
    if let Some(c) = code {
        refund = refund.with_raw_status(c);
    }
    let data = wrapper.data.as_ref();
    if let Some(data) = data
        && echoes_the_sale(data, request.payment_id())
    {
        // `data` describes the original sale, not the refund (seen in the vendors' SDK mocks,
        // §3.4): its total is the sale's (service fee included) and its `paymentTransId` is the
        // payment's. The refund is what was asked for: the requested amount of a partial
        // refund, an unknown amount for a full one, and an id only from a non-zero `refundId`.
        if let Some(id) = data
            .refund_id
            .filter(|id| *id != 0)
            .and_then(|id| RefundId::new(id.to_string()).ok())
        {
            refund = refund.with_refund_id(id);
        }
        if let RefundAmount::Partial(amount) = request.amount() {
            refund = refund.with_amount(amount);
        }
    } else {
        refund = with_refund_data(refund, response, request, data)?;
    }
    if status == RefundStatus::Declined {
        refund = refund.with_decline(decline(&wrapper, code));
    }
    Ok(refund)
}

/// Whether a refund answer's `data` describes the original sale rather than the refund: its
/// `operation` is present and is not `Refund` (any case), or its `paymentTransId` is the
/// refunded payment's own id.
fn echoes_the_sale(data: &wire::V2TransactionDetails, payment: &PaymentId) -> bool {
    let other_operation = data
        .operation
        .as_ref()
        .is_some_and(|op| !op.as_str().trim().eq_ignore_ascii_case("refund"));
    let sale_id = data.payment_trans_id.as_deref() == Some(payment.as_str());
    other_operation || sale_id
}

/// Adds the refund id (`data.paymentTransId`) and the refunded amount (`|data.totalAmount|` in
/// `data.paymentData.paymentDetails.currency`, else the currency of a partial request) of a
/// `data` that describes the refund.
fn with_refund_data(
    mut refund: Refund,
    response: &Response,
    request: &RefundRequest,
    data: Option<&wire::V2TransactionDetails>,
) -> Result<Refund, Error> {
    if let Some(id) = data
        .and_then(|d| d.payment_trans_id.as_deref())
        .and_then(|id| RefundId::new(id).ok())
    {
        refund = refund.with_refund_id(id);
    }
    let currency_code = data
        .and_then(|d| d.payment_data.as_ref())
        .and_then(|p| p.payment_details.as_ref())
        .and_then(|p| p.currency.as_deref());
    let currency = match currency_code {
        Some(code) => Some(read_currency(response, code).map_err(refund_outcome_error)?),
        None => request.amount().partial().map(|m| m.currency()),
    };
    if let (Some(total), Some(currency)) = (data.and_then(|d| d.total_amount), currency) {
        let amount = read_money(response, "data.totalAmount", total, currency)
            .map_err(refund_outcome_error)?;
        refund = refund.with_amount(amount);
    }
    Ok(refund)
}

/// The decline of a `D…` answer: `DeclineCode::Other` (the D table was not retrievable, §3.5),
/// the raw code, and `reason: explanation (action: …)`.
fn decline(wrapper: &wire::RefundResponseWrapper, code: Option<&str>) -> Decline {
    let mut decline = Decline::new(DeclineCode::Other);
    if let Some(c) = code {
        decline = decline.with_provider_code(c);
    }
    let mut message = String::new();
    for part in [&wrapper.reason, &wrapper.explanation]
        .into_iter()
        .flatten()
    {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(part);
    }
    if let Some(action) = wrapper
        .action
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        if message.is_empty() {
            message = format!("action: {action}");
        } else {
            message = format!("{message} (action: {action})");
        }
    }
    if message.is_empty() {
        decline
    } else {
        decline.with_message(message)
    }
}

fn read_currency(response: &Response, code: &str) -> Result<Currency, Error> {
    Currency::from_code(code).map_err(|e| {
        response.decorate(
            Error::decode(format!(
                "the answer names a currency that is not an ISO 4217 code we know: {:?}",
                code.chars().take(8).collect::<String>()
            ))
            .with_source(e),
        )
    })
}

/// An amount Payabli wrote in major units, as a magnitude (refunds are negative, §3.4).
fn read_money(
    response: &Response,
    field: &str,
    value: JsonDecimal,
    currency: Currency,
) -> Result<Money, Error> {
    Money::from_provider_decimal(value.value().abs(), currency).map_err(|e| {
        response.decorate(
            Error::decode(format!("the amount at `{field}` does not fit {currency}"))
                .with_source(e),
        )
    })
}

/// Reads Y-L1 for reconciliation (§0.5, §3.6):
///
/// - 404 (any body): inconclusive (a gateway's 404 proves nothing);
/// - another non-2xx: `Err` ([`status_error`]);
/// - 200 with a record whose `PaymentTransId` equals the transId and a `RefundId`:
///   - full refund: `RefundId` ≠ 0 → found (succeeded, refund id = `RefundId`); 0 → absent;
///   - partial refund: `RefundId` changed from the snapshot to a non-zero value → found;
///     unchanged → absent; no (readable) snapshot → inconclusive;
/// - anything else (another 2xx, another or no `PaymentTransId`, no `RefundId`): inconclusive.
///
/// # Errors
/// The lookup's own failures: `Auth`, `RateLimited`, `Provider` (5xx), `Decode` (a 200 body that
/// is not a record).
pub(crate) fn lookup(response: &Response, query: &RefundQuery) -> Result<Lookup, Error> {
    let http = response.status().as_u16();
    if http == 404 {
        return Ok(Lookup::Inconclusive(
            "payabli answered the details lookup with http 404, which does not prove that no refund exists"
                .to_owned(),
        ));
    }
    if !response.status().is_success() {
        return Err(status_error(response, Operation::Lookup));
    }
    if http != 200 {
        return Ok(Lookup::Inconclusive(format!(
            "payabli answered the details lookup with http {http} instead of 200"
        )));
    }
    let record: wire::TransactionDetails = response.json()?;
    let refund_id = match checked_refund_id(&record, &query.payment_id) {
        Ok(id) => id,
        Err(reason) => return Ok(Lookup::Inconclusive(reason)),
    };
    let found = |id: i64| {
        let mut refund = Refund::new(
            ProviderId::PAYABLI,
            query.payment_id.clone(),
            query.reference.clone(),
            RefundStatus::Succeeded,
        );
        if let Ok(id) = RefundId::new(id.to_string()) {
            refund = refund.with_refund_id(id);
        }
        Lookup::Found(refund)
    };
    Ok(match query.amount {
        RefundAmount::Full if refund_id != 0 => found(refund_id),
        RefundAmount::Full => Lookup::Absent,
        RefundAmount::Partial(_) => match query.snapshot.as_ref().map(parse_snapshot) {
            None => Lookup::Inconclusive(
                "a partial refund cannot be reconciled without the snapshot taken before it"
                    .to_owned(),
            ),
            Some(None) => {
                Lookup::Inconclusive("the snapshot was not written by refund-payabli".to_owned())
            }
            Some(Some(before)) if before == refund_id => Lookup::Absent,
            Some(Some(_)) if refund_id != 0 => found(refund_id),
            Some(Some(before)) => Lookup::Inconclusive(format!(
                "RefundId went from {before} to 0, which proves nothing"
            )),
        },
        _ => Lookup::Inconclusive("this refund amount kind cannot be reconciled".to_owned()),
    })
}

/// Reads Y-L1 for [`RefundProvider::snapshot`](refund_core::RefundProvider::snapshot): the
/// original's current `RefundId` as `refund_id=<n>`.
///
/// # Errors
/// Every non-2xx as [`status_error`] (404 → `NotFound`), `Decode` for a body that is not a
/// record, and `Provider` for a record of another transaction or without `RefundId`: a
/// snapshot must be certain, or the partial refund cannot be reconciled later.
pub(crate) fn snapshot(response: &Response, trans_id: &PaymentId) -> Result<Snapshot, Error> {
    if !response.status().is_success() {
        return Err(status_error(response, Operation::Lookup));
    }
    let record: wire::TransactionDetails = response.json()?;
    let refund_id = checked_refund_id(&record, trans_id)
        .map_err(|reason| response.error(ErrorKind::Provider, reason))?;
    Ok(Snapshot::new(format!("{SNAPSHOT_PREFIX}{refund_id}")))
}

/// `RefundId` of a record that is about `trans_id`; otherwise why the record proves nothing.
fn checked_refund_id(
    record: &wire::TransactionDetails,
    trans_id: &PaymentId,
) -> Result<i64, String> {
    match record.payment_trans_id.as_deref() {
        Some(id) if id == trans_id.as_str() => {}
        Some(_) => {
            return Err(
                "payabli's details record is about another transaction (PaymentTransId differs)"
                    .to_owned(),
            );
        }
        None => return Err("payabli's details record has no PaymentTransId".to_owned()),
    }
    record
        .refund_id
        .ok_or_else(|| "payabli's details record has no RefundId".to_owned())
}

fn parse_snapshot(snapshot: &Snapshot) -> Option<i64> {
    snapshot
        .as_str()
        .strip_prefix(SNAPSHOT_PREFIX)?
        .parse()
        .ok()
}

/// Reads Y-L1 for [`Client::transaction_details`](crate::Client::transaction_details).
///
/// # Errors
/// Every non-2xx as [`status_error`] (404 → `NotFound`); `Decode` for a body that is not a
/// record, an unknown currency, or an amount that does not fit the currency.
pub(crate) fn details(response: &Response) -> Result<TransactionDetails, Error> {
    if !response.status().is_success() {
        return Err(status_error(response, Operation::Lookup));
    }
    let record: wire::TransactionDetails = response.json()?;
    let payment_details = record
        .payment_data
        .as_ref()
        .and_then(|p| p.payment_details.as_ref());
    let currency = payment_details
        .and_then(|p| p.currency.as_deref())
        .map(|code| read_currency(response, code))
        .transpose()?;
    let money = |field: &str, value: Option<JsonDecimal>| -> Result<Option<Money>, Error> {
        match (value, currency) {
            (Some(v), Some(c)) => read_money(response, field, v, c).map(Some),
            _ => Ok(None),
        }
    };
    let total_amount = money("TotalAmount", record.total_amount)?;
    let service_fee = money(
        "PaymentData.paymentDetails.serviceFee",
        payment_details.and_then(|p| p.service_fee),
    )?;
    let refundable_amount = match (total_amount, service_fee) {
        (Some(total), Some(fee)) => total.checked_sub(fee)?,
        _ => None,
    };
    Ok(TransactionDetails {
        trans_id: record.payment_trans_id.clone(),
        operation: record.operation.as_ref().map(|o| o.as_str().to_owned()),
        trans_status: record.trans_status,
        settlement_status: record.settlement_status,
        total_amount,
        service_fee,
        refundable_amount,
        refund_id: record.refund_id,
        returned_id: record.returned_id,
        order_id: record.order_id.clone(),
        refundability: Refundability::from_statuses(record.trans_status, record.settlement_status),
    })
}

#[cfg(test)]
mod tests {
    use refund_core::http::{HeaderMap, StatusCode};
    use refund_core::{PaymentId, RefundReference};

    use super::*;
    use crate::types::{LineItem, SplitRefund};

    const TRANS: &str = "10-3ffa27df-b171-44e0-b251-e95fbfc7a723";

    fn base() -> BaseUrl {
        BaseUrl::parse("https://api.payabli.com/api").unwrap()
    }

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::USD).unwrap()
    }

    fn request(amount: Option<Money>) -> RefundRequest {
        let b = RefundRequest::builder(
            PaymentId::new(TRANS).unwrap(),
            RefundReference::new("rf-9c01").unwrap(),
        );
        match amount {
            Some(m) => b.partial(m),
            None => b,
        }
        .build()
        .unwrap()
    }

    fn response(status: u16, body: &str) -> Response {
        Response::new(
            ProviderId::PAYABLI,
            StatusCode::from_u16(status).unwrap(),
            HeaderMap::new(),
            body.to_owned(),
        )
    }

    #[test]
    fn full_and_partial_paths() {
        let full = refund_request(&base(), &request(None).into()).unwrap();
        assert_eq!(full.method(), "POST");
        assert_eq!(
            full.endpoint().as_str(),
            format!("https://api.payabli.com/api/v2/MoneyIn/refund/{TRANS}")
        );
        assert_eq!(full.headers()["idempotencykey"], "rf-9c01");
        assert!(full.body().is_none());
        assert!(full.headers().get("content-type").is_none());
        assert_eq!(full.operation_name(), "refund");

        for (amount, text) in [
            (usd("10.50"), "10.50"),
            (usd("0.05"), "0.05"),
            (usd("100"), "100.00"),
            (Money::parse("1000", Currency::JPY).unwrap(), "1000"),
            (Money::parse("12.345", Currency::KWD).unwrap(), "12.345"),
        ] {
            let r = refund_request(&base(), &request(Some(amount)).into()).unwrap();
            assert_eq!(
                r.endpoint().path(),
                format!("/api/v2/MoneyIn/refund/{TRANS}/{text}")
            );
            assert!(r.body().is_none());
        }
    }

    #[test]
    fn trans_ids_are_one_segment() {
        let req = RefundRequest::builder(
            PaymentId::new("10-with/slash id").unwrap(),
            RefundReference::new("rf-1").unwrap(),
        )
        .build()
        .unwrap();
        let r = refund_request(&base(), &req.into()).unwrap();
        assert_eq!(
            r.endpoint().path(),
            "/api/v2/MoneyIn/refund/10-with%2Fslash%20id"
        );
        for bad in [".", ".."] {
            let req = RefundRequest::builder(
                PaymentId::new(bad).unwrap(),
                RefundReference::new("rf-1").unwrap(),
            )
            .build()
            .unwrap();
            let err = refund_request(&base(), &req.into()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            let err = details_request(&base(), &PaymentId::new(bad).unwrap(), "x").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
        let d = details_request(&base(), &PaymentId::new("a/b").unwrap(), "find_refund").unwrap();
        assert_eq!(d.method(), "GET");
        assert_eq!(d.endpoint().path(), "/api/MoneyIn/details/a%2Fb");
        assert!(d.headers().is_empty());
    }

    #[test]
    fn body_only_with_options_and_never_the_amount() {
        let r = PayabliRefund::builder(request(Some(usd("10.50"))))
            .order_id("rf-9c02")
            .source("api")
            .build()
            .unwrap();
        let http = refund_request(&base(), &r).unwrap();
        assert_eq!(
            http.body(),
            Some(&br#"{"orderId":"rf-9c02","source":"api"}"#[..])
        );
        assert_eq!(http.headers()["content-type"], "application/json");
        assert_eq!(http.headers()["idempotencykey"], "rf-9c01");
        assert!(http.endpoint().path().ends_with("/10.50"));

        let r = PayabliRefund::builder(request(None))
            .order_description("dues")
            .ip_address("::1")
            .split(SplitRefund::new("entry-a", "acct-1", usd("7")).with_description("main"))
            .split(SplitRefund::new("entry-b", "acct-2", usd("3.50")))
            .line_item(LineItem::new("dues", usd("10.50"), 2).with_description("monthly"))
            .build()
            .unwrap();
        let body = String::from_utf8(
            refund_request(&base(), &r)
                .unwrap()
                .body()
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert_eq!(
            body,
            r#"{"orderDescription":"dues","ipaddress":"::1","refundDetails":{"categories":[{"label":"dues","description":"monthly","amount":10.50,"qty":2}],"splitRefunding":[{"originationEntryPoint":"entry-a","accountId":"acct-1","description":"main","amount":7.00},{"originationEntryPoint":"entry-b","accountId":"acct-2","amount":3.50}]}}"#
        );
        assert!(!body.contains("\"amount\":10.5,"));
        let only_split = PayabliRefund::builder(request(None))
            .split(SplitRefund::new("e", "a", usd("1")))
            .build()
            .unwrap();
        assert_eq!(
            serde_json::to_string(&refund_body(&only_split).unwrap()).unwrap(),
            r#"{"refundDetails":{"splitRefunding":[{"originationEntryPoint":"e","accountId":"a","amount":1.00}]}}"#
        );
    }

    const SUCCEEDED: &str = r#"{"code":"A0004","reason":"Refunded","explanation":"Transaction refunded","action":"No action required","data":{"paymentTransId":"3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b","operation":"Refund","totalAmount":-10.50,"refundId":1279666,"paymentData":{"paymentDetails":{"totalAmount":105,"serviceFee":5,"currency":"USD"}}},"token":null}"#;

    #[test]
    fn outcome_by_code_and_status() {
        use RefundStatus::*;
        let body = |code: &str| {
            format!(
                r#"{{"code":"{code}","reason":"r","data":{{"paymentTransId":"t-1","totalAmount":-1.25}}}}"#
            )
        };
        for (status, code, expected) in [
            (201, "A0004", Some(Succeeded)),
            (200, "A0004", Some(Succeeded)),
            (201, "A0000", Some(Succeeded)),
            (201, "A0010", Some(Succeeded)),
            (201, "A0099", Some(Succeeded)),
            (201, "A0001", Some(Pending)),
            (200, "A0050", Some(Pending)),
            (402, "D0100", Some(Declined)),
            (402, "D9999", Some(Declined)),
            (200, "D0100", Some(Declined)),
            (201, "D2999", Some(Declined)),
            (402, "A0004", None),
            (202, "A0004", None),
            (200, "E1234", None),
            (201, "E9999", None),
            (402, "E3012", None),
            (200, "X0001", None),
            (200, "A04", None),
            (200, "a0004", None),
        ] {
            let result =
                refund_outcome(&response(status, &body(code)), &request(Some(usd("1.25"))));
            match expected {
                Some(s) => {
                    let refund = result.unwrap();
                    assert_eq!(refund.status, s, "{status} {code}");
                    assert_eq!(refund.raw_status.as_deref(), Some(code));
                    assert_eq!(refund.amount, Some(usd("1.25")), "{status} {code}");
                    assert_eq!(refund.refund_id.as_ref().map(RefundId::as_str), Some("t-1"));
                    assert_eq!(refund.decline.is_some(), s == Declined);
                }
                None => {
                    let err = result.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{status} {code}");
                    assert_eq!(err.http_status(), Some(status));
                    assert_eq!(err.provider_code(), Some(code));
                }
            }
        }
    }

    #[test]
    fn amounts_and_currencies() {
        // Currency from the answer; magnitude of the negative total.
        let r = refund_outcome(&response(201, SUCCEEDED), &request(None)).unwrap();
        assert_eq!(r.amount, Some(usd("10.50")));
        assert_eq!(r.payment_id.as_str(), TRANS);
        assert_eq!(r.reference.as_str(), "rf-9c01");
        assert_eq!(r.remaining, None);
        // No currency in the answer: the partial request's currency; a full refund has none.
        let body = r#"{"code":"A0004","data":{"totalAmount":-1000}}"#;
        let jpy = Money::parse("1000", Currency::JPY).unwrap();
        let r = refund_outcome(&response(201, body), &request(Some(jpy))).unwrap();
        assert_eq!(r.amount, Some(jpy));
        let r = refund_outcome(&response(201, body), &request(None)).unwrap();
        assert_eq!(r.amount, None);
        // More digits than the currency: half-to-even (§0.3).
        let body = r#"{"code":"A0004","data":{"totalAmount":-10.125,"paymentData":{"paymentDetails":{"currency":"USD"}}}}"#;
        let r = refund_outcome(&response(201, body), &request(None)).unwrap();
        assert_eq!(r.amount, Some(usd("10.12")));
        // No data at all: the code alone decides.
        let r = refund_outcome(&response(201, r#"{"code":"A0004"}"#), &request(None)).unwrap();
        assert_eq!(r.status, RefundStatus::Succeeded);
        assert_eq!(r.amount, None);
        assert_eq!(r.refund_id, None);
        // An unknown currency cannot be mapped: unknown outcome, never a panic.
        let body = r#"{"code":"A0004","data":{"totalAmount":-1,"paymentData":{"paymentDetails":{"currency":"XYZ1"}}}}"#;
        let err = refund_outcome(&response(201, body), &request(None)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    }

    /// The answer that echoes the original sale in `data` (issue 16, item 3): the vendors' SDK
    /// mocks answer A0004 with the sale's record, 105.00 with a 5.00 service fee.
    pub(crate) const SALE_ECHO: &str = r#"{"code":"A0004","reason":"Refunded","explanation":"Transaction refunded","action":"No action required","data":{"paymentTransId":"10-3ffa27df-b171-44e0-b251-e95fbfc7a723","operation":"Sale","method":"card","totalAmount":105,"netAmount":100,"feeAmount":5,"transStatus":1,"settlementStatus":3,"refundId":0,"paymentData":{"paymentDetails":{"totalAmount":105,"serviceFee":5,"currency":"USD"}}},"token":null}"#;

    #[test]
    fn a_sale_echo_is_not_the_refund() {
        // Partial: the requested amount, never the sale's 105.00; no refund id (refundId 0, and
        // the paymentTransId is the sale's).
        let r = refund_outcome(&response(201, SALE_ECHO), &request(Some(usd("10.50")))).unwrap();
        assert_eq!(r.status, RefundStatus::Succeeded);
        assert_eq!(r.raw_status.as_deref(), Some("A0004"));
        assert_eq!(r.amount, Some(usd("10.50")));
        assert_eq!(r.refund_id, None);
        // Full: the amount is unknown, not the sale's total.
        let r = refund_outcome(&response(201, SALE_ECHO), &request(None)).unwrap();
        assert_eq!(r.amount, None);
        assert_eq!(r.refund_id, None);
        // A non-zero refundId is the refund's link id.
        let linked = SALE_ECHO.replace(r#""refundId":0"#, r#""refundId":1279666"#);
        let r = refund_outcome(&response(200, &linked), &request(None)).unwrap();
        assert_eq!(r.refund_id.as_ref().map(RefundId::as_str), Some("1279666"));
        assert_eq!(r.amount, None);
        // Either sign is enough: another operation (any case) or the sale's own id.
        let other_op = SALE_ECHO.replace(TRANS, "10-something-else");
        let r = refund_outcome(&response(201, &other_op), &request(None)).unwrap();
        assert_eq!((r.amount, r.refund_id), (None, None));
        let same_id = SALE_ECHO.replace(r#""operation":"Sale""#, r#""operation":"REFUND""#);
        let r = refund_outcome(&response(201, &same_id), &request(Some(usd("1.00")))).unwrap();
        assert_eq!(r.amount, Some(usd("1.00")));
        assert_eq!(r.refund_id, None);
        // A refund's own data still gives its amount and id (lower-case operation too).
        let refund_data = SUCCEEDED.replace(r#""operation":"Refund""#, r#""operation":"refund""#);
        let r = refund_outcome(&response(201, &refund_data), &request(None)).unwrap();
        assert_eq!(r.amount, Some(usd("10.50")));
        assert_eq!(
            r.refund_id.as_ref().map(RefundId::as_str),
            Some("3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b")
        );
    }

    #[test]
    fn decline_details() {
        let body = r#"{"code":"D0100","reason":"Declined","explanation":"The processor declined the refund","action":"Contact support or refund by another method","data":{"paymentTransId":"3040-c2","totalAmount":-10.50,"paymentData":{"paymentDetails":{"currency":"USD"}}}}"#;
        let r = refund_outcome(&response(402, body), &request(Some(usd("10.50")))).unwrap();
        assert_eq!(r.status, RefundStatus::Declined);
        let d = r.decline.unwrap();
        assert_eq!(d.code, DeclineCode::Other);
        assert_eq!(d.provider_code.as_deref(), Some("D0100"));
        assert_eq!(
            d.message.as_deref(),
            Some(
                "Declined: The processor declined the refund (action: Contact support or refund by another method)"
            )
        );
        let r = refund_outcome(&response(402, r#"{"code":"D0200"}"#), &request(None)).unwrap();
        assert_eq!(r.decline.unwrap().message, None);
        let r = refund_outcome(
            &response(402, r#"{"code":"D0200","action":"retry"}"#),
            &request(None),
        )
        .unwrap();
        assert_eq!(r.decline.unwrap().message.as_deref(), Some("action: retry"));
    }

    #[test]
    fn unreadable_success_is_unknown() {
        for (status, body) in [
            (201, ""),
            (201, "<html>ok</html>"),
            (201, r#"{"code":"A0004""#),
            (200, r#"{"code":4}"#),
            (200, r#"{"code":"A0004","data":{"totalAmount":"abc"}}"#),
            (200, "[]"),
            (200, "{}"),
            (402, ""),
            (402, "Payment Required"),
        ] {
            let err = refund_outcome(&response(status, body), &request(None)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{status} {body:?}");
            assert_eq!(err.http_status(), Some(status));
            assert!(err.may_have_reached_provider());
        }
    }

    fn query(amount: Option<Money>, snapshot: Option<&str>) -> RefundQuery {
        let q = RefundQuery::new(
            PaymentId::new(TRANS).unwrap(),
            RefundReference::new("rf-9c01").unwrap(),
        )
        .with_snapshot(snapshot.map(Snapshot::new));
        match amount {
            Some(m) => q.with_amount(RefundAmount::Partial(m)),
            None => q,
        }
    }

    fn record(trans: &str, refund_id: i64) -> String {
        format!(
            r#"{{"PaymentTransId":"{trans}","Operation":"Sale","TransStatus":1,"RefundId":{refund_id}}}"#
        )
    }

    #[test]
    fn lookup_table() {
        let partial = Some(usd("10.50"));
        let found = |l: Lookup, id: &str| match l {
            Lookup::Found(r) => {
                assert_eq!(r.status, RefundStatus::Succeeded);
                assert_eq!(r.refund_id.unwrap().as_str(), id);
                assert_eq!(r.reference.as_str(), "rf-9c01");
                assert_eq!(r.payment_id.as_str(), TRANS);
            }
            other => panic!("expected Found, got {other:?}"),
        };
        let inconclusive = |l: Lookup| assert!(matches!(l, Lookup::Inconclusive(_)), "{l:?}");

        found(
            lookup(
                &response(200, &record(TRANS, 1_279_666)),
                &query(None, None),
            )
            .unwrap(),
            "1279666",
        );
        assert_eq!(
            lookup(&response(200, &record(TRANS, 0)), &query(None, None)).unwrap(),
            Lookup::Absent
        );
        // camelCase works too (§3.4: names match in any case).
        let camel = format!(r#"{{"paymentTransId":"{TRANS}","refundId":0}}"#);
        assert_eq!(
            lookup(&response(200, &camel), &query(None, None)).unwrap(),
            Lookup::Absent
        );

        let snap = Some("refund_id=0");
        found(
            lookup(&response(200, &record(TRANS, 42)), &query(partial, snap)).unwrap(),
            "42",
        );
        assert_eq!(
            lookup(&response(200, &record(TRANS, 0)), &query(partial, snap)).unwrap(),
            Lookup::Absent
        );
        assert_eq!(
            lookup(
                &response(200, &record(TRANS, 42)),
                &query(partial, Some("refund_id=42"))
            )
            .unwrap(),
            Lookup::Absent
        );
        inconclusive(
            lookup(
                &response(200, &record(TRANS, 0)),
                &query(partial, Some("refund_id=42")),
            )
            .unwrap(),
        );
        inconclusive(lookup(&response(200, &record(TRANS, 42)), &query(partial, None)).unwrap());
        inconclusive(
            lookup(
                &response(200, &record(TRANS, 42)),
                &query(partial, Some("rid=1")),
            )
            .unwrap(),
        );
        inconclusive(
            lookup(
                &response(200, &record(TRANS, 42)),
                &query(partial, Some("refund_id=x")),
            )
            .unwrap(),
        );

        inconclusive(lookup(&response(200, &record("10-other", 0)), &query(None, None)).unwrap());
        inconclusive(lookup(&response(200, r#"{"RefundId":0}"#), &query(None, None)).unwrap());
        inconclusive(
            lookup(
                &response(200, &format!(r#"{{"PaymentTransId":"{TRANS}"}}"#)),
                &query(None, None),
            )
            .unwrap(),
        );
        inconclusive(lookup(&response(404, ""), &query(None, None)).unwrap());
        inconclusive(lookup(&response(404, r#"{"isSuccess":false}"#), &query(None, None)).unwrap());
        inconclusive(lookup(&response(204, ""), &query(None, None)).unwrap());

        for (status, kind) in [
            (401, ErrorKind::Auth),
            (403, ErrorKind::Auth),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::Provider),
            (503, ErrorKind::Provider),
            (400, ErrorKind::InvalidInput),
        ] {
            assert_eq!(
                lookup(&response(status, ""), &query(None, None))
                    .unwrap_err()
                    .kind(),
                kind
            );
        }
        for body in ["", "<html>", "[]", r#"{"RefundId":"x"}"#] {
            let err = lookup(&response(200, body), &query(None, None)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{body:?}");
        }
    }

    #[test]
    fn snapshots() {
        let id = PaymentId::new(TRANS).unwrap();
        assert_eq!(
            snapshot(&response(200, &record(TRANS, 0)), &id).unwrap(),
            Snapshot::new("refund_id=0")
        );
        assert_eq!(
            snapshot(&response(200, &record(TRANS, -3)), &id)
                .unwrap()
                .as_str(),
            "refund_id=-3"
        );
        assert_eq!(parse_snapshot(&Snapshot::new("refund_id=-3")), Some(-3));
        for (status, body, kind) in [
            (200, record("10-other", 0), ErrorKind::Provider),
            (
                200,
                format!(r#"{{"PaymentTransId":"{TRANS}"}}"#),
                ErrorKind::Provider,
            ),
            (200, "nope".to_owned(), ErrorKind::Decode),
            (404, String::new(), ErrorKind::NotFound),
            (401, String::new(), ErrorKind::Auth),
            (500, String::new(), ErrorKind::Provider),
        ] {
            assert_eq!(
                snapshot(&response(status, &body), &id).unwrap_err().kind(),
                kind,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn details_of_the_fixture() {
        let body = r#"{"PaymentTransId":"10-3ffa27df-b171-44e0-b251-e95fbfc7a723","Operation":"Sale","Method":"card","OrderId":"DUES-123","TotalAmount":105.00,"NetAmount":100.00,"FeeAmount":5.00,"TransStatus":1,"SettlementStatus":3,"RefundId":0,"ReturnedId":0,"PaymentData":{"MaskedAccount":"4XXXXXXXXXXX5439","AccountType":"visa","paymentDetails":{"totalAmount":105.00,"serviceFee":5.00,"currency":"USD"}}}"#;
        let d = details(&response(200, body)).unwrap();
        assert_eq!(d.trans_id.as_deref(), Some(TRANS));
        assert_eq!(d.operation.as_deref(), Some("Sale"));
        assert_eq!(d.trans_status, Some(1));
        assert_eq!(d.settlement_status, Some(3));
        assert_eq!(d.total_amount, Some(usd("105.00")));
        assert_eq!(d.service_fee, Some(usd("5.00")));
        assert_eq!(d.refundable_amount, Some(usd("100.00")));
        assert_eq!(d.refund_id, Some(0));
        assert_eq!(d.returned_id, Some(0));
        assert_eq!(d.order_id.as_deref(), Some("DUES-123"));
        assert_eq!(d.refundability, Refundability::Refundable);
        assert_eq!(d.refund_status(), Some(RefundStatus::Succeeded));

        let d = details(&response(
            200,
            r#"{"PaymentTransId":"t","TotalAmount":-10.50,"TransStatus":10,"SettlementStatus":0}"#,
        ))
        .unwrap();
        assert_eq!(d.total_amount, None);
        assert_eq!(d.refundability, Refundability::NotRefundable);
        assert_eq!(d.refund_status(), Some(RefundStatus::Pending));
        let d = details(&response(
            200,
            r#"{"TotalAmount":-10.50,"PaymentData":{"PaymentDetails":{"Currency":"USD"}}}"#,
        ))
        .unwrap();
        assert_eq!(d.total_amount, Some(usd("10.50")));
        assert_eq!(d.refundable_amount, None);
        assert_eq!(d.refundability, Refundability::Unknown);
        // A fee above the total leaves nothing to compute.
        let d = details(&response(200, r#"{"TotalAmount":1,"PaymentData":{"paymentDetails":{"serviceFee":2,"currency":"USD"}}}"#)).unwrap();
        assert_eq!(d.refundable_amount, None);

        assert_eq!(
            details(&response(404, "")).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            details(&response(200, "<html>")).unwrap_err().kind(),
            ErrorKind::Decode
        );
        let err = details(&response(
            200,
            r#"{"TotalAmount":1,"PaymentData":{"paymentDetails":{"currency":"??"}}}"#,
        ))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
    }
}
