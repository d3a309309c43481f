//! The Plexy client against httpmock on 127.0.0.1: every fixture of contract §1.7 and every
//! status of the §1.4 error table, asserting what goes on the wire (method, exact path, the raw
//! `Authorization` key, `Content-Type`, the exact body, and the absence of anything else) and
//! what comes back (outcome, or error kind, reach, HTTP status and provider code).
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
use refund_plexy::refund_core::{
    Currency, DeclineCode, Error, ErrorKind, Lookup, Money, PaymentId, ProviderId, Refund,
    RefundAmount, RefundProvider, RefundQuery, RefundReference, RefundRequest, RefundStatus,
};
use refund_plexy::{Client, Refundability, Transaction, TransactionKind, TransactionStatus};

const KEY: &str = "plexy_TOPSECRET_key_4242";
const ORIGINAL: &str = "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae";
const REFUND_PATH: &str = "/v1/payments/1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae/refund";
const TRANSACTION_PATH: &str = "/v1/transactions/1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae";
const BY_REFERENCE_PATH: &str = "/v1/transactions/by-order-reference/rf-7f3c2b";

// The fixtures of §1.7, byte for byte.
const FULL_BODY: &str = r#"{"orderReference":"rf-7f3c2a"}"#;
const PARTIAL_BODY: &str = r#"{"amount":10.50,"minorAmount":1050,"orderReference":"rf-7f3c2b"}"#;
const SUCCEEDED: &str = r#"{"id":"3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2","responseCode":"00","networkTransactionReference":"927462819374","authCode":"A64192","amount":10.50,"orderReference":"rf-7f3c2b","remainingBalance":189.50,"success":true,"message":"approved","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#;
const DECLINED: &str = r#"{"id":"9a1d7c44-2b6e-4f0a-8d3c-5e7f9b1a2c3d","responseCode":"05","amount":10.50,"orderReference":"rf-7f3c2b","remainingBalance":200.00,"success":false,"message":"Authorization declined","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#;
const PENDING: &str = r#"{"id":"b7e2f1a0-6c5d-4e3b-9a8f-0d1c2b3a4e5f","responseCode":"09","amount":10.50,"orderReference":"rf-7f3c2b","success":false,"message":"wait","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#;
const E400: &str =
    r#"{"code":5,"message":"Unprocessable Entity","source":"refund","type":"validationError"}"#;
const E401: &str = r#"{"message":"unauthorized","type":"apiError"}"#;
const E404: &str = r#"{"code":4,"message":"Not Found","source":"transactions","type":"apiError"}"#;
const E500: &str =
    r#"{"code":2,"message":"Something Went Wrong","source":"payments","type":"apiError"}"#;
const E500_OBSERVED: &str = r#"{"message":"failed to handle command: something went wrong, transaction can not be refunded: already refunded"}"#;
const ORIGINAL_TRANSACTION: &str = r#"{"id":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae","type":"payment","status":"refunded","amount":200.00,"currency":"KZT","orderReference":"ORDER-784512","parentTransactionId":null,"remainingBalance":189.50,"responseCode":"00","message":"approved","createdAt":"2025-12-15T07:30:00Z","updatedAt":"2025-12-15T07:41:24Z"}"#;
const REFUND_TRANSACTION: &str = r#"{"id":"3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2","type":"refund","status":"refunded","amount":10.50,"currency":"KZT","orderReference":"rf-7f3c2b","parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae","responseCode":"00","message":"approved","createdAt":"2025-12-15T07:41:24Z","updatedAt":"2025-12-15T07:41:24Z"}"#;

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// Helpers

fn client(server: &MockServer) -> Client {
    client_with_timeout(server, Duration::from_secs(10))
}

fn client_with_timeout(server: &MockServer, timeout: Duration) -> Client {
    Client::builder(KEY)
        .base_url(format!("http://127.0.0.1:{}/v1", server.port()))
        .timeout(timeout)
        .build()
        .unwrap()
}

fn kzt(text: &str) -> Money {
    Money::parse(text, Currency::KZT).unwrap()
}

fn request(reference: &str, amount: Option<Money>, reason: Option<&str>) -> RefundRequest {
    let mut builder = RefundRequest::builder(
        PaymentId::new(ORIGINAL).unwrap(),
        RefundReference::new(reference).unwrap(),
    );
    if let Some(amount) = amount {
        builder = builder.partial(amount);
    }
    if let Some(reason) = reason {
        builder = builder.reason(reason);
    }
    builder.build().unwrap()
}

/// The full refund of §1.7.
fn full() -> RefundRequest {
    request("rf-7f3c2a", None, None)
}

/// The partial refund of §1.7: 10.50 KZT.
fn partial() -> RefundRequest {
    request("rf-7f3c2b", Some(kzt("10.50")), None)
}

fn query(amount: RefundAmount) -> RefundQuery {
    RefundQuery::new(
        PaymentId::new(ORIGINAL).unwrap(),
        RefundReference::new("rf-7f3c2b").unwrap(),
    )
    .with_amount(amount)
}

/// A request as the mock server saw it, with the key redacted (after checking that it went out
/// raw) and the User-Agent version normalized, for snapshots.
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
            "authorization" => {
                assert_eq!(value, KEY, "the raw key, no `Bearer` (§1.2)");
                "[redacted]".to_owned()
            }
            "user-agent" => {
                assert_eq!(
                    value,
                    concat!("refund-plexy/", env!("CARGO_PKG_VERSION")),
                    "User-Agent"
                );
                "refund-plexy/[version]".to_owned()
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

fn json(status: u16, body: &str) -> Answer {
    answer(status, JSON, body)
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

/// The request side every refund POST must satisfy (§1.2, §1.3, §0.6): POST, the exact path,
/// `Authorization: <raw key>`, `Accept` and `Content-Type: application/json`, the exact body,
/// and no idempotency header. Anything else falls through to httpmock's 404 and fails the
/// test's `requests(n)`.
fn refund_when(when: When, path: &str, body: &str) -> When {
    when.method(POST)
        .path(path)
        .header("authorization", KEY)
        .header("accept", JSON)
        .header("content-type", JSON)
        .header_missing("idempotency-key")
        .header_missing("idempotencykey")
        .header_missing("x-idempotency-key")
        .body(body)
}

async fn mock_refund<'a>(
    server: &'a MockServer,
    path: &str,
    body: &str,
    reply: Answer,
) -> Recorded<'a> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let path = path.to_owned();
    let body = body.to_owned();
    let mock = server
        .mock_async(move |when, then| {
            refund_when(when, &path, &body);
            respond(then, reply, l);
        })
        .await;
    Recorded { mock, seen: log }
}

async fn mock_get<'a>(server: &'a MockServer, path: &str, reply: Answer) -> Recorded<'a> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let path = path.to_owned();
    let mock = server
        .mock_async(move |when, then| {
            when.method(GET)
                .path(&path)
                .header("authorization", KEY)
                .header("accept", JSON)
                .header_missing("content-type")
                .header_missing("content-length")
                .is_true(|req: &HttpMockRequest| req.body_ref().is_empty());
            respond(then, reply, l);
        })
        .await;
    Recorded { mock, seen: log }
}

/// A mock that matches every request, to prove that none was sent.
async fn mock_any(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|_when, then| {
            then.status(500);
        })
        .await
}

/// An error as snapshots show it.
#[derive(serde::Serialize)]
struct ErrorView {
    kind: &'static str,
    may_have_reached_provider: bool,
    retryable: bool,
    http_status: Option<u16>,
    provider_code: Option<String>,
    retry_after_secs: Option<u64>,
    payment_id: Option<String>,
    reference: Option<String>,
    display: String,
}

fn view(e: &Error) -> ErrorView {
    let display = e.to_string();
    assert!(!display.contains(KEY), "{display}");
    assert!(!format!("{e:?}").contains(KEY));
    assert_eq!(e.provider(), Some(&ProviderId::PLEXY));
    ErrorView {
        kind: e.kind().as_str(),
        may_have_reached_provider: e.may_have_reached_provider(),
        retryable: e.is_retryable(),
        http_status: e.http_status(),
        provider_code: e.provider_code().map(str::to_owned),
        retry_after_secs: e.retry_after().map(|d| d.as_secs()),
        payment_id: e.payment_id().map(|p| p.as_str().to_owned()),
        reference: e.reference().map(|r| r.as_str().to_owned()),
        display,
    }
}

fn check_basics(refund: &Refund, reference: &str) {
    assert_eq!(refund.provider, ProviderId::PLEXY);
    assert_eq!(refund.payment_id.as_str(), ORIGINAL);
    assert_eq!(refund.reference.as_str(), reference);
}

// ---------------------------------------------------------------------------------------------
// P-R1 / P-R2 fixtures (§1.7)

#[tokio::test]
async fn full_refund_fixture_succeeds() {
    let server = MockServer::start_async().await;
    let m = mock_refund(&server, REFUND_PATH, FULL_BODY, json(200, SUCCEEDED)).await;
    let refund = client(&server).refund(&full()).await.unwrap();
    let req = m.one().await;
    assert_eq!(req.body.as_deref(), Some(FULL_BODY), "no amount fields");
    insta::assert_json_snapshot!("request_full_refund", req);
    check_basics(&refund, "rf-7f3c2a");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(
        refund.refund_id.as_ref().unwrap().as_str(),
        "3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2"
    );
    assert_eq!(refund.raw_status.as_deref(), Some("00"));
    // A full refund's currency is unknown: amounts are not guessed.
    assert_eq!(refund.amount, None);
    assert_eq!(refund.remaining, None);
    assert_eq!(refund.decline, None);
    insta::assert_json_snapshot!("outcome_full_refund_succeeded", refund);
}

#[tokio::test]
async fn partial_refund_fixture_succeeds() {
    let server = MockServer::start_async().await;
    let m = mock_refund(&server, REFUND_PATH, PARTIAL_BODY, json(200, SUCCEEDED)).await;
    let refund = client(&server).refund(&partial()).await.unwrap();
    let req = m.one().await;
    assert_eq!(req.body.as_deref(), Some(PARTIAL_BODY));
    insta::assert_json_snapshot!("request_partial_refund", req);
    check_basics(&refund, "rf-7f3c2b");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, Some(kzt("10.50")));
    assert_eq!(refund.remaining, Some(kzt("189.50")));
    insta::assert_json_snapshot!("outcome_partial_refund_succeeded", refund);
}

#[tokio::test]
async fn partial_refund_fixture_declined() {
    let server = MockServer::start_async().await;
    let m = mock_refund(&server, REFUND_PATH, PARTIAL_BODY, json(200, DECLINED)).await;
    let refund = client(&server).refund(&partial()).await.unwrap();
    m.one().await;
    check_basics(&refund, "rf-7f3c2b");
    assert_eq!(refund.status, RefundStatus::Declined);
    let decline = refund.decline.as_ref().unwrap();
    assert_eq!(decline.code, DeclineCode::DoNotHonor);
    assert_eq!(decline.provider_code.as_deref(), Some("05"));
    assert_eq!(decline.message.as_deref(), Some("Authorization declined"));
    assert_eq!(refund.raw_status.as_deref(), Some("05"));
    assert_eq!(refund.remaining, Some(kzt("200.00")));
    insta::assert_json_snapshot!("outcome_partial_refund_declined", refund);
}

#[tokio::test]
async fn partial_refund_fixture_pending() {
    let server = MockServer::start_async().await;
    let m = mock_refund(&server, REFUND_PATH, PARTIAL_BODY, json(200, PENDING)).await;
    let refund = client(&server).refund(&partial()).await.unwrap();
    m.one().await;
    check_basics(&refund, "rf-7f3c2b");
    assert_eq!(refund.status, RefundStatus::Pending);
    assert_eq!(refund.decline, None);
    assert_eq!(refund.raw_status.as_deref(), Some("09"));
    assert_eq!(refund.remaining, None);
    insta::assert_json_snapshot!("outcome_partial_refund_pending", refund);
}

#[tokio::test]
async fn the_fixture_answers_to_a_full_refund() {
    let server = MockServer::start_async().await;
    for (body, status) in [
        (DECLINED, RefundStatus::Declined),
        (PENDING, RefundStatus::Pending),
    ] {
        let m = mock_refund(&server, REFUND_PATH, FULL_BODY, json(200, body)).await;
        let refund = client(&server).refund(&full()).await.unwrap();
        m.one().await;
        assert_eq!(refund.status, status);
        assert_eq!(refund.amount, None);
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn description_is_the_reason_and_goes_only_when_given() {
    let server = MockServer::start_async().await;
    let body = r#"{"orderReference":"rf-7f3c2a","description":"customer \"changed\" mind"}"#;
    let m = mock_refund(&server, REFUND_PATH, body, json(200, SUCCEEDED)).await;
    let refund = client(&server)
        .refund(&request(
            "rf-7f3c2a",
            None,
            Some("customer \"changed\" mind"),
        ))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    m.one().await;

    let body = r#"{"amount":10.50,"minorAmount":1050,"orderReference":"rf-7f3c2b","description":"damaged"}"#;
    let m = mock_refund(&server, REFUND_PATH, body, json(200, SUCCEEDED)).await;
    client(&server)
        .refund(&request("rf-7f3c2b", Some(kzt("10.50")), Some("damaged")))
        .await
        .unwrap();
    let req = m.one().await;
    insta::assert_json_snapshot!("request_partial_refund_with_description", req);
}

#[tokio::test]
async fn partial_amounts_keep_the_currency_digits() {
    let server = MockServer::start_async().await;
    for (amount, text, minor) in [
        (kzt("0.05"), "0.05", 5),
        (kzt("100"), "100.00", 10000),
        (Money::parse("1000", Currency::JPY).unwrap(), "1000", 1000),
        (
            Money::parse("12.345", Currency::KWD).unwrap(),
            "12.345",
            12345,
        ),
    ] {
        let body = format!(r#"{{"amount":{text},"minorAmount":{minor},"orderReference":"rf-1"}}"#);
        let answer = json(
            200,
            &format!(r#"{{"id":"r","responseCode":"00","success":true,"amount":{text}}}"#),
        );
        let m = mock_refund(&server, REFUND_PATH, &body, answer).await;
        let refund = client(&server)
            .refund(&request("rf-1", Some(amount), None))
            .await
            .unwrap();
        m.one().await;
        assert_eq!(refund.amount, Some(amount), "{text}");
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn path_parameters_are_one_encoded_segment() {
    let server = MockServer::start_async().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let mock = server
        .mock_async(move |when, then| {
            when.method(POST)
                .is_true(|req: &HttpMockRequest| {
                    req.uri().path() == "/v1/payments/ab%2Fc%20d/refund"
                })
                .header("authorization", KEY)
                .body(r#"{"orderReference":"rf-1"}"#);
            respond(then, json(200, SUCCEEDED), l);
        })
        .await;
    let weird = RefundRequest::builder(
        PaymentId::new("ab/c d").unwrap(),
        RefundReference::new("rf-1").unwrap(),
    )
    .build()
    .unwrap();
    let refund = client(&server).refund(&weird).await.unwrap();
    assert_eq!(refund.payment_id.as_str(), "ab/c d");
    mock.assert_calls_async(1).await;
    assert_eq!(
        log.lock().unwrap()[0].path,
        "/v1/payments/ab%2Fc%20d/refund"
    );
}

#[tokio::test]
async fn dot_segments_are_refused_before_any_io() {
    let server = MockServer::start_async().await;
    let any = mock_any(&server).await;
    for id in [".", ".."] {
        let bad = RefundRequest::builder(
            PaymentId::new(id).unwrap(),
            RefundReference::new("rf-1").unwrap(),
        )
        .build()
        .unwrap();
        let e = client(&server).refund(&bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(!e.may_have_reached_provider());
        assert_eq!(e.payment_id().map(PaymentId::as_str), Some(id));
        let e = client(&server).transaction(id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    let e = client(&server).transaction("").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    any.assert_calls_async(0).await;
}

// ---------------------------------------------------------------------------------------------
// The error table (§1.4, §1.7)

/// Every status of the §1.4 table with the §1.7 error bodies and the body variants (`code` as a
/// string, the legacy `{message, code}`, no body, HTML), snapshotted as errors.
#[tokio::test]
async fn error_table_on_the_refund_post() {
    let server = MockServer::start_async().await;
    let mut rate_limited = json(429, r#"{"message":"too many requests"}"#);
    rate_limited.extra_headers.push(("retry-after", "7"));
    rate_limited.extra_headers.push(("x-request-id", "req-429"));
    let cases: Vec<(&str, Answer, ErrorKind, Option<&str>)> = vec![
        (
            "400_validation",
            json(400, E400),
            ErrorKind::InvalidInput,
            Some("5"),
        ),
        (
            "400_legacy_body",
            json(400, r#"{"message":"amount > remainingBalance","code":3}"#),
            ErrorKind::InvalidInput,
            Some("3"),
        ),
        ("401_unauthorized", json(401, E401), ErrorKind::Auth, None),
        (
            "403_forbidden",
            answer(403, TEXT, "forbidden"),
            ErrorKind::Auth,
            None,
        ),
        (
            "404_not_found",
            json(404, E404),
            ErrorKind::NotFound,
            Some("4"),
        ),
        (
            "422_unprocessable",
            json(422, E400),
            ErrorKind::InvalidInput,
            Some("5"),
        ),
        (
            "429_rate_limited",
            rate_limited,
            ErrorKind::RateLimited,
            None,
        ),
        (
            "500_something_went_wrong",
            json(500, E500),
            ErrorKind::OutcomeUnknown,
            Some("2"),
        ),
        (
            "500_already_refunded_observed",
            json(500, E500_OBSERVED),
            ErrorKind::OutcomeUnknown,
            None,
        ),
        (
            "502_html",
            answer(
                502,
                HTML,
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            ErrorKind::OutcomeUnknown,
            None,
        ),
        (
            "503_string_code",
            json(
                503,
                r#"{"code":"1","message":"service unavailable","source":"keys","type":"apiError"}"#,
            ),
            ErrorKind::OutcomeUnknown,
            Some("1"),
        ),
        (
            "504_empty",
            answer(504, TEXT, ""),
            ErrorKind::OutcomeUnknown,
            None,
        ),
        (
            "409_unexpected",
            json(409, "{}"),
            ErrorKind::OutcomeUnknown,
            None,
        ),
    ];
    for (name, reply, kind, code) in cases {
        let status = reply.status;
        let m = mock_refund(&server, REFUND_PATH, PARTIAL_BODY, reply).await;
        let e = client(&server).refund(&partial()).await.unwrap_err();
        // Exactly one request: the client never retries, not even on 429 or 5xx.
        m.one().await;
        assert_eq!(e.kind(), kind, "{name}");
        assert_eq!(e.http_status(), Some(status), "{name}");
        assert_eq!(e.provider_code(), code, "{name}");
        assert!(e.may_have_reached_provider(), "{name}");
        assert_eq!(e.payment_id().map(PaymentId::as_str), Some(ORIGINAL));
        assert_eq!(
            e.reference().map(RefundReference::as_str),
            Some("rf-7f3c2b")
        );
        insta::assert_json_snapshot!(format!("error_{name}"), view(&e));
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn rate_limit_keeps_retry_after() {
    let server = MockServer::start_async().await;
    let mut reply = answer(429, TEXT, "");
    reply.extra_headers.push(("retry-after", "12"));
    let m = mock_refund(&server, REFUND_PATH, FULL_BODY, reply).await;
    let e = client(&server).refund(&full()).await.unwrap_err();
    m.one().await;
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(12)));
    assert!(e.is_retryable());
}

// ---------------------------------------------------------------------------------------------
// Malformed answers (never a panic; a 2xx that cannot be read is OutcomeUnknown)

#[tokio::test]
async fn unreadable_2xx_answers_are_outcome_unknown() {
    let server = MockServer::start_async().await;
    let big = {
        let mut b = br#"{"success":true,"message":""#.to_vec();
        b.resize(5 * 1024 * 1024, b'x');
        b.extend_from_slice(br#""}"#);
        b
    };
    let cases: Vec<(&str, Answer)> = vec![
        ("html", answer(200, HTML, "<html><body>OK</body></html>")),
        ("truncated", json(200, &SUCCEEDED[..60])),
        ("empty", answer(200, JSON, "")),
        ("not_an_object", json(200, "[]")),
        ("null", json(200, "null")),
        (
            "success_as_string",
            json(200, r#"{"success":"yes","responseCode":"00"}"#),
        ),
        (
            "amount_as_word",
            json(200, r#"{"success":true,"amount":"ten"}"#),
        ),
        (
            "code_as_number",
            json(200, r#"{"success":true,"responseCode":0}"#),
        ),
        ("id_as_number", json(200, r#"{"success":true,"id":12}"#)),
        (
            "negative_amount",
            json(200, r#"{"success":true,"amount":-10.50}"#),
        ),
        (
            "no_outcome_fields",
            json(200, r#"{"id":"r","amount":10.50,"message":"ok"}"#),
        ),
        ("trailing_garbage", json(200, &format!("{SUCCEEDED}}}"))),
        ("201_empty", answer(201, JSON, "")),
        ("204_no_content", answer(204, JSON, "")),
        ("five_mib", answer(200, JSON, big)),
    ];
    for (name, reply) in cases {
        let m = mock_refund(&server, REFUND_PATH, PARTIAL_BODY, reply.clone()).await;
        let e = client(&server).refund(&partial()).await.unwrap_err();
        m.one().await;
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{name}: {e}");
        assert_eq!(e.http_status(), Some(reply.status), "{name}");
        assert!(e.may_have_reached_provider(), "{name}");
        assert!(!e.is_retryable(), "{name}");
        assert!(e.to_string().len() < 600, "{name}: no whole body in errors");
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn oversized_error_answers_map_by_status() {
    let server = MockServer::start_async().await;
    let big = vec![b' '; 5 * 1024 * 1024];
    for (status, kind) in [
        (400, ErrorKind::InvalidInput),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::OutcomeUnknown),
    ] {
        let m = mock_refund(
            &server,
            REFUND_PATH,
            PARTIAL_BODY,
            answer(status, JSON, big.clone()),
        )
        .await;
        let e = client(&server).refund(&partial()).await.unwrap_err();
        m.one().await;
        assert_eq!(e.kind(), kind, "{status}");
        assert_eq!(e.http_status(), Some(status));
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn unknown_values_and_extra_fields_are_tolerated() {
    let server = MockServer::start_async().await;
    let cases: Vec<(&str, RefundStatus, Option<DeclineCode>)> = vec![
        (
            r#"{"id":"r1","responseCode":"Z9","success":false,"message":"new code","brandNew":{"x":[1,2]}}"#,
            RefundStatus::Declined,
            Some(DeclineCode::Other),
        ),
        (
            r#"{"id":"r2","responseCode":"00","success":true,"amount":10.50,"currency":"KZT","fees":[{"a":1}],"status":"whatever"}"#,
            RefundStatus::Succeeded,
            None,
        ),
        (
            r#"{"id":{"Value":"r3"},"responseCode":"51","amount":10.50}"#,
            RefundStatus::Declined,
            Some(DeclineCode::InsufficientFunds),
        ),
        (
            r#"{"id":"r4","responseCode":"00","success":null,"amount":null,"remainingBalance":null}"#,
            RefundStatus::Succeeded,
            None,
        ),
        (
            r#"{"responseCode":"64","success":false,"amount":"10.50","remainingBalance":"5.00"}"#,
            RefundStatus::Declined,
            Some(DeclineCode::AmountExceedsOriginal),
        ),
    ];
    for (body, status, decline) in cases {
        let m = mock_refund(&server, REFUND_PATH, PARTIAL_BODY, json(200, body)).await;
        let refund = client(&server).refund(&partial()).await.unwrap();
        m.one().await;
        assert_eq!(refund.status, status, "{body}");
        assert_eq!(refund.decline.as_ref().map(|d| d.code), decline, "{body}");
        m.mock.delete_async().await;
    }
    let m = mock_refund(
        &server,
        REFUND_PATH,
        PARTIAL_BODY,
        json(200, r#"{"id":{"Value":"r3"},"responseCode":"Z9","success":false,"message":"new code","extra":true}"#),
    )
    .await;
    let refund = client(&server).refund(&partial()).await.unwrap();
    m.one().await;
    assert_eq!(refund.refund_id.as_ref().unwrap().as_str(), "r3");
    insta::assert_json_snapshot!("outcome_unlisted_response_code", refund);
}

#[tokio::test]
async fn timeout_after_sending_is_outcome_unknown() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path(REFUND_PATH);
            then.status(200)
                .header("content-type", JSON)
                .body(SUCCEEDED)
                .delay(Duration::from_secs(5));
        })
        .await;
    let e = client_with_timeout(&server, Duration::from_millis(300))
        .refund(&partial())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    assert!(e.may_have_reached_provider());
    assert!(!e.is_retryable());
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn connection_refused_never_reached_plexy() {
    // A port that was just free: bind, read the port, close.
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::builder(KEY)
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .build()
        .unwrap();
    let e = client.refund(&partial()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(!e.may_have_reached_provider());
    assert!(e.is_retryable());
    let _ = view(&e);
    let e = client
        .find_refund(&query(RefundAmount::Full))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
}

// ---------------------------------------------------------------------------------------------
// P-L1: the original payment (§1.7)

#[tokio::test]
async fn transaction_lookup_fixture() {
    let server = MockServer::start_async().await;
    let m = mock_get(&server, TRANSACTION_PATH, json(200, ORIGINAL_TRANSACTION)).await;
    let t = client(&server).transaction(ORIGINAL).await.unwrap();
    let req = m.one().await;
    insta::assert_json_snapshot!("request_transaction", req);
    assert_eq!(t.id.as_deref(), Some(ORIGINAL));
    assert_eq!(t.kind, Some(TransactionKind::Payment));
    assert_eq!(t.status, Some(TransactionStatus::Refunded));
    assert_eq!(t.amount, Some(kzt("200.00")));
    assert_eq!(t.remaining, Some(kzt("189.50")));
    assert_eq!(t.currency, Some(Currency::KZT));
    assert_eq!(t.order_reference.as_deref(), Some("ORDER-784512"));
    assert_eq!(t.parent_id, None);
    assert_eq!(t.refundability(), Refundability::Refunded);
    insta::assert_json_snapshot!("transaction_original", t);
}

#[tokio::test]
async fn transaction_lookup_observed_variants() {
    let server = MockServer::start_async().await;
    let body = r#"{"transactionId":{"Value":"3f8c"},"type":"refund","status":"TRANSACTION_STATUS_AUTHED","merchantReference":"rf-7f3c2b","originalTransactionId":{"Value":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"},"amount":10.50,"currency":"KZT","unknown":{"deep":[null]}}"#;
    let m = mock_get(&server, "/v1/transactions/3f8c", json(200, body)).await;
    let t: Transaction = client(&server).transaction("3f8c").await.unwrap();
    m.one().await;
    assert_eq!(t.id.as_deref(), Some("3f8c"));
    assert_eq!(t.kind, Some(TransactionKind::Refund));
    assert_eq!(t.status, Some(TransactionStatus::Authorized));
    assert_eq!(t.raw_status.as_deref(), Some("TRANSACTION_STATUS_AUTHED"));
    assert_eq!(t.order_reference.as_deref(), Some("rf-7f3c2b"));
    assert_eq!(t.parent_id.as_deref(), Some(ORIGINAL));
    assert_eq!(t.amount, Some(kzt("10.50")));
}

#[tokio::test]
async fn transaction_lookup_errors() {
    let server = MockServer::start_async().await;
    let cases: Vec<(Answer, ErrorKind)> = vec![
        (json(404, E404), ErrorKind::NotFound),
        // P-L1's 404 is an error whatever its body: it never proves anything, so the bare
        // unknown-route body is NotFound too (no reconciliation reads it).
        (json(404, r#"{"message":"Not Found"}"#), ErrorKind::NotFound),
        (json(401, E401), ErrorKind::Auth),
        (json(500, E500), ErrorKind::Provider),
        (answer(200, HTML, "<html></html>"), ErrorKind::Decode),
        (json(200, r#"{"amount":"ten"}"#), ErrorKind::Decode),
        (
            json(200, r#"{"amount":1,"currency":"usd"}"#),
            ErrorKind::Decode,
        ),
        (
            answer(200, JSON, vec![b' '; 5 * 1024 * 1024]),
            ErrorKind::Decode,
        ),
        (
            answer(404, JSON, vec![b' '; 5 * 1024 * 1024]),
            ErrorKind::NotFound,
        ),
    ];
    for (reply, kind) in cases {
        let status = reply.status;
        let m = mock_get(&server, TRANSACTION_PATH, reply).await;
        let e = client(&server).transaction(ORIGINAL).await.unwrap_err();
        m.one().await;
        assert_eq!(e.kind(), kind, "{status}: {e}");
        assert_eq!(e.http_status(), Some(status));
        assert_eq!(e.provider(), Some(&ProviderId::PLEXY));
        m.mock.delete_async().await;
    }
}

// ---------------------------------------------------------------------------------------------
// P-L2 and find_refund (§1.4 match rule, §0.5 absence rule, §1.6)

#[tokio::test]
async fn find_refund_fixture_is_found() {
    let server = MockServer::start_async().await;
    let m = mock_get(&server, BY_REFERENCE_PATH, json(200, REFUND_TRANSACTION)).await;
    let lookup = client(&server)
        .find_refund(&query(RefundAmount::Full))
        .await
        .unwrap();
    let req = m.one().await;
    insta::assert_json_snapshot!("request_find_refund", req);
    let Lookup::Found(refund) = lookup else {
        panic!("expected Found, got {lookup:?}");
    };
    check_basics(&refund, "rf-7f3c2b");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(
        refund.refund_id.as_ref().unwrap().as_str(),
        "3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2"
    );
    assert_eq!(
        refund.amount,
        Some(kzt("10.50")),
        "the transaction's currency"
    );
    assert_eq!(refund.raw_status.as_deref(), Some("refunded"));
    insta::assert_json_snapshot!("outcome_find_refund_found", refund);
}

#[tokio::test]
async fn find_refund_picks_the_matching_element_of_a_list() {
    let server = MockServer::start_async().await;
    let other_payment = REFUND_TRANSACTION
        .replace(
            r#""parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae""#,
            r#""parentTransactionId":"another-payment""#,
        )
        .replace("3f8c2c5e", "aaaaaaaa");
    let declined = REFUND_TRANSACTION
        .replace(r#""status":"refunded""#, r#""status":"rejected""#)
        .replace(r#""responseCode":"00""#, r#""responseCode":"51""#)
        .replace(
            r#""message":"approved""#,
            r#""message":"insufficient funds""#,
        );
    for body in [
        format!("[{other_payment},{ORIGINAL_TRANSACTION},{declined}]"),
        format!(r#"{{"data":[{other_payment},{declined}],"total":2}}"#),
    ] {
        let m = mock_get(&server, BY_REFERENCE_PATH, json(200, &body)).await;
        let lookup = client(&server)
            .find_refund(&query(RefundAmount::Partial(kzt("10.50"))))
            .await
            .unwrap();
        m.one().await;
        let Lookup::Found(refund) = lookup else {
            panic!("expected Found, got {lookup:?}");
        };
        assert_eq!(refund.status, RefundStatus::Declined);
        let decline = refund.decline.unwrap();
        assert_eq!(decline.code, DeclineCode::InsufficientFunds);
        assert_eq!(decline.provider_code.as_deref(), Some("51"));
        assert_eq!(decline.message.as_deref(), Some("insufficient funds"));
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn find_refund_observed_variants() {
    let server = MockServer::start_async().await;
    let body = r#"{"transactionId":{"Value":"3f8c"},"type":"refund","status":"TRANSACTION_STATUS_CHARGED","merchantReference":"rf-7f3c2b","originalTransactionId":{"Value":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"},"amount":10.50}"#;
    let m = mock_get(&server, BY_REFERENCE_PATH, json(200, body)).await;
    let lookup = client(&server)
        .find_refund(&query(RefundAmount::Partial(kzt("10.50"))))
        .await
        .unwrap();
    m.one().await;
    let Lookup::Found(refund) = lookup else {
        panic!("expected Found, got {lookup:?}");
    };
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.refund_id.unwrap().as_str(), "3f8c");
    assert_eq!(refund.amount, Some(kzt("10.50")), "the query's currency");
    assert_eq!(
        refund.raw_status.as_deref(),
        Some("TRANSACTION_STATUS_CHARGED")
    );
}

#[tokio::test]
async fn find_refund_statuses_of_a_refund_transaction() {
    let server = MockServer::start_async().await;
    for (status, expected) in [
        ("refunded", RefundStatus::Succeeded),
        ("charged", RefundStatus::Succeeded),
        ("rejected", RefundStatus::Declined),
        ("failed", RefundStatus::Declined),
        ("cancelled", RefundStatus::Declined),
        ("created", RefundStatus::Pending),
        ("new", RefundStatus::Pending),
        ("3d", RefundStatus::Pending),
        ("authorized", RefundStatus::Pending),
        ("somethingNew", RefundStatus::Pending),
    ] {
        let body = REFUND_TRANSACTION
            .replace(r#""status":"refunded""#, &format!(r#""status":"{status}""#));
        let m = mock_get(&server, BY_REFERENCE_PATH, json(200, &body)).await;
        let lookup = client(&server)
            .find_refund(&query(RefundAmount::Full))
            .await
            .unwrap();
        m.one().await;
        let Lookup::Found(refund) = lookup else {
            panic!("{status}: expected Found, got {lookup:?}");
        };
        assert_eq!(refund.status, expected, "{status}");
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn find_refund_absent_only_on_plexys_own_404() {
    let server = MockServer::start_async().await;
    for body in [
        E404,
        r#"{"code":"4","message":"Not Found"}"#,
        r#"{"code":4,"message":"not found","type":"apiError"}"#,
    ] {
        let m = mock_get(&server, BY_REFERENCE_PATH, json(404, body)).await;
        let lookup = client(&server)
            .find_refund(&query(RefundAmount::Full))
            .await
            .unwrap();
        m.one().await;
        assert_eq!(lookup, Lookup::Absent, "{body}");
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn find_refund_inconclusive_answers() {
    let server = MockServer::start_async().await;
    let not_ours = REFUND_TRANSACTION.replace(
        r#""parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae""#,
        r#""parentTransactionId":"another-payment""#,
    );
    let cases: Vec<(&str, Answer)> = vec![
        ("404_empty", answer(404, TEXT, "")),
        (
            "404_html",
            answer(
                404,
                HTML,
                "<html><body><h1>404 Not Found</h1></body></html>",
            ),
        ),
        ("404_text", answer(404, TEXT, "404 page not found")),
        ("404_foreign_json", json(404, r#"{"error":"no route"}"#)),
        // What Plexy's Go web framework (or a gateway) answers for a route it does not have:
        // proof of nothing, however much it looks like Plexy's body (issue 16).
        ("404_route_missing", json(404, r#"{"message":"Not Found"}"#)),
        (
            "404_message_type_no_code",
            json(404, r#"{"message":"not found","type":"apiError"}"#),
        ),
        (
            "404_message_type_source_no_code",
            json(
                404,
                r#"{"message":"Not Found","source":"transactions","type":"apiError"}"#,
            ),
        ),
        (
            "404_code_as_http_status",
            json(404, r#"{"code":404,"message":"Not Found"}"#),
        ),
        (
            "404_code_zero_padded",
            json(404, r#"{"code":"04","message":"Not Found"}"#),
        ),
        (
            "404_route_missing_as_text",
            answer(404, TEXT, r#"{"message":"Not Found"}"#),
        ),
        ("404_empty_object", json(404, "{}")),
        ("404_other_code", json(404, E500)),
        ("404_truncated", json(404, &E404[..20])),
        (
            "404_five_mib",
            answer(404, JSON, vec![b' '; 5 * 1024 * 1024]),
        ),
        ("200_not_ours", json(200, &not_ours)),
        ("200_payment", json(200, ORIGINAL_TRANSACTION)),
        ("200_empty_list", json(200, "[]")),
        ("200_empty_data", json(200, r#"{"data":[]}"#)),
        ("200_html", answer(200, HTML, "<html></html>")),
        ("200_truncated", json(200, &REFUND_TRANSACTION[..40])),
        ("200_empty", answer(200, JSON, "")),
        (
            "200_wrong_types",
            json(200, r#"{"parentTransactionId":12}"#),
        ),
        (
            "200_bad_currency",
            json(200, &REFUND_TRANSACTION.replace("KZT", "???")),
        ),
        (
            "200_five_mib",
            answer(200, JSON, vec![b' '; 5 * 1024 * 1024]),
        ),
        ("204", answer(204, JSON, "")),
    ];
    for (name, reply) in cases {
        let m = mock_get(&server, BY_REFERENCE_PATH, reply).await;
        let lookup = client(&server)
            .find_refund(&query(RefundAmount::Full))
            .await
            .unwrap();
        m.one().await;
        let Lookup::Inconclusive(reason) = &lookup else {
            panic!("{name}: expected Inconclusive, got {lookup:?}");
        };
        assert!(!reason.is_empty());
        assert!(reason.len() < 600, "{name}: {reason}");
        assert!(!reason.contains(KEY));
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn find_refund_errors() {
    let server = MockServer::start_async().await;
    let mut rate_limited = answer(429, TEXT, "");
    rate_limited.extra_headers.push(("retry-after", "3"));
    let cases: Vec<(Answer, ErrorKind)> = vec![
        (json(401, E401), ErrorKind::Auth),
        (answer(403, TEXT, ""), ErrorKind::Auth),
        (rate_limited, ErrorKind::RateLimited),
        (json(500, E500), ErrorKind::Provider),
        (
            answer(502, HTML, "<html>bad gateway</html>"),
            ErrorKind::Provider,
        ),
        (
            json(503, r#"{"code":"1","message":"service unavailable"}"#),
            ErrorKind::Provider,
        ),
        (json(400, E400), ErrorKind::InvalidInput),
        (
            answer(500, JSON, vec![b' '; 5 * 1024 * 1024]),
            ErrorKind::Provider,
        ),
    ];
    for (reply, kind) in cases {
        let status = reply.status;
        let m = mock_get(&server, BY_REFERENCE_PATH, reply).await;
        let e = client(&server)
            .find_refund(&query(RefundAmount::Full))
            .await
            .unwrap_err();
        m.one().await;
        assert_eq!(e.kind(), kind, "{status}");
        assert_eq!(e.http_status(), Some(status));
        assert_eq!(
            e.reference().map(RefundReference::as_str),
            Some("rf-7f3c2b")
        );
        assert_eq!(e.payment_id().map(PaymentId::as_str), Some(ORIGINAL));
        let _ = view(&e);
        if status == 429 {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        }
        m.mock.delete_async().await;
    }
}

#[tokio::test]
async fn find_by_order_reference_returns_every_transaction() {
    let server = MockServer::start_async().await;
    let body = format!(r#"{{"data":[{REFUND_TRANSACTION},{ORIGINAL_TRANSACTION}]}}"#);
    let m = mock_get(&server, BY_REFERENCE_PATH, json(200, &body)).await;
    let found = client(&server)
        .find_by_order_reference(&RefundReference::new("rf-7f3c2b").unwrap())
        .await
        .unwrap();
    m.one().await;
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].kind, Some(TransactionKind::Refund));
    assert_eq!(found[0].parent_id.as_deref(), Some(ORIGINAL));
    assert_eq!(found[1].kind, Some(TransactionKind::Payment));
    m.mock.delete_async().await;

    let m = mock_get(&server, BY_REFERENCE_PATH, json(404, E404)).await;
    let e = client(&server)
        .find_by_order_reference(&RefundReference::new("rf-7f3c2b").unwrap())
        .await
        .unwrap_err();
    m.one().await;
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.provider_code(), Some("4"));
    assert_eq!(
        e.reference().map(RefundReference::as_str),
        Some("rf-7f3c2b")
    );
}
