//! The PayNext client against local HTTP servers on 127.0.0.1 (httpmock, and raw sockets where
//! the exact bytes matter): every fixture of contract §2.7, every status of the §2.4 error table,
//! the vendor's own example answer, malformed answers, and reconciliation (§2.6, §0.5).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::time::Duration;

use httpmock::prelude::*;
use refund_core::{
    Currency, Decline, DeclineCode, ErrorKind, Lookup, Money, PaymentId, ProviderId, Refund,
    RefundProvider, RefundQuery, RefundReference, RefundRequest, RefundStatus,
};
use refund_paynext::{Client, PaymentStatus};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "sk_test_PAYNEXT_TOPSECRET_9f8e";
const PAY: &str = "pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789";
const REFUND_PATH: &str = "/payments/refund/pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789";
const LOOKUP_PATH: &str = "/payments/pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789";
const USER_AGENT: &str = concat!("refund-paynext/", env!("CARGO_PKG_VERSION"));

// The §2.7 fixtures, verbatim.
const PENDING: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","payment_type":"CIT","refunded_amount":0,"refund":{"amount":15000,"amount_usd":15000,"status":"PENDING","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:00Z"},"status_reason":null,"metadata":{"order_id":"ord_123"},"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:15:00Z"}"#;
const SUCCEEDED: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":15000,"refund":{"amount":15000,"amount_usd":15000,"status":"SUCCEEDED","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:16:10Z"},"status_reason":null,"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:16:10Z"}"#;
const DECLINED: &str = r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":0,"refund":{"amount":15000,"status":"FAILED","processor_transaction_id":"","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:02Z"},"status_reason":null,"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:15:02Z"}"#;
const ERROR_400: &str = r#"{"error":{"message":"Payment pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789 cannot be refunded in status AUTHORIZED"}}"#;
const ERROR_401: &str = r#"{"error":{"message":"Invalid API key"}}"#;
const ERROR_404: &str = r#"{"error":{"message":"Payment not found"}}"#;
const ERROR_500: &str = r#"{"error":{"message":"Internal server error"}}"#;

/// The example answer of the vendor's "Refund a payment" page, verbatim: every nested object,
/// `currency_code` AED, `refund.status` PENDING, `"<string>"` placeholders.
const VENDOR_EXAMPLE: &str = include_str!("fixtures/refund-a-payment-example.json");

fn client_for(base_url: String) -> Client {
    Client::builder(KEY)
        .base_url(base_url)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn client(server: &MockServer) -> Client {
    client_for(server.base_url())
}

fn pay() -> PaymentId {
    PaymentId::new(PAY).unwrap()
}

fn reference() -> RefundReference {
    RefundReference::new("rf-7f3c2b").unwrap()
}

fn full_refund() -> RefundRequest {
    RefundRequest::builder(pay(), reference()).build().unwrap()
}

fn query() -> RefundQuery {
    RefundQuery::new(pay(), reference())
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD).unwrap()
}

/// A mock of N-R1 that only matches the request the contract describes: POST, the path, the
/// Bearer key, `X-API-Version: 1.0.0`, `Accept`, the User-Agent, no body, no `Content-Type`,
/// `Content-Length: 0`, and no idempotency header.
async fn refund_mock<'a>(
    server: &'a MockServer,
    path: &str,
    status: u16,
    body: &str,
) -> httpmock::Mock<'a> {
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path(path)
                .header("authorization", format!("Bearer {KEY}"))
                .header("x-api-version", "1.0.0")
                .header("accept", "application/json")
                .header("user-agent", USER_AGENT)
                .header("content-length", "0")
                .header_missing("content-type")
                .header_missing("idempotency-key")
                .body("");
            then.status(status)
                .header("content-type", "application/json")
                .header("x-request-id", "req_test_1")
                .body(body);
        })
        .await
}

/// A mock of N-L1 that only matches GET, the path, the Bearer key, `X-API-Version: 1.0.0`,
/// `Accept`, the User-Agent, and no body (no `Content-Type`, no `Content-Length`).
async fn lookup_mock<'a>(
    server: &'a MockServer,
    path: &str,
    status: u16,
    body: &str,
) -> httpmock::Mock<'a> {
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(path)
                .header("authorization", format!("Bearer {KEY}"))
                .header("x-api-version", "1.0.0")
                .header("accept", "application/json")
                .header("user-agent", USER_AGENT)
                .header_missing("content-type")
                .header_missing("content-length");
            then.status(status)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

/// Refunds through a fresh mock answering `status` + `body`, asserting exactly one matching
/// request was sent.
async fn refund_answered(status: u16, body: &str) -> refund_core::Result<Refund> {
    let server = MockServer::start_async().await;
    let mock = refund_mock(&server, REFUND_PATH, status, body).await;
    let result = client(&server).refund(&full_refund()).await;
    mock.assert_calls_async(1).await;
    result
}

/// Looks up through a fresh mock answering `status` + `body`.
async fn lookup_answered(status: u16, body: &str) -> refund_core::Result<Lookup> {
    let server = MockServer::start_async().await;
    let mock = lookup_mock(&server, LOOKUP_PATH, status, body).await;
    let result = client(&server).find_refund(&query()).await;
    mock.assert_calls_async(1).await;
    result
}

async fn get_payment_answered(
    status: u16,
    body: &str,
) -> refund_core::Result<refund_paynext::Payment> {
    let server = MockServer::start_async().await;
    let mock = lookup_mock(&server, LOOKUP_PATH, status, body).await;
    let result = client(&server).get_payment(&pay()).await;
    mock.assert_calls_async(1).await;
    result
}

// ---------------------------------------------------------------------------------------------
// §2.7 fixtures on N-R1

#[tokio::test]
async fn fixture_pending_refund() {
    let refund = refund_answered(200, PENDING).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Pending);
    assert_eq!(refund.provider, ProviderId::PAYNEXT);
    assert_eq!(refund.payment_id, pay());
    assert_eq!(refund.reference, reference());
    assert_eq!(
        refund.refund_id.as_ref().map(|id| id.as_str()),
        Some("re_3RgN6TJVVBuowJOx1a2b3c4d")
    );
    assert_eq!(refund.amount, Some(usd(15000)));
    assert_eq!(refund.raw_status.as_deref(), Some("PENDING"));
    assert_eq!(refund.decline, None);
    insta::assert_json_snapshot!(refund);
}

#[tokio::test]
async fn fixture_succeeded_refund() {
    let refund = refund_answered(200, SUCCEEDED).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, Some(usd(15000)));
    assert_eq!(refund.raw_status.as_deref(), Some("SUCCEEDED"));
    insta::assert_json_snapshot!(refund);
}

#[tokio::test]
async fn fixture_declined_refund() {
    let refund = refund_answered(200, DECLINED).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Declined);
    assert_eq!(refund.refund_id.as_ref().map(|id| id.as_str()), Some(PAY));
    assert_eq!(
        refund.decline,
        Some(Decline::new(DeclineCode::Other).with_provider_code("FAILED"))
    );
    insta::assert_json_snapshot!(refund);
}

// ---------------------------------------------------------------------------------------------
// §2.4 error table

#[tokio::test]
async fn every_status_of_the_error_table_on_a_refund() {
    use ErrorKind::*;
    for (status, body, kind, message) in [
        (
            400,
            ERROR_400,
            InvalidInput,
            Some("cannot be refunded in status AUTHORIZED"),
        ),
        (
            400,
            r#"{"error":{"message":"Payment pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789 has already been refunded"}}"#,
            InvalidInput,
            Some("already been refunded"),
        ),
        (401, ERROR_401, Auth, Some("Invalid API key")),
        (
            403,
            r#"{"error":{"message":"Forbidden"}}"#,
            Auth,
            Some("Forbidden"),
        ),
        (404, ERROR_404, NotFound, Some("Payment not found")),
        (
            409,
            r#"{"error":{"message":"Conflict"}}"#,
            InvalidInput,
            Some("Conflict"),
        ),
        (
            422,
            r#"{"error":{"message":"Unprocessable"}}"#,
            InvalidInput,
            Some("Unprocessable"),
        ),
        (
            429,
            r#"{"error":{"message":"Too many requests"}}"#,
            RateLimited,
            Some("Too many requests"),
        ),
        (
            500,
            ERROR_500,
            OutcomeUnknown,
            Some("Internal server error"),
        ),
        (501, "", OutcomeUnknown, None),
        (
            502,
            "<html><body>502 Bad Gateway</body></html>",
            OutcomeUnknown,
            None,
        ),
        (
            503,
            r#"{"error":{"message":"Unavailable"}}"#,
            OutcomeUnknown,
            Some("Unavailable"),
        ),
        (504, "", OutcomeUnknown, None),
        (599, "{}", OutcomeUnknown, None),
    ] {
        let e = refund_answered(status, body).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{status} {body}");
        assert_eq!(e.http_status(), Some(status));
        assert_eq!(e.provider(), Some(&ProviderId::PAYNEXT));
        assert_eq!(e.payment_id(), Some(&pay()));
        assert_eq!(e.reference(), Some(&reference()));
        assert_eq!(e.request_id(), Some("req_test_1"));
        assert!(e.may_have_reached_provider());
        assert_eq!(e.is_outcome_unknown(), status >= 500, "{status}");
        if let Some(message) = message {
            assert!(e.message().contains(message), "{e}");
        }
        assert!(!e.to_string().contains(KEY));
        assert!(!format!("{e:?}").contains(KEY));
    }
}

#[tokio::test]
async fn every_status_of_the_error_table_on_a_lookup() {
    use ErrorKind::*;
    for (status, body, kind) in [
        (400, ERROR_400, InvalidInput),
        (401, ERROR_401, Auth),
        (403, r#"{"error":{"message":"Forbidden"}}"#, Auth),
        (404, ERROR_404, NotFound),
        (409, "{}", InvalidInput),
        (422, "{}", InvalidInput),
        (429, "{}", RateLimited),
        (500, ERROR_500, Provider),
        (503, "", Provider),
    ] {
        let e = get_payment_answered(status, body).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{status}");
        assert_eq!(e.http_status(), Some(status));
        assert_eq!(e.provider(), Some(&ProviderId::PAYNEXT));
        assert_eq!(e.payment_id(), Some(&pay()));
    }
}

#[tokio::test]
async fn rate_limited_refunds_carry_retry_after_and_were_not_applied() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path(REFUND_PATH);
            then.status(429)
                .header("retry-after", "7")
                .body(r#"{"error":{"message":"Too many requests"}}"#);
        })
        .await;
    let e = client(&server).refund(&full_refund()).await.unwrap_err();
    mock.assert_calls_async(1).await;
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_retryable());
    assert!(!e.is_outcome_unknown());
}

// ---------------------------------------------------------------------------------------------
// N-R2: partial refunds

#[tokio::test]
async fn partial_refunds_are_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_, then| {
            then.status(200).body(SUCCEEDED);
        })
        .await;
    let client = client(&server);
    let request = RefundRequest::builder(pay(), reference())
        .partial(usd(5000))
        .build()
        .unwrap();
    let e = client.refund(&request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(!e.may_have_reached_provider());
    assert_eq!(e.provider(), Some(&ProviderId::PAYNEXT));
    assert_eq!(e.reference(), Some(&reference()));

    let partial_query = RefundQuery::for_request(&request);
    let e = client.find_refund(&partial_query).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(!client.capabilities().partial_refunds);
    // The mock answers anything, so no call means nothing was sent.
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn dot_payment_ids_are_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_, then| {
            then.status(200).body(SUCCEEDED);
        })
        .await;
    let client = client(&server);
    for id in [".", ".."] {
        let id = PaymentId::new(id).unwrap();
        let request = RefundRequest::builder(id.clone(), reference())
            .build()
            .unwrap();
        let e = client.refund(&request).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(!e.may_have_reached_provider());
        let e = client.get_payment(&id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = client
            .find_refund(&RefundQuery::new(id, reference()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_payment_id_is_one_encoded_path_segment() {
    let server = MockServer::start_async().await;
    let body = SUCCEEDED.replace(PAY, "pay_with/slash id");
    let refund = refund_mock(
        &server,
        "/payments/refund/pay_with%2Fslash%20id",
        200,
        &body,
    )
    .await;
    let lookup = lookup_mock(&server, "/payments/pay_with%2Fslash%20id", 200, &body).await;
    let client = client(&server);
    let id = PaymentId::new("pay_with/slash id").unwrap();
    let request = RefundRequest::builder(id.clone(), reference())
        .build()
        .unwrap();
    let r = client.refund(&request).await.unwrap();
    assert_eq!(r.status, RefundStatus::Succeeded);
    let p = client.get_payment(&id).await.unwrap();
    assert_eq!(p.id, id);
    refund.assert_calls_async(1).await;
    lookup.assert_calls_async(1).await;
}

// ---------------------------------------------------------------------------------------------
// The vendor's own example answer

#[tokio::test]
async fn the_vendor_example_answer_decodes_and_maps() {
    // Sanity: the fixture is the document's JSON, nested objects and placeholders included.
    for needle in [
        "\"currency_code\": \"AED\"",
        "\"three_d_secure\"",
        "\"subscription\"",
        "\"collect_tax\": \"<unknown>\"",
        "\"processor_transaction_id\": \"<string>\"",
    ] {
        assert!(VENDOR_EXAMPLE.contains(needle), "{needle}");
    }
    let aed = Currency::from_code("AED").unwrap();

    let refund = refund_answered(200, VENDOR_EXAMPLE).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Pending);
    assert_eq!(refund.raw_status.as_deref(), Some("PENDING"));
    assert_eq!(
        refund.refund_id.as_ref().map(|id| id.as_str()),
        Some("<string>")
    );
    // refund.amount 123 minor units of AED (2 digits), not the payment's 15000.
    assert_eq!(refund.amount, Some(Money::from_minor(123, aed).unwrap()));
    assert_eq!(refund.amount.unwrap().decimal_text(), "1.23");
    // Pending, so the payment's status_reason is not a decline of the refund.
    assert_eq!(refund.decline, None);
    insta::assert_json_snapshot!("vendor_example_refund", refund);

    let payment = get_payment_answered(200, VENDOR_EXAMPLE).await.unwrap();
    assert_eq!(payment.id, pay());
    assert_eq!(payment.amount, Some(Money::from_minor(15000, aed).unwrap()));
    assert_eq!(payment.currency_code.as_deref(), Some("AED"));
    assert_eq!(payment.status, Some(PaymentStatus::Pending));
    assert_eq!(
        payment.refunded_amount,
        Some(Money::from_minor(0, aed).unwrap())
    );
    assert_eq!(payment.refund_status, Some(RefundStatus::Pending));
    let reason = payment.status_reason.as_ref().unwrap();
    assert_eq!(reason.status.as_deref(), Some("declined"));
    assert_eq!(reason.advice_code.as_deref(), Some("do_not_try_again"));
    assert_eq!(reason.decline_code.as_deref(), Some("insufficient_funds"));
    assert_eq!(reason.message.as_deref(), Some("<string>"));
    assert_eq!(
        reason.normalized_decline_code(),
        Some(DeclineCode::InsufficientFunds)
    );
    insta::assert_json_snapshot!("vendor_example_payment", payment);

    let lookup = lookup_answered(200, VENDOR_EXAMPLE).await.unwrap();
    assert!(
        matches!(&lookup, Lookup::Found(r) if *r == refund),
        "{lookup:?}"
    );

    // The same document with the refund declined: the status_reason becomes the decline.
    let declined = VENDOR_EXAMPLE.replacen("\"status\": \"PENDING\"", "\"status\": \"FAILED\"", 1);
    assert_ne!(declined, VENDOR_EXAMPLE);
    let refund = refund_answered(200, &declined).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Declined);
    assert_eq!(
        refund.decline,
        Some(
            Decline::new(DeclineCode::InsufficientFunds)
                .with_provider_code("insufficient_funds")
                .with_message("<string>")
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Amounts, currencies and open enums

#[tokio::test]
async fn amounts_across_currency_exponents() {
    for (code, minor, text) in [
        ("USD", 15000, "150.00"),
        ("JPY", 10000, "10000"),
        ("KWD", 12345, "12.345"),
        ("CLF", 15, "0.0015"),
    ] {
        let body = format!(
            r#"{{"id":"{PAY}","amount":{minor},"currency_code":"{code}","payment_status":"SETTLED","refunded_amount":{minor},"refund":{{"amount":{minor},"status":"SUCCEEDED","processor_transaction_id":"re_1"}}}}"#
        );
        let refund = refund_answered(200, &body).await.unwrap();
        let amount = refund.amount.unwrap();
        assert_eq!(amount.currency().code(), code);
        assert_eq!(amount.minor_units(), minor);
        assert_eq!(amount.decimal_text(), text, "{code}");
        let payment = get_payment_answered(200, &body).await.unwrap();
        assert_eq!(payment.amount, Some(amount));
        assert_eq!(payment.refunded_amount, Some(amount));
    }
}

#[tokio::test]
async fn unknown_enum_and_currency_values_never_fail_decoding() {
    let body = format!(
        r#"{{"id":"{PAY}","amount":15000,"currency_code":"XYZ","payment_status":"PARTIALLY_CAPTURED","refunded_amount":0,"refund":{{"amount":15000,"status":"requires_review","processor_transaction_id":"re_9"}},"status_reason":{{"status":"weird","status_reason":{{"advice_code":"call_us","decline_code":"velocity_exceeded"}}}},"brand_new_field":{{"nested":[1,2,3]}}}}"#
    );
    let refund = refund_answered(200, &body).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Pending);
    assert_eq!(refund.raw_status.as_deref(), Some("requires_review"));
    assert_eq!(refund.amount, None);
    insta::assert_json_snapshot!(refund);

    let payment = get_payment_answered(200, &body).await.unwrap();
    assert_eq!(
        payment.status,
        Some(PaymentStatus::Other("PARTIALLY_CAPTURED".into()))
    );
    assert_eq!(payment.currency_code.as_deref(), Some("XYZ"));
    assert_eq!(payment.amount, None);
    let reason = payment.status_reason.unwrap();
    assert_eq!(reason.advice_code.as_deref(), Some("call_us"));
    assert_eq!(reason.normalized_decline_code(), Some(DeclineCode::Other));

    let found = lookup_answered(200, &body).await.unwrap();
    assert!(matches!(found, Lookup::Found(r) if r.status == RefundStatus::Pending));
}

// ---------------------------------------------------------------------------------------------
// Malformed answers

fn malformed_bodies() -> Vec<(&'static str, String)> {
    vec![
        (
            "html",
            "<html><body>Service Unavailable</body></html>".to_owned(),
        ),
        ("truncated", PENDING[..PENDING.len() / 2].to_owned()),
        ("empty", String::new()),
        ("array", "[]".to_owned()),
        (
            "string amount",
            format!(r#"{{"id":"{PAY}","amount":"15000"}}"#),
        ),
        (
            "float amount",
            format!(r#"{{"id":"{PAY}","amount":150.5}}"#),
        ),
        (
            "refund is a list",
            format!(r#"{{"id":"{PAY}","refund":[]}}"#),
        ),
        (
            "status is a number",
            format!(r#"{{"id":"{PAY}","refund":{{"status":3}}}}"#),
        ),
        ("trailing garbage", format!("{PENDING}xyz")),
        (
            "negative amount",
            format!(r#"{{"id":"{PAY}","refunded_amount":-1}}"#),
        ),
        ("another payment", SUCCEEDED.replace(PAY, "pay_other")),
        // 5 MiB, over the 1 MiB response cap.
        (
            "5 MiB",
            format!(
                r#"{{"id":"{PAY}","padding":"{}"}}"#,
                "x".repeat(5 * 1024 * 1024)
            ),
        ),
    ]
}

#[tokio::test]
async fn a_malformed_2xx_on_a_refund_is_outcome_unknown() {
    for (what, body) in malformed_bodies() {
        let e = refund_answered(200, &body).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{what}: {e}");
        assert_eq!(e.http_status(), Some(200), "{what}");
        assert!(e.may_have_reached_provider());
        assert_eq!(e.reference(), Some(&reference()));
        assert!(e.to_string().len() < 600, "{what}: message too long");
    }
    // A 204 without a body, too.
    let e = refund_answered(204, "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
}

#[tokio::test]
async fn a_malformed_2xx_on_a_lookup_is_inconclusive() {
    for (what, body) in malformed_bodies() {
        let lookup = lookup_answered(200, &body).await.unwrap();
        assert!(
            matches!(lookup, Lookup::Inconclusive(_)),
            "{what}: {lookup:?}"
        );
        let e = get_payment_answered(200, &body).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode, "{what}");
        assert_eq!(e.http_status(), Some(200), "{what}");
    }
}

#[tokio::test]
async fn non_json_error_bodies_map_by_status() {
    let e = refund_answered(400, "<html>Bad Request</html>")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = refund_answered(500, "<html>oops</html>").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    let e = refund_answered(502, "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
}

// ---------------------------------------------------------------------------------------------
// Reconciliation (§2.6, §0.5)

#[tokio::test]
async fn find_refund_adopts_an_existing_refund() {
    for (body, status) in [
        (PENDING, RefundStatus::Pending),
        (SUCCEEDED, RefundStatus::Succeeded),
        (DECLINED, RefundStatus::Declined),
    ] {
        let lookup = lookup_answered(200, body).await.unwrap();
        let Lookup::Found(refund) = lookup else {
            panic!("expected Found, got {lookup:?}");
        };
        assert_eq!(refund.status, status);
        assert_eq!(refund.reference, reference());
        assert_eq!(refund.payment_id, pay());
    }
    // refunded_amount > 0 without a refund object is a refund too.
    let body = format!(
        r#"{{"id":"{PAY}","amount":15000,"currency_code":"USD","refunded_amount":15000,"refund":null}}"#
    );
    let lookup = lookup_answered(200, &body).await.unwrap();
    assert!(
        matches!(lookup, Lookup::Found(r) if r.status == RefundStatus::Succeeded && r.amount == Some(usd(15000)))
    );
}

#[tokio::test]
async fn find_refund_proves_absence_only_with_our_payment_and_no_refund() {
    let absent = format!(
        r#"{{"id":"{PAY}","amount":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":0,"refund":null,"status_reason":null}}"#
    );
    assert_eq!(lookup_answered(200, &absent).await.unwrap(), Lookup::Absent);
    let no_fields = format!(r#"{{"id":"{PAY}","amount":15000}}"#);
    assert_eq!(
        lookup_answered(200, &no_fields).await.unwrap(),
        Lookup::Absent
    );

    for body in [
        r#"{"amount":15000,"refunded_amount":0,"refund":null}"#.to_owned(),
        "{}".to_owned(),
        absent.replace(PAY, "pay_someone_else"),
    ] {
        let lookup = lookup_answered(200, &body).await.unwrap();
        assert!(
            matches!(lookup, Lookup::Inconclusive(_)),
            "{body}: {lookup:?}"
        );
    }
}

#[tokio::test]
async fn a_404_lookup_is_inconclusive_whatever_its_body() {
    for body in [ERROR_404, "", "<html>Not Found</html>"] {
        let lookup = lookup_answered(404, body).await.unwrap();
        assert!(
            matches!(lookup, Lookup::Inconclusive(_)),
            "{body}: {lookup:?}"
        );
    }
}

#[tokio::test]
async fn failed_lookups_are_errors() {
    for (status, kind) in [
        (401, ErrorKind::Auth),
        (403, ErrorKind::Auth),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::Provider),
        (503, ErrorKind::Provider),
    ] {
        let e = lookup_answered(status, "{}").await.unwrap_err();
        assert_eq!(e.kind(), kind, "{status}");
        assert_eq!(e.reference(), Some(&reference()));
        assert_eq!(e.payment_id(), Some(&pay()));
    }
}

// ---------------------------------------------------------------------------------------------
// Transport failures

#[tokio::test]
async fn a_timeout_after_sending_a_refund_is_outcome_unknown() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path(REFUND_PATH);
            then.status(200)
                .body(SUCCEEDED)
                .delay(Duration::from_secs(3));
        })
        .await;
    let client = Client::builder(KEY)
        .base_url(server.base_url())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let e = client.refund(&full_refund()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    assert!(e.may_have_reached_provider());
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_refused_connection_never_reached_paynext() {
    // Bind, note the port, close: nothing listens there any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = client_for(format!("http://127.0.0.1:{port}"));
    let e = client.refund(&full_refund()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e:?}");
    assert!(!e.may_have_reached_provider());
    assert!(e.is_retryable());
    let e = client.find_refund(&query()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
}

#[tokio::test]
async fn a_connection_dropped_after_the_refund_was_sent_is_outcome_unknown() {
    let (port, head) = raw_server(|mut stream| async move {
        let head = read_request(&mut stream).await;
        drop(stream);
        head
    })
    .await;
    let e = client_for(format!("http://127.0.0.1:{port}"))
        .refund(&full_refund())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    assert!(head.await.unwrap().starts_with("POST /payments/refund/"));
}

// ---------------------------------------------------------------------------------------------
// Snapshots of what goes on the wire

/// A one-connection TCP server on 127.0.0.1, bound before this returns (no waiting for
/// readiness). The handler's result comes back through the receiver.
async fn raw_server<F, Fut, T>(handler: F) -> (u16, tokio::sync::oneshot::Receiver<T>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = tx.send(handler(stream).await);
    });
    (port, rx)
}

/// Reads a request: its head and as many body bytes as `Content-Length` says.
async fn read_request(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        data.push(byte[0]);
    }
    let head = String::from_utf8(data).unwrap();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    head + &String::from_utf8(body).unwrap()
}

/// Sends one call to a raw server answering 200 `body`, and returns the request as received,
/// headers sorted, with the port and the key replaced by placeholders (after checking the key).
async fn captured<F, Fut, T>(body: &'static str, call: F) -> (String, T)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = T>,
{
    let (port, request) = raw_server(move |mut stream| async move {
        let request = read_request(&mut stream).await;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        request
    })
    .await;
    let result = call(client_for(format!("http://127.0.0.1:{port}"))).await;
    let request = request.await.unwrap();
    assert!(
        request.contains(&format!("\r\nauthorization: Bearer {KEY}\r\n")),
        "{request}"
    );
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap().to_owned();
    let mut headers: Vec<String> = lines
        .map(|l| {
            l.replace(KEY, "[redacted]")
                .replace(&port.to_string(), "PORT")
                .replace(env!("CARGO_PKG_VERSION"), "VERSION")
        })
        .collect();
    headers.sort();
    let text = format!(
        "{request_line}\n{}\n\nbody ({} bytes): {body}",
        headers.join("\n"),
        body.len()
    );
    assert!(!text.contains(KEY));
    (text, result)
}

#[tokio::test]
async fn snapshot_of_the_refund_request() {
    let (request, refund) = captured(SUCCEEDED, |client| async move {
        client.refund(&full_refund()).await
    })
    .await;
    assert!(request.contains("\ncontent-length: 0\n"), "{request}");
    assert!(!request.contains("content-type"), "{request}");
    assert!(request.ends_with("body (0 bytes): "), "{request}");
    insta::assert_snapshot!(request);
    assert_eq!(refund.unwrap().status, RefundStatus::Succeeded);
}

#[tokio::test]
async fn snapshot_of_the_lookup_request() {
    let (request, lookup) = captured(PENDING, |client| async move {
        client.find_refund(&query()).await
    })
    .await;
    assert!(
        request.starts_with("GET /payments/pay_e8a1b2c3"),
        "{request}"
    );
    assert!(request.contains("\nx-api-version: 1.0.0\n"), "{request}");
    insta::assert_snapshot!(request);
    assert!(matches!(lookup.unwrap(), Lookup::Found(_)));

    let (request, payment) = captured(
        PENDING,
        |client| async move { client.get_payment(&pay()).await },
    )
    .await;
    assert!(
        request.starts_with("GET /payments/pay_e8a1b2c3"),
        "{request}"
    );
    assert!(request.contains("\nx-api-version: 1.0.0\n"), "{request}");
    insta::assert_json_snapshot!("fixture_pending_payment", payment.unwrap());
}
