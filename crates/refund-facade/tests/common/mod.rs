//! What the facade's fault tests share: the faults the sandbox injects, by name.
#![allow(dead_code, reason = "each test binary uses what it needs")]

use std::time::Duration;

use refund_sandbox::FaultKind;

/// Every fault of the fault matrix, in its order (the rows of `crates/refund-facade/README.md`),
/// with "none" first as the baseline.
pub(crate) fn faults() -> Vec<(&'static str, Option<FaultKind>)> {
    vec![
        ("none", None),
        (
            "delay past the timeout",
            Some(FaultKind::Delay(Duration::from_millis(1500))),
        ),
        (
            "close before applying",
            Some(FaultKind::CloseBeforeApplying),
        ),
        ("close after applying", Some(FaultKind::CloseAfterApplying)),
        (
            "5xx before applying",
            Some(FaultKind::ServerErrorBeforeApplying(500)),
        ),
        (
            "5xx after applying",
            Some(FaultKind::ServerErrorAfterApplying(503)),
        ),
        (
            "429 + Retry-After",
            Some(FaultKind::TooManyRequests {
                retry_after: Duration::from_secs(2),
            }),
        ),
        (
            "truncated JSON after applying",
            Some(FaultKind::TruncatedJsonAfterApplying),
        ),
        ("HTML error page", Some(FaultKind::HtmlErrorPage(502))),
        (
            "oversized body",
            Some(FaultKind::OversizedBody(2 * 1024 * 1024)),
        ),
        ("unknown enum value", Some(FaultKind::UnknownEnumValue)),
    ]
}

/// The faults in `names`, in the matrix's order.
pub(crate) fn faults_named(names: &[&str]) -> Vec<(&'static str, Option<FaultKind>)> {
    faults()
        .into_iter()
        .filter(|(name, _)| names.contains(name))
        .collect()
}

/// The baseline and the faults after which the first request's outcome is unknown or that never
/// reached the provider (the reconciliation paths): the first six of the matrix.
pub(crate) const UNKNOWN_OUTCOME: [&str; 6] = [
    "none",
    "delay past the timeout",
    "close before applying",
    "close after applying",
    "5xx before applying",
    "5xx after applying",
];
