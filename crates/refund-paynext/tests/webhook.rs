//! PayNext webhooks (contract §4.2): the Svix scheme against known answers computed outside the
//! code under test, every way a delivery can fail authentication or freshness, and the payload
//! read into refund events exactly as refund answers are read (§2.4).
//!
//! The signatures below were computed once with Python's standard library
//! (`base64.b64encode(hmac.new(base64.b64decode(secret[6:]), f"{id}.{ts}.".encode() + body,
//! hashlib.sha256).digest())`). The first is Svix's own published example. Deliveries with other
//! timestamps or bodies are signed by [`svix_sign`], a second HMAC implementation written here
//! from RFC 2104 over the `sha2` hash (not the `hmac` crate the verifier uses), which is itself
//! checked against those Python answers first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use refund_paynext::PayNextWebhookVerifier;
use refund_paynext::refund_core::http::{HeaderMap, HeaderName, HeaderValue};
use refund_paynext::refund_core::retry::ManualClock;
use refund_paynext::refund_core::webhook::{Deduplicator, MemoryDeduplicator, Seen, header_map};
use refund_paynext::refund_core::{
    Currency, Error, ErrorKind, Money, ProviderId, RefundEvent, RefundStatus, WebhookOutcome,
    WebhookVerifier,
};
use sha2::{Digest, Sha256};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Another endpoint's secret: 32 bytes 0x01..=0x20.
const OTHER_SECRET: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

// Svix's published example (svix-webhooks library tests).
const SVIX_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SVIX_TS: u64 = 1_614_265_330;
const SVIX_BODY: &str = r#"{"test": 2432232314}"#;
const SVIX_SIG: &str = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// The example body of §4.2, byte for byte, signed at 2025-05-26T10:16:10Z.
const ID: &str = "msg_2Xk8bQn5Rt0fZcLwY1aVp9eH";
const TS: u64 = 1_748_254_570;
const EXAMPLE: &str = r#"{"type":"refund.updated","timestamp":"2025-05-26T10:16:10Z","data":{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":15000,"refund":{"amount":15000,"status":"SUCCEEDED","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d"}}}"#;
const EXAMPLE_SIG: &str = "rfmw7t59ltfGKoiCPSDpHRuSeEPnd+bjsElCDPTSSvI=";
/// The same delivery signed with [`OTHER_SECRET`].
const EXAMPLE_SIG_OTHER_SECRET: &str = "W3XC3oeqTVUWr+UX82M1OcoFQluvzohatcAqVn9neKI=";

// `data` as the refund object itself, signed at 2025-05-26T10:15:00Z.
const REFUND_OBJECT_ID: &str = "msg_2Xk8bQn5Rt0fZcLwY1aVp9eA";
const REFUND_OBJECT_TS: u64 = 1_748_254_500;
const REFUND_OBJECT: &str = r#"{"type":"refund.created","timestamp":"2025-05-26T10:15:00Z","data":{"payment_id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"currency_code":"USD","status":"PENDING","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d"}}"#;
const REFUND_OBJECT_SIG: &str = "NkYHBLlGH4fBdovC2uDPsWRDAwNij7+IT5Qqtt4hKoc=";

const PAY: &str = "pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789";

// ---------------------------------------------------------------------------------------------
// A second, independent signer

/// Standard base64 with padding, written out (RFC 4648 §4).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 decoding, written out (padded input only; enough for the test secrets).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|c| **c == b'=').count();
        let n = chunk
            .iter()
            .take(4 - pad)
            .enumerate()
            .fold(0u32, |n, (i, c)| n | (value(*c) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

/// HMAC-SHA256 from RFC 2104: H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)), with a 64-byte block.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize()
        .into()
}

/// The Svix signature of a delivery: base64(HMAC-SHA256(key, "{id}.{ts}.{body}")).
fn svix_sign(secret: &str, id: &str, timestamp: u64, body: &str) -> String {
    let key = base64_decode(secret.strip_prefix("whsec_").unwrap());
    let content = format!("{id}.{timestamp}.{body}");
    base64_encode(&hmac_sha256(&key, content.as_bytes()))
}

#[test]
fn the_test_signer_reproduces_the_python_answers() {
    assert_eq!(svix_sign(SECRET, SVIX_ID, SVIX_TS, SVIX_BODY), SVIX_SIG);
    assert_eq!(svix_sign(SECRET, ID, TS, EXAMPLE), EXAMPLE_SIG);
    assert_eq!(
        svix_sign(OTHER_SECRET, ID, TS, EXAMPLE),
        EXAMPLE_SIG_OTHER_SECRET
    );
    assert_eq!(
        svix_sign(SECRET, REFUND_OBJECT_ID, REFUND_OBJECT_TS, REFUND_OBJECT),
        REFUND_OBJECT_SIG
    );
    // RFC 4231 test case 2.
    assert_eq!(
        hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
        *b"\x5b\xdc\xc1\x46\xbf\x60\x75\x4e\x6a\x04\x24\x26\x08\x95\x75\xc7\x5a\x00\x3f\x08\x9d\x27\x39\x83\x9d\xec\x58\xb9\x64\xec\x38\x43"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

/// A verifier for [`SECRET`] whose clock stands at `now` (Unix seconds).
fn verifier_at(now: u64) -> PayNextWebhookVerifier {
    PayNextWebhookVerifier::new(SECRET)
        .unwrap()
        .clock(Arc::new(ManualClock::new(at(now))))
}

fn svix_headers(prefix: &str, id: &str, timestamp: u64, signature: &str) -> HeaderMap {
    header_map([
        (format!("{prefix}-id"), id.to_owned()),
        (format!("{prefix}-timestamp"), timestamp.to_string()),
        (format!("{prefix}-signature"), signature.to_owned()),
    ])
    .unwrap()
}

fn headers(id: &str, timestamp: u64, signature: &str) -> HeaderMap {
    svix_headers("svix", id, timestamp, signature)
}

fn event(outcome: WebhookOutcome) -> RefundEvent {
    match outcome {
        WebhookOutcome::Event(e) => e,
        other => panic!("expected a refund event, got {other:?}"),
    }
}

/// Asserts the error's kind and that it names the provider and leaks no secret or signature.
fn assert_error(result: Result<WebhookOutcome, Error>, kind: ErrorKind) -> Error {
    let e = result.expect_err("the delivery must be refused");
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.provider(), Some(&ProviderId::PAYNEXT));
    let shown = format!("{e} {e:?}");
    for secret in [
        SECRET,
        &SECRET[6..],
        OTHER_SECRET,
        EXAMPLE_SIG,
        EXAMPLE_SIG_OTHER_SECRET,
        "SUCCEEDED",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    e
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Known answers

#[test]
fn svix_published_example_is_authentic() {
    let v = verifier_at(SVIX_TS);
    let outcome = v
        .verify(
            &headers(SVIX_ID, SVIX_TS, &format!("v1,{SVIX_SIG}")),
            SVIX_BODY.as_bytes(),
            None,
        )
        .unwrap();
    // Authentic, but not a PayNext event type: ignored, keyed by its svix-id.
    assert_eq!(
        outcome,
        WebhookOutcome::ignored(ProviderId::PAYNEXT, "", Some(SVIX_ID.to_owned()))
    );
}

#[test]
fn the_contract_example_is_a_succeeded_refund() {
    let v = verifier_at(TS);
    let e = event(
        v.verify(
            &headers(ID, TS, &format!("v1,{EXAMPLE_SIG}")),
            EXAMPLE.as_bytes(),
            None,
        )
        .unwrap(),
    );
    assert_eq!(e.provider, ProviderId::PAYNEXT);
    assert_eq!(e.event_type, "refund.updated");
    assert_eq!(e.delivery_id, ID);
    assert_eq!(e.payment_id.as_ref().unwrap().as_str(), PAY);
    assert_eq!(
        e.refund_id.as_ref().unwrap().as_str(),
        "re_3RgN6TJVVBuowJOx1a2b3c4d"
    );
    assert_eq!(e.reference, None, "PayNext never echoes our reference");
    assert_eq!(e.status, RefundStatus::Succeeded);
    assert_eq!(e.amount, Some(usd(15000)));
    assert_eq!(e.raw_status.as_deref(), Some("SUCCEEDED"));
    assert_eq!(e.occurred_at.as_deref(), Some("2025-05-26T10:16:10Z"));
}

#[test]
fn data_may_be_the_refund_object_itself() {
    let v = verifier_at(REFUND_OBJECT_TS);
    let e = event(
        v.verify(
            &headers(
                REFUND_OBJECT_ID,
                REFUND_OBJECT_TS,
                &format!("v1,{REFUND_OBJECT_SIG}"),
            ),
            REFUND_OBJECT.as_bytes(),
            None,
        )
        .unwrap(),
    );
    assert_eq!(e.event_type, "refund.created");
    assert_eq!(e.delivery_id, REFUND_OBJECT_ID);
    assert_eq!(e.payment_id.unwrap().as_str(), PAY);
    assert_eq!(e.refund_id.unwrap().as_str(), "re_3RgN6TJVVBuowJOx1a2b3c4d");
    assert_eq!(e.status, RefundStatus::Pending);
    assert_eq!(e.amount, Some(usd(15000)));
    assert_eq!(e.raw_status.as_deref(), Some("PENDING"));
}

// ---------------------------------------------------------------------------------------------
// Authentication failures

#[test]
fn a_tampered_body_is_refused() {
    let v = verifier_at(TS);
    let sig = format!("v1,{EXAMPLE_SIG}");
    for tampered in [
        EXAMPLE.replace("\"refunded_amount\":15000", "\"refunded_amount\":15001"),
        EXAMPLE.replace("SUCCEEDED", "FAILED"),
        format!("{EXAMPLE} "),
        EXAMPLE[..EXAMPLE.len() - 1].to_owned(),
        String::new(),
    ] {
        assert_error(
            v.verify(&headers(ID, TS, &sig), tampered.as_bytes(), None),
            ErrorKind::WebhookAuth,
        );
    }
    // Changing the signed id or timestamp breaks the signature too.
    assert_error(
        v.verify(&headers("msg_other", TS, &sig), EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    assert_error(
        v.verify(&headers(ID, TS + 1, &sig), EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
}

#[test]
fn a_wrong_secret_is_refused() {
    // A delivery signed for another endpoint.
    let e = assert_error(
        verifier_at(TS).verify(
            &headers(ID, TS, &format!("v1,{EXAMPLE_SIG_OTHER_SECRET}")),
            EXAMPLE.as_bytes(),
            None,
        ),
        ErrorKind::WebhookAuth,
    );
    assert!(e.to_string().contains("svix-signature"), "{e}");
    // The right delivery checked with another secret.
    let other = PayNextWebhookVerifier::new(OTHER_SECRET)
        .unwrap()
        .clock(Arc::new(ManualClock::new(at(TS))));
    assert_error(
        other.verify(
            &headers(ID, TS, &format!("v1,{EXAMPLE_SIG}")),
            EXAMPLE.as_bytes(),
            None,
        ),
        ErrorKind::WebhookAuth,
    );
    assert!(
        other
            .verify(
                &headers(ID, TS, &format!("v1,{EXAMPLE_SIG_OTHER_SECRET}")),
                EXAMPLE.as_bytes(),
                None,
            )
            .is_ok()
    );
}

#[test]
fn several_signatures_with_one_valid() {
    let v = verifier_at(TS);
    let valid = format!("v1,{EXAMPLE_SIG}");
    for list in [
        format!("v1,{EXAMPLE_SIG_OTHER_SECRET} {valid}"),
        format!("{valid} v1,{EXAMPLE_SIG_OTHER_SECRET}"),
        format!("v1,bm90IGEgc2lnbmF0dXJl v2,{EXAMPLE_SIG} {valid}"),
        format!("v1a,{EXAMPLE_SIG} v1,!!!notbase64 {valid}"),
        format!("  {valid}   v1,{SVIX_SIG}  "),
        // Padding is optional.
        format!("v1,{}", EXAMPLE_SIG.trim_end_matches('=')),
    ] {
        let outcome = v.verify(&headers(ID, TS, &list), EXAMPLE.as_bytes(), None);
        assert!(outcome.is_ok(), "{list}: {outcome:?}");
    }
    for list in [
        // Other versions are ignored, even with the right signature.
        format!("v2,{EXAMPLE_SIG}"),
        format!("v1a,{EXAMPLE_SIG} {EXAMPLE_SIG}"),
        format!("v1,{EXAMPLE_SIG_OTHER_SECRET} v1,{SVIX_SIG}"),
        "v1,".to_owned(),
        // A truncated signature is not a match.
        format!("v1,{}", &EXAMPLE_SIG[..20]),
        format!("V1,{EXAMPLE_SIG}"),
    ] {
        assert_error(
            v.verify(&headers(ID, TS, &list), EXAMPLE.as_bytes(), None),
            ErrorKind::WebhookAuth,
        );
    }
}

#[test]
fn webhook_prefixed_headers_are_accepted() {
    let v = verifier_at(TS);
    let sig = format!("v1,{EXAMPLE_SIG}");
    let e = event(
        v.verify(
            &svix_headers("webhook", ID, TS, &sig),
            EXAMPLE.as_bytes(),
            None,
        )
        .unwrap(),
    );
    assert_eq!(e.delivery_id, ID);
    assert_eq!(e.status, RefundStatus::Succeeded);
    // Header names match in any case.
    let upper = header_map([
        ("Webhook-Id", ID.to_owned()),
        ("WEBHOOK-TIMESTAMP", TS.to_string()),
        ("Webhook-Signature", sig.clone()),
    ])
    .unwrap();
    assert!(v.verify(&upper, EXAMPLE.as_bytes(), None).is_ok());
    // A mix of the two prefixes is read header by header.
    let mixed = header_map([
        ("svix-id", ID.to_owned()),
        ("webhook-timestamp", TS.to_string()),
        ("svix-signature", sig),
    ])
    .unwrap();
    assert!(v.verify(&mixed, EXAMPLE.as_bytes(), None).is_ok());
}

#[test]
fn missing_headers_are_refused() {
    let v = verifier_at(TS);
    let full = headers(ID, TS, &format!("v1,{EXAMPLE_SIG}"));
    for missing in ["svix-id", "svix-timestamp", "svix-signature"] {
        let mut h = full.clone();
        h.remove(missing);
        let e = assert_error(
            v.verify(&h, EXAMPLE.as_bytes(), None),
            ErrorKind::WebhookAuth,
        );
        assert!(e.to_string().contains(missing), "{e}");
    }
    assert_error(
        v.verify(&HeaderMap::new(), EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    // Empty, repeated or unreadable headers are no better.
    let mut empty = full.clone();
    empty.insert("svix-id", HeaderValue::from_static(""));
    assert_error(
        v.verify(&empty, EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    let mut repeated = full.clone();
    repeated.append(
        HeaderName::from_static("svix-signature"),
        HeaderValue::from_str(&format!("v1,{EXAMPLE_SIG}")).unwrap(),
    );
    assert_error(
        v.verify(&repeated, EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
    let mut binary = full;
    binary.insert("svix-id", HeaderValue::from_bytes(b"msg_\xff").unwrap());
    assert_error(
        v.verify(&binary, EXAMPLE.as_bytes(), None),
        ErrorKind::WebhookAuth,
    );
}

// ---------------------------------------------------------------------------------------------
// Freshness

/// The example body signed (by the test signer) at `ts`, verified when the clock reads `now`.
fn verify_signed_at(v: &PayNextWebhookVerifier, ts: u64) -> Result<WebhookOutcome, Error> {
    let sig = format!("v1,{}", svix_sign(SECRET, ID, ts, EXAMPLE));
    v.verify(&headers(ID, ts, &sig), EXAMPLE.as_bytes(), None)
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let v = verifier_at(TS);
    // Exactly 5 minutes either way is still accepted.
    assert!(verify_signed_at(&v, TS - 300).is_ok());
    assert!(verify_signed_at(&v, TS + 300).is_ok());
    let e = assert_error(verify_signed_at(&v, TS - 301), ErrorKind::WebhookStale);
    assert!(e.to_string().contains("301 s in the past"), "{e}");
    let e = assert_error(verify_signed_at(&v, TS + 301), ErrorKind::WebhookStale);
    assert!(e.to_string().contains("301 s in the future"), "{e}");
    assert_error(verify_signed_at(&v, TS - 86_400), ErrorKind::WebhookStale);
    assert_error(verify_signed_at(&v, 0), ErrorKind::WebhookStale);
    assert_error(verify_signed_at(&v, TS + 86_400), ErrorKind::WebhookStale);
}

#[test]
fn the_tolerance_is_configurable_and_the_clock_injectable() {
    let clock = ManualClock::new(at(TS));
    let v = PayNextWebhookVerifier::new(SECRET)
        .unwrap()
        .tolerance(Duration::from_secs(10))
        .clock(Arc::new(clock.clone()));
    assert!(verify_signed_at(&v, TS - 10).is_ok());
    assert_error(verify_signed_at(&v, TS - 11), ErrorKind::WebhookStale);
    assert_error(verify_signed_at(&v, TS + 11), ErrorKind::WebhookStale);
    // The same delivery, replayed a minute later, is stale.
    assert!(verify_signed_at(&v, TS).is_ok());
    clock.advance(Duration::from_secs(60));
    assert_error(verify_signed_at(&v, TS), ErrorKind::WebhookStale);
    // A zero tolerance accepts only the current second.
    let strict = v.clone().tolerance(Duration::ZERO);
    assert!(verify_signed_at(&strict, TS + 60).is_ok());
    assert_error(verify_signed_at(&strict, TS + 59), ErrorKind::WebhookStale);
}

#[test]
fn forged_and_stale_is_reported_as_forged() {
    let v = verifier_at(TS + 3600);
    assert_error(
        v.verify(
            &headers(ID, TS, &format!("v1,{EXAMPLE_SIG_OTHER_SECRET}")),
            EXAMPLE.as_bytes(),
            None,
        ),
        ErrorKind::WebhookAuth,
    );
    // The authentic one an hour late is stale.
    assert_error(
        v.verify(
            &headers(ID, TS, &format!("v1,{EXAMPLE_SIG}")),
            EXAMPLE.as_bytes(),
            None,
        ),
        ErrorKind::WebhookStale,
    );
}

#[test]
fn a_signed_timestamp_that_is_not_a_number_is_refused() {
    let v = verifier_at(TS);
    for ts in ["1748254570.0", "-", "soon", "99999999999999999999999"] {
        let sig = format!("v1,{}", svix_sign_raw(ID, ts, EXAMPLE));
        let h = header_map([
            ("svix-id", ID),
            ("svix-timestamp", ts),
            ("svix-signature", sig.as_str()),
        ])
        .unwrap();
        assert_error(
            v.verify(&h, EXAMPLE.as_bytes(), None),
            ErrorKind::WebhookAuth,
        );
    }
}

fn svix_sign_raw(id: &str, timestamp: &str, body: &str) -> String {
    let key = base64_decode(SECRET.strip_prefix("whsec_").unwrap());
    base64_encode(&hmac_sha256(
        &key,
        format!("{id}.{timestamp}.{body}").as_bytes(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Payloads

/// Signs `body` now and verifies it.
fn deliver(id: &str, body: &str) -> Result<WebhookOutcome, Error> {
    let v = verifier_at(TS);
    let sig = format!("v1,{}", svix_sign(SECRET, id, TS, body));
    v.verify(&headers(id, TS, &sig), body.as_bytes(), None)
}

fn payment(refund: &str, refunded_amount: i64) -> String {
    format!(
        r#"{{"id":"{PAY}","amount":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":{refunded_amount},"refund":{refund}}}"#
    )
}

#[test]
fn refund_state_is_read_as_in_refund_answers() {
    for (event_type, refund, refunded, status, amount) in [
        (
            "refund.created",
            r#"{"amount":15000,"status":"PENDING","processor_transaction_id":"re_1"}"#,
            0,
            RefundStatus::Pending,
            Some(15000),
        ),
        (
            "refund.updated",
            r#"{"amount":15000,"status":"FAILED","processor_transaction_id":""}"#,
            0,
            RefundStatus::Declined,
            Some(15000),
        ),
        (
            "refund.updated",
            r#"{"amount":15000,"status":"completed","processor_transaction_id":"re_1"}"#,
            15000,
            RefundStatus::Succeeded,
            Some(15000),
        ),
        (
            "refund.updated",
            r#"{"status":"processor_specific","processor_transaction_id":"re_1"}"#,
            0,
            RefundStatus::Pending,
            Some(0),
        ),
        // No refund object: refunded_amount >= amount → Succeeded.
        (
            "payment.updated",
            "null",
            15000,
            RefundStatus::Succeeded,
            Some(15000),
        ),
        (
            "payment.updated",
            "null",
            5000,
            RefundStatus::Pending,
            Some(5000),
        ),
    ] {
        let body = format!(
            r#"{{"type":"{event_type}","timestamp":"2025-05-26T10:16:10Z","data":{}}}"#,
            payment(refund, refunded)
        );
        let e = event(deliver("msg_1", &body).unwrap());
        assert_eq!(e.event_type, event_type);
        assert_eq!(e.status, status, "{body}");
        assert_eq!(e.amount, amount.map(usd), "{body}");
        assert_eq!(e.payment_id.as_ref().unwrap().as_str(), PAY);
        // The refund id is the processor's, else the payment id (§2.4).
        let expected_id = if refund.contains("re_1") { "re_1" } else { PAY };
        assert_eq!(e.refund_id.unwrap().as_str(), expected_id, "{body}");
    }
}

#[test]
fn a_payment_update_without_a_refund_and_unknown_types_are_ignored() {
    let body = format!(
        r#"{{"type":"payment.updated","data":{}}}"#,
        payment("null", 0)
    );
    assert_eq!(
        deliver("msg_2", &body).unwrap(),
        WebhookOutcome::ignored(ProviderId::PAYNEXT, "payment.updated", Some("msg_2".into()))
    );
    for body in [
        r#"{"type":"payment.created","data":{"id":"pay_1"}}"#,
        r#"{"type":"subscription.renewed","data":"anything at all"}"#,
        r#"{"type":"Refund.Updated","data":{"id":"pay_1"}}"#,
        r#"{"data":{}}"#,
    ] {
        let outcome = deliver("msg_3", body).unwrap();
        assert!(
            matches!(&outcome, WebhookOutcome::Ignored { delivery_id: Some(id), .. } if id == "msg_3"),
            "{body}: {outcome:?}"
        );
    }
}

#[test]
fn authentic_bodies_that_cannot_be_read_are_malformed() {
    for body in [
        "not json",
        "[1,2]",
        r#"{"type":"refund.updated"}"#,
        r#"{"type":"refund.updated","data":null}"#,
        r#"{"type":"refund.updated","data":{"amount":"lots"}}"#,
        r#"{"type":"refund.updated","data":{"amount":15000,"refund":{"status":"SUCCEEDED"}}}"#,
        r#"{"type":"refund.updated","data":{"id":"pay_1","refunded_amount":-1}}"#,
        r#"{"type":"refund.updated","data":{"id":"","refund":{"status":"SUCCEEDED"}}}"#,
    ] {
        let e = assert_error(deliver("msg_4", body), ErrorKind::WebhookMalformed);
        assert!(!e.may_have_reached_provider());
    }
    // A forged body is refused before it is read.
    let v = verifier_at(TS);
    assert_error(
        v.verify(&headers("msg_4", TS, "v1,AAAA"), b"not json", None),
        ErrorKind::WebhookAuth,
    );
}

#[test]
fn an_unknown_currency_leaves_the_amount_out() {
    let body = r#"{"type":"refund.updated","data":{"id":"pay_1","amount":100,"currency_code":"XXZ","refund":{"amount":100,"status":"SUCCEEDED"}}}"#;
    let e = event(deliver("msg_5", body).unwrap());
    assert_eq!(e.status, RefundStatus::Succeeded);
    assert_eq!(e.amount, None);
}

// ---------------------------------------------------------------------------------------------
// As a trait object, with de-duplication

#[tokio::test]
async fn redeliveries_are_duplicates() {
    let verifier: Box<dyn WebhookVerifier> = Box::new(verifier_at(TS));
    assert_eq!(verifier.provider(), ProviderId::PAYNEXT);
    let dedup = MemoryDeduplicator::default();
    let h = headers(ID, TS, &format!("v1,{EXAMPLE_SIG}"));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let outcome = verifier.verify(&h, EXAMPLE.as_bytes(), None).unwrap();
        let id = outcome.delivery_id().unwrap().to_owned();
        seen.push(dedup.check(outcome.provider(), &id).await.unwrap());
    }
    assert_eq!(seen, [Seen::First, Seen::Duplicate, Seen::Duplicate]);
}

#[test]
fn configuration_errors_and_debug_never_show_the_secret() {
    let v = PayNextWebhookVerifier::new(SECRET).unwrap();
    assert!(!format!("{v:?}").contains(&SECRET[6..]));
    for bad in ["whsec_", "whsec_***", "", "   "] {
        let e = PayNextWebhookVerifier::new(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{bad:?}");
    }
    // Surrounding white space (a pasted secret) is tolerated.
    assert!(PayNextWebhookVerifier::new(format!(" {SECRET}\n")).is_ok());
}
