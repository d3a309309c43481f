//! PayNext webhooks (contract §4.2): Svix signatures (HMAC-SHA256 over id, timestamp and raw
//! body) checked in constant time with a timestamp tolerance, and the payload read into a core
//! [`RefundEvent`] exactly as a refund answer is read (§2.4).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use refund_core::http::HeaderMap;
use refund_core::retry::{Clock, SystemClock};
use refund_core::webhook::{RefundEvent, WebhookOutcome, WebhookVerifier, single_header};
use refund_core::{Error, ErrorKind, PaymentId, ProviderId, Secret};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::convert;
use crate::wire;

type HmacSha256 = Hmac<Sha256>;

/// Standard base64, padded or not (Svix writes it padded; a missing `=` is no reason to refuse a
/// secret or a signature).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The prefix of a Svix signing secret.
const SECRET_PREFIX: &str = "whsec_";

/// The event types that carry refund state (§4.2, CONFIRMED names).
const REFUND_EVENTS: [&str; 3] = ["refund.created", "refund.updated", "payment.updated"];

/// Verifies PayNext's webhook deliveries (Svix) and reads refund events from them (contract
/// §4.2).
///
/// - **Authentication**: the headers `svix-id`, `svix-timestamp` (Unix seconds) and
///   `svix-signature`, or the same names with the `webhook-` prefix. The signing secret is
///   `whsec_<base64>`; the HMAC key is the base64-decoded part after `whsec_`. The signed
///   content is `{svix-id}.{svix-timestamp}.{raw body}`, the signature
///   base64(HMAC-SHA256(key, content)). `svix-signature` is a space-separated list of
///   `v1,<base64>` entries (other versions are ignored); the delivery is authentic when any `v1`
///   entry matches, compared in constant time. Missing headers or no matching entry are
///   [`WebhookAuth`](ErrorKind::WebhookAuth).
/// - **Freshness**: the timestamp must be within the tolerance of now, past or future (default
///   5 minutes, [`tolerance`](Self::tolerance)); otherwise
///   [`WebhookStale`](ErrorKind::WebhookStale). The signature is checked first, so a forged
///   delivery is reported as forged whatever its timestamp.
/// - **Refund events**: `refund.created`, `refund.updated` and `payment.updated`; every other
///   type is [`WebhookOutcome::Ignored`], and so is a `payment.updated` whose payment shows no
///   refund. `data` is the Payment object of §2.4 or the refund object itself with a
///   `payment_id` field; the status, refund id (`processor_transaction_id`, else the payment id)
///   and amount (minor units of `currency_code`) are read exactly as from a refund answer.
///   PayNext never echoes our refund reference, so `reference` is `None`.
/// - **Delivery id**: `svix-id`, stable across redeliveries.
///
/// ```
/// use refund_paynext::PayNextWebhookVerifier;
/// use std::time::Duration;
///
/// # fn main() -> Result<(), refund_paynext::refund_core::Error> {
/// let verifier = PayNextWebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
///     .tolerance(Duration::from_secs(120));
/// # let _ = verifier;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PayNextWebhookVerifier {
    /// HMAC-SHA256 keyed with the decoded secret, cloned for each delivery (the raw key is not
    /// kept).
    mac: HmacSha256,
    tolerance: Duration,
    clock: Arc<dyn Clock>,
}

impl PayNextWebhookVerifier {
    /// The default timestamp tolerance: 5 minutes, past or future (§4.2).
    pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

    /// A verifier for the endpoint signing secret `secret` (`whsec_<base64>`, as PayNext's
    /// dashboard shows it; the base64 key alone is accepted too, as the Svix libraries do).
    ///
    /// # Errors
    /// [`Config`](ErrorKind::Config) when the secret is not base64 after the optional `whsec_`
    /// prefix, or decodes to nothing.
    pub fn new(secret: impl Into<Secret>) -> Result<Self, Error> {
        let secret = secret.into();
        let config = |message: &str| Error::config(message).with_provider(ProviderId::PAYNEXT);
        let text = secret.expose_secret().trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let key = BASE64
            .decode(encoded)
            .map_err(|_| config("the PayNext webhook secret is not whsec_<base64>"))?;
        if key.is_empty() {
            return Err(config("the PayNext webhook secret is empty"));
        }
        let mac = HmacSha256::new_from_slice(&key)
            .map_err(|_| config("the PayNext webhook secret cannot key HMAC-SHA256"))?;
        Ok(PayNextWebhookVerifier {
            mac,
            tolerance: Self::DEFAULT_TOLERANCE,
            clock: Arc::new(SystemClock),
        })
    }

    /// How far `svix-timestamp` may be from now, in the past or the future. Default: 5 minutes.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The clock that tells "now" (default: the system clock). For tests, a
    /// [`ManualClock`](refund_core::retry::ManualClock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Authenticates one delivery and reads it (`peer` is not used: Svix signatures
    /// authenticate on their own).
    ///
    /// # Errors
    /// [`WebhookAuth`](ErrorKind::WebhookAuth) for missing, duplicated or unreadable Svix
    /// headers, no matching `v1` signature, or a timestamp that is not a Unix time;
    /// [`WebhookStale`](ErrorKind::WebhookStale) for a timestamp out of tolerance;
    /// [`WebhookMalformed`](ErrorKind::WebhookMalformed) for an authentic body that is not a
    /// PayNext event, or a refund event whose `data` cannot be read.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome, Error> {
        let _ = peer;
        self.authenticate(headers, body)
            .and_then(|id| parse(body, id))
            .map_err(|e| e.with_provider(ProviderId::PAYNEXT))
    }

    /// Checks the signature, then the timestamp; returns the `svix-id`.
    fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> Result<String, Error> {
        let id = svix_header(headers, "id")?;
        let timestamp = svix_header(headers, "timestamp")?;
        let signatures = svix_header(headers, "signature")?;

        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        let valid = signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, signature)| BASE64.decode(signature).ok())
            .any(|signature| bool::from(signature.as_slice().ct_eq(expected.as_slice())));
        if !valid {
            return Err(Error::new(
                ErrorKind::WebhookAuth,
                "no v1 entry of the svix-signature header matches the body",
            ));
        }

        let sent: i64 = timestamp.parse().map_err(|_| {
            Error::new(
                ErrorKind::WebhookAuth,
                "the svix-timestamp header is not a Unix time in seconds",
            )
        })?;
        let now = match self.clock.now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
        };
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        let skew = now.saturating_sub(sent);
        if skew > tolerance {
            return Err(Error::new(
                ErrorKind::WebhookStale,
                format!(
                    "the svix-timestamp is {skew} s in the past, beyond the {tolerance} s tolerance"
                ),
            ));
        }
        if skew < tolerance.saturating_neg() {
            return Err(Error::new(
                ErrorKind::WebhookStale,
                format!(
                    "the svix-timestamp is {} s in the future, beyond the {tolerance} s tolerance",
                    skew.saturating_neg()
                ),
            ));
        }
        Ok(id.to_owned())
    }
}

/// The one value of `svix-<name>`, else of `webhook-<name>` (§4.2: both prefixes are accepted).
fn svix_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, Error> {
    let svix = format!("svix-{name}");
    let value = match single_header(headers, &svix)? {
        Some(value) => value,
        None => single_header(headers, &format!("webhook-{name}"))?.ok_or_else(|| {
            Error::new(
                ErrorKind::WebhookAuth,
                format!("the delivery has no {svix} (or webhook-{name}) header"),
            )
        })?,
    };
    let text = value.to_str().map_err(|_| {
        Error::new(
            ErrorKind::WebhookAuth,
            format!("the {svix} header is not visible ASCII"),
        )
    })?;
    if text.is_empty() {
        return Err(Error::new(
            ErrorKind::WebhookAuth,
            format!("the {svix} header is empty"),
        ));
    }
    Ok(text)
}

impl fmt::Debug for PayNextWebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayNextWebhookVerifier")
            .field("secret", &"[redacted]")
            .field("tolerance", &self.tolerance)
            .field("clock", &self.clock)
            .finish()
    }
}

impl WebhookVerifier for PayNextWebhookVerifier {
    fn provider(&self) -> ProviderId {
        ProviderId::PAYNEXT
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome, Error> {
        PayNextWebhookVerifier::verify(self, headers, body, peer)
    }
}

fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::WebhookMalformed, message)
}

/// Reads an authenticated body. The type is read loosely first, so that an event this SDK does
/// not use is ignored whatever the shape of its `data`.
fn parse(body: &[u8], delivery_id: String) -> Result<WebhookOutcome, Error> {
    let head: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the delivery is not JSON: {e}")))?;
    let Value::Object(head) = head else {
        return Err(malformed("the delivery is not a JSON object"));
    };
    let event_type = head.get("type").and_then(Value::as_str).unwrap_or_default();
    if !REFUND_EVENTS.contains(&event_type) {
        return Ok(WebhookOutcome::ignored(
            ProviderId::PAYNEXT,
            event_type,
            Some(delivery_id),
        ));
    }

    let event: wire::WebhookEvent = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the delivery is not a PayNext event: {e}")))?;
    let payment = match event.data {
        Some(wire::WebhookData::Payment(payment)) => payment,
        Some(wire::WebhookData::Refund(refund)) => wire::Payment {
            id: Some(refund.payment_id),
            currency_code: refund.currency_code,
            refund: Some(wire::PaymentRefund {
                amount: refund.amount,
                amount_usd: refund.amount_usd,
                status: refund.status,
                processor_transaction_id: refund.processor_transaction_id,
                created_at: refund.created_at,
                updated_at: refund.updated_at,
            }),
            ..wire::Payment::default()
        },
        None => return Err(malformed("the refund event has no data")),
    };
    let payment_id = payment
        .id
        .as_deref()
        .ok_or_else(|| malformed("the refund event's data has no payment id"))
        .and_then(|id| {
            PaymentId::new(id).map_err(|e| malformed(format!("data.id: {}", e.message())))
        })?;
    let state = convert::refund_state(&payment, &payment_id).map_err(|e| {
        malformed(format!(
            "the refund event's data cannot be read: {}",
            e.message()
        ))
    })?;
    if !state.exists && event_type == "payment.updated" {
        // A payment change that shows no refund says nothing about one.
        return Ok(WebhookOutcome::ignored(
            ProviderId::PAYNEXT,
            event_type,
            Some(delivery_id),
        ));
    }
    let mut out = RefundEvent::new(ProviderId::PAYNEXT, event_type, delivery_id, state.status)
        .with_payment_id(payment_id);
    if let Some(id) = state.refund_id {
        out = out.with_refund_id(id);
    }
    if let Some(amount) = state.amount {
        out = out.with_amount(amount);
    }
    if let Some(raw) = state.raw_status {
        out = out.with_raw_status(raw);
    }
    let updated = payment.refund.and_then(|r| r.updated_at);
    if let Some(at) = event.timestamp.or(updated) {
        out = out.with_occurred_at(at);
    }
    Ok(WebhookOutcome::Event(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const _: () = {
        const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
        assert_bounds::<PayNextWebhookVerifier>();
    };

    #[test]
    fn secrets() {
        let v = PayNextWebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let debug = format!("{v:?}");
        assert!(!debug.contains("MfKQ"), "{debug}");
        assert!(PayNextWebhookVerifier::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        for bad in ["whsec_", "", "whsec_not base64!", "whsec_%%%%"] {
            let e = PayNextWebhookVerifier::new(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad:?}");
            assert!(!e.to_string().contains("base64!"), "{e}");
        }
    }
}
