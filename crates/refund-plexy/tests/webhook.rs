//! Plexy webhooks (contract §4.1): the bearer token (right, wrong, missing), ids plain or wrapped
//! as `{"Value": …}`, and deliveries read into refund events with the status of a refund
//! transaction (§1.4).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use refund_plexy::PlexyWebhookVerifier;
use refund_plexy::refund_core::http::{HeaderMap, HeaderName, HeaderValue};
use refund_plexy::refund_core::webhook::header_map;
use refund_plexy::refund_core::{
    Currency, Error, ErrorKind, Money, ProviderId, RefundEvent, RefundStatus, WebhookOutcome,
    WebhookVerifier,
};

const TOKEN: &str = "plexy_whtok_TOPSECRET_77";
const REFUND: &str = "3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2";
const ORIGINAL: &str = "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae";

/// The example of §4.1, byte for byte.
const EXAMPLE: &str = r#"{"name":"transaction.refunded","merchantId":"123456","data":{"id":"3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2","type":"refund","status":"refunded","amount":10.50,"currency":"KZT","merchantReference":"rf-7f3c2b","parentTransactionId":{"Value":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"},"createdAt":"2025-12-15T07:41:24Z","updatedAt":"2025-12-15T07:41:24Z"}}"#;

fn verifier() -> PlexyWebhookVerifier {
    PlexyWebhookVerifier::new(TOKEN).unwrap()
}

fn bearer(value: &str) -> HeaderMap {
    header_map([("authorization", value)]).unwrap()
}

fn authorized() -> HeaderMap {
    bearer(&format!("Bearer {TOKEN}"))
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

/// Asserts the error's kind and that it names the provider and never shows the token.
fn assert_error(result: Result<WebhookOutcome, Error>, kind: ErrorKind) -> Error {
    let e = result.expect_err("the delivery must be refused");
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.provider(), Some(&ProviderId::PLEXY));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("TOPSECRET"), "{shown}");
    assert!(!shown.contains("wrong_token"), "{shown}");
    e
}

fn kzt(text: &str) -> Money {
    Money::parse(text, Currency::KZT).unwrap()
}

/// A delivery with the example's envelope around `data`.
fn with_data(name: &str, data: &str) -> String {
    format!(r#"{{"name":"{name}","merchantId":"123456","data":{data}}}"#)
}

#[test]
fn the_contract_example_with_the_right_token() {
    let e = event(deliver(EXAMPLE).unwrap());
    assert_eq!(e.provider, ProviderId::PLEXY);
    assert_eq!(e.event_type, "transaction.refunded");
    assert_eq!(
        e.delivery_id,
        format!("{REFUND}|transaction.refunded|2025-12-15T07:41:24Z")
    );
    assert_eq!(e.refund_id.unwrap().as_str(), REFUND);
    assert_eq!(
        e.payment_id.unwrap().as_str(),
        ORIGINAL,
        "unwrapped from {{\"Value\": …}}"
    );
    assert_eq!(e.reference.unwrap().as_str(), "rf-7f3c2b");
    assert_eq!(e.status, RefundStatus::Succeeded);
    assert_eq!(e.amount, Some(kzt("10.50")));
    assert_eq!(e.raw_status.as_deref(), Some("refunded"));
    assert_eq!(e.occurred_at.as_deref(), Some("2025-12-15T07:41:24Z"));
}

#[test]
fn the_scheme_is_case_insensitive_and_the_token_exact() {
    for value in [
        format!("bearer {TOKEN}"),
        format!("BEARER {TOKEN}"),
        format!("Bearer  {TOKEN}"),
    ] {
        assert!(
            verifier()
                .verify(&bearer(&value), EXAMPLE.as_bytes(), None)
                .is_ok(),
            "{value}"
        );
    }
}

#[test]
fn a_wrong_token_is_refused() {
    for value in [
        "Bearer wrong_token".to_owned(),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", TOKEN.to_lowercase()),
        "Bearer ".to_owned(),
        // The raw token without the scheme, or another scheme.
        TOKEN.to_owned(),
        format!("Basic {TOKEN}"),
        format!("Token {TOKEN}"),
        format!("Bearer{TOKEN}"),
    ] {
        assert_error(
            verifier().verify(&bearer(&value), EXAMPLE.as_bytes(), None),
            ErrorKind::WebhookAuth,
        );
    }
    // A verifier configured with another token refuses the right delivery.
    let other = PlexyWebhookVerifier::new("wrong_token").unwrap();
    assert_error(
        other.verify(&authorized(), EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
}

#[test]
fn a_missing_or_repeated_header_is_refused() {
    let e = assert_error(
        verifier().verify(&HeaderMap::new(), EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    assert!(e.to_string().contains("Authorization"), "{e}");
    let mut other = HeaderMap::new();
    other.insert("x-plexy-token", HeaderValue::from_static(TOKEN));
    assert_error(
        verifier().verify(&other, EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    let mut twice = authorized();
    twice.append(
        HeaderName::from_static("authorization"),
        HeaderValue::from_static("Bearer wrong_token"),
    );
    assert_error(
        verifier().verify(&twice, EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
}

#[test]
fn authentication_comes_before_parsing() {
    assert_error(
        verifier().verify(&bearer("Bearer wrong_token"), b"not json", None),
        ErrorKind::WebhookAuth,
    );
    assert_error(deliver("not json"), ErrorKind::WebhookMalformed);
}

#[test]
fn ids_plain_or_wrapped() {
    for (id, parent) in [
        (format!(r#""{REFUND}""#), format!(r#""{ORIGINAL}""#)),
        (
            format!(r#"{{"Value":"{REFUND}"}}"#),
            format!(r#"{{"Value":"{ORIGINAL}"}}"#),
        ),
        (
            format!(r#"{{"Value":"{REFUND}"}}"#),
            format!(r#""{ORIGINAL}""#),
        ),
    ] {
        let body = with_data(
            "transaction.refunded",
            &format!(
                r#"{{"id":{id},"type":"refund","status":"refunded","amount":10.50,"currency":"KZT","parentTransactionId":{parent},"updatedAt":"2025-12-15T07:41:24Z"}}"#
            ),
        );
        let e = event(deliver(&body).unwrap());
        assert_eq!(e.refund_id.unwrap().as_str(), REFUND, "{body}");
        assert_eq!(e.payment_id.unwrap().as_str(), ORIGINAL, "{body}");
        assert_eq!(
            e.delivery_id,
            format!("{REFUND}|transaction.refunded|2025-12-15T07:41:24Z")
        );
    }
    // The OBSERVED field spellings of §1.4 are read too.
    let body = with_data(
        "transaction.refunded",
        &format!(
            r#"{{"transactionId":{{"Value":"{REFUND}"}},"type":"refund","status":"TRANSACTION_STATUS_REFUNDED","orderReference":"rf-1","originalTransactionId":{{"Value":"{ORIGINAL}"}}}}"#
        ),
    );
    let e = event(deliver(&body).unwrap());
    assert_eq!(e.refund_id.unwrap().as_str(), REFUND);
    assert_eq!(e.payment_id.unwrap().as_str(), ORIGINAL);
    assert_eq!(e.reference.unwrap().as_str(), "rf-1");
    assert_eq!(e.status, RefundStatus::Succeeded);
    assert_eq!(e.delivery_id, format!("{REFUND}|transaction.refunded|"));
}

#[test]
fn status_of_every_refund_transaction_status() {
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
        ("something_new", RefundStatus::Pending),
    ] {
        // A refund event by `data.type`, whatever the name.
        let body = with_data(
            &format!("transaction.{status}"),
            &format!(r#"{{"id":"{REFUND}","type":"refund","status":"{status}"}}"#),
        );
        let e = event(deliver(&body).unwrap());
        assert_eq!(e.status, expected, "{status}");
        assert_eq!(e.raw_status.as_deref(), Some(status));
        assert_eq!(e.event_type, format!("transaction.{status}"));
    }
    // No status at all: pending.
    let body = with_data(
        "transaction.created",
        &format!(r#"{{"id":"{REFUND}","type":"REFUND"}}"#),
    );
    assert_eq!(event(deliver(&body).unwrap()).status, RefundStatus::Pending);
}

#[test]
fn a_refunded_payment_names_the_payment() {
    let body = with_data(
        "transaction.refunded",
        &format!(
            r#"{{"id":"{ORIGINAL}","type":"payment","status":"refunded","amount":200.00,"currency":"KZT","merchantReference":"ORDER-784512","updatedAt":"2025-12-15T07:41:24Z"}}"#
        ),
    );
    let e = event(deliver(&body).unwrap());
    assert_eq!(e.payment_id.unwrap().as_str(), ORIGINAL);
    assert_eq!(e.refund_id, None);
    assert_eq!(
        e.reference, None,
        "the payment's own order reference is not ours"
    );
    assert_eq!(e.amount, None, "the payment's amount is not the refund's");
    assert_eq!(e.status, RefundStatus::Succeeded);
}

#[test]
fn other_events_are_ignored() {
    let body = with_data(
        "transaction.charged",
        &format!(
            r#"{{"id":{{"Value":"{ORIGINAL}"}},"type":"payment","status":"charged","amount":"not even a number","updatedAt":"2025-12-15T07:30:00Z"}}"#
        ),
    );
    assert_eq!(
        deliver(&body).unwrap(),
        WebhookOutcome::ignored(
            ProviderId::PLEXY,
            "transaction.charged",
            Some(format!(
                "{ORIGINAL}|transaction.charged|2025-12-15T07:30:00Z"
            ))
        )
    );
    for body in [
        r#"{"name":"transaction.cancelled","data":{"type":"reversal"}}"#,
        r#"{"name":"merchant.updated"}"#,
        r#"{}"#,
    ] {
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
fn amounts_are_exact_major_units_of_the_events_currency() {
    for (amount, currency, expected) in [
        ("10.50", "KZT", Some(kzt("10.50"))),
        ("10.5", "KZT", Some(kzt("10.50"))),
        ("0.125", "KZT", Some(kzt("0.12"))),
        (
            "1000",
            "JPY",
            Some(Money::parse("1000", Currency::JPY).unwrap()),
        ),
        (
            "1.005",
            "KWD",
            Some(Money::parse("1.005", Currency::KWD).unwrap()),
        ),
    ] {
        let body = with_data(
            "transaction.refunded",
            &format!(
                r#"{{"id":"{REFUND}","type":"refund","status":"refunded","amount":{amount},"currency":"{currency}"}}"#
            ),
        );
        assert_eq!(
            event(deliver(&body).unwrap()).amount,
            expected,
            "{amount} {currency}"
        );
    }
    // Without a currency the amount is not guessed.
    let body = with_data(
        "transaction.refunded",
        &format!(r#"{{"id":"{REFUND}","type":"refund","status":"refunded","amount":10.50}}"#),
    );
    assert_eq!(event(deliver(&body).unwrap()).amount, None);
}

#[test]
fn refund_events_that_cannot_be_read_are_malformed() {
    for data in [
        r#"{"type":"refund","status":"refunded"}"#.to_owned(),
        format!(r#"{{"id":"{REFUND}","type":"refund","amount":"ten","currency":"KZT"}}"#),
        format!(r#"{{"id":"{REFUND}","type":"refund","amount":-1.00,"currency":"KZT"}}"#),
        format!(r#"{{"id":"{REFUND}","type":"refund","amount":1.00,"currency":"ZZZ"}}"#),
        r#"{"id":"","type":"refund"}"#.to_owned(),
        r#"{"id":42,"type":"refund"}"#.to_owned(),
        "null".to_owned(),
    ] {
        let body = with_data("transaction.refunded", &data);
        assert_error(deliver(&body), ErrorKind::WebhookMalformed);
    }
    for body in ["[]", "\"transaction.refunded\"", ""] {
        assert_error(deliver(body), ErrorKind::WebhookMalformed);
    }
}

#[test]
fn usable_as_a_trait_object() {
    let v: Box<dyn WebhookVerifier> = Box::new(verifier());
    assert_eq!(v.provider(), ProviderId::PLEXY);
    let outcome = v.verify(&authorized(), EXAMPLE.as_bytes(), None).unwrap();
    assert_eq!(outcome.event().unwrap().status, RefundStatus::Succeeded);
    assert!(!format!("{v:?}").contains("TOPSECRET"));
    assert_eq!(
        PlexyWebhookVerifier::new("").unwrap_err().kind(),
        ErrorKind::Config
    );
}
