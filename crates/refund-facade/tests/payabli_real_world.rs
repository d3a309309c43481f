//! Payabli as the vendors' own SDKs and mock servers show it (issue 16), through the router
//! against the sandbox: v2 may ignore `idempotencyKey` (a repeat applies a second refund), a
//! refund may become visible to Y-L1 only after a delay (slow commit), answers may echo the sale,
//! and a second run with the same reference meets a 409.
//!
//! The fault matrix here (`cargo test -p refund-facade --test payabli_real_world -- --nocapture`
//! prints it; the crate README copies it) crosses the quirks with every fault whose outcome is
//! unknown, full and partial: the sandbox never applies two refunds for one reference, and the
//! router reports the truth or `OutcomeUnknown`.
//!
//! Time: the router waits on a [`ManualClock`]; its sleeper also moves the emulator's clock
//! ([`PayabliSandbox::advance_time`]), so a slow commit lands and idempotency keys expire exactly
//! when the router's virtual wait says so. Before it moves time, the sleeper waits until the
//! emulator has processed every refund POST the router started (a request cut by the client's
//! timeout may still be on its way), so no case depends on scheduling luck.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use refund_core::retry::{Jitter, ManualClock, Sleeper};
use refund_core::{
    BoxFuture, Capabilities, Currency, Error, ErrorKind, Lookup, Money, PaymentId, ProviderId,
    Refund, RefundProvider, RefundQuery, RefundReference, RefundRequest, RefundStatus, Snapshot,
};
use refund_facade::refund_payabli::Client;
use refund_facade::{ReconcilePolicy, RefundOutcome, Router};
use refund_sandbox::payabli::{PayabliPayment, PayabliQuirks};
use refund_sandbox::{Fault, FaultKind, Operation, PayabliSandbox};

/// The client timeout: short, so that a delayed answer times out.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(400);
/// The slow commit: shorter than Payabli's 2-minute window, as the router assumes.
const COMMIT_DELAY: Duration = Duration::from_secs(60);

/// The Payabli client, counting the refund POSTs it starts.
#[derive(Debug)]
struct Counting {
    inner: Client,
    started: Arc<AtomicUsize>,
}

impl RefundProvider for Counting {
    fn provider(&self) -> ProviderId {
        self.inner.provider()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.inner.refund(request)
    }
    fn find_refund<'a>(&'a self, query: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
        self.inner.find_refund(query)
    }
    fn snapshot<'a>(
        &'a self,
        payment_id: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, Error>> {
        self.inner.snapshot(payment_id)
    }
}

/// Waits on the manual clock and moves the emulator's clock by as much, once the emulator has
/// processed every refund POST started so far.
struct Linked {
    clock: ManualClock,
    sandbox: Arc<PayabliSandbox>,
    started: Arc<AtomicUsize>,
}

impl fmt::Debug for Linked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Linked").finish_non_exhaustive()
    }
}

impl Sleeper for Linked {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let (clock, sandbox, started) = (
            self.clock.clone(),
            self.sandbox.clone(),
            self.started.clone(),
        );
        Box::pin(async move {
            loop {
                let processed = sandbox
                    .requests()
                    .iter()
                    .filter(|r| r.operation == Some(Operation::Refund))
                    .count();
                if processed >= started.load(Ordering::SeqCst) {
                    break;
                }
                tokio::task::yield_now().await;
            }
            sandbox.advance_time(duration);
            clock.sleep(duration).await;
        })
    }
}

struct Setup {
    sandbox: Arc<PayabliSandbox>,
    clock: ManualClock,
    router: Router,
}

fn setup_with(sandbox: Arc<PayabliSandbox>, policy: ReconcilePolicy) -> Setup {
    let started = Arc::new(AtomicUsize::new(0));
    let clock = ManualClock::default();
    let client = Client::builder(sandbox.api_key())
        .base_url(sandbox.base_url())
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap();
    let router = Router::builder()
        .provider(Arc::new(Counting {
            inner: client,
            started: started.clone(),
        }))
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(Linked {
            clock: clock.clone(),
            sandbox: sandbox.clone(),
            started,
        }))
        .jitter(|| Jitter::NONE)
        .reconcile_policy(policy)
        .build()
        .unwrap();
    Setup {
        sandbox,
        clock,
        router,
    }
}

async fn setup(quirks: PayabliQuirks) -> Setup {
    let sandbox = PayabliSandbox::start().await.unwrap();
    sandbox.set_quirks(quirks);
    setup_with(
        Arc::new(sandbox),
        ReconcilePolicy::default().with_max_lookups(8),
    )
}

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

fn request(payment: &str, reference: &str, amount: Option<&str>) -> RefundRequest {
    let b = RefundRequest::builder(
        PaymentId::new(payment).unwrap(),
        RefundReference::new(reference).unwrap(),
    );
    match amount {
        Some(a) => b.partial(usd(a)),
        None => b,
    }
    .build()
    .unwrap()
}

fn quirk_modes() -> Vec<(&'static str, PayabliQuirks)> {
    vec![
        (
            "v2 ignores idempotencyKey",
            PayabliQuirks::default().ignoring_idempotency_key(),
        ),
        (
            "slow commit (60 s)",
            PayabliQuirks::default().with_slow_commit(COMMIT_DELAY),
        ),
        (
            "both",
            PayabliQuirks::default()
                .ignoring_idempotency_key()
                .with_slow_commit(COMMIT_DELAY),
        ),
    ]
}

fn unknown_outcome_faults() -> Vec<(&'static str, Option<FaultKind>)> {
    common::faults_named(&common::UNKNOWN_OUTCOME)
}

fn reported(result: &Result<RefundOutcome, Error>) -> String {
    match result {
        Ok(o) => format!(
            "{} ({}, {} sent, {} lookups)",
            o.refund.status,
            if o.reconciled {
                "reconciled"
            } else {
                "answered"
            },
            o.attempts,
            o.lookups
        ),
        Err(e) => format!("error: {}", e.kind()),
    }
}

/// Issue 16, item 2: zero double refunds when v2 ignores the key, when a refund shows late, and
/// both, under every fault that leaves the outcome unknown, full and partial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_world_fault_matrix_has_no_double_refunds() {
    let mut rows = Vec::new();
    let mut n = 0;
    for (mode, quirks) in quirk_modes() {
        let s = setup(quirks).await;
        for (fault_name, fault) in unknown_outcome_faults() {
            for partial in [false, true] {
                n += 1;
                let payment = format!("rw-{n}");
                s.sandbox
                    .add_payment(PayabliPayment::new(payment.clone(), usd("100.00")))
                    .unwrap();
                if let Some(kind) = fault.clone() {
                    s.sandbox
                        .inject(
                            Fault::new(kind)
                                .for_payment(payment.clone())
                                .only(Operation::Refund),
                        )
                        .unwrap();
                }
                let amount = partial.then_some("12.34");
                let reference = format!("rw-ref-{n}");
                let result = s
                    .router
                    .refund(&ProviderId::PAYABLI, &request(&payment, &reference, amount))
                    .await;
                let applied = s.sandbox.applied_refunds(&payment);
                let case = format!("{mode} / {fault_name} / partial={partial}");
                assert!(applied <= 1, "{case}: {applied} refunds applied");
                assert_eq!(
                    s.sandbox.applied_refunds_with_reference(&reference),
                    applied,
                    "{case}"
                );
                match &result {
                    Ok(outcome) => {
                        assert_eq!(applied, 1, "{case}: reported {outcome:?}");
                        assert_eq!(outcome.refund.status, RefundStatus::Succeeded, "{case}");
                        assert!(outcome.is_consistent(), "{case}: {:?}", outcome.mismatch);
                    }
                    Err(e) => assert!(e.is_outcome_unknown(), "{case}: {e}"),
                }
                rows.push(format!(
                    "| payabli ({mode}) | {fault_name} | {} | {} | {} |",
                    if partial { "partial 12.34" } else { "full" },
                    reported(&result),
                    if applied == 0 {
                        "nothing applied".to_owned()
                    } else {
                        format!("{applied} applied (1)")
                    }
                ));
            }
        }
        // Every commit has landed by the end of a case that resolved.
        s.sandbox.advance_time(COMMIT_DELAY);
        assert_eq!(s.sandbox.uncommitted_refunds(), 0);
    }
    println!("| provider | fault | refund | reported by the facade | sandbox truth |");
    println!("|---|---|---|---|---|");
    for row in &rows {
        println!("{row}");
    }
    assert_eq!(rows.len(), 3 * 6 * 2);
}

/// Issue 16, item 2, step by step: the refund was applied but shows late; "absent" right after
/// the send is not trusted; after the window the refund is found, and nothing is re-sent.
#[tokio::test]
async fn a_refund_that_shows_late_is_found_after_the_window_not_sent_twice() {
    let s = setup(
        PayabliQuirks::default()
            .ignoring_idempotency_key()
            .with_slow_commit(COMMIT_DELAY),
    )
    .await;
    s.sandbox
        .add_payment(PayabliPayment::new("late-1", usd("100.00")))
        .unwrap();
    s.sandbox
        .inject(
            Fault::new(FaultKind::CloseAfterApplying)
                .for_payment("late-1")
                .only(Operation::Refund),
        )
        .unwrap();
    let out = s
        .router
        .refund(
            &ProviderId::PAYABLI,
            &request("late-1", "late-ref-1", Some("12.34")),
        )
        .await
        .unwrap();
    assert_eq!(out.refund.status, RefundStatus::Succeeded);
    assert_eq!((out.attempts, out.lookups, out.reconciled), (1, 2, true));
    assert_eq!(s.sandbox.applied_refunds("late-1"), 1);
    assert_eq!(s.clock.sleeps(), vec![Duration::from_secs(120)]);
}

/// After a crash, `resume` without the time of the last send counts the window from its own
/// start: the refund that shows late is found, never sent again.
#[tokio::test]
async fn resume_after_a_crash_waits_for_the_window_before_trusting_absence() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    sandbox.set_quirks(
        PayabliQuirks::default()
            .ignoring_idempotency_key()
            .with_slow_commit(COMMIT_DELAY),
    );
    // A budget too small for any wait: the first run gives up at once, as a crashed one would.
    let s = setup_with(
        Arc::new(sandbox),
        ReconcilePolicy::default().with_budget(Duration::from_secs(1)),
    );
    s.sandbox
        .add_payment(PayabliPayment::new("crash-1", usd("100.00")))
        .unwrap();
    s.sandbox
        .inject(
            Fault::new(FaultKind::CloseAfterApplying)
                .for_payment("crash-1")
                .only(Operation::Refund),
        )
        .unwrap();
    let prepared = s
        .router
        .prepare(
            &ProviderId::PAYABLI,
            &request("crash-1", "crash-ref-1", Some("5.00")),
        )
        .await
        .unwrap();
    let err = s.router.execute(&prepared).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert!(err.to_string().contains("window"), "{err}");
    assert_eq!(s.sandbox.applied_refunds("crash-1"), 1);

    // The resuming process: same sandbox, a default budget.
    let r = setup_with(s.sandbox.clone(), ReconcilePolicy::default());
    let out = r.router.resume(&prepared).await.unwrap();
    assert!(out.reconciled);
    assert_eq!((out.attempts, out.lookups), (0, 2));
    assert_eq!(r.sandbox.applied_refunds("crash-1"), 1);
    assert_eq!(r.clock.sleeps(), vec![Duration::from_secs(120)]);
}

/// Issue 16, item 4: a second run with the same reference after a finished full refund meets
/// 409 and answers at once from the lookup (`RefundId` ≠ 0), without waiting and without a
/// second refund.
#[tokio::test]
async fn a_rerun_of_a_finished_full_refund_answers_at_once() {
    let s = setup(PayabliQuirks::default()).await;
    s.sandbox
        .add_payment(PayabliPayment::new("rerun-1", usd("100.00")))
        .unwrap();
    let req = request("rerun-1", "rerun-ref-1", None);
    let first = s.router.refund(&ProviderId::PAYABLI, &req).await.unwrap();
    assert_eq!(first.refund.status, RefundStatus::Succeeded);
    let again = s.router.refund(&ProviderId::PAYABLI, &req).await.unwrap();
    assert_eq!(again.refund.status, RefundStatus::Succeeded);
    assert_eq!(
        (again.attempts, again.lookups, again.reconciled),
        (1, 1, true)
    );
    assert!(s.clock.sleeps().is_empty(), "{:?}", s.clock.sleeps());
    assert_eq!(s.sandbox.applied_refunds("rerun-1"), 1);
    let conflicts = s
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.status == Some(409))
        .count();
    assert_eq!(conflicts, 1);
}

/// Issue 16, item 4: when the lookup after a 409 proves nothing yet (a partial refund's
/// `RefundId` equals the new snapshot), the wait for the window honours the budget: it ends
/// `OutcomeUnknown` at once, never silently and never with a second refund.
#[tokio::test]
async fn a_rerun_whose_lookup_is_inconclusive_ends_outcome_unknown_within_the_budget() {
    let sandbox = PayabliSandbox::start().await.unwrap();
    let s = setup_with(
        Arc::new(sandbox),
        ReconcilePolicy::default().with_budget(Duration::from_secs(2)),
    );
    s.sandbox
        .add_payment(PayabliPayment::new("rerun-2", usd("100.00")))
        .unwrap();
    let req = request("rerun-2", "rerun-ref-2", Some("10.00"));
    s.router.refund(&ProviderId::PAYABLI, &req).await.unwrap();
    let err = s
        .router
        .refund(&ProviderId::PAYABLI, &req)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(err.http_status(), Some(409));
    assert!(s.clock.sleeps().is_empty());
    assert_eq!(s.sandbox.applied_refunds("rerun-2"), 1);
}

/// Issue 16, item 4, with the default budget (the window would fit): a rerun of a finished
/// partial refund meets 409, and its own snapshot already includes the first refund, so no wait
/// and no re-send can be safe: `OutcomeUnknown` at once, one refund applied.
#[tokio::test]
async fn a_rerun_of_a_finished_partial_refund_never_refunds_twice() {
    let s = setup(PayabliQuirks::default()).await;
    s.sandbox
        .add_payment(PayabliPayment::new("rerun-3", usd("100.00")))
        .unwrap();
    let req = request("rerun-3", "rerun-ref-3", Some("10.00"));
    s.router.refund(&ProviderId::PAYABLI, &req).await.unwrap();
    let err = s
        .router
        .refund(&ProviderId::PAYABLI, &req)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert!(err.to_string().contains("earlier run"), "{err}");
    assert!(s.clock.sleeps().is_empty(), "{:?}", s.clock.sleeps());
    assert_eq!(s.sandbox.applied_refunds("rerun-3"), 1);
}

/// Issue 16, item 3: an answer that echoes the sale (A0004, `operation` Sale, `totalAmount` 105
/// with a 5.00 fee, `refundId` 0, the sale's transId) gives the requested amount, no refund id
/// from the sale, and no `AmountMismatch`.
#[tokio::test]
async fn a_sale_echo_is_not_an_amount_mismatch() {
    let s = setup(PayabliQuirks::default().echoing_the_sale()).await;
    s.sandbox
        .add_payment(PayabliPayment::new("echo-1", usd("105.00")).service_fee(usd("5.00")))
        .unwrap();
    let out = s
        .router
        .refund(
            &ProviderId::PAYABLI,
            &request("echo-1", "echo-ref-1", Some("10.50")),
        )
        .await
        .unwrap();
    assert_eq!(out.refund.status, RefundStatus::Succeeded);
    assert_eq!(out.refund.amount, Some(usd("10.50")));
    assert!(out.is_consistent(), "{:?}", out.mismatch);
    assert_ne!(
        out.refund.refund_id.as_ref().map(|r| r.as_str().to_owned()),
        Some("echo-1".to_owned())
    );

    s.sandbox
        .add_payment(PayabliPayment::new("echo-2", usd("105.00")).service_fee(usd("5.00")))
        .unwrap();
    let out = s
        .router
        .refund(&ProviderId::PAYABLI, &request("echo-2", "echo-ref-2", None))
        .await
        .unwrap();
    assert_eq!(out.refund.amount, None, "not the sale's 105.00");
    assert_eq!(out.refund.refund_id, None);
    assert!(out.is_consistent());
    assert_eq!(s.sandbox.applied_refunds("echo-2"), 1);
}
