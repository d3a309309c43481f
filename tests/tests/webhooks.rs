//! End to end, as an app would do it: the sandbox delivers PayNext webhooks to a receiver built
//! on the facade's `WebhookReceiver` mounted in axum; a refund goes Pending then Succeeded, each
//! event is seen verified and acted on once despite an injected redelivery.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router as Http;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use refund_core::webhook::WebhookOutcome;
use refund_core::{PaymentId, ProviderId, RefundReference, RefundRequest, RefundStatus};
use refund_facade::{ClientOptions, Router, WebhookReceiver};
use refund_sandbox::paynext::{DEFAULT_WEBHOOK_SECRET, PayNextConfig};
use refund_sandbox::{PayNextSandbox, WebhookConfig};
use tokio::sync::mpsc;

#[derive(Clone)]
struct App {
    receiver: Arc<WebhookReceiver>,
    events: mpsc::UnboundedSender<(RefundStatus, String, bool)>,
}

/// The handler an application writes (the one documented on `WebhookReceiver`).
async fn hook(
    State(app): State<App>,
    Path(p): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Ok(provider) = ProviderId::new(p) else {
        return StatusCode::NOT_FOUND;
    };
    match app.receiver.receive(&provider, &headers, &body, None).await {
        Ok(delivery) => {
            if let WebhookOutcome::Event(event) = &delivery.outcome {
                let _ =
                    app.events
                        .send((event.status, event.event_type.clone(), delivery.duplicate));
            }
            StatusCode::OK
        }
        Err(e) => {
            StatusCode::from_u16(WebhookReceiver::status_for(&e)).unwrap_or(StatusCode::BAD_REQUEST)
        }
    }
}

async fn next(
    rx: &mut mpsc::UnboundedReceiver<(RefundStatus, String, bool)>,
) -> (RefundStatus, String, bool) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a delivery within 10 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paynext_pending_then_succeeded_each_once() {
    // The app: a receiver from the same variables an app would set.
    let receiver = WebhookReceiver::builder()
        .verifiers_from_vars(|name| {
            (name == "PAYNEXT_WEBHOOK_SECRET").then(|| DEFAULT_WEBHOOK_SECRET.to_owned())
        })
        .unwrap()
        .build()
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = App {
        receiver: Arc::new(receiver),
        events: tx,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/paynext", listener.local_addr().unwrap());
    let http = Http::new()
        .route("/webhooks/{provider}", post(hook))
        .with_state(app);
    tokio::spawn(async move { axum::serve(listener, http).await });

    // The provider: PayNext's emulator, refunds final after 300 ms, webhooks to the app.
    let sandbox = PayNextSandbox::start_with(
        PayNextConfig::default()
            .refund_delay(Duration::from_millis(300))
            .webhook(WebhookConfig::new(url).secret(DEFAULT_WEBHOOK_SECRET)),
    )
    .await
    .unwrap();
    // Every delivered event is sent a second time (a redelivery with the same svix-id).
    sandbox.duplicate_next_webhooks(2);

    let router = Router::builder()
        .providers_from_vars(
            |name| match name {
                "PAYNEXT_API_KEY" => Some(sandbox.api_key().expose_secret().to_owned()),
                "PAYNEXT_BASE_URL" => Some(sandbox.base_url().to_owned()),
                _ => None,
            },
            &ClientOptions::default(),
        )
        .unwrap()
        .build()
        .unwrap();
    let request = RefundRequest::builder(
        PaymentId::new(refund_sandbox::paynext::seed::FIXTURE_USD).unwrap(),
        RefundReference::new("rf-webhook-1").unwrap(),
    )
    .build()
    .unwrap();
    let outcome = router.refund(&ProviderId::PAYNEXT, &request).await.unwrap();
    assert_eq!(outcome.refund.status, RefundStatus::Pending);

    // Pending (refund.created), its redelivery flagged duplicate, then Succeeded
    // (refund.updated) and its redelivery.
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next(&mut rx).await);
    }
    sandbox.webhooks_settled().await;
    let fresh: Vec<_> = seen
        .iter()
        .filter(|(_, _, dup)| !dup)
        .map(|(s, t, _)| (*s, t.clone()))
        .collect();
    assert_eq!(
        fresh,
        vec![
            (RefundStatus::Pending, "refund.created".to_owned()),
            (RefundStatus::Succeeded, "refund.updated".to_owned())
        ],
        "each event acted on once, in order: {seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|(_, _, dup)| *dup).count(),
        2,
        "both redeliveries recognised: {seen:?}"
    );
    assert!(rx.try_recv().is_err(), "nothing more was delivered");
}

#[tokio::test]
async fn forged_and_unknown_deliveries_are_refused() {
    let receiver = WebhookReceiver::builder()
        .verifiers_from_vars(|name| {
            (name == "PAYNEXT_WEBHOOK_SECRET").then(|| DEFAULT_WEBHOOK_SECRET.to_owned())
        })
        .unwrap()
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("svix-id", "msg_1".parse().unwrap());
    headers.insert("svix-timestamp", "1700000000".parse().unwrap());
    headers.insert("svix-signature", "v1,AAAA".parse().unwrap());
    let err = receiver
        .receive(&ProviderId::PAYNEXT, &headers, b"{}", None)
        .await
        .unwrap_err();
    assert_eq!(WebhookReceiver::status_for(&err), 401);
    let err = receiver
        .receive(&ProviderId::PLEXY, &headers, b"{}", None)
        .await
        .unwrap_err();
    assert_eq!(WebhookReceiver::status_for(&err), 404);
    assert!(
        WebhookReceiver::builder()
            .verifiers_from_vars(
                |name| (name == "PAYABLI_WEBHOOK_HEADER").then(|| "X-Token".to_owned())
            )
            .is_err(),
        "a Payabli header without its secret is a configuration error"
    );
}
