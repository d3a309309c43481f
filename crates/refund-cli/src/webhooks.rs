//! `refund webhooks listen`: verify a provider's webhook deliveries and print them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use refund_facade::WebhookReceiver;
use refund_facade::refund_core::webhook::WebhookOutcome;
use refund_facade::refund_core::{Error, ProviderId};
use serde_json::json;

use crate::cli::{ListenArgs, OutputFormat, ProviderArg};
use crate::output;

#[derive(Clone)]
struct Listener {
    receiver: Arc<WebhookReceiver>,
    provider: ProviderId,
    /// The batch journal the events are applied to (`--journal`).
    journal: Option<Arc<(String, Option<String>)>>,
}

/// Applies a verified refund event to the journal: finds its row (provider, payment, then
/// reference or refund id) and records the event's status unless the row's outcome is final.
/// Returns the printed `"journal"` member: `{"row", "applied", "outcome"}`.
///
/// The journal is opened for each event (shared mode), so that it is held only for a moment.
///
/// # Errors
/// The journal cannot be opened (a batch holds it) or written: the delivery is answered 503 so
/// that the provider sends it again later.
async fn apply_to_journal(
    (journal, batch_id): &(String, Option<String>),
    event: &refund_facade::refund_core::webhook::RefundEvent,
) -> Result<serde_json::Value, String> {
    use crate::tracking::{Source, StatusUpdate, TrackingStore, match_event, now_ms};
    let store = crate::tracking::TrackingJournal::open(
        journal,
        batch_id.as_deref(),
        crate::tracking::WEBHOOK_BUSY_TIMEOUT,
    )
    .await?;
    let provider = event.provider.as_str();
    let payment = event.payment_id.as_ref().map(|p| p.as_str());
    let reference = event.reference.as_ref().map(|r| r.as_str());
    let refund_id = event.refund_id.as_ref().map(|r| r.as_str());
    let candidates = store
        .rows_for_event(provider, payment, reference, refund_id)
        .await?;
    let Some(row) = match_event(&candidates, payment, reference, refund_id) else {
        return Ok(json!({"row": null, "applied": false, "outcome": null}));
    };
    let detail = json!({
        "event_type": event.event_type,
        "delivery_id": event.delivery_id,
        "amount": event.amount.map(|m| m.decimal_text()),
        "currency": event.amount.map(|m| m.currency().code().to_owned()),
        "raw_status": event.raw_status,
        "occurred_at": event.occurred_at,
    });
    let applied = store
        .apply_status(
            row.idx,
            &StatusUpdate {
                to: event.status.as_str(),
                source: Source::Webhook,
                refund_id: refund_id.map(str::to_owned),
                detail: Some(detail.to_string()),
                at_ms: now_ms(),
            },
        )
        .await?;
    let outcome = match &applied {
        Some(t) => Some(t.to.clone()),
        None => row.outcome.clone(),
    };
    Ok(json!({
        "row": row.idx.saturating_add(1),
        "applied": applied.is_some(),
        "outcome": outcome,
    }))
}

/// The receiver for the chosen provider, with its secret from the options or the environment.
fn receiver(args: &ListenArgs) -> Result<WebhookReceiver, Error> {
    let (secret_var, header_var) = match args.provider {
        ProviderArg::Plexy if plexy_legacy_signature() => ("PLEXY_WEBHOOK_SIGNATURE_KEY", None),
        ProviderArg::Plexy => ("PLEXY_WEBHOOK_TOKEN", None),
        ProviderArg::Paynext => ("PAYNEXT_WEBHOOK_SECRET", None),
        ProviderArg::Payabli => ("PAYABLI_WEBHOOK_SECRET", Some("PAYABLI_WEBHOOK_HEADER")),
    };
    if args.header.is_some() && header_var.is_none() {
        return Err(Error::invalid_input("--header is for Payabli only"));
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let secret = args.secret.clone().or_else(|| env(secret_var));
    let header = args.header.clone().or_else(|| header_var.and_then(env));
    if secret.is_none() {
        return Err(Error::config(format!(
            "{secret_var} is not set (or pass --secret)"
        )));
    }
    if let Some(var) = header_var
        && header.is_none()
    {
        return Err(Error::config(format!(
            "{var} is not set (or pass --header)"
        )));
    }
    let vars = |name: &str| {
        if name == secret_var {
            secret.clone()
        } else if Some(name) == header_var {
            header.clone()
        } else {
            None
        }
    };
    WebhookReceiver::builder()
        .verifiers_from_vars(vars)?
        .build()
}

/// Plexy's legacy `x-signature` callbacks are verified (with `--secret` or this variable as the
/// private key) when `PLEXY_WEBHOOK_SIGNATURE_KEY` is set and `PLEXY_WEBHOOK_TOKEN` is not.
fn plexy_legacy_signature() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    set("PLEXY_WEBHOOK_SIGNATURE_KEY") && !set("PLEXY_WEBHOOK_TOKEN")
}

fn delivery_json(
    provider: &ProviderId,
    outcome: &WebhookOutcome,
    duplicate: bool,
) -> serde_json::Value {
    match outcome.event() {
        Some(e) => json!({
            "provider": provider.as_str(),
            "event_type": e.event_type,
            "delivery_id": e.delivery_id,
            "payment_id": e.payment_id.as_ref().map(ToString::to_string),
            "refund_id": e.refund_id.as_ref().map(ToString::to_string),
            "reference": e.reference.as_ref().map(ToString::to_string),
            "status": e.status.as_str(),
            "amount": e.amount.map(|m| m.decimal_text()),
            "currency": e.amount.map(|m| m.currency().code().to_owned()),
            "duplicate": duplicate,
            "ignored": false,
        }),
        None => json!({
            "provider": provider.as_str(),
            "event_type": outcome.event_type(),
            "delivery_id": outcome.delivery_id(),
            "payment_id": null,
            "refund_id": null,
            "reference": null,
            "status": null,
            "amount": null,
            "currency": null,
            "duplicate": duplicate,
            "ignored": true,
        }),
    }
}

async fn handle(
    State(listener): State<Listener>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    match listener
        .receiver
        .receive(&listener.provider, &headers, &body, Some(peer.ip()))
        .await
    {
        Ok(delivery) => {
            let mut printed =
                delivery_json(&listener.provider, &delivery.outcome, delivery.duplicate);
            if let Some(path) = &listener.journal {
                // Duplicates are applied too: an earlier attempt may have been answered 503.
                let applied = match delivery.outcome.event() {
                    Some(event) => apply_to_journal(path, event).await,
                    None => Ok(json!({"row": null, "applied": false, "outcome": null})),
                };
                match applied {
                    Ok(j) => {
                        if let Some(obj) = printed.as_object_mut() {
                            obj.insert("journal".to_owned(), j);
                        }
                    }
                    Err(e) => {
                        output::emit_err(&format!(
                            "delivery not applied to the journal, answered 503 (the provider delivers it again): {e}"
                        ));
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                }
            }
            output::emit(&printed.to_string());
            StatusCode::OK
        }
        Err(e) => {
            // The error text names no secret; it goes to stderr for the operator.
            output::emit_err(&format!("refused delivery ({}): {e}", e.kind()));
            StatusCode::from_u16(WebhookReceiver::status_for(&e)).unwrap_or(StatusCode::BAD_REQUEST)
        }
    }
}

pub(crate) async fn listen(args: ListenArgs, format: OutputFormat) -> u8 {
    if !args.addr.ip().is_loopback() {
        return output::print_error(
            format,
            &Error::config("webhooks listen binds loopback addresses only"),
            None,
        );
    }
    let receiver = match receiver(&args) {
        Ok(r) => r,
        Err(e) => return output::print_error(format, &e, None),
    };
    if let Some(path) = &args.journal
        && !crate::journal::postgres::is_url(path)
        && !std::path::Path::new(path).exists()
    {
        // Fail at start on a missing journal, not on every delivery. (One held by a running
        // batch is fine: deliveries are answered 503 until it ends.)
        return output::print_error(
            format,
            &Error::config(format!(
                "journal {path} does not exist (it is created by `refund batch`)"
            )),
            None,
        );
    }
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(l) => l,
        Err(e) => {
            return output::print_error(
                format,
                &Error::config(format!("cannot listen on {}: {e}", args.addr)),
                None,
            );
        }
    };
    let bound = listener
        .local_addr()
        .map_or_else(|_| args.addr.to_string(), |a| a.to_string());
    output::emit_err(&format!("listening on {bound}"));
    let state = Listener {
        receiver: Arc::new(receiver),
        provider: args.provider.id(),
        journal: args
            .journal
            .clone()
            .map(|j| Arc::new((j, args.batch_id.clone()))),
    };
    let app = axum::Router::new()
        .fallback(axum::routing::post(handle))
        .with_state(state);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    match served {
        Ok(()) => output::EXIT_OK,
        Err(e) => {
            output::emit_err(&format!("error: the listener failed: {e}"));
            output::EXIT_FAILURE
        }
    }
}
