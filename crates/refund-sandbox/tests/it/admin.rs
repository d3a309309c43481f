//! The admin endpoints, driven over HTTP as a test in another language would.

use refund_sandbox::{PayNextSandbox, PayabliSandbox, PlexySandbox};
use serde_json::{Value, json};

use crate::common::{Answer, client, enc, payabli_refund, paynext_refund, plexy_refund};

async fn post(url: String, body: Value) -> Answer {
    Answer::read(client().post(url).json(&body).send().await.unwrap()).await
}

async fn get(url: String) -> Answer {
    Answer::read(client().get(url).send().await.unwrap()).await
}

async fn delete(url: String) -> u16 {
    client().delete(url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn plexy_payments_faults_requests_and_reset() {
    let sb = PlexySandbox::start().await.unwrap();
    let admin = sb.admin_url();
    let created = post(
        format!("{admin}/payments"),
        json!({"id": "adm/1", "amount": "25.50", "currency": "EUR", "order_reference": "ORD-1"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let v = created.json();
    assert_eq!(v["id"], "adm/1");
    assert_eq!(
        v["balance"],
        json!({"amount": "25.50", "amount_minor": 2550, "currency": "EUR"})
    );
    assert_eq!(v["status"], "charged");
    // Errors: duplicate id, over-precise amount, unknown field, unknown currency.
    for body in [
        json!({"id": "adm/1", "amount": "1.00", "currency": "EUR"}),
        json!({"id": "adm-2", "amount": "1.001", "currency": "EUR"}),
        json!({"id": "adm-3", "amount": "1.00", "currency": "EUR", "colour": "red"}),
        json!({"id": "adm-4", "amount": "1.00", "currency": "XXX"}),
        json!({"id": "adm-5", "amount": 0, "currency": "EUR"}),
    ] {
        let a = post(format!("{admin}/payments"), body.clone()).await;
        assert_eq!(a.status, 400, "{body}");
        assert!(a.json()["error"].is_string());
    }
    // Generated id and behaviours.
    let gen_ = post(
        format!("{admin}/payments"),
        json!({"amount": 10, "currency": "USD", "behaviour": "decline", "decline_code": "51"}),
    )
    .await;
    assert_eq!(gen_.status, 201);
    let gen_id = gen_.json()["id"].as_str().unwrap().to_owned();
    let a = plexy_refund(&sb, &gen_id, r#"{"orderReference":"rf-gen"}"#).await;
    assert_eq!(a.json()["responseCode"], "51");

    // A fault through the admin endpoint, on the encoded id.
    let f = post(
        format!("{admin}/faults"),
        json!({"kind": "close_after_applying", "payment_id": "adm/1", "operation": "refund"}),
    )
    .await;
    assert_eq!(f.status, 201);
    assert_eq!(f.json()["times"], 1);
    assert_eq!(
        get(format!("{admin}/faults"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let err = client()
        .post(format!(
            "{}/payments/{}/refund",
            sb.base_url(),
            enc("adm/1")
        ))
        .header("Authorization", sb.api_key().expose_secret())
        .header("Content-Type", "application/json")
        .body(r#"{"orderReference":"rf-adm","amount":5.50,"minorAmount":550}"#)
        .send()
        .await;
    assert!(err.is_err());
    let bad = post(format!("{admin}/faults"), json!({"kind": "meteor"})).await;
    assert_eq!(bad.status, 400);
    post(
        format!("{admin}/faults"),
        json!({"kind": "html_error_page"}),
    )
    .await;
    assert_eq!(delete(format!("{admin}/faults")).await, 204);
    assert!(sb.faults().is_empty());

    // The truth over HTTP.
    let p = get(format!("{admin}/payments/{}", enc("adm/1"))).await;
    assert_eq!(p.status, 200);
    let v = p.json();
    assert_eq!(v["balance"]["amount"], "20.00");
    assert_eq!(v["refunds_applied"], 1);
    assert_eq!(v["refunds"][0]["reference"], "rf-adm");
    assert_eq!(v["refunds"][0]["applied"], true);
    assert_eq!(v["refunds"][0]["amount"]["amount"], "5.50");
    assert_eq!(get(format!("{admin}/payments/nope")).await.status, 404);
    let refunds = get(format!("{admin}/refunds?reference=rf-adm"))
        .await
        .json();
    assert_eq!(refunds.as_array().unwrap().len(), 1);
    let refunds = get(format!("{admin}/refunds?payment_id={}", enc("adm/1")))
        .await
        .json();
    assert_eq!(refunds.as_array().unwrap().len(), 1);
    assert_eq!(get(format!("{admin}/refunds?colour=red")).await.status, 400);
    let list = get(format!("{admin}/payments")).await.json();
    assert!(list.as_array().unwrap().len() >= 13);

    let log = get(format!("{admin}/requests")).await.json();
    let log = log.as_array().unwrap();
    let closed = log
        .iter()
        .find(|r| r["fault"] == "close_after_applying")
        .unwrap();
    assert!(closed["status"].is_null());
    assert_eq!(closed["operation"], "refund");
    assert_eq!(closed["payment_id"], "adm/1");
    assert_eq!(closed["path"], "/v1/payments/adm%2F1/refund");
    assert!(closed["body"].as_str().unwrap().contains("rf-adm"));
    let auth = closed["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "authorization")
        .unwrap();
    assert_eq!(auth["value"], "[redacted]");
    assert!(
        !serde_json::to_string(log)
            .unwrap()
            .contains(sb.api_key().expose_secret())
    );
    assert_eq!(delete(format!("{admin}/requests")).await, 204);
    assert!(sb.requests().is_empty());

    // Reset: seeded payments only.
    assert_eq!(
        client()
            .post(format!("{admin}/reset"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(sb.payment("adm/1").is_none());
    assert_eq!(sb.payments().len(), 11);
    assert_eq!(sb.refunds().len(), 2);
}

#[tokio::test]
async fn paynext_and_payabli_admin_payments() {
    let paynext = PayNextSandbox::start().await.unwrap();
    let a = post(
        format!("{}/payments", paynext.admin_url()),
        json!({"id": "pay_adm", "amount": "12.34", "currency": "USD", "behaviour": "fail_later"}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["amount"]["amount_minor"], 1234);
    let r = paynext_refund(&paynext, "pay_adm").await;
    assert_eq!(r.json()["refund"]["status"], "PENDING");
    let resolved = client()
        .post(format!("{}/resolve-pending", paynext.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resolved.status(), 204);
    assert_eq!(paynext.refunds_of("pay_adm")[0].status, "FAILED");
    let bad = post(
        format!("{}/payments", paynext.admin_url()),
        json!({"amount": "1.00", "currency": "USD", "behaviour": "explode"}),
    )
    .await;
    assert_eq!(bad.status, 400);

    let payabli = PayabliSandbox::start().await.unwrap();
    let a = post(
        format!("{}/payments", payabli.admin_url()),
        json!({"id": "10-adm", "amount": 90, "service_fee": "10.00", "currency": "USD", "settlement_status": 0}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["balance"]["amount"], "80.00");
    assert_eq!(a.json()["settlement_status"], 0);
    let r = payabli_refund(&payabli, "10-adm", None, "k-adm").await;
    assert_eq!(r.json()["code"], "E3007");
    let a = post(
        format!("{}/payments", payabli.admin_url()),
        json!({"id": "10-adm2", "amount": "10.00", "currency": "USD", "refunded": "4.00"}),
    )
    .await;
    assert_eq!(a.json()["balance"]["amount"], "6.00");
    assert_eq!(a.json()["refunds_applied"], 1);
}

/// Issue 16: "route missing" mode over the admin API; the other emulators have no modes.
#[tokio::test]
async fn plexy_route_missing_mode_over_http() {
    let sb = PlexySandbox::start().await.unwrap();
    let admin = sb.admin_url();
    let modes = get(format!("{admin}/modes")).await;
    assert_eq!(
        (modes.status, modes.json()),
        (200, json!({"route_missing": false}))
    );
    let on = post(format!("{admin}/modes"), json!({"route_missing": true})).await;
    assert_eq!(
        (on.status, on.json()),
        (200, json!({"route_missing": true}))
    );
    assert!(sb.is_route_missing());
    let lookup = Answer::read(
        client()
            .get(format!(
                "{}/transactions/by-order-reference/ORDER-784512",
                sb.base_url()
            ))
            .header("Authorization", sb.api_key().expose_secret())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (lookup.status, lookup.text.as_str()),
        (404, r#"{"message":"Not Found"}"#)
    );
    // An empty object changes nothing; unknown modes and wrong types are refused.
    let same = post(format!("{admin}/modes"), json!({})).await;
    assert_eq!(
        (same.status, same.json()),
        (200, json!({"route_missing": true}))
    );
    for body in [
        json!({"route_gone": true}),
        json!({"route_missing": "yes"}),
        json!([]),
    ] {
        let refused = post(format!("{admin}/modes"), body.clone()).await;
        assert_eq!(refused.status, 400, "{body}");
        assert!(refused.json()["error"].is_string(), "{body}");
    }
    assert!(sb.is_route_missing());
    // A reset restores the configured mode (off).
    assert_eq!(
        client()
            .post(format!("{admin}/reset"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        get(format!("{admin}/modes")).await.json(),
        json!({"route_missing": false})
    );

    let paynext = PayNextSandbox::start().await.unwrap();
    let modes = get(format!("{}/modes", paynext.admin_url())).await;
    assert_eq!((modes.status, modes.json()), (200, json!({})));
    let refused = post(
        format!("{}/modes", paynext.admin_url()),
        json!({"route_missing": true}),
    )
    .await;
    assert_eq!(refused.status, 400);
}
