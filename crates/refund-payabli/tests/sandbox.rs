//! End to end against the stateful Payabli emulator of `refund-sandbox` (127.0.0.1): full and
//! partial refunds, a decline, refusals, reconciliation after a lost answer, and the details
//! lookup. The sandbox tells what really happened (refunds applied, the request log).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use refund_payabli::refund_core::{
    Currency, DeclineCode, ErrorKind, Lookup, Money, PaymentId, RefundProvider, RefundQuery,
    RefundReference, RefundRequest, RefundStatus,
};
use refund_payabli::{Client, LineItem, PayabliRefund, Refundability, SplitRefund};
use refund_sandbox::payabli::seed;
use refund_sandbox::{Fault, FaultKind, Operation, PayabliSandbox};

fn client(sandbox: &PayabliSandbox) -> Client {
    Client::builder(sandbox.api_key())
        .base_url(sandbox.base_url())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

fn request(payment: &str, reference: &str, amount: Option<Money>) -> RefundRequest {
    let b = RefundRequest::builder(
        PaymentId::new(payment).unwrap(),
        RefundReference::new(reference).unwrap(),
    );
    match amount {
        Some(m) => b.partial(m),
        None => b,
    }
    .build()
    .unwrap()
}

#[tokio::test]
async fn full_refund_of_the_fixture() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let c = client(&sandbox);
    let refund = c
        .refund(&request(seed::FIXTURE_USD, "rf-full-1", None))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    // 105.00 minus the 5.00 service fee.
    assert_eq!(refund.amount, Some(usd("100.00")));
    assert_eq!(refund.raw_status.as_deref(), Some("A0004"));
    assert!(refund.refund_id.is_some());
    assert_eq!(sandbox.applied_refunds_with_reference("rf-full-1"), 1);

    let log = sandbox.requests();
    assert_eq!(log.len(), 1);
    let sent = &log[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.path,
        format!("/api/v2/MoneyIn/refund/{}", seed::FIXTURE_USD)
    );
    assert_eq!(sent.header("idempotencyKey"), Some("rf-full-1"));
    assert_eq!(sent.header("requestToken"), Some("[redacted]"));
    assert_eq!(sent.header("content-type"), None);
    assert_eq!(sent.body, "");
    assert_eq!(sent.status, Some(201));

    // Reconciliation now finds it.
    let lookup = c
        .find_refund(&RefundQuery::new(
            PaymentId::new(seed::FIXTURE_USD).unwrap(),
            RefundReference::new("rf-full-1").unwrap(),
        ))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Found(ref r) if r.status == RefundStatus::Succeeded));
}

#[tokio::test]
async fn partial_refund_with_snapshot_and_reconciliation() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let c = client(&sandbox);
    let payment = PaymentId::new(seed::SETTLED_USD).unwrap();
    let req = request(seed::SETTLED_USD, "rf-part-1", Some(usd("10.50")));

    let before = c.snapshot(&payment).await.unwrap();
    assert_eq!(before.as_ref().map(|s| s.as_str()), Some("refund_id=0"));
    let query = RefundQuery::for_request(&req).with_snapshot(before);
    // Nothing refunded yet: RefundId unchanged proves absence (§0.5).
    assert_eq!(c.find_refund(&query).await.unwrap(), Lookup::Absent);

    let refund = c.refund(&req).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, Some(usd("10.50")));
    let sent = sandbox
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(
        sent.path,
        format!("/api/v2/MoneyIn/refund/{}/10.50", seed::SETTLED_USD)
    );
    assert_eq!(
        sandbox.payment(seed::SETTLED_USD).unwrap().refunded,
        usd("10.50")
    );

    let Lookup::Found(found) = c.find_refund(&query).await.unwrap() else {
        panic!("the partial refund should be found against the snapshot")
    };
    assert_eq!(found.status, RefundStatus::Succeeded);
    assert!(found.refund_id.is_some());
    // Without a snapshot a partial refund proves nothing.
    assert!(matches!(
        c.find_refund(&RefundQuery::for_request(&req))
            .await
            .unwrap(),
        Lookup::Inconclusive(_)
    ));
}

#[tokio::test]
async fn amounts_in_other_exponents_and_an_encoded_trans_id() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let c = client(&sandbox);
    for (payment, amount, text) in [
        (
            seed::SETTLED_JPY,
            Money::parse("1000", Currency::JPY).unwrap(),
            "1000",
        ),
        (
            seed::SETTLED_KWD,
            Money::parse("1.005", Currency::KWD).unwrap(),
            "1.005",
        ),
        (seed::SLASH_ID_USD, usd("0.05"), "0.05"),
    ] {
        let refund = c
            .refund(&request(payment, &format!("rf-{text}"), Some(amount)))
            .await
            .unwrap();
        assert_eq!(refund.status, RefundStatus::Succeeded, "{payment}");
        assert_eq!(refund.amount, Some(amount), "{payment}");
        assert_eq!(sandbox.payment(payment).unwrap().refunded, amount);
    }
    let paths: Vec<String> = sandbox.requests().into_iter().map(|r| r.path).collect();
    assert!(paths.contains(&"/api/v2/MoneyIn/refund/10-with%2Fslash%20id/0.05".to_owned()));
    assert!(paths.contains(&format!(
        "/api/v2/MoneyIn/refund/{}/1000",
        seed::SETTLED_JPY
    )));
}

#[tokio::test]
async fn split_refund_body_is_accepted() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let c = client(&sandbox);
    let refund = PayabliRefund::builder(request(seed::SETTLED_USD, "rf-split", Some(usd("10.50"))))
        .order_id("INV-1")
        .source("api")
        .ip_address("192.0.2.7")
        .split(SplitRefund::new("entry", "acct-1", usd("7.00")))
        .split(SplitRefund::new("entry", "acct-2", usd("3.50")))
        .line_item(LineItem::new("Dues", usd("10.50"), 1))
        .build()
        .unwrap();
    let outcome = c.refund_with(&refund).await.unwrap();
    assert_eq!(outcome.status, RefundStatus::Succeeded);
    let sent = &sandbox.requests()[0];
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert!(sent.body.contains(r#""splitRefunding":[{"originationEntryPoint":"entry","accountId":"acct-1","amount":7.00}"#), "{}", sent.body);
    assert_eq!(sandbox.applied_refunds_with_reference("rf-split"), 1);
}

#[tokio::test]
async fn a_decline() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let refund = client(&sandbox)
        .refund(&request(seed::DECLINE_D0100_USD, "rf-decl", None))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Declined);
    let decline = refund.decline.unwrap();
    assert_eq!(decline.code, DeclineCode::Other);
    assert_eq!(decline.provider_code.as_deref(), Some("D0100"));
    assert!(decline.message.is_some());
    assert_eq!(sandbox.applied_refunds(seed::DECLINE_D0100_USD), 0);
}

#[tokio::test]
async fn refusals_are_typed() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let c = client(&sandbox);
    for (payment, reference, amount, kind, code) in [
        (
            seed::BATCH_OPEN_USD,
            "rf-r1",
            None,
            ErrorKind::InvalidInput,
            Some("E3007"),
        ),
        (
            seed::CHARGEBACK_USD,
            "rf-r2",
            None,
            ErrorKind::InvalidInput,
            Some("E3007"),
        ),
        (
            seed::SETTLED_USD,
            "rf-r3",
            Some(usd("500.00")),
            ErrorKind::InvalidInput,
            Some("E3012"),
        ),
        (
            "10-no-such-transaction",
            "rf-r4",
            None,
            ErrorKind::NotFound,
            Some("404"),
        ),
    ] {
        let err = c
            .refund(&request(payment, reference, amount))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{payment}: {err}");
        assert_eq!(err.provider_code(), code, "{payment}");
    }
    let wrong = Client::builder("not-the-token")
        .base_url(sandbox.base_url())
        .build()
        .unwrap();
    let err = wrong
        .refund(&request(seed::SETTLED_USD, "rf-r5", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.http_status(), Some(401));
    assert_eq!(
        sandbox
            .payments()
            .iter()
            .map(|p| p.refunds_applied)
            .sum::<usize>(),
        1
    );
}

#[tokio::test]
async fn a_lost_answer_is_unknown_then_found_and_a_re_send_is_409() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let c = client(&sandbox);
    sandbox
        .inject(
            Fault::new(FaultKind::CloseAfterApplying)
                .for_payment(seed::SETTLED_USD)
                .only(Operation::Refund),
        )
        .unwrap();
    let req = request(seed::SETTLED_USD, "rf-lost", None);
    let err = c.refund(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    assert_eq!(sandbox.applied_refunds_with_reference("rf-lost"), 1);

    // Reconciliation (§3.6 step 1) finds the applied full refund.
    let lookup = c
        .find_refund(&RefundQuery::for_request(&req))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Found(_)), "{lookup:?}");

    // A re-send inside the window is refused with 409 and applies nothing.
    let err = c.refund(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(err.http_status(), Some(409));
    assert_eq!(sandbox.applied_refunds_with_reference("rf-lost"), 1);
    let posts: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert!(
        posts
            .iter()
            .all(|r| r.header("idempotencyKey") == Some("rf-lost"))
    );
}

#[tokio::test]
async fn server_errors_and_unreadable_answers_are_unknown() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let c = client(&sandbox);
    for (i, kind) in [
        FaultKind::ServerErrorAfterApplying(500),
        FaultKind::ServerErrorBeforeApplying(503),
        FaultKind::TruncatedJsonAfterApplying,
        FaultKind::HtmlErrorPage(502),
    ]
    .into_iter()
    .enumerate()
    {
        sandbox
            .inject(Fault::new(kind.clone()).only(Operation::Refund))
            .unwrap();
        let err = c
            .refund(&request(
                seed::SETTLED_USD,
                &format!("rf-5xx-{i}"),
                Some(usd("1.00")),
            ))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{kind:?}: {err}");
    }
    // An unknown A code from the emulator still succeeds.
    sandbox
        .inject(Fault::new(FaultKind::UnknownEnumValue).only(Operation::Refund))
        .unwrap();
    let refund = c
        .refund(&request(seed::SETTLED_USD, "rf-a0099", Some(usd("1.00"))))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.raw_status.as_deref(), Some("A0099"));
}

#[tokio::test]
async fn transaction_details_and_refundability() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let c = client(&sandbox);
    let details = c
        .transaction_details(&PaymentId::new(seed::FIXTURE_USD).unwrap())
        .await
        .unwrap();
    assert_eq!(details.trans_id.as_deref(), Some(seed::FIXTURE_USD));
    assert_eq!(details.total_amount, Some(usd("105.00")));
    assert_eq!(details.refundable_amount, Some(usd("100.00")));
    assert_eq!(details.refund_id, Some(0));
    assert_eq!(details.refundability, Refundability::Refundable);
    for (payment, expected) in [
        (seed::BATCH_OPEN_USD, Refundability::VoidInstead),
        (seed::CHARGEBACK_USD, Refundability::NotRefundable),
        (seed::VOIDED_USD, Refundability::NotRefundable),
    ] {
        let d = c
            .transaction_details(&PaymentId::new(payment).unwrap())
            .await
            .unwrap();
        assert_eq!(d.refundability, expected, "{payment}");
    }
    let d = c
        .transaction_details(&PaymentId::new(seed::PARTIALLY_REFUNDED_USD).unwrap())
        .await
        .unwrap();
    assert_ne!(d.refund_id, Some(0));
    let err = c
        .transaction_details(&PaymentId::new("10-unknown").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // For reconciliation the same 404 proves nothing.
    let lookup = c
        .find_refund(&RefundQuery::new(
            PaymentId::new("10-unknown").unwrap(),
            RefundReference::new("rf-x").unwrap(),
        ))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Inconclusive(_)));
}
