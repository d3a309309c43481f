//! Payabli webhooks (contract §4.3): the merchant's header (right, wrong, missing), the optional
//! IP allow-list (on and off), string amounts, `RefundedPayment` in any case, and
//! `Client::confirm_event` re-querying Y-L1 on httpmock (127.0.0.1).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::IpAddr;

use httpmock::prelude::*;
use refund_payabli::refund_core::http::{HeaderMap, HeaderName, HeaderValue};
use refund_payabli::refund_core::webhook::header_map;
use refund_payabli::refund_core::{
    Currency, Error, ErrorKind, Money, ProviderId, RefundEvent, RefundId, RefundStatus,
    WebhookOutcome, WebhookVerifier,
};
use refund_payabli::{Client, PayabliWebhookVerifier};

const HEADER: &str = "X-Webhook-Token";
const VALUE: &str = "payabli_hook_TOPSECRET_99";
const REFUND: &str = "3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b";

/// The example of §4.3, byte for byte.
const EXAMPLE: &str = r#"{"Event":"RefundedPayment","Paypoint":"my-paypoint","Text":"Refunded Payment","transId":"3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b","NetAmount":"-10.50","Fee":"0.00","TotalAmount":"-10.50","transTime":"12/02/2025 09:50:03","Method":"card","ResultCode":"A0004","ResultCodeText":"Refunded"}"#;

fn verifier() -> PayabliWebhookVerifier {
    PayabliWebhookVerifier::new(HEADER, VALUE).unwrap()
}

fn with_header(name: &str, value: &str) -> HeaderMap {
    header_map([(name, value), ("content-type", "application/json")]).unwrap()
}

fn authorized() -> HeaderMap {
    with_header(HEADER, VALUE)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn event(outcome: WebhookOutcome) -> RefundEvent {
    match outcome {
        WebhookOutcome::Event(e) => e,
        other => panic!("expected a refund event, got {other:?}"),
    }
}

fn deliver(body: &str) -> Result<WebhookOutcome, Error> {
    verifier().verify(&authorized(), body.as_bytes(), None)
}

/// Asserts the error's kind and that it names the provider and never shows the header value.
fn assert_error(result: Result<WebhookOutcome, Error>, kind: ErrorKind) -> Error {
    let e = result.expect_err("the delivery must be refused");
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.provider(), Some(&ProviderId::PAYABLI));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("TOPSECRET"), "{shown}");
    assert!(!shown.contains("guess"), "{shown}");
    e
}

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

/// A RefundedPayment notification with `fields` added to the required ones.
fn refunded(fields: &str) -> String {
    format!(r#"{{"Event":"RefundedPayment","transId":"{REFUND}"{fields}}}"#)
}

#[test]
fn the_contract_example_with_the_right_header() {
    let e = event(deliver(EXAMPLE).unwrap());
    assert_eq!(e.provider, ProviderId::PAYABLI);
    assert_eq!(e.event_type, "RefundedPayment");
    assert_eq!(e.delivery_id, format!("{REFUND}|RefundedPayment"));
    assert_eq!(e.refund_id.unwrap().as_str(), REFUND);
    assert_eq!(e.payment_id, None, "the payload does not name the original");
    assert_eq!(e.reference, None);
    assert_eq!(e.status, RefundStatus::Succeeded);
    assert_eq!(e.amount, Some(usd("10.50")));
    assert_eq!(e.raw_status.as_deref(), Some("A0004"));
    assert_eq!(e.occurred_at.as_deref(), Some("12/02/2025 09:50:03"));
}

#[test]
fn the_header_name_matches_in_any_case() {
    for name in ["x-webhook-token", "X-WEBHOOK-TOKEN", HEADER] {
        assert!(
            verifier()
                .verify(&with_header(name, VALUE), EXAMPLE.as_bytes(), None)
                .is_ok(),
            "{name}"
        );
    }
    let lower = PayabliWebhookVerifier::new("x-webhook-token", VALUE).unwrap();
    assert!(
        lower
            .verify(&authorized(), EXAMPLE.as_bytes(), None)
            .is_ok()
    );
}

#[test]
fn a_wrong_value_is_refused() {
    for value in [
        "guess",
        &VALUE[..VALUE.len() - 1],
        &format!("{VALUE}0"),
        &VALUE.to_lowercase(),
        &format!("Bearer {VALUE}"),
    ] {
        let e = assert_error(
            verifier().verify(&with_header(HEADER, value), EXAMPLE.as_bytes(), None),
            ErrorKind::WebhookAuth,
        );
        assert!(e.to_string().contains("x-webhook-token"), "{e}");
    }
    // The right value under another header name is no good either.
    assert_error(
        verifier().verify(
            &with_header("X-Other-Token", VALUE),
            EXAMPLE.as_bytes(),
            None,
        ),
        ErrorKind::WebhookAuth,
    );
}

#[test]
fn a_missing_or_repeated_header_is_refused() {
    let e = assert_error(
        verifier().verify(&HeaderMap::new(), EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    assert!(
        e.to_string().contains("has no x-webhook-token header"),
        "{e}"
    );
    let mut twice = authorized();
    twice.append(
        HeaderName::from_static("x-webhook-token"),
        HeaderValue::from_static("guess"),
    );
    assert_error(
        verifier().verify(&twice, EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    // Authentication comes before parsing.
    assert_error(
        verifier().verify(&HeaderMap::new(), b"not json", None),
        ErrorKind::WebhookAuth,
    );
}

#[test]
fn ip_allow_list_on() {
    let v = verifier().allow_ips([ip("203.0.113.7"), ip("2001:db8::1")]);
    for peer in ["203.0.113.7", "2001:db8::1", "::ffff:203.0.113.7"] {
        assert!(
            v.verify(&authorized(), EXAMPLE.as_bytes(), Some(ip(peer)))
                .is_ok(),
            "{peer}"
        );
    }
    for peer in [
        "203.0.113.8",
        "127.0.0.1",
        "2001:db8::2",
        "::ffff:203.0.113.8",
    ] {
        let e = assert_error(
            v.verify(&authorized(), EXAMPLE.as_bytes(), Some(ip(peer))),
            ErrorKind::WebhookAuth,
        );
        assert!(e.to_string().contains("allow-list"), "{e}");
    }
    // An allowed peer still needs the header.
    assert_error(
        v.verify(
            &HeaderMap::new(),
            EXAMPLE.as_bytes(),
            Some(ip("203.0.113.7")),
        ),
        ErrorKind::WebhookAuth,
    );
    // Without a peer address the list cannot be checked; the header still is.
    assert!(v.verify(&authorized(), EXAMPLE.as_bytes(), None).is_ok());
    // An IPv4-mapped entry in the list matches the plain IPv4 peer.
    let mapped = verifier().allow_ips([ip("::ffff:198.51.100.1")]);
    assert!(
        mapped
            .verify(&authorized(), EXAMPLE.as_bytes(), Some(ip("198.51.100.1")))
            .is_ok()
    );
    // An empty list refuses every known peer.
    let empty = verifier().allow_ips([]);
    assert_error(
        empty.verify(&authorized(), EXAMPLE.as_bytes(), Some(ip("203.0.113.7"))),
        ErrorKind::WebhookAuth,
    );
}

#[test]
fn ip_allow_list_off() {
    for peer in [Some(ip("203.0.113.8")), Some(ip("::1")), None] {
        assert!(
            verifier()
                .verify(&authorized(), EXAMPLE.as_bytes(), peer)
                .is_ok(),
            "{peer:?}"
        );
    }
}

#[test]
fn string_amounts_in_major_units() {
    for (fields, expected) in [
        (r#","TotalAmount":"-10.50""#, Some(usd("10.50"))),
        (r#","TotalAmount":"100.00""#, Some(usd("100.00"))),
        (r#","TotalAmount":"-0.05""#, Some(usd("0.05"))),
        (r#","TotalAmount":"-7""#, Some(usd("7.00"))),
        (r#","TotalAmount":" -10.5 ""#, Some(usd("10.50"))),
        // Beyond the currency's digits: half-to-even (§0.3).
        (r#","TotalAmount":"-1.005""#, Some(usd("1.00"))),
        (r#","TotalAmount":"-1.015""#, Some(usd("1.02"))),
        // A JSON number is read as well.
        (r#","TotalAmount":-10.50"#, Some(usd("10.50"))),
        // Without TotalAmount, NetAmount.
        (r#","NetAmount":"-9.99""#, Some(usd("9.99"))),
        (
            r#","NetAmount":"-9.99","TotalAmount":"-10.50""#,
            Some(usd("10.50")),
        ),
        ("", None),
        (r#","TotalAmount":null"#, None),
    ] {
        let body = refunded(&format!(r#"{fields},"ResultCode":"A0004""#));
        assert_eq!(event(deliver(&body).unwrap()).amount, expected, "{body}");
    }
    for bad in [r#""ten""#, r#""10,50""#, r#""""#, "true"] {
        let body = refunded(&format!(r#","TotalAmount":{bad}"#));
        assert_error(deliver(&body), ErrorKind::WebhookMalformed);
    }
}

#[test]
fn amounts_in_the_paypoints_currency() {
    let v = verifier().currency(Currency::JPY);
    let e = event(
        v.verify(
            &authorized(),
            refunded(r#","TotalAmount":"-1000""#).as_bytes(),
            None,
        )
        .unwrap(),
    );
    assert_eq!(e.amount, Some(Money::parse("1000", Currency::JPY).unwrap()));
}

#[test]
fn status_from_the_result_code() {
    for (code, status) in [
        (r#""A0004""#, RefundStatus::Succeeded),
        (r#""A0000""#, RefundStatus::Succeeded),
        (r#""A0010""#, RefundStatus::Succeeded),
        (r#""A0001""#, RefundStatus::Pending),
        (r#""A0050""#, RefundStatus::Pending),
        (r#""D0100""#, RefundStatus::Declined),
        (r#""D2999""#, RefundStatus::Declined),
        (r#""E9999""#, RefundStatus::Declined),
        (r#""A4""#, RefundStatus::Pending),
        ("null", RefundStatus::Pending),
    ] {
        let body = refunded(&format!(r#","ResultCode":{code}"#));
        let e = event(deliver(&body).unwrap());
        assert_eq!(e.status, status, "{code}");
        assert_eq!(
            e.raw_status.as_deref(),
            (code != "null").then(|| code.trim_matches('"')),
        );
    }
}

#[test]
fn the_event_and_field_names_match_in_any_case() {
    for body in [
        format!(r#"{{"Event":"refundedpayment","transId":"{REFUND}","ResultCode":"A0004"}}"#),
        format!(
            r#"{{"event":"REFUNDEDPAYMENT","TransID":"{REFUND}","resultcode":"A0004","totalamount":"-1.00"}}"#
        ),
        format!(r#"{{"EVENT":"RefundedPayment","transid":"{REFUND}","RESULTCODE":"A0004"}}"#),
    ] {
        let e = event(deliver(&body).unwrap());
        assert_eq!(e.refund_id.as_ref().unwrap().as_str(), REFUND, "{body}");
        assert_eq!(e.status, RefundStatus::Succeeded, "{body}");
        // The delivery id uses the canonical event name, so redeliveries in another case match.
        assert_eq!(e.delivery_id, format!("{REFUND}|RefundedPayment"));
    }
}

#[test]
fn other_events_are_ignored() {
    let body =
        format!(r#"{{"Event":"ApprovedPayment","transId":"{REFUND}","TotalAmount":"oops"}}"#);
    assert_eq!(
        deliver(&body).unwrap(),
        WebhookOutcome::ignored(
            ProviderId::PAYABLI,
            "ApprovedPayment",
            Some(format!("{REFUND}|ApprovedPayment"))
        )
    );
    for body in [r#"{"Event":"BatchClosed"}"#, r#"{"Paypoint":"x"}"#, "{}"] {
        let outcome = deliver(body).unwrap();
        assert!(
            matches!(
                outcome,
                WebhookOutcome::Ignored {
                    delivery_id: None,
                    ..
                }
            ),
            "{body}: {outcome:?}"
        );
    }
}

#[test]
fn refund_events_that_cannot_be_read_are_malformed() {
    for body in [
        r#"{"Event":"RefundedPayment"}"#,
        r#"{"Event":"RefundedPayment","transId":""}"#,
        r#"{"Event":"RefundedPayment","transId":42}"#,
        r#"{"Event":"RefundedPayment","transId":"x","ResultCode":4}"#,
        "not json",
        "[]",
    ] {
        assert_error(deliver(body), ErrorKind::WebhookMalformed);
    }
}

#[test]
fn usable_as_a_trait_object() {
    let v: Box<dyn WebhookVerifier> = Box::new(verifier().allow_ips([ip("203.0.113.7")]));
    assert_eq!(v.provider(), ProviderId::PAYABLI);
    assert!(
        v.verify(&authorized(), EXAMPLE.as_bytes(), Some(ip("203.0.113.7")))
            .is_ok()
    );
    assert!(!format!("{v:?}").contains("TOPSECRET"));
}

// ---------------------------------------------------------------------------------------------
// confirm_event: Y-L1 on the transId

const API_TOKEN: &str = "payabli_api_TOPSECRET_token";
const DETAILS_PATH: &str = "/api/MoneyIn/details/3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b";

fn client(server: &MockServer) -> Client {
    Client::builder(API_TOKEN)
        .base_url(format!("http://127.0.0.1:{}/api", server.port()))
        .build()
        .unwrap()
}

fn refund_record(trans_status: i64, operation: &str) -> String {
    format!(
        r#"{{"PaymentTransId":"{REFUND}","Operation":"{operation}","TotalAmount":-10.50,"TransStatus":{trans_status},"SettlementStatus":0,"RefundId":0,"PaymentData":{{"paymentDetails":{{"totalAmount":-10.50,"serviceFee":0,"currency":"USD"}}}}}}"#
    )
}

/// The webhook's event, but pending (as a first notification may say).
fn pending_event() -> RefundEvent {
    let body = refunded(r#","TotalAmount":"-10.50","ResultCode":"A0001""#);
    let e = event(deliver(&body).unwrap());
    assert_eq!(e.status, RefundStatus::Pending);
    e
}

#[tokio::test]
async fn confirm_event_adopts_the_lookup() {
    let server = MockServer::start_async().await;
    for (trans_status, status) in [
        (1, RefundStatus::Succeeded),
        (10, RefundStatus::Pending),
        (11, RefundStatus::Pending),
        (2, RefundStatus::Declined),
        (-1, RefundStatus::Declined),
    ] {
        let mock = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(DETAILS_PATH)
                    .header("requestToken", API_TOKEN);
                then.status(200)
                    .header("content-type", "application/json")
                    .body(refund_record(trans_status, "Refund"));
            })
            .await;
        let event = pending_event();
        let confirmed = client(&server).confirm_event(&event).await.unwrap();
        mock.assert_async().await;
        assert_eq!(confirmed.status, status, "TransStatus {trans_status}");
        assert_eq!(
            confirmed.raw_status,
            Some(format!("TransStatus {trans_status}"))
        );
        assert_eq!(confirmed.amount, Some(usd("10.50")));
        assert_eq!(confirmed.delivery_id, event.delivery_id);
        assert_eq!(confirmed.refund_id, event.refund_id);
        mock.delete_async().await;
    }
}

#[tokio::test]
async fn confirm_event_refuses_doubtful_answers() {
    let server = MockServer::start_async().await;
    // Not a refund: the transId named a sale.
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(DETAILS_PATH);
            then.status(200)
                .header("content-type", "application/json")
                .body(refund_record(1, "Sale"));
        })
        .await;
    let e = client(&server)
        .confirm_event(&pending_event())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    assert!(e.to_string().contains("not a refund"), "{e}");
    mock.delete_async().await;

    // No TransStatus that names an outcome.
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(DETAILS_PATH);
            then.status(200)
                .header("content-type", "application/json")
                .body(refund_record(42, "Refund"));
        })
        .await;
    let e = client(&server)
        .confirm_event(&pending_event())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    mock.delete_async().await;

    // Another transaction's record.
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(DETAILS_PATH);
            then.status(200)
                .header("content-type", "application/json")
                .body(refund_record(1, "Refund").replace(REFUND, "3040-other"));
        })
        .await;
    let e = client(&server)
        .confirm_event(&pending_event())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    mock.delete_async().await;

    // A lookup error comes through as it is.
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(DETAILS_PATH);
            then.status(404).body("{}");
        })
        .await;
    let e = client(&server)
        .confirm_event(&pending_event())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    mock.assert_async().await;
    assert!(!format!("{e} {e:?}").contains("TOPSECRET"));
}

#[tokio::test]
async fn confirm_event_needs_a_payabli_refund_id() {
    let server = MockServer::start_async().await;
    let c = client(&server);
    let other = RefundEvent::new(
        ProviderId::PLEXY,
        "transaction.refunded",
        "d",
        RefundStatus::Pending,
    )
    .with_refund_id(RefundId::new(REFUND).unwrap());
    assert_eq!(
        c.confirm_event(&other).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let no_id = RefundEvent::new(
        ProviderId::PAYABLI,
        "RefundedPayment",
        "d",
        RefundStatus::Pending,
    );
    assert_eq!(
        c.confirm_event(&no_id).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}
