//! Payabli (contract §3) over raw HTTP.

use std::time::Duration;

use refund_core::{Currency, Money};
use refund_sandbox::PayabliSandbox;
use refund_sandbox::payabli::{
    PayabliConfig, PayabliPayment, PayabliQuirks, PayabliRefundBehaviour, seed,
};

use crate::common::{Answer, client, enc, payabli_details, payabli_refund, raw_path};

const UNAUTHORIZED: &str = r#"{"isSuccess":false,"responseCode":401,"responseText":"Unauthorized","responseData":{"explanation":"The requestToken is missing, invalid, or expired","todoAction":"Send a valid API token in the requestToken header"}}"#;

fn code(a: &Answer) -> String {
    a.json()["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn full_refund_of_the_fixture_keeps_the_fee_and_links_the_refund() {
    let sb = PayabliSandbox::start().await.unwrap();
    let before = payabli_details(&sb, seed::FIXTURE_USD).await;
    assert_eq!(before.status, 200);
    let v = before.json();
    assert_eq!(v["PaymentTransId"], seed::FIXTURE_USD);
    assert_eq!(v["Operation"], "Sale");
    assert_eq!(v["TransStatus"], 1);
    assert_eq!(v["SettlementStatus"], 3);
    assert_eq!(v["RefundId"], 0);
    assert_eq!(v["OrderId"], "DUES-123");
    assert_eq!(raw_path(&before.text, &["TotalAmount"]), "105.00");
    assert_eq!(raw_path(&before.text, &["FeeAmount"]), "5.00");
    assert_eq!(
        raw_path(
            &before.text,
            &["PaymentData", "paymentDetails", "serviceFee"]
        ),
        "5.00"
    );
    assert_eq!(v["ResponseData"]["resultCode"], "A0000");
    assert!(!v["TransactionTime"].as_str().unwrap().ends_with('Z'));

    let a = payabli_refund(&sb, seed::FIXTURE_USD, None, "rf-9c01").await;
    assert_eq!(a.status, 201, "{}", a.text);
    let v = a.json();
    assert_eq!(v["code"], "A0004");
    assert_eq!(v["reason"], "Refunded");
    assert!(v["token"].is_null());
    assert_eq!(v["data"]["operation"], "Refund");
    assert_eq!(v["data"]["transStatus"], 1);
    assert_eq!(raw_path(&a.text, &["data", "totalAmount"]), "-100.00");
    assert_eq!(raw_path(&a.text, &["data", "netAmount"]), "-100.00");
    assert_eq!(
        v["data"]["paymentData"]["paymentDetails"]["currency"],
        "USD"
    );
    let refund_trans = v["data"]["paymentTransId"].as_str().unwrap().to_owned();
    let refund_id = v["data"]["refundId"].as_i64().unwrap();
    assert_ne!(refund_trans, seed::FIXTURE_USD);
    assert_ne!(refund_id, 0);

    let after = payabli_details(&sb, seed::FIXTURE_USD).await;
    assert_eq!(after.json()["RefundId"], refund_id);
    let events = after.json()["TransactionEvents"].as_array().unwrap().len();
    assert_eq!(events, 3);
    let refund = payabli_details(&sb, &refund_trans).await;
    assert_eq!(refund.json()["Operation"], "Refund");
    assert_eq!(refund.json()["TransStatus"], 1);
    assert_eq!(raw_path(&refund.text, &["TotalAmount"]), "-100.00");

    let snap = sb.payment(seed::FIXTURE_USD).unwrap();
    assert_eq!(snap.balance.minor_units(), 0);
    assert_eq!(snap.service_fee.unwrap().minor_units(), 500);
    assert_eq!(snap.settlement_status, Some(3));
    assert_eq!(sb.applied_refunds_with_reference("rf-9c01"), 1);

    // A second full refund: nothing left.
    let again = payabli_refund(&sb, seed::FIXTURE_USD, None, "rf-9c02").await;
    assert_eq!((again.status, code(&again).as_str()), (400, "E3012"));
    let v = again.json();
    assert_eq!(v["title"], "Bad Request");
    assert_eq!(v["status"], 400);
    assert_eq!(
        v["instance"],
        format!("/api/v2/MoneyIn/refund/{}", seed::FIXTURE_USD)
    );
    assert!(v["errors"]["amount"][0]["message"].is_string());
    assert!(v["type"].as_str().unwrap().starts_with("https://"));
    assert!(v["token"].is_null());
}

#[tokio::test]
async fn partial_refunds_up_to_the_available_amount() {
    let sb = PayabliSandbox::start().await.unwrap();
    let a = payabli_refund(&sb, seed::SETTLED_USD, Some("10.50"), "k-1").await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(raw_path(&a.text, &["data", "totalAmount"]), "-10.50");
    let a = payabli_refund(&sb, seed::SETTLED_USD, Some("89.51"), "k-2").await;
    assert_eq!((a.status, code(&a).as_str()), (400, "E3012"));
    let a = payabli_refund(&sb, seed::SETTLED_USD, Some("89.5"), "k-3").await;
    assert_eq!(a.status, 201);
    assert_eq!(
        sb.payment(seed::SETTLED_USD).unwrap().balance.minor_units(),
        0
    );
    assert_eq!(sb.applied_refunds(seed::SETTLED_USD), 2);
    // Seeded partial refund: RefundId already set, 60.00 left.
    let d = payabli_details(&sb, seed::PARTIALLY_REFUNDED_USD).await;
    let seeded_id = d.json()["RefundId"].as_i64().unwrap();
    assert_ne!(seeded_id, 0);
    let a = payabli_refund(&sb, seed::PARTIALLY_REFUNDED_USD, None, "k-4").await;
    assert_eq!(raw_path(&a.text, &["data", "totalAmount"]), "-60.00");
    let d = payabli_details(&sb, seed::PARTIALLY_REFUNDED_USD).await;
    assert_ne!(d.json()["RefundId"].as_i64().unwrap(), seeded_id);
}

#[tokio::test]
async fn amount_paths_that_are_not_decimal_text_are_e3002() {
    let sb = PayabliSandbox::start().await.unwrap();
    for (i, amount) in [
        "10.505", "10.500", "1e2", "-1.00", "+1.00", "0", "0.00", "abc", "1,000.00", "10.", ".5",
        " 1", "01.00",
    ]
    .iter()
    .enumerate()
    {
        let a = payabli_refund(&sb, seed::SETTLED_USD, Some(amount), &format!("bad-{i}")).await;
        assert_eq!(
            (a.status, code(&a).as_str()),
            (400, "E3002"),
            "{amount}: {}",
            a.text
        );
    }
    let a = payabli_refund(&sb, seed::SETTLED_JPY, Some("10.5"), "bad-jpy").await;
    assert_eq!(code(&a), "E3002");
    assert_eq!(sb.applied_refunds(seed::SETTLED_USD), 0);
    // Zero, two and three digits.
    let a = payabli_refund(&sb, seed::SETTLED_JPY, Some("1000"), "ok-jpy").await;
    assert_eq!(raw_path(&a.text, &["data", "totalAmount"]), "-1000");
    let a = payabli_refund(&sb, seed::SETTLED_KWD, Some("1.234"), "ok-kwd").await;
    assert_eq!(raw_path(&a.text, &["data", "totalAmount"]), "-1.234");
    let a = payabli_refund(&sb, seed::SETTLED_KWD, None, "ok-kwd-rest").await;
    assert_eq!(raw_path(&a.text, &["data", "totalAmount"]), "-11.111");
    assert_eq!(
        sb.payment(seed::SETTLED_JPY).unwrap().balance,
        Money::parse("9000", Currency::JPY).unwrap()
    );
    assert_eq!(
        sb.payment(seed::SETTLED_KWD).unwrap().balance.minor_units(),
        0
    );
}

#[tokio::test]
async fn unsettled_chargebacks_and_voids_are_e3007() {
    let sb = PayabliSandbox::start().await.unwrap();
    for (i, id) in [seed::BATCH_OPEN_USD, seed::CHARGEBACK_USD, seed::VOIDED_USD]
        .iter()
        .enumerate()
    {
        let a = payabli_refund(&sb, id, Some("1.00"), &format!("k-{i}")).await;
        assert_eq!((a.status, code(&a).as_str()), (400, "E3007"), "{id}");
        assert_eq!(sb.applied_refunds(id), 0);
    }
}

#[tokio::test]
async fn seeded_declines_are_402_and_change_nothing() {
    let sb = PayabliSandbox::start().await.unwrap();
    let a = payabli_refund(&sb, seed::DECLINE_D0100_USD, Some("10.50"), "k-dec").await;
    assert_eq!(a.status, 402);
    let v = a.json();
    assert_eq!(v["code"], "D0100");
    assert_eq!(v["reason"], "Declined");
    assert_eq!(v["data"]["transStatus"], 2);
    assert_eq!(v["data"]["refundId"], 0);
    assert_eq!(v["data"]["responseData"]["resultCode"], "D0100");
    assert_eq!(sb.applied_refunds(seed::DECLINE_D0100_USD), 0);
    assert_eq!(
        payabli_details(&sb, seed::DECLINE_D0100_USD).await.json()["RefundId"],
        0
    );
    let refund = payabli_details(&sb, v["data"]["paymentTransId"].as_str().unwrap()).await;
    assert_eq!(refund.json()["TransStatus"], 2);
    // A declined request's key cannot be reused (§3.6).
    let again = payabli_refund(&sb, seed::DECLINE_D0100_USD, Some("10.50"), "k-dec").await;
    assert_eq!(again.status, 409);
}

#[tokio::test]
async fn a_repeated_idempotency_key_is_409_never_a_replay() {
    let sb = PayabliSandbox::start().await.unwrap();
    let a = payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-9c01").await;
    assert_eq!(a.status, 201);
    let b = payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-9c01").await;
    assert_eq!(b.status, 409);
    assert_eq!(b.text, "Duplicated idempotencyKey: rf-9c01");
    assert_eq!(b.content_type(), "text/plain; charset=utf-8");
    // Even for another transaction, and even when the first request was refused.
    let c = payabli_refund(&sb, seed::FIXTURE_USD, None, "rf-9c01").await;
    assert_eq!(c.status, 409);
    let bad = payabli_refund(&sb, seed::SETTLED_USD, Some("x"), "rf-bad").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-bad")
            .await
            .status,
        409
    );
    assert_eq!(sb.applied_refunds(seed::SETTLED_USD), 1);
    // Reset forgets the keys.
    sb.reset();
    assert_eq!(
        payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-9c01")
            .await
            .status,
        201
    );
    // Without a key, every request is processed.
    let r = client()
        .post(format!(
            "{}/v2/MoneyIn/refund/{}/1.00",
            sb.base_url(),
            seed::SETTLED_USD
        ))
        .header("requestToken", sb.api_key().expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let empty = client()
        .post(format!(
            "{}/v2/MoneyIn/refund/{}/1.00",
            sb.base_url(),
            seed::SETTLED_USD
        ))
        .header("requestToken", sb.api_key().expose_secret())
        .header("idempotencyKey", "")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
}

#[tokio::test]
async fn the_idempotency_window_is_configurable() {
    let sb =
        PayabliSandbox::start_with(PayabliConfig::default().idempotency_window(Duration::ZERO))
            .await
            .unwrap();
    for _ in 0..2 {
        let a = payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "same-key").await;
        assert_eq!(a.status, 201);
    }
    assert_eq!(sb.applied_refunds_with_reference("same-key"), 2);
}

#[tokio::test]
async fn auth_not_found_and_bodies() {
    let sb = PayabliSandbox::start().await.unwrap();
    let url = format!("{}/v2/MoneyIn/refund/{}", sb.base_url(), seed::SETTLED_USD);
    for token in [None, Some("wrong")] {
        let mut rq = client().post(&url).header("idempotencyKey", "k-auth");
        if let Some(t) = token {
            rq = rq.header("requestToken", t);
        }
        let a = Answer::read(rq.send().await.unwrap()).await;
        assert_eq!((a.status, a.text.as_str()), (401, UNAUTHORIZED));
    }
    // The 401s did not burn the key.
    let nf = payabli_refund(&sb, "10-nope", None, "k-auth").await;
    assert_eq!(nf.status, 404);
    assert_eq!(nf.json()["isSuccess"], false);
    assert_eq!(nf.json()["responseCode"], 404);
    assert_eq!(payabli_details(&sb, "10-nope").await.status, 404);

    let token = sb.api_key().expose_secret().to_owned();
    let post = |key: &'static str, body: String, ct: Option<&'static str>| {
        let mut rq = client()
            .post(format!(
                "{}/v2/MoneyIn/refund/{}/1.00",
                sb.base_url(),
                seed::SETTLED_USD
            ))
            .header("requestToken", &token)
            .header("idempotencyKey", key)
            .body(body);
        if let Some(c) = ct {
            rq = rq.header("Content-Type", c);
        }
        rq.send()
    };
    let json = Some("application/json");
    for (i, (body, ct)) in [
        (r#"{"orderId":"o-1"}"#.to_owned(), None),
        (r#"{"amount":1.00}"#.to_owned(), json),
        (r#"{"ipaddress":"not-an-ip"}"#.to_owned(), json),
        (format!(r#"{{"orderId":"{}"}}"#, "x".repeat(251)), json),
        (format!(r#"{{"source":"{}"}}"#, "x".repeat(101)), json),
        ("not json".to_owned(), json),
        ("[]".to_owned(), json),
        (
            r#"{"refundDetails":{"categories":[{"label":"a","bogus":1}]}}"#.to_owned(),
            json,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let key: &'static str = ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"][i];
        let a = Answer::read(post(key, body.clone(), ct).await.unwrap()).await;
        assert_eq!((a.status, code(&a).as_str()), (400, "E3003"), "{body}");
    }
    assert_eq!(sb.applied_refunds(seed::SETTLED_USD), 0);
    let ok = Answer::read(
        post(
            "good",
            r#"{"orderId":"rf-9c02","source":"api","ipaddress":"10.0.0.1","orderDescription":"d","refundDetails":{"categories":[{"label":"a","description":"b","amount":1.00,"qty":1}],"splitRefunding":[{"originationEntryPoint":"e","accountId":"a","description":"d","amount":1.00}]}}"#.to_owned(),
            json,
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert_eq!(ok.json()["data"]["orderId"], "rf-9c02");
    let refund = payabli_details(&sb, ok.json()["data"]["paymentTransId"].as_str().unwrap()).await;
    assert_eq!(refund.json()["OrderId"], "rf-9c02");
}

#[tokio::test]
async fn encoded_ids_and_rust_api_payments() {
    let sb = PayabliSandbox::start_with(PayabliConfig::default())
        .await
        .unwrap();
    assert_eq!(enc(seed::SLASH_ID_USD), "10-with%2Fslash%20id");
    let a = payabli_refund(&sb, seed::SLASH_ID_USD, Some("1.00"), "k-slash").await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(
        payabli_details(&sb, seed::SLASH_ID_USD).await.json()["PaymentTransId"],
        seed::SLASH_ID_USD
    );
    let usd = |t: &str| Money::parse(t, Currency::USD).unwrap();
    // $90 + $10 fee → up to $90 (§3.4).
    sb.add_payment(PayabliPayment::new("10-own", usd("100.00")).service_fee(usd("10.00")))
        .unwrap();
    let a = payabli_refund(&sb, "10-own", Some("90.01"), "k-own-1").await;
    assert_eq!(code(&a), "E3012");
    let a = payabli_refund(&sb, "10-own", Some("90.00"), "k-own-2").await;
    assert_eq!(a.status, 201);
    sb.add_payment(
        PayabliPayment::new("10-own-dec", usd("5.00"))
            .behaviour(PayabliRefundBehaviour::Decline("D0120".into())),
    )
    .unwrap();
    assert_eq!(
        code(&payabli_refund(&sb, "10-own-dec", None, "k-own-3").await),
        "D0120"
    );
    assert!(
        sb.add_payment(
            PayabliPayment::new("10-bad", usd("5.00"))
                .behaviour(PayabliRefundBehaviour::Decline("E1".into()))
        )
        .is_err()
    );
    assert!(
        sb.add_payment(PayabliPayment::new("10-fee", usd("5.00")).service_fee(usd("5.00")))
            .is_err()
    );
}

#[tokio::test]
async fn quirk_ignoring_the_idempotency_key_applies_a_repeat() {
    let sb = PayabliSandbox::start_with(
        PayabliConfig::default().quirks(PayabliQuirks::default().ignoring_idempotency_key()),
    )
    .await
    .unwrap();
    for _ in 0..2 {
        let a = payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-dup").await;
        assert_eq!(a.status, 201, "{}", a.text);
    }
    assert_eq!(sb.applied_refunds_with_reference("rf-dup"), 2);
    // Switched off at run time: the contract's 409 again.
    sb.set_quirks(PayabliQuirks::default());
    let a = payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-dup").await;
    assert_eq!(a.status, 409);
}

#[tokio::test]
async fn quirk_slow_commit_hides_a_refund_from_details_until_it_lands() {
    let sb = PayabliSandbox::start_with(
        PayabliConfig::default()
            .quirks(PayabliQuirks::default().with_slow_commit(Duration::from_secs(60))),
    )
    .await
    .unwrap();
    let a = payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-slow").await;
    assert_eq!(a.status, 201, "{}", a.text);
    let refund_trans = a.json()["data"]["paymentTransId"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = a.json()["data"]["refundId"].as_i64().unwrap();
    // Applied (the truth), but Y-L1 does not show it yet.
    assert_eq!(sb.applied_refunds_with_reference("rf-slow"), 1);
    assert_eq!(sb.uncommitted_refunds(), 1);
    assert_eq!(
        payabli_details(&sb, seed::SETTLED_USD).await.json()["RefundId"],
        0
    );
    assert_eq!(payabli_details(&sb, &refund_trans).await.status, 404);
    // The emulator's clock passes the delay: the commit lands.
    sb.advance_time(Duration::from_secs(60));
    assert_eq!(sb.uncommitted_refunds(), 0);
    assert_eq!(
        payabli_details(&sb, seed::SETTLED_USD).await.json()["RefundId"],
        link
    );
    assert_eq!(payabli_details(&sb, &refund_trans).await.status, 200);
    // The same clock expires idempotency keys (2 minutes).
    assert_eq!(
        payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-slow")
            .await
            .status,
        409
    );
    sb.advance_time(Duration::from_secs(120));
    assert_eq!(
        payabli_refund(&sb, seed::SETTLED_USD, Some("1.00"), "rf-slow")
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn quirk_sale_echo_answers_with_the_sale() {
    let sb = PayabliSandbox::start().await.unwrap();
    sb.set_quirks(PayabliQuirks::default().echoing_the_sale());
    assert!(sb.quirks().sale_echo);
    let a = payabli_refund(&sb, seed::FIXTURE_USD, Some("10.50"), "rf-echo").await;
    assert_eq!(a.status, 201, "{}", a.text);
    let v = a.json();
    assert_eq!(v["code"], "A0004");
    assert_eq!(v["data"]["operation"], "Sale");
    assert_eq!(v["data"]["paymentTransId"], seed::FIXTURE_USD);
    assert_eq!(v["data"]["refundId"], 0);
    assert_eq!(raw_path(&a.text, &["data", "totalAmount"]), "105.00");
    assert_eq!(
        raw_path(
            &a.text,
            &["data", "paymentData", "paymentDetails", "serviceFee"]
        ),
        "5.00"
    );
    // The refund itself was applied as asked.
    let refunds = sb.refunds_with_reference("rf-echo");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount.minor_units(), 1050);
}
