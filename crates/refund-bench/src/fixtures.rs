//! The contract's response fixtures as decode cases: each case is an HTTP status, a body, and
//! the request (or query) it answers, so that the typed decode + mapping runs exactly as the
//! client runs it.

use refund_core::http::{HeaderMap, Response, StatusCode};
use refund_core::{
    Currency, Error, Money, PaymentId, ProviderId, RefundQuery, RefundReference, RefundRequest,
};

/// Plexy §1.7: refund response, 200 Succeeded.
pub const PLEXY_REFUND_SUCCEEDED: &str = r#"{"id":"3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2","responseCode":"00","networkTransactionReference":"927462819374","authCode":"A64192","amount":10.50,"orderReference":"rf-7f3c2b","remainingBalance":189.50,"success":true,"message":"approved","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#;
/// Plexy §1.7: refund response, 200 Declined.
pub const PLEXY_REFUND_DECLINED: &str = r#"{"id":"9a1d7c44-2b6e-4f0a-8d3c-5e7f9b1a2c3d","responseCode":"05","amount":10.50,"orderReference":"rf-7f3c2b","remainingBalance":200.00,"success":false,"message":"Authorization declined","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#;
/// Plexy §1.7: refund response, 200 Pending.
pub const PLEXY_REFUND_PENDING: &str = r#"{"id":"b7e2f1a0-6c5d-4e3b-9a8f-0d1c2b3a4e5f","responseCode":"09","amount":10.50,"orderReference":"rf-7f3c2b","success":false,"message":"wait","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#;
/// Plexy §1.7: P-L1 on the original (200).
pub const PLEXY_LOOKUP_PAYMENT: &str = r#"{"id":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae","type":"payment","status":"refunded","amount":200.00,"currency":"KZT","orderReference":"ORDER-784512","parentTransactionId":null,"remainingBalance":189.50,"responseCode":"00","message":"approved","createdAt":"2025-12-15T07:30:00Z","updatedAt":"2025-12-15T07:41:24Z"}"#;
/// Plexy §1.7: P-L2 for `rf-7f3c2b` (200).
pub const PLEXY_LOOKUP_REFUND: &str = r#"{"id":"3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2","type":"refund","status":"refunded","amount":10.50,"currency":"KZT","orderReference":"rf-7f3c2b","parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae","responseCode":"00","message":"approved","createdAt":"2025-12-15T07:41:24Z","updatedAt":"2025-12-15T07:41:24Z"}"#;
/// Plexy §1.7 error bodies (400, 401, 404, 500, 500 observed variant).
pub const PLEXY_ERRORS: [(u16, &str); 5] = [
    (
        400,
        r#"{"code":5,"message":"Unprocessable Entity","source":"refund","type":"validationError"}"#,
    ),
    (401, r#"{"message":"unauthorized","type":"apiError"}"#),
    (
        404,
        r#"{"code":4,"message":"Not Found","source":"transactions","type":"apiError"}"#,
    ),
    (
        500,
        r#"{"code":2,"message":"Something Went Wrong","source":"payments","type":"apiError"}"#,
    ),
    (
        500,
        r#"{"message":"failed to handle command: something went wrong, transaction can not be refunded: already refunded"}"#,
    ),
];

/// PayNext §2.7: refund response, 200 Pending (also an N-L1 response).
pub const PAYNEXT_REFUND_PENDING: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","payment_type":"CIT","refunded_amount":0,"refund":{"amount":15000,"amount_usd":15000,"status":"PENDING","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:00Z"},"status_reason":null,"metadata":{"order_id":"ord_123"},"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:15:00Z"}"#;
/// PayNext §2.7: refund response, 200 Succeeded (also the N-L1 response after completion).
pub const PAYNEXT_REFUND_SUCCEEDED: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":15000,"refund":{"amount":15000,"amount_usd":15000,"status":"SUCCEEDED","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:16:10Z"},"status_reason":null,"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:16:10Z"}"#;
/// PayNext §2.7: refund response, 200 Declined.
pub const PAYNEXT_REFUND_DECLINED: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":0,"refund":{"amount":15000,"status":"FAILED","processor_transaction_id":"","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:02Z"},"status_reason":null,"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:15:02Z"}"#;
/// PayNext's full "Refund a payment" example document (4 KiB, every field of the Payment
/// object), as stored in `crates/refund-paynext/tests/fixtures/`.
pub const PAYNEXT_EXAMPLE: &str =
    include_str!("../../refund-paynext/tests/fixtures/refund-a-payment-example.json");
/// PayNext §2.7 error bodies.
pub const PAYNEXT_ERRORS: [(u16, &str); 4] = [
    (
        400,
        r#"{"error":{"message":"Payment pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789 cannot be refunded in status AUTHORIZED"}}"#,
    ),
    (401, r#"{"error":{"message":"Invalid API key"}}"#),
    (404, r#"{"error":{"message":"Payment not found"}}"#),
    (500, r#"{"error":{"message":"Internal server error"}}"#),
];

/// Payabli §3.7: refund response, 201 Succeeded.
pub const PAYABLI_REFUND_SUCCEEDED: &str = r#"{"code":"A0004","reason":"Refunded","explanation":"Transaction refunded","action":"No action required","data":{"paymentTransId":"3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b","operation":"Refund","method":"card","gatewayTransId":"TRN_Xo4dpKfmx3OxSc9svd2ccI6OOnyB2I","orderId":"","totalAmount":-10.50,"netAmount":-10.50,"feeAmount":0,"transStatus":1,"settlementStatus":0,"refundId":1279666,"returnedId":0,"transactionTime":"2025-12-02T09:50:03.559","paymentData":{"maskedAccount":"4XXXXXXXXXXX5439","accountType":"visa","paymentDetails":{"totalAmount":105,"serviceFee":5,"currency":"USD"}},"responseData":{"resultCode":"A0004","resultCodeText":"Refunded","responsetext":"CAPTURED","authcode":"","transactionid":"TRN_Xo4dpKfmx3OxSc9svd2ccI6OOnyB2I","response_code":"100","response_code_text":"Operation successful"}},"token":null}"#;
/// Payabli §3.7: refund response, 402 Declined.
pub const PAYABLI_REFUND_DECLINED: &str = r#"{"code":"D0100","reason":"Declined","explanation":"The processor declined the refund","action":"Contact support or refund by another method","data":{"paymentTransId":"3040-c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f1","operation":"Refund","totalAmount":-10.50,"netAmount":-10.50,"feeAmount":0,"transStatus":2,"settlementStatus":0,"refundId":0,"responseData":{"resultCode":"D0100","resultCodeText":"Declined","responsetext":"DECLINED","response_code":"200","response_code_text":"Transaction was declined by processor."},"paymentData":{"paymentDetails":{"currency":"USD"}}},"token":null}"#;
/// Payabli §3.7: refund response, 400 validation.
pub const PAYABLI_BAD_REQUEST: &str = r#"{"type":"https://docs.payabli.com/developers/references/pay-in-unified-response-codes","title":"Bad Request","status":400,"detail":"Amount value is greater than available amount for action","instance":"/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723/500.00","code":"E3012","errors":{"amount":[{"message":"Amount exceeds the refundable amount","suggestion":"Use at most the original total minus service fees"}]},"token":null}"#;
/// Payabli §3.7: Y-L1 lookup, 200.
pub const PAYABLI_LOOKUP: &str = r#"{"PaymentTransId":"10-3ffa27df-b171-44e0-b251-e95fbfc7a723","Operation":"Sale","Method":"card","OrderId":"DUES-123","TotalAmount":105.00,"NetAmount":100.00,"FeeAmount":5.00,"TransStatus":1,"SettlementStatus":3,"RefundId":0,"ReturnedId":0,"TransactionTime":"2025-12-01T09:50:03.559","PaymentData":{"MaskedAccount":"4XXXXXXXXXXX5439","AccountType":"visa","paymentDetails":{"totalAmount":105.00,"serviceFee":5.00,"currency":"USD"}},"ResponseData":{"resultCode":"A0000","resultCodeText":"Approved","responsetext":"CAPTURED","response_code":"100","response_code_text":"Operation successful"},"TransactionEvents":[{"TransEvent":"Created","EventTime":"2025-12-01T09:50:02.558Z"},{"TransEvent":"Approved","EventTime":"2025-12-01T09:50:03.609Z"}]}"#;
/// Payabli §3.7 error bodies (400, 401, 409 as text, 500).
pub const PAYABLI_ERRORS: [(u16, &str); 4] = [
    (400, PAYABLI_BAD_REQUEST),
    (
        401,
        r#"{"isSuccess":false,"responseCode":401,"responseText":"Unauthorized","responseData":{"explanation":"The requestToken is missing, invalid, or expired","todoAction":"Send a valid API token in the requestToken header"}}"#,
    ),
    (409, "Duplicated idempotencyKey: rf-9c01"),
    (
        500,
        r#"{"title":"Internal Server Error","status":500,"detail":"An unexpected error occurred","instance":"/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723"}"#,
    ),
];

/// The Plexy fixture payment (§1.7).
pub const PLEXY_PAYMENT: &str = "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae";
/// The PayNext fixture payment (§2.7).
pub const PAYNEXT_PAYMENT: &str = "pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789";
/// The Payabli fixture transaction (§3.7).
pub const PAYABLI_TRANS: &str = "10-3ffa27df-b171-44e0-b251-e95fbfc7a723";

/// Which provider a case belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// Plexy.
    Plexy,
    /// PayNext.
    PayNext,
    /// Payabli.
    Payabli,
}

impl Vendor {
    /// The provider's name.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Plexy => "plexy",
            Vendor::PayNext => "paynext",
            Vendor::Payabli => "payabli",
        }
    }

    /// The provider id.
    pub fn id(self) -> ProviderId {
        match self {
            Vendor::Plexy => ProviderId::PLEXY,
            Vendor::PayNext => ProviderId::PAYNEXT,
            Vendor::Payabli => ProviderId::PAYABLI,
        }
    }
}

/// Which decoder a case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The answer to a refund POST (`RefundProvider::refund`).
    Refund,
    /// The reconciliation lookup (`RefundProvider::find_refund`).
    FindRefund,
    /// The vendor's native lookup (Plexy P-L1 `transaction`, PayNext N-L1 `get_payment`, Payabli
    /// Y-L1 `transaction_details`).
    Lookup,
}

/// One decode case: a fixture answer and what it answers.
#[derive(Clone, Debug)]
pub struct Case {
    /// `vendor/what`, used as the benchmark name.
    pub name: &'static str,
    /// The provider.
    pub vendor: Vendor,
    /// The decoder.
    pub op: Op,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The answer's body.
    pub body: &'static str,
    /// The request it answers (for `Op::Refund`; its query for `Op::FindRefund`).
    pub request: RefundRequest,
}

impl Case {
    /// The answer as the HTTP layer hands it to the decoder.
    pub fn response(&self) -> Response {
        response(self.vendor, self.status, self.body.as_bytes().to_vec())
    }

    /// Runs the typed decode + mapping once; `Ok` with a one-word summary of what it decoded.
    ///
    /// # Errors
    /// What the vendor crate's decoder returns.
    pub fn decode(&self, response: &Response) -> Result<&'static str, Error> {
        decode(self.vendor, self.op, response, &self.request)
    }
}

/// A response of `vendor` with `status` and `body`, as the HTTP layer builds it (no headers
/// besides `Content-Type: application/json`).
pub fn response(vendor: Vendor, status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    headers.insert(
        refund_core::http::header::CONTENT_TYPE,
        refund_core::http::HeaderValue::from_static("application/json"),
    );
    Response::new(vendor.id(), status, headers, body)
}

/// Runs the typed decode + mapping of `op` for `vendor` on `response`, answering `request`.
///
/// # Errors
/// What the vendor crate's decoder returns.
pub fn decode(
    vendor: Vendor,
    op: Op,
    response: &Response,
    request: &RefundRequest,
) -> Result<&'static str, Error> {
    use refund_core::Lookup;
    let lookup_word = |l: Lookup| match l {
        Lookup::Found(_) => "found",
        Lookup::Absent => "absent",
        _ => "inconclusive",
    };
    Ok(match (vendor, op) {
        (Vendor::Plexy, Op::Refund) => refund_plexy::__bench::refund(response, request)?
            .status
            .as_str(),
        (Vendor::Plexy, Op::FindRefund) => lookup_word(refund_plexy::__bench::find_refund(
            response,
            &RefundQuery::for_request(request),
        )?),
        (Vendor::Plexy, Op::Lookup) => {
            refund_plexy::__bench::transaction(response)?;
            "transaction"
        }
        (Vendor::PayNext, Op::Refund) => refund_paynext::__bench::refund(response, request)?
            .status
            .as_str(),
        (Vendor::PayNext, Op::FindRefund) => lookup_word(refund_paynext::__bench::find_refund(
            response,
            &RefundQuery::for_request(request),
        )?),
        (Vendor::PayNext, Op::Lookup) => {
            refund_paynext::__bench::get_payment(response, request.payment_id())?;
            "payment"
        }
        (Vendor::Payabli, Op::Refund) => refund_payabli::__bench::refund(response, request)?
            .status
            .as_str(),
        (Vendor::Payabli, Op::FindRefund) => lookup_word(refund_payabli::__bench::find_refund(
            response,
            &RefundQuery::for_request(request),
        )?),
        (Vendor::Payabli, Op::Lookup) => {
            refund_payabli::__bench::transaction_details(response)?;
            "details"
        }
    })
}

/// A request for `payment` with `reference`, partial when `amount` is given.
///
/// # Errors
/// `InvalidInput` when an argument is not valid.
pub fn request(
    payment: &str,
    reference: &str,
    amount: Option<(&str, Currency)>,
) -> Result<RefundRequest, Error> {
    let builder =
        RefundRequest::builder(PaymentId::new(payment)?, RefundReference::new(reference)?);
    let builder = match amount {
        Some((text, currency)) => builder.partial(Money::parse(text, currency)?),
        None => builder,
    };
    builder.build()
}

/// Every decode case of the benchmark: the contract's 2xx fixtures and PayNext's full example.
///
/// # Errors
/// Never in practice (the fixture ids and amounts are valid); `InvalidInput` otherwise.
pub fn cases() -> Result<Vec<Case>, Error> {
    let plexy_partial = request(PLEXY_PAYMENT, "rf-7f3c2b", Some(("10.50", Currency::KZT)))?;
    let paynext_full = request(PAYNEXT_PAYMENT, "rf-9c01", None)?;
    let payabli_full = request(PAYABLI_TRANS, "rf-9c01", None)?;
    let case = |name, vendor, op, status, body, request: &RefundRequest| Case {
        name,
        vendor,
        op,
        status,
        body,
        request: request.clone(),
    };
    use {Op::*, Vendor::*};
    Ok(vec![
        case(
            "plexy/refund_succeeded",
            Plexy,
            Refund,
            200,
            PLEXY_REFUND_SUCCEEDED,
            &plexy_partial,
        ),
        case(
            "plexy/refund_declined",
            Plexy,
            Refund,
            200,
            PLEXY_REFUND_DECLINED,
            &plexy_partial,
        ),
        case(
            "plexy/refund_pending",
            Plexy,
            Refund,
            200,
            PLEXY_REFUND_PENDING,
            &plexy_partial,
        ),
        case(
            "plexy/lookup_payment_p_l1",
            Plexy,
            Lookup,
            200,
            PLEXY_LOOKUP_PAYMENT,
            &plexy_partial,
        ),
        case(
            "plexy/find_refund_p_l2",
            Plexy,
            FindRefund,
            200,
            PLEXY_LOOKUP_REFUND,
            &plexy_partial,
        ),
        case(
            "paynext/refund_pending",
            PayNext,
            Refund,
            200,
            PAYNEXT_REFUND_PENDING,
            &paynext_full,
        ),
        case(
            "paynext/refund_succeeded",
            PayNext,
            Refund,
            200,
            PAYNEXT_REFUND_SUCCEEDED,
            &paynext_full,
        ),
        case(
            "paynext/refund_declined",
            PayNext,
            Refund,
            200,
            PAYNEXT_REFUND_DECLINED,
            &paynext_full,
        ),
        case(
            "paynext/find_refund_n_l1",
            PayNext,
            FindRefund,
            200,
            PAYNEXT_REFUND_SUCCEEDED,
            &paynext_full,
        ),
        case(
            "paynext/refund_full_example",
            PayNext,
            Refund,
            200,
            PAYNEXT_EXAMPLE,
            &paynext_full,
        ),
        case(
            "paynext/get_payment_full_example",
            PayNext,
            Lookup,
            200,
            PAYNEXT_EXAMPLE,
            &paynext_full,
        ),
        case(
            "payabli/refund_succeeded",
            Payabli,
            Refund,
            201,
            PAYABLI_REFUND_SUCCEEDED,
            &payabli_full,
        ),
        case(
            "payabli/refund_declined",
            Payabli,
            Refund,
            402,
            PAYABLI_REFUND_DECLINED,
            &payabli_full,
        ),
        case(
            "payabli/find_refund_y_l1",
            Payabli,
            FindRefund,
            200,
            PAYABLI_LOOKUP,
            &payabli_full,
        ),
        case(
            "payabli/details_y_l1",
            Payabli,
            Lookup,
            200,
            PAYABLI_LOOKUP,
            &payabli_full,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case decodes to what the contract says it is, so the benchmark times real work.
    #[test]
    fn every_case_decodes_to_its_fixture_outcome() {
        let expected = [
            "succeeded",
            "declined",
            "pending",
            "transaction",
            "found",
            "pending",
            "succeeded",
            "declined",
            "found",
            "pending",
            "payment",
            "succeeded",
            "declined",
            "absent",
            "details",
        ];
        let cases = cases().unwrap();
        assert_eq!(cases.len(), expected.len());
        for (case, want) in cases.iter().zip(expected) {
            let got = case.decode(&case.response());
            assert_eq!(got.as_ref().ok(), Some(&want), "{}: {got:?}", case.name);
        }
    }
}
