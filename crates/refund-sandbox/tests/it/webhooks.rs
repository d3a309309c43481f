//! Webhook delivery (contract §4), received by a raw HTTP server in the test. Signatures and
//! auth headers are checked here independently of the sandbox: the Svix HMAC is recomputed with
//! the `hmac` crate from the secret's text.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use refund_sandbox::payabli::{self, PayabliConfig};
use refund_sandbox::paynext::{self, PayNextConfig};
use refund_sandbox::plexy::{self, PlexyConfig};
use refund_sandbox::{
    DeliveryTrigger, PayNextSandbox, PayabliSandbox, PlexySandbox, RetrySchedule, WebhookConfig,
    WebhookEventState,
};

use crate::common::{Answer, client, payabli_refund, paynext_refund, plexy_refund, raw_path};

/// How long a test waits for a delivery before failing (deliveries normally take milliseconds).
const WAIT: Duration = Duration::from_secs(10);

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
enum Script {
    Status(u16),
    /// Never answers.
    Hang,
}

/// A request the receiver got.
#[derive(Debug)]
struct Received {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The raw JSON literal at a path of object keys (exact amounts).
    fn raw(&self, path: &[&str]) -> String {
        raw_path(self.text(), path)
    }
}

/// A webhook receiver on 127.0.0.1: records every request, answers from a script (then 200).
struct Receiver {
    addr: SocketAddr,
    received: mpsc::UnboundedReceiver<Received>,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(script: impl IntoIterator<Item = Script>) -> Receiver {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Mutex::new(script.into_iter().collect::<VecDeque<_>>()));
        let (tx, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (tx, script) = (tx.clone(), Arc::clone(&script));
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<_>| {
                        let (tx, script) = (tx.clone(), Arc::clone(&script));
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = axum::body::to_bytes(Body::new(body), 1 << 20)
                                .await
                                .unwrap();
                            let _ = tx.send(Received {
                                method: parts.method.to_string(),
                                path: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            });
                            let next = script.lock().unwrap().pop_front();
                            let status = match next.unwrap_or(Script::Status(200)) {
                                Script::Status(s) => s,
                                Script::Hang => std::future::pending().await,
                            };
                            let mut response = Response::new(Body::from("ok"));
                            *response.status_mut() = StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            received,
            _task: task,
        }
    }

    /// A receiver that answers 200 to everything.
    async fn ok() -> Receiver {
        Receiver::start([]).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request, waiting at most [`WAIT`].
    async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.received.recv())
            .await
            .expect("no webhook delivery arrived in time")
            .expect("the receiver stopped")
    }

    /// Asserts that nothing (more) arrived.
    fn assert_idle(&mut self) {
        if let Ok(extra) = self.received.try_recv() {
            panic!("unexpected delivery: {} {}", extra.path, extra.text());
        }
    }
}

/// Waits at most [`WAIT`] for `settled`.
async fn settled(future: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(WAIT, future)
        .await
        .expect("webhook deliveries did not settle in time");
}

/// Recomputes the Svix signature independently (§4.2) and checks it and the timestamp.
fn assert_svix(secret: &str, r: &Received) {
    assert!(
        svix_valid(secret, r),
        "signature does not verify: {:?}",
        r.headers
    );
    let ts: u64 = r.header("svix-timestamp").parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(ts) <= 300, "timestamp {ts} too far from {now}");
    assert!(r.header("svix-id").starts_with("msg_"));
}

fn svix_valid(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(r.header("svix-id").as_bytes());
    mac.update(b".");
    mac.update(r.header("svix-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.header("svix-signature")
        .split(' ')
        .any(|candidate| candidate == expected)
}

fn quick(delays_ms: &[u64]) -> RetrySchedule {
    RetrySchedule::from_delays(delays_ms.iter().map(|ms| Duration::from_millis(*ms)))
}

// ---- Plexy ----

#[tokio::test]
async fn plexy_refund_creation_is_delivered_with_the_bearer_token() {
    let mut rx = Receiver::ok().await;
    let sb = PlexySandbox::start_with(
        PlexyConfig::default().webhook(WebhookConfig::new(rx.url("/hooks/plexy?src=sandbox"))),
    )
    .await
    .unwrap();
    let answer = plexy_refund(
        &sb,
        plexy::seed::REFUNDABLE_USD,
        r#"{"amount":10.50,"minorAmount":1050,"orderReference":"rf-wh-1"}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let refund_id = answer.json()["id"].as_str().unwrap().to_owned();

    let r = rx.next().await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/plexy?src=sandbox");
    assert_eq!(
        r.header("authorization"),
        format!("Bearer {}", plexy::DEFAULT_WEBHOOK_TOKEN)
    );
    assert_eq!(r.header("content-type"), "application/json");
    let v = r.json();
    assert_eq!(v["name"], "transaction.refunded");
    assert_eq!(v["merchantId"], plexy::WEBHOOK_MERCHANT_ID);
    let data = &v["data"];
    assert_eq!(data["id"], refund_id.as_str());
    assert_eq!(data["type"], "refund");
    assert_eq!(data["status"], "refunded");
    assert_eq!(r.raw(&["data", "amount"]), "10.50");
    assert_eq!(data["currency"], "USD");
    assert_eq!(data["merchantReference"], "rf-wh-1");
    assert_eq!(data["parentTransactionId"], plexy::seed::REFUNDABLE_USD);
    assert_eq!(data["createdAt"], data["updatedAt"]);
    assert!(data["createdAt"].as_str().unwrap().ends_with('Z'));

    settled(sb.webhooks_settled()).await;
    let events = sb.webhook_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].state, WebhookEventState::Delivered);
    assert_eq!(events[0].refund_id, refund_id);
    assert_eq!(events[0].payment_id, plexy::seed::REFUNDABLE_USD);
    assert_eq!(events[0].body, r.text());
    let log = sb.webhook_deliveries();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].delivery_id, events[0].id);
    assert_eq!(log[0].event_type, "transaction.refunded");
    assert_eq!(log[0].url, rx.url("/hooks/plexy?src=sandbox"));
    assert_eq!(
        (log[0].attempt, log[0].trigger, log[0].status),
        (1, DeliveryTrigger::Scheduled, Some(200))
    );

    // A declined refund is announced as rejected; a configured token replaces the default.
    sb.set_webhook(WebhookConfig::new(rx.url("/h")).secret("merchant-token-2"))
        .unwrap();
    plexy_refund(
        &sb,
        plexy::seed::DECLINE_51_USD,
        r#"{"orderReference":"rf-wh-2"}"#,
    )
    .await;
    let r = rx.next().await;
    assert_eq!(r.header("authorization"), "Bearer merchant-token-2");
    let v = r.json();
    assert_eq!(v["name"], "transaction.rejected");
    assert_eq!(v["data"]["status"], "rejected");
    assert_eq!(r.raw(&["data", "amount"]), "100.00");
    // The token never shows in Debug output.
    let debug = format!("{:?}", sb.webhook());
    assert!(!debug.contains("merchant-token-2"), "{debug}");
    settled(sb.webhooks_settled()).await;
    rx.assert_idle();
}

#[tokio::test]
async fn plexy_wait_09_is_announced_again_when_it_becomes_refunded() {
    let mut rx = Receiver::ok().await;
    let sb = PlexySandbox::start_with(
        PlexyConfig::default()
            .pending_delay(Duration::from_millis(150))
            .webhook(WebhookConfig::new(rx.url("/plexy"))),
    )
    .await
    .unwrap();
    let answer = plexy_refund(
        &sb,
        plexy::seed::WAIT_09_USD,
        r#"{"amount":5.00,"minorAmount":500,"orderReference":"rf-wait"}"#,
    )
    .await;
    assert_eq!(answer.json()["responseCode"], "09");

    let created = rx.next().await.json();
    assert_eq!(created["name"], "transaction.created");
    assert_eq!(created["data"]["status"], "created");
    // No client request from here on: the status change is delivered by the sandbox itself.
    let refunded = rx.next().await.json();
    assert_eq!(refunded["name"], "transaction.refunded");
    assert_eq!(refunded["data"]["status"], "refunded");
    assert_eq!(refunded["data"]["id"], created["data"]["id"]);
    assert_eq!(refunded["data"]["merchantReference"], "rf-wait");
    assert!(
        refunded["data"]["updatedAt"].as_str() >= refunded["data"]["createdAt"].as_str(),
        "{refunded}"
    );
    // Only provider requests are logged: the refund POST was the only one.
    assert_eq!(sb.requests().len(), 1);
    settled(sb.webhooks_settled()).await;
    let events = sb.webhook_events();
    assert_eq!(
        events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["transaction.created", "transaction.refunded"]
    );
    assert_ne!(events[0].id, events[1].id);
    rx.assert_idle();
}

// ---- PayNext ----

#[tokio::test]
async fn paynext_pending_then_succeeded_without_any_client_request() {
    let mut rx = Receiver::ok().await;
    let sb = PayNextSandbox::start_with(
        PayNextConfig::default()
            .refund_delay(Duration::from_millis(150))
            .webhook(WebhookConfig::new(rx.url("/paynext"))),
    )
    .await
    .unwrap();
    let answer = paynext_refund(&sb, paynext::seed::FIXTURE_USD).await;
    assert_eq!(answer.json()["refund"]["status"], "PENDING");

    let first = rx.next().await;
    assert_svix(paynext::DEFAULT_WEBHOOK_SECRET, &first);
    assert_eq!(first.header("content-type"), "application/json");
    let v = first.json();
    assert_eq!(v["type"], "refund.created");
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["data"]["id"], paynext::seed::FIXTURE_USD);
    assert_eq!(v["data"]["amount"], 15000);
    assert_eq!(v["data"]["currency_code"], "USD");
    assert_eq!(v["data"]["refunded_amount"], 0);
    assert_eq!(v["data"]["refund"]["status"], "PENDING");
    assert_eq!(v["data"]["refund"]["amount"], 15000);
    let refund_id = v["data"]["refund"]["processor_transaction_id"].clone();
    assert!(refund_id.as_str().unwrap().starts_with("re_"));

    let second = rx.next().await;
    assert_svix(paynext::DEFAULT_WEBHOOK_SECRET, &second);
    let v = second.json();
    assert_eq!(v["type"], "refund.updated");
    assert_eq!(v["data"]["refund"]["status"], "SUCCEEDED");
    assert_eq!(v["data"]["refunded_amount"], 15000);
    assert_eq!(v["data"]["refund"]["processor_transaction_id"], refund_id);
    assert_ne!(first.header("svix-id"), second.header("svix-id"));
    assert_eq!(
        sb.requests().len(),
        1,
        "only the refund POST reached the API"
    );

    settled(sb.webhooks_settled()).await;
    let events = sb.webhook_events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].id, first.header("svix-id"));
    assert_eq!(events[1].id, second.header("svix-id"));
    assert!(
        events
            .iter()
            .all(|e| e.state == WebhookEventState::Delivered)
    );
    rx.assert_idle();
}

#[tokio::test]
async fn paynext_failures_and_a_custom_secret() {
    let secret = format!("whsec_{}", STANDARD.encode(b"\x00\x01merchant key\xff\xfe"));
    let mut rx = Receiver::ok().await;
    let sb = PayNextSandbox::start_with(
        PayNextConfig::default()
            .refund_delay(Duration::from_millis(50))
            .webhook(WebhookConfig::new(rx.url("/paynext")).secret(secret.clone())),
    )
    .await
    .unwrap();
    // Failed at once: one event, FAILED, no later change.
    paynext_refund(&sb, paynext::seed::REFUND_FAILS_USD).await;
    let r = rx.next().await;
    assert_svix(&secret, &r);
    // The check can fail: the default secret does not verify this delivery.
    assert!(!svix_valid(paynext::DEFAULT_WEBHOOK_SECRET, &r));
    let v = r.json();
    assert_eq!(
        (v["type"].as_str(), v["data"]["refund"]["status"].as_str()),
        (Some("refund.created"), Some("FAILED"))
    );
    // PENDING, then FAILED after the delay.
    paynext_refund(&sb, paynext::seed::REFUND_FAILS_LATER_USD).await;
    let created = rx.next().await.json();
    assert_eq!(created["data"]["refund"]["status"], "PENDING");
    let updated = rx.next().await;
    assert_svix(&secret, &updated);
    let updated = updated.json();
    assert_eq!(updated["type"], "refund.updated");
    assert_eq!(updated["data"]["id"], paynext::seed::REFUND_FAILS_LATER_USD);
    assert_eq!(updated["data"]["refund"]["status"], "FAILED");
    assert_eq!(updated["data"]["refunded_amount"], 0);
    settled(sb.webhooks_settled()).await;
    rx.assert_idle();

    // Invalid secrets are refused at registration.
    for bad in ["no-prefix", "whsec_***", "whsec_"] {
        let e = sb
            .set_webhook(WebhookConfig::new(rx.url("/x")).secret(bad))
            .unwrap_err();
        assert_eq!(e.kind(), refund_core::ErrorKind::InvalidInput, "{bad}");
        assert!(!e.to_string().contains(bad) || bad == "whsec_", "{e}");
    }
    let e = sb
        .set_webhook(WebhookConfig::new(rx.url("/x")).header_name("X-Token"))
        .unwrap_err();
    assert_eq!(e.kind(), refund_core::ErrorKind::InvalidInput);
    // The earlier registration is kept after a refused one.
    assert_eq!(sb.webhook().unwrap().url(), rx.url("/paynext"));
}

#[tokio::test]
async fn paynext_resolve_pending_announces_at_once() {
    let mut rx = Receiver::ok().await;
    let sb = PayNextSandbox::start_with(
        PayNextConfig::default()
            .refund_delay(Duration::from_secs(600))
            .webhook(WebhookConfig::new(rx.url("/paynext"))),
    )
    .await
    .unwrap();
    paynext_refund(&sb, paynext::seed::SETTLING_USD).await;
    assert_eq!(rx.next().await.json()["type"], "refund.created");
    settled(sb.webhooks_settled()).await;
    rx.assert_idle();
    sb.resolve_pending();
    // Queued before resolve_pending returned, so settling includes it.
    settled(sb.webhooks_settled()).await;
    let v = rx.next().await.json();
    assert_eq!(v["type"], "refund.updated");
    assert_eq!(v["data"]["refund"]["status"], "SUCCEEDED");
    rx.assert_idle();
}

// ---- Payabli ----

#[tokio::test]
async fn payabli_refund_is_delivered_with_the_custom_header_and_string_amounts() {
    let mut rx = Receiver::ok().await;
    let sb = PayabliSandbox::start_with(
        PayabliConfig::default().webhook(WebhookConfig::new(rx.url("/payabli"))),
    )
    .await
    .unwrap();
    let answer = payabli_refund(&sb, payabli::seed::FIXTURE_USD, Some("10.50"), "rf-wh-y1").await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let trans_id = answer.json()["data"]["paymentTransId"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = rx.next().await;
    assert_eq!(
        r.header(payabli::DEFAULT_WEBHOOK_HEADER),
        payabli::DEFAULT_WEBHOOK_SECRET
    );
    assert!(r.headers.get("authorization").is_none());
    assert_eq!(r.header("content-type"), "application/json");
    let v = r.json();
    assert_eq!(v["Event"], "RefundedPayment");
    assert_eq!(v["Paypoint"], payabli::WEBHOOK_PAYPOINT);
    assert_eq!(v["transId"], trans_id.as_str());
    // Amounts are JSON strings in major units, negative on a refund (§4.3).
    assert_eq!(r.raw(&["NetAmount"]), r#""-10.50""#);
    assert_eq!(r.raw(&["TotalAmount"]), r#""-10.50""#);
    assert_eq!(r.raw(&["Fee"]), r#""0.00""#);
    assert_eq!(v["ResultCode"], "A0004");
    assert_eq!(v["ResultCodeText"], "Refunded");
    assert_eq!(v["Method"], "card");
    let time = v["transTime"].as_str().unwrap();
    assert_eq!(time.len(), "12/02/2025 09:50:03".len(), "{time}");
    assert_eq!(&time[2..3], "/");

    // A configured header name and value; a declined refund carries its D code.
    sb.set_webhook(
        WebhookConfig::new(rx.url("/payabli"))
            .header_name("X-Hook-Secret")
            .secret("s3cr3t"),
    )
    .unwrap();
    let answer = payabli_refund(
        &sb,
        payabli::seed::DECLINE_D0100_USD,
        Some("1.00"),
        "rf-wh-y2",
    )
    .await;
    assert_eq!(answer.status, 402);
    let r = rx.next().await;
    assert_eq!(r.header("x-hook-secret"), "s3cr3t");
    assert!(r.headers.get("x-webhook-token").is_none());
    let v = r.json();
    assert_eq!(v["ResultCode"], "D0100");
    assert_eq!(r.raw(&["TotalAmount"]), r#""-1.00""#);
    // JPY has no fraction digits.
    payabli_refund(&sb, payabli::seed::SETTLED_JPY, Some("500"), "rf-wh-y3").await;
    let r = rx.next().await;
    assert_eq!(r.raw(&["NetAmount"]), r#""-500""#);
    assert_eq!(r.raw(&["Fee"]), r#""0""#);
    settled(sb.webhooks_settled()).await;
    rx.assert_idle();
    assert!(!format!("{:?}", sb.webhook()).contains("s3cr3t"));
}

// ---- Retries, give-up, errors ----

#[tokio::test]
async fn non_2xx_answers_are_retried_with_the_same_delivery_id() {
    let mut rx = Receiver::start([Script::Status(500), Script::Status(500)]).await;
    let sb = PayNextSandbox::start_with(
        PayNextConfig::default()
            .refund_delay(Duration::from_secs(600))
            .webhook(WebhookConfig::new(rx.url("/paynext")).retry(quick(&[0, 10, 10, 10, 10]))),
    )
    .await
    .unwrap();
    paynext_refund(&sb, paynext::seed::SETTLING_USD).await;
    let attempts = [rx.next().await, rx.next().await, rx.next().await];
    settled(sb.webhooks_settled()).await;
    rx.assert_idle();

    let id = attempts[0].header("svix-id");
    for a in &attempts {
        assert_eq!(a.header("svix-id"), id);
        assert_eq!(a.body, attempts[0].body, "the body never changes");
        assert_svix(paynext::DEFAULT_WEBHOOK_SECRET, a);
    }
    let log = sb.webhook_deliveries();
    assert_eq!(
        log.iter()
            .map(|d| (d.attempt, d.status, d.delivery_id.as_str()))
            .collect::<Vec<_>>(),
        [(1, Some(500), id), (2, Some(500), id), (3, Some(200), id)]
    );
    assert!(!log[0].succeeded() && log[2].succeeded());
    let events = sb.webhook_events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].state, events[0].attempts),
        (WebhookEventState::Delivered, 3)
    );
}

#[tokio::test]
async fn deliveries_give_up_after_the_schedule() {
    let mut rx = Receiver::start([Script::Status(503); 10]).await;
    let sb = PayabliSandbox::start_with(
        PayabliConfig::default()
            .webhook(WebhookConfig::new(rx.url("/payabli")).retry(quick(&[0, 5, 5]))),
    )
    .await
    .unwrap();
    payabli_refund(&sb, payabli::seed::SETTLED_USD, Some("1.00"), "rf-gu").await;
    for _ in 0..3 {
        assert_eq!(rx.next().await.json()["Event"], "RefundedPayment");
    }
    settled(sb.webhooks_settled()).await;
    // Exactly the three attempts of the schedule, then nothing.
    rx.assert_idle();
    let log = sb.webhook_deliveries();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d.status == Some(503)));
    let events = sb.webhook_events();
    assert_eq!(
        (events[0].state, events[0].attempts),
        (WebhookEventState::GaveUp, 3)
    );
}

#[tokio::test]
async fn connection_errors_and_timeouts_are_retried() {
    // A port with nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        l.local_addr().unwrap()
    };
    let sb = PlexySandbox::start_with(
        PlexyConfig::default()
            .webhook(WebhookConfig::new(format!("http://{closed}/hooks")).retry(quick(&[0, 1]))),
    )
    .await
    .unwrap();
    plexy_refund(
        &sb,
        plexy::seed::REFUNDABLE_USD,
        r#"{"orderReference":"rf-closed"}"#,
    )
    .await;
    settled(sb.webhooks_settled()).await;
    let log = sb.webhook_deliveries();
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d.status, None);
        assert!(d.error.as_deref().unwrap().contains("connect"), "{d:?}");
    }
    assert_eq!(sb.webhook_events()[0].state, WebhookEventState::GaveUp);

    // A receiver that never answers the first attempt: it times out, the second is delivered.
    let mut rx = Receiver::start([Script::Hang]).await;
    sb.set_webhook(
        WebhookConfig::new(rx.url("/slow"))
            .retry(quick(&[0, 1]))
            .timeout(Duration::from_millis(200)),
    )
    .unwrap();
    sb.clear_webhook_deliveries();
    plexy_refund(
        &sb,
        plexy::seed::REFUNDABLE_JPY,
        r#"{"orderReference":"rf-slow"}"#,
    )
    .await;
    let (a, b) = (rx.next().await, rx.next().await);
    assert_eq!(a.body, b.body);
    settled(sb.webhooks_settled()).await;
    let log = sb.webhook_deliveries();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, None);
    assert!(
        log[0].error.as_deref().unwrap().contains("200 ms"),
        "{log:?}"
    );
    assert_eq!(log[1].status, Some(200));
    // The body of a JPY refund has no fraction digits.
    assert_eq!(a.raw(&["data", "amount"]), "10000");
}

#[tokio::test]
async fn changing_the_webhook_cancels_queued_retries() {
    let mut rx = Receiver::start([Script::Status(500); 5]).await;
    let sb = PlexySandbox::start_with(PlexyConfig::default().webhook(
        // The second attempt would come after 60 s.
        WebhookConfig::new(rx.url("/h")).retry(quick(&[0, 60_000])),
    ))
    .await
    .unwrap();
    plexy_refund(
        &sb,
        plexy::seed::REFUNDABLE_USD,
        r#"{"orderReference":"rf-cancel"}"#,
    )
    .await;
    rx.next().await;
    sb.clear_webhook();
    settled(sb.webhooks_settled()).await;
    assert_eq!(sb.webhook_events()[0].state, WebhookEventState::Cancelled);
    assert_eq!(sb.webhook_deliveries().len(), 1);
    assert!(sb.webhook().is_none());
    // Without an endpoint, events are recorded but not sent.
    plexy_refund(
        &sb,
        plexy::seed::REFUNDABLE_KWD,
        r#"{"orderReference":"rf-none"}"#,
    )
    .await;
    settled(sb.webhooks_settled()).await;
    assert_eq!(sb.webhook_events()[1].state, WebhookEventState::NoEndpoint);
    rx.assert_idle();
    // Reset forgets events and deliveries.
    sb.reset();
    assert!(sb.webhook_events().is_empty() && sb.webhook_deliveries().is_empty());
}

// ---- Redelivery and duplicates ----

#[tokio::test]
async fn redelivery_and_injected_duplicates_keep_the_delivery_id() {
    let mut rx = Receiver::ok().await;
    let sb = PayNextSandbox::start_with(
        PayNextConfig::default()
            .refund_delay(Duration::from_secs(600))
            .webhook(WebhookConfig::new(rx.url("/paynext"))),
    )
    .await
    .unwrap();
    let e = sb.redeliver_last_webhook().unwrap_err();
    assert_eq!(e.kind(), refund_core::ErrorKind::InvalidInput);

    paynext_refund(&sb, paynext::seed::SETTLING_USD).await;
    let original = rx.next().await;
    settled(sb.webhooks_settled()).await;
    let id = sb.redeliver_last_webhook().unwrap();
    assert_eq!(id, original.header("svix-id"));
    let again = rx.next().await;
    assert_eq!(again.header("svix-id"), id);
    assert_eq!(again.body, original.body);
    assert_svix(paynext::DEFAULT_WEBHOOK_SECRET, &again);
    settled(sb.webhooks_settled()).await;
    let log = sb.webhook_deliveries();
    assert_eq!(
        (log[1].attempt, log[1].trigger),
        (2, DeliveryTrigger::Redelivery)
    );
    sb.redeliver_webhook(&id).unwrap();
    assert_eq!(rx.next().await.header("svix-id"), id);
    assert!(sb.redeliver_webhook("msg_unknown").is_err());

    // The next event arrives twice with one id; the one after it once.
    sb.duplicate_next_webhooks(1);
    paynext_refund(&sb, paynext::seed::SETTLED_JPY).await;
    let (a, b) = (rx.next().await, rx.next().await);
    assert_eq!(a.header("svix-id"), b.header("svix-id"));
    assert_eq!(a.body, b.body);
    assert_ne!(a.header("svix-id"), id);
    settled(sb.webhooks_settled()).await;
    let last = sb.webhook_deliveries().pop().unwrap();
    assert_eq!(
        (last.trigger, last.attempt),
        (DeliveryTrigger::Duplicate, 2)
    );
    paynext_refund(&sb, paynext::seed::SETTLED_KWD).await;
    rx.next().await;
    settled(sb.webhooks_settled()).await;
    rx.assert_idle();
}

// ---- Admin endpoints ----

async fn post(url: String, body: Value) -> Answer {
    Answer::read(client().post(url).json(&body).send().await.unwrap()).await
}

async fn get(url: String) -> Answer {
    Answer::read(client().get(url).send().await.unwrap()).await
}

#[tokio::test]
async fn admin_endpoints_register_list_redeliver_and_remove() {
    let mut rx = Receiver::ok().await;
    let sb = PayNextSandbox::start_with(PayNextConfig::default().refund_delay(Duration::ZERO))
        .await
        .unwrap();
    let admin = sb.admin_url();
    let secret = format!("whsec_{}", STANDARD.encode(b"admin registered key"));

    let none = get(format!("{admin}/webhooks")).await;
    assert_eq!(none.status, 404);
    for bad in [
        json!({"url": "https://127.0.0.1:1/h"}),
        json!({"url": rx.url("/h"), "secret": "not-whsec"}),
        json!({"url": rx.url("/h"), "header": "X-Token"}),
        json!({"url": rx.url("/h"), "retry_schedule_ms": []}),
        json!({"url": rx.url("/h"), "colour": "red"}),
        json!({"secret": secret}),
    ] {
        let a = post(format!("{admin}/webhooks"), bad.clone()).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.text);
        assert!(a.json()["error"].is_string());
    }
    let created = post(
        format!("{admin}/webhooks"),
        json!({"url": rx.url("/admin-hook"), "secret": secret, "retry_schedule_ms": [0, 10]}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(!created.text.contains(&secret), "{}", created.text);
    let view = get(format!("{admin}/webhooks")).await;
    assert_eq!(view.status, 200);
    let v = view.json();
    assert_eq!(v["url"], rx.url("/admin-hook"));
    assert_eq!(v["retry_schedule_ms"], json!([0, 10]));
    assert_eq!(v["timeout_ms"], 5000);
    assert_eq!(v["secret_configured"], true);
    assert!(!view.text.contains(&secret));

    // Zero delay: the creation and the status change come right after each other.
    paynext_refund(&sb, paynext::seed::FIXTURE_USD).await;
    let (a, b) = (rx.next().await, rx.next().await);
    assert_svix(&secret, &a);
    assert_svix(&secret, &b);
    let mut types = [a.json()["type"].clone(), b.json()["type"].clone()];
    types.sort_by_key(|t| t.to_string());
    assert_eq!(types, [json!("refund.created"), json!("refund.updated")]);
    settled(sb.webhooks_settled()).await;

    let events = get(format!("{admin}/webhooks/events")).await.json();
    assert_eq!(events.as_array().unwrap().len(), 2);
    assert_eq!(events[0]["state"], "delivered");
    assert_eq!(events[0]["payment_id"], paynext::seed::FIXTURE_USD);
    assert_eq!(events[0]["event_type"], "refund.created");
    let deliveries = get(format!("{admin}/webhooks/deliveries")).await.json();
    assert_eq!(deliveries.as_array().unwrap().len(), 2);
    assert_eq!(deliveries[0]["status"], 200);
    assert_eq!(deliveries[0]["trigger"], "scheduled");
    assert_eq!(deliveries[0]["attempt"], 1);

    // Redeliver one event by id, then the last one.
    let first_id = events[0]["id"].as_str().unwrap().to_owned();
    let a = post(
        format!("{admin}/webhooks/redeliver"),
        json!({"event_id": first_id}),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(rx.next().await.header("svix-id"), first_id);
    let a = Answer::read(
        client()
            .post(format!("{admin}/webhooks/redeliver"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 202);
    assert_eq!(a.json()["event_id"], events[1]["id"]);
    assert_eq!(rx.next().await.header("svix-id"), events[1]["id"]);

    // A duplicate for the next event.
    let d = post(format!("{admin}/webhooks/duplicate"), json!({"times": 1})).await;
    assert_eq!(d.status, 204);
    paynext_refund(&sb, paynext::seed::SETTLING_USD).await;
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..3 {
        ids.push(rx.next().await.header("svix-id").to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "three deliveries of two events");
    settled(sb.webhooks_settled()).await;

    // Remove: later events are not sent.
    let deleted = client()
        .delete(format!("{admin}/webhooks"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(get(format!("{admin}/webhooks")).await.status, 404);
    paynext_refund(&sb, paynext::seed::SETTLED_KWD).await;
    settled(sb.webhooks_settled()).await;
    let events = get(format!("{admin}/webhooks/events")).await.json();
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["state"], "no_endpoint");
    rx.assert_idle();
    let a = post(format!("{admin}/webhooks/redeliver"), json!({})).await;
    assert_eq!(a.status, 400, "nothing registered to redeliver to");
    let cleared = client()
        .delete(format!("{admin}/webhooks/deliveries"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert!(sb.webhook_deliveries().is_empty());
}
