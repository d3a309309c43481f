//! The API key never appears in an error's `Display` or `Debug`, nor in anything `tracing`
//! records, on success and on every failure path.
//!
//! A test binary of its own: `tracing` caches per-callsite interest process-wide, so a
//! thread-local capturing subscriber is only reliable when no other test runs concurrently.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use httpmock::prelude::*;
use refund_core::http::{Auth, BaseUrl, HttpClient, Request, Segment, default_status_error};
use refund_core::retry::Operation;
use refund_core::{Error, ErrorKind, ProviderId, Secret};

const KEY: &str = "sk_live_TOPSECRET_4242";
const UA: &str = "refund-test/1.2.3";

fn base(server: &MockServer) -> BaseUrl {
    BaseUrl::parse(&format!("http://127.0.0.1:{}/v1/", server.port())).unwrap()
}

fn raw_base(port: u16) -> BaseUrl {
    BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap()
}

fn get(base: &BaseUrl, id: &str) -> Request {
    Request::get(
        base.endpoint(&[Segment::Lit("transactions"), Segment::Param(id)])
            .unwrap(),
    )
    .operation("find_refund")
}

/// Every message of an error and of its whole source chain, in Display and Debug form.
fn all_text(error: &Error) -> String {
    let mut text = format!("{error}\n{error:?}\n");
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    text
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)] // only decoded
struct Envelope {
    data: serde_json::Value,
}

/// Collects everything a `tracing` fmt subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_api_key_appears_in_no_error_and_no_log() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/ok");
            then.status(200).body(r#"{"data":{"refunds":[]}}"#);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/fail");
            then.status(500).body(r#"{"message":"boom"}"#);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/slow");
            then.status(200).delay(Duration::from_millis(1500));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/big");
            then.status(200).body(vec![b' '; 64]);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/bad");
            then.status(200).body("{");
        })
        .await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };

    let mut printed = String::new();
    for auth in [
        Auth::header("Authorization", Secret::new(KEY)),
        Auth::bearer(Secret::new(KEY)),
        Auth::header("requestToken", Secret::new(KEY)),
    ] {
        printed.push_str(&format!("{auth:?}\n"));
        let client = HttpClient::builder(ProviderId::PLEXY, UA)
            .auth(auth)
            .timeout(Duration::from_millis(200))
            .max_response_bytes(32)
            .build()
            .unwrap();
        printed.push_str(&format!("{client:?}\n"));
        let base = base(&server);

        let ok = client.send(get(&base, "ok")).await.unwrap();
        printed.push_str(&format!("{ok:?}\n"));
        let _: Envelope = ok.json().unwrap();

        let fail = client.send(get(&base, "fail")).await.unwrap();
        let err = default_status_error(&fail, Operation::Refund).unwrap();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
        printed.push_str(&all_text(&err));

        let mut errors = vec![
            client.send(get(&base, "slow")).await.unwrap_err(),
            client.send(get(&base, "big")).await.unwrap_err(),
            client
                .send(get(&raw_base(closed_port), "x"))
                .await
                .unwrap_err(),
            client
                .send(get(&base, "bad"))
                .await
                .unwrap()
                .json::<Envelope>()
                .unwrap_err(),
        ];
        let kinds: Vec<ErrorKind> = errors.iter().map(Error::kind).collect();
        assert_eq!(
            kinds,
            [
                ErrorKind::Timeout,
                ErrorKind::Decode,
                ErrorKind::Transport,
                ErrorKind::Decode
            ]
        );
        errors.push(
            HttpClient::builder(ProviderId::PLEXY, UA)
                .auth(Auth::header(
                    "Authorization",
                    Secret::new(format!("{KEY}\n")),
                ))
                .build()
                .unwrap_err(),
        );
        for err in &errors {
            printed.push_str(&all_text(err));
        }
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    // The capture works and records what it should...
    assert!(logs.contains("http call finished"), "{logs}");
    assert!(logs.contains("http call failed"), "{logs}");
    assert!(logs.contains("operation=\"find_refund\""), "{logs}");
    assert!(logs.contains("path=\"/v1/transactions/ok\""), "{logs}");
    assert!(logs.contains("status=200"), "{logs}");
    assert!(logs.contains("status=500"), "{logs}");
    assert!(logs.contains("elapsed_ms="), "{logs}");
    assert!(logs.contains("provider=plexy"), "{logs}");
    assert!(printed.contains("could not connect"), "{printed}");
    // ...and never the key, nor a body.
    for needle in [KEY, "TOPSECRET"] {
        assert!(!logs.contains(needle), "key in logs:\n{logs}");
        assert!(!printed.contains(needle), "key in errors:\n{printed}");
    }
    assert!(!logs.contains("boom"), "body in logs:\n{logs}");
    assert!(!logs.contains("refunds"), "body in logs:\n{logs}");
}
