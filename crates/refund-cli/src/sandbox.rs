//! `refund sandbox`: the three emulators until interrupted.

use std::net::SocketAddr;

use refund_facade::refund_core::Error;
use refund_sandbox::payabli::PayabliConfig;
use refund_sandbox::paynext::PayNextConfig;
use refund_sandbox::plexy::PlexyConfig;
use refund_sandbox::{PaymentSnapshot, Sandbox};
use serde_json::json;

use crate::cli::OutputFormat;
use crate::output;

/// Starts the emulators: on ephemeral ports, or on `addr` and the two following ports.
pub(crate) async fn start(addr: Option<SocketAddr>) -> Result<Sandbox, Error> {
    let (plexy, paynext, payabli) = match addr {
        None => (
            PlexyConfig::default(),
            PayNextConfig::default(),
            PayabliConfig::default(),
        ),
        Some(a) => {
            let next = |n: u16| {
                a.port()
                    .checked_add(n)
                    .map(|p| SocketAddr::new(a.ip(), p))
                    .ok_or_else(|| {
                        Error::config(format!("no port after {a} for the other emulators"))
                    })
            };
            if !a.ip().is_loopback() {
                return Err(Error::config(
                    "the sandbox listens on loopback addresses only",
                ));
            }
            if a.port() == 0 {
                (
                    PlexyConfig::default().addr(a),
                    PayNextConfig::default().addr(a),
                    PayabliConfig::default().addr(a),
                )
            } else {
                (
                    PlexyConfig::default().addr(a),
                    PayNextConfig::default().addr(next(1)?),
                    PayabliConfig::default().addr(next(2)?),
                )
            }
        }
    };
    Sandbox::start_with(plexy, paynext, payabli).await
}

fn payment_json(p: &PaymentSnapshot) -> serde_json::Value {
    json!({
        "id": p.id,
        "amount": p.amount.decimal_text(),
        "currency": p.amount.currency().code(),
        "status": p.status,
        "refunded": p.refunded.decimal_text(),
        "balance": p.balance.decimal_text(),
    })
}

/// What `refund sandbox` prints: per provider its base URL, key, env variables and payments.
pub(crate) fn describe(sandbox: &Sandbox) -> serde_json::Value {
    let entry =
        |base: &str, key: &str, key_var: &str, url_var: &str, payments: Vec<PaymentSnapshot>| {
            json!({
                "base_url": base,
                "api_key": key,
                "env": { key_var: key, url_var: base },
                "payments": payments.iter().map(payment_json).collect::<Vec<_>>(),
            })
        };
    json!({
        "plexy": entry(sandbox.plexy().base_url(), sandbox.plexy().api_key().expose_secret(), "PLEXY_API_KEY", "PLEXY_BASE_URL", sandbox.plexy().payments()),
        "paynext": entry(sandbox.paynext().base_url(), sandbox.paynext().api_key().expose_secret(), "PAYNEXT_API_KEY", "PAYNEXT_BASE_URL", sandbox.paynext().payments()),
        "payabli": entry(sandbox.payabli().base_url(), sandbox.payabli().api_key().expose_secret(), "PAYABLI_API_TOKEN", "PAYABLI_BASE_URL", sandbox.payabli().payments()),
    })
}

pub(crate) async fn run(addr: Option<SocketAddr>, format: OutputFormat) -> u8 {
    let sandbox = match start(addr).await {
        Ok(s) => s,
        Err(e) => return crate::output::print_error(format, &e, None),
    };
    let description = describe(&sandbox);
    match format {
        OutputFormat::Json => output::emit(&description.to_string()),
        OutputFormat::Human => output::emit(&human(&description)),
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        output::emit_err(&format!("error: cannot wait for Ctrl-C: {e}"));
        return output::EXIT_FAILURE;
    }
    sandbox.shutdown().await;
    output::EXIT_OK
}

/// The human text of `refund sandbox`: per provider its URL, the `export` lines, its payments.
fn human(description: &serde_json::Value) -> String {
    // These are the sandbox's own test keys, printed on purpose: they are not secrets.
    let mut out =
        vec!["refund sandbox: three emulators on 127.0.0.1 (Ctrl-C to stop)\n".to_owned()];
    let text = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    for name in ["plexy", "paynext", "payabli"] {
        let Some(p) = description.get(name) else {
            continue;
        };
        out.push(format!("{name}: {}", text(p, "base_url")));
        if let Some(env) = p.get("env").and_then(serde_json::Value::as_object) {
            for (k, v) in env {
                out.push(format!("  export {k}={}", v.as_str().unwrap_or_default()));
            }
        }
        out.push("  payments:".to_owned());
        for pay in p
            .get("payments")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(format!(
                "    {:<44} {:>12} {} {:<10} balance {}",
                text(pay, "id"),
                text(pay, "amount"),
                text(pay, "currency"),
                text(pay, "status"),
                text(pay, "balance"),
            ));
        }
        out.push(String::new());
    }
    out.join("\n")
}
