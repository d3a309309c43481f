//! Plexy (contract §1) over raw HTTP.

use refund_core::{Currency, Money};
use refund_sandbox::PlexySandbox;
use refund_sandbox::plexy::{PlexyConfig, PlexyPayment, PlexyRefundBehaviour, seed};

use crate::common::{Answer, client, enc, plexy_get, plexy_refund};

const VALIDATION: &str =
    r#"{"code":5,"message":"Unprocessable Entity","source":"refund","type":"validationError"}"#;
const INVALID_PARAMS: &str =
    r#"{"code":3,"message":"Invalid Request Params","source":"refund","type":"apiError"}"#;
const NOT_FOUND: &str =
    r#"{"code":4,"message":"Not Found","source":"transactions","type":"apiError"}"#;
const UNAUTHORIZED: &str = r#"{"message":"unauthorized","type":"apiError"}"#;

#[tokio::test]
async fn full_refund_then_a_second_full_refund_is_refused() {
    let sb = PlexySandbox::start().await.unwrap();
    let a = plexy_refund(
        &sb,
        seed::REFUNDABLE_USD,
        r#"{"orderReference":"rf-full-1"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.content_type().starts_with("application/json"));
    let v = a.json();
    assert_eq!(v["success"], true);
    assert_eq!(v["responseCode"], "00");
    assert_eq!(v["orderReference"], "rf-full-1");
    assert_eq!(v["originalTransactionId"], seed::REFUNDABLE_USD);
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(a.raw("amount"), "100.00");
    assert_eq!(a.raw("remainingBalance"), "0.00");

    let p = sb.payment(seed::REFUNDABLE_USD).unwrap();
    assert_eq!(p.balance.minor_units(), 0);
    assert_eq!(p.refunded.minor_units(), 10_000);
    assert_eq!(p.status, "refunded");
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 1);
    assert_eq!(sb.applied_refunds_with_reference("rf-full-1"), 1);

    let again = plexy_refund(
        &sb,
        seed::REFUNDABLE_USD,
        r#"{"orderReference":"rf-full-2"}"#,
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.text, VALIDATION);
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 1);
    let log = sb.requests();
    let last = log.last().unwrap();
    assert_eq!(last.status, Some(400));
    assert!(last.note.as_deref().unwrap().contains("remaining balance"));
}

#[tokio::test]
async fn partial_refund_matches_the_contract_fixture_and_is_found_by_both_lookups() {
    let sb = PlexySandbox::start().await.unwrap();
    let a = plexy_refund(
        &sb,
        seed::FIXTURE_KZT,
        r#"{"amount":10.50,"minorAmount":1050,"orderReference":"rf-7f3c2b","description":"damaged"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.raw("amount"), "10.50");
    assert_eq!(a.raw("remainingBalance"), "189.50");
    assert_eq!(a.json()["success"], true);
    let refund_id = a.json()["id"].as_str().unwrap().to_owned();

    // P-L1 on the original.
    let p = plexy_get(&sb, &format!("/transactions/{}", enc(seed::FIXTURE_KZT))).await;
    assert_eq!(p.status, 200);
    let v = p.json();
    assert_eq!(v["type"], "payment");
    assert_eq!(v["status"], "refunded");
    assert_eq!(v["currency"], "KZT");
    assert_eq!(v["orderReference"], "ORDER-784512");
    assert!(v["parentTransactionId"].is_null());
    assert_eq!(p.raw("amount"), "200.00");
    assert_eq!(p.raw("remainingBalance"), "189.50");

    // P-L2 by our reference.
    let r = plexy_get(&sb, "/transactions/by-order-reference/rf-7f3c2b").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["id"], refund_id.as_str());
    assert_eq!(v["type"], "refund");
    assert_eq!(v["status"], "refunded");
    assert_eq!(v["responseCode"], "00");
    assert_eq!(v["parentTransactionId"], seed::FIXTURE_KZT);
    assert_eq!(v["orderReference"], "rf-7f3c2b");
    assert_eq!(r.raw("amount"), "10.50");
    assert!(v.get("remainingBalance").is_none());
    assert!(v["createdAt"].as_str().unwrap().ends_with('Z'));

    // P-L1 on the refund's own id.
    let t = plexy_get(&sb, &format!("/transactions/{}", enc(&refund_id))).await;
    assert_eq!(t.json()["type"], "refund");

    // P-L2 of an unknown reference: 404 with Plexy's own JSON body (proves absence, §0.5).
    let none = plexy_get(&sb, "/transactions/by-order-reference/rf-none").await;
    assert_eq!(none.status, 404);
    assert_eq!(none.text, NOT_FOUND);
    // The payment's own order reference is a transaction too.
    let own = plexy_get(&sb, "/transactions/by-order-reference/ORDER-784512").await;
    assert_eq!(own.json()["type"], "payment");
    // Unknown transaction.
    let missing = plexy_get(&sb, "/transactions/nope").await;
    assert_eq!((missing.status, missing.text.as_str()), (404, NOT_FOUND));
}

#[tokio::test]
async fn auth_is_the_raw_key_only() {
    let sb = PlexySandbox::start().await.unwrap();
    let url = format!("{}/payments/{}/refund", sb.base_url(), seed::REFUNDABLE_USD);
    let key = sb.api_key().expose_secret().to_owned();
    for auth in [
        None,
        Some(format!("Bearer {key}")),
        Some("wrong".to_owned()),
    ] {
        let mut rq = client()
            .post(&url)
            .header("Content-Type", "application/json")
            .body(r#"{"orderReference":"rf-auth"}"#);
        if let Some(a) = &auth {
            rq = rq.header("Authorization", a);
        }
        let a = Answer::read(rq.send().await.unwrap()).await;
        assert_eq!(a.status, 401, "{auth:?}");
        assert_eq!(a.text, UNAUTHORIZED);
    }
    let get = client()
        .get(format!(
            "{}/transactions/{}",
            sb.base_url(),
            seed::REFUNDABLE_USD
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 401);
    assert_eq!(sb.applied_refunds(seed::REFUNDABLE_USD), 0);
    // The key never reaches the request log.
    assert!(
        sb.requests()
            .iter()
            .all(|r| { r.header("authorization").is_none_or(|v| v == "[redacted]") })
    );
}

#[tokio::test]
async fn malformed_and_inexact_requests_get_validation_errors() {
    let sb = PlexySandbox::start().await.unwrap();
    let url = format!("{}/payments/{}/refund", sb.base_url(), seed::REFUNDABLE_USD);
    let key = sb.api_key().expose_secret().to_owned();
    // Wrong or missing Content-Type: code 3.
    for content_type in [None, Some("text/plain")] {
        let mut rq = client()
            .post(&url)
            .header("Authorization", &key)
            .body(r#"{"orderReference":"rf-ct"}"#);
        if let Some(ct) = content_type {
            rq = rq.header("Content-Type", ct);
        }
        let a = Answer::read(rq.send().await.unwrap()).await;
        assert_eq!(
            (a.status, a.text.as_str()),
            (400, INVALID_PARAMS),
            "{content_type:?}"
        );
    }
    let cases: &[(&str, &str)] = &[
        ("", INVALID_PARAMS),
        ("{", INVALID_PARAMS),
        ("[]", INVALID_PARAMS),
        (
            r#"{"orderReference":"rf-x","currency":"USD"}"#,
            INVALID_PARAMS,
        ),
        (
            r#"{"orderReference":"rf-x","orderReference":"rf-y"}"#,
            INVALID_PARAMS,
        ),
        ("{}", VALIDATION),
        (r#"{"orderReference":null}"#, VALIDATION),
        (r#"{"orderReference":7}"#, VALIDATION),
        (r#"{"orderReference":"has space"}"#, VALIDATION),
        (r#"{"orderReference":".."}"#, VALIDATION),
        (r#"{"orderReference":"rf-x","description":5}"#, VALIDATION),
        (r#"{"orderReference":"rf-x","amount":10.50}"#, VALIDATION),
        (
            r#"{"orderReference":"rf-x","minorAmount":1050}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":null,"minorAmount":null}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":0,"minorAmount":0}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":0.00,"minorAmount":0}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":-1.00,"minorAmount":-100}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":10.505,"minorAmount":1050}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":10.500,"minorAmount":1050}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":"10.50","minorAmount":1050}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":10.50,"minorAmount":1051}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":10.50,"minorAmount":1050.0}"#,
            VALIDATION,
        ),
        (
            r#"{"orderReference":"rf-x","amount":10.50,"minorAmount":"1050"}"#,
            VALIDATION,
        ),
    ];
    for (body, expected) in cases {
        let a = plexy_refund(&sb, seed::REFUNDABLE_USD, body).await;
        assert_eq!(a.status, 400, "{body}: {}", a.text);
        assert_eq!(&a.text, expected, "{body}");
    }
    assert!(sb.refunds_of(seed::REFUNDABLE_USD).is_empty());
    // `10.5` equals `10.50` (numeric comparison, §0.3) and exponent forms are exact too.
    let ok = plexy_refund(
        &sb,
        seed::REFUNDABLE_USD,
        r#"{"orderReference":"rf-ok","amount":10.5,"minorAmount":1050}"#,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.raw("remainingBalance"), "89.50");
    let ok = plexy_refund(
        &sb,
        seed::REFUNDABLE_USD,
        r#"{"orderReference":"rf-ok2","amount":1050e-2,"minorAmount":1050}"#,
    )
    .await;
    assert_eq!(ok.raw("remainingBalance"), "79.00");
}

#[tokio::test]
async fn business_refusals_are_400() {
    let sb = PlexySandbox::start().await.unwrap();
    let a = plexy_refund(&sb, seed::AUTHORIZED_USD, r#"{"orderReference":"rf-a"}"#).await;
    assert_eq!((a.status, a.text.as_str()), (400, VALIDATION));
    let a = plexy_refund(
        &sb,
        seed::FULLY_REFUNDED_USD,
        r#"{"orderReference":"rf-b"}"#,
    )
    .await;
    assert_eq!((a.status, a.text.as_str()), (400, VALIDATION));
    // 30.00 of 100.00 already refunded: 70.01 is too much, 70.00 is exactly the balance.
    let a = plexy_refund(
        &sb,
        seed::PARTIALLY_REFUNDED_USD,
        r#"{"orderReference":"rf-c","amount":70.01,"minorAmount":7001}"#,
    )
    .await;
    assert_eq!((a.status, a.text.as_str()), (400, VALIDATION));
    let a = plexy_refund(
        &sb,
        seed::PARTIALLY_REFUNDED_USD,
        r#"{"orderReference":"rf-d","amount":70.00,"minorAmount":7000}"#,
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.raw("remainingBalance"), "0.00");
    assert_eq!(sb.applied_refunds(seed::PARTIALLY_REFUNDED_USD), 2);
    assert_eq!(
        sb.refunds_with_reference("seed-plexy-usd-partially-refunded")
            .len(),
        1
    );
    let unknown = plexy_refund(&sb, "no-such-payment", r#"{"orderReference":"rf-e"}"#).await;
    assert_eq!((unknown.status, unknown.text.as_str()), (404, NOT_FOUND));
}

#[tokio::test]
async fn seeded_declines_answer_200_with_success_false() {
    let sb = PlexySandbox::start().await.unwrap();
    for (payment, code) in [(seed::DECLINE_05_USD, "05"), (seed::DECLINE_51_USD, "51")] {
        let a = plexy_refund(
            &sb,
            payment,
            r#"{"orderReference":"rf-dec","amount":10.50,"minorAmount":1050}"#,
        )
        .await;
        assert_eq!(a.status, 200);
        let v = a.json();
        assert_eq!(v["success"], false);
        assert_eq!(v["responseCode"], code);
        assert_eq!(a.raw("remainingBalance"), "100.00");
        assert_eq!(sb.applied_refunds(payment), 0);
        assert_eq!(sb.payment(payment).unwrap().balance.minor_units(), 10_000);
    }
    // The declined refund transaction exists, as `rejected`.
    let r = plexy_get(&sb, "/transactions/by-order-reference/rf-dec").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "rejected");
    assert_eq!(r.json()["responseCode"], "05");
    assert_eq!(sb.refunds_with_reference("rf-dec").len(), 2);
    assert_eq!(sb.applied_refunds_with_reference("rf-dec"), 0);
}

#[tokio::test]
async fn wait_answers_09_and_resolves_to_refunded() {
    let sb = PlexySandbox::start_with(
        PlexyConfig::default().pending_delay(std::time::Duration::from_secs(600)),
    )
    .await
    .unwrap();
    let a = plexy_refund(&sb, seed::WAIT_09_USD, r#"{"orderReference":"rf-wait"}"#).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["responseCode"], "09");
    assert_eq!(v["success"], false);
    assert!(v.get("remainingBalance").is_none());
    // The amount is reserved.
    assert_eq!(
        sb.payment(seed::WAIT_09_USD).unwrap().balance.minor_units(),
        0
    );
    let r = plexy_get(&sb, "/transactions/by-order-reference/rf-wait").await;
    assert_eq!(r.json()["status"], "created");
    assert_eq!(r.json()["responseCode"], "09");
    sb.resolve_pending();
    let r = plexy_get(&sb, "/transactions/by-order-reference/rf-wait").await;
    assert_eq!(r.json()["status"], "refunded");
    assert_eq!(r.json()["responseCode"], "00");
}

#[tokio::test]
async fn ids_with_slashes_and_spaces_are_one_encoded_segment() {
    let sb = PlexySandbox::start().await.unwrap();
    assert_eq!(enc(seed::SLASH_ID_USD), "plexy%2Fwith%20slash");
    let a = plexy_refund(&sb, seed::SLASH_ID_USD, r#"{"orderReference":"rf-slash"}"#).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["originalTransactionId"], seed::SLASH_ID_USD);
    let p = plexy_get(&sb, &format!("/transactions/{}", enc(seed::SLASH_ID_USD))).await;
    assert_eq!(p.json()["id"], seed::SLASH_ID_USD);
    // Unencoded, the slash splits the path: no such route, and not Plexy's JSON 404.
    let raw = client()
        .get(format!("{}/transactions/plexy/with%20slash", sb.base_url()))
        .header("Authorization", sb.api_key().expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);
    assert!(!raw.text().await.unwrap().starts_with('{'));
    // Decoded once: `%252F` is the literal text `%2F`, an unknown id.
    let twice = plexy_get(&sb, "/transactions/plexy%252Fwith%2520slash").await;
    assert_eq!((twice.status, twice.text.as_str()), (404, NOT_FOUND));
}

#[tokio::test]
async fn balances_in_zero_two_and_three_digit_currencies() {
    let sb = PlexySandbox::start().await.unwrap();
    let a = plexy_refund(
        &sb,
        seed::REFUNDABLE_JPY,
        r#"{"orderReference":"rf-jpy","amount":1000,"minorAmount":1000}"#,
    )
    .await;
    assert_eq!(a.raw("remainingBalance"), "9000");
    let a = plexy_refund(
        &sb,
        seed::REFUNDABLE_JPY,
        r#"{"orderReference":"rf-jpy2","amount":10.5,"minorAmount":10}"#,
    )
    .await;
    assert_eq!((a.status, a.text.as_str()), (400, VALIDATION));
    let a = plexy_refund(
        &sb,
        seed::REFUNDABLE_KWD,
        r#"{"orderReference":"rf-kwd","amount":1.234,"minorAmount":1234}"#,
    )
    .await;
    assert_eq!(a.raw("amount"), "1.234");
    assert_eq!(a.raw("remainingBalance"), "11.111");
    let a = plexy_refund(
        &sb,
        seed::REFUNDABLE_KWD,
        r#"{"orderReference":"rf-kwd2","amount":1.2345,"minorAmount":12345}"#,
    )
    .await;
    assert_eq!(a.status, 400);
    let a = plexy_refund(&sb, seed::REFUNDABLE_KWD, r#"{"orderReference":"rf-kwd3"}"#).await;
    assert_eq!(a.raw("amount"), "11.111");
    assert_eq!(a.raw("remainingBalance"), "0.000");
    let kwd = sb.payment(seed::REFUNDABLE_KWD).unwrap();
    assert_eq!(
        (kwd.refunded.minor_units(), kwd.balance.minor_units()),
        (12_345, 0)
    );
    let usd = sb.payment(seed::REFUNDABLE_USD).unwrap();
    assert_eq!(usd.amount, Money::parse("100.00", Currency::USD).unwrap());
}

#[tokio::test]
async fn no_idempotency_same_reference_twice_refunds_twice() {
    let sb = PlexySandbox::start().await.unwrap();
    let body = r#"{"orderReference":"rf-dup","amount":1.00,"minorAmount":100}"#;
    assert_eq!(
        plexy_refund(&sb, seed::REFUNDABLE_USD, body).await.status,
        200
    );
    assert_eq!(
        plexy_refund(&sb, seed::REFUNDABLE_USD, body).await.status,
        200
    );
    assert_eq!(sb.applied_refunds_with_reference("rf-dup"), 2);
    assert_eq!(
        sb.payment(seed::REFUNDABLE_USD)
            .unwrap()
            .balance
            .minor_units(),
        9_800
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_are_not_plexy_answers() {
    let sb = PlexySandbox::start().await.unwrap();
    let key = sb.api_key().expose_secret().to_owned();
    let a = Answer::read(
        client()
            .get(format!("{}/transactions/x/y/z", sb.base_url()))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 404);
    assert!(a.content_type().starts_with("text/plain"));
    let a = Answer::read(
        client()
            .get(format!(
                "{}/payments/{}/refund",
                sb.base_url(),
                seed::REFUNDABLE_USD
            ))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 405);
    // Outside the base path.
    let a = client()
        .get(format!(
            "http://{}/transactions/{}",
            sb.addr(),
            seed::REFUNDABLE_USD
        ))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 404);
}

#[tokio::test]
async fn rust_api_payments_with_behaviours() {
    let sb = PlexySandbox::start_with(PlexyConfig::default().without_seed())
        .await
        .unwrap();
    assert!(sb.payments().is_empty());
    let eur = |t: &str| Money::parse(t, Currency::EUR).unwrap();
    let snap = sb
        .add_payment(
            PlexyPayment::new("own-1", eur("50.00"))
                .already_refunded(eur("20.00"))
                .behaviour(PlexyRefundBehaviour::Decline("61".into())),
        )
        .unwrap();
    assert_eq!(snap.status, "refunded");
    assert_eq!(snap.balance, eur("30.00"));
    assert_eq!(snap.refunds_applied, 1);
    // Duplicates and nonsense are refused.
    assert!(
        sb.add_payment(PlexyPayment::new("own-1", eur("1.00")))
            .is_err()
    );
    assert!(sb.add_payment(PlexyPayment::new("", eur("1.00"))).is_err());
    assert!(
        sb.add_payment(PlexyPayment::new("zero", eur("0.00")))
            .is_err()
    );
    assert!(
        sb.add_payment(PlexyPayment::new("over", eur("1.00")).already_refunded(eur("2.00")))
            .is_err()
    );
    let a = plexy_refund(&sb, "own-1", r#"{"orderReference":"rf-own"}"#).await;
    assert_eq!(a.json()["responseCode"], "61");
    assert_eq!(a.raw("amount"), "30.00");
}

/// Issue 16: "route missing" mode makes P-L2 answer like the Go web framework's unknown route,
/// for a reference that exists and for one that does not, without touching the other routes.
#[tokio::test]
async fn route_missing_mode_answers_p_l2_with_the_frameworks_bare_404() {
    let sb = PlexySandbox::start().await.unwrap();
    assert!(!sb.is_route_missing());
    let a = plexy_refund(
        &sb,
        seed::REFUNDABLE_USD,
        r#"{"amount":1.00,"minorAmount":100,"orderReference":"rf-rm-1"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let refund_id = a.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        plexy_get(&sb, "/transactions/by-order-reference/rf-rm-1")
            .await
            .status,
        200
    );
    let absent = plexy_get(&sb, "/transactions/by-order-reference/rf-rm-none").await;
    assert_eq!((absent.status, absent.text.as_str()), (404, NOT_FOUND));

    sb.set_route_missing(true);
    assert!(sb.is_route_missing());
    for reference in ["rf-rm-1", "rf-rm-none", "seed-plexy-usd-partially-refunded"] {
        let a = plexy_get(
            &sb,
            &format!("/transactions/by-order-reference/{reference}"),
        )
        .await;
        assert_eq!(a.status, 404, "{reference}");
        assert_eq!(a.content_type(), "application/json", "{reference}");
        assert_eq!(a.text, r#"{"message":"Not Found"}"#, "{reference}");
    }
    // Before authentication, as a framework's router would answer.
    let a = Answer::read(
        client()
            .get(format!(
                "{}/transactions/by-order-reference/rf-rm-1",
                sb.base_url()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (a.status, a.text.as_str()),
        (404, r#"{"message":"Not Found"}"#)
    );
    // P-L1 and refunds are unaffected.
    let t = plexy_get(&sb, &format!("/transactions/{refund_id}")).await;
    assert_eq!(t.status, 200, "{}", t.text);
    let a = plexy_refund(
        &sb,
        seed::REFUNDABLE_USD,
        r#"{"amount":1.00,"minorAmount":100,"orderReference":"rf-rm-2"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(sb.applied_refunds_with_reference("rf-rm-2"), 1);
    // The log says why.
    let logged = sb.requests().into_iter().find(|r| {
        r.path.ends_with("/rf-rm-none")
            && r.status == Some(404)
            && r.note
                .as_deref()
                .is_some_and(|n| n.contains("route missing"))
    });
    assert!(logged.is_some(), "{:?}", sb.requests());

    sb.set_route_missing(false);
    assert_eq!(
        plexy_get(&sb, "/transactions/by-order-reference/rf-rm-1")
            .await
            .status,
        200
    );

    // Configured at start: on, and back on after a reset.
    let sb = PlexySandbox::start_with(PlexyConfig::default().route_missing())
        .await
        .unwrap();
    assert!(sb.is_route_missing());
    sb.set_route_missing(false);
    sb.reset();
    assert!(sb.is_route_missing());
    let a = plexy_get(&sb, "/transactions/by-order-reference/ORDER-784512").await;
    assert_eq!(
        (a.status, a.text.as_str()),
        (404, r#"{"message":"Not Found"}"#)
    );
}
