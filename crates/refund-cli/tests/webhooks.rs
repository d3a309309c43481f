//! `refund webhooks listen` as a binary: answers, printed JSON, secrets never printed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use refund_facade::refund_core::http::reqwest;

const PLEXY_TOKEN: &str = "whtok_s3cr3t_plexy";
const PLEXY_EXAMPLE: &str = r#"{"name":"transaction.refunded","merchantId":"123456","data":{"id":"3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2","type":"refund","status":"refunded","amount":10.50,"currency":"KZT","merchantReference":"rf-7f3c2b","parentTransactionId":{"Value":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"},"createdAt":"2025-12-15T07:41:24Z","updatedAt":"2025-12-15T07:41:24Z"}}"#;
const PAYABLI_EXAMPLE: &str = r#"{"Event":"RefundedPayment","Paypoint":"my-paypoint","Text":"Refunded Payment","transId":"3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b","NetAmount":"-10.50","Fee":"0.00","TotalAmount":"-10.50","transTime":"12/02/2025 09:50:03","Method":"card","ResultCode":"A0004","ResultCodeText":"Refunded"}"#;

struct Listening {
    child: Child,
    url: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn listen(args: &[&str], env: &[(&str, &str)]) -> Listening {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refund"));
    cmd.args(["webhooks", "listen", "--addr", "127.0.0.1:0"])
        .args(args);
    for var in [
        "PLEXY_WEBHOOK_TOKEN",
        "PLEXY_WEBHOOK_SIGNATURE_KEY",
        "PAYNEXT_WEBHOOK_SECRET",
        "PAYABLI_WEBHOOK_HEADER",
        "PAYABLI_WEBHOOK_SECRET",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    // Readiness: the listener prints its bound address once it accepts connections.
    let first = stderr
        .recv_timeout(Duration::from_secs(30))
        .expect("the listener starts");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected: {first}"));
    Listening {
        child,
        url: format!("http://{addr}/hooks/any/path"),
        stdout,
        stderr,
    }
}

async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let mut req = reqwest::Client::new().post(url).body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn plexy_deliveries_are_verified_and_printed() {
    let l = listen(
        &["--provider", "plexy"],
        &[("PLEXY_WEBHOOK_TOKEN", PLEXY_TOKEN)],
    );
    let bearer = format!("Bearer {PLEXY_TOKEN}");
    assert_eq!(
        post(&l.url, &[("Authorization", &bearer)], PLEXY_EXAMPLE).await,
        200
    );
    let line = l.stdout.recv_timeout(Duration::from_secs(10)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["provider"], "plexy");
    assert_eq!(v["event_type"], "transaction.refunded");
    assert_eq!(v["payment_id"], "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae");
    assert_eq!(v["refund_id"], "3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2");
    assert_eq!(v["reference"], "rf-7f3c2b");
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["amount"], "10.50");
    assert_eq!(v["currency"], "KZT");
    assert_eq!(v["duplicate"], false);
    assert_eq!(v["ignored"], false);
    assert!(v["delivery_id"].is_string());
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 11, "{keys:?}");

    // A redelivery: 200 again, flagged duplicate.
    assert_eq!(
        post(&l.url, &[("Authorization", &bearer)], PLEXY_EXAMPLE).await,
        200
    );
    let v: serde_json::Value =
        serde_json::from_str(&l.stdout.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(v["duplicate"], true);

    // An unknown event type: 200, ignored.
    let other = r#"{"name":"merchant.updated","merchantId":"1","data":{"id":"x"}}"#;
    assert_eq!(
        post(&l.url, &[("Authorization", &bearer)], other).await,
        200
    );
    let v: serde_json::Value =
        serde_json::from_str(&l.stdout.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(v["ignored"], true);
    assert_eq!(v["status"], serde_json::Value::Null);

    // Forged and malformed deliveries.
    assert_eq!(
        post(&l.url, &[("Authorization", "Bearer wrong")], PLEXY_EXAMPLE).await,
        401
    );
    assert_eq!(post(&l.url, &[], PLEXY_EXAMPLE).await, 401);
    assert_eq!(
        post(&l.url, &[("Authorization", &bearer)], "{not json").await,
        400
    );
    assert!(
        l.stdout.recv_timeout(Duration::from_millis(300)).is_err(),
        "refused deliveries print nothing on stdout"
    );
    let errs: Vec<String> = l.stderr.try_iter().collect();
    assert!(errs.iter().all(|e| !e.contains(PLEXY_TOKEN)), "{errs:?}");
}

#[tokio::test]
async fn payabli_header_from_options_and_missing_configuration() {
    let l = listen(
        &[
            "--provider",
            "payabli",
            "--header",
            "X-Webhook-Token",
            "--secret",
            "pb-secret-9",
        ],
        &[],
    );
    assert_eq!(
        post(
            &l.url,
            &[("X-Webhook-Token", "pb-secret-9")],
            PAYABLI_EXAMPLE
        )
        .await,
        200
    );
    let v: serde_json::Value =
        serde_json::from_str(&l.stdout.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(v["provider"], "payabli");
    assert_eq!(v["amount"], "10.50");
    assert_eq!(v["status"], "succeeded");
    assert_eq!(
        post(&l.url, &[("X-Webhook-Token", "nope")], PAYABLI_EXAMPLE).await,
        401
    );
    drop(l);

    // No secret configured: a configuration error, exit 4, before listening.
    let out = Command::new(env!("CARGO_BIN_EXE_refund"))
        .args([
            "webhooks",
            "listen",
            "--provider",
            "paynext",
            "--addr",
            "127.0.0.1:0",
            "--output",
            "json",
        ])
        .env_remove("PAYNEXT_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "config");
}

/// Plexy's legacy `x-signature` callbacks with `PLEXY_WEBHOOK_SIGNATURE_KEY`. The signature is
/// HMAC-SHA256 with key `test_SECRET_key` (the private key without `pr_`) of
/// `7d1f0c3a-refund-110.5KZTrf-7f3c2btrue`, computed with Python's `hmac` module (see
/// refund-plexy's `tests/webhook_legacy.rs`).
#[tokio::test]
async fn plexy_legacy_signature_from_the_environment() {
    const BODY: &str = r#"{"id":"7d1f0c3a-refund-1","amount":10.50,"currency":"KZT","orderReference":"rf-7f3c2b","success":true,"type":"refund","parentTransactionId":"pay-1"}"#;
    const SIG: &str = "12a12da215bb3e13a9cef4701e02b8a256978c7de018325b0ce9b16756fb0ab8";
    let l = listen(
        &["--provider", "plexy"],
        &[("PLEXY_WEBHOOK_SIGNATURE_KEY", "pr_test_SECRET_key")],
    );
    assert_eq!(post(&l.url, &[("x-signature", SIG)], BODY).await, 200);
    let v: serde_json::Value =
        serde_json::from_str(&l.stdout.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(v["event_type"], "callback");
    assert_eq!(v["refund_id"], "7d1f0c3a-refund-1");
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["amount"], "10.50");
    assert_eq!(v["delivery_id"], "7d1f0c3a-refund-1|true|10.5");
    let forged = BODY.replace("10.50", "99.50");
    assert_eq!(post(&l.url, &[("x-signature", SIG)], &forged).await, 401);
    assert_eq!(post(&l.url, &[], BODY).await, 401);
}
