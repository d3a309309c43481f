//! PayNext (contract §2) over raw HTTP.

use std::time::Duration;

use refund_core::{Currency, Money};
use refund_sandbox::PayNextSandbox;
use refund_sandbox::paynext::{PayNextConfig, PayNextPayment, PayNextRefundBehaviour, seed};

use crate::common::{Answer, client, enc, paynext_get, paynext_refund};

const INVALID_KEY: &str = r#"{"error":{"message":"Invalid API key"}}"#;
const NOT_FOUND: &str = r#"{"error":{"message":"Payment not found"}}"#;

/// A sandbox whose refunds stay pending until `resolve_pending`.
async fn slow() -> PayNextSandbox {
    PayNextSandbox::start_with(PayNextConfig::default().refund_delay(Duration::from_secs(600)))
        .await
        .unwrap()
}

#[tokio::test]
async fn full_refund_is_pending_then_succeeded() {
    let sb = slow().await;
    let a = paynext_refund(&sb, seed::FIXTURE_USD).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let v = a.json();
    assert_eq!(v["id"], seed::FIXTURE_USD);
    assert_eq!(v["amount"], 15000);
    assert_eq!(v["currency_code"], "USD");
    assert_eq!(v["payment_status"], "SETTLED");
    assert_eq!(v["refunded_amount"], 0);
    assert_eq!(v["refund"]["status"], "PENDING");
    assert_eq!(v["refund"]["amount"], 15000);
    let processor_id = v["refund"]["processor_transaction_id"].as_str().unwrap();
    assert!(!processor_id.is_empty());
    assert_eq!(sb.applied_refunds(seed::FIXTURE_USD), 1);
    assert_eq!(
        sb.payment(seed::FIXTURE_USD).unwrap().balance.minor_units(),
        0
    );

    let l = paynext_get(&sb, seed::FIXTURE_USD).await;
    assert_eq!(l.json()["refund"]["status"], "PENDING");
    assert_eq!(l.json()["refunded_amount"], 0);
    assert_eq!(sb.refunds_of(seed::FIXTURE_USD)[0].status, "PENDING");

    sb.resolve_pending();
    let l = paynext_get(&sb, seed::FIXTURE_USD).await;
    let v = l.json();
    assert_eq!(v["refund"]["status"], "SUCCEEDED");
    assert_eq!(v["refunded_amount"], 15000);
    assert_eq!(v["refund"]["processor_transaction_id"], processor_id);
    assert_eq!(v["payment_status"], "SETTLED");
    assert_eq!(sb.refunds_of(seed::FIXTURE_USD)[0].status, "SUCCEEDED");

    // One refund per payment.
    let again = paynext_refund(&sb, seed::FIXTURE_USD).await;
    assert_eq!(again.status, 400);
    assert_eq!(
        again.text,
        format!(
            r#"{{"error":{{"message":"Payment {} has already been refunded"}}}}"#,
            seed::FIXTURE_USD
        )
    );
    assert_eq!(sb.applied_refunds(seed::FIXTURE_USD), 1);
}

#[tokio::test]
async fn a_zero_delay_answers_pending_then_reads_succeeded() {
    let sb = PayNextSandbox::start_with(PayNextConfig::default().refund_delay(Duration::ZERO))
        .await
        .unwrap();
    let a = paynext_refund(&sb, seed::SETTLING_USD).await;
    assert_eq!(a.json()["refund"]["status"], "PENDING");
    assert_eq!(a.json()["payment_status"], "SETTLING");
    let l = paynext_get(&sb, seed::SETTLING_USD).await;
    assert_eq!(l.json()["refund"]["status"], "SUCCEEDED");
    assert_eq!(l.json()["refunded_amount"], 5000);
}

#[tokio::test]
async fn not_refundable_and_not_found() {
    let sb = slow().await;
    for (id, status) in [
        (seed::AUTHORIZED_USD, "AUTHORIZED"),
        (seed::DECLINED_USD, "DECLINED"),
    ] {
        let a = paynext_refund(&sb, id).await;
        assert_eq!(a.status, 400);
        assert_eq!(
            a.text,
            format!(
                r#"{{"error":{{"message":"Payment {id} cannot be refunded in status {status}"}}}}"#
            )
        );
    }
    let declined = paynext_get(&sb, seed::DECLINED_USD).await;
    assert_eq!(
        declined.json()["status_reason"]["status_reason"]["decline_code"],
        "do_not_honor"
    );
    let a = paynext_refund(&sb, seed::REFUNDED_USD).await;
    assert_eq!(a.status, 400);
    let l = paynext_get(&sb, seed::REFUNDED_USD).await;
    assert_eq!(l.json()["refund"]["status"], "SUCCEEDED");
    assert_eq!(l.json()["refunded_amount"], 2000);
    let a = paynext_refund(&sb, "pay_nope").await;
    assert_eq!((a.status, a.text.as_str()), (404, NOT_FOUND));
    let a = paynext_get(&sb, "pay_nope").await;
    assert_eq!((a.status, a.text.as_str()), (404, NOT_FOUND));
    assert!(
        sb.refunds()
            .iter()
            .all(|r| r.payment_id == seed::REFUNDED_USD)
    );
}

#[tokio::test]
async fn auth_and_version_headers() {
    let sb = slow().await;
    let url = format!("{}/payments/refund/{}", sb.base_url(), seed::FIXTURE_USD);
    let key = sb.api_key().expose_secret().to_owned();
    for auth in [
        None,
        Some(key.clone()),
        Some("Bearer wrong".to_owned()),
        Some(format!("Basic {key}")),
    ] {
        let mut rq = client().post(&url).header("X-API-Version", "1.0.0");
        if let Some(a) = &auth {
            rq = rq.header("Authorization", a);
        }
        let a = Answer::read(rq.send().await.unwrap()).await;
        assert_eq!((a.status, a.text.as_str()), (401, INVALID_KEY), "{auth:?}");
    }
    for version in [None, Some("2.0.0"), Some("1.0")] {
        let mut rq = client()
            .post(&url)
            .header("Authorization", format!("Bearer {key}"));
        if let Some(v) = version {
            rq = rq.header("X-API-Version", v);
        }
        let a = Answer::read(rq.send().await.unwrap()).await;
        assert_eq!(a.status, 400, "{version:?}");
        assert!(
            a.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("X-API-Version")
        );
    }
    assert_eq!(sb.applied_refunds(seed::FIXTURE_USD), 0);
}

#[tokio::test]
async fn the_refund_post_takes_no_body() {
    let sb = slow().await;
    let key = sb.api_key().expose_secret().to_owned();
    let post = |id: &str, body: &'static str, content_type: Option<&'static str>| {
        let mut rq = client()
            .post(format!("{}/payments/refund/{}", sb.base_url(), enc(id)))
            .header("Authorization", format!("Bearer {key}"))
            .header("X-API-Version", "1.0.0")
            .body(body);
        if let Some(ct) = content_type {
            rq = rq.header("Content-Type", ct);
        }
        rq.send()
    };
    for (body, ct) in [
        (r#"{"amount":100}"#, Some("application/json")),
        ("junk", None),
        ("[]", Some("application/json")),
    ] {
        let a = Answer::read(post(seed::FIXTURE_USD, body, ct).await.unwrap()).await;
        assert_eq!(a.status, 400, "{body}");
    }
    assert_eq!(sb.applied_refunds(seed::FIXTURE_USD), 0);
    let a = Answer::read(
        post(seed::FIXTURE_USD, "{}", Some("application/json"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    let a = Answer::read(post(seed::SETTLING_USD, " { } ", None).await.unwrap()).await;
    assert_eq!(a.status, 200);
    // Partial refunds do not exist: the amount path is no route at all.
    let a = Answer::read(
        client()
            .post(format!(
                "{}/payments/refund/{}/10.00",
                sb.base_url(),
                seed::SETTLED_JPY
            ))
            .header("Authorization", format!("Bearer {key}"))
            .header("X-API-Version", "1.0.0")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 404);
    assert!(a.content_type().starts_with("text/plain"));
}

#[tokio::test]
async fn failed_refunds_move_no_money_and_may_be_retried() {
    let sb = slow().await;
    let a = paynext_refund(&sb, seed::REFUND_FAILS_USD).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["refund"]["status"], "FAILED");
    assert_eq!(a.json()["refund"]["processor_transaction_id"], "");
    assert_eq!(a.json()["refunded_amount"], 0);
    assert_eq!(sb.applied_refunds(seed::REFUND_FAILS_USD), 0);
    let again = paynext_refund(&sb, seed::REFUND_FAILS_USD).await;
    assert_eq!(again.json()["refund"]["status"], "FAILED");
    assert_eq!(sb.refunds_of(seed::REFUND_FAILS_USD).len(), 2);

    let a = paynext_refund(&sb, seed::REFUND_FAILS_LATER_USD).await;
    assert_eq!(a.json()["refund"]["status"], "PENDING");
    // A second refund while the first is pending is refused.
    assert_eq!(
        paynext_refund(&sb, seed::REFUND_FAILS_LATER_USD)
            .await
            .status,
        400
    );
    sb.resolve_pending();
    let l = paynext_get(&sb, seed::REFUND_FAILS_LATER_USD).await;
    assert_eq!(l.json()["refund"]["status"], "FAILED");
    assert_eq!(l.json()["refunded_amount"], 0);
    assert_eq!(sb.applied_refunds(seed::REFUND_FAILS_LATER_USD), 0);
    assert_eq!(
        sb.payment(seed::REFUND_FAILS_LATER_USD)
            .unwrap()
            .balance
            .minor_units(),
        3000
    );
}

#[tokio::test]
async fn zero_and_three_digit_currencies_and_encoded_ids() {
    let sb = slow().await;
    let a = paynext_refund(&sb, seed::SETTLED_JPY).await;
    assert_eq!(
        (
            a.json()["amount"].as_i64(),
            a.json()["currency_code"].as_str()
        ),
        (Some(10_000), Some("JPY"))
    );
    assert!(a.json().get("amount_usd").is_none());
    let a = paynext_refund(&sb, seed::SETTLED_KWD).await;
    assert_eq!(a.json()["refund"]["amount"], 12_345);
    assert_eq!(
        sb.payment(seed::SETTLED_KWD).unwrap().refunded,
        Money::parse("12.345", Currency::KWD).unwrap()
    );
    let a = paynext_refund(&sb, seed::SLASH_ID_USD).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["id"], seed::SLASH_ID_USD);
    assert_eq!(
        paynext_get(&sb, seed::SLASH_ID_USD).await.json()["id"],
        seed::SLASH_ID_USD
    );
}

#[tokio::test]
async fn rust_api_payments() {
    let sb = PayNextSandbox::start_with(PayNextConfig::default().without_seed().api_key("k-1"))
        .await
        .unwrap();
    assert_eq!(sb.api_key().expose_secret(), "k-1");
    let m = Money::from_minor(999, Currency::EUR).unwrap();
    sb.add_payment(PayNextPayment::new("pay_own", m).behaviour(PayNextRefundBehaviour::Fail))
        .unwrap();
    let a = paynext_refund(&sb, "pay_own").await;
    assert_eq!(a.json()["refund"]["status"], "FAILED");
    assert!(sb.add_payment(PayNextPayment::new("pay_own", m)).is_err());
    let snap = sb
        .add_payment(PayNextPayment::new("pay_done", m).already_refunded())
        .unwrap();
    assert_eq!(snap.balance.minor_units(), 0);
}
