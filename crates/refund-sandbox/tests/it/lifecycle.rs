//! Starting, configuring and stopping.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use refund_sandbox::plexy::PlexyConfig;
use refund_sandbox::{PlexySandbox, Sandbox, plexy};

use crate::common::{client, plexy_get};

#[tokio::test]
async fn all_three_start_ready_with_their_base_urls() {
    let sb = Sandbox::start().await.unwrap();
    let urls = [
        sb.plexy().base_url().to_owned(),
        sb.paynext().base_url().to_owned(),
        sb.payabli().base_url().to_owned(),
    ];
    assert!(urls[0].starts_with("http://127.0.0.1:") && urls[0].ends_with("/v1"));
    assert!(urls[1].starts_with("http://127.0.0.1:") && !urls[1].ends_with('/'));
    assert_eq!(urls[1].matches('/').count(), 2);
    assert!(urls[2].starts_with("http://127.0.0.1:") && urls[2].ends_with("/api"));
    assert_ne!(sb.plexy().addr(), sb.paynext().addr());
    // Ready without waiting: the first request is served.
    let a = plexy_get(
        sb.plexy(),
        &format!("/transactions/{}", plexy::seed::REFUNDABLE_USD),
    )
    .await;
    assert_eq!(a.status, 200);
    // Debug output never shows a key.
    let debug = format!("{sb:?}");
    assert!(!debug.contains(plexy::DEFAULT_API_KEY), "{debug}");
    assert_eq!(sb.plexy().api_key().expose_secret(), plexy::DEFAULT_API_KEY);

    let addrs = [sb.plexy().addr(), sb.paynext().addr(), sb.payabli().addr()];
    sb.shutdown().await;
    for addr in addrs {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} still open"
        );
    }
}

#[tokio::test]
async fn a_given_address_and_key() {
    // Find a free port, release it, and ask the sandbox to use it.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let sb = PlexySandbox::start_with(PlexyConfig::default().addr(addr).api_key("my-key"))
        .await
        .unwrap();
    assert_eq!(sb.addr(), addr);
    assert_eq!(sb.base_url(), format!("http://127.0.0.1:{port}/v1"));
    let ok = client()
        .get(format!(
            "{}/transactions/{}",
            sb.base_url(),
            plexy::seed::FIXTURE_KZT
        ))
        .header("Authorization", "my-key")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let default_key = client()
        .get(format!(
            "{}/transactions/{}",
            sb.base_url(),
            plexy::seed::FIXTURE_KZT
        ))
        .header("Authorization", plexy::DEFAULT_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(default_key.status(), 401);
    // The address is taken while the sandbox runs.
    assert!(
        PlexySandbox::start_with(PlexyConfig::default().addr(addr))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn dropping_the_handle_closes_the_listener() {
    let sb = PlexySandbox::start().await.unwrap();
    let addr = sb.addr();
    drop(sb);
    // The accept loop runs on this runtime: give it turns until it has closed the listener.
    let mut closed = false;
    for _ in 0..1_000 {
        tokio::task::yield_now().await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "listener still open after drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_open_connections_too() {
    let sb = PlexySandbox::start().await.unwrap();
    sb.inject(refund_sandbox::Fault::new(
        refund_sandbox::FaultKind::Delay(std::time::Duration::from_secs(30)),
    ))
    .unwrap();
    let url = format!(
        "{}/transactions/{}",
        sb.base_url(),
        plexy::seed::FIXTURE_KZT
    );
    let key = sb.api_key().expose_secret().to_owned();
    let pending =
        tokio::spawn(async move { client().get(url).header("Authorization", key).send().await });
    // Wait until the request is in the sandbox (it is logged before the delay starts).
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while sb.requests().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the request never reached the sandbox");
    let started = std::time::Instant::now();
    sb.shutdown().await;
    let result = pending.await.unwrap();
    assert!(result.is_err(), "the delayed answer must not arrive");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
