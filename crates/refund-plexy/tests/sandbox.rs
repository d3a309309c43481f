//! End to end against the Plexy emulator of `refund-sandbox` (127.0.0.1): full and partial
//! refunds, declines, the `09` wait, lookups, and the faults that make an outcome unknown, each
//! checked against the emulator's record of what really happened.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use refund_plexy::refund_core::{
    Currency, DeclineCode, ErrorKind, Lookup, Money, PaymentId, RefundAmount, RefundProvider,
    RefundQuery, RefundReference, RefundRequest, RefundStatus,
};
use refund_plexy::{Client, Refundability, TransactionKind, TransactionStatus};
use refund_sandbox::plexy::{PlexyConfig, seed};
use refund_sandbox::{Fault, FaultKind, Operation, PlexySandbox};

fn client(sandbox: &PlexySandbox) -> Client {
    Client::builder(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()
        .unwrap()
}

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

fn request(payment: &str, reference: &str, amount: Option<Money>) -> RefundRequest {
    let builder = RefundRequest::builder(
        PaymentId::new(payment).unwrap(),
        RefundReference::new(reference).unwrap(),
    );
    match amount {
        Some(m) => builder.partial(m),
        None => builder,
    }
    .build()
    .unwrap()
}

async fn find(client: &Client, request: &RefundRequest) -> Lookup {
    client
        .find_refund(&RefundQuery::for_request(request))
        .await
        .unwrap()
}

#[tokio::test]
async fn full_refund() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let client = client(&sandbox);
    let req = request(seed::REFUNDABLE_USD, "rf-full-1", None);
    let refund = client.refund(&req).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.raw_status.as_deref(), Some("00"));
    assert!(refund.refund_id.is_some());
    assert_eq!(refund.amount, None, "a full refund's currency is not known");

    let payment = sandbox.payment(seed::REFUNDABLE_USD).unwrap();
    assert_eq!(payment.balance, usd("0"));
    assert_eq!(sandbox.applied_refunds_with_reference("rf-full-1"), 1);

    // What went on the wire: the raw key (redacted in the log), JSON, no idempotency header.
    let logged = sandbox.requests();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].method, "POST");
    assert_eq!(logged[0].path, "/v1/payments/plexy-usd-refundable/refund");
    assert_eq!(logged[0].body, r#"{"orderReference":"rf-full-1"}"#);
    assert_eq!(logged[0].header("content-type"), Some("application/json"));
    assert!(logged[0].header("authorization").is_some());
    assert!(logged[0].header("idempotency-key").is_none());

    // Reconciliation finds it, with the amount in the transaction's currency.
    let Lookup::Found(found) = find(&client, &req).await else {
        panic!("expected the refund to be found");
    };
    assert_eq!(found.status, RefundStatus::Succeeded);
    assert_eq!(found.refund_id, refund.refund_id);
    assert_eq!(found.amount, Some(usd("100.00")));

    // A second full refund is refused: nothing is left.
    let e = client
        .refund(&request(seed::REFUNDABLE_USD, "rf-full-2", None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(sandbox.applied_refunds(seed::REFUNDABLE_USD), 1);
}

#[tokio::test]
async fn partial_refunds_of_the_fixture_payment() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let client = client(&sandbox);
    let kzt = |t| Money::parse(t, Currency::KZT).unwrap();

    let first = request(seed::FIXTURE_KZT, "rf-7f3c2b", Some(kzt("10.50")));
    let refund = client.refund(&first).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount, Some(kzt("10.50")));
    assert_eq!(refund.remaining, Some(kzt("189.50")));
    assert_eq!(
        sandbox.requests()[0].body,
        r#"{"amount":10.50,"minorAmount":1050,"orderReference":"rf-7f3c2b"}"#
    );

    let second = request(seed::FIXTURE_KZT, "rf-7f3c2c", Some(kzt("0.50")));
    let refund = client.refund(&second).await.unwrap();
    assert_eq!(refund.remaining, Some(kzt("189.00")));
    assert_eq!(sandbox.applied_refunds(seed::FIXTURE_KZT), 2);

    // P-L1 on the original.
    let payment = client.transaction(seed::FIXTURE_KZT).await.unwrap();
    assert_eq!(payment.kind, Some(TransactionKind::Payment));
    assert_eq!(payment.status, Some(TransactionStatus::Refunded));
    assert_eq!(payment.refundability(), Refundability::Refunded);
    assert_eq!(payment.amount, Some(kzt("200.00")));
    assert_eq!(payment.remaining, Some(kzt("189.00")));

    // P-L2 for each reference finds its own refund.
    let Lookup::Found(found) = find(&client, &first).await else {
        panic!("expected Found");
    };
    assert_eq!(found.amount, Some(kzt("10.50")));
    let Lookup::Found(found) = find(&client, &second).await else {
        panic!("expected Found");
    };
    assert_eq!(found.amount, Some(kzt("0.50")));

    // The raw P-L2 lists the refund transaction.
    let raw = client
        .find_by_order_reference(&RefundReference::new("rf-7f3c2b").unwrap())
        .await
        .unwrap();
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].parent_id.as_deref(), Some(seed::FIXTURE_KZT));
}

#[tokio::test]
async fn amounts_in_currencies_of_other_exponents() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let client = client(&sandbox);
    for (payment, amount, body) in [
        (
            seed::REFUNDABLE_JPY,
            Money::parse("1000", Currency::JPY).unwrap(),
            r#"{"amount":1000,"minorAmount":1000,"orderReference":"rf-jpy"}"#,
        ),
        (
            seed::REFUNDABLE_KWD,
            Money::parse("1.005", Currency::KWD).unwrap(),
            r#"{"amount":1.005,"minorAmount":1005,"orderReference":"rf-kwd"}"#,
        ),
    ] {
        sandbox.clear_requests();
        let reference = if amount.currency() == Currency::JPY {
            "rf-jpy"
        } else {
            "rf-kwd"
        };
        let refund = client
            .refund(&request(payment, reference, Some(amount)))
            .await
            .unwrap();
        assert_eq!(refund.status, RefundStatus::Succeeded);
        assert_eq!(refund.amount, Some(amount));
        assert_eq!(sandbox.requests()[0].body, body);
    }
}

#[tokio::test]
async fn declines_and_refusals() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let client = client(&sandbox);
    for (payment, code, normalized) in [
        (seed::DECLINE_05_USD, "05", DeclineCode::DoNotHonor),
        (seed::DECLINE_51_USD, "51", DeclineCode::InsufficientFunds),
    ] {
        let req = request(payment, &format!("rf-decline-{code}"), Some(usd("10.00")));
        let refund = client.refund(&req).await.unwrap();
        assert_eq!(refund.status, RefundStatus::Declined);
        let decline = refund.decline.unwrap();
        assert_eq!(decline.code, normalized);
        assert_eq!(decline.provider_code.as_deref(), Some(code));
        assert_eq!(sandbox.applied_refunds(payment), 0);
        // The declined refund transaction is found as declined.
        let Lookup::Found(found) = find(&client, &req).await else {
            panic!("expected Found");
        };
        assert_eq!(found.status, RefundStatus::Declined);
    }

    let e = client
        .refund(&request(seed::AUTHORIZED_USD, "rf-auth", None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        client
            .transaction(seed::AUTHORIZED_USD)
            .await
            .unwrap()
            .refundability(),
        Refundability::CancelInstead
    );
    let e = client
        .refund(&request(
            seed::PARTIALLY_REFUNDED_USD,
            "rf-big",
            Some(usd("70.01")),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = client
        .refund(&request("no-such-payment", "rf-none", None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.provider_code(), Some("4"));
    let e = client.transaction("no-such-payment").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    let wrong_key = Client::builder("not-the-key")
        .base_url(sandbox.base_url())
        .build()
        .unwrap();
    let e = wrong_key
        .refund(&request(seed::REFUNDABLE_USD, "rf-key", None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    let e = wrong_key
        .find_refund(&RefundQuery::for_request(&request(
            seed::REFUNDABLE_USD,
            "rf-key",
            None,
        )))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(sandbox.applied_refunds(seed::REFUNDABLE_USD), 0);
}

#[tokio::test]
async fn wait_then_refunded() {
    let sandbox =
        PlexySandbox::start_with(PlexyConfig::default().pending_delay(Duration::from_secs(3600)))
            .await
            .unwrap();
    let client = client(&sandbox);
    let req = request(seed::WAIT_09_USD, "rf-wait", Some(usd("5.00")));
    let refund = client.refund(&req).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Pending);
    assert_eq!(refund.raw_status.as_deref(), Some("09"));
    let Lookup::Found(found) = find(&client, &req).await else {
        panic!("expected Found");
    };
    assert_eq!(found.status, RefundStatus::Pending);
    sandbox.resolve_pending();
    let Lookup::Found(found) = find(&client, &req).await else {
        panic!("expected Found");
    };
    assert_eq!(found.status, RefundStatus::Succeeded);
    assert_eq!(found.amount, Some(usd("5.00")));
}

#[tokio::test]
async fn unknown_reference_is_proven_absent() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let client = client(&sandbox);
    let lookup = client
        .find_refund(&RefundQuery::new(
            PaymentId::new(seed::REFUNDABLE_USD).unwrap(),
            RefundReference::new("rf-never-sent").unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(lookup, Lookup::Absent);

    // A reference that belongs to another payment's refund is not ours: inconclusive.
    client
        .refund(&request(
            seed::REFUNDABLE_USD,
            "rf-shared",
            Some(usd("1.00")),
        ))
        .await
        .unwrap();
    let lookup = client
        .find_refund(&RefundQuery::new(
            PaymentId::new(seed::REFUNDABLE_JPY).unwrap(),
            RefundReference::new("rf-shared").unwrap(),
        ))
        .await
        .unwrap();
    assert!(matches!(lookup, Lookup::Inconclusive(_)), "{lookup:?}");
}

/// Issue 16: with P-L2 answering like an unknown route (`{"message":"Not Found"}`, no `code`),
/// neither an existing refund nor an unknown reference reads as absent.
#[tokio::test]
async fn route_missing_is_inconclusive_never_absent() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let client = client(&sandbox);
    let sent = request(seed::REFUNDABLE_USD, "rf-rm-sent", Some(usd("2.00")));
    client.refund(&sent).await.unwrap();
    let never = request(seed::REFUNDABLE_USD, "rf-rm-never", None);
    assert!(matches!(find(&client, &sent).await, Lookup::Found(_)));
    assert_eq!(find(&client, &never).await, Lookup::Absent);

    sandbox.set_route_missing(true);
    for req in [&sent, &never] {
        let lookup = find(&client, req).await;
        let Lookup::Inconclusive(reason) = &lookup else {
            panic!("{}: expected Inconclusive, got {lookup:?}", req.reference());
        };
        assert!(reason.contains("404"), "{reason}");
    }
    // The raw lookup reports the 404 as an error, never as an empty result.
    let e = client
        .find_by_order_reference(sent.reference())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.provider_code(), None);
}

#[tokio::test]
async fn ids_that_need_encoding() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let client = client(&sandbox);
    let refund = client
        .refund(&request(seed::SLASH_ID_USD, "rf-slash", Some(usd("1.00"))))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(
        sandbox.requests()[0].path,
        "/v1/payments/plexy%2Fwith%20slash/refund"
    );
    let t = client.transaction(seed::SLASH_ID_USD).await.unwrap();
    assert_eq!(t.id.as_deref(), Some(seed::SLASH_ID_USD));
}

/// Faults that leave the outcome unknown, then reconciliation tells the truth.
#[tokio::test]
async fn unknown_outcomes_reconcile_to_the_truth() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let short = Client::builder(sandbox.api_key())
        .base_url(sandbox.base_url())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let client = client(&sandbox);
    let applied = [
        FaultKind::CloseAfterApplying,
        FaultKind::ServerErrorAfterApplying(500),
        FaultKind::ServerErrorAfterApplying(503),
        FaultKind::TruncatedJsonAfterApplying,
        FaultKind::OversizedBody(2 * 1024 * 1024),
        FaultKind::Delay(Duration::from_secs(3)),
    ];
    for (i, kind) in applied.into_iter().enumerate() {
        let reference = format!("rf-fault-{i}");
        let req = request(seed::REFUNDABLE_USD, &reference, Some(usd("1.00")));
        sandbox
            .inject(Fault::new(kind.clone()).only(Operation::Refund))
            .unwrap();
        let e = short.refund(&req).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{kind:?}: {e}");
        assert!(e.may_have_reached_provider());
        assert_eq!(
            sandbox.applied_refunds_with_reference(&reference),
            1,
            "{kind:?}"
        );
        let Lookup::Found(found) = find(&client, &req).await else {
            panic!("{kind:?}: expected Found");
        };
        assert_eq!(found.status, RefundStatus::Succeeded, "{kind:?}");
        assert_eq!(found.amount, Some(usd("1.00")));
    }

    // Not applied: the lookup proves absence (the only answer that allows a re-send).
    for (i, kind) in [
        FaultKind::CloseBeforeApplying,
        FaultKind::ServerErrorBeforeApplying(500),
        FaultKind::HtmlErrorPage(502),
    ]
    .into_iter()
    .enumerate()
    {
        let reference = format!("rf-before-{i}");
        let req = request(seed::REFUNDABLE_USD, &reference, Some(usd("1.00")));
        sandbox
            .inject(Fault::new(kind.clone()).only(Operation::Refund))
            .unwrap();
        let e = client.refund(&req).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{kind:?}: {e}");
        assert_eq!(sandbox.applied_refunds_with_reference(&reference), 0);
        assert_eq!(find(&client, &req).await, Lookup::Absent, "{kind:?}");
    }

    // 429: not applied, retryable, Retry-After kept.
    sandbox
        .inject(
            Fault::new(FaultKind::TooManyRequests {
                retry_after: Duration::from_secs(2),
            })
            .only(Operation::Refund),
        )
        .unwrap();
    let e = client
        .refund(&request(seed::REFUNDABLE_USD, "rf-429", Some(usd("1.00"))))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(sandbox.applied_refunds_with_reference("rf-429"), 0);

    // Lookup faults: an HTML gateway 404-ish page or a 5xx never reads as absent.
    let req = request(seed::REFUNDABLE_USD, "rf-lookup", None);
    sandbox
        .inject(Fault::new(FaultKind::HtmlErrorPage(404)).only(Operation::Lookup))
        .unwrap();
    assert!(matches!(find(&client, &req).await, Lookup::Inconclusive(_)));
    sandbox
        .inject(Fault::new(FaultKind::ServerErrorBeforeApplying(503)).only(Operation::Lookup))
        .unwrap();
    let e = client
        .find_refund(&RefundQuery::for_request(&req))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Provider);
}

#[tokio::test]
async fn unknown_enum_values() {
    let sandbox = PlexySandbox::start().await.unwrap();
    let client = client(&sandbox);
    let req = request(seed::REFUNDABLE_USD, "rf-enum", Some(usd("2.00")));
    sandbox
        .inject(Fault::new(FaultKind::UnknownEnumValue).times(2))
        .unwrap();
    // `responseCode` "Z9" with `success: true`: rule 2 makes it Succeeded.
    let refund = client.refund(&req).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.raw_status.as_deref(), Some("Z9"));
    // Transaction status "on_hold": anything unlisted is Pending.
    let Lookup::Found(found) = find(&client, &req).await else {
        panic!("expected Found");
    };
    assert_eq!(found.status, RefundStatus::Pending);
    assert_eq!(found.raw_status.as_deref(), Some("on_hold"));
    assert_eq!(
        RefundQuery::for_request(&req).amount,
        RefundAmount::Partial(usd("2.00"))
    );
}
