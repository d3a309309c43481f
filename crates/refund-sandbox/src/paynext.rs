//! The PayNext emulator (contract §2): base URL `http://127.0.0.1:PORT` (no path prefix).
//!
//! | operation | request | answers |
//! |---|---|---|
//! | N-R1 full refund | `POST /payments/refund/{id}` | 200 Payment object, 400, 401, 404 |
//! | N-L1 payment | `GET /payments/{id}` | 200 Payment object, 400, 401, 404 |
//!
//! Every request needs `Authorization: Bearer <key>` ([`DEFAULT_API_KEY`] unless configured;
//! otherwise 401 `{"error":{"message":"Invalid API key"}}`) and `X-API-Version: 1.0.0` (otherwise
//! 400). The refund POST takes no body: an empty body or `{}` is accepted with or without
//! `Content-Type`; anything else gets 400. Errors are `{"error":{"message":"…"}}`.
//!
//! Refunds are full only, one per payment. The payment must be `SETTLING` or `SETTLED` (otherwise
//! 400 `Payment <id> cannot be refunded in status <STATUS>`); a payment with a `PENDING` or
//! `SUCCEEDED` refund gets 400 `Payment <id> has already been refunded` (a `FAILED` refund may be
//! retried). The answer is the Payment object with `refund.status` `PENDING` and
//! `refunded_amount` 0; the refund reads `SUCCEEDED` (and `refunded_amount` the amount) once
//! [`PayNextConfig::refund_delay`] has passed, or at once after `resolve_pending`. Payments seeded
//! with [`PayNextRefundBehaviour::Fail`] answer `refund.status` `FAILED` at once;
//! [`PayNextRefundBehaviour::FailLater`] reads `PENDING` then `FAILED`. `payment_status` never
//! changes on a refund ("refunded payments retain their original status", §2.5).
//!
//! Admin payment JSON (`POST /_sandbox/payments`): `{"id": "…", "amount": "150.00", "currency":
//! "USD", "status": "SETTLED", "already_refunded": false, "behaviour": "succeed" | "fail" |
//! "fail_later"}`; only `amount` (major units) and `currency` are required (the id defaults to
//! `pay_admin_<n>`), as in [`PayNextPayment`].
//!
//! Webhooks (§4.2, see [`crate::webhook`]): every refund is announced as `refund.created`
//! (`PENDING`, or `FAILED` for an immediate failure) and, when a pending refund becomes final,
//! as `refund.updated` (`SUCCEEDED` or `FAILED`), signed the Svix way with
//! [`DEFAULT_WEBHOOK_SECRET`] unless configured: headers `svix-id` (the delivery id, stable
//! across attempts), `svix-timestamp` (Unix seconds of the attempt) and `svix-signature`
//! (`v1,` and the base64 of HMAC-SHA256 over `{svix-id}.{svix-timestamp}.{body}`, keyed with the
//! base64-decoded part of the secret after `whsec_`). The body carries the Payment object as
//! the refund POST and N-L1 answer it:
//!
//! ```json
//! {"type":"refund.updated","timestamp":"2025-05-26T10:16:10Z","data":{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","payment_type":"CIT","refunded_amount":15000,"refund":{"amount":15000,"amount_usd":15000,"status":"SUCCEEDED","processor_transaction_id":"re_sandbox0000000000000001","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:01Z"},"status_reason":null,"metadata":{},"created_at":"2025-12-01T09:50:03Z","updated_at":"2025-05-26T10:15:01Z"}}
//! ```

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode};
use refund_core::{Currency, Error, JsonDecimal, Money, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::delivery::{Outbox, Scheme};
use crate::record::{
    Fate, Ledger, Operation, PaymentSnapshot, RefundEntry, RefundRecord, Resolved, money, zero_of,
};
use crate::server::{Call, Provider, Reply, Routing, lock};
use crate::util::{header, rfc3339, seed_time};
use crate::webhook::WebhookConfig;
use crate::{DEFAULT_ADDR, admin_money, check_new_payment};

/// The API key the PayNext emulator accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "paynext_sandbox_key";

/// The Svix webhook secret the deliveries are signed with (§4.2) unless
/// [`WebhookConfig::secret`] says otherwise: `whsec_` and the base64 of the 30 bytes
/// `refund-sandbox-paynext-webhook`, which are the HMAC key.
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_cmVmdW5kLXNhbmRib3gtcGF5bmV4dC13ZWJob29r";

/// The only `X-API-Version` the emulator accepts (§2.3).
pub const API_VERSION: &str = "1.0.0";

/// The ids of the seeded PayNext payments.
///
/// | id | amount | `payment_status` | refund |
/// |---|---|---|---|
/// | [`FIXTURE_USD`](seed::FIXTURE_USD) | 15000 USD (150.00) | `SETTLED` | PENDING → SUCCEEDED |
/// | [`SETTLING_USD`](seed::SETTLING_USD) | 5000 USD | `SETTLING` | PENDING → SUCCEEDED |
/// | [`AUTHORIZED_USD`](seed::AUTHORIZED_USD) | 5000 USD | `AUTHORIZED` | 400 |
/// | [`DECLINED_USD`](seed::DECLINED_USD) | 5000 USD | `DECLINED` | 400 |
/// | [`REFUNDED_USD`](seed::REFUNDED_USD) | 2000 USD, refund `SUCCEEDED` | `SETTLED` | 400 (already refunded) |
/// | [`REFUND_FAILS_USD`](seed::REFUND_FAILS_USD) | 3000 USD | `SETTLED` | FAILED at once |
/// | [`REFUND_FAILS_LATER_USD`](seed::REFUND_FAILS_LATER_USD) | 3000 USD | `SETTLED` | PENDING → FAILED |
/// | [`SETTLED_JPY`](seed::SETTLED_JPY) | 10000 JPY | `SETTLED` | PENDING → SUCCEEDED |
/// | [`SETTLED_KWD`](seed::SETTLED_KWD) | 12345 KWD (12.345) | `SETTLED` | PENDING → SUCCEEDED |
/// | [`SLASH_ID_USD`](seed::SLASH_ID_USD) | 1000 USD, id `pay_with/slash id` | `SETTLED` | PENDING → SUCCEEDED |
pub mod seed {
    /// The contract's fixture payment (§2.7): 15000 minor units of USD, settled.
    pub const FIXTURE_USD: &str = "pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789";
    /// 5000 USD, `SETTLING` (refundable).
    pub const SETTLING_USD: &str = "pay_settling_usd";
    /// 5000 USD, `AUTHORIZED` (not refundable: 400).
    pub const AUTHORIZED_USD: &str = "pay_authorized_usd";
    /// 5000 USD, `DECLINED` (not refundable: 400).
    pub const DECLINED_USD: &str = "pay_declined_usd";
    /// 2000 USD, settled, with a `SUCCEEDED` refund: a new refund gets 400.
    pub const REFUNDED_USD: &str = "pay_refunded_usd";
    /// 3000 USD, settled; its refunds answer `FAILED`.
    pub const REFUND_FAILS_USD: &str = "pay_refund_fails_usd";
    /// 3000 USD, settled; its refunds answer `PENDING` and become `FAILED` after the delay.
    pub const REFUND_FAILS_LATER_USD: &str = "pay_refund_fails_later_usd";
    /// 10000 JPY (0 fraction digits), settled.
    pub const SETTLED_JPY: &str = "pay_settled_jpy";
    /// 12345 minor units of KWD (12.345, 3 fraction digits), settled.
    pub const SETTLED_KWD: &str = "pay_settled_kwd";
    /// 1000 USD, settled, with an id that needs percent-encoding (`/` and a space).
    pub const SLASH_ID_USD: &str = "pay_with/slash id";
}

/// Configuration of the PayNext emulator.
#[derive(Clone, Debug)]
#[must_use]
pub struct PayNextConfig {
    pub(crate) addr: SocketAddr,
    pub(crate) api_key: Secret,
    pub(crate) seeded: bool,
    pub(crate) refund_delay: Duration,
    pub(crate) webhook: Option<WebhookConfig>,
}

impl Default for PayNextConfig {
    fn default() -> Self {
        PayNextConfig {
            addr: DEFAULT_ADDR,
            api_key: Secret::new(DEFAULT_API_KEY),
            seeded: true,
            refund_delay: Duration::from_secs(1),
            webhook: None,
        }
    }
}

impl PayNextConfig {
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

    /// How long a refund stays `PENDING` before it reads `SUCCEEDED` (or `FAILED`). Default 1 s.
    /// The refund POST always answers `PENDING`, even with a zero delay.
    pub fn refund_delay(mut self, delay: Duration) -> Self {
        self.refund_delay = delay;
        self
    }

    /// Registers a webhook endpoint from the start (see [`crate::webhook`]); `start_with` fails
    /// with [`InvalidInput`](refund_core::ErrorKind::InvalidInput) when it is invalid. Default
    /// none.
    pub fn webhook(mut self, webhook: WebhookConfig) -> Self {
        self.webhook = Some(webhook);
        self
    }
}

/// How the emulator answers refunds of a payment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayNextRefundBehaviour {
    /// `PENDING`, then `SUCCEEDED` after the refund delay.
    #[default]
    Succeed,
    /// `FAILED` at once (HTTP 200, nothing refunded).
    Fail,
    /// `PENDING`, then `FAILED` after the refund delay (nothing refunded).
    FailLater,
}

/// A payment to create on the PayNext emulator.
///
/// ```
/// use refund_core::{Currency, Money};
/// use refund_sandbox::paynext::{PayNextPayment, PayNextRefundBehaviour};
///
/// let payment = PayNextPayment::new("pay_1", Money::from_minor(2500, Currency::USD).unwrap())
///     .status("SETTLING")
///     .behaviour(PayNextRefundBehaviour::Fail);
/// # let _ = payment;
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct PayNextPayment {
    id: String,
    amount: Money,
    status: String,
    refunded: bool,
    behaviour: PayNextRefundBehaviour,
}

impl PayNextPayment {
    /// A `SETTLED` payment of `amount` whose refund succeeds.
    pub fn new(id: impl Into<String>, amount: Money) -> Self {
        PayNextPayment {
            id: id.into(),
            amount,
            status: "SETTLED".to_owned(),
            refunded: false,
            behaviour: PayNextRefundBehaviour::Succeed,
        }
    }

    /// The `payment_status` (§2.5), for example `AUTHORIZED`. Default `SETTLED`. Refunds are
    /// accepted for `SETTLING` and `SETTLED` only.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = status.into();
        self
    }

    /// Records an earlier `SUCCEEDED` full refund. Default none.
    pub fn already_refunded(mut self) -> Self {
        self.refunded = true;
        self
    }

    /// How refunds are answered. Default [`PayNextRefundBehaviour::Succeed`].
    pub fn behaviour(mut self, behaviour: PayNextRefundBehaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}

#[derive(Debug)]
struct PaymentState {
    amount: Money,
    zero: Money,
    status: String,
    behaviour: PayNextRefundBehaviour,
    created_at: SystemTime,
}

/// The PayNext emulator's state.
pub(crate) struct PayNextEmulator {
    pub(crate) api_key: Secret,
    seeded: bool,
    refund_delay: Duration,
    ledger: Mutex<Ledger<PaymentState>>,
    outbox: Outbox,
}

/// A routed PayNext operation.
pub(crate) enum PayNextRoute {
    Refund(String),
    Payment(String),
}

impl PayNextEmulator {
    pub(crate) fn new(config: PayNextConfig) -> Result<Self, Error> {
        let emulator = PayNextEmulator {
            api_key: config.api_key,
            seeded: config.seeded,
            refund_delay: config.refund_delay,
            ledger: Mutex::new(Ledger::default()),
            outbox: Outbox::new(Scheme::PayNext, config.webhook)?,
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
        Ok(())
    }

    pub(crate) fn add(&self, payment: PayNextPayment) -> Result<PaymentSnapshot, Error> {
        let mut ledger = lock(&self.ledger);
        let id = payment.id.clone();
        add_to(&mut ledger, payment, SystemTime::now())?;
        snapshot(&ledger, &id).ok_or_else(|| Error::invalid_input("payment vanished"))
    }

    fn auth_problem(&self, headers: &HeaderMap) -> Option<&'static str> {
        match header(headers, "authorization") {
            None => Some("missing Authorization header"),
            // The scheme name is case-insensitive (RFC 9110 §11.1); the key is not.
            Some(v) => match v.split_once(' ') {
                Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => {
                    if key == self.api_key.expose_secret() {
                        None
                    } else {
                        Some("wrong API key")
                    }
                }
                _ => Some("Authorization must be `Bearer <key>`"),
            },
        }
    }

    fn refund(&self, payment_id: &str, call: &Call<'_>) -> Reply {
        if !body_is_empty(call.body) {
            return error(
                StatusCode::BAD_REQUEST,
                "Request body must be empty: refunds take no parameters",
            );
        }
        let now = Instant::now();
        let mut ledger = lock(&self.ledger);
        let Some(payment) = ledger.payments.get(payment_id) else {
            return error(StatusCode::NOT_FOUND, "Payment not found");
        };
        let (amount, status, behaviour) =
            (payment.amount, payment.status.clone(), payment.behaviour);
        if status != "SETTLING" && status != "SETTLED" {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Payment {payment_id} cannot be refunded in status {status}"),
            );
        }
        if ledger
            .refunds_of(payment_id)
            .any(|r| r.resolved(now) != Resolved::Declined)
        {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Payment {payment_id} has already been refunded"),
            );
        }
        let number = ledger.next_number();
        let fate = match behaviour {
            PayNextRefundBehaviour::Succeed => Fate::Pending {
                until: now + self.refund_delay,
                approve: true,
            },
            PayNextRefundBehaviour::Fail => Fate::Declined("FAILED".to_owned()),
            PayNextRefundBehaviour::FailLater => Fate::Pending {
                until: now + self.refund_delay,
                approve: false,
            },
        };
        ledger.refunds.push(RefundEntry {
            id: format!("re_sandbox{number:016x}"),
            payment_id: payment_id.to_owned(),
            reference: None,
            amount,
            fate,
            created_at: SystemTime::now(),
            created_instant: now,
            link_id: 0,
            note: None,
            announced_final: false,
        });
        if let (Some(object), Some(refund)) = (
            payment_object(&ledger, payment_id, now, true, false),
            ledger.refunds.last(),
        ) {
            emit_webhook(&self.outbox, "refund.created", refund, object);
        }
        match payment_object(&ledger, payment_id, now, true, call.unknown_enum) {
            Some(object) => Reply::json(StatusCode::OK, &object),
            None => error(StatusCode::NOT_FOUND, "Payment not found"),
        }
    }

    fn payment(&self, payment_id: &str, call: &Call<'_>) -> Reply {
        let ledger = lock(&self.ledger);
        match payment_object(
            &ledger,
            payment_id,
            Instant::now(),
            false,
            call.unknown_enum,
        ) {
            Some(object) => Reply::json(StatusCode::OK, &object),
            None => error(StatusCode::NOT_FOUND, "Payment not found"),
        }
    }

    fn admin_create(&self, body: &[u8]) -> Result<PaymentSnapshot, String> {
        let spec: AdminPayment = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let currency = Currency::from_code(&spec.currency).map_err(|e| e.to_string())?;
        let id = match spec.id {
            Some(id) => id,
            None => format!("pay_admin_{}", lock(&self.ledger).next_number()),
        };
        let mut payment = PayNextPayment::new(id, admin_money(spec.amount, currency)?);
        if let Some(s) = spec.status {
            payment = payment.status(s);
        }
        if spec.already_refunded == Some(true) {
            payment = payment.already_refunded();
        }
        payment = payment.behaviour(match spec.behaviour.as_deref() {
            None | Some("succeed") => PayNextRefundBehaviour::Succeed,
            Some("fail") => PayNextRefundBehaviour::Fail,
            Some("fail_later") => PayNextRefundBehaviour::FailLater,
            Some(other) => {
                return Err(format!(
                    "unknown behaviour {other:?} (succeed, fail, fail_later)"
                ));
            }
        });
        self.add(payment).map_err(|e| e.to_string())
    }
}

/// No body, white space only, or an empty JSON object.
fn body_is_empty(body: &[u8]) -> bool {
    if body.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    matches!(
        serde_json::from_slice::<Value>(body),
        Ok(Value::Object(map)) if map.is_empty()
    )
}

fn add_to(
    ledger: &mut Ledger<PaymentState>,
    payment: PayNextPayment,
    at: SystemTime,
) -> Result<(), Error> {
    check_new_payment(&payment.id, payment.amount, &ledger.payments)?;
    if payment.status.is_empty() {
        return Err(Error::invalid_input("payment_status must not be empty"));
    }
    let zero = zero_of(payment.amount.currency())?;
    if payment.refunded {
        let number = ledger.next_number();
        ledger.refunds.push(RefundEntry {
            id: format!("re_sandbox{number:016x}"),
            payment_id: payment.id.clone(),
            reference: None,
            amount: payment.amount,
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
            behaviour: payment.behaviour,
            created_at: at,
        },
    );
    Ok(())
}

fn seed_payments() -> Result<Vec<PayNextPayment>, Error> {
    let usd = |minor: i64| Money::from_minor(minor, Currency::USD);
    Ok(vec![
        PayNextPayment::new(seed::FIXTURE_USD, usd(15_000)?),
        PayNextPayment::new(seed::SETTLING_USD, usd(5_000)?).status("SETTLING"),
        PayNextPayment::new(seed::AUTHORIZED_USD, usd(5_000)?).status("AUTHORIZED"),
        PayNextPayment::new(seed::DECLINED_USD, usd(5_000)?).status("DECLINED"),
        PayNextPayment::new(seed::REFUNDED_USD, usd(2_000)?).already_refunded(),
        PayNextPayment::new(seed::REFUND_FAILS_USD, usd(3_000)?)
            .behaviour(PayNextRefundBehaviour::Fail),
        PayNextPayment::new(seed::REFUND_FAILS_LATER_USD, usd(3_000)?)
            .behaviour(PayNextRefundBehaviour::FailLater),
        PayNextPayment::new(seed::SETTLED_JPY, Money::from_minor(10_000, Currency::JPY)?),
        PayNextPayment::new(seed::SETTLED_KWD, Money::from_minor(12_345, Currency::KWD)?),
        PayNextPayment::new(seed::SLASH_ID_USD, usd(1_000)?),
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

fn refund_status(resolved: Resolved) -> &'static str {
    match resolved {
        Resolved::Approved => "SUCCEEDED",
        Resolved::Declined => "FAILED",
        Resolved::Pending => "PENDING",
    }
}

/// The Payment object of §2.4 (the fields the contract uses, plus a few informational ones).
#[derive(Serialize)]
struct PaymentObject {
    id: String,
    amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_usd: Option<i64>,
    currency_code: String,
    payment_status: String,
    payment_type: &'static str,
    refunded_amount: i64,
    refund: Option<RefundObject>,
    status_reason: Option<Value>,
    metadata: Value,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
struct RefundObject {
    amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_usd: Option<i64>,
    status: &'static str,
    processor_transaction_id: String,
    created_at: String,
    updated_at: String,
}

/// The `refund` object of a Payment (§2.4).
fn refund_object(r: &RefundEntry, state: Resolved, updated: SystemTime, usd: bool) -> RefundObject {
    RefundObject {
        amount: r.amount.minor_units(),
        amount_usd: usd.then(|| r.amount.minor_units()),
        status: refund_status(state),
        processor_transaction_id: if state == Resolved::Declined {
            String::new()
        } else {
            r.id.clone()
        },
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(updated),
    }
}

/// Builds the Payment object. `fresh`: the answer to the refund POST that just created the latest
/// refund, which always reads as created (`PENDING`, or `FAILED` for an immediate failure).
fn payment_object(
    ledger: &Ledger<PaymentState>,
    id: &str,
    now: Instant,
    fresh: bool,
    unknown_enum: bool,
) -> Option<PaymentObject> {
    let p = ledger.payments.get(id)?;
    let usd = p.amount.currency() == Currency::USD;
    let refunds: Vec<&RefundEntry> = ledger.refunds_of(id).collect();
    let latest = refunds.last().copied();
    // The refund shown: the live one (pending or succeeded), else the latest failed one.
    let shown = refunds
        .iter()
        .rev()
        .find(|r| r.resolved(now) != Resolved::Declined)
        .or(refunds.last())
        .copied();
    let state_of = |r: &RefundEntry| -> Resolved {
        let is_latest = latest.is_some_and(|l| std::ptr::eq(l, r));
        if fresh && is_latest {
            match r.fate {
                Fate::Declined(_) => Resolved::Declined,
                _ => Resolved::Pending,
            }
        } else {
            r.resolved(now)
        }
    };
    let refunded_amount: i64 = refunds
        .iter()
        .filter(|r| state_of(r) == Resolved::Approved)
        .map(|r| r.amount.minor_units())
        .sum();
    let refund = shown.map(|r| {
        let updated = if fresh {
            r.created_at
        } else {
            r.updated_at(now)
        };
        refund_object(r, state_of(r), updated, usd)
    });
    let updated_at = refunds
        .iter()
        .map(|r| {
            if fresh {
                r.created_at
            } else {
                r.updated_at(now)
            }
        })
        .max()
        .unwrap_or(p.created_at)
        .max(p.created_at);
    let status_reason = (p.status == "DECLINED").then(|| {
        json!({
            "status": "DECLINED",
            "status_reason": {
                "advice_code": "do_not_try_again",
                "decline_code": "do_not_honor",
                "message": "The card issuer declined the payment"
            }
        })
    });
    Some(PaymentObject {
        id: id.to_owned(),
        amount: p.amount.minor_units(),
        amount_usd: usd.then(|| p.amount.minor_units()),
        currency_code: p.amount.currency().code().to_owned(),
        payment_status: if unknown_enum {
            "UNDER_REVIEW".to_owned()
        } else {
            p.status.clone()
        },
        payment_type: "CIT",
        refunded_amount,
        refund,
        status_reason,
        metadata: json!({}),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(updated_at),
    })
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorMessage<'a>,
}

#[derive(Serialize)]
struct ErrorMessage<'a> {
    message: &'a str,
}

fn error(status: StatusCode, message: &str) -> Reply {
    Reply::json(
        status,
        &ErrorBody {
            error: ErrorMessage { message },
        },
    )
    .note(message)
}

/// The admin endpoint's payment JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminPayment {
    id: Option<String>,
    amount: JsonDecimal,
    currency: String,
    status: Option<String>,
    already_refunded: Option<bool>,
    behaviour: Option<String>,
}

impl Provider for PayNextEmulator {
    type Route = PayNextRoute;
    const BASE_PATH: &'static str = "";

    fn route(&self, method: &Method, segments: &[String]) -> Routing<PayNextRoute> {
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (route, operation, id, expected) = match segs.as_slice() {
            ["payments", "refund", id] => (
                PayNextRoute::Refund((*id).to_owned()),
                Operation::Refund,
                *id,
                Method::POST,
            ),
            ["payments", id] => (
                PayNextRoute::Payment((*id).to_owned()),
                Operation::Lookup,
                *id,
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
            payment_id: Some(id.to_owned()),
        }
    }

    fn handle(&self, route: &PayNextRoute, call: &Call<'_>) -> Reply {
        // A status change that a client can observe has been announced by webhook.
        self.finalize_due(Instant::now());
        if let Some(problem) = self.auth_problem(call.headers) {
            return error(StatusCode::UNAUTHORIZED, "Invalid API key").note(problem);
        }
        match header(call.headers, "x-api-version") {
            Some(API_VERSION) => {}
            Some(other) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("Unsupported X-API-Version {other:?}: use {API_VERSION}"),
                );
            }
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Missing X-API-Version header: use 1.0.0",
                );
            }
        }
        match route {
            PayNextRoute::Refund(id) => self.refund(id, call),
            PayNextRoute::Payment(id) => self.payment(id, call),
        }
    }

    fn server_error(&self, _call: &Call<'_>, status: StatusCode) -> Reply {
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "Service unavailable"
        } else {
            "Internal server error"
        };
        Reply::json(
            status,
            &ErrorBody {
                error: ErrorMessage { message },
            },
        )
    }

    fn too_many_requests(&self, _call: &Call<'_>) -> Reply {
        Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            &ErrorBody {
                error: ErrorMessage {
                    message: "Too many requests",
                },
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
        ledger
            .refunds
            .iter()
            .map(|r| RefundRecord {
                id: r.id.clone(),
                payment_id: r.payment_id.clone(),
                reference: None,
                amount: r.amount,
                status: refund_status(r.resolved(now)).to_owned(),
                applied: r.applied(),
                created_at: r.created_at,
            })
            .collect()
    }

    fn reset(&self) {
        if let Err(e) = self.reset_checked() {
            tracing::error!(error = %e, "refund-sandbox could not re-seed PayNext");
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

    fn finalize_due(&self, now: Instant) -> Option<Instant> {
        let mut ledger = lock(&self.ledger);
        let (due, next) = ledger.take_finalized(now);
        for r in due.iter().filter_map(|i| ledger.refunds.get(*i)) {
            // The Payment as it reads now, showing this refund (a newer refund of the same
            // payment may exist when this one failed).
            let Some(mut object) = payment_object(&ledger, &r.payment_id, now, false, false) else {
                continue;
            };
            object.refund = Some(refund_object(
                r,
                r.resolved(now),
                r.updated_at(now),
                r.amount.currency() == Currency::USD,
            ));
            emit_webhook(&self.outbox, "refund.updated", r, object);
        }
        next
    }
}

/// The webhook body (§4.2, shape ASSUMED there): the event type, when it happened, and the
/// Payment object of §2.4.
#[derive(Serialize)]
struct WebhookBody {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: PaymentObject,
}

fn emit_webhook(outbox: &Outbox, kind: &'static str, r: &RefundEntry, payment: PaymentObject) {
    let body = WebhookBody {
        kind,
        timestamp: rfc3339(SystemTime::now()),
        data: payment,
    };
    match serde_json::to_vec(&body) {
        Ok(body) => outbox.emit(kind, &r.payment_id, &r.id, body),
        Err(e) => {
            tracing::error!(error = %e, "refund-sandbox could not serialize a PayNext webhook")
        }
    }
}
