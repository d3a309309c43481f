//! The retry policy of contract §0.5: one table row per rule, and the async runner with a
//! `ManualClock`, so nothing here really sleeps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use httpmock::prelude::*;
use refund_core::http::{
    BaseUrl, HttpClient, Request, Segment, default_status_error, refund_outcome_error,
};
use refund_core::retry::{
    self, Decision, GiveUpReason, Jitter, ManualClock, Operation, RetryPolicy,
};
use refund_core::{Error, ErrorKind, ProviderId, Reach};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// The failures the HTTP layer and the provider crates produce.
fn refused() -> Error {
    Error::new(
        ErrorKind::Transport,
        "could not connect to the provider: connection refused",
    )
}
fn dns_failure() -> Error {
    Error::new(
        ErrorKind::Transport,
        "could not resolve the provider's host name",
    )
}
fn tls_failure() -> Error {
    Error::new(
        ErrorKind::Transport,
        "could not connect to the provider: invalid certificate",
    )
}
fn connect_timeout() -> Error {
    Error::new(ErrorKind::Timeout, "timed out connecting").with_reach(Reach::NeverReached)
}
fn request_timeout() -> Error {
    Error::new(ErrorKind::Timeout, "no complete answer").with_reach(Reach::MayHaveReached)
}
fn broken_connection() -> Error {
    Error::new(ErrorKind::Transport, "connection broke").with_reach(Reach::MayHaveReached)
}
fn rate_limited(retry_after: Option<Duration>) -> Error {
    let e = Error::new(ErrorKind::RateLimited, "rate limited").with_http_status(429);
    match retry_after {
        Some(d) => e.with_retry_after(d),
        None => e,
    }
}
fn status(kind: ErrorKind, code: u16) -> Error {
    Error::new(kind, "answer")
        .with_http_status(code)
        .with_reach(Reach::MayHaveReached)
}

const NO: Decision = Decision::GiveUp(GiveUpReason::NotRetryable);
const DONE: Decision = Decision::GiveUp(GiveUpReason::AttemptsExhausted);

fn wait(millis: u64) -> Decision {
    Decision::Retry(ms(millis))
}

/// 429 with a `Retry-After` of `s` seconds.
fn ra(s: u64) -> Error {
    rate_limited(Some(secs(s)))
}

/// 429 without `Retry-After`.
fn rl() -> Error {
    rate_limited(None)
}

type Case = (&'static str, Operation, Error, u32, Jitter, Decision);

#[test]
fn every_rule_of_section_0_5() {
    use ErrorKind::*;
    use Operation::{Lookup, Refund};
    let (j0, j1, jq) = (Jitter::NONE, Jitter::MAX, Jitter::from_permille(250));

    // (rule, operation, error, failed attempts so far, jitter, decision)
    #[rustfmt::skip] // one row per line reads as a table
    let rows: Vec<Case> = vec![
        // GET lookups: network errors, timeouts, 429 and 5xx are retried, up to 3 attempts in
        // all, after 0.5 s and then 1 s, plus up to 50 % jitter.
        ("lookup: refused, 1st failure", Lookup, refused(), 1, j0, wait(500)),
        ("lookup: refused, 2nd failure", Lookup, refused(), 2, j0, wait(1000)),
        ("lookup: refused, 3rd failure gives up", Lookup, refused(), 3, j0, DONE),
        ("lookup: dns, full jitter", Lookup, dns_failure(), 1, j1, wait(750)),
        ("lookup: broken connection", Lookup, broken_connection(), 1, j0, wait(500)),
        ("lookup: request timeout", Lookup, request_timeout(), 2, j1, wait(1500)),
        ("lookup: connect timeout, 1/4 jitter", Lookup, connect_timeout(), 1, jq, wait(562)),
        ("lookup: timeout, 3rd failure", Lookup, request_timeout(), 3, j0, DONE),
        ("lookup: 429", Lookup, rl(), 1, j0, wait(500)),
        ("lookup: 429 Retry-After 5 s", Lookup, ra(5), 1, j1, wait(5000)),
        ("lookup: 429 Retry-After over the cap", Lookup, ra(120), 2, j0, wait(60_000)),
        ("lookup: 429 Retry-After 0 keeps the backoff", Lookup, ra(0), 1, j0, wait(500)),
        ("lookup: 429, 3rd failure", Lookup, ra(1), 3, j0, DONE),
        ("lookup: 500", Lookup, status(Provider, 500), 1, j0, wait(500)),
        ("lookup: 503 gateway page", Lookup, status(Decode, 503), 2, j0, wait(1000)),
        ("lookup: 502, 3rd failure", Lookup, status(Provider, 502), 3, j0, DONE),
        ("lookup: unreadable 200", Lookup, status(Decode, 200), 1, j0, NO),
        ("lookup: 400", Lookup, status(InvalidInput, 400), 1, j0, NO),
        ("lookup: 401", Lookup, status(Auth, 401), 1, j0, NO),
        ("lookup: 404", Lookup, status(NotFound, 404), 1, j0, NO),
        ("lookup: unexpected 409", Lookup, status(Provider, 409), 1, j0, NO),
        ("lookup: bad input", Lookup, Error::invalid_input("empty id"), 1, j0, NO),
        ("lookup: config", Lookup, Error::config("bad base URL"), 1, j0, NO),
        ("lookup: unsupported", Lookup, Error::unsupported("no"), 1, j0, NO),
        // Refund POSTs: re-sent only when they provably never reached the provider, or on 429.
        ("refund: refused", Refund, refused(), 1, j0, wait(500)),
        ("refund: refused, 2nd failure", Refund, refused(), 2, j1, wait(1500)),
        ("refund: refused, 3rd failure", Refund, refused(), 3, j0, DONE),
        ("refund: dns", Refund, dns_failure(), 1, j0, wait(500)),
        ("refund: tls handshake", Refund, tls_failure(), 1, j0, wait(500)),
        ("refund: connect timeout", Refund, connect_timeout(), 1, j0, wait(500)),
        ("refund: 429", Refund, rl(), 1, j0, wait(500)),
        ("refund: 429 Retry-After 5 s", Refund, ra(5), 1, j0, wait(5000)),
        ("refund: 429 Retry-After over the cap", Refund, ra(3600), 1, j0, wait(60_000)),
        ("refund: 429, 3rd failure", Refund, rl(), 3, j0, DONE),
        ("refund: request timeout", Refund, request_timeout(), 1, j0, NO),
        ("refund: broken connection", Refund, broken_connection(), 1, j0, NO),
        ("refund: 500 outcome unknown", Refund, status(OutcomeUnknown, 500), 1, j0, NO),
        ("refund: 503 labelled provider", Refund, status(Provider, 503), 1, j0, NO),
        ("refund: outcome unknown", Refund, Error::new(OutcomeUnknown, "x"), 1, j0, NO),
        ("refund: unreadable 200", Refund, status(Decode, 200), 1, j0, NO),
        ("refund: 400", Refund, status(InvalidInput, 400), 1, j0, NO),
        ("refund: 401", Refund, status(Auth, 401), 1, j0, NO),
        ("refund: 404", Refund, status(NotFound, 404), 1, j0, NO),
        ("refund: bad input", Refund, Error::invalid_input("x"), 1, j0, NO),
        ("refund: not retryable beats the limit", Refund, request_timeout(), 9, j0, NO),
    ];
    let policy = RetryPolicy::new();
    for (rule, op, error, failed, jitter, expected) in &rows {
        // 562.5 ms is written 562 in the table: compare to the millisecond here, and the
        // exact value below.
        let got = match policy.decide(*op, *failed, error, *jitter) {
            Decision::Retry(d) => wait(u64::try_from(d.as_millis()).unwrap()),
            other => other,
        };
        assert_eq!(got, *expected, "{rule}");
        // The pure rule and the decision agree.
        assert_eq!(policy.is_retryable(*op, error), *expected != NO, "{rule}");
        // A refund is retried exactly when the error itself says it may be sent again.
        if *op == Refund {
            assert_eq!(
                policy.is_retryable(*op, error),
                error.is_retryable(),
                "{rule}"
            );
        }
    }
    assert_eq!(
        policy.decide(Lookup, 1, &connect_timeout(), jq),
        Decision::Retry(Duration::from_micros(562_500))
    );

    // Everything is configurable: more attempts reach the 2 s cap of the backoff (the
    // contract's third value), and jitter comes on top of the cap.
    let more = RetryPolicy::new().with_max_attempts(5);
    let fast = RetryPolicy::new()
        .with_initial_backoff(ms(100))
        .with_max_backoff(ms(300))
        .with_max_jitter_permille(1000)
        .with_max_attempts(10);
    let short_cap = RetryPolicy::new().with_max_retry_after(secs(10));
    #[rustfmt::skip] // one row per line reads as a table
    let configured: Vec<(&RetryPolicy, Case)> = vec![
        (&more, ("5 attempts: 3rd failure", Lookup, refused(), 3, j0, wait(2000))),
        (&more, ("5 attempts: 4th failure, capped", Lookup, refused(), 4, j1, wait(3000))),
        (&more, ("5 attempts: 5th failure", Lookup, refused(), 5, j0, DONE)),
        (&fast, ("custom backoff", Lookup, refused(), 4, j1, wait(600))),
        (&short_cap, ("custom Retry-After cap", Refund, ra(30), 1, j0, wait(10_000))),
    ];
    for (policy, (rule, op, error, failed, jitter, expected)) in &configured {
        assert_eq!(
            policy.decide(*op, *failed, error, *jitter),
            *expected,
            "{rule}"
        );
    }
    let never = RetryPolicy::never();
    assert_eq!(never.decide(Lookup, 1, &refused(), j0), DONE);
}

#[test]
fn defaults_are_documented_values() {
    let p = RetryPolicy::default();
    assert_eq!(p, RetryPolicy::new());
    assert_eq!(p.max_attempts(), 3);
    assert_eq!(p.initial_backoff(), ms(500));
    assert_eq!(p.max_backoff(), secs(2));
    assert_eq!(p.max_jitter_permille(), 500);
    assert_eq!(p.max_retry_after(), secs(60));
    assert_eq!(RetryPolicy::new().with_max_attempts(0).max_attempts(), 1);
}

#[tokio::test]
async fn the_runner_sleeps_through_the_injected_sleeper() {
    let clock = ManualClock::default();
    let start = refund_core::retry::Clock::now(&clock);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let result = retry::run(
        &RetryPolicy::new(),
        Operation::Lookup,
        &clock,
        || Jitter::NONE,
        |attempt| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(attempt);
                if attempt < 3 {
                    Err(status(ErrorKind::Provider, 503))
                } else {
                    Ok("found")
                }
            }
        },
    )
    .await;
    assert_eq!(result.unwrap(), "found");
    assert_eq!(*seen.lock().unwrap(), [1, 2, 3]);
    assert_eq!(clock.sleeps(), [ms(500), ms(1000)]);
    assert_eq!(refund_core::retry::Clock::now(&clock), start + ms(1500));
}

#[tokio::test]
async fn the_runner_gives_up_with_the_last_error() {
    let clock = ManualClock::default();
    let mut jitters = vec![Jitter::MAX, Jitter::NONE, Jitter::MAX].into_iter();
    let err = retry::run(
        &RetryPolicy::new(),
        Operation::Lookup,
        &clock,
        || jitters.next().unwrap(),
        |attempt| async move {
            Err::<(), _>(Error::new(ErrorKind::Timeout, format!("attempt {attempt}")))
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "attempt 3");
    assert_eq!(clock.sleeps(), [ms(750), ms(1000)]);
}

#[tokio::test]
async fn the_runner_never_repeats_a_refund_that_may_have_reached() {
    let clock = ManualClock::default();
    let calls = Arc::new(Mutex::new(0));
    let err = retry::run(
        &RetryPolicy::new(),
        Operation::Refund,
        &clock,
        || Jitter::NONE,
        |_| {
            let calls = calls.clone();
            async move {
                *calls.lock().unwrap() += 1;
                Err::<(), _>(request_timeout())
            }
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(*calls.lock().unwrap(), 1);
    assert!(clock.sleeps().is_empty());

    // A 429 with a long Retry-After is waited out, capped at 60 s.
    let result = retry::run(
        &RetryPolicy::new(),
        Operation::Refund,
        &clock,
        || Jitter::NONE,
        |attempt| async move {
            if attempt == 1 {
                Err(rate_limited(Some(secs(90))))
            } else {
                Ok(attempt)
            }
        },
    )
    .await;
    assert_eq!(result.unwrap(), 2);
    assert_eq!(clock.sleeps(), [secs(60)]);
}

/// The runner around real HTTP calls: a lookup answered 503 is tried three times, a refund
/// answered 503 once, a refund whose connection is refused three times. Nothing really sleeps.
#[tokio::test]
async fn the_runner_with_the_http_layer() {
    let server = MockServer::start_async().await;
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET).path("/payments/p1");
            then.status(503).body("<html>busy</html>");
        })
        .await;
    let refund = server
        .mock_async(|when, then| {
            when.method(POST).path("/payments/p1/refund");
            then.status(503);
        })
        .await;
    let clock = ManualClock::default();
    let client = HttpClient::builder(ProviderId::PAYNEXT, "refund-test/0")
        .build()
        .unwrap();
    let base = BaseUrl::parse(&format!("http://127.0.0.1:{}", server.port())).unwrap();
    let policy = RetryPolicy::new();
    let started = Instant::now();

    let send = |request: Request, op: Operation| {
        let client = client.clone();
        async move {
            let response = client.send(request).await;
            let response = match op {
                Operation::Refund => response.map_err(refund_outcome_error)?,
                _ => response?,
            };
            match default_status_error(&response, op) {
                Some(error) => Err(error),
                None => Ok(response),
            }
        }
    };

    let endpoint = base
        .endpoint(&[Segment::Lit("payments"), Segment::Param("p1")])
        .unwrap();
    let err = retry::run(&policy, Operation::Lookup, &clock, Jitter::random, |_| {
        send(Request::get(endpoint.clone()), Operation::Lookup)
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert_eq!(err.http_status(), Some(503));
    lookup.assert_calls_async(3).await;
    let slept = clock.sleeps();
    assert_eq!(slept.len(), 2);
    assert!(slept[0] >= ms(500) && slept[0] <= ms(750), "{slept:?}");
    assert!(slept[1] >= ms(1000) && slept[1] <= ms(1500), "{slept:?}");

    let endpoint = base
        .endpoint(&[
            Segment::Lit("payments"),
            Segment::Param("p1"),
            Segment::Lit("refund"),
        ])
        .unwrap();
    let err = retry::run(&policy, Operation::Refund, &clock, Jitter::random, |_| {
        send(Request::post(endpoint.clone()), Operation::Refund)
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    refund.assert_calls_async(1).await;
    assert_eq!(
        clock.sleeps().len(),
        2,
        "no sleep for a refund that may have been applied"
    );

    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let closed = BaseUrl::parse(&format!("http://127.0.0.1:{closed_port}"))
        .unwrap()
        .endpoint(&[
            Segment::Lit("payments"),
            Segment::Param("p1"),
            Segment::Lit("refund"),
        ])
        .unwrap();
    let attempts = Arc::new(Mutex::new(0));
    let err = retry::run(
        &policy,
        Operation::Refund,
        &clock,
        || Jitter::NONE,
        |_| {
            *attempts.lock().unwrap() += 1;
            send(Request::post(closed.clone()), Operation::Refund)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(!err.may_have_reached_provider());
    assert_eq!(*attempts.lock().unwrap(), 3);
    assert_eq!(clock.sleeps().len(), 4);

    // 1.5 s + 1.5 s of backoff were slept on the manual clock, none of it for real.
    assert!(clock.total_slept() >= secs(3));
    assert!(started.elapsed() < secs(3), "{:?}", started.elapsed());
}
