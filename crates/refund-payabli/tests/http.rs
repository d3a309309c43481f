//! The Payabli client against httpmock on 127.0.0.1: every fixture of contract §3.7 and every
//! status of the §3.4 error table, asserting what goes on the wire (method, path with the amount
//! text, `requestToken`, `idempotencyKey`, body or no body and `Content-Type`) and what comes
//! back (outcome, or error kind, reach, HTTP status and provider code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use httpmock::prelude::*;
use httpmock::{Mock, Then, When};
use refund_payabli::refund_core::{
    Currency, DeclineCode, Error, ErrorKind, Lookup, Money, PaymentId, ProviderId, Refund,
    RefundAmount, RefundProvider, RefundQuery, RefundReference, RefundRequest, RefundStatus,
    Snapshot,
};
use refund_payabli::{
    Client, LineItem, PayabliRefund, Refundability, SplitRefund, TransactionDetails,
};

const TOKEN: &str = "payabli_TOPSECRET_token_4242";
const TRANS: &str = "10-3ffa27df-b171-44e0-b251-e95fbfc7a723";
const REFERENCE: &str = "rf-9c01";
const FULL_PATH: &str = "/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723";
const DETAILS_PATH: &str = "/api/MoneyIn/details/10-3ffa27df-b171-44e0-b251-e95fbfc7a723";

// The fixtures of §3.7, byte for byte.
const SUCCEEDED_201: &str = r#"{"code":"A0004","reason":"Refunded","explanation":"Transaction refunded","action":"No action required","data":{"paymentTransId":"3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b","operation":"Refund","method":"card","gatewayTransId":"TRN_Xo4dpKfmx3OxSc9svd2ccI6OOnyB2I","orderId":"","totalAmount":-10.50,"netAmount":-10.50,"feeAmount":0,"transStatus":1,"settlementStatus":0,"refundId":1279666,"returnedId":0,"transactionTime":"2025-12-02T09:50:03.559","paymentData":{"maskedAccount":"4XXXXXXXXXXX5439","accountType":"visa","paymentDetails":{"totalAmount":105,"serviceFee":5,"currency":"USD"}},"responseData":{"resultCode":"A0004","resultCodeText":"Refunded","responsetext":"CAPTURED","authcode":"","transactionid":"TRN_Xo4dpKfmx3OxSc9svd2ccI6OOnyB2I","response_code":"100","response_code_text":"Operation successful"}},"token":null}"#;
const DECLINED_402: &str = r#"{"code":"D0100","reason":"Declined","explanation":"The processor declined the refund","action":"Contact support or refund by another method","data":{"paymentTransId":"3040-c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f1","operation":"Refund","totalAmount":-10.50,"netAmount":-10.50,"feeAmount":0,"transStatus":2,"settlementStatus":0,"refundId":0,"responseData":{"resultCode":"D0100","resultCodeText":"Declined","responsetext":"DECLINED","response_code":"200","response_code_text":"Transaction was declined by processor."},"paymentData":{"paymentDetails":{"currency":"USD"}}},"token":null}"#;
const BAD_REQUEST_400: &str = r#"{"type":"https://docs.payabli.com/developers/references/pay-in-unified-response-codes","title":"Bad Request","status":400,"detail":"Amount value is greater than available amount for action","instance":"/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723/500.00","code":"E3012","errors":{"amount":[{"message":"Amount exceeds the refundable amount","suggestion":"Use at most the original total minus service fees"}]},"token":null}"#;
const UNAUTHORIZED_401: &str = r#"{"isSuccess":false,"responseCode":401,"responseText":"Unauthorized","responseData":{"explanation":"The requestToken is missing, invalid, or expired","todoAction":"Send a valid API token in the requestToken header"}}"#;
const DUPLICATE_409: &str = "Duplicated idempotencyKey: rf-9c01";
const INTERNAL_500: &str = r#"{"title":"Internal Server Error","status":500,"detail":"An unexpected error occurred","instance":"/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723"}"#;
const UNAVAILABLE_503: &str = r#"{"isSuccess":false,"responseCode":503,"responseText":"Service Unavailable","responseData":{"explanation":"The service is temporarily unavailable","todoAction":"Try again later"}}"#;
const DETAILS_200: &str = r#"{"PaymentTransId":"10-3ffa27df-b171-44e0-b251-e95fbfc7a723","Operation":"Sale","Method":"card","OrderId":"DUES-123","TotalAmount":105.00,"NetAmount":100.00,"FeeAmount":5.00,"TransStatus":1,"SettlementStatus":3,"RefundId":0,"ReturnedId":0,"TransactionTime":"2025-12-01T09:50:03.559","PaymentData":{"MaskedAccount":"4XXXXXXXXXXX5439","AccountType":"visa","paymentDetails":{"totalAmount":105.00,"serviceFee":5.00,"currency":"USD"}},"ResponseData":{"resultCode":"A0000","resultCodeText":"Approved","responsetext":"CAPTURED","response_code":"100","response_code_text":"Operation successful"},"TransactionEvents":[{"TransEvent":"Created","EventTime":"2025-12-01T09:50:02.558Z"},{"TransEvent":"Approved","EventTime":"2025-12-01T09:50:03.609Z"}]}"#;

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// Helpers

fn client(server: &MockServer) -> Client {
    client_with_timeout(server, Duration::from_secs(10))
}

fn client_with_timeout(server: &MockServer, timeout: Duration) -> Client {
    Client::builder(TOKEN)
        .base_url(format!("http://127.0.0.1:{}/api", server.port()))
        .timeout(timeout)
        .build()
        .unwrap()
}

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

fn full() -> RefundRequest {
    RefundRequest::builder(
        PaymentId::new(TRANS).unwrap(),
        RefundReference::new(REFERENCE).unwrap(),
    )
    .build()
    .unwrap()
}

fn partial(amount: Money) -> RefundRequest {
    RefundRequest::builder(
        PaymentId::new(TRANS).unwrap(),
        RefundReference::new(REFERENCE).unwrap(),
    )
    .partial(amount)
    .build()
    .unwrap()
}

/// A request as the mock server saw it, with the token redacted (after checking it) and the
/// varying headers (`host`, the User-Agent version) normalized, for snapshots.
#[derive(Debug, Clone, serde::Serialize)]
struct Seen {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

fn seen(req: &HttpMockRequest) -> Seen {
    let mut headers = BTreeMap::new();
    for (name, value) in req.headers_vec() {
        let name = name.to_ascii_lowercase();
        let value = match name.as_str() {
            "host" => continue,
            "requesttoken" => {
                assert_eq!(value, TOKEN, "the token goes out unchanged");
                "[redacted]".to_owned()
            }
            "user-agent" => {
                assert_eq!(
                    value,
                    concat!("refund-payabli/", env!("CARGO_PKG_VERSION")),
                    "User-Agent"
                );
                "refund-payabli/[version]".to_owned()
            }
            _ => value.clone(),
        };
        assert!(
            headers.insert(name.clone(), value).is_none(),
            "header {name} sent twice"
        );
    }
    let body = req.body_string();
    Seen {
        method: req.method_str().to_owned(),
        path: req.uri().path().to_owned(),
        headers,
        body: (!body.is_empty()).then_some(body),
    }
}

/// What a mock answers.
#[derive(Clone)]
struct Answer {
    status: u16,
    content_type: Option<&'static str>,
    extra_headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

fn answer(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Answer {
    Answer {
        status,
        content_type: Some(content_type),
        extra_headers: Vec::new(),
        body: body.into(),
    }
}

/// A mock that records every request it answers.
struct Recorded<'a> {
    mock: Mock<'a>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorded<'_> {
    /// Asserts that the mock answered exactly `n` requests and returns them.
    async fn requests(&self, n: usize) -> Vec<Seen> {
        self.mock.assert_calls_async(n).await;
        let seen = self.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), n);
        seen
    }

    /// Asserts exactly one request and returns it.
    async fn one(&self) -> Seen {
        self.requests(1).await.remove(0)
    }
}

fn respond(then: Then, reply: Answer, log: Arc<Mutex<Vec<Seen>>>) -> Then {
    then.respond_with(move |req: &HttpMockRequest| {
        log.lock().unwrap().push(seen(req));
        let mut builder = HttpMockResponse::builder().status(reply.status);
        if let Some(ct) = reply.content_type {
            builder = builder.header("content-type", ct);
        }
        for (name, value) in &reply.extra_headers {
            builder = builder.header(*name, *value);
        }
        builder.body(reply.body.clone()).build()
    })
}

/// The request side every refund POST must satisfy: method, exact path, `requestToken`,
/// `idempotencyKey`, `Accept`, and a body with `Content-Type: application/json` or no body, no
/// `Content-Type` and `Content-Length: 0`. Anything else falls through to httpmock's 404 and
/// fails the test's `requests(n)`.
fn refund_when(when: When, path: &str, body: Option<&str>) -> When {
    let when = when
        .method(POST)
        .path(path)
        .header("requestToken", TOKEN)
        .header("idempotencyKey", REFERENCE)
        .header("accept", JSON)
        .header_missing("authorization");
    match body {
        Some(b) => when.header("content-type", JSON).body(b),
        None => when
            .header_missing("content-type")
            .header("content-length", "0")
            .body(""),
    }
}

async fn mock_refund<'a>(
    server: &'a MockServer,
    path: &str,
    body: Option<&str>,
    reply: Answer,
) -> Recorded<'a> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let path = path.to_owned();
    let body = body.map(str::to_owned);
    let mock = server
        .mock_async(move |when, then| {
            refund_when(when, &path, body.as_deref());
            respond(then, reply, l);
        })
        .await;
    Recorded { mock, seen: log }
}

async fn mock_details<'a>(server: &'a MockServer, path: &str, reply: Answer) -> Recorded<'a> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let path = path.to_owned();
    let mock = server
        .mock_async(move |when, then| {
            when.method(GET)
                .path(&path)
                .header("requestToken", TOKEN)
                .header("accept", JSON)
                .header_missing("idempotencyKey")
                .header_missing("content-type")
                .header_missing("content-length")
                .is_true(|req: &HttpMockRequest| req.body_ref().is_empty());
            respond(then, reply, l);
        })
        .await;
    Recorded { mock, seen: log }
}

/// An error as snapshots show it.
#[derive(serde::Serialize)]
struct ErrorView {
    kind: &'static str,
    may_have_reached_provider: bool,
    http_status: Option<u16>,
    provider_code: Option<String>,
    retry_after_secs: Option<u64>,
    payment_id: Option<String>,
    reference: Option<String>,
    display: String,
}

fn view(e: &Error) -> ErrorView {
    let display = e.to_string();
    assert!(!display.contains(TOKEN), "{display}");
    assert!(!format!("{e:?}").contains(TOKEN));
    ErrorView {
        kind: e.kind().as_str(),
        may_have_reached_provider: e.may_have_reached_provider(),
        http_status: e.http_status(),
        provider_code: e.provider_code().map(str::to_owned),
        retry_after_secs: e.retry_after().map(|d| d.as_secs()),
        payment_id: e.payment_id().map(|p| p.as_str().to_owned()),
        reference: e.reference().map(|r| r.as_str().to_owned()),
        display,
    }
}

fn check_refund_basics(refund: &Refund) {
    assert_eq!(refund.provider, ProviderId::PAYABLI);
    assert_eq!(refund.payment_id.as_str(), TRANS);
    assert_eq!(refund.reference.as_str(), REFERENCE);
}

// ---------------------------------------------------------------------------------------------
// Y-R1 / Y-R2 fixtures (§3.7)

#[tokio::test]
async fn full_refund_fixture_succeeds() {
    let server = MockServer::start_async().await;
    let m = mock_refund(&server, FULL_PATH, None, answer(201, JSON, SUCCEEDED_201)).await;
    let refund = client(&server).refund(&full()).await.unwrap();
    let req = m.one().await;
    insta::assert_json_snapshot!("request_full_refund", req);
    check_refund_basics(&refund);
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, Some(usd("10.50")));
    assert_eq!(
        refund.refund_id.as_ref().unwrap().as_str(),
        "3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b"
    );
    assert_eq!(refund.raw_status.as_deref(), Some("A0004"));
    assert_eq!(refund.decline, None);
    insta::assert_json_snapshot!("outcome_full_refund_201", refund);
}

#[tokio::test]
async fn partial_refund_puts_the_decimal_text_in_the_path() {
    let server = MockServer::start_async().await;
    let path = format!("{FULL_PATH}/10.50");
    // 200 succeeds like 201 (§5.9: the SDK mocks use 200).
    let m = mock_refund(&server, &path, None, answer(200, JSON, SUCCEEDED_201)).await;
    let refund = client(&server)
        .refund(&partial(usd("10.50")))
        .await
        .unwrap();
    let req = m.one().await;
    assert_eq!(req.path, path);
    insta::assert_json_snapshot!("request_partial_refund", req);
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, Some(usd("10.50")));
}

#[tokio::test]
async fn partial_amounts_keep_the_currency_digits() {
    let server = MockServer::start_async().await;
    for (amount, text, total) in [
        (usd("0.05"), "0.05", "-0.05"),
        (usd("100"), "100.00", "-100"),
        (
            Money::parse("1000", Currency::JPY).unwrap(),
            "1000",
            "-1000",
        ),
        (
            Money::parse("12.345", Currency::KWD).unwrap(),
            "12.345",
            "-12.345",
        ),
    ] {
        let body = format!(
            r#"{{"code":"A0004","data":{{"paymentTransId":"r-1","totalAmount":{total},"paymentData":{{"paymentDetails":{{"currency":"{}"}}}}}}}}"#,
            amount.currency()
        );
        let path = format!("{FULL_PATH}/{text}");
        let m = mock_refund(&server, &path, None, answer(201, JSON, body)).await;
        let refund = client(&server).refund(&partial(amount)).await.unwrap();
        assert_eq!(m.one().await.path, path);
        assert_eq!(refund.amount, Some(amount), "{text}");
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn a_trans_id_is_one_encoded_path_segment() {
    let server = MockServer::start_async().await;
    let m = mock_refund(
        &server,
        "/api/v2/MoneyIn/refund/10-with%2Fslash%20id",
        None,
        answer(201, JSON, r#"{"code":"A0004"}"#),
    )
    .await;
    let request = RefundRequest::builder(
        PaymentId::new("10-with/slash id").unwrap(),
        RefundReference::new(REFERENCE).unwrap(),
    )
    .build()
    .unwrap();
    let refund = client(&server).refund(&request).await.unwrap();
    m.one().await;
    assert_eq!(refund.status, RefundStatus::Succeeded);
}

#[tokio::test]
async fn nothing_is_sent_for_an_impossible_path() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(500);
        })
        .await;
    for bad in [".", ".."] {
        let request = RefundRequest::builder(
            PaymentId::new(bad).unwrap(),
            RefundReference::new(REFERENCE).unwrap(),
        )
        .build()
        .unwrap();
        let err = client(&server).refund(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.may_have_reached_provider());
        let err = client(&server)
            .transaction_details(&PaymentId::new(bad).unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn body_fixture_with_order_id_and_source() {
    let server = MockServer::start_async().await;
    let body = r#"{"orderId":"rf-9c02","source":"api"}"#;
    let m = mock_refund(
        &server,
        FULL_PATH,
        Some(body),
        answer(201, JSON, SUCCEEDED_201),
    )
    .await;
    let refund = PayabliRefund::builder(full())
        .order_id("rf-9c02")
        .source("api")
        .build()
        .unwrap();
    let outcome = client(&server).refund_with(&refund).await.unwrap();
    let req = m.one().await;
    assert_eq!(req.body.as_deref(), Some(body));
    assert_eq!(req.headers["content-type"], JSON);
    insta::assert_json_snapshot!("request_with_body", req);
    assert_eq!(outcome.status, RefundStatus::Succeeded);
}

#[tokio::test]
async fn split_refund_with_two_lines_and_a_category() {
    let server = MockServer::start_async().await;
    let expected = r#"{"orderId":"INV-2025-001","orderDescription":"Split refund of dues","source":"api","ipaddress":"192.0.2.7","refundDetails":{"categories":[{"label":"Dues","description":"Monthly dues","amount":10.50,"qty":1}],"splitRefunding":[{"originationEntryPoint":"7f1a381696","accountId":"187-342","description":"Main account","amount":7.00},{"originationEntryPoint":"7f1a381696","accountId":"187-343","amount":3.50}]}}"#;
    let path = format!("{FULL_PATH}/10.50");
    let m = mock_refund(
        &server,
        &path,
        Some(expected),
        answer(201, JSON, SUCCEEDED_201),
    )
    .await;
    let refund = PayabliRefund::builder(partial(usd("10.50")))
        .order_id("INV-2025-001")
        .order_description("Split refund of dues")
        .source("api")
        .ip_address("192.0.2.7")
        .split(SplitRefund::new("7f1a381696", "187-342", usd("7")).with_description("Main account"))
        .split(SplitRefund::new("7f1a381696", "187-343", usd("3.5")))
        .line_item(LineItem::new("Dues", usd("10.50"), 1).with_description("Monthly dues"))
        .build()
        .unwrap();
    let outcome = client(&server).refund_with(&refund).await.unwrap();
    let req = m.one().await;
    let body = req.body.clone().unwrap();
    // Exact JSON number literals with the currency's digits, never floats, never the amount.
    assert!(body.contains(r#""amount":7.00"#) && body.contains(r#""amount":3.50"#));
    let top: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert!(
        !top.contains_key("amount"),
        "the amount travels only in the path"
    );
    insta::assert_snapshot!("split_refund_body", body);
    insta::assert_json_snapshot!("request_split_refund", req);
    assert_eq!(outcome.status, RefundStatus::Succeeded);
}

#[tokio::test]
async fn declined_fixture_402() {
    let server = MockServer::start_async().await;
    let path = format!("{FULL_PATH}/10.50");
    let m = mock_refund(&server, &path, None, answer(402, JSON, DECLINED_402)).await;
    let refund = client(&server)
        .refund(&partial(usd("10.50")))
        .await
        .unwrap();
    m.one().await;
    check_refund_basics(&refund);
    assert_eq!(refund.status, RefundStatus::Declined);
    let decline = refund.decline.clone().unwrap();
    assert_eq!(decline.code, DeclineCode::Other);
    assert_eq!(decline.provider_code.as_deref(), Some("D0100"));
    let message = decline.message.unwrap();
    for part in [
        "Declined",
        "The processor declined the refund",
        "Contact support or refund by another method",
    ] {
        assert!(message.contains(part), "{message}");
    }
    assert_eq!(refund.amount, Some(usd("10.50")));
    insta::assert_json_snapshot!("outcome_declined_402", refund);
}

#[tokio::test]
async fn pending_codes() {
    let server = MockServer::start_async().await;
    for code in ["A0001", "A0050"] {
        let body = format!(
            r#"{{"code":"{code}","reason":"Pending","data":{{"paymentTransId":"3040-p","totalAmount":-10.50,"paymentData":{{"paymentDetails":{{"currency":"USD"}}}}}}}}"#
        );
        let m = mock_refund(&server, FULL_PATH, None, answer(201, JSON, body)).await;
        let refund = client(&server).refund(&full()).await.unwrap();
        m.one().await;
        assert_eq!(refund.status, RefundStatus::Pending, "{code}");
        assert_eq!(refund.raw_status.as_deref(), Some(code));
        assert_eq!(refund.amount, Some(usd("10.50")));
        insta::assert_json_snapshot!(format!("outcome_pending_{code}"), refund);
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn unknown_codes_map_by_their_first_letter() {
    let server = MockServer::start_async().await;
    // A0099 with 201 → Succeeded; D9999 with 402 → Declined; E1234 with 400 → InvalidInput.
    let m = mock_refund(
        &server,
        FULL_PATH,
        None,
        answer(201, JSON, r#"{"code":"A0099","reason":"Something new"}"#),
    )
    .await;
    let refund = client(&server).refund(&full()).await.unwrap();
    m.one().await;
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.raw_status.as_deref(), Some("A0099"));
    m.mock.delete_async().await;

    let m = mock_refund(
        &server,
        FULL_PATH,
        None,
        answer(
            402,
            JSON,
            r#"{"code":"D9999","reason":"Declined","explanation":"A new decline"}"#,
        ),
    )
    .await;
    let refund = client(&server).refund(&full()).await.unwrap();
    m.one().await;
    assert_eq!(refund.status, RefundStatus::Declined);
    let decline = refund.decline.unwrap();
    assert_eq!(decline.code, DeclineCode::Other);
    assert_eq!(decline.provider_code.as_deref(), Some("D9999"));
    m.mock.delete_async().await;

    let m = mock_refund(
        &server,
        FULL_PATH,
        None,
        answer(
            400,
            JSON,
            r#"{"title":"Bad Request","status":400,"detail":"A new validation error","code":"E1234"}"#,
        ),
    )
    .await;
    let err = client(&server).refund(&full()).await.unwrap_err();
    m.one().await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.provider_code(), Some("E1234"));
    assert_eq!(err.http_status(), Some(400));
}

// ---------------------------------------------------------------------------------------------
// The error table of §3.4, on the refund POST

#[tokio::test]
async fn every_status_of_the_error_table() {
    let server = MockServer::start_async().await;
    let cases: Vec<(&str, Answer, ErrorKind, Option<&str>)> = vec![
        (
            "400_validation",
            answer(400, JSON, BAD_REQUEST_400),
            ErrorKind::InvalidInput,
            Some("E3012"),
        ),
        (
            "401_unauthorized",
            answer(401, JSON, UNAUTHORIZED_401),
            ErrorKind::Auth,
            Some("401"),
        ),
        (
            "403_forbidden",
            answer(403, TEXT, "Forbidden"),
            ErrorKind::Auth,
            None,
        ),
        (
            "404_not_found",
            answer(
                404,
                JSON,
                r#"{"isSuccess":false,"responseText":"Transaction not found"}"#,
            ),
            ErrorKind::NotFound,
            None,
        ),
        (
            "409_duplicated_key",
            answer(409, TEXT, DUPLICATE_409),
            ErrorKind::OutcomeUnknown,
            None,
        ),
        (
            "429_rate_limited",
            Answer {
                extra_headers: vec![("retry-after", "30")],
                ..answer(429, TEXT, "Too Many Requests")
            },
            ErrorKind::RateLimited,
            None,
        ),
        (
            "500_internal",
            answer(500, JSON, INTERNAL_500),
            ErrorKind::OutcomeUnknown,
            None,
        ),
        (
            "502_html",
            answer(502, "text/html", "<html><body>Bad Gateway</body></html>"),
            ErrorKind::OutcomeUnknown,
            None,
        ),
        (
            "503_unavailable",
            answer(503, JSON, UNAVAILABLE_503),
            ErrorKind::OutcomeUnknown,
            Some("503"),
        ),
        (
            "504_empty",
            Answer {
                content_type: None,
                ..answer(504, JSON, "")
            },
            ErrorKind::OutcomeUnknown,
            None,
        ),
    ];
    for (name, reply, kind, code) in cases {
        let status = reply.status;
        let m = mock_refund(&server, FULL_PATH, None, reply).await;
        let err = client(&server).refund(&full()).await.unwrap_err();
        m.one().await;
        assert_eq!(err.kind(), kind, "{name}");
        assert_eq!(err.http_status(), Some(status), "{name}");
        assert_eq!(err.provider_code(), code, "{name}");
        assert!(err.may_have_reached_provider(), "{name}");
        assert_eq!(err.provider(), Some(&ProviderId::PAYABLI));
        assert_eq!(err.payment_id().map(PaymentId::as_str), Some(TRANS));
        assert_eq!(
            err.reference().map(RefundReference::as_str),
            Some(REFERENCE)
        );
        if kind == ErrorKind::RateLimited {
            assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
            assert!(err.is_retryable());
        } else {
            assert!(!err.is_retryable(), "{name}");
        }
        insta::assert_json_snapshot!(format!("error_{name}"), view(&err));
        m.mock.delete_async().await;
    }
}

/// A0004 whose `data` echoes the original sale (issue 16, item 3; the vendors' SDK mocks): the
/// refund is what was asked for, never the sale's 105.00 total, and the sale's transId is not
/// the refund's id.
const SALE_ECHO_201: &str = r#"{"code":"A0004","reason":"Refunded","explanation":"Transaction refunded","action":"No action required","data":{"paymentTransId":"10-3ffa27df-b171-44e0-b251-e95fbfc7a723","operation":"Sale","method":"card","orderId":"DUES-123","totalAmount":105,"netAmount":100,"feeAmount":5,"transStatus":1,"settlementStatus":3,"refundId":0,"returnedId":0,"paymentData":{"maskedAccount":"4XXXXXXXXXXX5439","accountType":"visa","paymentDetails":{"totalAmount":105,"serviceFee":5,"currency":"USD"}},"responseData":{"resultCode":"A0004","resultCodeText":"Refunded","responsetext":"CAPTURED","response_code":"100","response_code_text":"Operation successful"}},"token":null}"#;

#[tokio::test]
async fn an_answer_that_echoes_the_sale_reports_the_requested_refund() {
    let server = MockServer::start_async().await;
    let path = format!("{FULL_PATH}/10.50");
    let m = mock_refund(&server, &path, None, answer(201, JSON, SALE_ECHO_201)).await;
    let refund = client(&server)
        .refund(&partial(usd("10.50")))
        .await
        .unwrap();
    m.one().await;
    check_refund_basics(&refund);
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, Some(usd("10.50")), "not the sale's 105.00");
    assert_eq!(
        refund.refund_id, None,
        "the sale's transId is not the refund's id"
    );
    m.mock.delete_async().await;

    let m = mock_refund(&server, FULL_PATH, None, answer(200, JSON, SALE_ECHO_201)).await;
    let refund = client(&server).refund(&full()).await.unwrap();
    m.one().await;
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(
        refund.amount, None,
        "a full refund's amount is unknown here"
    );
    assert_eq!(refund.refund_id, None);
}

#[tokio::test]
async fn a_400_without_an_e_code_is_a_rejection() {
    let server = MockServer::start_async().await;
    for (content_type, body) in [
        (TEXT, ""),
        ("text/html", "<html><body>Bad Request</body></html>"),
        (
            JSON,
            r#"{"title":"Bad Request","status":400,"detail":"Invalid transId"}"#,
        ),
    ] {
        let m = mock_refund(&server, FULL_PATH, None, answer(400, content_type, body)).await;
        let err = client(&server).refund(&full()).await.unwrap_err();
        m.one().await;
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{body}");
        assert!(!err.is_outcome_unknown(), "{body}");
        assert_eq!(err.http_status(), Some(400));
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn a_re_send_carries_the_same_idempotency_key_and_409_is_unknown() {
    let server = MockServer::start_async().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2) = (log.clone(), log.clone());
    // First answer lost (500), the re-send is inside Payabli's window (409, plain text).
    let first = server
        .mock_async(move |when, then| {
            refund_when(when, FULL_PATH, None);
            respond(then, answer(500, JSON, INTERNAL_500), l1);
        })
        .await;
    first.up_to_n_times_async(1).await;
    let c = client(&server);
    let err = c.refund(&full()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    first.assert_calls_async(1).await;
    let second = server
        .mock_async(move |when, then| {
            refund_when(when, FULL_PATH, None);
            respond(then, answer(409, TEXT, DUPLICATE_409), l2);
        })
        .await;
    let err = c.refund(&full()).await.unwrap_err();
    second.assert_calls_async(1).await;
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(err.http_status(), Some(409));
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers["idempotencykey"], REFERENCE);
    assert_eq!(seen[1].headers["idempotencykey"], REFERENCE);
    assert_eq!(seen[0].path, seen[1].path);
    assert_eq!(seen[0].body, seen[1].body);
}

// ---------------------------------------------------------------------------------------------
// Malformed answers, timeouts and connection failures

#[tokio::test]
async fn malformed_refund_answers_are_unknown_never_a_panic() {
    let server = MockServer::start_async().await;
    let big = vec![b' '; 5 * 1024 * 1024];
    let cases: Vec<(&str, u16, Vec<u8>)> = vec![
        ("html", 200, b"<html><body>OK</body></html>".to_vec()),
        (
            "truncated",
            201,
            br#"{"code":"A0004","data":{"totalAm"#.to_vec(),
        ),
        ("empty", 201, Vec::new()),
        ("code_is_a_number", 201, br#"{"code":4}"#.to_vec()),
        (
            "amount_is_text",
            201,
            br#"{"code":"A0004","data":{"totalAmount":"ten"}}"#.to_vec(),
        ),
        ("array", 201, b"[]".to_vec()),
        ("no_code", 201, br#"{"reason":"Refunded"}"#.to_vec()),
        ("not_a_code", 201, br#"{"code":"OK"}"#.to_vec()),
        ("e_code_on_2xx", 200, br#"{"code":"E9999"}"#.to_vec()),
        ("five_mib", 201, big),
        ("invalid_utf8", 201, b"\xff\xfe{".to_vec()),
        ("402_without_d_code", 402, br#"{"code":"A0004"}"#.to_vec()),
    ];
    for (name, status, body) in cases {
        let m = mock_refund(&server, FULL_PATH, None, answer(status, JSON, body)).await;
        let err = client(&server).refund(&full()).await.unwrap_err();
        m.one().await;
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{name}: {err}");
        assert_eq!(err.http_status(), Some(status), "{name}");
        assert!(err.may_have_reached_provider(), "{name}");
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn unknown_enum_values_and_extra_fields_are_tolerated() {
    let server = MockServer::start_async().await;
    let body = r#"{"code":"A0004","unexpected":{"nested":[1,2,3]},"data":{"paymentTransId":"3040-x","operation":"RefundV3","transStatus":77,"settlementStatus":-9,"totalAmount":-10.50,"newField":true,"responseData":{"resultCode":"A0777"},"paymentData":{"paymentDetails":{"currency":"USD","extra":null}}},"token":"next-page"}"#;
    let m = mock_refund(&server, FULL_PATH, None, answer(201, JSON, body)).await;
    let refund = client(&server).refund(&full()).await.unwrap();
    m.one().await;
    assert_eq!(refund.status, RefundStatus::Succeeded);
    // An `operation` other than `Refund` may be the sale echoed back (issue 16): its total is
    // not read as the refunded amount; the code alone decides the outcome.
    assert_eq!(refund.amount, None);
    let body = body.replace("RefundV3", "Refund");
    m.mock.delete_async().await;
    let m = mock_refund(&server, FULL_PATH, None, answer(201, JSON, body)).await;
    let refund = client(&server).refund(&full()).await.unwrap();
    m.one().await;
    assert_eq!(refund.amount, Some(usd("10.50")));
}

#[tokio::test]
async fn a_timeout_after_sending_is_unknown() {
    let server = MockServer::start_async().await;
    let m = server
        .mock_async(|when, then| {
            refund_when(when, FULL_PATH, None);
            then.status(201)
                .body(SUCCEEDED_201)
                .delay(Duration::from_secs(3));
        })
        .await;
    let err = client_with_timeout(&server, Duration::from_millis(300))
        .refund(&full())
        .await
        .unwrap_err();
    m.assert_calls_async(1).await;
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    assert!(err.may_have_reached_provider());
    assert!(err.is_outcome_unknown());
}

#[tokio::test]
async fn a_refused_connection_never_reached_payabli() {
    // Bind a port, then free it: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::builder(TOKEN)
        .base_url(format!("http://127.0.0.1:{port}/api"))
        .build()
        .unwrap();
    let err = client.refund(&full()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(!err.may_have_reached_provider());
    assert!(err.is_retryable());
    let err = client
        .find_refund(&RefundQuery::for_request(&full()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
}

// ---------------------------------------------------------------------------------------------
// Y-L1: reconciliation, snapshot and the native details method

fn details_with(refund_id: i64, trans: &str) -> String {
    DETAILS_200
        .replace(r#""RefundId":0"#, &format!(r#""RefundId":{refund_id}"#))
        .replace(TRANS, trans)
}

#[tokio::test]
async fn find_refund_full() {
    let server = MockServer::start_async().await;
    let query = RefundQuery::for_request(&full());

    let m = mock_details(&server, DETAILS_PATH, answer(200, JSON, DETAILS_200)).await;
    assert_eq!(
        client(&server).find_refund(&query).await.unwrap(),
        Lookup::Absent
    );
    let req = m.one().await;
    insta::assert_json_snapshot!("request_details", req);
    m.mock.delete_async().await;

    let m = mock_details(
        &server,
        DETAILS_PATH,
        answer(200, JSON, details_with(1_279_666, TRANS)),
    )
    .await;
    let found = client(&server).find_refund(&query).await.unwrap();
    m.one().await;
    let Lookup::Found(refund) = found else {
        panic!("expected Found, got {found:?}")
    };
    check_refund_basics(&refund);
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.refund_id.as_ref().unwrap().as_str(), "1279666");
    insta::assert_json_snapshot!("outcome_lookup_found", refund);
    m.mock.delete_async().await;

    // Both casings of the record decode (§3.4): the camelCase variant of the same record.
    let camel = details_with(77, TRANS)
        .replace("\"PaymentTransId\"", "\"paymentTransId\"")
        .replace("\"RefundId\"", "\"refundId\"");
    let m = mock_details(&server, DETAILS_PATH, answer(200, JSON, camel)).await;
    assert!(matches!(
        client(&server).find_refund(&query).await.unwrap(),
        Lookup::Found(r) if r.refund_id.as_ref().unwrap().as_str() == "77"
    ));
    m.one().await;
}

#[tokio::test]
async fn find_refund_doubtful_answers() {
    let server = MockServer::start_async().await;
    let query = RefundQuery::for_request(&full());
    let cases: Vec<(&str, Answer)> = vec![
        (
            "404_payabli",
            answer(
                404,
                JSON,
                r#"{"isSuccess":false,"responseText":"Not found"}"#,
            ),
        ),
        (
            "404_gateway",
            answer(404, "text/html", "<html>Not Found</html>"),
        ),
        (
            "other_trans",
            answer(200, JSON, details_with(0, "10-another-transaction")),
        ),
        ("no_trans_id", answer(200, JSON, r#"{"RefundId":0}"#)),
        (
            "no_refund_id",
            answer(200, JSON, format!(r#"{{"PaymentTransId":"{TRANS}"}}"#)),
        ),
        ("202", answer(202, JSON, DETAILS_200)),
    ];
    for (name, reply) in cases {
        let m = mock_details(&server, DETAILS_PATH, reply).await;
        let lookup = client(&server).find_refund(&query).await.unwrap();
        m.one().await;
        assert!(
            matches!(lookup, Lookup::Inconclusive(_)),
            "{name}: {lookup:?}"
        );
        m.mock.delete_async().await;
    }
    let cases: Vec<(&str, Answer, ErrorKind)> = vec![
        ("401", answer(401, JSON, UNAUTHORIZED_401), ErrorKind::Auth),
        ("403", answer(403, TEXT, "no"), ErrorKind::Auth),
        ("429", answer(429, TEXT, ""), ErrorKind::RateLimited),
        ("500", answer(500, JSON, INTERNAL_500), ErrorKind::Provider),
        (
            "503",
            answer(503, JSON, UNAVAILABLE_503),
            ErrorKind::Provider,
        ),
        (
            "html_200",
            answer(200, "text/html", "<html>"),
            ErrorKind::Decode,
        ),
        (
            "truncated_200",
            answer(200, JSON, &DETAILS_200[..60]),
            ErrorKind::Decode,
        ),
        (
            "wrong_type",
            answer(200, JSON, r#"{"RefundId":"0"}"#),
            ErrorKind::Decode,
        ),
    ];
    for (name, reply, kind) in cases {
        let m = mock_details(&server, DETAILS_PATH, reply).await;
        let err = client(&server).find_refund(&query).await.unwrap_err();
        m.one().await;
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert_eq!(
            err.reference().map(RefundReference::as_str),
            Some(REFERENCE)
        );
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn partial_refunds_reconcile_against_the_snapshot() {
    let server = MockServer::start_async().await;
    let c = client(&server);
    let payment = PaymentId::new(TRANS).unwrap();

    // The snapshot before the refund: the fixture's RefundId 0.
    let m = mock_details(&server, DETAILS_PATH, answer(200, JSON, DETAILS_200)).await;
    let snapshot = c.snapshot(&payment).await.unwrap().unwrap();
    m.one().await;
    assert_eq!(snapshot, Snapshot::new("refund_id=0"));
    m.mock.delete_async().await;

    let request = partial(usd("10.50"));
    let with = RefundQuery::for_request(&request).with_snapshot(Some(snapshot));
    let without = RefundQuery::for_request(&request);
    assert!(matches!(with.amount, RefundAmount::Partial(_)));

    // Unchanged → absent (§0.5); no snapshot → inconclusive.
    let m = mock_details(&server, DETAILS_PATH, answer(200, JSON, DETAILS_200)).await;
    assert_eq!(c.find_refund(&with).await.unwrap(), Lookup::Absent);
    assert!(matches!(
        c.find_refund(&without).await.unwrap(),
        Lookup::Inconclusive(_)
    ));
    m.requests(2).await;
    m.mock.delete_async().await;

    // Changed → found.
    let m = mock_details(
        &server,
        DETAILS_PATH,
        answer(200, JSON, details_with(1_279_667, TRANS)),
    )
    .await;
    let Lookup::Found(refund) = c.find_refund(&with).await.unwrap() else {
        panic!("expected Found")
    };
    m.one().await;
    assert_eq!(refund.refund_id.unwrap().as_str(), "1279667");
    assert_eq!(refund.status, RefundStatus::Succeeded);
}

#[tokio::test]
async fn snapshot_failures_are_errors() {
    let server = MockServer::start_async().await;
    let payment = PaymentId::new(TRANS).unwrap();
    for (reply, kind) in [
        (
            answer(404, JSON, r#"{"isSuccess":false}"#),
            ErrorKind::NotFound,
        ),
        (
            answer(200, JSON, details_with(0, "10-other")),
            ErrorKind::Provider,
        ),
        (answer(500, JSON, INTERNAL_500), ErrorKind::Provider),
    ] {
        let m = mock_details(&server, DETAILS_PATH, reply).await;
        let err = client(&server).snapshot(&payment).await.unwrap_err();
        m.one().await;
        assert_eq!(err.kind(), kind, "{err}");
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn transaction_details_fixture() {
    let server = MockServer::start_async().await;
    let m = mock_details(&server, DETAILS_PATH, answer(200, JSON, DETAILS_200)).await;
    let details: TransactionDetails = client(&server)
        .transaction_details(&PaymentId::new(TRANS).unwrap())
        .await
        .unwrap();
    m.one().await;
    assert_eq!(details.trans_id.as_deref(), Some(TRANS));
    assert_eq!(details.operation.as_deref(), Some("Sale"));
    assert_eq!(details.trans_status, Some(1));
    assert_eq!(details.settlement_status, Some(3));
    assert_eq!(details.total_amount, Some(usd("105.00")));
    assert_eq!(details.refundable_amount, Some(usd("100.00")));
    assert_eq!(details.refund_id, Some(0));
    assert_eq!(details.refundability, Refundability::Refundable);
    insta::assert_json_snapshot!("details_fixture", details);
}

#[tokio::test]
async fn transaction_details_refundability_and_errors() {
    let server = MockServer::start_async().await;
    let payment = PaymentId::new(TRANS).unwrap();
    for (settlement, trans_status, expected) in [
        (0, 1, Refundability::VoidInstead),
        (-2, 1, Refundability::NotRefundable),
        (3, 5, Refundability::NotRefundable),
        (2, 1, Refundability::Refundable),
    ] {
        let body = DETAILS_200
            .replace(
                r#""SettlementStatus":3"#,
                &format!(r#""SettlementStatus":{settlement}"#),
            )
            .replace(
                r#""TransStatus":1"#,
                &format!(r#""TransStatus":{trans_status}"#),
            );
        let m = mock_details(&server, DETAILS_PATH, answer(200, JSON, body)).await;
        let details = client(&server).transaction_details(&payment).await.unwrap();
        m.one().await;
        assert_eq!(
            details.refundability, expected,
            "{settlement} {trans_status}"
        );
        m.mock.delete_async().await;
    }
    let m = mock_details(
        &server,
        DETAILS_PATH,
        answer(404, JSON, r#"{"isSuccess":false}"#),
    )
    .await;
    let err = client(&server)
        .transaction_details(&payment)
        .await
        .unwrap_err();
    m.one().await;
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.payment_id(), Some(&payment));
}
