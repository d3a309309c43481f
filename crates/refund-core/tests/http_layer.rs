//! The shared HTTP layer against real local servers: httpmock, and raw TCP servers on 127.0.0.1
//! where we need to control the bytes (chunked bodies, stalls, dropped connections).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use httpmock::prelude::*;
use refund_core::http::{
    Auth, BaseUrl, HttpClient, Request, Response, Segment, StatusCode, default_status_error,
    refund_outcome_error,
};
use refund_core::retry::{ManualClock, Operation};
use refund_core::{Error, ErrorKind, JsonDecimal, ProviderId, Secret};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "sk_live_TOPSECRET_4242";
const UA: &str = "refund-test/1.2.3";

const _: () = {
    const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
    assert_bounds::<HttpClient>();
    assert_bounds::<Request>();
    assert_bounds::<Response>();
    assert_bounds::<BaseUrl>();
};

fn assert_send<T: Send>(_: &T) {}

fn client_with(auth: Auth, timeout: Duration) -> HttpClient {
    HttpClient::builder(ProviderId::PLEXY, UA)
        .auth(auth)
        .timeout(timeout)
        .build()
        .unwrap()
}

fn client() -> HttpClient {
    client_with(
        Auth::header("Authorization", Secret::new(KEY)),
        Duration::from_secs(5),
    )
}

fn base(server: &MockServer) -> BaseUrl {
    BaseUrl::parse(&format!("http://127.0.0.1:{}/v1/", server.port())).unwrap()
}

fn get(base: &BaseUrl, id: &str) -> Request {
    Request::get(
        base.endpoint(&[Segment::Lit("transactions"), Segment::Param(id)])
            .unwrap(),
    )
    .operation("find_refund")
}

/// A one-connection TCP server on 127.0.0.1. The listener is bound before this returns, so the
/// client can connect at once (no sleeping to wait for readiness).
async fn raw_server<F, Fut>(handler: F) -> u16
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        handler(stream).await;
    });
    port
}

/// Reads a request's head (up to the blank line) and returns it.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

fn raw_base(port: u16) -> BaseUrl {
    BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap()
}

#[tokio::test]
async fn a_slow_response_is_a_timeout_that_may_have_reached() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/transactions/t1");
            then.status(200)
                .delay(Duration::from_millis(1500))
                .body("{}");
        })
        .await;
    let client = client_with(
        Auth::header("Authorization", Secret::new(KEY)),
        Duration::from_millis(200),
    );
    let started = Instant::now();
    let err = client.send(get(&base(&server), "t1")).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.may_have_reached_provider());
    assert!(!err.is_retryable());
    assert_eq!(err.provider(), Some(&ProviderId::PLEXY));
    assert_eq!(
        err.to_string(),
        "plexy: no complete answer within the request timeout (0.2s)"
    );
    assert_eq!(refund_outcome_error(err).kind(), ErrorKind::OutcomeUnknown);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_caller_supplied_client_still_gets_the_request_timeout() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET);
            then.status(200)
                .delay(Duration::from_millis(1500))
                .body("{}");
        })
        .await;
    let client = HttpClient::builder(ProviderId::PAYNEXT, UA)
        .client(reqwest_client())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client.send(get(&base(&server), "t1")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.may_have_reached_provider());
}

fn reqwest_client() -> refund_core::http::reqwest::Client {
    refund_core::http::reqwest::Client::builder()
        .redirect(refund_core::http::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_refused_connection_never_reached() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // dropped: nothing listens on the port any more
    let err = client().send(get(&raw_base(port), "t1")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(!err.may_have_reached_provider());
    assert!(err.is_retryable());
    assert!(
        err.to_string()
            .starts_with("plexy: could not connect to the provider"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
    // A refund that never left can be re-sent: it is not relabelled as unknown.
    assert_eq!(refund_outcome_error(err).kind(), ErrorKind::Transport);
}

/// An https base URL pointing at a server that does not speak TLS: the handshake fails, so the
/// request provably never left.
#[tokio::test]
async fn a_failed_tls_handshake_never_reached() {
    let port = raw_server(|mut stream| async move {
        let mut hello = [0u8; 64];
        let _ = stream.read(&mut hello).await;
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let base = BaseUrl::parse(&format!("https://127.0.0.1:{port}")).unwrap();
    let err = client().send(get(&base, "t1")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(!err.may_have_reached_provider(), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_connection_dropped_after_the_request_may_have_reached() {
    let port = raw_server(|mut stream| async move {
        let head = read_head(&mut stream).await;
        assert!(
            head.starts_with("POST /payments/p1/refund HTTP/1.1\r\n"),
            "{head}"
        );
        drop(stream); // no answer
    })
    .await;
    let endpoint = raw_base(port)
        .endpoint(&[
            Segment::Lit("payments"),
            Segment::Param("p1"),
            Segment::Lit("refund"),
        ])
        .unwrap();
    let err = client().send(Request::post(endpoint)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.may_have_reached_provider());
    assert!(!err.is_retryable());
    assert_eq!(refund_outcome_error(err).kind(), ErrorKind::OutcomeUnknown);
}

#[tokio::test]
async fn a_2_mib_body_is_a_size_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET);
            then.status(200)
                .header("x-request-id", "req-big")
                .body(vec![b'a'; 2 * 1024 * 1024]);
        })
        .await;
    let err = client().send(get(&base(&server), "t1")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err:?}");
    assert_eq!(
        err.to_string(),
        "plexy: response larger than 1048576 bytes (http 200)"
    );
    assert_eq!(err.http_status(), Some(200));
    assert_eq!(err.request_id(), Some("req-big"));
}

/// The server announces 2 MiB and then sends nothing: a client that tried to read the body
/// would wait until its timeout. Ours refuses from the `Content-Length` alone.
#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let port = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n")
            .await
            .unwrap();
        let _ = released.await;
    })
    .await;
    let client = client_with(
        Auth::header("Authorization", Secret::new(KEY)),
        Duration::from_secs(3),
    );
    let err = client.send(get(&raw_base(port), "t1")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err:?}");
    assert!(
        err.to_string()
            .contains("response larger than 1048576 bytes"),
        "{err}"
    );
    drop(release);
}

/// A chunked 2 MiB body (no `Content-Length`): the server sends a little more than 1 MiB and
/// then stalls until the client has answered. A client that buffered the whole body would wait
/// for the rest and hit its timeout; ours stops as soon as the cap is passed.
#[tokio::test]
async fn a_chunked_body_over_the_cap_stops_reading_early() {
    const CHUNK: usize = 64 * 1024;
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let sent = Arc::new(Mutex::new(0usize));
    let sent_by_server = sent.clone();
    let port = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        let chunk = vec![b'x'; CHUNK];
        let write_chunk = async |stream: &mut TcpStream| -> std::io::Result<()> {
            stream
                .write_all(format!("{CHUNK:X}\r\n").as_bytes())
                .await?;
            stream.write_all(&chunk).await?;
            stream.write_all(b"\r\n").await
        };
        // 17 × 64 KiB = 1 MiB + 64 KiB: just over the cap.
        for _ in 0..17 {
            write_chunk(&mut stream).await.unwrap();
            *sent_by_server.lock().unwrap() += CHUNK;
        }
        let _ = released.await;
        // The rest of the 2 MiB, which the client must not have waited for.
        for _ in 17..32 {
            if write_chunk(&mut stream).await.is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    })
    .await;
    let client = client_with(
        Auth::header("Authorization", Secret::new(KEY)),
        Duration::from_secs(3),
    );
    let err = client.send(get(&raw_base(port), "t1")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err:?}");
    assert!(
        err.to_string()
            .contains("response larger than 1048576 bytes"),
        "{err}"
    );
    assert_eq!(
        *sent.lock().unwrap(),
        17 * CHUNK,
        "the server had not sent the rest yet"
    );
    drop(release);
}

/// A body in several chunks is joined in order (the other tests here get their bodies in one
/// chunk, which the client keeps as it came).
#[tokio::test]
async fn a_body_in_several_chunks_is_joined_in_order() {
    let port = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        for piece in ["{\"status\":", "\"ok\"", ",\"n\":1", "}"] {
            stream
                .write_all(format!("{:X}\r\n{piece}\r\n", piece.len()).as_bytes())
                .await
                .unwrap();
            stream.flush().await.unwrap();
        }
        stream.write_all(b"0\r\n\r\n").await.unwrap();
    })
    .await;
    let response = client().send(get(&raw_base(port), "t1")).await.unwrap();
    assert_eq!(response.body(), &br#"{"status":"ok","n":1}"#[..]);
}

#[tokio::test]
async fn a_body_exactly_at_the_cap_is_accepted() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/fits");
            then.status(200).body("0123456789");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/over");
            then.status(200).body("0123456789A");
        })
        .await;
    let client = HttpClient::builder(ProviderId::PLEXY, UA)
        .max_response_bytes(10)
        .build()
        .unwrap();
    let ok = client.send(get(&base(&server), "fits")).await.unwrap();
    assert_eq!(ok.body(), b"0123456789");
    let err = client.send(get(&base(&server), "over")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(
        err.to_string().contains("response larger than 10 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn plain_http_only_on_loopback() {
    let err = BaseUrl::parse("http://example.com").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = BaseUrl::parse("http://example.com/v1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);

    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/transactions/t1");
            then.status(200).body("{}");
        })
        .await;
    let base = BaseUrl::parse(&format!("http://127.0.0.1:{}", server.port())).unwrap();
    let response = client().send(get(&base, "t1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_path_parameter_is_one_encoded_segment_on_the_wire() {
    let server = MockServer::start_async().await;
    // httpmock matches the raw request path, before any percent-decoding.
    let encoded = server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/payments/a%2Fb%20c/refund");
            then.status(200).body("{}");
        })
        .await;
    let decoded = server
        .mock_async(|when, then| {
            when.path_includes("a/b");
            then.status(599);
        })
        .await;
    let endpoint = base(&server)
        .endpoint(&[
            Segment::Lit("payments"),
            Segment::Param("a/b c"),
            Segment::Lit("refund"),
        ])
        .unwrap();
    let response = client().send(Request::post(endpoint)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    encoded.assert_calls_async(1).await;
    decoded.assert_calls_async(0).await;

    // And the exact request line, read from a raw socket.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let port = raw_server(|mut stream| async move {
        let head = read_head(&mut stream).await;
        tx.send(head).unwrap();
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
    })
    .await;
    let endpoint = raw_base(port)
        .endpoint(&[
            Segment::Lit("v2/MoneyIn/refund"),
            Segment::Param("a/b c"),
            Segment::Param("10.50"),
        ])
        .unwrap();
    client().send(Request::post(endpoint)).await.unwrap();
    let head = rx.await.unwrap();
    assert!(
        head.starts_with("POST /v2/MoneyIn/refund/a%2Fb%20c/10.50 HTTP/1.1\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn empty_dot_and_dot_dot_ids_are_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).body("{}");
        })
        .await;
    let client = client();
    let base = base(&server);
    for id in ["", ".", ".."] {
        // What a provider crate does: build the endpoint, then send.
        let result = async {
            let endpoint = base.endpoint(&[
                Segment::Lit("payments"),
                Segment::Param(id),
                Segment::Lit("refund"),
            ])?;
            client.send(Request::post(endpoint)).await
        }
        .await;
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id:?}");
        assert!(!err.may_have_reached_provider());
    }
    any.assert_calls_async(0).await;
    // The mock does answer requests, so 0 hits above means none was sent.
    client.send(get(&base, "ok")).await.unwrap();
    any.assert_calls_async(1).await;
}

#[tokio::test]
async fn headers_sent() {
    let server = MockServer::start_async().await;
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/transactions/t1")
                .header("accept", "application/json")
                .header("user-agent", UA)
                .header("authorization", KEY)
                .header("x-api-version", "1.0.0");
            then.status(200).body("{}");
        })
        .await;
    let bare_post = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/payments/p1/refund")
                .header("accept", "application/json")
                .header("user-agent", UA)
                .header("authorization", KEY)
                .header("idempotencykey", "rf-9c01")
                .header_missing("content-type")
                .header("content-length", "0")
                .body("");
            then.status(201).body("{}");
        })
        .await;
    let json_post = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/payments/p2/refund")
                .header("content-type", "application/json")
                .header("authorization", KEY)
                .body(r#"{"amount":10.50,"orderReference":"rf-1"}"#);
            then.status(200).body("{}");
        })
        .await;
    let client = client();
    let base = base(&server);

    let request = get(&base, "t1")
        .try_header("X-API-Version", "1.0.0")
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let endpoint = base
        .endpoint(&[
            Segment::Lit("payments"),
            Segment::Param("p1"),
            Segment::Lit("refund"),
        ])
        .unwrap();
    let request = Request::post(endpoint)
        .try_header("idempotencyKey", "rf-9c01")
        .unwrap();
    let future = client.send(request);
    assert_send(&future);
    assert_eq!(future.await.unwrap().status(), StatusCode::CREATED);

    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        amount: JsonDecimal,
        order_reference: &'static str,
    }
    let endpoint = base
        .endpoint(&[
            Segment::Lit("payments"),
            Segment::Param("p2"),
            Segment::Lit("refund"),
        ])
        .unwrap();
    let request = Request::post(endpoint)
        .json(&Body {
            amount: "10.50".parse().unwrap(),
            order_reference: "rf-1",
        })
        .unwrap();
    assert_eq!(client.send(request).await.unwrap().status(), StatusCode::OK);

    lookup.assert_calls_async(1).await;
    bare_post.assert_calls_async(1).await;
    json_post.assert_calls_async(1).await;
}

#[tokio::test]
async fn bearer_and_custom_auth_headers() {
    let server = MockServer::start_async().await;
    let bearer = server
        .mock_async(|when, then| {
            when.path("/v1/transactions/b")
                .header("authorization", format!("Bearer {KEY}"));
            then.status(200);
        })
        .await;
    let token = server
        .mock_async(|when, then| {
            when.path("/v1/transactions/t")
                .header("requestToken", KEY)
                .header_missing("authorization");
            then.status(200);
        })
        .await;
    let base = base(&server);
    let c = client_with(Auth::bearer(Secret::new(KEY)), Duration::from_secs(5));
    assert_eq!(
        c.send(get(&base, "b")).await.unwrap().status(),
        StatusCode::OK
    );
    let c = client_with(
        Auth::header("requestToken", Secret::new(KEY)),
        Duration::from_secs(5),
    );
    assert_eq!(
        c.send(get(&base, "t")).await.unwrap().status(),
        StatusCode::OK
    );
    bearer.assert_calls_async(1).await;
    token.assert_calls_async(1).await;
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)] // read through Debug and assertions only
struct Refund {
    id: String,
    amount: JsonDecimal,
    count: u32,
}

#[derive(Debug, serde::Deserialize)]
struct Envelope {
    data: Data,
}

#[derive(Debug, serde::Deserialize)]
struct Data {
    refunds: Vec<Refund>,
}

#[tokio::test]
async fn decode_errors_name_the_field_path_and_quote_the_body() {
    let server = MockServer::start_async().await;
    let bodies = [
        (
            "good",
            r#"{"data":{"refunds":[{"id":"r1","amount":10.50,"count":1,"extra":true}]}}"#,
        ),
        (
            "bad-amount",
            r#"{"data":{"refunds":[{"id":"r1","amount":"abc","count":1}]}}"#,
        ),
        // The decimal before the bad field is read through `RawValue`; the path must survive it.
        (
            "bad-count",
            r#"{"data":{"refunds":[{"id":"r1","amount":1.5,"count":-1}]}}"#,
        ),
        ("missing", r#"{"data":{"refunds":[{"id":"r1","count":1}]}}"#),
        ("html", "<html>\n<body>502 Bad Gateway</body></html>"),
        ("empty", ""),
        (
            "long",
            &format!(
                r#"{{"data":{{"refunds":[{{"id":7}}]}},"pad":"{}"}}"#,
                "z".repeat(300)
            ),
        ),
    ];
    for (name, body) in bodies {
        let path = format!("/v1/transactions/{name}");
        let body = body.to_owned();
        server
            .mock_async(move |when, then| {
                when.path(path);
                then.status(200).header("x-request-id", "req-7").body(body);
            })
            .await;
    }
    let client = client();
    let base = base(&server);
    let decode = async |name: &str| -> Result<Envelope, Error> {
        client
            .send(get(&base, name))
            .await
            .unwrap()
            .json::<Envelope>()
    };

    let good = decode("good").await.unwrap();
    assert_eq!(good.data.refunds[0].amount.value().to_string(), "10.50");

    let err = decode("bad-amount").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.http_status(), Some(200));
    assert_eq!(err.request_id(), Some("req-7"));
    let text = err.to_string();
    assert!(text.contains("at `data.refunds[0].amount`"), "{text}");
    assert!(
        text.contains(
            r#"body starts with "{\"data\":{\"refunds\":[{\"id\":\"r1\",\"amount\":\"abc\""#
        ),
        "{text}"
    );

    let text = decode("bad-count").await.unwrap_err().to_string();
    assert!(text.contains("at `data.refunds[0].count`"), "{text}");

    let text = decode("missing").await.unwrap_err().to_string();
    assert!(text.contains("at `data.refunds[0]`"), "{text}");
    assert!(text.contains("missing field `amount`"), "{text}");

    let text = decode("html").await.unwrap_err().to_string();
    assert!(text.contains("not valid JSON"), "{text}");
    assert!(
        text.contains(r#"body starts with "<html>\n<body>502 Bad Gateway</body></html>""#),
        "{text}"
    );

    let text = decode("empty").await.unwrap_err().to_string();
    assert!(text.contains("the response body is empty"), "{text}");

    let text = decode("long").await.unwrap_err().to_string();
    assert!(text.contains("at `data.refunds[0].id`"), "{text}");
    assert!(text.ends_with("zzz\"… (http 200)"), "{text}");
    assert!(!text.contains(&"z".repeat(100)), "{text}");
}

#[tokio::test]
async fn retry_after_is_read_relative_to_the_injected_clock() {
    let server = MockServer::start_async().await;
    let clock = ManualClock::default();
    let date =
        httpdate::fmt_http_date(refund_core::retry::Clock::now(&clock) + Duration::from_secs(30));
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/date");
            then.status(429).header("retry-after", date);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/secs");
            then.status(429).header("retry-after", "7");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/junk");
            then.status(429).header("retry-after", "soon");
        })
        .await;
    let client = HttpClient::builder(ProviderId::PAYABLI, UA)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let base = base(&server);
    for (id, expected) in [("date", Some(30)), ("secs", Some(7)), ("junk", None)] {
        let response = client.send(get(&base, id)).await.unwrap();
        assert_eq!(
            response.retry_after().map(|d| d.as_secs()),
            expected,
            "{id}"
        );
        let err = default_status_error(&response, Operation::Refund).unwrap();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.retry_after().map(|d| d.as_secs()), expected, "{id}");
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn a_small_response_round_trip() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/transactions/t1");
            then.status(200).header("request-id", "abc-1").body(
                r#"{"data":{"refunds":[{"id":"r1","amount":0.30000000000000004,"count":2}]}}"#,
            );
        })
        .await;
    let response = client().send(get(&base(&server), "t1")).await.unwrap();
    assert!(response.is_success());
    assert_eq!(response.request_id(), Some("abc-1"));
    assert_eq!(response.provider(), &ProviderId::PLEXY);
    assert!(default_status_error(&response, Operation::Lookup).is_none());
    let envelope: Envelope = response.json().unwrap();
    assert_eq!(
        envelope.data.refunds[0].amount.value().to_string(),
        "0.30000000000000004"
    );
}
