//! # refund-sandbox
//!
//! Stateful local emulators of the three refund APIs that
//! [refund-rs](https://github.com/refund-rs/refund-rs) speaks (Plexy, PayNext, Payabli), with
//! fault injection. Each emulator follows the wire contract to the letter (paths, auth headers,
//! bodies, status codes, error bodies), keeps payments and refunds in memory, and can be told to
//! fail the ways that cause double refunds in real life: a timeout after the refund was applied,
//! a dropped connection, a 5xx, a truncated or oversized answer.
//!
//! Use it in your own integration tests: point your client's base URL at the emulator, run the
//! refund, then ask the sandbox what really happened (refunds applied, balances, the request
//! log). Any language can drive it over HTTP through the admin endpoints under `/_sandbox/`.
//!
//! ## Quick start
//! ```
//! use refund_sandbox::{Fault, FaultKind, Operation, Sandbox};
//! use refund_sandbox::plexy::PlexyPayment;
//! use refund_core::{Currency, Money};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // All three emulators on ephemeral ports of 127.0.0.1, ready when this returns.
//!     let sandbox = Sandbox::start().await?;
//!     let plexy = sandbox.plexy();
//!     assert!(plexy.base_url().starts_with("http://127.0.0.1:"));
//!
//!     // A payment of your own next to the seeded ones.
//!     plexy.add_payment(PlexyPayment::new("order-42", Money::parse("80.00", Currency::EUR)?))?;
//!
//!     // Its next refund is applied, but the client sees the connection drop.
//!     plexy.inject(
//!         Fault::new(FaultKind::CloseAfterApplying)
//!             .for_payment("order-42")
//!             .only(Operation::Refund),
//!     )?;
//!
//!     // Your client goes here; this one is raw HTTP.
//!     let sent = reqwest::Client::new()
//!         .post(format!("{}/payments/order-42/refund", plexy.base_url()))
//!         .header("Authorization", plexy.api_key().expose_secret())
//!         .header("Content-Type", "application/json")
//!         .body(r#"{"orderReference":"rf-1","amount":30.00,"minorAmount":3000}"#)
//!         .send()
//!         .await;
//!     assert!(sent.is_err(), "the connection was closed without an answer");
//!
//!     // The truth: the refund was applied once, whatever the client saw.
//!     assert_eq!(plexy.applied_refunds_with_reference("rf-1"), 1);
//!     let payment = plexy.payment("order-42").expect("created above");
//!     assert_eq!(payment.balance, Money::parse("50.00", Currency::EUR)?);
//!
//!     sandbox.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! Start a single emulator with [`PlexySandbox::start`], [`PayNextSandbox::start`] or
//! [`PayabliSandbox::start`], or configure one with `start_with` (address, API key, seed data,
//! delays). Every emulator stops when its handle is dropped or after `shutdown().await`.
//!
//! ## Base URLs and keys
//! | provider | base URL | auth header | default key |
//! |---|---|---|---|
//! | Plexy | `http://127.0.0.1:PORT/v1` | `Authorization: <key>` | [`plexy::DEFAULT_API_KEY`] |
//! | PayNext | `http://127.0.0.1:PORT` | `Authorization: Bearer <key>` plus `X-API-Version: 1.0.0` | [`paynext::DEFAULT_API_KEY`] |
//! | Payabli | `http://127.0.0.1:PORT/api` | `requestToken: <key>` | [`payabli::DEFAULT_API_KEY`] |
//!
//! Each emulator listens on its own port. Path parameters are percent-decoded once and routed on
//! the decoded value (contract §0.2): a payment id `a/b` is sent as `a%2Fb`. An unknown path gets
//! a plain-text 404 that is deliberately *not* the provider's JSON error body, so that a client
//! calling a wrong path never mistakes it for the provider's "not found".
//!
//! The provider modules ([`plexy`], [`paynext`], [`payabli`]) document each emulator's answers and
//! seeded payments ([`plexy::seed`], [`paynext::seed`], [`payabli::seed`]).
//!
//! ## Faults
//! A [`Fault`] of a [`FaultKind`] is queued with `inject` (or `POST /_sandbox/faults`) and fires on
//! the next matching request(s): optionally only for one payment and one [`Operation`], a given
//! number of times. See the [`fault`] module for the kinds and what "before/after applying"
//! means.
//!
//! ## The truth for tests
//! Each emulator tells what really happened: [`PaymentSnapshot`] (balance, refunded amount,
//! refunds applied), [`RefundRecord`]s (per payment and per reference), and the request log of
//! [`LoggedRequest`]s (method, path, headers with secrets redacted, body, answer status, fault).
//!
//! ## Webhooks
//! Register a merchant endpoint and every emulator notifies it of each refund it creates and of
//! every later status change (PayNext `PENDING` → `SUCCEEDED`/`FAILED`, Plexy `09` → refunded),
//! with the provider's body and authentication (contract §4): a Plexy bearer token, a PayNext
//! Svix signature, a Payabli custom header. Non-2xx answers and connection errors are retried on
//! PayNext's schedule 1000 times faster (configurable), with the same delivery id every time.
//! See the [`webhook`] module for the details and defaults.
//!
//! ```no_run
//! use std::time::Duration;
//! use refund_sandbox::{PayNextSandbox, RetrySchedule, WebhookConfig};
//! use refund_sandbox::paynext::{self, PayNextConfig};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Your app's webhook receiver listens on 127.0.0.1:3000 and verifies Svix signatures
//!     // with paynext::DEFAULT_WEBHOOK_SECRET (or the secret configured here).
//!     let paynext = PayNextSandbox::start_with(
//!         PayNextConfig::default()
//!             .refund_delay(Duration::from_millis(200))
//!             .webhook(
//!                 WebhookConfig::new("http://127.0.0.1:3000/webhooks/paynext")
//!                     .retry(RetrySchedule::paynext().scaled_down(100)),
//!             ),
//!     )
//!     .await?;
//!
//!     // ... your app refunds a payment through paynext.base_url() ...
//!
//!     // `refund.created` (PENDING) is sent at once, `refund.updated` (SUCCEEDED) 200 ms later,
//!     // without any further request. Make it happen now and wait for the deliveries:
//!     paynext.resolve_pending();
//!     tokio::time::timeout(Duration::from_secs(10), paynext.webhooks_settled()).await?;
//!     for delivery in paynext.webhook_deliveries() {
//!         println!(
//!             "{} {} attempt {}: {:?} {:?}",
//!             delivery.delivery_id, delivery.event_type, delivery.attempt, delivery.status,
//!             delivery.error
//!         );
//!     }
//!     // Test your de-duplication: the same delivery again.
//!     paynext.redeliver_last_webhook()?;
//!     Ok(())
//! }
//! ```
//!
//! ## Admin endpoints
//! On every emulator's port, outside its base path, without authentication:
//!
//! | endpoint | does |
//! |---|---|
//! | `POST /_sandbox/payments` | creates a payment from the provider's admin JSON (see the provider module) → 201 with the payment |
//! | `GET /_sandbox/payments` | lists the payments |
//! | `GET /_sandbox/payments/{id}` | one payment with its `refunds` → 200, or 404 |
//! | `GET /_sandbox/refunds?payment_id=…&reference=…` | refunds, optionally filtered |
//! | `POST /_sandbox/faults` | queues a fault (`{"kind":"close_after_applying","payment_id":"…","operation":"refund","times":1}`) → 201 |
//! | `GET /_sandbox/faults`, `DELETE /_sandbox/faults` | lists or clears the queued faults |
//! | `GET /_sandbox/requests`, `DELETE /_sandbox/requests` | reads or clears the request log |
//! | `POST /_sandbox/reset` | back to the seeded payments, no refunds, faults, log or idempotency keys |
//! | `GET /_sandbox/modes`, `POST /_sandbox/modes` | reads or switches the emulator's modes: Plexy's `{"route_missing":true}` (see [`plexy`]; the others have none, `{}`) → 200 with the modes |
//! | `POST /_sandbox/resolve-pending` | makes every pending refund final now (and queues their webhooks) |
//! | `POST /_sandbox/webhooks` | registers the webhook: `{"url":"http://…","secret":"…","header":"X-Webhook-Token","retry_schedule_ms":[0,10,100],"timeout_ms":5000}` (only `url` required; `retry_divisor` instead of `retry_schedule_ms` divides PayNext's schedule; `header` is Payabli only) → 201 |
//! | `GET /_sandbox/webhooks`, `DELETE /_sandbox/webhooks` | shows (never the secret) or removes the webhook → 200 / 404, 204 |
//! | `GET /_sandbox/webhooks/events` | the webhook events with their state |
//! | `GET /_sandbox/webhooks/deliveries`, `DELETE /_sandbox/webhooks/deliveries` | reads or clears the delivery log |
//! | `POST /_sandbox/webhooks/redeliver` | sends an event again (`{"event_id":"…"}`, default the last one) → 202 `{"event_id"}` |
//! | `POST /_sandbox/webhooks/duplicate` | the next `{"times":n}` delivered events (default 1) arrive twice → 204 |
//!
//! Amounts sent to the admin endpoints are exact decimals in major units, as JSON numbers or
//! strings (`"amount":"10.50"`). Amounts in its answers are objects
//! `{"amount":"10.50","amount_minor":1050,"currency":"USD"}`. A payment answer has `id`,
//! `amount`, `status`, `settlement_status`, `service_fee`, `refunded`, `balance`,
//! `refunds_applied` (and `refunds` for a single payment); a refund has `id`, `payment_id`,
//! `reference`, `amount`, `status`, `applied`, `created_at`; a logged request has `method`,
//! `path`, `headers` (`[{name, value}]`, credentials redacted), `body`, `operation`,
//! `payment_id`, `status`, `fault`, `note`, `received_at`. A webhook event has `id`,
//! `event_type`, `payment_id`, `refund_id`, `body` (the exact JSON text sent), `created_at`,
//! `state` (`no_endpoint`, `pending`, `delivered`, `gave_up`, `cancelled`), `attempts`; a
//! delivery has `delivery_id`, `event_type`, `url`, `attempt`, `trigger` (`scheduled`,
//! `redelivery`, `duplicate`), `status`, `error`, `sent_at`; the webhook view has `url`,
//! `header`, `secret_configured`, `retry_schedule_ms`, `timeout_ms`.
//!
//! ## Protocol and scope
//! HTTP/1.1 on plain TCP (clients use `http://` base URLs; no TLS, no HTTP/2), also for webhook
//! deliveries (`http://` endpoints only). Everything is in memory and lost when the emulator
//! stops; stopping it also drops the webhook retries still queued.
//!
//! ## Not covered by semver
//! Message texts, generated id formats (delivery ids included), the default delays, the default
//! webhook retry schedule and timeout, and the seeded data may change in minor releases; the
//! seeded ids and their documented properties, and the default webhook secrets, do not.
//!
//! ## Feature flags
//! None.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use refund_core::{Currency, Error, JsonDecimal, Money, PaymentId};

/// The emulators' handle types: start, state, faults, truth.
macro_rules! emulator_handle {
    (
        $(#[$meta:meta])*
        $name:ident, $emulator:ty, $config:ty, $payment:ty, $provider:literal
    ) => {
        $(#[$meta])*
        pub struct $name {
            server: $crate::server::Server<$emulator>,
            base_url: String,
        }

        impl $name {
            #[doc = concat!("Starts the ", $provider, " emulator with the default configuration on an")]
            /// ephemeral port of 127.0.0.1. The listener is bound when this returns.
            ///
            /// # Panics
            /// Outside a Tokio runtime (the emulator runs as a task of the caller's runtime).
            ///
            /// # Errors
            /// [`Config`](refund_core::ErrorKind::Config) when the address cannot be bound.
            pub async fn start() -> Result<Self, refund_core::Error> {
                Self::start_with(<$config>::default()).await
            }

            #[doc = concat!("Starts the ", $provider, " emulator with `config`. The listener is bound")]
            /// when this returns.
            ///
            /// # Panics
            /// Outside a Tokio runtime (the emulator runs as a task of the caller's runtime).
            ///
            /// # Errors
            /// [`Config`](refund_core::ErrorKind::Config) when the address cannot be bound.
            pub async fn start_with(config: $config) -> Result<Self, refund_core::Error> {
                let addr = config.addr;
                let emulator = <$emulator>::new(config)?;
                let server = $crate::server::Server::start(emulator, addr).await?;
                let base_url = format!(
                    "http://{}{}",
                    server.addr(),
                    <$emulator as $crate::server::Provider>::BASE_PATH
                );
                Ok($name { server, base_url })
            }

            /// The base URL a client uses in place of the provider's.
            pub fn base_url(&self) -> &str {
                &self.base_url
            }

            /// The address the emulator listens on.
            pub fn addr(&self) -> std::net::SocketAddr {
                self.server.addr()
            }

            /// The admin endpoints' prefix: `http://127.0.0.1:PORT/_sandbox`.
            pub fn admin_url(&self) -> String {
                format!("http://{}/_sandbox", self.server.addr())
            }

            /// The API key the emulator accepts.
            pub fn api_key(&self) -> refund_core::Secret {
                self.server.shared.provider.api_key.clone()
            }

            /// Creates a payment.
            ///
            /// # Errors
            /// [`InvalidInput`](refund_core::ErrorKind::InvalidInput) when the id is empty, longer
            /// than 256 bytes, has control characters or surrounding white space, or exists
            /// already; when the amount is zero; or when a seeded refund or fee does not fit the
            /// payment.
            pub fn add_payment(
                &self,
                payment: $payment,
            ) -> Result<$crate::PaymentSnapshot, refund_core::Error> {
                self.server.shared.provider.add(payment)
            }

            /// One payment as the sandbox holds it, or `None`.
            pub fn payment(&self, id: &str) -> Option<$crate::PaymentSnapshot> {
                $crate::server::Provider::snapshot(&self.server.shared.provider, id)
            }

            /// Every payment, in creation order (seeded ones first).
            pub fn payments(&self) -> Vec<$crate::PaymentSnapshot> {
                $crate::server::Provider::snapshots(&self.server.shared.provider)
            }

            /// Every refund (applied or declined), in creation order.
            pub fn refunds(&self) -> Vec<$crate::RefundRecord> {
                $crate::server::Provider::refund_records(&self.server.shared.provider)
            }

            /// The refunds of one payment (applied or declined), in creation order.
            pub fn refunds_of(&self, payment_id: &str) -> Vec<$crate::RefundRecord> {
                let mut all = self.refunds();
                all.retain(|r| r.payment_id == payment_id);
                all
            }

            /// The refunds created with this reference (applied or declined).
            pub fn refunds_with_reference(&self, reference: &str) -> Vec<$crate::RefundRecord> {
                let mut all = self.refunds();
                all.retain(|r| r.reference.as_deref() == Some(reference));
                all
            }

            /// How many refunds were applied to a payment (declined ones excluded).
            pub fn applied_refunds(&self, payment_id: &str) -> usize {
                self.refunds_of(payment_id).iter().filter(|r| r.applied).count()
            }

            /// How many refunds were applied with this reference (declined ones excluded).
            pub fn applied_refunds_with_reference(&self, reference: &str) -> usize {
                self.refunds_with_reference(reference)
                    .iter()
                    .filter(|r| r.applied)
                    .count()
            }

            /// Queues a fault.
            ///
            /// # Errors
            /// [`InvalidInput`](refund_core::ErrorKind::InvalidInput) when the fault fires zero
            /// times, a status is out of its range (5xx for server errors, 4xx/5xx for HTML
            /// pages), a delay exceeds 600 s or an oversized body exceeds 64 MiB.
            pub fn inject(&self, fault: $crate::Fault) -> Result<(), refund_core::Error> {
                self.server.shared.inject(fault)
            }

            /// The queued faults with their remaining counts.
            pub fn faults(&self) -> Vec<$crate::Fault> {
                self.server.shared.faults()
            }

            /// Removes every queued fault.
            pub fn clear_faults(&self) {
                self.server.shared.clear_faults();
            }

            /// The request log (oldest first; at most the last 10 000 requests).
            pub fn requests(&self) -> Vec<$crate::LoggedRequest> {
                self.server.shared.requests()
            }

            /// Empties the request log.
            pub fn clear_requests(&self) {
                self.server.shared.clear_requests();
            }

            /// Back to the configured seed: seeded payments only, no refunds beyond the seeded
            /// ones, no faults, an empty log (and, on Payabli, no remembered idempotency keys),
            /// no webhook events or deliveries (queued retries are cancelled). The registered
            /// webhook stays.
            pub fn reset(&self) {
                self.server.shared.reset();
            }

            /// Makes every pending refund final now (PayNext `PENDING` → `SUCCEEDED`/`FAILED`,
            /// Plexy `created` → `refunded`) instead of waiting for the configured delay. Their
            /// status-change webhooks are queued before this returns.
            pub fn resolve_pending(&self) {
                $crate::server::Provider::resolve_pending(&self.server.shared.provider);
            }

            /// Registers (or replaces) the webhook endpoint that refund events are delivered to
            /// (see [`webhook`](crate::webhook)). Retries still queued for an earlier endpoint
            /// are cancelled.
            ///
            /// # Errors
            /// [`InvalidInput`](refund_core::ErrorKind::InvalidInput) when the URL is not an
            /// `http://` URL with a host, the secret does not fit the provider's scheme (PayNext:
            /// `whsec_<base64>`) or an HTTP header, a header name is given to Plexy or PayNext
            /// (or is not a usable header name on Payabli), the retry schedule has no attempt,
            /// more than 100, or a delay above 24 hours, or the timeout is zero or above 600 s.
            pub fn set_webhook(
                &self,
                config: $crate::webhook::WebhookConfig,
            ) -> Result<(), refund_core::Error> {
                $crate::server::Provider::outbox(&self.server.shared.provider).set_endpoint(config)
            }

            /// Removes the webhook endpoint: later events are recorded but not sent, and queued
            /// retries are cancelled.
            pub fn clear_webhook(&self) {
                $crate::server::Provider::outbox(&self.server.shared.provider).clear_endpoint();
            }

            /// The registered webhook endpoint, if any.
            pub fn webhook(&self) -> Option<$crate::webhook::WebhookConfig> {
                $crate::server::Provider::outbox(&self.server.shared.provider).config()
            }

            /// Every webhook event produced so far (oldest first; at most the last 10 000),
            /// with where its delivery stands.
            pub fn webhook_events(&self) -> Vec<$crate::webhook::WebhookEvent> {
                $crate::server::Provider::outbox(&self.server.shared.provider).events()
            }

            /// The log of webhook delivery attempts, in the order they ended (at most the last
            /// 10 000).
            pub fn webhook_deliveries(&self) -> Vec<$crate::webhook::WebhookDelivery> {
                $crate::server::Provider::outbox(&self.server.shared.provider).deliveries()
            }

            /// Empties the webhook delivery log.
            pub fn clear_webhook_deliveries(&self) {
                $crate::server::Provider::outbox(&self.server.shared.provider).clear_deliveries();
            }

            /// Sends the latest webhook event once more, with the same delivery id and body (one
            /// attempt, no retries), and returns its delivery id.
            ///
            /// # Errors
            /// [`InvalidInput`](refund_core::ErrorKind::InvalidInput) when no webhook is
            /// registered or no event exists yet.
            pub fn redeliver_last_webhook(&self) -> Result<String, refund_core::Error> {
                $crate::server::Provider::outbox(&self.server.shared.provider).redeliver(None)
            }

            /// Sends one webhook event once more, with the same delivery id and body (one
            /// attempt, no retries).
            ///
            /// # Errors
            /// [`InvalidInput`](refund_core::ErrorKind::InvalidInput) when no webhook is
            /// registered or no kept event has this id.
            pub fn redeliver_webhook(&self, event_id: &str) -> Result<(), refund_core::Error> {
                $crate::server::Provider::outbox(&self.server.shared.provider)
                    .redeliver(Some(event_id))
                    .map(|_| ())
            }

            /// Makes each of the next `times` delivered webhook events arrive twice: right after
            /// an attempt is answered 2xx, the same delivery (same id and body) is sent once more.
            /// Calls add up.
            pub fn duplicate_next_webhooks(&self, times: u32) {
                $crate::server::Provider::outbox(&self.server.shared.provider).duplicate_next(times);
            }

            /// Waits until no webhook delivery is queued or running: every event so far is
            /// delivered, given up, cancelled or had no endpoint. Status changes that are not due
            /// yet are not waited for (call [`resolve_pending`](Self::resolve_pending) first to
            /// make them happen now). Use it with a timeout in tests.
            pub async fn webhooks_settled(&self) {
                $crate::server::Provider::outbox(&self.server.shared.provider)
                    .settled()
                    .await;
            }

            /// Stops the emulator: closes the listener and every connection, stops webhook
            /// deliveries (queued retries are dropped), and waits until they are gone. Dropping
            /// the handle does the same without waiting.
            pub async fn shutdown(self) {
                self.server.shutdown().await;
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("base_url", &self.base_url)
                    .finish_non_exhaustive()
            }
        }
    };
}

mod delivery;
pub mod fault;
pub mod payabli;
pub mod paynext;
pub mod plexy;
mod record;
mod server;
mod util;
pub mod webhook;

pub use fault::{Fault, FaultKind};
pub use record::{LoggedRequest, Operation, PaymentSnapshot, RefundRecord};
pub use webhook::{
    DeliveryTrigger, RetrySchedule, WebhookConfig, WebhookDelivery, WebhookEvent, WebhookEventState,
};

/// The default listening address: 127.0.0.1 with an ephemeral port.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

emulator_handle!(
    /// A running Plexy emulator (contract §1). See [`plexy`] for its behaviour and seed data.
    PlexySandbox,
    plexy::PlexyEmulator,
    plexy::PlexyConfig,
    plexy::PlexyPayment,
    "Plexy"
);

emulator_handle!(
    /// A running PayNext emulator (contract §2). See [`paynext`] for its behaviour and seed data.
    PayNextSandbox,
    paynext::PayNextEmulator,
    paynext::PayNextConfig,
    paynext::PayNextPayment,
    "PayNext"
);

emulator_handle!(
    /// A running Payabli emulator (contract §3). See [`payabli`] for its behaviour and seed data.
    PayabliSandbox,
    payabli::PayabliEmulator,
    payabli::PayabliConfig,
    payabli::PayabliPayment,
    "Payabli"
);

/// All three emulators, each on its own ephemeral port.
#[derive(Debug)]
pub struct Sandbox {
    plexy: PlexySandbox,
    paynext: PayNextSandbox,
    payabli: PayabliSandbox,
}

impl Sandbox {
    /// Starts the three emulators with their default configurations.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    ///
    /// # Errors
    /// [`Config`](refund_core::ErrorKind::Config) when a listener cannot be bound.
    pub async fn start() -> Result<Sandbox, Error> {
        Sandbox::start_with(
            plexy::PlexyConfig::default(),
            paynext::PayNextConfig::default(),
            payabli::PayabliConfig::default(),
        )
        .await
    }

    /// Starts the three emulators with these configurations.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    ///
    /// # Errors
    /// [`Config`](refund_core::ErrorKind::Config) when a listener cannot be bound.
    pub async fn start_with(
        plexy: plexy::PlexyConfig,
        paynext: paynext::PayNextConfig,
        payabli: payabli::PayabliConfig,
    ) -> Result<Sandbox, Error> {
        Ok(Sandbox {
            plexy: PlexySandbox::start_with(plexy).await?,
            paynext: PayNextSandbox::start_with(paynext).await?,
            payabli: PayabliSandbox::start_with(payabli).await?,
        })
    }

    /// The Plexy emulator.
    pub fn plexy(&self) -> &PlexySandbox {
        &self.plexy
    }

    /// The PayNext emulator.
    pub fn paynext(&self) -> &PayNextSandbox {
        &self.paynext
    }

    /// The Payabli emulator.
    pub fn payabli(&self) -> &PayabliSandbox {
        &self.payabli
    }

    /// Resets the three emulators (see [`PlexySandbox::reset`]).
    pub fn reset(&self) {
        self.plexy.reset();
        self.paynext.reset();
        self.payabli.reset();
    }

    /// Stops the three emulators and waits until their listeners are closed.
    pub async fn shutdown(self) {
        self.plexy.shutdown().await;
        self.paynext.shutdown().await;
        self.payabli.shutdown().await;
    }
}

/// Checks a new payment's id and amount against the existing payments.
fn check_new_payment<P>(
    id: &str,
    amount: Money,
    existing: &HashMap<String, P>,
) -> Result<(), Error> {
    PaymentId::new(id)?;
    if amount.is_zero() {
        return Err(Error::invalid_input(
            "a payment amount must be greater than zero",
        ));
    }
    if existing.contains_key(id) {
        return Err(Error::invalid_input(format!(
            "payment {id:?} exists already"
        )));
    }
    Ok(())
}

/// An admin-endpoint amount: exact, no more fraction digits than the currency.
fn admin_money(value: JsonDecimal, currency: Currency) -> Result<Money, String> {
    Money::from_decimal(value.value(), currency).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync + 'static>() {}

    #[test]
    fn handles_and_records_can_be_shared_across_tasks() {
        shareable::<Sandbox>();
        shareable::<PlexySandbox>();
        shareable::<PayNextSandbox>();
        shareable::<PayabliSandbox>();
        shareable::<Fault>();
        shareable::<PaymentSnapshot>();
        shareable::<RefundRecord>();
        shareable::<LoggedRequest>();
        shareable::<WebhookConfig>();
        shareable::<WebhookEvent>();
        shareable::<WebhookDelivery>();
    }
}
