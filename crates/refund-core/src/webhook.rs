//! Refund webhooks: the notifications providers push when a refund changes state (contract §4).
//!
//! Refunds are often still [`Pending`](RefundStatus::Pending) when the refund call returns; the
//! final state arrives by webhook. Each provider crate has a verifier (`PlexyWebhookVerifier`,
//! `PayNextWebhookVerifier`, `PayabliWebhookVerifier`) that authenticates a delivery exactly as
//! the provider signs it and parses it into a [`RefundEvent`]. They all implement the
//! object-safe [`WebhookVerifier`] trait, so an application can hold `Box<dyn WebhookVerifier>`
//! and mount one handler per provider in any web framework.
//!
//! A verifier works on the **raw body bytes** exactly as received (never a re-serialized body)
//! and on the request headers as an [`http::HeaderMap`] (the type axum,
//! hyper and reqwest use; [`header_map`] builds one from plain pairs for other frameworks).
//!
//! | result | meaning | answer the provider with |
//! |---|---|---|
//! | `Ok(`[`WebhookOutcome::Event`]`)` | an authentic refund event | 2xx |
//! | `Ok(`[`WebhookOutcome::Ignored`]`)` | authentic, but not about a refund (or an unknown event type) | 2xx |
//! | `Err` [`WebhookAuth`](ErrorKind::WebhookAuth) | missing or wrong token, header or signature | 401 |
//! | `Err` [`WebhookStale`](ErrorKind::WebhookStale) | signed, but the timestamp is out of tolerance | 401 |
//! | `Err` [`WebhookMalformed`](ErrorKind::WebhookMalformed) | authentic, but the body cannot be read | 400 |
//!
//! Providers deliver at least once, so the same event may arrive several times. A
//! [`Deduplicator`] keyed by provider and [`RefundEvent::delivery_id`] drops the repeats;
//! [`MemoryDeduplicator`] is a bounded in-memory one, and the trait lets an application use a
//! shared store (Redis, a database table) instead.
//!
//! ```
//! use refund_core::webhook::{Deduplicator, MemoryDeduplicator, Seen, WebhookOutcome, WebhookVerifier};
//! use refund_core::http::HeaderMap;
//!
//! /// What an HTTP handler does with one delivery: returns the status code to answer.
//! async fn handle(
//!     verifier: &dyn WebhookVerifier,
//!     dedup: &dyn Deduplicator,
//!     headers: &HeaderMap,
//!     body: &[u8],
//! ) -> u16 {
//!     match verifier.verify(headers, body, None) {
//!         Ok(WebhookOutcome::Event(event)) => {
//!             match dedup.check(&event.provider, &event.delivery_id).await {
//!                 Ok(Seen::First) => println!("{} is now {}", event.event_type, event.status),
//!                 Ok(Seen::Duplicate) => {} // already handled: acknowledge again
//!                 Err(_) => return 500,      // the store failed: let the provider retry
//!             }
//!             200
//!         }
//!         Ok(_) => 200, // ignored (not a refund event): acknowledge so it is not redelivered
//!         Err(e) => match e.kind() {
//!             refund_core::ErrorKind::WebhookMalformed => 400,
//!             _ => 401,
//!         },
//!     }
//! }
//! # let _ = handle;
//! # let _ = MemoryDeduplicator::default();
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorKind, Result};
use crate::http::{HeaderMap, HeaderName, HeaderValue};
use crate::id::{PaymentId, ProviderId, RefundId, RefundReference};
use crate::money::Money;
use crate::provider::BoxFuture;
use crate::refund::RefundStatus;
use crate::retry::{Clock, SystemClock};
use crate::secret::Secret;

// ---------------------------------------------------------------------------------------------
// Events

/// A refund state change that a provider notified by webhook (contract §4).
///
/// `status` is derived exactly as for the provider's refund answers (§1.4, §2.4, §3.5).
/// Webhooks may arrive out of order and more than once: de-duplicate on
/// [`delivery_id`](Self::delivery_id) (see [`Deduplicator`]) and, where ordering matters,
/// confirm with a lookup (Payabli advises it; `refund_payabli::Client::confirm_event`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RefundEvent {
    /// Which provider sent it.
    pub provider: ProviderId,
    /// The provider's event type, as received (`"transaction.refunded"`, `"refund.updated"`,
    /// `"RefundedPayment"`).
    pub event_type: String,
    /// The delivery's de-duplication key, stable across redeliveries of the same event
    /// (Plexy: `data.id|name|data.updatedAt`; PayNext: `svix-id`; Payabli: `transId|Event`).
    pub delivery_id: String,
    /// The refunded payment, when the payload names it (Payabli's does not).
    pub payment_id: Option<PaymentId>,
    /// The provider's id of the refund, when the payload names it.
    pub refund_id: Option<RefundId>,
    /// The caller's refund reference, when the provider echoes it (Plexy only) and it is a
    /// valid [`RefundReference`].
    pub reference: Option<RefundReference>,
    /// Succeeded, pending or declined.
    pub status: RefundStatus,
    /// The refunded amount, when the payload gives one in a known currency.
    pub amount: Option<Money>,
    /// The provider's raw status or result code (`"refunded"`, `"SUCCEEDED"`, `"A0004"`).
    pub raw_status: Option<String>,
    /// When the provider says the change happened, as it wrote it (informational, never
    /// parsed).
    pub occurred_at: Option<String>,
}

impl RefundEvent {
    /// An event with the required fields; the rest start empty.
    pub fn new(
        provider: ProviderId,
        event_type: impl Into<String>,
        delivery_id: impl Into<String>,
        status: RefundStatus,
    ) -> Self {
        RefundEvent {
            provider,
            event_type: event_type.into(),
            delivery_id: delivery_id.into(),
            payment_id: None,
            refund_id: None,
            reference: None,
            status,
            amount: None,
            raw_status: None,
            occurred_at: None,
        }
    }

    /// Sets the refunded payment.
    #[must_use]
    pub fn with_payment_id(mut self, id: PaymentId) -> Self {
        self.payment_id = Some(id);
        self
    }

    /// Sets the provider's refund id.
    #[must_use]
    pub fn with_refund_id(mut self, id: RefundId) -> Self {
        self.refund_id = Some(id);
        self
    }

    /// Sets the caller's refund reference.
    #[must_use]
    pub fn with_reference(mut self, reference: RefundReference) -> Self {
        self.reference = Some(reference);
        self
    }

    /// Sets the refunded amount.
    #[must_use]
    pub fn with_amount(mut self, amount: Money) -> Self {
        self.amount = Some(amount);
        self
    }

    /// Sets the provider's raw status.
    #[must_use]
    pub fn with_raw_status(mut self, raw: impl Into<String>) -> Self {
        self.raw_status = Some(raw.into());
        self
    }

    /// Sets when the change happened (the provider's text).
    #[must_use]
    pub fn with_occurred_at(mut self, at: impl Into<String>) -> Self {
        self.occurred_at = Some(at.into());
        self
    }
}

/// What an authentic delivery was about.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WebhookOutcome {
    /// A refund event.
    Event(RefundEvent),
    /// An authentic delivery that is not about a refund, or of an event type this SDK does not
    /// know. Never an error: acknowledge it (2xx) so the provider does not redeliver it.
    #[non_exhaustive]
    Ignored {
        /// Which provider sent it.
        provider: ProviderId,
        /// The event type as received (empty when the payload names none).
        event_type: String,
        /// The de-duplication key, when the payload has what it is made of.
        delivery_id: Option<String>,
    },
}

impl WebhookOutcome {
    /// An ignored delivery.
    pub fn ignored(
        provider: ProviderId,
        event_type: impl Into<String>,
        delivery_id: Option<String>,
    ) -> Self {
        WebhookOutcome::Ignored {
            provider,
            event_type: event_type.into(),
            delivery_id,
        }
    }

    /// The provider that sent the delivery.
    pub fn provider(&self) -> &ProviderId {
        match self {
            WebhookOutcome::Event(e) => &e.provider,
            WebhookOutcome::Ignored { provider, .. } => provider,
        }
    }

    /// The event type as received.
    pub fn event_type(&self) -> &str {
        match self {
            WebhookOutcome::Event(e) => &e.event_type,
            WebhookOutcome::Ignored { event_type, .. } => event_type,
        }
    }

    /// The de-duplication key, when known.
    pub fn delivery_id(&self) -> Option<&str> {
        match self {
            WebhookOutcome::Event(e) => Some(&e.delivery_id),
            WebhookOutcome::Ignored { delivery_id, .. } => delivery_id.as_deref(),
        }
    }

    /// The refund event, unless the delivery was ignored.
    pub fn event(&self) -> Option<&RefundEvent> {
        match self {
            WebhookOutcome::Event(e) => Some(e),
            WebhookOutcome::Ignored { .. } => None,
        }
    }

    /// The refund event, unless the delivery was ignored.
    pub fn into_event(self) -> Option<RefundEvent> {
        match self {
            WebhookOutcome::Event(e) => Some(e),
            WebhookOutcome::Ignored { .. } => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The verifier trait

/// Authenticates one provider's webhook deliveries and parses them into refund events.
///
/// Object-safe and synchronous (verification does no I/O), so a web application holds
/// `Arc<dyn WebhookVerifier>` per provider and calls it from any handler.
///
/// # Contract for implementors
/// - Authenticate before parsing, on the raw body bytes; compare secrets and signatures in
///   constant time ([`secret_matches`] does it for header tokens).
/// - A failed check is [`WebhookAuth`](ErrorKind::WebhookAuth), a timestamp out of tolerance
///   [`WebhookStale`](ErrorKind::WebhookStale), an authentic body that cannot be read
///   [`WebhookMalformed`](ErrorKind::WebhookMalformed). An unknown or irrelevant event type is
///   `Ok(`[`WebhookOutcome::Ignored`]`)`, never an error.
/// - Errors never quote a secret, a signature or the body.
pub trait WebhookVerifier: Send + Sync + fmt::Debug {
    /// The provider whose deliveries this verifies.
    fn provider(&self) -> ProviderId;

    /// Verifies one delivery: `headers` as received, `body` the raw bytes as received, `peer`
    /// the address the connection came from when the caller knows it (only used by verifiers
    /// with an IP allow-list).
    ///
    /// # Errors
    /// [`WebhookAuth`](ErrorKind::WebhookAuth), [`WebhookStale`](ErrorKind::WebhookStale) or
    /// [`WebhookMalformed`](ErrorKind::WebhookMalformed), as in the module table.
    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome>;
}

impl<T: WebhookVerifier + ?Sized> WebhookVerifier for Arc<T> {
    fn provider(&self) -> ProviderId {
        (**self).provider()
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome> {
        (**self).verify(headers, body, peer)
    }
}

impl<T: WebhookVerifier + ?Sized> WebhookVerifier for Box<T> {
    fn provider(&self) -> ProviderId {
        (**self).provider()
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<WebhookOutcome> {
        (**self).verify(headers, body, peer)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for verifiers

/// Whether a presented token equals the configured secret, in constant time.
///
/// Both sides are hashed with SHA-256 first and the digests compared with
/// [`subtle::ConstantTimeEq`], so neither the content nor the length of the secret leaks through
/// timing. An empty secret matches nothing.
pub fn secret_matches(presented: &[u8], secret: &Secret) -> bool {
    if secret.is_empty() {
        return false;
    }
    let presented = Sha256::digest(presented);
    let expected = Sha256::digest(secret.expose_secret().as_bytes());
    bool::from(presented.ct_eq(&expected))
}

/// The one value of header `name`, or `None` when it is absent.
///
/// # Errors
/// [`WebhookAuth`](ErrorKind::WebhookAuth) when the header appears more than once: an
/// authentication header must be unambiguous.
pub fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h HeaderValue>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Error::new(
            ErrorKind::WebhookAuth,
            format!("the {name} header appears more than once"),
        ));
    }
    Ok(first)
}

/// Builds a [`HeaderMap`] from plain `(name, value)` pairs, for web frameworks that do not use
/// the `http` crate's types. Names match in any case; repeated names keep every value.
///
/// # Errors
/// [`WebhookMalformed`](ErrorKind::WebhookMalformed) when a name or value is not a valid HTTP
/// header name or value (the offending name is quoted, never a value).
pub fn header_map<I, K, V>(pairs: I) -> Result<HeaderMap>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = name.as_ref();
        let header = HeaderName::from_bytes(name).map_err(|_| {
            Error::new(
                ErrorKind::WebhookMalformed,
                format!(
                    "{:?} is not a valid header name",
                    String::from_utf8_lossy(name)
                        .chars()
                        .take(64)
                        .collect::<String>()
                ),
            )
        })?;
        let value = HeaderValue::from_bytes(value.as_ref()).map_err(|_| {
            Error::new(
                ErrorKind::WebhookMalformed,
                format!("the value of the {header} header is not a valid header value"),
            )
        })?;
        map.append(header, value);
    }
    Ok(map)
}

// ---------------------------------------------------------------------------------------------
// De-duplication

/// Whether a delivery was seen before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seen {
    /// First time (or its record expired): handle it.
    First,
    /// Recorded before: already handled, or being handled; acknowledge it again and do nothing.
    Duplicate,
}

/// Remembers which deliveries were handled, keyed by provider and delivery id.
///
/// Providers deliver at least once (PayNext retries for about a day and a half, §4.2; Payabli
/// advises de-duplicating on `transId` and `Event`, §4.3). Object-safe and async, so that it can
/// be backed by a shared store (Redis `SET key 1 NX EX ttl`, a unique database index);
/// [`MemoryDeduplicator`] is the in-process default.
pub trait Deduplicator: Send + Sync + fmt::Debug {
    /// Records the delivery and says whether it was already recorded. Must be atomic: of two
    /// concurrent calls with the same key, exactly one sees [`Seen::First`].
    ///
    /// # Errors
    /// The store's own failures; the caller should then answer the provider with a 5xx so the
    /// delivery is retried.
    fn check<'a>(
        &'a self,
        provider: &'a ProviderId,
        delivery_id: &'a str,
    ) -> BoxFuture<'a, Result<Seen>>;

    /// Forgets a delivery, so that its next redelivery is handled again. Call it when handling a
    /// delivery failed after [`check`](Self::check) recorded it.
    ///
    /// # Errors
    /// The store's own failures.
    fn forget<'a>(
        &'a self,
        provider: &'a ProviderId,
        delivery_id: &'a str,
    ) -> BoxFuture<'a, Result<()>>;
}

/// A bounded, in-memory [`Deduplicator`]: remembers the last `capacity` deliveries for `ttl`
/// each, evicting the oldest first. Cheap to clone; clones share the same memory.
///
/// Use it for a single process. Several processes behind a load balancer need a shared store.
#[derive(Clone)]
pub struct MemoryDeduplicator {
    inner: Arc<Mutex<DedupState>>,
    capacity: usize,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

type DedupKey = (ProviderId, String);

struct DedupState {
    /// Each remembered key with the sequence number of its record.
    seen: HashMap<DedupKey, u64>,
    /// Records in the order they were made, with when. A key forgotten and recorded again
    /// appears twice; the older entry no longer matches the key's sequence number and is
    /// dropped without touching the newer record. The queue never holds more than `capacity`
    /// entries, so the map never does either.
    order: VecDeque<(DedupKey, u64, SystemTime)>,
    /// The next sequence number.
    next: u64,
}

impl MemoryDeduplicator {
    /// How many deliveries are remembered by default.
    pub const DEFAULT_CAPACITY: usize = 10_000;
    /// How long a delivery is remembered by default: 48 hours, longer than PayNext's whole
    /// redelivery schedule (about 27.6 hours, §4.2).
    pub const DEFAULT_TTL: Duration = Duration::from_secs(48 * 60 * 60);

    /// Remembers up to `capacity` deliveries (at least 1), each for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        MemoryDeduplicator {
            inner: Arc::new(Mutex::new(DedupState {
                seen: HashMap::new(),
                order: VecDeque::new(),
                next: 0,
            })),
            capacity: capacity.max(1),
            ttl,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` to time the records (default: the system clock). For tests.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How many deliveries are remembered now (expired ones included until they are evicted).
    pub fn len(&self) -> usize {
        self.state().seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn state(&self) -> MutexGuard<'_, DedupState> {
        // The state is plain data updated in small steps that cannot panic halfway, so a
        // poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The synchronous work of [`Deduplicator::check`].
    pub fn check_now(&self, provider: &ProviderId, delivery_id: &str) -> Seen {
        let now = self.clock.now();
        let key = (provider.clone(), delivery_id.to_owned());
        let mut state = self.state();
        state.expire(now, self.ttl);
        if state.seen.contains_key(&key) {
            return Seen::Duplicate;
        }
        let seq = state.next;
        state.next = state.next.wrapping_add(1);
        state.seen.insert(key.clone(), seq);
        state.order.push_back((key, seq, now));
        while state.order.len() > self.capacity {
            if !state.evict_oldest() {
                break;
            }
        }
        Seen::First
    }

    /// The synchronous work of [`Deduplicator::forget`].
    pub fn forget_now(&self, provider: &ProviderId, delivery_id: &str) {
        let key = (provider.clone(), delivery_id.to_owned());
        self.state().seen.remove(&key);
    }
}

impl DedupState {
    /// Drops the records older than `ttl` from the front of the queue.
    fn expire(&mut self, now: SystemTime, ttl: Duration) {
        while let Some((_, _, at)) = self.order.front() {
            let expired = now.duration_since(*at).is_ok_and(|age| age >= ttl);
            if !expired || !self.evict_oldest() {
                break;
            }
        }
    }

    /// Removes the oldest queue entry, and its key unless the key was recorded again since.
    fn evict_oldest(&mut self) -> bool {
        let Some((key, seq, _)) = self.order.pop_front() else {
            return false;
        };
        if self.seen.get(&key) == Some(&seq) {
            self.seen.remove(&key);
        }
        true
    }
}

impl Default for MemoryDeduplicator {
    /// [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) deliveries for
    /// [`DEFAULT_TTL`](Self::DEFAULT_TTL).
    fn default() -> Self {
        MemoryDeduplicator::new(Self::DEFAULT_CAPACITY, Self::DEFAULT_TTL)
    }
}

impl fmt::Debug for MemoryDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDeduplicator")
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .field("len", &self.len())
            .finish()
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn check<'a>(
        &'a self,
        provider: &'a ProviderId,
        delivery_id: &'a str,
    ) -> BoxFuture<'a, Result<Seen>> {
        let seen = self.check_now(provider, delivery_id);
        Box::pin(std::future::ready(Ok(seen)))
    }

    fn forget<'a>(
        &'a self,
        provider: &'a ProviderId,
        delivery_id: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        self.forget_now(provider, delivery_id);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::ManualClock;

    const _: () = {
        const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
        assert_bounds::<MemoryDeduplicator>();
        assert_bounds::<RefundEvent>();
        assert_bounds::<WebhookOutcome>();
    };

    fn object_safe(_: &dyn WebhookVerifier, _: &dyn Deduplicator) {}

    #[derive(Debug)]
    struct Fixed;

    impl WebhookVerifier for Fixed {
        fn provider(&self) -> ProviderId {
            ProviderId::PLEXY
        }
        fn verify(
            &self,
            headers: &HeaderMap,
            body: &[u8],
            _peer: Option<IpAddr>,
        ) -> Result<WebhookOutcome> {
            let token = single_header(headers, "x-token")?
                .ok_or_else(|| Error::new(ErrorKind::WebhookAuth, "missing x-token"))?;
            if !secret_matches(token.as_bytes(), &Secret::new("s3cret")) {
                return Err(Error::new(ErrorKind::WebhookAuth, "wrong token"));
            }
            Ok(WebhookOutcome::ignored(
                ProviderId::PLEXY,
                String::from_utf8_lossy(body),
                None,
            ))
        }
    }

    #[test]
    fn verifiers_are_usable_through_arc_and_box() {
        let headers = header_map([("X-Token", "s3cret")]).unwrap();
        let arc: Arc<dyn WebhookVerifier> = Arc::new(Fixed);
        let boxed: Box<dyn WebhookVerifier> = Box::new(Fixed);
        object_safe(&arc, &MemoryDeduplicator::default());
        for v in [&arc as &dyn WebhookVerifier, &boxed] {
            assert_eq!(v.provider(), ProviderId::PLEXY);
            let outcome = v.verify(&headers, b"ping", None).unwrap();
            assert_eq!(outcome.event_type(), "ping");
            assert_eq!(outcome.delivery_id(), None);
            assert_eq!(outcome.event(), None);
        }
    }

    #[test]
    fn secret_comparison() {
        let secret = Secret::new("s3cret");
        assert!(secret_matches(b"s3cret", &secret));
        for wrong in [&b"s3creT"[..], b"s3cre", b"s3cret ", b"", b"S3CRET"] {
            assert!(!secret_matches(wrong, &secret), "{wrong:?}");
        }
        assert!(
            !secret_matches(b"", &Secret::new("")),
            "an empty secret matches nothing"
        );
    }

    #[test]
    fn single_header_refuses_duplicates() {
        let headers = header_map([("x-a", "1"), ("X-A", "2"), ("x-b", "3")]).unwrap();
        let e = single_header(&headers, "x-a").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WebhookAuth);
        assert_eq!(
            single_header(&headers, "X-B")
                .unwrap()
                .map(HeaderValue::as_bytes),
            Some(&b"3"[..])
        );
        assert_eq!(single_header(&headers, "x-c").unwrap(), None);
    }

    #[test]
    fn header_map_refuses_invalid_names_and_values() {
        let e = header_map([("bad name", "x")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WebhookMalformed);
        assert!(e.to_string().contains("bad name"), "{e}");
        let e = header_map([("x-ok", "line\nbreak")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WebhookMalformed);
        assert!(
            !e.to_string().contains("line"),
            "values are never quoted: {e}"
        );
    }

    #[test]
    fn events_and_outcomes() {
        let event = RefundEvent::new(
            ProviderId::PAYNEXT,
            "refund.updated",
            "msg_1",
            RefundStatus::Succeeded,
        )
        .with_payment_id(PaymentId::new("pay_1").unwrap())
        .with_refund_id(RefundId::new("re_1").unwrap())
        .with_reference(RefundReference::new("rf-1").unwrap())
        .with_amount(Money::from_minor(1050, crate::Currency::USD).unwrap())
        .with_raw_status("SUCCEEDED")
        .with_occurred_at("2025-05-26T10:16:10Z");
        let outcome = WebhookOutcome::Event(event.clone());
        assert_eq!(outcome.provider(), &ProviderId::PAYNEXT);
        assert_eq!(outcome.delivery_id(), Some("msg_1"));
        assert_eq!(outcome.event_type(), "refund.updated");
        assert_eq!(outcome.event(), Some(&event));
        assert_eq!(
            serde_json::to_string(&outcome).unwrap(),
            r#"{"outcome":"event","provider":"paynext","event_type":"refund.updated","delivery_id":"msg_1","payment_id":"pay_1","refund_id":"re_1","reference":"rf-1","status":"succeeded","amount":{"amount":"10.50","currency":"USD"},"raw_status":"SUCCEEDED","occurred_at":"2025-05-26T10:16:10Z"}"#
        );
        assert_eq!(outcome.into_event(), Some(event));
        let ignored = WebhookOutcome::ignored(ProviderId::PLEXY, "transaction.charged", None);
        assert_eq!(
            serde_json::to_string(&ignored).unwrap(),
            r#"{"outcome":"ignored","provider":"plexy","event_type":"transaction.charged","delivery_id":null}"#
        );
        assert_eq!(ignored.into_event(), None);
    }

    #[tokio::test]
    async fn memory_dedup_detects_repeats_per_provider() {
        let dedup = MemoryDeduplicator::default();
        let d: &dyn Deduplicator = &dedup;
        assert_eq!(
            d.check(&ProviderId::PAYNEXT, "msg_1").await.unwrap(),
            Seen::First
        );
        assert_eq!(
            d.check(&ProviderId::PAYNEXT, "msg_1").await.unwrap(),
            Seen::Duplicate
        );
        assert_eq!(
            d.check(&ProviderId::PLEXY, "msg_1").await.unwrap(),
            Seen::First
        );
        assert_eq!(dedup.len(), 2);
        d.forget(&ProviderId::PAYNEXT, "msg_1").await.unwrap();
        assert_eq!(
            d.check(&ProviderId::PAYNEXT, "msg_1").await.unwrap(),
            Seen::First
        );
        let clone = dedup.clone();
        assert_eq!(
            clone.check_now(&ProviderId::PLEXY, "msg_1"),
            Seen::Duplicate
        );
    }

    #[test]
    fn memory_dedup_is_bounded() {
        let dedup = MemoryDeduplicator::new(3, Duration::from_secs(3600));
        for id in ["a", "b", "c", "d"] {
            assert_eq!(dedup.check_now(&ProviderId::PLEXY, id), Seen::First);
        }
        assert_eq!(dedup.len(), 3);
        // "a" was evicted, the others are remembered.
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "d"), Seen::Duplicate);
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "b"), Seen::Duplicate);
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "a"), Seen::First);
        assert_eq!(dedup.len(), 3);
        assert_eq!(
            MemoryDeduplicator::new(0, Duration::from_secs(1)).capacity,
            1
        );
    }

    #[test]
    fn memory_dedup_expires_records() {
        let clock = ManualClock::default();
        let dedup = MemoryDeduplicator::new(10, Duration::from_secs(60))
            .with_clock(Arc::new(clock.clone()));
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "a"), Seen::First);
        clock.advance(Duration::from_secs(30));
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "b"), Seen::First);
        clock.advance(Duration::from_secs(29));
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "a"), Seen::Duplicate);
        clock.advance(Duration::from_secs(1));
        // "a" is 60 s old now: expired. "b" is 30 s old: remembered.
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "a"), Seen::First);
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "b"), Seen::Duplicate);
        clock.advance(Duration::from_secs(45));
        // "b" expired; "a" was recorded again 45 s ago.
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "b"), Seen::First);
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "a"), Seen::Duplicate);
        assert_eq!(dedup.len(), 2);
    }

    #[test]
    fn forgetting_then_recording_again_survives_eviction_of_the_old_entry() {
        // The clock stands still, so only sequence numbers tell the two records of "a" apart.
        let dedup = MemoryDeduplicator::new(2, Duration::from_secs(3600))
            .with_clock(Arc::new(ManualClock::default()));
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "a"), Seen::First);
        dedup.forget_now(&ProviderId::PLEXY, "a");
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "a"), Seen::First);
        // Recording "b" evicts the first (forgotten) entry of "a", not its newer record.
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "b"), Seen::First);
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "a"), Seen::Duplicate);
        assert_eq!(dedup.check_now(&ProviderId::PLEXY, "b"), Seen::Duplicate);
        assert_eq!(dedup.len(), 2);
        // Forgetting over and over never grows the memory beyond the capacity.
        for _ in 0..100 {
            dedup.forget_now(&ProviderId::PLEXY, "c");
            dedup.check_now(&ProviderId::PLEXY, "c");
        }
        assert_eq!(dedup.state().order.len(), 2);
        assert!(format!("{dedup:?}").contains("capacity: 2"));
    }
}
