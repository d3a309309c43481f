//! The Plexy emulator (contract §1): base URL `http://127.0.0.1:PORT/v1`.
//!
//! | operation | request | answers |
//! |---|---|---|
//! | P-R1/P-R2 refund | `POST /v1/payments/{id}/refund` | 200 approved/declined/wait, 400, 401, 404 |
//! | P-L1 transaction | `GET /v1/transactions/{id}` (payment or refund) | 200, 401, 404 |
//! | P-L2 by reference | `GET /v1/transactions/by-order-reference/{ref}` | 200, 401, 404 |
//!
//! Authentication: `Authorization: <raw key>` ([`DEFAULT_API_KEY`] unless configured); a missing
//! or different value, including `Bearer <key>`, gets 401 `{"message":"unauthorized","type":"apiError"}`.
//!
//! Request checks, each answered with HTTP 400 and Plexy's error body:
//! - code 3 `{"code":3,"message":"Invalid Request Params","source":"refund","type":"apiError"}`:
//!   `Content-Type` is not `application/json`, the body is not a JSON object, has a field other
//!   than `orderReference`, `description`, `amount`, `minorAmount`, or repeats one;
//! - code 5 `{"code":5,"message":"Unprocessable Entity","source":"refund","type":"validationError"}`:
//!   `orderReference` missing or not a §0.1 reference; `description` not a string; only one of
//!   `amount`/`minorAmount`, either `null`; `amount` not a JSON number,
//!   zero, negative or with more fraction digits than the currency; `minorAmount` not a plain
//!   integer or different from `amount` × 10^e.
//!
//! Business refusals are also HTTP 400 with the code-5 body (our reading of §1.4, whose table puts
//! "not refundable" and "amount > remainingBalance" under 400): a payment whose status is neither
//! `charged` nor `refunded`, a remaining balance of zero (a second full refund), or an amount above
//! the remaining balance. Unknown payment: 404 `{"code":4,"message":"Not Found","source":"transactions","type":"apiError"}`.
//!
//! A valid refund creates a refund transaction with the `orderReference` and answers 200:
//! - approved (`success:true`, `responseCode` `00`): the balance drops, the payment's status
//!   becomes `refunded`, the transaction's status is `refunded`;
//! - declined (payments seeded with [`PlexyRefundBehaviour::Decline`]): `success:false`, the seeded
//!   `responseCode` (`05`, `51`, …), balance unchanged, transaction status `rejected`;
//! - wait ([`PlexyRefundBehaviour::Wait`]): `success:false`, `responseCode` `09`, the amount is
//!   reserved, the transaction is `created` and becomes `refunded` after the configured
//!   [`PlexyConfig::pending_delay`].
//!
//! Plexy has no idempotency (§1.6): the same `orderReference` sent twice creates two refunds, and
//! the truth API counts both. P-L2 returns the first refund transaction with the reference, else
//! a payment whose own `orderReference` matches, else 404 with Plexy's JSON error body.
//!
//! "Route missing" mode ([`PlexyConfig::route_missing`], [`PlexySandbox::set_route_missing`](crate::PlexySandbox::set_route_missing),
//! `POST /_sandbox/modes` with `{"route_missing":true}`, `GET /_sandbox/modes` to read it): P-L2
//! answers every reference with 404 `{"message":"Not Found"}` (`application/json`, no `code`),
//! the Go web framework's answer for a route it does not have, which proves nothing.
//!
//! Admin payment JSON (`POST /_sandbox/payments`): `{"id": "…", "amount": "10.50", "currency":
//! "USD", "status": "charged", "order_reference": "…", "refunded": "2.00", "behaviour":
//! "approve" | "decline" | "wait", "decline_code": "05"}`; only `amount` and `currency` are
//! required (the id defaults to `plexy-admin-<n>`, the decline code to `05`), as in
//! [`PlexyPayment`].
//!
//! Webhooks (§4.1, see [`crate::webhook`]): every refund transaction the emulator creates is
//! announced as `transaction.refunded` (approved), `transaction.rejected` (declined) or
//! `transaction.created` (`09` wait), and a `09` refund again as `transaction.refunded` when it
//! becomes final, with `Authorization: Bearer <token>` ([`DEFAULT_WEBHOOK_TOKEN`] unless
//! configured). The body, with amounts in major units and ids as plain strings:
//!
//! ```json
//! {"name":"transaction.refunded","merchantId":"sandbox-merchant","data":{"id":"00000000-0000-4000-8000-00000000000c","type":"refund","status":"refunded","amount":10.50,"currency":"USD","merchantReference":"rf-7f3c2b","parentTransactionId":"plexy-usd-refundable","createdAt":"2025-12-15T07:41:24Z","updatedAt":"2025-12-15T07:41:24Z"}}
//! ```

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode};
use refund_core::{Currency, Error, JsonDecimal, Money, RefundReference, Secret};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::delivery::{Outbox, Scheme};
use crate::record::{
    Fate, Ledger, Operation, PaymentSnapshot, RefundEntry, RefundRecord, Resolved, money, zero_of,
};
use crate::server::{Call, Provider, Reply, Routing, lock};
use crate::util::{header, is_json_content_type, json_amount, minor_units, rfc3339, seed_time};
use crate::webhook::WebhookConfig;
use crate::{DEFAULT_ADDR, admin_money, check_new_payment};

/// The API key the Plexy emulator accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "plexy_sandbox_key";

/// The webhook token sent as `Authorization: Bearer <token>` (§4.1) unless
/// [`WebhookConfig::secret`] says otherwise.
pub const DEFAULT_WEBHOOK_TOKEN: &str = "plexy_webhook_token";

/// The `merchantId` of the emulator's webhook envelopes.
pub const WEBHOOK_MERCHANT_ID: &str = "sandbox-merchant";

/// The ids of the seeded Plexy payments.
///
/// | id | amount | status | refunds answer |
/// |---|---|---|---|
/// | [`FIXTURE_KZT`](seed::FIXTURE_KZT) | 200.00 KZT, `orderReference` `ORDER-784512` | `charged` | approved |
/// | [`REFUNDABLE_USD`](seed::REFUNDABLE_USD) | 100.00 USD | `charged` | approved |
/// | [`PARTIALLY_REFUNDED_USD`](seed::PARTIALLY_REFUNDED_USD) | 100.00 USD, 30.00 refunded (reference `seed-plexy-usd-partially-refunded`), balance 70.00 | `refunded` | approved |
/// | [`FULLY_REFUNDED_USD`](seed::FULLY_REFUNDED_USD) | 25.00 USD, all refunded (reference `seed-plexy-usd-fully-refunded`), balance 0 | `refunded` | 400 |
/// | [`AUTHORIZED_USD`](seed::AUTHORIZED_USD) | 50.00 USD | `authorized` | 400 (cancel instead) |
/// | [`DECLINE_05_USD`](seed::DECLINE_05_USD) | 100.00 USD | `charged` | declined `05` |
/// | [`DECLINE_51_USD`](seed::DECLINE_51_USD) | 100.00 USD | `charged` | declined `51` |
/// | [`WAIT_09_USD`](seed::WAIT_09_USD) | 100.00 USD | `charged` | `09` wait, then refunded |
/// | [`REFUNDABLE_JPY`](seed::REFUNDABLE_JPY) | 10000 JPY | `charged` | approved |
/// | [`REFUNDABLE_KWD`](seed::REFUNDABLE_KWD) | 12.345 KWD | `charged` | approved |
/// | [`SLASH_ID_USD`](seed::SLASH_ID_USD) | 100.00 USD, id `plexy/with slash` | `charged` | approved |
pub mod seed {
    /// The contract's fixture payment (§1.7): 200.00 KZT, charged.
    pub const FIXTURE_KZT: &str = "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae";
    /// 100.00 USD, charged.
    pub const REFUNDABLE_USD: &str = "plexy-usd-refundable";
    /// 100.00 USD with 30.00 already refunded: status `refunded`, balance 70.00.
    pub const PARTIALLY_REFUNDED_USD: &str = "plexy-usd-partially-refunded";
    /// 25.00 USD fully refunded: balance 0, any refund gets 400.
    pub const FULLY_REFUNDED_USD: &str = "plexy-usd-fully-refunded";
    /// 50.00 USD, `authorized` (not captured): any refund gets 400.
    pub const AUTHORIZED_USD: &str = "plexy-usd-authorized";
    /// 100.00 USD, charged; every refund is declined with `responseCode` `05`.
    pub const DECLINE_05_USD: &str = "plexy-usd-decline-05";
    /// 100.00 USD, charged; every refund is declined with `responseCode` `51`.
    pub const DECLINE_51_USD: &str = "plexy-usd-decline-51";
    /// 100.00 USD, charged; every refund answers `09` (wait) and is approved after the pending
    /// delay.
    pub const WAIT_09_USD: &str = "plexy-usd-wait-09";
    /// 10000 JPY (0 fraction digits), charged.
    pub const REFUNDABLE_JPY: &str = "plexy-jpy-refundable";
    /// 12.345 KWD (3 fraction digits), charged.
    pub const REFUNDABLE_KWD: &str = "plexy-kwd-refundable";
    /// 100.00 USD, charged, with an id that needs percent-encoding (`/` and a space).
    pub const SLASH_ID_USD: &str = "plexy/with slash";
}

/// Configuration of the Plexy emulator.
#[derive(Clone, Debug)]
#[must_use]
pub struct PlexyConfig {
    pub(crate) addr: SocketAddr,
    pub(crate) api_key: Secret,
    pub(crate) seeded: bool,
    pub(crate) pending_delay: Duration,
    pub(crate) webhook: Option<WebhookConfig>,
    pub(crate) route_missing: bool,
}

impl Default for PlexyConfig {
    fn default() -> Self {
        PlexyConfig {
            addr: DEFAULT_ADDR,
            api_key: Secret::new(DEFAULT_API_KEY),
            seeded: true,
            pending_delay: Duration::from_secs(1),
            webhook: None,
            route_missing: false,
        }
    }
}

impl PlexyConfig {
    /// The address to listen on. Default `127.0.0.1:0` (an ephemeral port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The accepted API key. Default [`DEFAULT_API_KEY`].
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Starts without the seeded payments of [`seed`]. Default: seeded.
    pub fn without_seed(mut self) -> Self {
        self.seeded = false;
        self
    }

    /// How long a `09` (wait) refund stays `created` before it reads `refunded`. Default 1 s.
    pub fn pending_delay(mut self, delay: Duration) -> Self {
        self.pending_delay = delay;
        self
    }

    /// Registers a webhook endpoint from the start (see [`crate::webhook`]); `start_with` fails
    /// with [`InvalidInput`](refund_core::ErrorKind::InvalidInput) when it is invalid. Default
    /// none.
    pub fn webhook(mut self, webhook: WebhookConfig) -> Self {
        self.webhook = Some(webhook);
        self
    }

    /// Starts in "route missing" mode (see [`PlexySandbox::set_route_missing`](crate::PlexySandbox::set_route_missing)), and returns to
    /// it on every reset. Default off.
    pub fn route_missing(mut self) -> Self {
        self.route_missing = true;
        self
    }
}

/// How the emulator answers refunds of a payment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlexyRefundBehaviour {
    /// Approve (`success:true`, `00`).
    #[default]
    Approve,
    /// Decline with this `responseCode` (`success:false`), for example `05` or `51`.
    Decline(String),
    /// Answer `09` (wait): the amount is reserved and the refund is approved after the pending
    /// delay.
    Wait,
}

/// A payment to create on the Plexy emulator.
///
/// ```
/// use refund_core::{Currency, Money};
/// use refund_sandbox::plexy::{PlexyPayment, PlexyRefundBehaviour};
///
/// # fn main() -> Result<(), refund_core::Error> {
/// let payment = PlexyPayment::new("pl-1", Money::parse("20.00", Currency::EUR)?)
///     .order_reference("ORDER-1")
///     .behaviour(PlexyRefundBehaviour::Decline("51".into()));
/// # let _ = payment; Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct PlexyPayment {
    id: String,
    amount: Money,
    status: String,
    order_reference: Option<String>,
    refunded: Option<Money>,
    behaviour: PlexyRefundBehaviour,
}

impl PlexyPayment {
    /// A `charged` payment of `amount` whose refunds are approved.
    pub fn new(id: impl Into<String>, amount: Money) -> Self {
        PlexyPayment {
            id: id.into(),
            amount,
            status: "charged".to_owned(),
            order_reference: None,
            refunded: None,
            behaviour: PlexyRefundBehaviour::Approve,
        }
    }

    /// The transaction status (§1.5), for example `authorized`. Default `charged`. Refunds are
    /// accepted for `charged` and `refunded` only.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = status.into();
        self
    }

    /// The payment's own `orderReference`. Default none.
    pub fn order_reference(mut self, reference: impl Into<String>) -> Self {
        self.order_reference = Some(reference.into());
        self
    }

    /// Records an earlier approved refund of this amount (reference `seed-<payment id>`); the status
    /// becomes `refunded` unless set explicitly afterwards. Default none.
    pub fn already_refunded(mut self, amount: Money) -> Self {
        self.refunded = Some(amount);
        if self.status == "charged" {
            self.status = "refunded".to_owned();
        }
        self
    }

    /// How refunds are answered. Default [`PlexyRefundBehaviour::Approve`].
    pub fn behaviour(mut self, behaviour: PlexyRefundBehaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}

#[derive(Debug)]
struct PaymentState {
    amount: Money,
    zero: Money,
    status: String,
    order_reference: Option<String>,
    behaviour: PlexyRefundBehaviour,
    created_at: SystemTime,
}

/// The Plexy emulator's state.
pub(crate) struct PlexyEmulator {
    pub(crate) api_key: Secret,
    seeded: bool,
    pending_delay: Duration,
    ledger: Mutex<Ledger<PaymentState>>,
    outbox: Outbox,
    /// The configured "route missing" mode, restored on reset.
    route_missing_configured: bool,
    /// Whether P-L2 answers like an unknown route of the web framework.
    route_missing: AtomicBool,
}

/// A routed Plexy operation.
pub(crate) enum PlexyRoute {
    Refund(String),
    Transaction(String),
    ByOrderReference(String),
}

impl PlexyEmulator {
    pub(crate) fn new(config: PlexyConfig) -> Result<Self, Error> {
        let emulator = PlexyEmulator {
            api_key: config.api_key,
            seeded: config.seeded,
            pending_delay: config.pending_delay,
            ledger: Mutex::new(Ledger::default()),
            outbox: Outbox::new(Scheme::Plexy, config.webhook)?,
            route_missing_configured: config.route_missing,
            route_missing: AtomicBool::new(config.route_missing),
        };
        emulator.reset_checked()?;
        Ok(emulator)
    }

    fn reset_checked(&self) -> Result<(), Error> {
        let mut fresh = Ledger::default();
        if self.seeded {
            for (offset, payment) in seed_payments()?.into_iter().enumerate() {
                let at = seed_time(u64::try_from(offset).unwrap_or(0) * 60);
                add_to(&mut fresh, payment, at)?;
            }
        }
        *lock(&self.ledger) = fresh;
        self.route_missing
            .store(self.route_missing_configured, Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn add(&self, payment: PlexyPayment) -> Result<PaymentSnapshot, Error> {
        let mut ledger = lock(&self.ledger);
        let id = payment.id.clone();
        add_to(&mut ledger, payment, SystemTime::now())?;
        snapshot(&ledger, &id).ok_or_else(|| Error::invalid_input("payment vanished"))
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        header(headers, "authorization") == Some(self.api_key.expose_secret())
    }

    fn refund(&self, payment_id: &str, call: &Call<'_>) -> Reply {
        if !is_json_content_type(header(call.headers, "content-type")) {
            return invalid_params("Content-Type must be application/json");
        }
        // serde also reads a struct from a JSON array; Plexy's body is an object only.
        if call.body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return invalid_params("the refund body must be a JSON object");
        }
        let body: RefundBody = match serde_json::from_slice(call.body) {
            Ok(b) => b,
            Err(e) => return invalid_params(format!("malformed refund body: {e}")),
        };
        let now = Instant::now();
        let mut ledger = lock(&self.ledger);
        let Some(payment) = ledger.payments.get(payment_id) else {
            return not_found(format!("no payment {payment_id:?}"));
        };
        let currency = payment.amount.currency();
        let (amount, status, behaviour, zero) = (
            payment.amount,
            payment.status.clone(),
            payment.behaviour.clone(),
            payment.zero,
        );

        let reference = match body.order_reference.as_deref().map(RawValue::get) {
            None => return validation("orderReference is required"),
            Some(raw) => match serde_json::from_str::<String>(raw) {
                Ok(s) => s,
                Err(_) => return validation("orderReference must be a string"),
            },
        };
        if let Err(e) = RefundReference::new(reference.clone()) {
            return validation(format!("orderReference: {e}"));
        }
        let description = match body.description.as_deref().map(RawValue::get) {
            None => None,
            Some(raw) => match serde_json::from_str::<String>(raw) {
                Ok(s) => Some(s),
                Err(_) => return validation("description must be a string"),
            },
        };
        let requested = match (body.amount.as_deref(), body.minor_amount.as_deref()) {
            (None, None) => None,
            (Some(a), Some(m)) => {
                let major = match json_amount(a.get(), currency) {
                    Ok(money) => money,
                    Err(p) => return validation(p.describe("amount", currency)),
                };
                let Some(minor) = minor_units(m.get()) else {
                    return validation("minorAmount must be a plain integer of minor units");
                };
                if minor != major.minor_units() {
                    return validation(format!(
                        "minorAmount {minor} does not equal amount {} × 10^{}",
                        major.decimal_text(),
                        currency.exponent()
                    ));
                }
                Some(major)
            }
            _ => return validation("amount and minorAmount must be sent together"),
        };

        if status != "charged" && status != "refunded" {
            return validation(format!("payment is not refundable in status {status}"));
        }
        let refunded = ledger.refunded_minor(payment_id);
        let balance = amount.minor_units() - refunded;
        if balance <= 0 {
            return validation("payment has no remaining balance to refund");
        }
        let refund_amount = requested.unwrap_or_else(|| money(balance, zero));
        if refund_amount.minor_units() > balance {
            return validation(format!(
                "amount {} exceeds the remaining balance {}",
                refund_amount.decimal_text(),
                money(balance, zero).decimal_text()
            ));
        }

        let number = ledger.next_number();
        let fate = match &behaviour {
            PlexyRefundBehaviour::Approve => Fate::Approved,
            PlexyRefundBehaviour::Decline(code) => Fate::Declined(code.clone()),
            PlexyRefundBehaviour::Wait => Fate::Pending {
                until: now + self.pending_delay,
                approve: true,
            },
        };
        let entry = RefundEntry {
            id: format!("00000000-0000-4000-8000-{number:012x}"),
            payment_id: payment_id.to_owned(),
            reference: Some(reference.clone()),
            amount: refund_amount,
            fate,
            created_at: SystemTime::now(),
            created_instant: now,
            link_id: 0,
            note: description,
            announced_final: false,
        };
        let applied = entry.applied();
        let id = entry.id.clone();
        emit_webhook(&self.outbox, &entry, entry.initial(), entry.created_at);
        ledger.refunds.push(entry);
        if applied && let Some(p) = ledger.payments.get_mut(payment_id) {
            p.status = "refunded".to_owned();
        }
        let remaining = money(balance - refund_amount.minor_units(), zero);
        let unchanged = money(balance, zero);
        let answer = match &behaviour {
            PlexyRefundBehaviour::Approve => RefundAnswer {
                id,
                response_code: if call.unknown_enum { "Z9" } else { "00" }.to_owned(),
                network_transaction_reference: Some(format!("{:012}", 927_462_000_000 + number)),
                auth_code: Some(format!("A{:05}", number % 100_000)),
                amount: refund_amount.to_json_number(),
                order_reference: reference,
                remaining_balance: Some(remaining.to_json_number()),
                success: true,
                message: "approved".to_owned(),
                original_transaction_id: payment_id.to_owned(),
            },
            PlexyRefundBehaviour::Decline(code) => RefundAnswer {
                id,
                response_code: code.clone(),
                network_transaction_reference: None,
                auth_code: None,
                amount: refund_amount.to_json_number(),
                order_reference: reference,
                remaining_balance: Some(unchanged.to_json_number()),
                success: false,
                message: decline_message(code).to_owned(),
                original_transaction_id: payment_id.to_owned(),
            },
            PlexyRefundBehaviour::Wait => RefundAnswer {
                id,
                response_code: "09".to_owned(),
                network_transaction_reference: None,
                auth_code: None,
                amount: refund_amount.to_json_number(),
                order_reference: reference,
                remaining_balance: None,
                success: false,
                message: "wait".to_owned(),
                original_transaction_id: payment_id.to_owned(),
            },
        };
        Reply::json(StatusCode::OK, &answer)
    }

    fn transaction(&self, id: &str, call: &Call<'_>) -> Reply {
        let ledger = lock(&self.ledger);
        let now = Instant::now();
        let found = match payment_transaction(&ledger, id, now) {
            Some(t) => Some(t),
            None => ledger
                .refund_by_id(id)
                .and_then(|r| refund_transaction(r, now)),
        };
        match found {
            Some(t) => transaction_reply(t, call.unknown_enum),
            None => not_found(format!("no transaction {id:?}")),
        }
    }

    fn by_order_reference(&self, reference: &str, call: &Call<'_>) -> Reply {
        let ledger = lock(&self.ledger);
        let now = Instant::now();
        let refund = ledger
            .first_refund_with_reference(reference)
            .and_then(|r| refund_transaction(r, now));
        let found = refund.or_else(|| {
            ledger
                .order
                .iter()
                .find(|id| {
                    ledger
                        .payments
                        .get(*id)
                        .is_some_and(|p| p.order_reference.as_deref() == Some(reference))
                })
                .and_then(|id| payment_transaction(&ledger, id, now))
        });
        match found {
            Some(t) => transaction_reply(t, call.unknown_enum),
            None => not_found(format!("no transaction with orderReference {reference:?}")),
        }
    }

    fn admin_create(&self, body: &[u8]) -> Result<PaymentSnapshot, String> {
        let spec: AdminPayment = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let currency = Currency::from_code(&spec.currency).map_err(|e| e.to_string())?;
        let id = match spec.id {
            Some(id) => id,
            None => format!("plexy-admin-{}", lock(&self.ledger).next_number()),
        };
        let mut payment = PlexyPayment::new(id, admin_money(spec.amount, currency)?);
        if let Some(r) = spec.order_reference {
            payment = payment.order_reference(r);
        }
        if let Some(r) = spec.refunded {
            payment = payment.already_refunded(admin_money(r, currency)?);
        }
        if let Some(s) = spec.status {
            payment = payment.status(s);
        }
        payment = payment.behaviour(match spec.behaviour.as_deref() {
            None | Some("approve") => PlexyRefundBehaviour::Approve,
            Some("decline") => {
                PlexyRefundBehaviour::Decline(spec.decline_code.unwrap_or_else(|| "05".to_owned()))
            }
            Some("wait") => PlexyRefundBehaviour::Wait,
            Some(other) => {
                return Err(format!(
                    "unknown behaviour {other:?} (approve, decline, wait)"
                ));
            }
        });
        self.add(payment).map_err(|e| e.to_string())
    }
}

fn add_to(
    ledger: &mut Ledger<PaymentState>,
    payment: PlexyPayment,
    at: SystemTime,
) -> Result<(), Error> {
    check_new_payment(&payment.id, payment.amount, &ledger.payments)?;
    if let PlexyRefundBehaviour::Decline(code) = &payment.behaviour
        && (code.is_empty() || code == "00" || code == "09")
    {
        return Err(Error::invalid_input(format!(
            "decline code must be a non-approving responseCode, got {code:?}"
        )));
    }
    if payment.status.is_empty() {
        return Err(Error::invalid_input("status must not be empty"));
    }
    let zero = zero_of(payment.amount.currency())?;
    if let Some(refunded) = payment.refunded {
        if refunded.currency() != payment.amount.currency()
            || refunded.minor_units() > payment.amount.minor_units()
            || refunded.is_zero()
        {
            return Err(Error::invalid_input(
                "already refunded amount must be positive, in the payment's currency and at most its amount",
            ));
        }
        let number = ledger.next_number();
        ledger.refunds.push(RefundEntry {
            id: format!("00000000-0000-4000-8000-{number:012x}"),
            payment_id: payment.id.clone(),
            reference: Some(format!("seed-{}", payment.id)),
            amount: refunded,
            fate: Fate::Approved,
            created_at: at + Duration::from_secs(30),
            created_instant: Instant::now(),
            link_id: 0,
            note: None,
            announced_final: false,
        });
    }
    ledger.insert(
        payment.id,
        PaymentState {
            amount: payment.amount,
            zero,
            status: payment.status,
            order_reference: payment.order_reference,
            behaviour: payment.behaviour,
            created_at: at,
        },
    );
    Ok(())
}

fn seed_payments() -> Result<Vec<PlexyPayment>, Error> {
    let usd = |text: &str| Money::parse(text, Currency::USD);
    Ok(vec![
        PlexyPayment::new(seed::FIXTURE_KZT, Money::parse("200.00", Currency::KZT)?)
            .order_reference("ORDER-784512"),
        PlexyPayment::new(seed::REFUNDABLE_USD, usd("100.00")?),
        PlexyPayment::new(seed::PARTIALLY_REFUNDED_USD, usd("100.00")?)
            .already_refunded(usd("30.00")?),
        PlexyPayment::new(seed::FULLY_REFUNDED_USD, usd("25.00")?).already_refunded(usd("25.00")?),
        PlexyPayment::new(seed::AUTHORIZED_USD, usd("50.00")?).status("authorized"),
        PlexyPayment::new(seed::DECLINE_05_USD, usd("100.00")?)
            .behaviour(PlexyRefundBehaviour::Decline("05".into())),
        PlexyPayment::new(seed::DECLINE_51_USD, usd("100.00")?)
            .behaviour(PlexyRefundBehaviour::Decline("51".into())),
        PlexyPayment::new(seed::WAIT_09_USD, usd("100.00")?).behaviour(PlexyRefundBehaviour::Wait),
        PlexyPayment::new(seed::REFUNDABLE_JPY, Money::parse("10000", Currency::JPY)?),
        PlexyPayment::new(seed::REFUNDABLE_KWD, Money::parse("12.345", Currency::KWD)?),
        PlexyPayment::new(seed::SLASH_ID_USD, usd("100.00")?),
    ])
}

fn snapshot(ledger: &Ledger<PaymentState>, id: &str) -> Option<PaymentSnapshot> {
    let p = ledger.payments.get(id)?;
    let refunded = ledger.refunded_minor(id);
    Some(PaymentSnapshot {
        id: id.to_owned(),
        amount: p.amount,
        status: p.status.clone(),
        settlement_status: None,
        service_fee: None,
        refunded: money(refunded, p.zero),
        balance: money(p.amount.minor_units() - refunded, p.zero),
        refunds_applied: ledger.applied_count(id),
    })
}

fn record(r: &RefundEntry, now: Instant) -> RefundRecord {
    RefundRecord {
        id: r.id.clone(),
        payment_id: r.payment_id.clone(),
        reference: r.reference.clone(),
        amount: r.amount,
        status: refund_status(r.resolved(now)).to_owned(),
        applied: r.applied(),
        created_at: r.created_at,
    }
}

fn refund_status(resolved: Resolved) -> &'static str {
    match resolved {
        Resolved::Approved => "refunded",
        Resolved::Declined => "rejected",
        Resolved::Pending => "created",
    }
}

fn decline_message(code: &str) -> &'static str {
    match code {
        "05" => "Authorization declined",
        "51" => "Insufficient funds",
        "61" => "Exceeds withdrawal limit",
        "64" => "Referencing amount greater than original amount",
        "80" => "Amount no longer available",
        "91" => "Issuer unreachable",
        "96" => "Processing temporarily impossible",
        _ => "Declined",
    }
}

/// The refund POST body, with each field kept raw so that `null` and absent stay distinct.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RefundBody {
    #[serde(default, deserialize_with = "present")]
    amount: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    minor_amount: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    order_reference: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Box<RawValue>>,
}

/// A present field, even `null`, is `Some(raw)`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefundAnswer {
    id: String,
    response_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_transaction_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_code: Option<String>,
    amount: JsonDecimal,
    order_reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining_balance: Option<JsonDecimal>,
    success: bool,
    message: String,
    original_transaction_id: String,
}

/// The canonical Transaction object of §1.4.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Transaction {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    status: String,
    amount: JsonDecimal,
    currency: String,
    order_reference: Option<String>,
    parent_transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining_balance: Option<JsonDecimal>,
    response_code: String,
    message: String,
    created_at: String,
    updated_at: String,
}

fn payment_transaction(
    ledger: &Ledger<PaymentState>,
    id: &str,
    now: Instant,
) -> Option<Transaction> {
    let p = ledger.payments.get(id)?;
    let refunded = ledger.refunded_minor(id);
    let updated = ledger
        .refunds_of(id)
        .filter(|r| r.applied())
        .map(|r| r.updated_at(now))
        .max()
        .unwrap_or(p.created_at);
    Some(Transaction {
        id: id.to_owned(),
        kind: "payment",
        status: p.status.clone(),
        amount: p.amount.to_json_number(),
        currency: p.amount.currency().code().to_owned(),
        order_reference: p.order_reference.clone(),
        parent_transaction_id: None,
        remaining_balance: Some(money(p.amount.minor_units() - refunded, p.zero).to_json_number()),
        response_code: "00".to_owned(),
        message: "approved".to_owned(),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(updated.max(p.created_at)),
    })
}

fn refund_transaction(r: &RefundEntry, now: Instant) -> Option<Transaction> {
    let resolved = r.resolved(now);
    let (code, message) = match (&r.fate, resolved) {
        (_, Resolved::Approved) => ("00".to_owned(), "approved"),
        (Fate::Declined(code), _) => (code.clone(), decline_message(code)),
        (_, Resolved::Declined) => ("05".to_owned(), "Authorization declined"),
        (_, Resolved::Pending) => ("09".to_owned(), "wait"),
    };
    Some(Transaction {
        id: r.id.clone(),
        kind: "refund",
        status: refund_status(resolved).to_owned(),
        amount: r.amount.to_json_number(),
        currency: r.amount.currency().code().to_owned(),
        order_reference: r.reference.clone(),
        parent_transaction_id: Some(r.payment_id.clone()),
        remaining_balance: None,
        response_code: code,
        message: message.to_owned(),
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at(now)),
    })
}

fn transaction_reply(mut t: Transaction, unknown_enum: bool) -> Reply {
    if unknown_enum {
        t.status = "on_hold".to_owned();
    }
    Reply::json(StatusCode::OK, &t)
}

#[derive(Serialize)]
struct ApiError {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u8>,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn api_error(status: StatusCode, body: ApiError, note: String) -> Reply {
    Reply::json(status, &body).note(note)
}

fn invalid_params(note: impl Into<String>) -> Reply {
    api_error(
        StatusCode::BAD_REQUEST,
        ApiError {
            code: Some(3),
            message: "Invalid Request Params",
            source: Some("refund"),
            kind: "apiError",
        },
        note.into(),
    )
}

fn validation(note: impl Into<String>) -> Reply {
    api_error(
        StatusCode::BAD_REQUEST,
        ApiError {
            code: Some(5),
            message: "Unprocessable Entity",
            source: Some("refund"),
            kind: "validationError",
        },
        note.into(),
    )
}

fn not_found(note: impl Into<String>) -> Reply {
    api_error(
        StatusCode::NOT_FOUND,
        ApiError {
            code: Some(4),
            message: "Not Found",
            source: Some("transactions"),
            kind: "apiError",
        },
        note.into(),
    )
}

fn unauthorized(note: &str) -> Reply {
    api_error(
        StatusCode::UNAUTHORIZED,
        ApiError {
            code: None,
            message: "unauthorized",
            source: None,
            kind: "apiError",
        },
        note.to_owned(),
    )
}

/// The body of `POST /_sandbox/modes`: each mode given is switched, the others stay.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminModes {
    route_missing: Option<bool>,
}

/// What Plexy's Go web framework (and many gateways) answers for a route it does not have:
/// HTTP 404, `Content-Type: application/json`, exactly `{"message":"Not Found"}`, without
/// Plexy's `code`.
fn route_missing_reply() -> Reply {
    #[derive(Serialize)]
    struct FrameworkNotFound {
        message: &'static str,
    }
    Reply::json(
        StatusCode::NOT_FOUND,
        &FrameworkNotFound {
            message: "Not Found",
        },
    )
    .note("route missing mode: P-L2 answered as an unknown route")
}

/// The admin endpoint's payment JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminPayment {
    id: Option<String>,
    amount: JsonDecimal,
    currency: String,
    status: Option<String>,
    order_reference: Option<String>,
    refunded: Option<JsonDecimal>,
    behaviour: Option<String>,
    decline_code: Option<String>,
}

impl Provider for PlexyEmulator {
    type Route = PlexyRoute;
    const BASE_PATH: &'static str = "/v1";

    fn route(&self, method: &Method, segments: &[String]) -> Routing<PlexyRoute> {
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (route, operation, payment_id, expected) = match segs.as_slice() {
            ["payments", id, "refund"] => (
                PlexyRoute::Refund((*id).to_owned()),
                Operation::Refund,
                Some((*id).to_owned()),
                Method::POST,
            ),
            ["transactions", "by-order-reference", reference] => (
                PlexyRoute::ByOrderReference((*reference).to_owned()),
                Operation::Lookup,
                None,
                Method::GET,
            ),
            ["transactions", id] => (
                PlexyRoute::Transaction((*id).to_owned()),
                Operation::Lookup,
                Some((*id).to_owned()),
                Method::GET,
            ),
            _ => return Routing::NotFound,
        };
        if *method != expected {
            return Routing::MethodNotAllowed;
        }
        Routing::Found {
            route,
            operation,
            payment_id,
        }
    }

    fn handle(&self, route: &PlexyRoute, call: &Call<'_>) -> Reply {
        // A status change that a client can observe has been announced by webhook.
        self.finalize_due(Instant::now());
        if matches!(route, PlexyRoute::ByOrderReference(_))
            && self.route_missing.load(Ordering::SeqCst)
        {
            // The web framework answers an unknown route before any handler (authentication
            // included) runs.
            return route_missing_reply();
        }
        if !self.authorized(call.headers) {
            let note = match header(call.headers, "authorization") {
                None => "missing Authorization header",
                Some(v) if v.starts_with("Bearer ") => {
                    "Authorization must be the raw key, without a Bearer prefix"
                }
                Some(_) => "wrong API key",
            };
            return unauthorized(note);
        }
        match route {
            PlexyRoute::Refund(id) => self.refund(id, call),
            PlexyRoute::Transaction(id) => self.transaction(id, call),
            PlexyRoute::ByOrderReference(reference) => self.by_order_reference(reference, call),
        }
    }

    fn server_error(&self, _call: &Call<'_>, status: StatusCode) -> Reply {
        let body = if status == StatusCode::SERVICE_UNAVAILABLE {
            ApiError {
                code: Some(1),
                message: "Service Unavailable",
                source: Some("keys"),
                kind: "apiError",
            }
        } else {
            ApiError {
                code: Some(2),
                message: "Something Went Wrong",
                source: Some("payments"),
                kind: "apiError",
            }
        };
        Reply::json(status, &body)
    }

    fn too_many_requests(&self, _call: &Call<'_>) -> Reply {
        Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            &ApiError {
                code: None,
                message: "too many requests",
                source: None,
                kind: "apiError",
            },
        )
    }

    fn create_from_json(&self, body: &[u8]) -> Result<PaymentSnapshot, String> {
        self.admin_create(body)
    }

    fn snapshot(&self, id: &str) -> Option<PaymentSnapshot> {
        snapshot(&lock(&self.ledger), id)
    }

    fn snapshots(&self) -> Vec<PaymentSnapshot> {
        let ledger = lock(&self.ledger);
        ledger
            .order
            .iter()
            .filter_map(|id| snapshot(&ledger, id))
            .collect()
    }

    fn refund_records(&self) -> Vec<RefundRecord> {
        let ledger = lock(&self.ledger);
        let now = Instant::now();
        ledger.refunds.iter().map(|r| record(r, now)).collect()
    }

    fn reset(&self) {
        if let Err(e) = self.reset_checked() {
            tracing::error!(error = %e, "refund-sandbox could not re-seed Plexy");
        }
    }

    fn resolve_pending(&self) {
        let now = Instant::now();
        lock(&self.ledger).resolve_pending(now);
        self.finalize_due(now);
    }

    fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    fn modes(&self) -> serde_json::Value {
        serde_json::json!({ "route_missing": self.route_missing.load(Ordering::SeqCst) })
    }

    fn set_modes(&self, body: &[u8]) -> Result<serde_json::Value, String> {
        let modes: AdminModes = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if let Some(on) = modes.route_missing {
            self.route_missing.store(on, Ordering::SeqCst);
        }
        Ok(self.modes())
    }

    fn finalize_due(&self, now: Instant) -> Option<Instant> {
        let mut ledger = lock(&self.ledger);
        let (due, next) = ledger.take_finalized(now);
        for r in due.iter().filter_map(|i| ledger.refunds.get(*i)) {
            emit_webhook(&self.outbox, r, r.resolved(now), r.updated_at(now));
        }
        next
    }
}

/// The webhook envelope of §4.1.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookEnvelope<'a> {
    name: String,
    merchant_id: &'static str,
    data: WebhookData<'a>,
}

/// The `data` of a refund's webhook (§4.1).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookData<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    amount: JsonDecimal,
    currency: String,
    merchant_reference: Option<&'a str>,
    parent_transaction_id: &'a str,
    created_at: String,
    updated_at: String,
}

/// Emits the webhook of a refund in `state`: `transaction.created` (pending, `09`),
/// `transaction.refunded` or `transaction.rejected`.
fn emit_webhook(outbox: &Outbox, r: &RefundEntry, state: Resolved, updated_at: SystemTime) {
    let status = refund_status(state);
    let name = format!("transaction.{status}");
    let envelope = WebhookEnvelope {
        name: name.clone(),
        merchant_id: WEBHOOK_MERCHANT_ID,
        data: WebhookData {
            id: &r.id,
            kind: "refund",
            status,
            amount: r.amount.to_json_number(),
            currency: r.amount.currency().code().to_owned(),
            merchant_reference: r.reference.as_deref(),
            parent_transaction_id: &r.payment_id,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(updated_at),
        },
    };
    match serde_json::to_vec(&envelope) {
        Ok(body) => outbox.emit(&name, &r.payment_id, &r.id, body),
        Err(e) => tracing::error!(error = %e, "refund-sandbox could not serialize a Plexy webhook"),
    }
}

/// Plexy-only switches of the running emulator.
impl crate::PlexySandbox {
    /// Switches "route missing" mode: while on, P-L2 (`GET /v1/transactions/by-order-reference/{ref}`)
    /// answers every reference, found or not and whatever the `Authorization` header, with HTTP
    /// 404, `Content-Type: application/json` and exactly `{"message":"Not Found"}`: what Plexy's
    /// Go web framework (or a gateway in front of it) answers for a route it does not have. It
    /// is how a wrong or retired P-L2 path (ASSUMED in the contract, §1.4) would look in
    /// production; a client must read it as inconclusive, never as "no refund" (§0.5). Faults
    /// still apply first; the other routes are unaffected. [`reset`](Self::reset) restores the
    /// configured mode ([`PlexyConfig::route_missing`]). Also `POST /_sandbox/modes` with
    /// `{"route_missing":true}`.
    pub fn set_route_missing(&self, on: bool) {
        self.server
            .shared
            .provider
            .route_missing
            .store(on, Ordering::SeqCst);
    }

    /// Whether "route missing" mode is on (see [`set_route_missing`](Self::set_route_missing)).
    pub fn is_route_missing(&self) -> bool {
        self.server
            .shared
            .provider
            .route_missing
            .load(Ordering::SeqCst)
    }
}
