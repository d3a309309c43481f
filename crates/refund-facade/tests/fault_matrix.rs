//! The fault matrix (issue 7): every provider × every fault the sandbox injects × full and
//! partial refunds where supported, through the facade. For each case: the sandbox applied at
//! most one refund for the reference, and the facade reported the sandbox's truth.
//!
//! The matrix is printed (`cargo test -p refund-facade --test fault_matrix -- --nocapture`) and
//! copied into the crate README.
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
use refund_core::{
    Currency, Money, PaymentId, ProviderId, RefundReference, RefundRequest, RefundStatus,
};
use refund_facade::{ClientOptions, ReconcilePolicy, RefundOutcome, Router};
use refund_sandbox::payabli::{PayabliConfig, PayabliPayment};
use refund_sandbox::paynext::{PayNextConfig, PayNextPayment};
use refund_sandbox::plexy::{PlexyConfig, PlexyPayment};
use refund_sandbox::{Fault, FaultKind, Operation, Sandbox};

/// The client timeout: short, so that a delayed answer times out.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(400);

struct Case {
    provider: ProviderId,
    fault: &'static str,
    partial: bool,
    reported: String,
    truth: String,
}

fn router_for(sandbox: &Sandbox, clock: &ManualClock) -> Router {
    router_with_timeout(sandbox, clock, CLIENT_TIMEOUT)
}

fn router_with_timeout(sandbox: &Sandbox, clock: &ManualClock, timeout: Duration) -> Router {
    let vars = |name: &str| -> Option<String> {
        Some(match name {
            "PLEXY_API_KEY" => sandbox.plexy().api_key().expose_secret().to_owned(),
            "PLEXY_BASE_URL" => sandbox.plexy().base_url().to_owned(),
            "PAYNEXT_API_KEY" => sandbox.paynext().api_key().expose_secret().to_owned(),
            "PAYNEXT_BASE_URL" => sandbox.paynext().base_url().to_owned(),
            "PAYABLI_API_TOKEN" => sandbox.payabli().api_key().expose_secret().to_owned(),
            "PAYABLI_BASE_URL" => sandbox.payabli().base_url().to_owned(),
            _ => return None,
        })
    };
    Router::builder()
        .providers_from_vars(
            vars,
            &ClientOptions::default().with_request_timeout(timeout),
        )
        .unwrap()
        // Waiting (backoff, Retry-After, the idempotency window) goes through the manual clock:
        // no real sleeping.
        .clock(Arc::new(clock.clone()))
        .sleeper(Arc::new(clock.clone()))
        .jitter(|| Jitter::NONE)
        .reconcile_policy(ReconcilePolicy::default().with_max_lookups(8))
        .build()
        .unwrap()
}

/// Creates a fresh payment of 100.00 USD on `provider` and returns its id.
fn fresh_payment(sandbox: &Sandbox, provider: &ProviderId, n: usize) -> String {
    let usd = |s: &str| Money::parse(s, Currency::USD).unwrap();
    let id = format!("fm-{provider}-{n}");
    match provider.as_str() {
        "plexy" => drop(
            sandbox
                .plexy()
                .add_payment(PlexyPayment::new(id.clone(), usd("100.00")))
                .unwrap(),
        ),
        "paynext" => drop(
            sandbox
                .paynext()
                .add_payment(PayNextPayment::new(id.clone(), usd("100.00")))
                .unwrap(),
        ),
        _ => drop(
            sandbox
                .payabli()
                .add_payment(PayabliPayment::new(id.clone(), usd("100.00")))
                .unwrap(),
        ),
    }
    id
}

fn inject(sandbox: &Sandbox, provider: &ProviderId, fault: Fault) {
    match provider.as_str() {
        "plexy" => sandbox.plexy().inject(fault).unwrap(),
        "paynext" => sandbox.paynext().inject(fault).unwrap(),
        _ => sandbox.payabli().inject(fault).unwrap(),
    }
}

/// The sandbox's truth for a payment: refunds applied, and the status of the last one.
fn truth(sandbox: &Sandbox, provider: &ProviderId, payment: &str) -> (usize, Option<String>) {
    let refunds = match provider.as_str() {
        "plexy" => sandbox.plexy().refunds_of(payment),
        "paynext" => sandbox.paynext().refunds_of(payment),
        _ => sandbox.payabli().refunds_of(payment),
    };
    let applied = refunds.iter().filter(|r| r.applied).count();
    (
        applied,
        refunds
            .iter()
            .rev()
            .find(|r| r.applied)
            .map(|r| r.status.to_lowercase()),
    )
}

fn reported(result: &Result<RefundOutcome, refund_core::Error>) -> String {
    match result {
        Ok(o) => {
            let how = if o.reconciled {
                "reconciled"
            } else {
                "answered"
            };
            format!(
                "{} ({how}, {} sent, {} lookups)",
                o.refund.status, o.attempts, o.lookups
            )
        }
        Err(e) => format!("error: {}", e.kind()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix() {
    let sandbox = Sandbox::start().await.unwrap();
    let clock = ManualClock::default();
    let router = router_for(&sandbox, &clock);
    let mut cases = Vec::new();
    let mut n = 0;
    for provider in [ProviderId::PLEXY, ProviderId::PAYNEXT, ProviderId::PAYABLI] {
        let modes: &[bool] = if provider == ProviderId::PAYNEXT {
            &[false]
        } else {
            &[false, true]
        };
        for (fault_name, fault) in common::faults() {
            for &partial in modes {
                n += 1;
                let payment = fresh_payment(&sandbox, &provider, n);
                if let Some(kind) = fault.clone() {
                    inject(
                        &sandbox,
                        &provider,
                        Fault::new(kind)
                            .for_payment(payment.clone())
                            .only(Operation::Refund),
                    );
                }
                let reference = format!("fm-{n}");
                let builder = RefundRequest::builder(
                    PaymentId::new(payment.clone()).unwrap(),
                    RefundReference::new(reference).unwrap(),
                );
                let request = if partial {
                    builder.partial(Money::parse("12.34", Currency::USD).unwrap())
                } else {
                    builder
                }
                .build()
                .unwrap();
                let result = router.refund(&provider, &request).await;
                let (applied, last_status) = truth(&sandbox, &provider, &payment);
                let case = Case {
                    provider: provider.clone(),
                    fault: fault_name,
                    partial,
                    reported: reported(&result),
                    truth: match &last_status {
                        Some(s) => format!("{applied} applied ({s})"),
                        None => "nothing applied".to_owned(),
                    },
                };
                // At most one refund applied, whatever happened on the wire.
                assert!(
                    applied <= 1,
                    "{}: {} applied {applied} refunds",
                    case.provider,
                    case.fault
                );
                // The outcome reported is the sandbox's truth. Every fault here is one the
                // facade can see through (lookups are never faulted), so no case may end unknown.
                match &result {
                    Ok(outcome) => {
                        assert_eq!(
                            applied, 1,
                            "{provider} / {fault_name} / partial={partial}: reported {:?} but nothing applied",
                            outcome.refund.status
                        );
                        let expected = match last_status.as_deref() {
                            Some("pending") => RefundStatus::Pending,
                            _ => RefundStatus::Succeeded,
                        };
                        assert_eq!(
                            outcome.refund.status, expected,
                            "{provider} / {fault_name} / partial={partial}"
                        );
                        assert!(
                            outcome.is_consistent(),
                            "{provider} / {fault_name}: amount mismatch {:?}",
                            outcome.mismatch
                        );
                        if partial && let Some(amount) = outcome.refund.amount {
                            assert_eq!(amount, Money::parse("12.34", Currency::USD).unwrap());
                        }
                    }
                    Err(e) => panic!(
                        "{provider} / {fault_name} / partial={partial}: {e} ({:?}), truth {applied} applied",
                        e.kind()
                    ),
                }
                cases.push(case);
            }
        }
    }
    // Second part: the answer to the refund is lost (the refund was applied) and the lookups
    // fail too. A lookup fault that happens once is seen through; a lookup that fails every time
    // leaves the truth unknowable, and only then may the facade say OutcomeUnknown.
    for provider in [ProviderId::PLEXY, ProviderId::PAYNEXT, ProviderId::PAYABLI] {
        for (fault_name, fault) in common::faults().into_iter().skip(1) {
            let Some(kind) = fault else { continue };
            // An unknown enum value in a lookup answer still says whether the refund exists;
            // every other lookup fault, when it never stops, hides the truth.
            let persistent_is_unknowable = !matches!(kind, FaultKind::UnknownEnumValue);
            for times in [1_u32, 100] {
                n += 1;
                let payment = fresh_payment(&sandbox, &provider, n);
                inject(
                    &sandbox,
                    &provider,
                    Fault::new(FaultKind::CloseAfterApplying)
                        .for_payment(payment.clone())
                        .only(Operation::Refund),
                );
                // Not scoped to the payment: Plexy looks refunds up by reference (P-L2), whose path
                // names no payment. The cases run one at a time, so the fault hits this case only.
                inject(
                    &sandbox,
                    &provider,
                    Fault::new(kind.clone())
                        .only(Operation::Lookup)
                        .times(times),
                );
                let request = RefundRequest::builder(
                    PaymentId::new(payment.clone()).unwrap(),
                    RefundReference::new(format!("fm-{n}")).unwrap(),
                )
                .build()
                .unwrap();
                let result = router.refund(&provider, &request).await;
                let (applied, last_status) = truth(&sandbox, &provider, &payment);
                assert_eq!(
                    applied, 1,
                    "{provider} / lookup {fault_name} x{times}: the refund was applied once"
                );
                match &result {
                    Ok(outcome) => assert!(
                        matches!(
                            outcome.refund.status,
                            RefundStatus::Succeeded | RefundStatus::Pending
                        ),
                        "{provider} / lookup {fault_name} x{times}: {:?}",
                        outcome.refund.status
                    ),
                    Err(e) => {
                        assert!(
                            times > 1 && persistent_is_unknowable,
                            "{provider} / lookup {fault_name} x{times}: {e}"
                        );
                        assert!(
                            e.is_outcome_unknown(),
                            "{provider} / lookup {fault_name} x{times}: {e}"
                        );
                        assert_eq!(
                            e.reference().map(RefundReference::as_str),
                            Some(format!("fm-{n}").as_str())
                        );
                        assert_eq!(
                            e.payment_id().map(PaymentId::as_str),
                            Some(payment.as_str())
                        );
                        assert_eq!(e.provider(), Some(&provider));
                    }
                }
                cases.push(Case {
                    provider: provider.clone(),
                    fault: if times == 1 {
                        "lost answer, then one failed lookup"
                    } else {
                        "lost answer, every lookup fails"
                    },
                    partial: false,
                    reported: format!("{} [lookup fault: {fault_name}]", reported(&result)),
                    truth: format!("{applied} applied ({})", last_status.unwrap_or_default()),
                });
                // Clear what is left of a persistent fault before the next case.
                match provider.as_str() {
                    "plexy" => sandbox.plexy().clear_faults(),
                    "paynext" => sandbox.paynext().clear_faults(),
                    _ => sandbox.payabli().clear_faults(),
                }
            }
        }
    }
    print_matrix(&cases);
    assert_eq!(cases.len(), 11 * 5 + 3 * 10 * 2);
    sandbox.shutdown().await;
}

/// 1,000 concurrent logical refunds through one facade against the sandbox, a tenth of them
/// with a lost answer: every one gets the right outcome and no reference is applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_refunds() {
    // PayNext refunds stay pending for the whole test: with the default 1 s delay, a refund
    // reported Pending could settle before its truth is read on a busy machine.
    let sandbox = Sandbox::start_with(
        PlexyConfig::default(),
        PayNextConfig::default().refund_delay(Duration::from_secs(3600)),
        PayabliConfig::default(),
    )
    .await
    .unwrap();
    let clock = ManualClock::default();
    // A generous timeout: 1,000 requests at once on a small machine are slow, and this test is
    // about correctness, not about timeouts (the matrix covers those).
    let router = router_with_timeout(&sandbox, &clock, Duration::from_secs(30));
    let providers = [ProviderId::PLEXY, ProviderId::PAYNEXT, ProviderId::PAYABLI];
    let mut jobs = Vec::new();
    for i in 0..1000 {
        let provider = providers[i % 3].clone();
        let payment = fresh_payment(&sandbox, &provider, 10_000 + i);
        if i % 10 == 0 {
            inject(
                &sandbox,
                &provider,
                Fault::new(FaultKind::CloseAfterApplying)
                    .for_payment(payment.clone())
                    .only(Operation::Refund),
            );
        }
        let partial = provider != ProviderId::PAYNEXT && i % 2 == 0;
        let builder = RefundRequest::builder(
            PaymentId::new(payment.clone()).unwrap(),
            RefundReference::new(format!("k-{i}")).unwrap(),
        );
        let request = if partial {
            builder.partial(Money::parse("1.01", Currency::USD).unwrap())
        } else {
            builder
        }
        .build()
        .unwrap();
        let router = router.clone();
        jobs.push(tokio::spawn(async move {
            (
                provider.clone(),
                payment,
                router.refund(&provider, &request).await,
            )
        }));
    }
    let mut reconciled = 0;
    for job in jobs {
        let (provider, payment, result) = job.await.unwrap();
        let outcome = result.unwrap_or_else(|e| panic!("{provider} {payment}: {e}"));
        let (applied, last_status) = truth(&sandbox, &provider, &payment);
        assert_eq!(applied, 1, "{provider} {payment}");
        let expected = if last_status.as_deref() == Some("pending") {
            RefundStatus::Pending
        } else {
            RefundStatus::Succeeded
        };
        assert_eq!(outcome.refund.status, expected, "{provider} {payment}");
        reconciled += usize::from(outcome.reconciled);
    }
    assert_eq!(reconciled, 100, "exactly the lost answers were reconciled");
    sandbox.shutdown().await;
}

fn print_matrix(cases: &[Case]) {
    println!("| provider | fault | refund | reported by the facade | sandbox truth |");
    println!("|---|---|---|---|---|");
    for c in cases {
        println!(
            "| {} | {} | {} | {} | {} |",
            c.provider,
            c.fault,
            if c.partial { "partial 12.34" } else { "full" },
            c.reported,
            c.truth
        );
    }
}
