//! Every fault kind, observed over raw HTTP, with the truth checked afterwards.

use std::time::{Duration, Instant};

use refund_sandbox::plexy::seed;
use refund_sandbox::{
    Fault, FaultKind, Operation, PayNextSandbox, PayabliSandbox, PlexySandbox, payabli, paynext,
};

use crate::common::{
    Answer, client, enc, payabli_details, payabli_refund, paynext_get, paynext_refund, plexy_get,
    raw_field,
};

const PARTIAL: &str = r#"{"amount":1.00,"minorAmount":100,"orderReference":"rf-fault"}"#;

/// Sends a Plexy refund and returns the transport error, if any.
async fn send_plexy(sb: &PlexySandbox, payment: &str) -> Result<Answer, reqwest::Error> {
    let response = client()
        .post(format!(
            "{}/payments/{}/refund",
            sb.base_url(),
            enc(payment)
        ))
        .header("Authorization", sb.api_key().expose_secret())
        .header("Content-Type", "application/json")
        .body(PARTIAL)
        .send()
        .await?;
    Ok(Answer::read(response).await)
}

#[tokio::test]
async fn delay_applies_first_then_answers_late() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(Fault::new(FaultKind::Delay(Duration::from_secs(2))))
        .unwrap();
    // A client that gives up early: the refund is applied all the same (the sandbox processed
    // the request long before the client's timeout, and logs it before the delay starts).
    let quick = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let err = quick
        .post(format!(
            "{}/payments/{}/refund",
            sb.base_url(),
            seed::REFUNDABLE_USD
        ))
        .header("Authorization", sb.api_key().expose_secret())
        .header("Content-Type", "application/json")
        .body(PARTIAL)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 1);
    let logged = sb.requests().pop().unwrap();
    assert_eq!(logged.fault.as_deref(), Some("delay"));
    assert_eq!(logged.status, Some(200));

    // A patient client gets the real answer after the delay.
    sb.inject(Fault::new(FaultKind::Delay(Duration::from_millis(200))))
        .unwrap();
    let started = Instant::now();
    let a = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(a.status, 200);
    assert_eq!(a.raw("remainingBalance"), "98.00");
}

#[tokio::test]
async fn close_before_and_after_applying() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(Fault::new(FaultKind::CloseBeforeApplying))
        .unwrap();
    let err = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap_err();
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 0);
    let logged = sb.requests().pop().unwrap();
    assert_eq!(logged.status, None);
    assert_eq!(logged.fault.as_deref(), Some("close_before_applying"));

    sb.inject(Fault::new(FaultKind::CloseAfterApplying))
        .unwrap();
    let err = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 1);
    let logged = sb.requests().pop().unwrap();
    assert_eq!(logged.status, None);
    assert!(logged.note.unwrap().contains("200"));

    // The emulator keeps serving new connections afterwards.
    assert_eq!(
        send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap().status,
        200
    );
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 2);
}

#[tokio::test]
async fn server_errors_before_and_after_applying() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(Fault::new(FaultKind::ServerErrorBeforeApplying(500)))
        .unwrap();
    let a = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap();
    assert_eq!(a.status, 500);
    assert_eq!(
        a.text,
        r#"{"code":2,"message":"Something Went Wrong","source":"payments","type":"apiError"}"#
    );
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 0);

    sb.inject(Fault::new(FaultKind::ServerErrorAfterApplying(503)))
        .unwrap();
    let a = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap();
    assert_eq!(a.status, 503);
    assert_eq!(
        a.text,
        r#"{"code":1,"message":"Service Unavailable","source":"keys","type":"apiError"}"#
    );
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 1);

    // Invalid statuses are refused.
    assert!(
        sb.inject(Fault::new(FaultKind::ServerErrorAfterApplying(404)))
            .is_err()
    );
    assert!(
        sb.inject(Fault::new(FaultKind::HtmlErrorPage(302)))
            .is_err()
    );
    assert!(
        sb.inject(Fault::new(FaultKind::CloseAfterApplying).times(0))
            .is_err()
    );
    assert!(sb.faults().is_empty());
}

#[tokio::test]
async fn too_many_requests_carries_retry_after_and_applies_nothing() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(Fault::new(FaultKind::TooManyRequests {
        retry_after: Duration::from_millis(1500),
    }))
    .unwrap();
    let a = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap();
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["retry-after"], "2");
    assert_eq!(a.json()["type"], "apiError");
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 0);
}

#[tokio::test]
async fn truncated_json_after_applying() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(Fault::new(FaultKind::TruncatedJsonAfterApplying))
        .unwrap();
    let a = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap();
    assert_eq!(a.status, 200);
    assert!(a.text.starts_with("{\"id\":"), "{}", a.text);
    assert!(serde_json::from_str::<serde_json::Value>(&a.text).is_err());
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 1);
}

#[tokio::test]
async fn html_error_page_from_a_gateway() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(Fault::new(FaultKind::HtmlErrorPage(502)))
        .unwrap();
    let a = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap();
    assert_eq!(a.status, 502);
    assert!(a.content_type().starts_with("text/html"));
    assert!(a.text.contains("<html>") && a.text.contains("502 Bad Gateway"));
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 0);
    // A gateway 404 on P-L2 is not Plexy's "not found".
    sb.inject(Fault::new(FaultKind::HtmlErrorPage(404)).only(Operation::Lookup))
        .unwrap();
    let a = plexy_get(&sb, "/transactions/by-order-reference/rf-none").await;
    assert_eq!(a.status, 404);
    assert!(a.text.contains("<html>"));
}

#[tokio::test]
async fn oversized_body_is_valid_json_of_two_mebibytes() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(Fault::new(FaultKind::OversizedBody(2 * 1024 * 1024)))
        .unwrap();
    let a = send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap();
    assert_eq!(a.status, 200);
    assert!(a.text.len() >= 2 * 1024 * 1024);
    assert_eq!(a.json()["success"], true);
    assert_eq!(raw_field(&a.text, "remainingBalance"), "99.00");
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 1);
}

#[tokio::test]
async fn unknown_enum_values_on_every_provider() {
    let plexy = PlexySandbox::start().await.unwrap();
    plexy
        .inject(Fault::new(FaultKind::UnknownEnumValue).times(2))
        .unwrap();
    let a = send_plexy(&plexy, seed::REFUNDABLE_USD).await.unwrap();
    assert_eq!(a.json()["responseCode"], "Z9");
    assert_eq!(a.json()["success"], true);
    let t = plexy_get(&plexy, &format!("/transactions/{}", seed::REFUNDABLE_USD)).await;
    assert_eq!(t.json()["status"], "on_hold");
    assert!(plexy.faults().is_empty());

    let paynext = PayNextSandbox::start().await.unwrap();
    paynext
        .inject(Fault::new(FaultKind::UnknownEnumValue).times(2))
        .unwrap();
    let a = paynext_refund(&paynext, paynext::seed::FIXTURE_USD).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["payment_status"], "UNDER_REVIEW");
    assert_eq!(a.json()["refund"]["status"], "PENDING");
    let l = paynext_get(&paynext, paynext::seed::FIXTURE_USD).await;
    assert_eq!(l.json()["payment_status"], "UNDER_REVIEW");
    assert_eq!(paynext.applied_refunds(paynext::seed::FIXTURE_USD), 1);

    let payabli = PayabliSandbox::start().await.unwrap();
    payabli
        .inject(Fault::new(FaultKind::UnknownEnumValue).times(2))
        .unwrap();
    let a = payabli_refund(&payabli, payabli::seed::SETTLED_USD, Some("1.00"), "k-enum").await;
    assert_eq!((a.status, a.json()["code"].as_str()), (201, Some("A0099")));
    let d = payabli_details(&payabli, payabli::seed::SETTLED_USD).await;
    assert_eq!(d.json()["Operation"], "Adjustment");
    assert_eq!(payabli.applied_refunds(payabli::seed::SETTLED_USD), 1);
}

#[tokio::test]
async fn faults_target_a_payment_an_operation_and_a_count() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(
        Fault::new(FaultKind::ServerErrorBeforeApplying(500))
            .for_payment(seed::FIXTURE_KZT)
            .only(Operation::Refund)
            .times(2),
    )
    .unwrap();
    // Another payment and a lookup of the target are untouched.
    assert_eq!(
        send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap().status,
        200
    );
    let l = plexy_get(&sb, &format!("/transactions/{}", seed::FIXTURE_KZT)).await;
    assert_eq!(l.status, 200);
    assert_eq!(sb.faults()[0].remaining(), 2);
    // The target's refunds fail twice, then succeed.
    for _ in 0..2 {
        assert_eq!(
            send_plexy(&sb, seed::FIXTURE_KZT).await.unwrap().status,
            500
        );
    }
    assert!(sb.faults().is_empty());
    assert_eq!(
        send_plexy(&sb, seed::FIXTURE_KZT).await.unwrap().status,
        200
    );
    assert_eq!(sb.applied_refunds(seed::FIXTURE_KZT), 1);

    // The next N requests of any kind.
    sb.inject(Fault::new(FaultKind::ServerErrorBeforeApplying(502)).times(2))
        .unwrap();
    assert_eq!(
        plexy_get(&sb, "/transactions/by-order-reference/x")
            .await
            .status,
        502
    );
    assert_eq!(
        send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap().status,
        502
    );
    assert_eq!(
        send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap().status,
        200
    );
    sb.inject(Fault::new(FaultKind::CloseAfterApplying))
        .unwrap();
    sb.clear_faults();
    assert_eq!(
        send_plexy(&sb, seed::REFUNDABLE_USD).await.unwrap().status,
        200
    );
}

#[tokio::test]
async fn provider_bodies_for_5xx_and_429() {
    let paynext = PayNextSandbox::start().await.unwrap();
    paynext
        .inject(Fault::new(FaultKind::ServerErrorAfterApplying(500)))
        .unwrap();
    let a = paynext_refund(&paynext, paynext::seed::FIXTURE_USD).await;
    assert_eq!(
        (a.status, a.text.as_str()),
        (500, r#"{"error":{"message":"Internal server error"}}"#)
    );
    assert_eq!(paynext.applied_refunds(paynext::seed::FIXTURE_USD), 1);
    paynext
        .inject(Fault::new(FaultKind::TooManyRequests {
            retry_after: Duration::from_secs(3),
        }))
        .unwrap();
    let a = paynext_get(&paynext, paynext::seed::FIXTURE_USD).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["retry-after"], "3");
    assert_eq!(a.json()["error"]["message"], "Too many requests");

    let payabli = PayabliSandbox::start().await.unwrap();
    payabli
        .inject(Fault::new(FaultKind::ServerErrorBeforeApplying(500)))
        .unwrap();
    let a = payabli_refund(&payabli, payabli::seed::SETTLED_USD, None, "k-500").await;
    assert_eq!(a.status, 500);
    assert_eq!(
        a.text,
        format!(
            r#"{{"title":"Internal Server Error","status":500,"detail":"An unexpected error occurred","instance":"/api/v2/MoneyIn/refund/{}"}}"#,
            payabli::seed::SETTLED_USD
        )
    );
    // A "before applying" fault does not record the idempotency key.
    let retry = payabli_refund(&payabli, payabli::seed::SETTLED_USD, None, "k-500").await;
    assert_eq!(retry.status, 201);
    payabli
        .inject(Fault::new(FaultKind::ServerErrorAfterApplying(503)))
        .unwrap();
    let a = payabli_details(&payabli, payabli::seed::SETTLED_USD).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["isSuccess"], false);
    payabli
        .inject(Fault::new(FaultKind::TooManyRequests {
            retry_after: Duration::from_secs(1),
        }))
        .unwrap();
    let a = payabli_details(&payabli, payabli::seed::SETTLED_USD).await;
    assert_eq!(
        (a.status, a.json()["responseCode"].as_u64()),
        (429, Some(429))
    );
}

#[tokio::test]
async fn close_after_applying_on_payabli_and_paynext() {
    let paynext = PayNextSandbox::start().await.unwrap();
    paynext
        .inject(Fault::new(FaultKind::CloseAfterApplying).for_payment(paynext::seed::SETTLED_JPY))
        .unwrap();
    let err = client()
        .post(format!(
            "{}/payments/refund/{}",
            paynext.base_url(),
            paynext::seed::SETTLED_JPY
        ))
        .header(
            "Authorization",
            format!("Bearer {}", paynext.api_key().expose_secret()),
        )
        .header("X-API-Version", "1.0.0")
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none());
    assert_eq!(paynext.applied_refunds(paynext::seed::SETTLED_JPY), 1);
    // Reconciliation by N-L1 sees the refund.
    let l = paynext_get(&paynext, paynext::seed::SETTLED_JPY).await;
    assert!(!l.json()["refund"].is_null());

    let payabli = PayabliSandbox::start().await.unwrap();
    payabli
        .inject(Fault::new(FaultKind::CloseAfterApplying))
        .unwrap();
    let err = client()
        .post(format!(
            "{}/v2/MoneyIn/refund/{}",
            payabli.base_url(),
            payabli::seed::SETTLED_USD
        ))
        .header("requestToken", payabli.api_key().expose_secret())
        .header("idempotencyKey", "k-close")
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none());
    assert_eq!(payabli.applied_refunds(payabli::seed::SETTLED_USD), 1);
    // Re-sending with the same key inside the window is 409, and RefundId proves the refund.
    let again = payabli_refund(&payabli, payabli::seed::SETTLED_USD, None, "k-close").await;
    assert_eq!(again.status, 409);
    let d = payabli_details(&payabli, payabli::seed::SETTLED_USD).await;
    assert_ne!(d.json()["RefundId"], 0);
}
