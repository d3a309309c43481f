//! `Router::follow` with a scripted fake provider and an injected clock: no real sleeping, no
//! network.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use refund_core::retry::{Clock, Jitter, ManualClock, RetryPolicy};
use refund_core::{
    BoxFuture, Capabilities, Error, ErrorKind, Lookup, PaymentId, ProviderId, Refund,
    RefundProvider, RefundQuery, RefundReference, RefundRequest, RefundStatus,
};
use refund_facade::{FollowEnd, FollowPolicy, Router};

#[derive(Debug, Default)]
struct Fake {
    lookups: Mutex<VecDeque<Result<Lookup, Error>>>,
    /// Answer given once the script is used up.
    then: Mutex<Option<Lookup>>,
    looked_up: Mutex<u32>,
    refunds: Mutex<u32>,
}

impl Fake {
    fn script(answers: Vec<Result<Lookup, Error>>) -> Arc<Fake> {
        Arc::new(Fake {
            lookups: Mutex::new(answers.into()),
            ..Fake::default()
        })
    }
    fn looked_up(&self) -> u32 {
        *self.looked_up.lock().unwrap()
    }
}

fn provider() -> ProviderId {
    ProviderId::new("fake").unwrap()
}

fn refund(status: RefundStatus) -> Lookup {
    Lookup::Found(Refund::new(
        provider(),
        PaymentId::new("pay_1").unwrap(),
        RefundReference::new("rf-1").unwrap(),
        status,
    ))
}

impl RefundProvider for Fake {
    fn provider(&self) -> ProviderId {
        provider()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
    fn refund<'a>(&'a self, _request: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
        *self.refunds.lock().unwrap() += 1;
        Box::pin(async { Err(Error::new(ErrorKind::Provider, "following never refunds")) })
    }
    fn find_refund<'a>(&'a self, _query: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
        *self.looked_up.lock().unwrap() += 1;
        let next = self.lookups.lock().unwrap().pop_front();
        let next = next.unwrap_or_else(|| {
            Ok(self
                .then
                .lock()
                .unwrap()
                .clone()
                .expect("unscripted lookup"))
        });
        Box::pin(async move { next })
    }
}

fn router(fake: &Arc<Fake>, clock: &ManualClock, retry: RetryPolicy) -> Router {
    Router::builder()
        .provider(fake.clone())
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(clock.clone()))
        .jitter(|| Jitter::NONE)
        .retry_policy(retry)
        .build()
        .unwrap()
}

fn query() -> RefundQuery {
    RefundQuery::new(
        PaymentId::new("pay_1").unwrap(),
        RefundReference::new("rf-1").unwrap(),
    )
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test]
async fn pending_pending_succeeded_is_followed_with_doubling_waits() {
    let fake = Fake::script(vec![
        Ok(refund(RefundStatus::Pending)),
        Ok(refund(RefundStatus::Pending)),
        Ok(refund(RefundStatus::Succeeded)),
    ]);
    let clock = ManualClock::default();
    let r = router(&fake, &clock, RetryPolicy::new());
    let start = clock.now();
    let mut changes = Vec::new();
    let followed = r
        .follow(&provider(), &query(), &FollowPolicy::default(), |c| {
            changes.push((c.from, c.to, c.at));
        })
        .await
        .unwrap();
    assert!(followed.is_final());
    assert_eq!(followed.end, FollowEnd::Final);
    assert_eq!(followed.lookups, 3);
    assert_eq!(
        followed.refund.as_ref().map(|r| r.status),
        Some(RefundStatus::Succeeded)
    );
    // The first lookup at once, then 1 s, then 2 s (no jitter).
    assert_eq!(clock.sleeps(), vec![secs(1), secs(2)]);
    assert_eq!(
        changes,
        vec![
            (None, RefundStatus::Pending, start),
            (
                Some(RefundStatus::Pending),
                RefundStatus::Succeeded,
                start + secs(3)
            ),
        ]
    );
    assert_eq!(*fake.refunds.lock().unwrap(), 0, "following never refunds");
}

#[tokio::test]
async fn a_declined_refund_after_pending_is_final() {
    let fake = Fake::script(vec![
        Ok(refund(RefundStatus::Pending)),
        Ok(refund(RefundStatus::Declined)),
    ]);
    let clock = ManualClock::default();
    let r = router(&fake, &clock, RetryPolicy::new());
    let followed = r
        .follow(&provider(), &query(), &FollowPolicy::default(), |_| {})
        .await
        .unwrap();
    assert!(followed.is_final());
    assert_eq!(
        followed.refund.map(|r| r.status),
        Some(RefundStatus::Declined)
    );
}

#[tokio::test]
async fn a_rate_limited_lookup_waits_at_least_its_retry_after() {
    let limited = || {
        Err(Error::new(ErrorKind::RateLimited, "slow down")
            .with_http_status(429)
            .with_retry_after(secs(7)))
    };
    let fake = Fake::script(vec![
        Ok(refund(RefundStatus::Pending)),
        limited(),
        Ok(refund(RefundStatus::Succeeded)),
    ]);
    let clock = ManualClock::default();
    // No lookup retries inside the router: the follow loop itself must honour Retry-After.
    let r = router(&fake, &clock, RetryPolicy::never());
    let followed = r
        .follow(&provider(), &query(), &FollowPolicy::default(), |_| {})
        .await
        .unwrap();
    assert!(followed.is_final());
    assert_eq!(followed.lookups, 3);
    // 1 s after the first lookup; after the 429, 7 s (more than the 2 s backoff).
    assert_eq!(clock.sleeps(), vec![secs(1), secs(7)]);
}

#[tokio::test]
async fn the_budget_ends_following_of_a_refund_that_stays_pending() {
    let fake = Fake::script(vec![]);
    *fake.then.lock().unwrap() = Some(refund(RefundStatus::Pending));
    let clock = ManualClock::default();
    let r = router(&fake, &clock, RetryPolicy::new());
    let policy = FollowPolicy::default()
        .with_budget(secs(60))
        .with_initial_backoff(secs(1))
        .with_max_backoff(secs(8));
    let mut changes = 0;
    let followed = r
        .follow(&provider(), &query(), &policy, |_| changes += 1)
        .await
        .unwrap();
    assert_eq!(followed.end, FollowEnd::BudgetExhausted);
    assert!(!followed.is_final());
    assert_eq!(
        followed.refund.map(|r| r.status),
        Some(RefundStatus::Pending)
    );
    // 1 + 2 + 4 + 8 × 5 = 47 s; one more 8 s wait would end after 60 s.
    assert_eq!(
        clock.sleeps(),
        [1, 2, 4, 8, 8, 8, 8, 8, 8].map(secs).to_vec()
    );
    assert!(clock.total_slept() <= secs(60));
    assert_eq!(followed.lookups, 10);
    assert_eq!(fake.looked_up(), 10);
    assert_eq!(changes, 1, "pending once, then no change");
}

#[tokio::test]
async fn absent_or_inconclusive_lookups_stay_pending_and_jitter_spreads_waits() {
    let fake = Fake::script(vec![
        Ok(Lookup::Absent),
        Ok(Lookup::Inconclusive("bare 404".into())),
        Err(Error::new(ErrorKind::Timeout, "slow")),
        Ok(refund(RefundStatus::Succeeded)),
    ]);
    let clock = ManualClock::default();
    let r = Router::builder()
        .provider(fake.clone())
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(clock.clone()))
        .jitter(|| Jitter::MAX)
        .retry_policy(RetryPolicy::never())
        .build()
        .unwrap();
    let policy = FollowPolicy::default().with_max_jitter_permille(500);
    let followed = r
        .follow(&provider(), &query(), &policy, |_| {})
        .await
        .unwrap();
    assert!(followed.is_final());
    assert_eq!(followed.lookups, 4);
    assert_eq!(
        clock.sleeps(),
        vec![
            Duration::from_millis(1500),
            Duration::from_millis(3000),
            Duration::from_millis(6000)
        ]
    );
}

#[tokio::test]
async fn a_lookup_error_that_polling_cannot_cure_is_returned() {
    let fake = Fake::script(vec![
        Ok(refund(RefundStatus::Pending)),
        Err(Error::new(ErrorKind::Auth, "wrong key").with_http_status(401)),
    ]);
    let clock = ManualClock::default();
    let r = router(&fake, &clock, RetryPolicy::new());
    let e = r
        .follow(&provider(), &query(), &FollowPolicy::default(), |_| {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(fake.looked_up(), 2);

    let e = r
        .follow(
            &ProviderId::new("other").unwrap(),
            &query(),
            &FollowPolicy::default(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}
