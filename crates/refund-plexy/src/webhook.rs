//! Plexy webhooks (contract §4.1): a bearer token, checked in constant time, and the
//! `{"name","merchantId","data"}` envelope read into a core [`RefundEvent`].

use std::fmt;
use std::net::IpAddr;

use refund_core::http::HeaderMap;
use refund_core::webhook::{
    RefundEvent, WebhookOutcome, WebhookVerifier, secret_matches, single_header,
};
use refund_core::{Error, ErrorKind, PaymentId, ProviderId, RefundId, RefundReference, Secret};
use serde_json::Value;

use crate::convert;
use crate::types::TransactionKind;
use crate::wire;

/// The event that names a refund whatever its `data.type` (§4.1).
const REFUNDED: &str = "transaction.refunded";

/// Verifies Plexy's webhook deliveries and reads refund events from them (contract §4.1).
///
/// - **Authentication**: `Authorization: Bearer <webhook token>`, the token the merchant
///   configured at Plexy, compared in constant time. A missing header, another scheme or another
///   token is [`WebhookAuth`](ErrorKind::WebhookAuth).
/// - **Refund events**: a delivery whose `data.type` is `refund` or whose `name` is
///   `transaction.refunded`. Every other delivery is [`WebhookOutcome::Ignored`].
/// - **The event**: the refund id is `data.id`, the payment `data.parentTransactionId`, the
///   refund reference `data.merchantReference` (Plexy's `orderReference`, which carries ours);
///   ids may arrive plain or wrapped as `{"Value": …}`. The status is read from `data.status` as
///   for a refund transaction (§1.4): `refunded`/`charged` succeeded,
///   `rejected`/`failed`/`cancelled` declined, anything else pending. The amount is in major
///   units of `data.currency` (none without a currency). When `data` is the original payment
///   (`type` `payment` on a `transaction.refunded`), the event names that payment and no refund
///   id, reference or amount.
/// - **Delivery id**: `data.id|name|data.updatedAt` (Plexy documents no delivery id header;
///   ASSUMED).
///
/// ```
/// use refund_plexy::PlexyWebhookVerifier;
/// use refund_plexy::refund_core::http::HeaderMap;
/// use refund_plexy::refund_core::{RefundStatus, WebhookOutcome};
///
/// # fn main() -> Result<(), refund_plexy::refund_core::Error> {
/// let verifier = PlexyWebhookVerifier::new("whtok_123")?;
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", "Bearer whtok_123".parse().unwrap());
/// let body = br#"{"name":"transaction.refunded","merchantId":"123456","data":{"id":"3f8c","type":"refund","status":"refunded","amount":10.50,"currency":"KZT","merchantReference":"rf-7f3c2b","parentTransactionId":{"Value":"1c4b"},"updatedAt":"2025-12-15T07:41:24Z"}}"#;
/// let WebhookOutcome::Event(event) = verifier.verify(&headers, body, None)? else {
///     unreachable!("a refund event");
/// };
/// assert_eq!(event.status, RefundStatus::Succeeded);
/// assert_eq!(event.payment_id.unwrap().as_str(), "1c4b");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PlexyWebhookVerifier {
    token: Secret,
}

impl PlexyWebhookVerifier {
    /// A verifier for deliveries carrying `Authorization: Bearer <token>`.
    ///
    /// # Errors
    /// [`Config`](ErrorKind::Config) when the token is empty.
    pub fn new(token: impl Into<Secret>) -> Result<Self, Error> {
        let token = token.into();
        if token.is_empty() {
            return Err(
                Error::config("the Plexy webhook token is empty").with_provider(ProviderId::PLEXY)
            );
        }
        Ok(PlexyWebhookVerifier { token })
    }

    /// Authenticates one delivery and reads it (`peer` is not used: Plexy is authenticated by
    /// its token alone).
    ///
    /// # Errors
    /// [`WebhookAuth`](ErrorKind::WebhookAuth) for a missing, duplicated or non-`Bearer`
    /// `Authorization` header or another token;
    /// [`WebhookMalformed`](ErrorKind::WebhookMalformed) for an authentic body that is not a
    /// Plexy event, or a refund event without `data.id` or with amounts that cannot be read.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome, Error> {
        let _ = peer;
        self.authenticate(headers)
            .and_then(|()| parse(body))
            .map_err(|e| e.with_provider(ProviderId::PLEXY))
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), Error> {
        let auth = |message: &str| Error::new(ErrorKind::WebhookAuth, message);
        let value = single_header(headers, "authorization")?
            .ok_or_else(|| auth("the delivery has no Authorization header"))?;
        let value = value.as_bytes();
        // `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
        let token = match value.iter().position(|b| *b == b' ') {
            Some(space)
                if value
                    .get(..space)
                    .is_some_and(|s| s.eq_ignore_ascii_case(b"bearer")) =>
            {
                value.get(space + 1..).unwrap_or_default().trim_ascii()
            }
            _ => return Err(auth("the Authorization header is not a Bearer token")),
        };
        if !secret_matches(token, &self.token) {
            return Err(auth(
                "the bearer token does not match the configured webhook token",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for PlexyWebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlexyWebhookVerifier")
            .field("token", &self.token)
            .finish()
    }
}

impl WebhookVerifier for PlexyWebhookVerifier {
    fn provider(&self) -> ProviderId {
        ProviderId::PLEXY
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome, Error> {
        PlexyWebhookVerifier::verify(self, headers, body, peer)
    }
}

fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::WebhookMalformed, message)
}

/// Reads an authenticated body. The event is first classified from a loose reading (`name`,
/// `data.type`), so that a delivery this SDK does not use is ignored whatever the rest of its
/// shape; only refund events are then decoded strictly, with exact amounts.
fn parse(body: &[u8]) -> Result<WebhookOutcome, Error> {
    let head: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the delivery is not JSON: {e}")))?;
    let Value::Object(head) = head else {
        return Err(malformed("the delivery is not a JSON object"));
    };
    let name = head.get("name").and_then(Value::as_str).unwrap_or_default();
    let data = head.get("data");
    let kind = data
        .and_then(|d| d.get("type"))
        .and_then(Value::as_str)
        .map(TransactionKind::from_wire);
    let named_refunded = name.trim().eq_ignore_ascii_case(REFUNDED);
    if !(named_refunded || kind == Some(TransactionKind::Refund)) {
        let delivery_id = data.and_then(|d| {
            let id = d.get("id").and_then(flex_str)?;
            let updated = d.get("updatedAt").and_then(Value::as_str);
            Some(delivery_id(id, name, updated))
        });
        return Ok(WebhookOutcome::ignored(
            ProviderId::PLEXY,
            name,
            delivery_id,
        ));
    }

    let envelope: wire::WebhookEnvelope = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the delivery is not a Plexy event: {e}")))?;
    let data = envelope
        .data
        .ok_or_else(|| malformed("the refund event has no data"))?;
    let t = convert::transaction_from_wire(data, None).map_err(|e| {
        malformed(format!(
            "the refund event's data cannot be read: {}",
            e.message()
        ))
    })?;
    let id =
        t.id.as_deref()
            .ok_or_else(|| malformed("the refund event has no data.id"))?;
    let mut event = RefundEvent::new(
        ProviderId::PLEXY,
        name,
        delivery_id(id, name, t.updated_at.as_deref()),
        t.refund_status(),
    );
    if t.kind == Some(TransactionKind::Payment) {
        // `transaction.refunded` about the original payment: it names the payment only.
        let payment =
            PaymentId::new(id).map_err(|e| malformed(format!("data.id: {}", e.message())))?;
        event = event.with_payment_id(payment);
    } else {
        let refund =
            RefundId::new(id).map_err(|e| malformed(format!("data.id: {}", e.message())))?;
        event = event.with_refund_id(refund);
        if let Some(payment) = t.parent_id.as_deref().and_then(|p| PaymentId::new(p).ok()) {
            event = event.with_payment_id(payment);
        }
        // A merchant reference that is not a valid refund reference was not set by this SDK.
        if let Some(reference) = t
            .order_reference
            .as_deref()
            .and_then(|r| RefundReference::new(r).ok())
        {
            event = event.with_reference(reference);
        }
        if let Some(amount) = t.amount {
            event = event.with_amount(amount);
        }
    }
    if let Some(raw) = t.raw_status {
        event = event.with_raw_status(raw);
    }
    if let Some(at) = t.updated_at.or(t.created_at) {
        event = event.with_occurred_at(at);
    }
    Ok(WebhookOutcome::Event(event))
}

/// `data.id|name|data.updatedAt` (§4.1; an absent `updatedAt` leaves its part empty).
fn delivery_id(id: &str, name: &str, updated_at: Option<&str>) -> String {
    format!("{id}|{name}|{}", updated_at.unwrap_or_default())
}

/// An id that is a string or `{"Value": string}` (§4.1), read loosely.
fn flex_str(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map
            .get("Value")
            .or_else(|| map.get("value"))
            .and_then(Value::as_str),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const _: () = {
        const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
        assert_bounds::<PlexyWebhookVerifier>();
    };

    #[test]
    fn loose_ids() {
        assert_eq!(flex_str(&serde_json::json!("a")), Some("a"));
        assert_eq!(flex_str(&serde_json::json!({"Value": "b"})), Some("b"));
        assert_eq!(flex_str(&serde_json::json!({"value": "c"})), Some("c"));
        assert_eq!(flex_str(&serde_json::json!(1)), None);
        assert_eq!(flex_str(&serde_json::json!({"Id": "x"})), None);
    }

    #[test]
    fn the_token_never_prints() {
        let v = PlexyWebhookVerifier::new("whtok_SECRET").unwrap();
        assert!(!format!("{v:?}").contains("SECRET"));
        let e = PlexyWebhookVerifier::new("").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
