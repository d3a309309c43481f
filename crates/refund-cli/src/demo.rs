//! `refund demo`: the whole product in one command, on the embedded sandbox.

use std::time::Duration;

use refund_facade::refund_core::{
    Currency, Error, Money, PaymentId, ProviderId, RefundReference, RefundRequest, RefundStatus,
};
use refund_facade::{ClientOptions, ReconcilePolicy, RefundOutcome, Router};
use refund_sandbox::{Fault, FaultKind, Operation, Sandbox, payabli, paynext, plexy};
use serde_json::json;

use crate::cli::OutputFormat;
use crate::output;

struct Step {
    provider: ProviderId,
    payment: &'static str,
    amount: Option<(&'static str, Currency)>,
    what: &'static str,
    fault: Option<FaultKind>,
}

struct Row {
    step: Step,
    reference: String,
    result: Result<RefundOutcome, Error>,
    applied: usize,
}

fn steps() -> Vec<Step> {
    let usd = Currency::USD;
    vec![
        Step {
            provider: ProviderId::PLEXY,
            payment: plexy::seed::REFUNDABLE_USD,
            amount: None,
            what: "full refund",
            fault: None,
        },
        Step {
            provider: ProviderId::PLEXY,
            payment: plexy::seed::REFUNDABLE_KWD,
            amount: Some(("1.250", Currency::KWD)),
            what: "partial refund, 3-digit currency",
            fault: None,
        },
        Step {
            provider: ProviderId::PLEXY,
            payment: plexy::seed::DECLINE_51_USD,
            amount: None,
            what: "issuer declines (51)",
            fault: None,
        },
        Step {
            provider: ProviderId::PLEXY,
            payment: plexy::seed::PARTIALLY_REFUNDED_USD,
            amount: Some(("5.00", usd)),
            what: "connection lost after the refund was applied: reconciled",
            fault: Some(FaultKind::CloseAfterApplying),
        },
        Step {
            provider: ProviderId::PAYNEXT,
            payment: paynext::seed::FIXTURE_USD,
            amount: None,
            what: "full refund (PayNext starts pending)",
            fault: None,
        },
        Step {
            provider: ProviderId::PAYNEXT,
            payment: paynext::seed::SETTLED_JPY,
            amount: Some(("100", Currency::JPY)),
            what: "partial refund: unsupported, nothing sent",
            fault: None,
        },
        Step {
            provider: ProviderId::PAYABLI,
            payment: payabli::seed::SETTLED_USD,
            amount: Some(("10.50", usd)),
            what: "partial refund, amount in the path",
            fault: None,
        },
        Step {
            provider: ProviderId::PAYABLI,
            payment: payabli::seed::SETTLED_KWD,
            amount: None,
            what: "HTTP 500 after the refund was applied: reconciled",
            fault: Some(FaultKind::ServerErrorAfterApplying(500)),
        },
        Step {
            provider: ProviderId::PAYABLI,
            payment: payabli::seed::DECLINE_D0100_USD,
            amount: None,
            what: "processor declines (D0100)",
            fault: None,
        },
    ]
}

fn inject(sandbox: &Sandbox, step: &Step) -> Result<(), Error> {
    let Some(kind) = step.fault.clone() else {
        return Ok(());
    };
    let fault = Fault::new(kind)
        .for_payment(step.payment)
        .only(Operation::Refund);
    match step.provider.as_str() {
        "plexy" => sandbox.plexy().inject(fault),
        "paynext" => sandbox.paynext().inject(fault),
        _ => sandbox.payabli().inject(fault),
    }
}

fn applied(sandbox: &Sandbox, step: &Step, reference: &str) -> usize {
    match step.provider.as_str() {
        "plexy" => sandbox.plexy().applied_refunds_with_reference(reference),
        // PayNext refunds carry no reference; one refund per payment.
        "paynext" => sandbox.paynext().applied_refunds(step.payment),
        _ => sandbox.payabli().applied_refunds_with_reference(reference),
    }
}

pub(crate) async fn run(format: OutputFormat) -> u8 {
    match tour().await {
        Ok(rows) => {
            print(format, &rows);
            output::EXIT_OK
        }
        Err(e) => crate::output::print_error(format, &e, None),
    }
}

async fn tour() -> Result<Vec<Row>, Error> {
    let sandbox = Sandbox::start().await?;
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
    let router = Router::builder()
        .providers_from_vars(
            vars,
            &ClientOptions::default().with_request_timeout(Duration::from_secs(10)),
        )?
        .reconcile_policy(
            ReconcilePolicy::default().with_lookup_backoff(Duration::from_millis(100)),
        )
        .build()?;
    let mut rows = Vec::new();
    for (i, step) in steps().into_iter().enumerate() {
        let reference = format!("demo-{}-{}", i + 1, step.provider);
        inject(&sandbox, &step)?;
        let request = {
            let b = RefundRequest::builder(
                PaymentId::new(step.payment)?,
                RefundReference::new(reference.clone())?,
            );
            match step.amount {
                Some((text, currency)) => b.partial(Money::parse(text, currency)?),
                None => b,
            }
            .reason("refund-rs demo")
            .build()?
        };
        let result = router.refund(&step.provider, &request).await;
        let applied = applied(&sandbox, &step, &reference);
        rows.push(Row {
            step,
            reference,
            result,
            applied,
        });
    }
    sandbox.shutdown().await;
    Ok(rows)
}

fn cells(row: &Row) -> [String; 8] {
    let (outcome, amount, attempts, lookups) = match &row.result {
        Ok(o) => (
            if o.reconciled {
                format!("{} (reconciled)", o.refund.status)
            } else {
                o.refund.status.to_string()
            },
            match o.refund.status {
                // A decline may echo the attempted amount; nothing was refunded.
                RefundStatus::Declined => "-".into(),
                _ => o
                    .refund
                    .amount
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "-".into()),
            },
            o.attempts.to_string(),
            o.lookups.to_string(),
        ),
        Err(e) => (
            format!("error: {}", e.kind()),
            "-".into(),
            "-".into(),
            "-".into(),
        ),
    };
    let requested = match row.step.amount {
        Some((t, c)) => format!("{t} {c}"),
        None => "full".into(),
    };
    [
        row.step.provider.to_string(),
        row.step.payment.to_owned(),
        requested,
        row.step.what.to_owned(),
        outcome,
        amount,
        format!("{attempts}/{lookups}"),
        row.applied.to_string(),
    ]
}

fn print(format: OutputFormat, rows: &[Row]) {
    match format {
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let result = match &r.result {
                        Ok(o) => json!({
                            "outcome": o.refund.status.as_str(),
                            "reconciled": o.reconciled,
                            "attempts": o.attempts,
                            "lookups": o.lookups,
                            "refund": crate::output::RefundJson::from_refund(&o.refund),
                        }),
                        Err(e) => {
                            json!({"error": {"kind": e.kind().as_str(), "message": e.to_string()}})
                        }
                    };
                    json!({
                        "provider": r.step.provider.as_str(),
                        "payment_id": r.step.payment,
                        "reference": r.reference,
                        "scenario": r.step.what,
                        "result": result,
                        "applied_by_sandbox": r.applied,
                    })
                })
                .collect();
            crate::output::emit(&serde_json::Value::Array(list).to_string());
        }
        OutputFormat::Human => {
            let header = [
                "provider",
                "payment",
                "asked",
                "scenario",
                "outcome",
                "refunded",
                "sent/lookups",
                "applied",
            ];
            let table: Vec<[String; 8]> = rows.iter().map(cells).collect();
            let mut widths = header.map(str::len);
            for r in &table {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cells: Vec<String>| {
                cells
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            let mut out = vec![
                "refund-rs demo: the facade on the embedded sandbox (Plexy, PayNext, Payabli)\n"
                    .to_owned(),
                line(header.iter().map(|s| (*s).to_owned()).collect()),
                line(widths.iter().map(|w| "-".repeat(*w)).collect()),
            ];
            out.extend(table.iter().map(|r| line(r.to_vec())));
            out.push(
                "\n'applied' is the sandbox's own count of refunds applied for the row: never more than one, \
                 whatever the network did.\nPayNext's pending refund becomes succeeded later (webhook or `refund status`)."
                    .to_owned(),
            );
            crate::output::emit(&out.join("\n"));
        }
    }
}
