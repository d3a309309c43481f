//! Plexy's legacy `x-signature` callbacks (OBSERVED in Plexy's PHP SDK `src/Utils.php` and
//! WooCommerce plugin): known-answer signatures, the `pr_` key prefix, PHP's printing of
//! amounts, tampering, and how a flat callback becomes a refund event.
//!
//! Every expected signature was produced once, outside this code, with Python's standard
//! library and hard-coded here:
//!
//! ```text
//! python3 -c "import hmac,hashlib; print(hmac.new(KEY.encode(), TEXT.encode(), hashlib.sha256).hexdigest())"
//! ```
//!
//! with `KEY` the private key with every `pr_` removed and `TEXT` the concatenation given next
//! to each constant.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use refund_plexy::PlexyWebhookVerifier;
use refund_plexy::refund_core::http::HeaderMap;
use refund_plexy::refund_core::webhook::header_map;
use refund_plexy::refund_core::{
    Currency, Error, ErrorKind, Money, ProviderId, RefundEvent, RefundStatus, WebhookOutcome,
    WebhookVerifier,
};

/// The merchant's private key; the HMAC key is `test_SECRET_key`.
const PRIVATE_KEY: &str = "pr_test_SECRET_key";

/// A refund callback. Signed text `7d1f0c3a-refund-1` `10.5` `KZT` `rf-7f3c2b` `true`: PHP
/// prints the decoded `10.50` as `10.5`.
const REFUND: &str = r#"{"id":"7d1f0c3a-refund-1","amount":10.50,"currency":"KZT","orderReference":"rf-7f3c2b","success":true,"settled":true,"externalReference":"ext-1","paymentMethod":"card","type":"refund","parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#;
/// HMAC-SHA256(`test_SECRET_key`, `7d1f0c3a-refund-110.5KZTrf-7f3c2btrue`).
const REFUND_SIG: &str = "12a12da215bb3e13a9cef4701e02b8a256978c7de018325b0ce9b16756fb0ab8";

/// A payment callback (not a refund). Signed text `pay-1200KZTORDER-784512false`.
const PAYMENT: &str = r#"{"id":"pay-1","amount":200,"currency":"KZT","orderReference":"ORDER-784512","success":false,"settled":false,"externalReference":"ext-2","paymentMethod":"card"}"#;
/// HMAC-SHA256(`test_SECRET_key`, `pay-1200KZTORDER-784512false`).
const PAYMENT_SIG: &str = "d586aeba089667c5a230b944bae66a4420fc3a19502b015d4ef04cd6a9577d9d";

/// HMAC-SHA256(`test_SECRET_key`, `9a1d-refund-2200USDrf-full-9false`): the amount `200.00`
/// (a float in PHP) and `200` (an integer) both print as `200`.
const DECLINED_SIG: &str = "e19d74c6973485b43bdf73eba3067429dae807a63fe4a98ce9a03abc0e7e432c";

/// HMAC-SHA256(`abcdef`, `7d1f0c3a-refund-110.5KZTrf-7f3c2btrue`): the body of [`REFUND`] with
/// the private key `pr_abcpr_def`, whose every `pr_` is removed.
const DOUBLE_PREFIX_SIG: &str = "eddc43e0ec01cdbc990b5a3770bc840f7e11a2090948c1c864ba82929c818e47";

/// HMAC-SHA256(`test_SECRET_key`, `false`): a body with no signed value but `success`.
const EMPTY_SIG: &str = "f50045a4edf228225d7f8e3b8439b200164c458ec7e5cd78bb08fbfca2ebb862";

/// HMAC-SHA256(`test_SECRET_key`, `r-31false`).
const ENVELOPE_SIG: &str = "68fad3766fef6d5728a63180244006ea6e76876049498aedfc404fb1c175319e";

fn verifier() -> PlexyWebhookVerifier {
    PlexyWebhookVerifier::legacy_signature(PRIVATE_KEY).unwrap()
}

fn signed(signature: &str) -> HeaderMap {
    header_map([("x-signature", signature)]).unwrap()
}

fn deliver(body: &str, signature: &str) -> Result<WebhookOutcome, Error> {
    verifier().verify(&signed(signature), body.as_bytes(), None)
}

fn event(outcome: WebhookOutcome) -> RefundEvent {
    match outcome {
        WebhookOutcome::Event(e) => e,
        other => panic!("expected a refund event, got {other:?}"),
    }
}

/// Asserts the kind, the provider, and that neither the key nor the signature is shown.
fn refused(result: Result<WebhookOutcome, Error>, kind: ErrorKind) -> Error {
    let e = result.expect_err("the delivery must be refused");
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.provider(), Some(&ProviderId::PLEXY));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(!shown.contains(&REFUND_SIG[..16]), "{shown}");
    e
}

#[test]
fn a_valid_signature_gives_the_refund_event() {
    let e = event(deliver(REFUND, REFUND_SIG).unwrap());
    assert_eq!(e.provider, ProviderId::PLEXY);
    assert_eq!(e.event_type, "callback");
    assert_eq!(e.delivery_id, "7d1f0c3a-refund-1|true|10.5");
    assert_eq!(e.status, RefundStatus::Succeeded);
    assert_eq!(e.refund_id.unwrap().as_str(), "7d1f0c3a-refund-1");
    assert_eq!(
        e.payment_id.unwrap().as_str(),
        "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"
    );
    assert_eq!(e.reference.unwrap().as_str(), "rf-7f3c2b");
    assert_eq!(
        e.amount,
        Some(Money::parse("10.50", Currency::KZT).unwrap())
    );
    assert_eq!(e.raw_status, None);
}

#[test]
fn uppercase_hex_and_surrounding_space_are_accepted() {
    assert!(deliver(REFUND, &REFUND_SIG.to_uppercase()).is_ok());
    assert!(deliver(REFUND, &format!(" {REFUND_SIG} ")).is_ok());
}

#[test]
fn a_wrong_missing_or_repeated_signature_is_refused() {
    let mut wrong = REFUND_SIG.to_owned();
    wrong.replace_range(..1, "0");
    for signature in [
        wrong.as_str(),
        PAYMENT_SIG,
        "",
        "not hex at all",
        &REFUND_SIG[..62],
        &format!("{REFUND_SIG}00"),
        &format!("sha256={REFUND_SIG}"),
        &REFUND_SIG.replace('a', "g"),
    ] {
        refused(deliver(REFUND, signature), ErrorKind::WebhookAuth);
    }
    refused(
        verifier().verify(&HeaderMap::new(), REFUND.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    // A bearer token is not a signature.
    let bearer = header_map([("authorization", format!("Bearer {REFUND_SIG}"))]).unwrap();
    refused(
        verifier().verify(&bearer, REFUND.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    let twice = header_map([("x-signature", REFUND_SIG), ("X-Signature", REFUND_SIG)]).unwrap();
    refused(
        verifier().verify(&twice, REFUND.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    // The right signature under another key.
    let other = PlexyWebhookVerifier::legacy_signature("pr_other_key").unwrap();
    refused(
        other.verify(&signed(REFUND_SIG), REFUND.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
}

#[test]
fn a_tampered_signed_field_is_refused() {
    for (from, to) in [
        ("\"amount\":10.50", "\"amount\":10.60"),
        ("\"amount\":10.50", "\"amount\":105.0"),
        ("\"amount\":10.50", "\"amount\":\"10.50\""),
        ("7d1f0c3a-refund-1", "7d1f0c3a-refund-2"),
        ("\"currency\":\"KZT\"", "\"currency\":\"USD\""),
        ("rf-7f3c2b", "rf-7f3c2c"),
        ("\"success\":true", "\"success\":false"),
        ("\"success\":true", "\"success\":0"),
        // A second value for a signed field: refused rather than guessing which was signed.
        ("\"currency\":\"KZT\"", "\"currency\":\"KZT\",\"amount\":99"),
    ] {
        let body = REFUND.replacen(from, to, 1);
        assert_ne!(body, REFUND);
        refused(deliver(&body, REFUND_SIG), ErrorKind::WebhookAuth);
    }
    refused(deliver("not json", REFUND_SIG), ErrorKind::WebhookAuth);
    refused(deliver("[1,2]", REFUND_SIG), ErrorKind::WebhookAuth);
    refused(deliver("", REFUND_SIG), ErrorKind::WebhookAuth);
}

/// What the scheme does not protect, pinned so that a change is deliberate: another spelling of
/// the same PHP value, and the unsigned fields.
#[test]
fn only_the_five_fields_are_signed() {
    for (from, to) in [
        ("\"amount\":10.50", "\"amount\":10.5"),
        ("\"amount\":10.50", "\"amount\":1.050e1"),
        ("\"success\":true", "\"success\":1"),
        ("\"success\":true", "\"success\":\"yes\""),
        ("\"settled\":true", "\"settled\":false"),
    ] {
        let body = REFUND.replacen(from, to, 1);
        let e = event(deliver(&body, REFUND_SIG).unwrap());
        assert_eq!(e.status, RefundStatus::Succeeded, "{body}");
        assert_eq!(
            e.amount,
            Some(Money::parse("10.50", Currency::KZT).unwrap())
        );
    }
    // `status` is not signed: the signed `success` decides.
    let body = REFUND.replacen("\"type\"", "\"status\":\"rejected\",\"type\"", 1);
    let e = event(deliver(&body, REFUND_SIG).unwrap());
    assert_eq!(e.status, RefundStatus::Succeeded);
    assert_eq!(e.raw_status.as_deref(), Some("rejected"));
}

#[test]
fn the_pr_prefix_is_removed_everywhere_in_the_key() {
    let v = PlexyWebhookVerifier::legacy_signature("pr_abcpr_def").unwrap();
    assert!(
        v.verify(&signed(DOUBLE_PREFIX_SIG), REFUND.as_bytes(), None)
            .is_ok()
    );
    // Without the prefix the key is the same.
    let v = PlexyWebhookVerifier::legacy_signature("abcdef").unwrap();
    assert!(
        v.verify(&signed(DOUBLE_PREFIX_SIG), REFUND.as_bytes(), None)
            .is_ok()
    );
    // The prefix is not part of the HMAC key.
    let v = PlexyWebhookVerifier::legacy_signature("test_SECRET_key").unwrap();
    assert!(
        v.verify(&signed(REFUND_SIG), REFUND.as_bytes(), None)
            .is_ok()
    );
    for empty in ["", "pr_", "pr_pr_"] {
        let e = PlexyWebhookVerifier::legacy_signature(empty).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.provider(), Some(&ProviderId::PLEXY));
    }
}

#[test]
fn amounts_are_signed_as_php_prints_them() {
    // `200.00` is the float 200.0 in PHP, printed `200`; `200` is an integer, printed `200`.
    for amount in ["200.00", "200", "200.0", "2e2", "2.000E+2"] {
        let body = format!(
            r#"{{"id":"9a1d-refund-2","amount":{amount},"currency":"USD","orderReference":"rf-full-9","success":false,"type":"refund","originalTransactionId":{{"Value":"pay-9"}}}}"#
        );
        let e = event(deliver(&body, DECLINED_SIG).unwrap_or_else(|e| panic!("{amount}: {e}")));
        assert_eq!(e.status, RefundStatus::Declined);
        assert_eq!(e.delivery_id, "9a1d-refund-2|false|200");
        assert_eq!(e.payment_id.unwrap().as_str(), "pay-9");
        assert_eq!(
            e.amount,
            Some(Money::parse("200.00", Currency::USD).unwrap())
        );
    }
    // A string is printed as is: "200.00" is not "200".
    let body = r#"{"id":"9a1d-refund-2","amount":"200.00","currency":"USD","orderReference":"rf-full-9","success":false,"type":"refund"}"#;
    refused(deliver(body, DECLINED_SIG), ErrorKind::WebhookAuth);
    // More digits than PHP prints (precision 14): refused rather than guessed.
    let body = REFUND.replacen("10.50", "10.500000000000001", 1);
    let e = refused(deliver(&body, REFUND_SIG), ErrorKind::WebhookAuth);
    assert!(e.message().contains("another form"), "{e}");
}

#[test]
fn payment_callbacks_are_ignored() {
    let outcome = deliver(PAYMENT, PAYMENT_SIG).unwrap();
    assert_eq!(
        outcome,
        WebhookOutcome::ignored(
            ProviderId::PLEXY,
            "callback",
            Some("pay-1|false|200".to_owned())
        )
    );
    // A refund marker without any status is ignored too.
    let body = r#"{"id":"r-3","amount":1,"type":"refund"}"#;
    assert!(matches!(
        deliver(body, ENVELOPE_SIG).unwrap(),
        WebhookOutcome::Ignored { .. }
    ));
    // ... and with `status` only, the status decides.
    let body = r#"{"id":"r-3","amount":1,"type":"refund","status":"refunded"}"#;
    let e = event(deliver(body, ENVELOPE_SIG).unwrap());
    assert_eq!(e.status, RefundStatus::Succeeded);
    assert_eq!(e.amount, None, "no currency");
    assert_eq!(e.reference, None);
}

#[test]
fn an_envelope_is_read_as_with_a_bearer_token() {
    let body = r#"{"id":"r-3","amount":1,"name":"transaction.refunded","merchantId":"123456","data":{"id":"3f8c","type":"refund","status":"refunded","amount":10.50,"currency":"KZT","merchantReference":"rf-7f3c2b","parentTransactionId":{"Value":"1c4b"},"updatedAt":"2025-12-15T07:41:24Z"}}"#;
    let e = event(deliver(body, ENVELOPE_SIG).unwrap());
    assert_eq!(e.event_type, "transaction.refunded");
    assert_eq!(e.refund_id.unwrap().as_str(), "3f8c");
    assert_eq!(
        e.delivery_id,
        "3f8c|transaction.refunded|2025-12-15T07:41:24Z"
    );
}

#[test]
fn a_signature_that_covers_no_id_is_refused() {
    // Correctly signed, but the signed text is only `false`: it would authenticate any body
    // without those fields.
    let e = refused(
        deliver(r#"{"success":false,"type":"refund"}"#, EMPTY_SIG),
        ErrorKind::WebhookAuth,
    );
    assert!(e.message().contains("no transaction id"), "{e}");
}

#[test]
fn the_key_never_prints() {
    let v = verifier();
    let shown = format!("{v:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("legacy x-signature"), "{shown}");
    let bearer = PlexyWebhookVerifier::new("whtok_SECRET").unwrap();
    assert!(!format!("{bearer:?}").contains("SECRET"));
    let dynamic: &dyn WebhookVerifier = &v;
    assert_eq!(dynamic.provider(), ProviderId::PLEXY);
    assert!(
        dynamic
            .verify(&signed(REFUND_SIG), REFUND.as_bytes(), None)
            .is_ok()
    );
}
