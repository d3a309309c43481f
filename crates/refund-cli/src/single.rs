//! `refund create` and `refund status`: one refund through the facade.

use std::time::Duration;

use refund_facade::refund_core::{
    Currency, Error, ErrorKind, Lookup, Money, PaymentId, RefundQuery, RefundReference,
    RefundRequest,
};
use refund_facade::{ClientOptions, ReconcilePolicy, Router, WindowWait};

use crate::cli::{CreateArgs, OutputFormat, StatusArgs};
use crate::output::{RefundJson, emit_err, print_error, print_refund};

/// `refund create`: one logical refund. Invalid input is refused before the configuration is
/// read and before any request.
///
/// `--timeout N` bounds each request to N seconds and the whole command to about N: the
/// facade's reconciliation budget becomes N (so it never starts a wait, such as Payabli's
/// 2-minute idempotency window, that would end later), and the command stops at 2N + 1 s at the
/// latest. When the truth is not known by then, it exits 5 with `outcome_unknown`. Any wait
/// for a provider's window is announced on stderr first, never silent.
pub(crate) async fn create(
    args: CreateArgs,
    options: &ClientOptions,
    timeout: Option<Duration>,
    format: OutputFormat,
) -> u8 {
    let reference = args.reference.clone().unwrap_or_else(random_reference);
    let result = async {
        let request = create_request(&args, &reference)?;
        let router = create_router(args.provider, options, timeout)?;
        let provider = args.provider.id();
        let refund = router.refund(&provider, &request);
        match timeout {
            None => refund.await,
            Some(limit) => {
                let deadline = limit.saturating_mul(2).saturating_add(Duration::from_secs(1));
                match tokio::time::timeout(deadline, refund).await {
                    Ok(result) => result,
                    Err(_) => Err(Error::new(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "--timeout {}s elapsed before the outcome was known: the refund may have been applied",
                            limit.as_secs_f64()
                        ),
                    )
                    .with_provider(args.provider.id())
                    .with_payment_id(request.payment_id().clone())
                    .with_reference(request.reference().clone())),
                }
            }
        }
    }
    .await;
    match result {
        Ok(outcome) => print_refund(
            format,
            &RefundJson::from_refund(&outcome.refund),
            args.reference.is_none(),
        ),
        Err(e) => print_error(format, &e, Some(&reference)),
    }
}

/// The router of `create`: the provider must be configured; `--timeout` caps the
/// reconciliation budget; waits for a provider's window are announced on stderr.
fn create_router(
    provider: crate::cli::ProviderArg,
    options: &ClientOptions,
    timeout: Option<Duration>,
) -> Result<Router, Error> {
    let mut policy = ReconcilePolicy::default();
    if let Some(limit) = timeout {
        policy = policy.with_budget(limit);
    }
    let router = Router::builder()
        .providers_from_env(options)?
        .reconcile_policy(policy)
        .on_window_wait(|w| emit_err(&window_wait_notice(w)))
        .build()?;
    if router.provider(&provider.id()).is_err() {
        return Err(crate::not_configured(&provider.id()));
    }
    Ok(router)
}

/// The stderr line before a wait for a provider's window.
fn window_wait_notice(w: &WindowWait) -> String {
    format!(
        "refund: no refund seen yet for reference {} on {}, but an earlier request may still be processing; waiting up to {}s for {}'s idempotency window before looking again (--timeout bounds this wait)",
        w.reference,
        w.provider,
        w.wait.as_secs_f64().ceil(),
        w.provider
    )
}

/// `refund status`: what the provider says about a refund (a lookup; nothing is sent).
pub(crate) async fn status(args: StatusArgs, options: &ClientOptions, format: OutputFormat) -> u8 {
    let result = async {
        let payment = PaymentId::new(args.payment.clone())?;
        let reference = RefundReference::new(args.reference.clone())?;
        let router = crate::router_for(args.provider, options)?;
        let query = RefundQuery::new(payment.clone(), reference.clone());
        // Payabli may show a refund only some time after it was sent (issue 16): say so, since
        // `status` cannot know when the refund was sent.
        let settles_after = router
            .provider(&args.provider.id())
            .ok()
            .and_then(|p| p.capabilities().absence_settles_after);
        match router.status(&args.provider.id(), &query).await? {
            Lookup::Found(refund) => Ok(refund),
            Lookup::Absent => Err(Error::new(
                ErrorKind::NotFound,
                match settles_after {
                    None => format!(
                        "no refund with reference {reference} exists for payment {payment}"
                    ),
                    Some(window) => format!(
                        "no refund with reference {reference} shows for payment {payment}; {} may show a refund only up to {}s after it was sent, so look again after that before refunding anew",
                        args.provider.id(),
                        window.as_secs()
                    ),
                },
            )
            .with_provider(args.provider.id())),
            Lookup::Inconclusive(reason) => Err(Error::new(
                ErrorKind::OutcomeUnknown,
                format!(
                    "the provider's answer proves nothing either way ({reason}); try again later"
                ),
            )
            .with_provider(args.provider.id())),
            _ => Err(Error::new(
                ErrorKind::OutcomeUnknown,
                "the provider's answer is of a kind this version does not know; try again later",
            )
            .with_provider(args.provider.id())),
        }
    }
    .await;
    match result {
        Ok(refund) => print_refund(format, &RefundJson::from_refund(&refund), false),
        Err(e) => print_error(format, &e, Some(&args.reference)),
    }
}

fn create_request(args: &CreateArgs, reference: &str) -> Result<RefundRequest, Error> {
    let builder = RefundRequest::builder(
        PaymentId::new(args.payment.clone())?,
        RefundReference::new(reference)?,
    );
    let builder = match (&args.amount, &args.currency) {
        (Some(amount), Some(currency)) => {
            builder.partial(Money::parse(amount, Currency::from_code(currency)?)?)
        }
        (None, None) => builder,
        _ => return Err(Error::invalid_input("--amount and --currency go together")),
    };
    let builder = match &args.reason {
        Some(reason) => builder.reason(reason.clone()),
        None => builder,
    };
    builder.build()
}

/// A random reference for `create` without `--reference`: `rf-` and a UUID v4.
fn random_reference() -> String {
    format!("rf-{}", uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests {
    use refund_facade::refund_core::ProviderId;

    use super::*;

    #[test]
    fn a_window_wait_is_announced_with_its_length() {
        let notice = window_wait_notice(&WindowWait::new(
            ProviderId::PAYABLI,
            RefundReference::new("rf-1").unwrap_or_else(|e| panic!("{e}")),
            Duration::from_secs(120),
        ));
        assert_eq!(
            notice,
            "refund: no refund seen yet for reference rf-1 on payabli, but an earlier request may still be processing; waiting up to 120s for payabli's idempotency window before looking again (--timeout bounds this wait)"
        );
    }
}
