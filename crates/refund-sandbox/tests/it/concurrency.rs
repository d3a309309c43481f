//! Concurrent refunds never lose an update.

use futures_util::future::join_all;
use refund_core::{Currency, Money};
use refund_sandbox::payabli::PayabliPayment;
use refund_sandbox::paynext::{PayNextConfig, PayNextPayment};
use refund_sandbox::plexy::PlexyPayment;
use refund_sandbox::{PayNextSandbox, PayabliSandbox, PlexySandbox};

use crate::common::{Answer, client};

const N: usize = 200;

/// Sends N Plexy refunds of 10.00 at once, each with its own reference; returns the statuses.
async fn plexy_burst(sb: &PlexySandbox, payment: &str) -> Vec<(u16, bool)> {
    let http = client();
    let key = sb.api_key().expose_secret().to_owned();
    let sends = (0..N).map(|i| {
        let rq = http
            .post(format!("{}/payments/{payment}/refund", sb.base_url()))
            .header("Authorization", &key)
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"amount":10.00,"minorAmount":1000,"orderReference":"rf-c-{i}"}}"#
            ));
        async move {
            let a = Answer::read(rq.send().await.unwrap()).await;
            let success = a.status == 200 && a.json()["success"] == true;
            (a.status, success)
        }
    });
    join_all(sends).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plexy_applies_exactly_200_with_enough_balance() {
    let sb = PlexySandbox::start().await.unwrap();
    let usd = |t: &str| Money::parse(t, Currency::USD).unwrap();
    sb.add_payment(PlexyPayment::new("burst", usd("2000.00")))
        .unwrap();
    let results = plexy_burst(&sb, "burst").await;
    assert_eq!(results.iter().filter(|(_, ok)| *ok).count(), N);
    assert_eq!(sb.applied_refunds("burst"), N);
    let p = sb.payment("burst").unwrap();
    assert_eq!((p.refunded, p.balance.minor_units()), (usd("2000.00"), 0));
    for i in 0..N {
        assert_eq!(sb.applied_refunds_with_reference(&format!("rf-c-{i}")), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plexy_applies_exactly_50_when_the_balance_allows_50() {
    let sb = PlexySandbox::start().await.unwrap();
    let usd = |t: &str| Money::parse(t, Currency::USD).unwrap();
    sb.add_payment(PlexyPayment::new("cap", usd("500.00")))
        .unwrap();
    let results = plexy_burst(&sb, "cap").await;
    assert_eq!(results.iter().filter(|(_, ok)| *ok).count(), 50);
    assert_eq!(results.iter().filter(|(s, _)| *s == 400).count(), 150);
    assert_eq!(sb.applied_refunds("cap"), 50);
    assert_eq!(sb.payment("cap").unwrap().balance.minor_units(), 0);
    assert_eq!(sb.payment("cap").unwrap().refunded, usd("500.00"));
}

/// N Payabli refunds of 1.00 at once, each with its own idempotency key.
async fn payabli_burst(sb: &PayabliSandbox, trans_id: &str) -> Vec<u16> {
    let http = client();
    let token = sb.api_key().expose_secret().to_owned();
    let sends = (0..N).map(|i| {
        let rq = http
            .post(format!(
                "{}/v2/MoneyIn/refund/{trans_id}/1.00",
                sb.base_url()
            ))
            .header("requestToken", &token)
            .header("idempotencyKey", format!("k-{i}"));
        async move { rq.send().await.unwrap().status().as_u16() }
    });
    join_all(sends).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payabli_applies_exactly_200_then_exactly_50() {
    let sb = PayabliSandbox::start().await.unwrap();
    let usd = |t: &str| Money::parse(t, Currency::USD).unwrap();
    sb.add_payment(PayabliPayment::new("10-burst", usd("205.00")).service_fee(usd("5.00")))
        .unwrap();
    let statuses = payabli_burst(&sb, "10-burst").await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), N);
    assert_eq!(sb.applied_refunds("10-burst"), N);
    assert_eq!(sb.payment("10-burst").unwrap().balance.minor_units(), 0);

    sb.reset();
    sb.add_payment(PayabliPayment::new("10-cap", usd("50.00")))
        .unwrap();
    let statuses = payabli_burst(&sb, "10-cap").await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 50);
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 150);
    assert_eq!(sb.applied_refunds("10-cap"), 50);
    assert_eq!(sb.payment("10-cap").unwrap().balance.minor_units(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paynext_applies_exactly_one_of_200_full_refunds() {
    let sb = PayNextSandbox::start_with(PayNextConfig::default().without_seed())
        .await
        .unwrap();
    sb.add_payment(PayNextPayment::new(
        "pay_burst",
        Money::from_minor(5_000, Currency::USD).unwrap(),
    ))
    .unwrap();
    let http = client();
    let auth = format!("Bearer {}", sb.api_key().expose_secret());
    let sends = (0..N).map(|_| {
        let rq = http
            .post(format!("{}/payments/refund/pay_burst", sb.base_url()))
            .header("Authorization", &auth)
            .header("X-API-Version", "1.0.0");
        async move { rq.send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(sends).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), N - 1);
    assert_eq!(sb.applied_refunds("pay_burst"), 1);
}
