//! Plexy webhooks (contract §4.1): a bearer token, checked in constant time, and the
//! `{"name","merchantId","data"}` envelope read into a core [`RefundEvent`]; or, for merchants
//! still on Plexy's legacy callbacks, the `x-signature` HMAC of a flat callback body.
//!
//! The legacy scheme, its sources and its limits are documented on
//! [`PlexyWebhookVerifier::legacy_signature`].

use std::fmt;
use std::net::IpAddr;

use hmac::{Hmac, Mac};
use refund_core::http::HeaderMap;
use refund_core::json::JsonDecimal;
use refund_core::webhook::{
    RefundEvent, WebhookOutcome, WebhookVerifier, secret_matches, single_header,
};
use refund_core::{
    Currency, Decimal, Error, ErrorKind, Money, PaymentId, ProviderId, RefundId, RefundReference,
    RefundStatus, Secret,
};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::Sha256;

use crate::convert;
use crate::types::{TransactionKind, TransactionStatus, refund_status_of};
use crate::wire;

type HmacSha256 = Hmac<Sha256>;

/// The header of the legacy signature.
const SIGNATURE_HEADER: &str = "x-signature";

/// The event type reported for a legacy flat callback, which names none.
const LEGACY_EVENT: &str = "callback";

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
/// [`legacy_signature`](Self::legacy_signature) builds a verifier for Plexy's legacy
/// `x-signature` callbacks instead (see there for the scheme and its limits).
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
    scheme: Scheme,
}

/// How deliveries are authenticated.
#[derive(Clone)]
enum Scheme {
    /// `Authorization: Bearer <token>` (§4.1).
    Bearer(Secret),
    /// `x-signature`, keyed with the private key without `pr_` (legacy, OBSERVED).
    LegacySignature(Secret),
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
        Ok(PlexyWebhookVerifier {
            scheme: Scheme::Bearer(token),
        })
    }

    /// A verifier for Plexy's legacy callbacks signed in the `x-signature` header with the
    /// merchant's private API key (`pr_…`), as Plexy's PHP SDK and WooCommerce plugin verify
    /// them (OBSERVED; the scheme, its sources and its limits are below).
    ///
    /// - **Authentication**: `x-signature` must be the hex HMAC-SHA256 (either letter case),
    ///   keyed with `private_key` without any `pr_`, of `id`, `amount`, `currency`,
    ///   `orderReference` and `true`/`false` for `success`, read from the flat JSON body as
    ///   PHP prints them. A missing, repeated or wrong header, a body that is not a JSON object,
    ///   a repeated signed field, an empty signed `id`, or an amount PHP would print in another
    ///   form (more than 14 significant digits, below 0.0001 or from 10^14 up: PHP's
    ///   `precision` setting of 14) is [`WebhookAuth`](ErrorKind::WebhookAuth).
    /// - **Events**: a `{"name","data"}` envelope is read as with [`new`](Self::new). A flat
    ///   callback is a refund event only when its `type` is `refund`, or when it has no `type`
    ///   and names a `parentTransactionId` or `originalTransactionId`; anything else is
    ///   [`WebhookOutcome::Ignored`]. The status comes from `success` (`true` succeeded, `false`
    ///   declined), else from `status` as for a refund transaction (§1.4); with neither the
    ///   delivery is ignored. The refund id, reference, amount and currency are the signed
    ///   values; the payment id (`parentTransactionId`, else `originalTransactionId`) and
    ///   `status` are not signed. The event type is `callback`.
    /// - **Delivery id**: `id|success|amount` with the signed texts (`3f8c|true|10.5`), since
    ///   a callback carries no event name or timestamp.
    ///
    /// # The legacy `x-signature` scheme (OBSERVED)
    ///
    /// Sources: Plexy's official PHP SDK, `plexypay/plexypay-sdk-php`, `src/Utils.php`
    /// (`is_valid_signature($private_key, $data, $signature)`), and Plexy's WooCommerce plugin,
    /// `plexypay/woocommerce`, `includes/WC_PLEXYPAY_Payments_Gateway.php` (`callback_webhook`,
    /// which reads the `x-signature` header and passes the decoded JSON callback). Neither is in
    /// the wire contract; the scheme is reproduced from that code, not from documentation.
    ///
    /// - **Key**: the merchant's private API key with every `pr_` removed (PHP `str_replace`).
    /// - **Signed text**: the concatenation, without separators, of the flat callback's `id`,
    ///   `amount`, `currency`, `orderReference`, then `true` or `false` for `success` (PHP
    ///   truthiness: `true`, a non-zero number, a string other than `""` and `"0"`, a non-empty
    ///   array or object are `true`). Each value is what PHP prints for the decoded JSON value: a
    ///   string as is, an integer in decimal, a fractional number in its shortest form (`10.50` →
    ///   `10.5`, `200.00` → `200`; computed here from the exact decimal literal, never through a
    ///   float), `true` → `1`, `false`/`null`/absent → empty, an array or object → `Array`.
    /// - **Signature**: lowercase hex of HMAC-SHA256(key, text) in `x-signature`. This crate also
    ///   accepts uppercase hex and compares in constant time (PHP compares with `==`).
    ///
    /// **What it does not cover.** Only those five fields are signed: `type`, `status`,
    /// `parentTransactionId`, `originalTransactionId`, `settled` and every other field can be
    /// changed in transit without breaking the signature, and there is no timestamp, so a captured
    /// delivery can be replayed. The verifier therefore takes the event's id, amount, currency,
    /// reference and `success` from the signed values only, and refuses a delivery whose signed
    /// `id` is empty (nothing identifying would be signed). Confirm an event with a lookup
    /// ([`Client::transaction`](crate::Client::transaction)) before acting on it, and prefer
    /// the bearer-token webhooks (§4.1) when the merchant can switch.
    ///
    /// # Errors
    /// [`Config`](ErrorKind::Config) when the key is empty once every `pr_` is removed.
    pub fn legacy_signature(private_key: impl Into<Secret>) -> Result<Self, Error> {
        let key = private_key.into().expose_secret().replace("pr_", "");
        if key.is_empty() {
            return Err(Error::config(
                "the Plexy private key for legacy webhook signatures is empty",
            )
            .with_provider(ProviderId::PLEXY));
        }
        Ok(PlexyWebhookVerifier {
            scheme: Scheme::LegacySignature(Secret::new(key)),
        })
    }

    /// Authenticates one delivery and reads it (`peer` is not used: Plexy is authenticated by
    /// its token or signature alone).
    ///
    /// # Errors
    /// [`WebhookAuth`](ErrorKind::WebhookAuth) for a missing, duplicated or non-`Bearer`
    /// `Authorization` header or another token (or, with
    /// [`legacy_signature`](Self::legacy_signature), a missing or wrong `x-signature` or a body
    /// it cannot be checked on);
    /// [`WebhookMalformed`](ErrorKind::WebhookMalformed) for an authentic body that is not a
    /// Plexy event, or a refund event without `data.id` or with amounts that cannot be read.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome, Error> {
        let _ = peer;
        match &self.scheme {
            Scheme::Bearer(token) => authenticate(headers, token).and_then(|()| parse(body)),
            Scheme::LegacySignature(key) => legacy::authenticate(headers, body, key)
                .and_then(|signed| legacy::parse(body, &signed)),
        }
        .map_err(|e| e.with_provider(ProviderId::PLEXY))
    }
}

fn authenticate(headers: &HeaderMap, expected: &Secret) -> Result<(), Error> {
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
    if !secret_matches(token, expected) {
        return Err(auth(
            "the bearer token does not match the configured webhook token",
        ));
    }
    Ok(())
}

impl fmt::Debug for PlexyWebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("PlexyWebhookVerifier");
        match &self.scheme {
            Scheme::Bearer(token) => d.field("scheme", &"bearer").field("token", token),
            Scheme::LegacySignature(key) => {
                d.field("scheme", &"legacy x-signature").field("key", key)
            }
        }
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

/// The legacy `x-signature` scheme (see the module docs).
mod legacy {
    use super::*;

    /// The signed values of a flat callback, as PHP prints them.
    pub(super) struct Signed {
        pub(super) id: String,
        pub(super) amount: String,
        pub(super) currency: String,
        pub(super) order_reference: String,
        pub(super) success: bool,
        /// The `amount` value as received, for the event's money.
        amount_value: Option<Decimal>,
    }

    impl Signed {
        fn text(&self) -> String {
            let success = if self.success { "true" } else { "false" };
            format!(
                "{}{}{}{}{success}",
                self.id, self.amount, self.currency, self.order_reference
            )
        }

        /// `id|success|amount`.
        fn delivery_id(&self) -> String {
            format!("{}|{}|{}", self.id, self.success, self.amount)
        }
    }

    /// The top-level fields the signature covers, raw. A repeated one fails the decoding, so
    /// the verifier never picks another value than the sender signed.
    #[derive(Deserialize)]
    struct Fields<'a> {
        #[serde(borrow, default)]
        id: Option<&'a RawValue>,
        #[serde(borrow, default)]
        amount: Option<&'a RawValue>,
        #[serde(borrow, default)]
        currency: Option<&'a RawValue>,
        #[serde(borrow, default, rename = "orderReference")]
        order_reference: Option<&'a RawValue>,
        #[serde(borrow, default)]
        success: Option<&'a RawValue>,
    }

    fn auth(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::WebhookAuth, message)
    }

    /// Checks `x-signature` against the body and returns the signed values.
    pub(super) fn authenticate(
        headers: &HeaderMap,
        body: &[u8],
        key: &Secret,
    ) -> Result<Signed, Error> {
        let header = single_header(headers, SIGNATURE_HEADER)?
            .ok_or_else(|| auth("the delivery has no x-signature header"))?;
        let presented = decode_hex(header.as_bytes().trim_ascii())
            .ok_or_else(|| auth("the x-signature header is not 64 hex digits"))?;
        let signed = signed_values(body)
            .map_err(|why| auth(format!("the legacy signature cannot be checked: {why}")))?;
        let mut mac = HmacSha256::new_from_slice(key.expose_secret().as_bytes())
            .map_err(|_| auth("the legacy signature key is unusable"))?;
        mac.update(signed.text().as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&presented)
            .map_err(|_| auth("the x-signature does not match the body"))?;
        if signed.id.is_empty() {
            return Err(auth(
                "the legacy signature covers no transaction id, so it authenticates nothing",
            ));
        }
        Ok(signed)
    }

    /// The five signed values of the body, as PHP concatenates them.
    pub(super) fn signed_values(body: &[u8]) -> Result<Signed, String> {
        let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
        // serde also reads a struct from a JSON array, by position; a callback is an object.
        if !text.trim_start().starts_with('{') {
            return Err("the body is not a JSON object".to_owned());
        }
        let fields: Fields<'_> = serde_json::from_str(text)
            .map_err(|e| format!("the body is not a JSON object with one of each field: {e}"))?;
        let amount_value = fields.amount.and_then(|raw| amount_decimal(raw.get()));
        Ok(Signed {
            id: php_string(fields.id)?,
            amount: php_string(fields.amount)?,
            currency: php_string(fields.currency)?,
            order_reference: php_string(fields.order_reference)?,
            success: php_truthy(fields.success)?,
            amount_value,
        })
    }

    /// What PHP prints for a decoded JSON value (`$a . $b`), or why it cannot be reproduced.
    pub(super) fn php_string(raw: Option<&RawValue>) -> Result<String, String> {
        let Some(raw) = raw else {
            return Ok(String::new());
        };
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(text).map_err(|e| e.to_string()),
            Some(b't') => Ok("1".to_owned()),
            Some(b'f' | b'n') => Ok(String::new()),
            Some(b'[' | b'{') => Ok("Array".to_owned()),
            _ => php_number(text),
        }
    }

    /// A JSON number as PHP prints it once decoded: an integer literal that fits 64 bits stays
    /// an integer; anything else is a float, printed with PHP's default `precision` of 14
    /// significant digits (`%.14G`), which for the values accepted here is the exact decimal
    /// without trailing zeros.
    pub(super) fn php_number(text: &str) -> Result<String, String> {
        let is_integer = !text.contains(['.', 'e', 'E']);
        if is_integer && let Ok(n) = text.parse::<i64>() {
            return Ok(n.to_string());
        }
        let value = JsonDecimal::parse_literal(text)
            .ok_or_else(|| format!("the number {} cannot be read exactly", clip(text)))?;
        if value.is_zero() {
            // PHP prints the float -0.0 as "-0".
            return Ok(if text.starts_with('-') { "-0" } else { "0" }.to_owned());
        }
        let normalized = value.normalize();
        let magnitude = normalized.abs();
        let digits = normalized.mantissa().unsigned_abs().to_string();
        let significant = digits.trim_end_matches('0').len();
        if significant > 14
            || magnitude >= Decimal::from(100_000_000_000_000_i64)
            || magnitude < Decimal::new(1, 4)
        {
            return Err(format!(
                "PHP would print the number {} in another form",
                clip(text)
            ));
        }
        Ok(normalized.to_string())
    }

    /// PHP truthiness of a decoded JSON value (`$x ? 'true' : 'false'`).
    pub(super) fn php_truthy(raw: Option<&RawValue>) -> Result<bool, String> {
        let Some(raw) = raw else {
            return Ok(false);
        };
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b't') => Ok(true),
            Some(b'f' | b'n') => Ok(false),
            Some(b'"') => {
                let s = serde_json::from_str::<String>(text).map_err(|e| e.to_string())?;
                Ok(!(s.is_empty() || s == "0"))
            }
            Some(b'[' | b'{') => {
                let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                Ok(match value {
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => false,
                })
            }
            _ => JsonDecimal::parse_literal(text)
                .map(|d| !d.is_zero())
                .ok_or_else(|| format!("the number {} cannot be read exactly", clip(text))),
        }
    }

    /// The amount as an exact decimal: a JSON number, or a string holding one.
    fn amount_decimal(text: &str) -> Option<Decimal> {
        match serde_json::from_str::<String>(text) {
            Ok(s) => JsonDecimal::parse_literal(s.trim()),
            Err(_) => JsonDecimal::parse_literal(text),
        }
    }

    fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
        if text.len() != 64 {
            return None;
        }
        text.chunks(2)
            .map(|pair| {
                let hi = char::from(*pair.first()?).to_digit(16)?;
                let lo = char::from(*pair.get(1)?).to_digit(16)?;
                u8::try_from(hi * 16 + lo).ok()
            })
            .collect()
    }

    fn clip(text: &str) -> String {
        text.chars().take(40).collect()
    }

    /// Reads an authentic delivery: the §4.1 envelope as with a bearer token, or a flat legacy
    /// callback.
    pub(super) fn parse(body: &[u8], signed: &Signed) -> Result<WebhookOutcome, Error> {
        let head: Value = serde_json::from_slice(body)
            .map_err(|e| malformed(format!("the delivery is not JSON: {e}")))?;
        let Value::Object(head) = head else {
            return Err(malformed("the delivery is not a JSON object"));
        };
        if head.get("data").is_some_and(Value::is_object) {
            return super::parse(body);
        }
        let delivery_id = signed.delivery_id();
        let kind = head
            .get("type")
            .and_then(Value::as_str)
            .map(TransactionKind::from_wire);
        let parent = ["parentTransactionId", "originalTransactionId"]
            .into_iter()
            .find_map(|field| head.get(field).and_then(flex_str))
            .filter(|p| !p.trim().is_empty());
        let is_refund = match kind {
            Some(TransactionKind::Refund) => true,
            None => parent.is_some(),
            Some(_) => false,
        };
        let raw_status = head.get("status").and_then(Value::as_str);
        let has_success = head.get("success").is_some_and(|v| !v.is_null());
        let status = if has_success {
            Some(if signed.success {
                RefundStatus::Succeeded
            } else {
                RefundStatus::Declined
            })
        } else {
            raw_status.map(|s| refund_status_of(Some(&TransactionStatus::from_wire(s))))
        };
        let Some(status) = status.filter(|_| is_refund) else {
            return Ok(WebhookOutcome::ignored(
                ProviderId::PLEXY,
                LEGACY_EVENT,
                Some(delivery_id),
            ));
        };
        let refund = RefundId::new(signed.id.as_str())
            .map_err(|e| malformed(format!("id: {}", e.message())))?;
        let mut event = RefundEvent::new(ProviderId::PLEXY, LEGACY_EVENT, delivery_id, status)
            .with_refund_id(refund);
        if let Some(payment) = parent.and_then(|p| PaymentId::new(p).ok()) {
            event = event.with_payment_id(payment);
        }
        // A reference that is not a valid refund reference was not set by this SDK.
        if let Ok(reference) = RefundReference::new(signed.order_reference.as_str()) {
            event = event.with_reference(reference);
        }
        if let (Some(value), Ok(currency)) = (
            signed.amount_value,
            Currency::from_code(signed.currency.trim()),
        ) {
            // Refunds may be reported as negative amounts; the event carries the magnitude.
            let amount = Money::from_provider_decimal(value.abs(), currency)
                .map_err(|e| malformed(format!("amount: {}", e.message())))?;
            event = event.with_amount(amount);
        }
        if let Some(raw) = raw_status {
            event = event.with_raw_status(raw);
        }
        Ok(WebhookOutcome::Event(event))
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

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    /// PHP's printing of decoded JSON values (`$a . $b`), as `php -r` prints them with the
    /// default `precision` of 14.
    #[test]
    fn php_strings() {
        for (json, php) in [
            (r#""abc""#, Some("abc")),
            (r#""a\u00e9""#, Some("a\u{e9}")),
            (r#""10.50""#, Some("10.50")),
            ("true", Some("1")),
            ("false", Some("")),
            ("null", Some("")),
            ("[1]", Some("Array")),
            ("{}", Some("Array")),
            ("200", Some("200")),
            ("-7", Some("-7")),
            ("0", Some("0")),
            ("-0", Some("0")),
            ("9223372036854775807", Some("9223372036854775807")),
            ("10.50", Some("10.5")),
            ("200.00", Some("200")),
            ("0.05", Some("0.05")),
            ("-10.50", Some("-10.5")),
            ("0.0", Some("0")),
            ("-0.0", Some("-0")),
            ("1e2", Some("100")),
            ("1.5E-3", Some("0.0015")),
            ("0.0001", Some("0.0001")),
            ("12345678901.234", Some("12345678901.234")),
            ("99999999999999.0", Some("99999999999999")),
            // PHP prints these in another form (rounded or `1.0E+14`): refused.
            ("0.00001", None),
            ("100000000000000.0", None),
            ("9223372036854775808", None),
            ("123456789012.345", None),
        ] {
            let got = legacy::php_string(Some(&raw(json))).ok();
            assert_eq!(got.as_deref(), php, "{json}");
        }
        assert_eq!(legacy::php_string(None).unwrap(), "");
    }

    #[test]
    fn php_truthiness() {
        for (json, truthy) in [
            ("true", true),
            ("false", false),
            ("null", false),
            ("1", true),
            ("0", false),
            ("0.0", false),
            ("-0.5", true),
            (r#""""#, false),
            (r#""0""#, false),
            (r#""false""#, true),
            (r#""0.0""#, true),
            ("[]", false),
            ("[0]", true),
            ("{}", false),
            (r#"{"a":1}"#, true),
        ] {
            assert_eq!(legacy::php_truthy(Some(&raw(json))), Ok(truthy), "{json}");
        }
        assert_eq!(legacy::php_truthy(None), Ok(false));
    }

    #[test]
    fn signed_values_of_a_flat_callback() {
        let signed = legacy::signed_values(
            br#"{"id":"a","amount":10.50,"currency":"KZT","orderReference":"rf","success":true,"extra":[1]}"#,
        )
        .unwrap();
        assert_eq!(
            (
                signed.id.as_str(),
                signed.amount.as_str(),
                signed.currency.as_str(),
                signed.order_reference.as_str(),
                signed.success
            ),
            ("a", "10.5", "KZT", "rf", true)
        );
        let signed = legacy::signed_values(br#"{"success":null}"#).unwrap();
        assert_eq!((signed.id.as_str(), signed.success), ("", false));
        for body in [
            &b"[]"[..],
            br#"["a","10.5","KZT","rf",true]"#,
            b"\"x\"",
            b"{\"id\":\"a\",\"id\":\"b\"}",
            b"{\"id\":\"\xff\"}",
        ] {
            assert!(legacy::signed_values(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn the_token_never_prints() {
        let v = PlexyWebhookVerifier::new("whtok_SECRET").unwrap();
        assert!(!format!("{v:?}").contains("SECRET"));
        let e = PlexyWebhookVerifier::new("").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
