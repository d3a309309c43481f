//! Payabli webhooks (contract §4.3): no signature, so a merchant-configured header compared in
//! constant time plus an optional source-IP allow-list; the payload read into a core
//! [`RefundEvent`], and [`Client::confirm_event`] to re-query it as Payabli advises.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use refund_core::http::{HeaderMap, HeaderName};
use refund_core::webhook::{
    RefundEvent, WebhookOutcome, WebhookVerifier, secret_matches, single_header,
};
use refund_core::{
    Currency, Error, ErrorKind, Money, PaymentId, ProviderId, RefundId, RefundStatus, Secret,
};
use serde_json::{Map, Value};

use crate::Client;
use crate::convert::PENDING_CODES;
use crate::error::code_letter;
use crate::wire;

/// The refund event (§4.3), matched in any case.
const REFUNDED_PAYMENT: &str = "RefundedPayment";

/// Verifies Payabli's webhook deliveries and reads refund events from them (contract §4.3).
///
/// Payabli does not sign webhooks. The merchant configures a custom header on the notification
/// (`webHeaderParameters`, e.g. `{"key":"X-Webhook-Token","value":"<secret>"}`), which Payabli
/// sends verbatim; this verifier is configured with the same name and value.
///
/// - **Authentication**: the configured header must be present once and equal the configured
///   value (constant time); otherwise [`WebhookAuth`](ErrorKind::WebhookAuth). With an
///   [allow-list](Self::allow_ips), a delivery whose `peer` address is given and not in the list
///   is refused too. The allow-list is checked only when the caller passes the peer address
///   (behind a proxy, pass the client address the proxy reports, or none).
/// - **Refund events**: `RefundedPayment`, matched in any case; every other event is
///   [`WebhookOutcome::Ignored`]. `transId` is the refund transaction (ASSUMED, §4.3), so it
///   becomes the refund id; the payload does not name the original payment, so `payment_id` is
///   `None`, and Payabli never echoes our reference.
/// - **Status** from `ResultCode` as for a refund answer (§3.4, §3.5): `A0001`/`A0050` pending,
///   any other `A…` succeeded, `D…` declined. An `E…` code is declined too (nothing was
///   refunded); a missing or unrecognized code is pending (the state is not known: confirm it
///   with [`Client::confirm_event`]).
/// - **Amount**: `TotalAmount` (else `NetAmount`), a string in major units, negative on refunds
///   (`"-10.50"` → 10.50), read exactly. The payload names no currency: amounts are read in
///   the verifier's [`currency`](Self::currency), USD by default (Payabli's default currency).
/// - **Delivery id**: `transId|RefundedPayment` (§4.3: `transId` + `Event`, the event name in
///   its canonical case so that a redelivery in another case is still a duplicate).
///
/// ```
/// use std::net::IpAddr;
/// use refund_payabli::PayabliWebhookVerifier;
/// use refund_payabli::refund_core::http::HeaderMap;
/// use refund_payabli::refund_core::{RefundStatus, WebhookOutcome};
///
/// # fn main() -> Result<(), refund_payabli::refund_core::Error> {
/// let verifier = PayabliWebhookVerifier::new("X-Webhook-Token", "tok_123")?
///     .allow_ips(["203.0.113.7".parse::<IpAddr>().unwrap()]);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-webhook-token", "tok_123".parse().unwrap());
/// let body = br#"{"Event":"RefundedPayment","transId":"3040-7b1e","TotalAmount":"-10.50","ResultCode":"A0004"}"#;
/// let peer = Some("203.0.113.7".parse().unwrap());
/// let WebhookOutcome::Event(event) = verifier.verify(&headers, body, peer)? else {
///     unreachable!("a refund event");
/// };
/// assert_eq!(event.status, RefundStatus::Succeeded);
/// assert_eq!(event.amount.unwrap().decimal_text(), "10.50");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PayabliWebhookVerifier {
    header: HeaderName,
    value: Secret,
    allowed: Option<Arc<[IpAddr]>>,
    currency: Currency,
}

impl PayabliWebhookVerifier {
    /// A verifier for deliveries carrying the header `header_name: value` (the name in any
    /// case), with no IP allow-list and amounts in USD.
    ///
    /// # Errors
    /// [`Config`](ErrorKind::Config) when `header_name` is not a valid HTTP header name or the
    /// value is empty.
    pub fn new(header_name: &str, value: impl Into<Secret>) -> Result<Self, Error> {
        let config = |message: String| Error::config(message).with_provider(ProviderId::PAYABLI);
        let header = HeaderName::from_bytes(header_name.trim().as_bytes()).map_err(|_| {
            config(format!(
                "{:?} is not a valid HTTP header name",
                header_name.chars().take(64).collect::<String>()
            ))
        })?;
        let value = value.into();
        if value.is_empty() {
            return Err(config(format!("the value of the {header} header is empty")));
        }
        Ok(PayabliWebhookVerifier {
            header,
            value,
            allowed: None,
            currency: Currency::USD,
        })
    }

    /// Accepts deliveries only from these source addresses, when the peer address is passed to
    /// [`verify`](Self::verify). IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`) match their
    /// IPv4 form. Default: no allow-list.
    #[must_use]
    pub fn allow_ips(mut self, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        self.allowed = Some(addresses.into_iter().map(|ip| ip.to_canonical()).collect());
        self
    }

    /// The currency of the paypoint, in which the payload's amounts are read (Payabli names
    /// none in webhooks). Default: USD.
    #[must_use]
    pub fn currency(mut self, currency: Currency) -> Self {
        self.currency = currency;
        self
    }

    /// The name of the header checked (lowercase).
    pub fn header_name(&self) -> &str {
        self.header.as_str()
    }

    /// Authenticates one delivery and reads it. `peer` is the address the connection came
    /// from; it is checked against the allow-list when both are present.
    ///
    /// # Errors
    /// [`WebhookAuth`](ErrorKind::WebhookAuth) for a peer outside the allow-list, or a missing,
    /// duplicated or different header; [`WebhookMalformed`](ErrorKind::WebhookMalformed) for an
    /// authentic body that is not a Payabli notification, or a refund event without `transId`
    /// or with an amount that cannot be read.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome, Error> {
        self.authenticate(headers, peer)
            .and_then(|()| parse(body, self.currency))
            .map_err(|e| e.with_provider(ProviderId::PAYABLI))
    }

    fn authenticate(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<(), Error> {
        let auth = |message: String| Error::new(ErrorKind::WebhookAuth, message);
        if let (Some(allowed), Some(peer)) = (&self.allowed, peer)
            && !allowed.contains(&peer.to_canonical())
        {
            return Err(auth(format!(
                "the delivery came from {peer}, which is not in the IP allow-list"
            )));
        }
        let header = self.header.as_str();
        let value = single_header(headers, header)?
            .ok_or_else(|| auth(format!("the delivery has no {header} header")))?;
        if !secret_matches(value.as_bytes(), &self.value) {
            return Err(auth(format!(
                "the {header} header does not match the configured value"
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for PayabliWebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayabliWebhookVerifier")
            .field("header", &self.header)
            .field("value", &self.value)
            .field("allowed", &self.allowed)
            .field("currency", &self.currency)
            .finish()
    }
}

impl WebhookVerifier for PayabliWebhookVerifier {
    fn provider(&self) -> ProviderId {
        ProviderId::PAYABLI
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome, Error> {
        PayabliWebhookVerifier::verify(self, headers, body, peer)
    }
}

fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::WebhookMalformed, message)
}

/// A property of a JSON object, its name matched in any case (§3.4, §4.3).
fn property<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// Reads an authenticated body. The event name is read loosely first, so that a notification
/// this SDK does not use is ignored whatever the rest of its shape.
fn parse(body: &[u8], currency: Currency) -> Result<WebhookOutcome, Error> {
    let head: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the delivery is not JSON: {e}")))?;
    let Value::Object(head) = head else {
        return Err(malformed("the delivery is not a JSON object"));
    };
    let name = property(&head, "Event")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !name.trim().eq_ignore_ascii_case(REFUNDED_PAYMENT) {
        let delivery_id = property(&head, "transId")
            .and_then(Value::as_str)
            .map(|id| format!("{id}|{name}"));
        return Ok(WebhookOutcome::ignored(
            ProviderId::PAYABLI,
            name,
            delivery_id,
        ));
    }

    let payload: wire::WebhookPayload = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the delivery is not a Payabli notification: {e}")))?;
    let trans_id = payload
        .trans_id
        .as_deref()
        .ok_or_else(|| malformed("the RefundedPayment event has no transId"))?;
    let refund_id =
        RefundId::new(trans_id).map_err(|e| malformed(format!("transId: {}", e.message())))?;
    let code = payload.result_code.as_ref().map(wire::ResultCode::as_str);
    let mut event = RefundEvent::new(
        ProviderId::PAYABLI,
        name,
        format!("{trans_id}|{REFUNDED_PAYMENT}"),
        status_of(code),
    )
    .with_refund_id(refund_id);
    if let Some(code) = code {
        event = event.with_raw_status(code);
    }
    if let Some(total) = payload.total_amount.or(payload.net_amount) {
        // Refunds are written as negative amounts (§3.4, §4.3): the refunded amount is the
        // magnitude.
        let amount = Money::from_provider_decimal(total.value().abs(), currency)
            .map_err(|e| malformed(format!("TotalAmount: {}", e.message())))?;
        event = event.with_amount(amount);
    }
    if let Some(at) = payload.trans_time {
        event = event.with_occurred_at(at);
    }
    Ok(WebhookOutcome::Event(event))
}

/// The status of a `ResultCode` (§3.4, §3.5; see [`PayabliWebhookVerifier`]).
fn status_of(code: Option<&str>) -> RefundStatus {
    match code.and_then(|c| Some((c, code_letter(c)?))) {
        Some((c, 'A')) if PENDING_CODES.contains(&c) => RefundStatus::Pending,
        Some((_, 'A')) => RefundStatus::Succeeded,
        Some((_, 'D' | 'E')) => RefundStatus::Declined,
        _ => RefundStatus::Pending,
    }
}

impl Client {
    /// Re-queries a Payabli refund event with the transaction details lookup (Y-L1,
    /// `GET /MoneyIn/details/{transId}`), as Payabli advises for money events instead of
    /// trusting the payload (§4.3).
    ///
    /// Returns the event with its status, raw status and amount replaced by what the record
    /// says: `TransStatus` 1 succeeded, 10/11 pending, 2, 3, 5, 0, −1 declined (§3.4); the raw
    /// status becomes `TransStatus <n>`; the amount is the record's `TotalAmount` magnitude in
    /// its own currency (kept from the event when the record has none).
    ///
    /// # Errors
    /// [`InvalidInput`](ErrorKind::InvalidInput) for an event of another provider or without a
    /// refund id; [`Decode`](ErrorKind::Decode) when the record is about another transaction,
    /// is not a refund (`Operation` other than `Refund`), or has no `TransStatus` that names an
    /// outcome; and every error of
    /// [`transaction_details`](Client::transaction_details).
    pub async fn confirm_event(&self, event: &RefundEvent) -> Result<RefundEvent, Error> {
        if event.provider != ProviderId::PAYABLI {
            return Err(Error::invalid_input(format!(
                "a {} event cannot be confirmed with Payabli",
                event.provider
            ))
            .with_provider(ProviderId::PAYABLI));
        }
        let Some(refund_id) = &event.refund_id else {
            return Err(
                Error::invalid_input("the event has no refund id (transId) to look up")
                    .with_provider(ProviderId::PAYABLI),
            );
        };
        let trans_id = PaymentId::new(refund_id.as_str())?;
        let details = self.transaction_details(&trans_id).await?;
        let decode = |message: String| {
            Error::decode(message)
                .with_provider(ProviderId::PAYABLI)
                .with_payment_id(trans_id.clone())
        };
        if let Some(id) = details.trans_id.as_deref()
            && id != trans_id.as_str()
        {
            return Err(decode(format!(
                "the details record is about transaction {id:?}, not {:?}",
                trans_id.as_str()
            )));
        }
        if let Some(operation) = details.operation.as_deref()
            && !operation.eq_ignore_ascii_case("refund")
        {
            return Err(decode(format!(
                "transaction {} is a {operation:?}, not a refund",
                trans_id.as_str()
            )));
        }
        let status = details.refund_status().ok_or_else(|| {
            decode(format!(
                "the details record has no TransStatus that names a refund outcome ({:?})",
                details.trans_status
            ))
        })?;
        let mut confirmed = event.clone();
        confirmed.status = status;
        confirmed.raw_status = details.trans_status.map(|s| format!("TransStatus {s}"));
        if let Some(amount) = details.total_amount {
            confirmed.amount = Some(amount);
        }
        Ok(confirmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const _: () = {
        const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
        assert_bounds::<PayabliWebhookVerifier>();
    };

    #[test]
    fn result_codes() {
        for (code, status) in [
            (Some("A0004"), RefundStatus::Succeeded),
            (Some("A0000"), RefundStatus::Succeeded),
            (Some("A0001"), RefundStatus::Pending),
            (Some("A0050"), RefundStatus::Pending),
            (Some("D0100"), RefundStatus::Declined),
            (Some("E9999"), RefundStatus::Declined),
            (Some("a0004"), RefundStatus::Pending),
            (Some("X"), RefundStatus::Pending),
            (None, RefundStatus::Pending),
        ] {
            assert_eq!(status_of(code), status, "{code:?}");
        }
    }

    #[test]
    fn configuration() {
        let v = PayabliWebhookVerifier::new("X-Webhook-Token", "tok_SECRET").unwrap();
        assert_eq!(v.header_name(), "x-webhook-token");
        assert!(!format!("{v:?}").contains("SECRET"));
        for (name, value) in [("bad header", "x"), ("", "x"), ("X-Ok", "")] {
            let e = PayabliWebhookVerifier::new(name, value).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{name:?}");
        }
    }
}
