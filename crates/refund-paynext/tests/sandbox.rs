//! End to end against the PayNext emulator of `refund-sandbox` (contract §2): refunds, declines,
//! lookups and the faults that make an outcome unknown, checked against what the emulator says
//! really happened.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use refund_core::{
    Currency, DeclineCode, ErrorKind, Lookup, Money, PaymentId, RefundProvider, RefundQuery,
    RefundReference, RefundRequest, RefundStatus,
};
use refund_paynext::{Client, PaymentStatus};
use refund_sandbox::paynext::{PayNextConfig, seed};
use refund_sandbox::{Fault, FaultKind, Operation, PayNextSandbox};

async fn sandbox() -> PayNextSandbox {
    // A long delay, so that a refund stays PENDING until the test resolves it.
    PayNextSandbox::start_with(PayNextConfig::default().refund_delay(Duration::from_secs(600)))
        .await
        .unwrap()
}

fn client(sandbox: &PayNextSandbox) -> Client {
    Client::builder(sandbox.api_key())
        .base_url(sandbox.base_url())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn request(payment: &str, reference: &str) -> RefundRequest {
    RefundRequest::builder(
        PaymentId::new(payment).unwrap(),
        RefundReference::new(reference).unwrap(),
    )
    .build()
    .unwrap()
}

fn query(payment: &str, reference: &str) -> RefundQuery {
    RefundQuery::for_request(&request(payment, reference))
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD).unwrap()
}

#[tokio::test]
async fn full_refund_then_lookups_follow_it_to_success() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);

    // Before: the payment proves that no refund exists.
    let before = client
        .find_refund(&query(seed::FIXTURE_USD, "rf-1"))
        .await
        .unwrap();
    assert_eq!(before, Lookup::Absent);

    let refund = client
        .refund(&request(seed::FIXTURE_USD, "rf-1"))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Pending);
    assert_eq!(refund.amount, Some(usd(15000)));
    let records = sandbox.refunds_of(seed::FIXTURE_USD);
    assert_eq!(records.len(), 1);
    assert_eq!(
        refund.refund_id.as_ref().map(|id| id.as_str()),
        Some(records[0].id.as_str())
    );
    assert_eq!(sandbox.applied_refunds(seed::FIXTURE_USD), 1);

    let pending = client
        .find_refund(&query(seed::FIXTURE_USD, "rf-1"))
        .await
        .unwrap();
    assert!(
        matches!(&pending, Lookup::Found(r) if r.status == RefundStatus::Pending),
        "{pending:?}"
    );

    sandbox.resolve_pending();
    let done = client
        .find_refund(&query(seed::FIXTURE_USD, "rf-1"))
        .await
        .unwrap();
    let Lookup::Found(done) = done else {
        panic!("expected Found, got {done:?}");
    };
    assert_eq!(done.status, RefundStatus::Succeeded);
    assert_eq!(done.amount, Some(usd(15000)));
    assert_eq!(done.refund_id, refund.refund_id);

    let payment = client
        .get_payment(&PaymentId::new(seed::FIXTURE_USD).unwrap())
        .await
        .unwrap();
    assert_eq!(payment.status, Some(PaymentStatus::Settled));
    assert_eq!(payment.amount, Some(usd(15000)));
    assert_eq!(payment.refunded_amount, Some(usd(15000)));
    assert_eq!(payment.refund_status, Some(RefundStatus::Succeeded));
    assert_eq!(
        payment
            .refund
            .as_ref()
            .and_then(|r| r.raw_status.as_deref()),
        Some("SUCCEEDED")
    );

    // A second refund of the same payment is refused, and nothing more is applied.
    let e = client
        .refund(&request(seed::FIXTURE_USD, "rf-2"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(e.http_status(), Some(400));
    assert!(e.message().contains("already been refunded"), "{e}");
    assert_eq!(sandbox.applied_refunds(seed::FIXTURE_USD), 1);

    // Every request carried the contract's headers, and the POSTs no body.
    let log = sandbox.requests();
    assert_eq!(log.len(), 6);
    for entry in &log {
        assert_eq!(entry.header("x-api-version"), Some("1.0.0"), "{entry:?}");
        assert_eq!(entry.header("authorization"), Some("[redacted]"));
        assert_eq!(entry.header("accept"), Some("application/json"));
        assert_eq!(entry.body, "");
        if entry.method == "POST" {
            assert_eq!(entry.header("content-type"), None);
            assert_eq!(entry.header("content-length"), Some("0"));
        }
    }
}

#[tokio::test]
async fn partial_refunds_send_nothing() {
    let sandbox = sandbox().await;
    let request = RefundRequest::builder(
        PaymentId::new(seed::FIXTURE_USD).unwrap(),
        RefundReference::new("rf-partial").unwrap(),
    )
    .partial(usd(1000))
    .build()
    .unwrap();
    let e = client(&sandbox).refund(&request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(sandbox.requests().is_empty());
    assert_eq!(sandbox.applied_refunds(seed::FIXTURE_USD), 0);
}

#[tokio::test]
async fn a_declined_refund_is_data_not_an_error() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let refund = client
        .refund(&request(seed::REFUND_FAILS_USD, "rf-decline"))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Declined);
    assert_eq!(refund.raw_status.as_deref(), Some("FAILED"));
    assert_eq!(
        refund.decline.as_ref().map(|d| d.code),
        Some(DeclineCode::Other)
    );
    assert_eq!(sandbox.applied_refunds(seed::REFUND_FAILS_USD), 0);
    let lookup = client
        .find_refund(&query(seed::REFUND_FAILS_USD, "rf-decline"))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Found(r) if r.status == RefundStatus::Declined));

    // Pending, then declined later.
    let refund = client
        .refund(&request(seed::REFUND_FAILS_LATER_USD, "rf-later"))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Pending);
    sandbox.resolve_pending();
    let lookup = client
        .find_refund(&query(seed::REFUND_FAILS_LATER_USD, "rf-later"))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Found(r) if r.status == RefundStatus::Declined));
}

#[tokio::test]
async fn refusals_map_to_their_kinds() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    for (payment, kind) in [
        (seed::AUTHORIZED_USD, ErrorKind::InvalidInput),
        (seed::DECLINED_USD, ErrorKind::InvalidInput),
        (seed::REFUNDED_USD, ErrorKind::InvalidInput),
        ("pay_does_not_exist", ErrorKind::NotFound),
    ] {
        let e = client.refund(&request(payment, "rf-x")).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{payment}: {e}");
        assert!(!e.is_outcome_unknown());
    }
    // A 404 while reconciling proves nothing.
    let lookup = client
        .find_refund(&query("pay_does_not_exist", "rf-x"))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Inconclusive(_)), "{lookup:?}");
    // The already refunded payment is found refunded.
    let lookup = client
        .find_refund(&query(seed::REFUNDED_USD, "rf-x"))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Found(r) if r.status == RefundStatus::Succeeded));

    let wrong_key = Client::builder("not-the-key")
        .base_url(sandbox.base_url())
        .build()
        .unwrap();
    let e = wrong_key
        .refund(&request(seed::SETTLING_USD, "rf-x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    let e = wrong_key
        .find_refund(&query(seed::SETTLING_USD, "rf-x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(sandbox.applied_refunds(seed::SETTLING_USD), 0);
}

#[tokio::test]
async fn amounts_in_other_currencies_and_odd_ids() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    for (payment, text, code) in [
        (seed::SETTLED_JPY, "10000", "JPY"),
        (seed::SETTLED_KWD, "12.345", "KWD"),
        (seed::SLASH_ID_USD, "10.00", "USD"),
    ] {
        let refund = client.refund(&request(payment, "rf-cur")).await.unwrap();
        let amount = refund.amount.unwrap();
        assert_eq!(amount.decimal_text(), text, "{payment}");
        assert_eq!(amount.currency().code(), code);
        assert_eq!(sandbox.applied_refunds(payment), 1, "{payment}");
    }
}

#[tokio::test]
async fn unknown_outcomes_reconcile_to_the_truth() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let applied = [
        FaultKind::CloseAfterApplying,
        FaultKind::ServerErrorAfterApplying(500),
        FaultKind::TruncatedJsonAfterApplying,
        FaultKind::OversizedBody(2 * 1024 * 1024),
    ];
    for (i, kind) in applied.into_iter().enumerate() {
        sandbox.reset();
        sandbox
            .inject(
                Fault::new(kind.clone())
                    .for_payment(seed::FIXTURE_USD)
                    .only(Operation::Refund),
            )
            .unwrap();
        let reference = format!("rf-applied-{i}");
        let e = client
            .refund(&request(seed::FIXTURE_USD, &reference))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{kind:?}: {e:?}");
        assert_eq!(sandbox.applied_refunds(seed::FIXTURE_USD), 1, "{kind:?}");
        let lookup = client
            .find_refund(&query(seed::FIXTURE_USD, &reference))
            .await
            .unwrap();
        assert!(matches!(lookup, Lookup::Found(_)), "{kind:?}: {lookup:?}");
    }

    let not_applied = [
        FaultKind::ServerErrorBeforeApplying(503),
        FaultKind::CloseBeforeApplying,
        FaultKind::HtmlErrorPage(502),
    ];
    for (i, kind) in not_applied.into_iter().enumerate() {
        sandbox.reset();
        sandbox
            .inject(
                Fault::new(kind.clone())
                    .for_payment(seed::FIXTURE_USD)
                    .only(Operation::Refund),
            )
            .unwrap();
        let reference = format!("rf-not-applied-{i}");
        let e = client
            .refund(&request(seed::FIXTURE_USD, &reference))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{kind:?}: {e:?}");
        assert_eq!(sandbox.applied_refunds(seed::FIXTURE_USD), 0, "{kind:?}");
        let lookup = client
            .find_refund(&query(seed::FIXTURE_USD, &reference))
            .await
            .unwrap();
        assert_eq!(lookup, Lookup::Absent, "{kind:?}");
    }

    // A timeout after the refund was applied.
    sandbox.reset();
    sandbox
        .inject(
            Fault::new(FaultKind::Delay(Duration::from_secs(5)))
                .for_payment(seed::FIXTURE_USD)
                .only(Operation::Refund),
        )
        .unwrap();
    let impatient = Client::builder(sandbox.api_key())
        .base_url(sandbox.base_url())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let e = impatient
        .refund(&request(seed::FIXTURE_USD, "rf-timeout"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    assert_eq!(sandbox.applied_refunds(seed::FIXTURE_USD), 1);
}

#[tokio::test]
async fn rate_limits_html_pages_and_unknown_values() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);

    sandbox
        .inject(
            Fault::new(FaultKind::TooManyRequests {
                retry_after: Duration::from_secs(2),
            })
            .only(Operation::Refund),
        )
        .unwrap();
    let e = client
        .refund(&request(seed::FIXTURE_USD, "rf-429"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(sandbox.applied_refunds(seed::FIXTURE_USD), 0);

    // A gateway's HTML 404 while reconciling proves nothing.
    sandbox
        .inject(Fault::new(FaultKind::HtmlErrorPage(404)).only(Operation::Lookup))
        .unwrap();
    let lookup = client
        .find_refund(&query(seed::FIXTURE_USD, "rf-429"))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Inconclusive(_)), "{lookup:?}");

    // An unknown payment_status never breaks decoding.
    sandbox
        .inject(Fault::new(FaultKind::UnknownEnumValue).times(2))
        .unwrap();
    let refund = client
        .refund(&request(seed::FIXTURE_USD, "rf-enum"))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Pending);
    let payment = client
        .get_payment(&PaymentId::new(seed::FIXTURE_USD).unwrap())
        .await
        .unwrap();
    assert_eq!(
        payment.status,
        Some(PaymentStatus::Other("UNDER_REVIEW".into()))
    );
    assert!(payment.has_refund());
}
