//! Webhook delivery: each emulator notifies a merchant endpoint of every refund it creates and
//! of every later status change, the way the real provider would (contract §4).
//!
//! Register an endpoint with a [`WebhookConfig`], either when starting the emulator
//! ([`PlexyConfig::webhook`](crate::plexy::PlexyConfig::webhook) and its PayNext and Payabli
//! twins), at any time with `set_webhook` on the handle, or over HTTP with
//! `POST /_sandbox/webhooks`. Every refund POST that creates a refund (approved, declined or
//! pending) then produces one event, and a pending refund produces a second one when it becomes
//! final (after the configured delay, or at once after `resolve_pending`), without any client
//! request triggering it.
//!
//! | provider | events | authentication (§4) | default secret |
//! |---|---|---|---|
//! | Plexy | `transaction.created` / `.refunded` / `.rejected` | `Authorization: Bearer <token>` | [`plexy::DEFAULT_WEBHOOK_TOKEN`](crate::plexy::DEFAULT_WEBHOOK_TOKEN) |
//! | PayNext | `refund.created`, `refund.updated` | Svix: `svix-id`, `svix-timestamp`, `svix-signature: v1,<base64 HMAC-SHA256>` | [`paynext::DEFAULT_WEBHOOK_SECRET`](crate::paynext::DEFAULT_WEBHOOK_SECRET) |
//! | Payabli | `RefundedPayment` | a merchant-chosen header, [`payabli::DEFAULT_WEBHOOK_HEADER`](crate::payabli::DEFAULT_WEBHOOK_HEADER) by default | [`payabli::DEFAULT_WEBHOOK_SECRET`](crate::payabli::DEFAULT_WEBHOOK_SECRET) |
//!
//! The provider modules ([`plexy`](crate::plexy), [`paynext`](crate::paynext),
//! [`payabli`](crate::payabli)) show the exact bodies.
//!
//! ## Delivery
//! A delivery is a `POST` of the event's JSON body (`Content-Type: application/json`, plus the
//! provider's authentication headers) over plain HTTP/1.1. An answer of 200–299 delivers the
//! event; any other status, a connection error or no answer within the
//! [timeout](WebhookConfig::timeout) is retried on the [`RetrySchedule`]: by default PayNext's
//! schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) divided by
//! [`DEFAULT_RETRY_DIVISOR`], so immediately, 5 ms, 300 ms, 1.8 s, 7.2 s, 18 s, 36 s, 36 s. After
//! the last attempt the sandbox gives up ([`WebhookEventState::GaveUp`]).
//!
//! Every attempt of an event carries the same body bytes and the same delivery id: the
//! `svix-id` header on PayNext (re-signed with a fresh `svix-timestamp` per attempt, as Svix
//! does). Plexy and Payabli send no delivery id; their receivers derive one from the body
//! (§4.1, §4.3), which is byte-identical on every attempt.
//!
//! Deliveries of different events are independent and may overlap, as with the real providers:
//! an event whose retries are pending does not hold back the next one.
//!
//! ## Testing de-duplication
//! [`redeliver_last_webhook`](crate::PayNextSandbox::redeliver_last_webhook) (or
//! `POST /_sandbox/webhooks/redeliver`) sends an event again once, with the same delivery id and
//! body; [`duplicate_next_webhooks`](crate::PayNextSandbox::duplicate_next_webhooks) (or
//! `POST /_sandbox/webhooks/duplicate`) makes the next delivered events arrive twice in a row.
//!
//! ## The truth for tests
//! `webhook_events()` lists the events with their [`WebhookEventState`]; `webhook_deliveries()`
//! logs every attempt ([`WebhookDelivery`]: delivery id, event type, URL, attempt number, what
//! triggered it, the status answered or the error). `webhooks_settled().await` waits until no
//! delivery is queued or running, so a test can wait for retries and give-ups without sleeping.
//!
//! Changing or removing the registered webhook, and `reset`, cancel the retries still queued;
//! `reset` also empties the event list and the delivery log, but keeps the registered webhook.

use std::time::{Duration, SystemTime};

use refund_core::{Error, Secret};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::util::rfc3339_millis;

/// PayNext's (Svix's) retry schedule at real speed (§4.2): the delay before each attempt,
/// counted from the previous attempt's failure.
pub const PAYNEXT_RETRY_DELAYS: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// By how much the default schedule is faster than PayNext's: 1000 (5 s become 5 ms).
pub const DEFAULT_RETRY_DIVISOR: u32 = 1000;

/// How long one attempt waits for an answer unless configured: 5 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most attempts a schedule may have.
pub const MAX_ATTEMPTS: usize = 100;

/// The longest delay a schedule may have between two attempts: 24 hours.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(24 * 3600);

/// The longest [`WebhookConfig::timeout`]: 600 s.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// When the attempts of one event are made: the delay before each attempt, counted from the end
/// of the previous one (the first delay is normally zero). The length is the number of attempts.
///
/// ```
/// use std::time::Duration;
/// use refund_sandbox::webhook::RetrySchedule;
///
/// // The default: PayNext's schedule, 1000 times faster.
/// let default = RetrySchedule::default();
/// assert_eq!(default.delays()[1], Duration::from_millis(5));
/// assert_eq!(default.attempts(), 8);
/// // Three attempts, 10 ms apart.
/// let quick = RetrySchedule::from_delays([Duration::ZERO, Duration::from_millis(10), Duration::from_millis(10)]);
/// assert_eq!(quick.attempts(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// PayNext's schedule at real speed: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub fn paynext() -> Self {
        RetrySchedule {
            delays: PAYNEXT_RETRY_DELAYS.to_vec(),
        }
    }

    /// An explicit schedule: the delay before each attempt. Checked when the webhook is
    /// registered: 1 to [`MAX_ATTEMPTS`] attempts, each delay at most [`MAX_RETRY_DELAY`].
    pub fn from_delays(delays: impl IntoIterator<Item = Duration>) -> Self {
        RetrySchedule {
            delays: delays.into_iter().collect(),
        }
    }

    /// The same schedule `divisor` times faster (a divisor of 0 counts as 1).
    pub fn scaled_down(self, divisor: u32) -> Self {
        let divisor = divisor.max(1);
        RetrySchedule {
            delays: self.delays.into_iter().map(|d| d / divisor).collect(),
        }
    }

    /// The delay before each attempt.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// How many attempts an event gets before the sandbox gives up.
    pub fn attempts(&self) -> usize {
        self.delays.len()
    }

    fn validate(&self) -> Result<(), Error> {
        if self.delays.is_empty() || self.delays.len() > MAX_ATTEMPTS {
            return Err(Error::invalid_input(format!(
                "a webhook retry schedule needs 1 to {MAX_ATTEMPTS} attempts, got {}",
                self.delays.len()
            )));
        }
        if self.delays.iter().any(|d| *d > MAX_RETRY_DELAY) {
            return Err(Error::invalid_input(
                "a webhook retry delay must be at most 24 hours",
            ));
        }
        Ok(())
    }
}

impl Default for RetrySchedule {
    /// PayNext's schedule divided by [`DEFAULT_RETRY_DIVISOR`]: immediately, 5 ms, 300 ms,
    /// 1.8 s, 7.2 s, 18 s, 36 s, 36 s.
    fn default() -> Self {
        RetrySchedule::paynext().scaled_down(DEFAULT_RETRY_DIVISOR)
    }
}

/// A merchant's webhook endpoint on one emulator.
///
/// ```
/// use std::time::Duration;
/// use refund_sandbox::webhook::{RetrySchedule, WebhookConfig};
///
/// let config = WebhookConfig::new("http://127.0.0.1:8080/webhooks/paynext")
///     .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
///     .retry(RetrySchedule::paynext().scaled_down(100))
///     .timeout(Duration::from_secs(2));
/// assert_eq!(config.url(), "http://127.0.0.1:8080/webhooks/paynext");
/// // The secret never prints.
/// assert!(!format!("{config:?}").contains("MfKQ9r8"));
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct WebhookConfig {
    pub(crate) url: String,
    pub(crate) secret: Option<Secret>,
    pub(crate) header_name: Option<String>,
    pub(crate) retry: RetrySchedule,
    pub(crate) timeout: Duration,
}

impl WebhookConfig {
    /// An endpoint at `url`, which must be `http://` (the sandbox does not speak TLS), for
    /// example `http://127.0.0.1:8080/webhooks`. Checked when the webhook is registered.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            secret: None,
            header_name: None,
            retry: RetrySchedule::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The merchant's webhook secret. Plexy: the bearer token (default
    /// [`plexy::DEFAULT_WEBHOOK_TOKEN`](crate::plexy::DEFAULT_WEBHOOK_TOKEN)); PayNext: the Svix
    /// secret `whsec_<base64>` (default
    /// [`paynext::DEFAULT_WEBHOOK_SECRET`](crate::paynext::DEFAULT_WEBHOOK_SECRET)); Payabli:
    /// the value of the custom header (default
    /// [`payabli::DEFAULT_WEBHOOK_SECRET`](crate::payabli::DEFAULT_WEBHOOK_SECRET)).
    pub fn secret(mut self, secret: impl Into<Secret>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Payabli only: the name of the custom header that carries the secret. Default
    /// [`payabli::DEFAULT_WEBHOOK_HEADER`](crate::payabli::DEFAULT_WEBHOOK_HEADER)
    /// (`X-Webhook-Token`). Refused by the Plexy and PayNext emulators.
    pub fn header_name(mut self, name: impl Into<String>) -> Self {
        self.header_name = Some(name.into());
        self
    }

    /// When attempts are made. Default [`RetrySchedule::default`] (PayNext's schedule 1000 times
    /// faster).
    pub fn retry(mut self, schedule: RetrySchedule) -> Self {
        self.retry = schedule;
        self
    }

    /// How long one attempt waits for the connection and the answer's status and body. Default
    /// [`DEFAULT_TIMEOUT`] (5 s); at most [`MAX_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The retry schedule.
    pub fn retry_schedule(&self) -> &RetrySchedule {
        &self.retry
    }

    /// The timeout of one attempt.
    pub fn attempt_timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.retry.validate()?;
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(Error::invalid_input(
                "a webhook timeout must be between 1 ms and 600 s",
            ));
        }
        Ok(())
    }

    /// Reads the admin endpoint's JSON: `{"url", "secret", "header", "retry_schedule_ms",
    /// "retry_divisor", "timeout_ms"}`, only `url` required.
    pub(crate) fn from_admin_json(body: &[u8]) -> Result<WebhookConfig, String> {
        let spec: AdminWebhook = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut config = WebhookConfig::new(spec.url);
        if let Some(secret) = spec.secret {
            config = config.secret(secret);
        }
        if let Some(header) = spec.header {
            config = config.header_name(header);
        }
        match (spec.retry_schedule_ms, spec.retry_divisor) {
            (Some(_), Some(_)) => {
                return Err("give retry_schedule_ms or retry_divisor, not both".to_owned());
            }
            (Some(delays), None) => {
                config = config.retry(RetrySchedule::from_delays(
                    delays.into_iter().map(Duration::from_millis),
                ));
            }
            (None, Some(divisor)) => {
                config = config.retry(RetrySchedule::paynext().scaled_down(divisor));
            }
            (None, None) => {}
        }
        if let Some(ms) = spec.timeout_ms {
            config = config.timeout(Duration::from_millis(ms));
        }
        Ok(config)
    }
}

/// The admin endpoint's webhook JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminWebhook {
    url: String,
    secret: Option<String>,
    header: Option<String>,
    retry_schedule_ms: Option<Vec<u64>>,
    retry_divisor: Option<u32>,
    timeout_ms: Option<u64>,
}

/// Where an event stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookEventState {
    /// No webhook was registered when the event happened; nothing was sent (a later
    /// `redeliver_webhook` can still send it).
    NoEndpoint,
    /// Attempts are queued or running.
    Pending,
    /// An attempt was answered 2xx (by the latest delivery run).
    Delivered,
    /// Every attempt of the schedule failed (or the single redelivery attempt did).
    GaveUp,
    /// The webhook was changed or removed, or the emulator reset, before the event was delivered.
    Cancelled,
}

impl WebhookEventState {
    /// `"no_endpoint"`, `"pending"`, `"delivered"`, `"gave_up"` or `"cancelled"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            WebhookEventState::NoEndpoint => "no_endpoint",
            WebhookEventState::Pending => "pending",
            WebhookEventState::Delivered => "delivered",
            WebhookEventState::GaveUp => "gave_up",
            WebhookEventState::Cancelled => "cancelled",
        }
    }
}

/// One notification the emulator produced: a refund was created or changed status.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The delivery id, the same on every attempt: sent as `svix-id` by PayNext; Plexy and
    /// Payabli send no id (receivers derive one from the body).
    pub id: String,
    /// The provider's event type: `transaction.refunded`, `refund.updated`, `RefundedPayment`, …
    pub event_type: String,
    /// The refunded payment.
    pub payment_id: String,
    /// The provider's refund id (as in [`RefundRecord::id`](crate::RefundRecord::id)).
    pub refund_id: String,
    /// The exact JSON body sent on every attempt.
    pub body: String,
    /// When the event happened.
    pub created_at: SystemTime,
    /// Where it stands.
    pub state: WebhookEventState,
    /// How many attempts were made so far (scheduled, redelivered and duplicated).
    pub attempts: u32,
}

/// What made the sandbox send an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryTrigger {
    /// An attempt of the retry schedule.
    Scheduled,
    /// A redelivery asked for with `redeliver_webhook`/`redeliver_last_webhook`.
    Redelivery,
    /// An injected duplicate, sent right after a successful delivery
    /// (`duplicate_next_webhooks`).
    Duplicate,
}

impl DeliveryTrigger {
    /// `"scheduled"`, `"redelivery"` or `"duplicate"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryTrigger::Scheduled => "scheduled",
            DeliveryTrigger::Redelivery => "redelivery",
            DeliveryTrigger::Duplicate => "duplicate",
        }
    }
}

/// One attempt to deliver an event, in the order the attempts ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The event's delivery id ([`WebhookEvent::id`]; `svix-id` on PayNext).
    pub delivery_id: String,
    /// The event type.
    pub event_type: String,
    /// The URL posted to.
    pub url: String,
    /// The attempt number of this event, from 1 (redeliveries and duplicates continue the count).
    pub attempt: u32,
    /// What made the sandbox send it.
    pub trigger: DeliveryTrigger,
    /// The HTTP status answered; `None` when there was no answer (see `error`).
    pub status: Option<u16>,
    /// Why there was no answer: connection refused, timeout, connection closed.
    pub error: Option<String>,
    /// When the attempt started.
    pub sent_at: SystemTime,
}

impl WebhookDelivery {
    /// Whether the receiver answered 200–299.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl WebhookEvent {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "event_type": self.event_type,
            "payment_id": self.payment_id,
            "refund_id": self.refund_id,
            "body": self.body,
            "created_at": rfc3339_millis(self.created_at),
            "state": self.state.as_str(),
            "attempts": self.attempts,
        })
    }
}

impl WebhookDelivery {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "delivery_id": self.delivery_id,
            "event_type": self.event_type,
            "url": self.url,
            "attempt": self.attempt,
            "trigger": self.trigger.as_str(),
            "status": self.status,
            "error": self.error,
            "sent_at": rfc3339_millis(self.sent_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_is_paynext_a_thousand_times_faster() {
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            RetrySchedule::default().delays(),
            [
                ms(0),
                ms(5),
                ms(300),
                ms(1_800),
                ms(7_200),
                ms(18_000),
                ms(36_000),
                ms(36_000)
            ]
        );
        assert_eq!(RetrySchedule::paynext().delays(), PAYNEXT_RETRY_DELAYS);
        assert_eq!(
            RetrySchedule::paynext().scaled_down(0),
            RetrySchedule::paynext()
        );
    }

    #[test]
    fn schedules_and_timeouts_are_bounded() {
        assert!(
            WebhookConfig::new("http://x")
                .retry(RetrySchedule::from_delays([]))
                .validate()
                .is_err()
        );
        assert!(
            WebhookConfig::new("http://x")
                .retry(RetrySchedule::from_delays([Duration::from_secs(
                    24 * 3600 + 1
                )]))
                .validate()
                .is_err()
        );
        assert!(
            WebhookConfig::new("http://x")
                .retry(RetrySchedule::from_delays(vec![Duration::ZERO; 101]))
                .validate()
                .is_err()
        );
        assert!(
            WebhookConfig::new("http://x")
                .timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
        assert!(WebhookConfig::new("http://x").validate().is_ok());
    }

    #[test]
    fn reads_the_admin_json() {
        let c = WebhookConfig::from_admin_json(
            br#"{"url":"http://127.0.0.1:9/h","secret":"s","header":"X-A","retry_schedule_ms":[0,10],"timeout_ms":250}"#,
        )
        .unwrap();
        assert_eq!(c.url(), "http://127.0.0.1:9/h");
        assert_eq!(c.secret.as_ref().map(Secret::expose_secret), Some("s"));
        assert_eq!(c.header_name.as_deref(), Some("X-A"));
        assert_eq!(
            c.retry_schedule().delays(),
            [Duration::ZERO, Duration::from_millis(10)]
        );
        assert_eq!(c.attempt_timeout(), Duration::from_millis(250));
        let c =
            WebhookConfig::from_admin_json(br#"{"url":"http://h","retry_divisor":100}"#).unwrap();
        assert_eq!(c.retry_schedule().delays()[1], Duration::from_millis(50));
        assert!(
            WebhookConfig::from_admin_json(
                br#"{"url":"http://h","retry_divisor":1,"retry_schedule_ms":[0]}"#
            )
            .is_err()
        );
        assert!(WebhookConfig::from_admin_json(br#"{"url":"http://h","colour":1}"#).is_err());
        assert!(WebhookConfig::from_admin_json(br#"{"secret":"s"}"#).is_err());
    }
}
