//! Fault-matrix rows for issue 16: Plexy's P-L2 lookup answers like an unknown route of its Go
//! web framework (HTTP 404 `{"message":"Not Found"}`, no `code`), as it would if the ASSUMED
//! path were wrong or retired, while the first refund POST's outcome is unknown.
//!
//! That 404 proves nothing, so for every case: the sandbox applied at most one refund for the
//! reference, the facade sent exactly one POST (no re-send after an inconclusive lookup), and the
//! outcome is `OutcomeUnknown` unless the POST itself was answered. Before issue 16 the client
//! read this body as Plexy's proof of absence and re-sent: two refunds applied after "close after
//! applying", "5xx after applying", "delay past the timeout" and the other faults that hit after
//! the refund was applied.
//!
//! The rows are printed (`cargo test -p refund-facade --test plexy_route_missing -- --nocapture`)
//! and copied into the crate README's fault matrix.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use refund_core::retry::{Jitter, ManualClock};
use refund_core::{Currency, Money, PaymentId, ProviderId, RefundReference, RefundRequest};
use refund_core::{ErrorKind, RefundStatus};
use refund_facade::{ClientOptions, ReconcilePolicy, Router};
use refund_sandbox::plexy::{PlexyConfig, PlexyPayment};
use refund_sandbox::{Fault, FaultKind, Operation, PlexySandbox};

/// The client timeout: short, so that a delayed answer times out.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(400);
/// Reconciliation lookups before the facade gives up: every one is inconclusive here.
const MAX_LOOKUPS: u32 = 3;

/// The faults of `fault_matrix.rs` after which the first POST's outcome is unknown (and, as
/// a baseline, none).
fn faults() -> Vec<(&'static str, Option<FaultKind>)> {
    let mut names = common::UNKNOWN_OUTCOME.to_vec();
    names.extend([
        "truncated JSON after applying",
        "HTML error page",
        "oversized body",
    ]);
    common::faults_named(&names)
}

fn router(sandbox: &PlexySandbox, clock: &ManualClock) -> Router {
    let vars = |name: &str| -> Option<String> {
        Some(match name {
            "PLEXY_API_KEY" => sandbox.api_key().expose_secret().to_owned(),
            "PLEXY_BASE_URL" => sandbox.base_url().to_owned(),
            _ => return None,
        })
    };
    Router::builder()
        .providers_from_vars(
            vars,
            &ClientOptions::default().with_request_timeout(CLIENT_TIMEOUT),
        )
        .unwrap()
        // Backoff between lookups goes through the manual clock: no real sleeping.
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(clock.clone()))
        .jitter(|| Jitter::NONE)
        .reconcile_policy(ReconcilePolicy::default().with_max_lookups(MAX_LOOKUPS))
        .build()
        .unwrap()
}

struct Row {
    fault: &'static str,
    partial: bool,
    reported: String,
    truth: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_missing_never_leads_to_a_second_refund() {
    let sandbox = PlexySandbox::start_with(PlexyConfig::default().route_missing())
        .await
        .unwrap();
    assert!(sandbox.is_route_missing());
    let clock = ManualClock::default();
    let router = router(&sandbox, &clock);
    let usd = |s: &str| Money::parse(s, Currency::USD).unwrap();
    let mut rows = Vec::new();
    let mut violations: Vec<String> = Vec::new();
    let mut n = 0;
    for (fault_name, fault) in faults() {
        for partial in [false, true] {
            n += 1;
            let payment = format!("rm-{n}");
            let reference = format!("rm-ref-{n}");
            sandbox
                .add_payment(PlexyPayment::new(payment.clone(), usd("100.00")))
                .unwrap();
            if let Some(kind) = fault.clone() {
                sandbox
                    .inject(
                        Fault::new(kind)
                            .for_payment(payment.clone())
                            .only(Operation::Refund),
                    )
                    .unwrap();
            }
            let builder = RefundRequest::builder(
                PaymentId::new(payment.clone()).unwrap(),
                RefundReference::new(reference.clone()).unwrap(),
            );
            let request = if partial {
                builder.partial(usd("12.34"))
            } else {
                builder
            }
            .build()
            .unwrap();
            let case = format!("route missing + {fault_name} / partial={partial}");

            let result = router.refund(&ProviderId::PLEXY, &request).await;

            // The truth: refunds applied with this reference, POSTs and lookups received.
            let applied = sandbox.applied_refunds_with_reference(&reference);
            let requests = sandbox.requests();
            let posts = requests
                .iter()
                .filter(|r| r.method == "POST" && r.payment_id.as_deref() == Some(&payment))
                .count();
            let lookups: Vec<_> = requests
                .iter()
                .filter(|r| {
                    r.method == "GET"
                        && r.path
                            .ends_with(&format!("/transactions/by-order-reference/{reference}"))
                })
                .collect();
            let applied_before_failing = matches!(
                fault_name,
                "none"
                    | "delay past the timeout"
                    | "close after applying"
                    | "5xx after applying"
                    | "truncated JSON after applying"
                    | "oversized body"
            );

            let truth = match sandbox
                .refunds_with_reference(&reference)
                .iter()
                .rev()
                .find(|r| r.applied)
            {
                Some(r) => format!("{applied} applied ({})", r.status),
                None => "nothing applied".to_owned(),
            };
            let reported = match &result {
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
                Err(e) => format!(
                    "error: {} ({posts} sent, {} lookups, each a bare 404)",
                    e.kind(),
                    lookups.len()
                ),
            };

            // Every violation is collected, so that a run on a client that reads the bare 404
            // as absence shows the whole matrix before failing.
            let mut check = |ok: bool, what: &str| {
                if !ok {
                    violations.push(format!("{case}: {what} (reported {reported}; {truth})"));
                }
            };
            check(applied <= 1, "more than one refund applied");
            check(
                applied == usize::from(applied_before_failing),
                "the sandbox applied another number of refunds than the fault did",
            );
            check(posts == 1, "a re-send followed an inconclusive lookup");
            check(
                lookups.iter().all(|l| l.status == Some(404)),
                "a lookup was not answered with the bare 404",
            );
            match &result {
                Ok(outcome) => {
                    // Only the POST's own answer can prove the refund here.
                    check(
                        fault_name == "none",
                        "reported an outcome the lookups cannot prove",
                    );
                    check(
                        outcome.refund.status == RefundStatus::Succeeded,
                        "not succeeded",
                    );
                    check(!outcome.reconciled, "reconciled");
                    check(
                        (outcome.attempts, outcome.lookups) == (1, 0),
                        "attempts/lookups",
                    );
                    check(lookups.is_empty(), "looked up an answered refund");
                    check(outcome.is_consistent(), "amount mismatch");
                }
                Err(e) => {
                    check(fault_name != "none", "an answered refund ended in an error");
                    check(e.kind() == ErrorKind::OutcomeUnknown, "not OutcomeUnknown");
                    check(e.is_outcome_unknown(), "not is_outcome_unknown");
                    check(e.provider() == Some(&ProviderId::PLEXY), "provider");
                    check(
                        e.reference().map(RefundReference::as_str) == Some(reference.as_str()),
                        "reference",
                    );
                    check(
                        e.payment_id().map(PaymentId::as_str) == Some(payment.as_str()),
                        "payment id",
                    );
                    // Every lookup the budget allows was made, and each one was the bare 404.
                    check(
                        lookups.len() == MAX_LOOKUPS as usize,
                        "not every allowed lookup was made",
                    );
                }
            }
            rows.push(Row {
                fault: fault_name,
                partial,
                reported,
                truth,
            });
        }
    }
    print_rows(&rows);
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    // Every lookup above got the route-missing answer (its exact body and content type are
    // asserted in refund-sandbox's tests and refund-plexy's sandbox test).
    let lookups = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect::<Vec<_>>();
    assert_eq!(lookups.len(), 8 * 2 * MAX_LOOKUPS as usize);
    for lookup in lookups {
        assert_eq!(lookup.status, Some(404));
        assert!(lookup.note.unwrap().contains("route missing"));
    }

    assert_eq!(rows.len(), 9 * 2);
    sandbox.shutdown().await;
}

fn print_rows(rows: &[Row]) {
    println!("| provider | fault | refund | reported by the facade | sandbox truth |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| plexy | route missing + {} | {} | {} | {} |",
            r.fault,
            if r.partial { "partial 12.34" } else { "full" },
            r.reported,
            r.truth
        );
    }
}
