//! One test per reconciliation rule, with a scripted fake provider and an injected clock: no
//! real sleeping, no network.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use refund_core::retry::{Clock, Jitter, ManualClock};
use refund_core::{
    BoxFuture, Capabilities, Currency, Error, ErrorKind, Lookup, Money, PaymentId, ProviderId,
    Reach, Refund, RefundProvider, RefundQuery, RefundReference, RefundRequest, RefundStatus,
    Snapshot,
};
use refund_facade::{PreparedRefund, ReconcilePolicy, Router, WindowWait};

#[derive(Debug, Clone, PartialEq)]
enum Call {
    Refund,
    Find(Option<Snapshot>),
    Snapshot,
}

#[derive(Debug)]
struct Fake {
    caps: Capabilities,
    refunds: Mutex<VecDeque<Result<Refund, Error>>>,
    lookups: Mutex<VecDeque<Result<Lookup, Error>>>,
    calls: Mutex<Vec<Call>>,
}

impl Fake {
    fn new(caps: Capabilities) -> Arc<Fake> {
        Arc::new(Fake {
            caps,
            refunds: Mutex::default(),
            lookups: Mutex::default(),
            calls: Mutex::default(),
        })
    }
    fn on_refund(&self, r: Result<Refund, Error>) -> &Self {
        self.refunds.lock().unwrap().push_back(r);
        self
    }
    fn on_lookup(&self, r: Result<Lookup, Error>) -> &Self {
        self.lookups.lock().unwrap().push_back(r);
        self
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    fn count(&self, call: &Call) -> usize {
        self.calls()
            .iter()
            .filter(|c| std::mem::discriminant(*c) == std::mem::discriminant(call))
            .count()
    }
}

impl RefundProvider for Fake {
    fn provider(&self) -> ProviderId {
        ProviderId::new("fake").unwrap()
    }
    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }
    fn refund<'a>(&'a self, _request: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
        self.calls.lock().unwrap().push(Call::Refund);
        let next = self
            .refunds
            .lock()
            .unwrap()
            .pop_front()
            .expect("unscripted refund call");
        Box::pin(async move { next })
    }
    fn find_refund<'a>(&'a self, query: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Find(query.snapshot.clone()));
        let next = self
            .lookups
            .lock()
            .unwrap()
            .pop_front()
            .expect("unscripted lookup");
        Box::pin(async move { next })
    }
    fn snapshot<'a>(
        &'a self,
        _payment: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, Error>> {
        self.calls.lock().unwrap().push(Call::Snapshot);
        Box::pin(async { Ok(Some(Snapshot::new("refund-id=7"))) })
    }
}

fn fake_id() -> ProviderId {
    ProviderId::new("fake").unwrap()
}

fn request(amount: Option<&str>) -> RefundRequest {
    let b = RefundRequest::builder(
        PaymentId::new("pay_1").unwrap(),
        RefundReference::new("rf-1").unwrap(),
    );
    match amount {
        Some(a) => b.partial(Money::parse(a, Currency::USD).unwrap()),
        None => b,
    }
    .build()
    .unwrap()
}

fn refund(status: RefundStatus) -> Refund {
    Refund::new(
        fake_id(),
        PaymentId::new("pay_1").unwrap(),
        RefundReference::new("rf-1").unwrap(),
        status,
    )
}

fn unknown() -> Error {
    Error::new(ErrorKind::OutcomeUnknown, "500 on refund").with_http_status(500)
}

fn router(fake: &Arc<Fake>, clock: &ManualClock, policy: ReconcilePolicy) -> Router {
    Router::builder()
        .provider(fake.clone())
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(clock.clone()))
        .jitter(|| Jitter::NONE)
        .reconcile_policy(policy)
        .build()
        .unwrap()
}

fn setup(caps: Capabilities) -> (Arc<Fake>, ManualClock, Router) {
    let fake = Fake::new(caps);
    let clock = ManualClock::default();
    let r = router(&fake, &clock, ReconcilePolicy::default());
    (fake, clock, r)
}

#[tokio::test]
async fn an_answer_is_returned_as_is_without_lookups() {
    let (fake, clock, router) = setup(Capabilities::none());
    fake.on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!(out.refund.status, RefundStatus::Succeeded);
    assert_eq!((out.attempts, out.lookups, out.reconciled), (1, 0, false));
    assert_eq!(fake.calls(), vec![Call::Refund]);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_decline_is_data_not_an_error() {
    let (fake, _clock, router) = setup(Capabilities::none());
    fake.on_refund(Ok(refund(RefundStatus::Declined)));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!(out.refund.status, RefundStatus::Declined);
    assert_eq!(fake.calls(), vec![Call::Refund]);
}

#[tokio::test]
async fn unsupported_partial_refund_is_refused_before_any_io() {
    let (fake, _clock, router) = setup(Capabilities::none());
    let err = router
        .refund(&fake_id(), &request(Some("1.00")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(!err.may_have_reached_provider());
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn unknown_provider_is_a_config_error() {
    let (fake, _clock, router) = setup(Capabilities::none());
    let err = router
        .refund(&ProviderId::PLEXY, &request(None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_failure_that_never_reached_the_provider_is_resent() {
    let (fake, clock, router) = setup(Capabilities::none());
    fake.on_refund(Err(
        Error::new(ErrorKind::Transport, "connection refused").with_reach(Reach::NeverReached)
    ))
    .on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!((out.attempts, out.lookups), (2, 0));
    assert_eq!(clock.sleeps(), vec![Duration::from_millis(500)]);
}

#[tokio::test]
async fn rate_limited_refunds_wait_for_retry_after_then_resend() {
    let (fake, clock, router) = setup(Capabilities::none());
    fake.on_refund(Err(Error::new(ErrorKind::RateLimited, "429")
        .with_http_status(429)
        .with_retry_after(Duration::from_secs(7))))
        .on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!(out.attempts, 2);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn never_reached_failures_give_up_after_the_attempt_limit() {
    let (fake, _clock, router) = setup(Capabilities::none());
    for _ in 0..3 {
        fake.on_refund(Err(
            Error::new(ErrorKind::Transport, "refused").with_reach(Reach::NeverReached)
        ));
    }
    let err = router.refund(&fake_id(), &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(fake.count(&Call::Refund), 3);
    assert_eq!(
        fake.count(&Call::Find(None)),
        0,
        "a failure that never reached needs no lookup"
    );
}

#[tokio::test]
async fn a_refusal_by_the_provider_is_returned_without_lookups_or_resends() {
    let (fake, _clock, router) = setup(Capabilities::none());
    fake.on_refund(Err(
        Error::new(ErrorKind::InvalidInput, "amount > balance").with_http_status(400)
    ));
    let err = router.refund(&fake_id(), &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.reference().map(RefundReference::as_str), Some("rf-1"));
    assert_eq!(fake.calls(), vec![Call::Refund]);
}

#[tokio::test]
async fn unknown_outcome_then_found_adopts_the_refund() {
    let (fake, _clock, router) = setup(Capabilities::none());
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Found(refund(RefundStatus::Succeeded))));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!(out.refund.status, RefundStatus::Succeeded);
    assert_eq!((out.attempts, out.lookups, out.reconciled), (1, 1, true));
    assert_eq!(
        fake.count(&Call::Refund),
        1,
        "never re-sent when the refund exists"
    );
}

#[tokio::test]
async fn a_timeout_that_may_have_reached_counts_as_unknown() {
    let (fake, _clock, router) = setup(Capabilities::none());
    fake.on_refund(Err(Error::new(ErrorKind::Timeout, "60s elapsed")))
        .on_lookup(Ok(Lookup::Found(refund(RefundStatus::Pending))));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!(out.refund.status, RefundStatus::Pending);
    assert_eq!(fake.count(&Call::Refund), 1);
}

#[tokio::test]
async fn unknown_outcome_then_proven_absent_resends_with_the_same_reference() {
    let (fake, _clock, router) = setup(Capabilities::none());
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Absent))
        .on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!((out.attempts, out.lookups), (2, 1));
    assert_eq!(
        fake.calls(),
        vec![Call::Refund, Call::Find(None), Call::Refund]
    );
}

#[tokio::test]
async fn inconclusive_lookups_never_resend_and_end_outcome_unknown() {
    let fake = Fake::new(Capabilities::none());
    let clock = ManualClock::default();
    let router = router(
        &fake,
        &clock,
        ReconcilePolicy::default().with_max_lookups(4),
    );
    fake.on_refund(Err(unknown()));
    for _ in 0..4 {
        fake.on_lookup(Ok(Lookup::Inconclusive("bare 404 from a gateway".into())));
    }
    let err = router.refund(&fake_id(), &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(err.provider(), Some(&fake_id()));
    assert_eq!(err.payment_id().map(PaymentId::as_str), Some("pay_1"));
    assert_eq!(err.reference().map(RefundReference::as_str), Some("rf-1"));
    assert_eq!(
        fake.count(&Call::Refund),
        1,
        "an inconclusive answer never leads to a re-send"
    );
    assert_eq!(fake.count(&Call::Find(None)), 4);
    // Backoff between lookups: 1 s, 2 s, 4 s.
    assert_eq!(
        clock.sleeps(),
        vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4)
        ]
    );
}

#[tokio::test]
async fn failed_lookups_are_retried_then_found() {
    let (fake, clock, router) = setup(Capabilities::none());
    fake.on_refund(Err(unknown()))
        .on_lookup(Err(Error::new(ErrorKind::Timeout, "lookup timed out")))
        .on_lookup(Err(
            Error::new(ErrorKind::RateLimited, "429").with_retry_after(Duration::from_secs(9))
        ))
        .on_lookup(Ok(Lookup::Found(refund(RefundStatus::Succeeded))));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!((out.attempts, out.lookups), (1, 3));
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_secs(1), Duration::from_secs(9)]
    );
}

#[tokio::test]
async fn the_budget_bounds_reconciliation() {
    let fake = Fake::new(Capabilities::none());
    let clock = ManualClock::default();
    let policy = ReconcilePolicy::default()
        .with_budget(Duration::from_secs(5))
        .with_max_lookups(100);
    let router = router(&fake, &clock, policy);
    fake.on_refund(Err(unknown()));
    for _ in 0..100 {
        fake.on_lookup(Ok(Lookup::Inconclusive("5xx".into())));
    }
    let err = router.refund(&fake_id(), &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    // Lookups at t=0, 1, 3; the next would start at t=7 > 5 s.
    assert_eq!(fake.count(&Call::Find(None)), 3);
    assert!(clock.total_slept() <= Duration::from_secs(5));
}

#[tokio::test]
async fn resends_are_bounded() {
    let fake = Fake::new(Capabilities::none());
    let clock = ManualClock::default();
    let router = router(
        &fake,
        &clock,
        ReconcilePolicy::default().with_max_resends(1),
    );
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Absent))
        .on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Absent));
    let err = router.refund(&fake_id(), &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(fake.count(&Call::Refund), 2);
}

fn conflict() -> Error {
    Error::new(ErrorKind::OutcomeUnknown, "Duplicated idempotencyKey").with_http_status(409)
}

const WINDOW: Duration = Duration::from_secs(120);

/// Issue 16, item 4: a conflict (409) is looked up at once; a found refund is adopted without
/// waiting out the idempotency window.
#[tokio::test]
async fn a_conflict_is_looked_up_at_once_and_a_found_refund_adopted() {
    let caps = Capabilities::none().with_idempotency_window(WINDOW);
    let (fake, clock, router) = setup(caps.clone().with_absence_settling(WINDOW));
    fake.on_refund(Err(conflict()))
        .on_lookup(Ok(Lookup::Found(refund(RefundStatus::Succeeded))));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!(out.refund.status, RefundStatus::Succeeded);
    assert_eq!((out.attempts, out.lookups, out.reconciled), (1, 1, true));
    assert!(clock.sleeps().is_empty(), "no wait: {:?}", clock.sleeps());
    assert_eq!(fake.calls(), vec![Call::Refund, Call::Find(None)]);
}

/// After a conflict, "absent" allows a re-send only once the idempotency window has passed
/// since the conflict (a re-send inside it would meet another 409).
#[tokio::test]
async fn after_a_conflict_absence_allows_a_resend_only_after_the_window() {
    let caps = Capabilities::none().with_idempotency_window(WINDOW);
    let (fake, clock, router) = setup(caps);
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Absent))
        .on_refund(Err(conflict()))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!(out.refund.status, RefundStatus::Succeeded);
    assert_eq!((out.attempts, out.lookups), (3, 3));
    assert_eq!(clock.sleeps(), vec![WINDOW]);
}

/// Issue 16, item 2: for a provider whose absence proof settles late (Payabli v2 may ignore the
/// idempotency key, and a refund may become visible late), "absent" right after a send proves
/// nothing: wait until the window has passed since the send, look again, and re-send only when
/// a second lookup after the window agrees.
#[tokio::test]
async fn late_settling_absence_needs_the_window_and_a_second_lookup() {
    let caps = Capabilities::none()
        .with_idempotency_window(WINDOW)
        .with_absence_settling(WINDOW);
    let fake = Fake::new(caps);
    let clock = ManualClock::default();
    let waits = Arc::new(Mutex::new(Vec::new()));
    let seen = waits.clone();
    let router = Router::builder()
        .provider(fake.clone())
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(clock.clone()))
        .jitter(|| Jitter::NONE)
        .on_window_wait(move |w: &WindowWait| seen.lock().unwrap().push(w.clone()))
        .build()
        .unwrap();
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!((out.attempts, out.lookups), (2, 3));
    assert_eq!(
        fake.calls(),
        vec![
            Call::Refund,
            Call::Find(None),
            Call::Find(None),
            Call::Find(None),
            Call::Refund
        ]
    );
    // The window, then the lookup backoff before the confirming lookup.
    assert_eq!(clock.sleeps(), vec![WINDOW, Duration::from_secs(2)]);
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0].wait, WINDOW);
    assert_eq!(waits[0].provider, fake_id());
    assert_eq!(waits[0].reference.as_str(), "rf-1");
}

#[tokio::test]
async fn late_settling_absence_then_found_never_resends() {
    let caps = Capabilities::none().with_absence_settling(WINDOW);
    let (fake, clock, router) = setup(caps);
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Found(refund(RefundStatus::Succeeded))));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!((out.attempts, out.lookups, out.reconciled), (1, 2, true));
    assert_eq!(fake.count(&Call::Refund), 1);
    assert_eq!(clock.sleeps(), vec![WINDOW]);
}

/// An inconclusive answer between two "absent" ones breaks the agreement: two consecutive
/// absent answers after the window are needed.
#[tokio::test]
async fn late_settling_absence_must_be_seen_twice_in_a_row() {
    let caps = Capabilities::none().with_absence_settling(WINDOW);
    let (fake, _clock, router) = setup(caps);
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Inconclusive("5xx".into())))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!((out.attempts, out.lookups), (2, 5));
}

/// Issue 16, item 4: a wait that does not fit the budget ends OutcomeUnknown at once, saying
/// why, and never re-sends.
#[tokio::test]
async fn a_window_beyond_the_budget_ends_outcome_unknown_without_a_resend() {
    let caps = Capabilities::none()
        .with_idempotency_window(WINDOW)
        .with_absence_settling(WINDOW);
    let fake = Fake::new(caps);
    let clock = ManualClock::default();
    let router = router(
        &fake,
        &clock,
        ReconcilePolicy::default().with_budget(Duration::from_secs(2)),
    );
    fake.on_refund(Err(conflict()))
        .on_lookup(Ok(Lookup::Absent));
    let err = router.refund(&fake_id(), &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(err.http_status(), Some(409));
    assert!(err.to_string().contains("window"), "{err}");
    assert_eq!(err.reference().map(RefundReference::as_str), Some("rf-1"));
    assert_eq!(fake.calls(), vec![Call::Refund, Call::Find(None)]);
    assert!(clock.sleeps().is_empty());
}

/// After a crash, the window counts from the journaled send time plus the longest a call can
/// last (here the router's 90 s attempt timeout), or from the start of `resume` when unknown.
#[tokio::test]
async fn resume_counts_the_window_from_the_last_send() {
    let caps = Capabilities::none().with_absence_settling(WINDOW);
    let (fake, clock, router) = setup(caps);
    let sent = clock.now() - Duration::from_secs(200);
    let prepared = PreparedRefund::new(fake_id(), request(None), None).with_last_sent_at(sent);
    fake.on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.resume(&prepared).await.unwrap();
    assert_eq!((out.attempts, out.lookups), (1, 3));
    // 200 s ago + 90 s + 120 s = 10 s from now; then the backoff before the confirmation.
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_secs(10), Duration::from_secs(2)]
    );

    // Sent 10 s ago: the call could have lasted until now, so the whole window is ahead.
    let (fake, clock, router) = setup(Capabilities::none().with_absence_settling(WINDOW));
    let recent = PreparedRefund::new(fake_id(), request(None), None)
        .with_last_sent_at(clock.now() - Duration::from_secs(10));
    fake.on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Found(refund(RefundStatus::Succeeded))));
    router.resume(&recent).await.unwrap();
    assert_eq!(clock.sleeps(), vec![WINDOW]);

    let (fake, clock, router) = setup(Capabilities::none().with_absence_settling(WINDOW));
    let unknown_time = PreparedRefund::new(fake_id(), request(None), None);
    fake.on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_lookup(Ok(Lookup::Absent))
        .on_refund(Ok(refund(RefundStatus::Succeeded)));
    router.resume(&unknown_time).await.unwrap();
    assert_eq!(clock.sleeps(), vec![WINDOW, Duration::from_secs(2)]);
}

#[tokio::test]
async fn partial_refunds_take_a_snapshot_first_and_look_up_with_it() {
    let caps = Capabilities::none()
        .with_multiple_partial_refunds()
        .with_snapshot_for_partial();
    let (fake, _clock, router) = setup(caps);
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Found(refund(RefundStatus::Succeeded))));
    router
        .refund(&fake_id(), &request(Some("2.50")))
        .await
        .unwrap();
    let snap = Some(Snapshot::new("refund-id=7"));
    assert_eq!(
        fake.calls(),
        vec![Call::Snapshot, Call::Refund, Call::Find(snap)]
    );
}

#[tokio::test]
async fn full_refunds_need_no_snapshot() {
    let caps = Capabilities::none()
        .with_multiple_partial_refunds()
        .with_snapshot_for_partial();
    let (fake, _clock, router) = setup(caps);
    fake.on_refund(Ok(refund(RefundStatus::Succeeded)));
    router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!(fake.calls(), vec![Call::Refund]);
}

#[tokio::test]
async fn a_different_reported_amount_is_flagged() {
    let caps = Capabilities::none().with_partial_refunds();
    let (fake, _clock, router) = setup(caps);
    let reported = Money::parse("2.00", Currency::USD).unwrap();
    fake.on_refund(Ok(refund(RefundStatus::Succeeded).with_amount(reported)));
    let out = router
        .refund(&fake_id(), &request(Some("2.50")))
        .await
        .unwrap();
    let m = out.mismatch.expect("mismatch must be flagged");
    assert_eq!(m.requested, Money::parse("2.50", Currency::USD).unwrap());
    assert_eq!(m.reported, reported);
    assert!(!out.is_consistent());

    fake.on_refund(Ok(
        refund(RefundStatus::Succeeded).with_amount(Money::parse("2.50", Currency::USD).unwrap())
    ));
    let out = router
        .refund(&fake_id(), &request(Some("2.50")))
        .await
        .unwrap();
    assert!(out.is_consistent());
    // A different currency is a mismatch too.
    fake.on_refund(Ok(
        refund(RefundStatus::Succeeded).with_amount(Money::parse("250", Currency::JPY).unwrap())
    ));
    let out = router
        .refund(&fake_id(), &request(Some("2.50")))
        .await
        .unwrap();
    assert!(out.mismatch.is_some());
}

#[tokio::test]
async fn resume_looks_up_before_sending() {
    let (fake, _clock, router) = setup(Capabilities::none());
    fake.on_lookup(Ok(Lookup::Found(refund(RefundStatus::Succeeded))));
    let prepared = PreparedRefund::new(fake_id(), request(None), None);
    let out = router.resume(&prepared).await.unwrap();
    assert!(out.reconciled);
    assert_eq!(fake.calls(), vec![Call::Find(None)]);

    fake.on_lookup(Ok(Lookup::Absent))
        .on_refund(Ok(refund(RefundStatus::Succeeded)));
    let out = router.resume(&prepared).await.unwrap();
    assert_eq!((out.attempts, out.lookups), (1, 1));
}

#[tokio::test]
async fn status_reports_the_lookup_and_retries_failures() {
    let (fake, clock, router) = setup(Capabilities::none());
    fake.on_lookup(Err(Error::new(ErrorKind::Transport, "reset")))
        .on_lookup(Ok(Lookup::Absent));
    let got = router
        .status_of(
            &fake_id(),
            &PaymentId::new("pay_1").unwrap(),
            &RefundReference::new("rf-1").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(got, Lookup::Absent);
    assert_eq!(clock.sleeps(), vec![Duration::from_millis(500)]);
    assert!(fake.count(&Call::Refund) == 0);
}

#[tokio::test]
async fn the_same_reference_cannot_run_twice_at_once() {
    #[derive(Debug)]
    struct Slow(tokio::sync::Notify, tokio::sync::Notify);
    impl RefundProvider for Slow {
        fn provider(&self) -> ProviderId {
            fake_id()
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::none()
        }
        fn refund<'a>(&'a self, _r: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
            Box::pin(async move {
                self.0.notify_one();
                self.1.notified().await;
                Ok(refund(RefundStatus::Succeeded))
            })
        }
        fn find_refund<'a>(&'a self, _q: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
            Box::pin(async { Ok(Lookup::Absent) })
        }
    }
    let slow = Arc::new(Slow(tokio::sync::Notify::new(), tokio::sync::Notify::new()));
    let router = Router::builder().provider(slow.clone()).build().unwrap();
    let first = {
        let router = router.clone();
        tokio::spawn(async move { router.refund(&fake_id(), &request(None)).await })
    };
    slow.0.notified().await; // the first refund is in flight
    let err = router.refund(&fake_id(), &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    slow.1.notify_one();
    assert_eq!(
        first.await.unwrap().unwrap().refund.status,
        RefundStatus::Succeeded
    );
    // Once finished, the reference is free again (the caller decides whether to reuse it).
    assert!(router.provider(&fake_id()).is_ok());
}

#[test]
fn router_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Router>();
}

/// A provider whose refund calls never answer, and whose lookups find the refund applied.
#[derive(Debug)]
struct Hangs(Capabilities);

impl RefundProvider for Hangs {
    fn provider(&self) -> ProviderId {
        fake_id()
    }
    fn capabilities(&self) -> Capabilities {
        self.0.clone()
    }
    fn refund<'a>(&'a self, _r: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
        Box::pin(std::future::pending())
    }
    fn find_refund<'a>(&'a self, _q: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
        Box::pin(async { Ok(Lookup::Found(refund(RefundStatus::Succeeded))) })
    }
}

fn hanging_router(caps: Capabilities) -> Router {
    let clock = ManualClock::default();
    Router::builder()
        .provider(Arc::new(Hangs(caps)))
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(clock))
        .jitter(|| Jitter::NONE)
        .reconcile_policy(ReconcilePolicy::default().with_attempt_timeout(Duration::from_secs(90)))
        .build()
        .unwrap()
}

/// Tokio's paused clock jumps straight to the next timer, so these tests take no real time.
#[tokio::test(start_paused = true)]
async fn a_call_without_a_bound_of_its_own_is_cut_at_the_attempt_timeout() {
    let started = tokio::time::Instant::now();
    let out = hanging_router(Capabilities::none())
        .refund(&fake_id(), &request(None))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(90));
    assert_eq!(out.refund.status, RefundStatus::Succeeded);
    assert_eq!((out.attempts, out.lookups, out.reconciled), (1, 1, true));
}

#[tokio::test(start_paused = true)]
async fn a_bound_longer_than_the_attempt_timeout_still_gets_the_routers_timer() {
    let caps = Capabilities::none().with_call_timeout(Duration::from_secs(120));
    let started = tokio::time::Instant::now();
    let out = hanging_router(caps)
        .refund(&fake_id(), &request(None))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(90));
    assert!(out.reconciled);
}

/// A provider that promises to end its calls within the attempt timeout is trusted to: the
/// router adds no second timer (ours bound every call with their HTTP timeout). This one
/// breaks its promise, so the refund is still waiting long after the attempt timeout.
#[tokio::test(start_paused = true)]
async fn a_provider_that_bounds_its_calls_gets_no_second_timer() {
    let caps = Capabilities::none().with_call_timeout(Duration::from_secs(60));
    let router = hanging_router(caps);
    let waited = tokio::time::timeout(
        Duration::from_secs(3600),
        router.refund(&fake_id(), &request(None)),
    )
    .await;
    assert!(waited.is_err(), "the router timed the call out itself");
}

/// A send that used the whole budget still gets one lookup right away (read-only, bounded),
/// which may find the refund; no wait starts past the budget.
#[tokio::test]
async fn a_slow_send_that_spent_the_budget_still_gets_one_lookup() {
    #[derive(Debug)]
    struct SlowSend(Arc<Fake>, ManualClock);
    impl RefundProvider for SlowSend {
        fn provider(&self) -> ProviderId {
            fake_id()
        }
        fn capabilities(&self) -> Capabilities {
            self.0.capabilities()
        }
        fn refund<'a>(&'a self, r: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
            self.1.advance(Duration::from_secs(10));
            self.0.refund(r)
        }
        fn find_refund<'a>(&'a self, q: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
            self.0.find_refund(q)
        }
    }
    let fake = Fake::new(Capabilities::none());
    let clock = ManualClock::default();
    let router = Router::builder()
        .provider(Arc::new(SlowSend(fake.clone(), clock.clone())))
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(clock.clone()))
        .jitter(|| Jitter::NONE)
        .reconcile_policy(ReconcilePolicy::default().with_budget(Duration::from_secs(5)))
        .build()
        .unwrap();
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Found(refund(RefundStatus::Succeeded))));
    let out = router.refund(&fake_id(), &request(None)).await.unwrap();
    assert_eq!((out.attempts, out.lookups, out.reconciled), (1, 1, true));

    // An inconclusive first lookup: the next one would start past the budget.
    fake.on_refund(Err(unknown()))
        .on_lookup(Ok(Lookup::Inconclusive("5xx".into())));
    let err = router.refund(&fake_id(), &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(fake.count(&Call::Refund), 2);
    assert_eq!(fake.count(&Call::Find(None)), 2);
    assert!(clock.sleeps().is_empty());
}

/// A conflict on the first request of a run means an earlier run used the reference; the
/// snapshot this run took already includes that refund, so "absent" (unchanged since the
/// snapshot) proves nothing: give up at once, never wait and re-send (which would refund twice
/// once the provider forgot the key).
#[tokio::test]
async fn a_conflict_on_a_runs_first_request_never_trusts_its_own_snapshot() {
    let caps = Capabilities::none()
        .with_multiple_partial_refunds()
        .with_snapshot_for_partial()
        .with_idempotency_window(WINDOW)
        .with_absence_settling(WINDOW);
    let (fake, clock, router) = setup(caps);
    fake.on_refund(Err(conflict()))
        .on_lookup(Ok(Lookup::Absent));
    let err = router
        .refund(&fake_id(), &request(Some("2.50")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert!(err.to_string().contains("earlier run"), "{err}");
    let snap = Some(Snapshot::new("refund-id=7"));
    assert_eq!(
        fake.calls(),
        vec![Call::Snapshot, Call::Refund, Call::Find(snap)]
    );
    assert!(clock.sleeps().is_empty());
}
