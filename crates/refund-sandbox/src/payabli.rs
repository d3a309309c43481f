//! The Payabli emulator (contract §3): base URL `http://127.0.0.1:PORT/api`.
//!
//! | operation | request | answers |
//! |---|---|---|
//! | Y-R1 full refund | `POST /api/v2/MoneyIn/refund/{transId}` | 201 `A0004`, 400 `E…`, 401, 402 `D…`, 404, 409 |
//! | Y-R2 partial refund | `POST /api/v2/MoneyIn/refund/{transId}/{amount}` | same |
//! | Y-L1 details | `GET /api/MoneyIn/details/{transId}` (payment or refund) | 200, 401, 404 |
//!
//! Authentication: `requestToken: <key>` ([`DEFAULT_API_KEY`] unless configured); otherwise 401
//! with the `PayabliErrorBody` of §3.7.
//!
//! `idempotencyKey` (optional header): a key seen on an earlier refund POST less than
//! [`PayabliConfig::idempotency_window`] ago (default 2 minutes, §3.6) gets 409 with the text
//! `Duplicated idempotencyKey: <key>` (`text/plain; charset=utf-8`), never a replay of the first
//! answer. Every authenticated refund POST that reaches processing records its key, whatever its
//! outcome (declined and refused requests included); "before applying" faults do not.
//!
//! Request checks, each answered with HTTP 400 and a `V2BadRequestError`
//! (`{type,title,status,detail,instance,code,errors,token}`):
//! - `E3002` (invalid amount): the `{amount}` path segment is not §0.3 decimal text (digits,
//!   optional `.` and digits: no sign, exponent, grouping or leading zero), is zero (the real API reads 0 as a
//!   full refund; the sandbox refuses it because a client must never send it, §0.3), or has more
//!   fraction digits than the currency;
//! - `E3003` (invalid parameter): a body without `Content-Type: application/json`, a body that is
//!   not a JSON object with only `orderId` (≤250), `orderDescription` (≤250), `source` (≤100),
//!   `ipaddress` (an IP address) and `refundDetails`, an empty or repeated `idempotencyKey`;
//! - `E3007` (cannot be refunded): `TransStatus` is not 1, the batch is still open
//!   (`SettlementStatus` 0: void instead), a chargeback or ACH return (−2), or another
//!   non-settled state (−1, −5);
//! - `E3012` (amount greater than available): more than `TotalAmount` − service fee − earlier
//!   refunds, including a full refund when nothing is left.
//!
//! Real-world quirks ([`PayabliQuirks`], off by default; set with [`PayabliConfig::quirks`] or
//! [`PayabliSandbox::set_quirks`](crate::PayabliSandbox::set_quirks)), as the vendors' own SDKs and
//! their mock servers show them (issue 16):
//! - **ignore the idempotency key**: no official SDK sends `idempotencyKey` on the v2 refund, so
//!   v2 may ignore it: a repeated key inside the window applies another refund instead of 409;
//! - **slow commit**: an applied refund becomes visible to Y-L1 (the original's `RefundId`, the
//!   refund's own record) only some time after the POST was processed, so a lookup right after
//!   the POST sees nothing yet. Times are read from the emulator's clock, which is real time plus
//!   what [`PayabliSandbox::advance_time`](crate::PayabliSandbox::advance_time) added, so a test
//!   on a virtual clock can make the window pass without waiting (the idempotency window reads
//!   the same clock);
//! - **sale echo**: an approved refund answers `A0004` with `data` describing the original sale
//!   (`operation: "Sale"`, the sale's `paymentTransId`, `totalAmount` with the service fee,
//!   `refundId` 0), as the SDKs' mock servers do.
//!
//! Unknown transId: 404 `PayabliErrorBody`. A refund answers 201 with the `A0004` wrapper whose
//! `data` is camelCase with negative amounts and a new `paymentTransId` and `refundId`; the
//! original's `RefundId` (Y-L1) becomes that `refundId`. Payments seeded with
//! [`PayabliRefundBehaviour::Decline`] answer 402 with the seeded `D…` code and change nothing.
//!
//! Admin payment JSON (`POST /_sandbox/payments`): `{"id": "…", "amount": "105.00", "currency":
//! "USD", "service_fee": "5.00", "trans_status": 1, "settlement_status": 3, "refunded": "10.00",
//! "order_id": "…", "behaviour": "approve" | "decline", "decline_code": "D0100"}`; only `amount`
//! (the total, fee included) and `currency` are required (the id defaults to `10-admin-<n>`, the
//! decline code to `D0100`), as in [`PayabliPayment`].
//!
//! Webhooks (§4.3, see [`crate::webhook`]): every refund POST that creates a refund transaction
//! (approved or declined) is announced as `RefundedPayment`, with the custom header
//! [`DEFAULT_WEBHOOK_HEADER`]: [`DEFAULT_WEBHOOK_SECRET`] unless configured (Payabli signs
//! nothing). `transId` is the refund's own transId, amounts are strings in major units (negative
//! on refunds), `ResultCode` is `A0004` for an approved refund and the decline code (`D0100`, …)
//! for a declined one (ASSUMED: §4.3 only says `ResultCode` follows §3.5). The body carries no
//! id of the original payment, as in the contract's example:
//!
//! ```json
//! {"Event":"RefundedPayment","Paypoint":"sandbox-paypoint","Text":"Refunded Payment","transId":"3040-0000000000000000000000000000000b","NetAmount":"-10.50","Fee":"0.00","TotalAmount":"-10.50","transTime":"12/02/2025 09:50:03","Method":"card","ResultCode":"A0004","ResultCodeText":"Refunded"}
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode};
use refund_core::{Currency, Decimal, Error, JsonDecimal, Money, Secret};
use serde::{Deserialize, Serialize};

use crate::delivery::{Outbox, Scheme};
use crate::record::{
    Fate, KeyWindow, Ledger, Operation, PaymentSnapshot, RefundEntry, RefundRecord, Resolved,
    money, zero_of,
};
use crate::server::{Call, Provider, Reply, Routing, lock};
use crate::util::{
    header, is_decimal_text, is_json_content_type, negative, payabli_event_time, payabli_time,
    rfc3339_millis, seed_time, text_amount,
};
use crate::webhook::WebhookConfig;
use crate::{DEFAULT_ADDR, admin_money, check_new_payment};

/// The API token the Payabli emulator accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "payabli_sandbox_token";

/// The custom header that carries the webhook secret (§4.3) unless
/// [`WebhookConfig::header_name`] says otherwise.
pub const DEFAULT_WEBHOOK_HEADER: &str = "X-Webhook-Token";

/// The value of the webhook header unless [`WebhookConfig::secret`] says otherwise.
pub const DEFAULT_WEBHOOK_SECRET: &str = "payabli_webhook_secret";

/// The `Paypoint` of the emulator's webhook bodies.
pub const WEBHOOK_PAYPOINT: &str = "sandbox-paypoint";

/// The ids of the seeded Payabli transactions.
///
/// | transId | `TotalAmount` (fee) | `TransStatus` / `SettlementStatus` | refunds |
/// |---|---|---|---|
/// | [`FIXTURE_USD`](seed::FIXTURE_USD) | 105.00 USD (5.00), `OrderId` `DUES-123` | 1 / 3 | up to 100.00 |
/// | [`SETTLED_USD`](seed::SETTLED_USD) | 100.00 USD (0) | 1 / 2 | up to 100.00 |
/// | [`PARTIALLY_REFUNDED_USD`](seed::PARTIALLY_REFUNDED_USD) | 100.00 USD (0), 40.00 refunded, `RefundId` ≠ 0 | 1 / 3 | up to 60.00 |
/// | [`BATCH_OPEN_USD`](seed::BATCH_OPEN_USD) | 100.00 USD (0) | 1 / 0 | 400 `E3007` (void instead) |
/// | [`CHARGEBACK_USD`](seed::CHARGEBACK_USD) | 100.00 USD (0) | 1 / −2 | 400 `E3007` |
/// | [`VOIDED_USD`](seed::VOIDED_USD) | 100.00 USD (0) | 5 / 3 | 400 `E3007` |
/// | [`DECLINE_D0100_USD`](seed::DECLINE_D0100_USD) | 100.00 USD (0) | 1 / 3 | 402 `D0100` |
/// | [`SETTLED_JPY`](seed::SETTLED_JPY) | 10000 JPY (0) | 1 / 3 | up to 10000 |
/// | [`SETTLED_KWD`](seed::SETTLED_KWD) | 12.345 KWD (0) | 1 / 3 | up to 12.345 |
/// | [`SLASH_ID_USD`](seed::SLASH_ID_USD) | 100.00 USD (0), id `10-with/slash id` | 1 / 3 | up to 100.00 |
pub mod seed {
    /// The contract's fixture transaction (§3.7): 105.00 USD with a 5.00 service fee, funded.
    pub const FIXTURE_USD: &str = "10-3ffa27df-b171-44e0-b251-e95fbfc7a723";
    /// 100.00 USD, no fee, transferred.
    pub const SETTLED_USD: &str = "10-settled-usd";
    /// 100.00 USD with 40.00 refunded (refund reference `seed-10-partially-refunded-usd`).
    pub const PARTIALLY_REFUNDED_USD: &str = "10-partially-refunded-usd";
    /// 100.00 USD whose batch is still open (`SettlementStatus` 0): refunds get 400.
    pub const BATCH_OPEN_USD: &str = "10-batch-open-usd";
    /// 100.00 USD with a chargeback (`SettlementStatus` −2): refunds get 400.
    pub const CHARGEBACK_USD: &str = "10-chargeback-usd";
    /// 100.00 USD, voided (`TransStatus` 5): refunds get 400.
    pub const VOIDED_USD: &str = "10-voided-usd";
    /// 100.00 USD; every refund is declined with 402 `D0100`.
    pub const DECLINE_D0100_USD: &str = "10-decline-d0100-usd";
    /// 10000 JPY (0 fraction digits), funded.
    pub const SETTLED_JPY: &str = "10-settled-jpy";
    /// 12.345 KWD (3 fraction digits), funded.
    pub const SETTLED_KWD: &str = "10-settled-kwd";
    /// 100.00 USD, funded, with a transId that needs percent-encoding (`/` and a space).
    pub const SLASH_ID_USD: &str = "10-with/slash id";
}

/// Configuration of the Payabli emulator.
#[derive(Clone, Debug)]
#[must_use]
pub struct PayabliConfig {
    pub(crate) addr: SocketAddr,
    pub(crate) api_key: Secret,
    pub(crate) seeded: bool,
    pub(crate) idempotency_window: Duration,
    pub(crate) webhook: Option<WebhookConfig>,
    pub(crate) quirks: PayabliQuirks,
}

impl Default for PayabliConfig {
    fn default() -> Self {
        PayabliConfig {
            addr: DEFAULT_ADDR,
            api_key: Secret::new(DEFAULT_API_KEY),
            seeded: true,
            idempotency_window: Duration::from_secs(120),
            webhook: None,
            quirks: PayabliQuirks::default(),
        }
    }
}

impl PayabliConfig {
    /// The address to listen on. Default `127.0.0.1:0` (an ephemeral port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The accepted `requestToken`. Default [`DEFAULT_API_KEY`].
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Starts without the seeded transactions of [`seed`]. Default: seeded.
    pub fn without_seed(mut self) -> Self {
        self.seeded = false;
        self
    }

    /// How long an `idempotencyKey` is remembered (a repeat inside it gets 409). Default 2
    /// minutes (§3.6).
    pub fn idempotency_window(mut self, window: Duration) -> Self {
        self.idempotency_window = window;
        self
    }

    /// The real-world quirks to emulate from the start (see [`PayabliQuirks`]). Default: none.
    pub fn quirks(mut self, quirks: PayabliQuirks) -> Self {
        self.quirks = quirks;
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

/// Real-world behaviours of Payabli the emulator can switch on (see the [module docs](self)).
/// Default: none of them, the behaviour of the contract.
///
/// ```
/// use std::time::Duration;
/// use refund_sandbox::payabli::PayabliQuirks;
///
/// let quirks = PayabliQuirks::default()
///     .ignoring_idempotency_key()
///     .with_slow_commit(Duration::from_secs(60));
/// assert!(quirks.ignore_idempotency_key);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PayabliQuirks {
    /// A repeated `idempotencyKey` inside the window applies another refund instead of 409.
    pub ignore_idempotency_key: bool,
    /// An applied refund becomes visible to Y-L1 only this long after it was processed
    /// (measured on the emulator's clock).
    pub slow_commit: Option<Duration>,
    /// Approved refunds answer `A0004` with `data` describing the original sale.
    pub sale_echo: bool,
}

impl PayabliQuirks {
    /// Sets [`ignore_idempotency_key`](Self::ignore_idempotency_key).
    #[must_use]
    pub fn ignoring_idempotency_key(mut self) -> Self {
        self.ignore_idempotency_key = true;
        self
    }

    /// Sets [`slow_commit`](Self::slow_commit).
    #[must_use]
    pub fn with_slow_commit(mut self, delay: Duration) -> Self {
        self.slow_commit = Some(delay);
        self
    }

    /// Sets [`sale_echo`](Self::sale_echo).
    #[must_use]
    pub fn echoing_the_sale(mut self) -> Self {
        self.sale_echo = true;
        self
    }
}

impl crate::PayabliSandbox {
    /// Switches the real-world quirks (see [`PayabliQuirks`]) for the requests that follow.
    pub fn set_quirks(&self, quirks: PayabliQuirks) {
        *lock(&self.server.shared.provider.quirks) = quirks;
    }

    /// The quirks in force.
    pub fn quirks(&self) -> PayabliQuirks {
        lock(&self.server.shared.provider.quirks).clone()
    }

    /// Moves the emulator's clock forward by `by`: slow commits land and idempotency keys
    /// expire as if that much time had passed. For tests that wait on a virtual clock.
    pub fn advance_time(&self, by: Duration) {
        let mut offset = lock(&self.server.shared.provider.offset);
        *offset = offset.saturating_add(by);
    }

    /// The idempotency window (`PayabliConfig::idempotency_window`, default 2 minutes). A client
    /// of this emulator set to the same window (`refund_payabli::Client::with_sandbox_idempotency_window`,
    /// or `PAYABLI_SANDBOX_IDEMPOTENCY_WINDOW_MS` for the facade and the CLI) waits no longer
    /// than the emulator remembers keys.
    pub fn idempotency_window(&self) -> Duration {
        self.server.shared.provider.window
    }

    /// How many applied refunds are not visible to Y-L1 yet (slow commit).
    pub fn uncommitted_refunds(&self) -> usize {
        let emulator = &self.server.shared.provider;
        let now = emulator.now();
        lock(&emulator.visible_at)
            .values()
            .filter(|at| **at > now)
            .count()
    }
}

/// How the emulator answers refunds of a transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayabliRefundBehaviour {
    /// 201 `A0004`.
    #[default]
    Approve,
    /// 402 with this `D…` code, for example `D0100`.
    Decline(String),
}

/// A transaction (payment) to create on the Payabli emulator.
///
/// ```
/// use refund_core::{Currency, Money};
/// use refund_sandbox::payabli::PayabliPayment;
///
/// # fn main() -> Result<(), refund_core::Error> {
/// let payment = PayabliPayment::new("10-abc", Money::parse("100.00", Currency::USD)?)
///     .service_fee(Money::parse("10.00", Currency::USD)?)
///     .settlement_status(0);
/// # let _ = payment; Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct PayabliPayment {
    id: String,
    total: Money,
    fee: Option<Money>,
    trans_status: i32,
    settlement_status: i32,
    refunded: Option<Money>,
    order_id: String,
    behaviour: PayabliRefundBehaviour,
}

impl PayabliPayment {
    /// An approved (`TransStatus` 1), funded (`SettlementStatus` 3) sale of `total` without a
    /// service fee, whose refunds are approved.
    pub fn new(id: impl Into<String>, total: Money) -> Self {
        PayabliPayment {
            id: id.into(),
            total,
            fee: None,
            trans_status: 1,
            settlement_status: 3,
            refunded: None,
            order_id: String::new(),
            behaviour: PayabliRefundBehaviour::Approve,
        }
    }

    /// The service fee (part of the total, never refundable). Default none.
    pub fn service_fee(mut self, fee: Money) -> Self {
        self.fee = Some(fee);
        self
    }

    /// `TransStatus` (§3.5). Default 1 (approved); refunds need 1.
    pub fn trans_status(mut self, status: i32) -> Self {
        self.trans_status = status;
        self
    }

    /// `SettlementStatus` (§3.5). Default 3 (funded); refunds need 1, 2, 3 or −6.
    pub fn settlement_status(mut self, status: i32) -> Self {
        self.settlement_status = status;
        self
    }

    /// Records an earlier approved refund of this amount (reference `seed-<transId>`), which sets
    /// `RefundId`. Default none.
    pub fn already_refunded(mut self, amount: Money) -> Self {
        self.refunded = Some(amount);
        self
    }

    /// The sale's `OrderId`. Default empty.
    pub fn order_id(mut self, order_id: impl Into<String>) -> Self {
        self.order_id = order_id.into();
        self
    }

    /// How refunds are answered. Default [`PayabliRefundBehaviour::Approve`].
    pub fn behaviour(mut self, behaviour: PayabliRefundBehaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}

#[derive(Debug)]
struct PaymentState {
    total: Money,
    fee: Money,
    zero: Money,
    trans_status: i32,
    settlement_status: i32,
    order_id: String,
    behaviour: PayabliRefundBehaviour,
    created_at: SystemTime,
}

impl PaymentState {
    /// What can be refunded in total: `TotalAmount` − service fee (§3.4).
    fn refundable(&self) -> i64 {
        self.total.minor_units() - self.fee.minor_units()
    }
}

/// The Payabli emulator's state.
pub(crate) struct PayabliEmulator {
    pub(crate) api_key: Secret,
    seeded: bool,
    window: Duration,
    ledger: Mutex<Ledger<PaymentState>>,
    /// `idempotencyKey` → when it was first seen.
    keys: Mutex<KeyWindow>,
    outbox: Outbox,
    quirks: Mutex<PayabliQuirks>,
    /// What [`advance_time`](crate::PayabliSandbox::advance_time) added to real time.
    offset: Mutex<Duration>,
    /// Refund transId → when it becomes visible to Y-L1 (slow commit); absent: visible.
    visible_at: Mutex<HashMap<String, Instant>>,
}

/// A routed Payabli operation.
pub(crate) enum PayabliRoute {
    Refund { id: String, amount: Option<String> },
    Details(String),
}

/// The first refund link id handed out, as in the contract's fixture.
const FIRST_REFUND_ID: i64 = 1_279_666;

impl PayabliEmulator {
    pub(crate) fn new(config: PayabliConfig) -> Result<Self, Error> {
        let emulator = PayabliEmulator {
            api_key: config.api_key,
            seeded: config.seeded,
            window: config.idempotency_window,
            ledger: Mutex::new(Ledger::default()),
            keys: Mutex::new(KeyWindow::default()),
            outbox: Outbox::new(Scheme::Payabli, config.webhook)?,
            quirks: Mutex::new(config.quirks),
            offset: Mutex::new(Duration::ZERO),
            visible_at: Mutex::new(HashMap::new()),
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
        lock(&self.keys).clear();
        lock(&self.visible_at).clear();
        Ok(())
    }

    /// The emulator's clock: real time plus what `advance_time` added.
    fn now(&self) -> Instant {
        let offset = *lock(&self.offset);
        Instant::now()
            .checked_add(offset)
            .unwrap_or_else(Instant::now)
    }

    /// Whether a refund is visible to Y-L1 at `now` (slow commit).
    fn visible(&self, refund_id: &str, now: Instant) -> bool {
        lock(&self.visible_at)
            .get(refund_id)
            .is_none_or(|at| *at <= now)
    }

    pub(crate) fn add(&self, payment: PayabliPayment) -> Result<PaymentSnapshot, Error> {
        let mut ledger = lock(&self.ledger);
        let id = payment.id.clone();
        add_to(&mut ledger, payment, SystemTime::now())?;
        snapshot(&ledger, &id).ok_or_else(|| Error::invalid_input("payment vanished"))
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        header(headers, "requesttoken") == Some(self.api_key.expose_secret())
    }

    /// Checks and records the `idempotencyKey`; `Some(reply)` refuses the request.
    fn check_key(&self, headers: &HeaderMap, path: &str) -> Result<Option<String>, Reply> {
        let count = headers.get_all("idempotencykey").iter().count();
        if count == 0 {
            return Ok(None);
        }
        let Some(key) = header(headers, "idempotencykey").filter(|k| !k.is_empty()) else {
            return Err(bad_request(
                path,
                "E3003",
                "idempotencyKey must be one non-empty value",
                "idempotencyKey",
                "Send one idempotencyKey header per request",
            ));
        };
        let now = self.now();
        let ignore = lock(&self.quirks).ignore_idempotency_key;
        let mut keys = lock(&self.keys);
        keys.expire(now, self.window);
        // The quirk: v2 does not look at the key, so a repeat is processed like a new request.
        if keys.contains(key) && !ignore {
            return Err(Reply {
                status: StatusCode::CONFLICT,
                content_type: "text/plain; charset=utf-8",
                body: format!("Duplicated idempotencyKey: {key}").into_bytes(),
                retry_after: None,
                note: Some("idempotencyKey seen inside the window".to_owned()),
            });
        }
        keys.insert(key.to_owned(), now);
        Ok(Some(key.to_owned()))
    }

    fn refund(&self, id: &str, amount_text: Option<&str>, call: &Call<'_>) -> Reply {
        let reference = match self.check_key(call.headers, call.path) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        if let Some(text) = amount_text
            && !is_decimal_text(text)
        {
            return bad_request(
                call.path,
                "E3002",
                &format!("Amount {text:?} is not a decimal amount"),
                "amount",
                "Write the amount as digits with an optional '.' and fraction digits",
            );
        }
        let body = match parse_body(call) {
            Ok(body) => body,
            Err(reply) => return reply,
        };

        let now = Instant::now();
        let mut ledger = lock(&self.ledger);
        let Some(p) = ledger.payments.get(id) else {
            return not_found(id);
        };
        let currency = p.total.currency();
        let (trans_status, settlement, refundable, zero, behaviour) = (
            p.trans_status,
            p.settlement_status,
            p.refundable(),
            p.zero,
            p.behaviour.clone(),
        );
        let (details_total, details_fee) = (p.total, p.fee);
        let order_id = p.order_id.clone();
        let requested = match amount_text.map(|t| text_amount(t, currency)) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(problem)) => {
                return bad_request(
                    call.path,
                    "E3002",
                    &problem.describe("Amount", currency),
                    "amount",
                    "Send an amount greater than zero with the currency's fraction digits",
                );
            }
        };
        if let Some(why) = not_refundable(trans_status, settlement) {
            return bad_request(
                call.path,
                "E3007",
                why,
                "transId",
                "Void an unsettled transaction instead; a chargeback cannot be refunded",
            );
        }
        let available = refundable - ledger.refunded_minor(id);
        let amount = requested.unwrap_or_else(|| money(available, zero));
        if available <= 0 || amount.minor_units() > available {
            return bad_request(
                call.path,
                "E3012",
                "Amount value is greater than available amount for action",
                "amount",
                "Use at most the original total minus service fees and earlier refunds",
            )
            .note(format!(
                "requested {}, available {}",
                amount.decimal_text(),
                money(available, zero).decimal_text()
            ));
        }

        let number = ledger.next_number();
        let approved = behaviour == PayabliRefundBehaviour::Approve;
        let link_id = if approved {
            FIRST_REFUND_ID - 1 + i64::try_from(number).unwrap_or(0)
        } else {
            0
        };
        let entry = RefundEntry {
            id: format!("3040-{number:032x}"),
            payment_id: id.to_owned(),
            reference,
            amount,
            fate: match &behaviour {
                PayabliRefundBehaviour::Approve => Fate::Approved,
                PayabliRefundBehaviour::Decline(code) => Fate::Declined(code.clone()),
            },
            created_at: SystemTime::now(),
            created_instant: now,
            link_id,
            note: body.order_id.clone(),
            announced_final: false,
        };
        let refund_id = entry.id.clone();
        let created_at = entry.created_at;
        let quirks = lock(&self.quirks).clone();
        if let Some(delay) = quirks.slow_commit {
            lock(&self.visible_at).insert(refund_id.clone(), self.now() + delay);
        }
        emit_webhook(&self.outbox, &entry, entry.initial(), zero);
        ledger.refunds.push(entry);

        let details = PaymentDetails {
            total_amount: Some(details_total.to_json_number()),
            service_fee: Some(details_fee.to_json_number()),
            currency: currency.code().to_owned(),
        };
        let zero_amount = JsonDecimal::new(Decimal::ZERO);
        match behaviour {
            PayabliRefundBehaviour::Approve if quirks.sale_echo => {
                // The sale's record where the refund's should be (`refundId` 0, the sale's
                // transId, its total with the fee), under a normal `A0004`.
                let data = V2Data {
                    payment_trans_id: id.to_owned(),
                    operation: "Sale",
                    method: Some("card"),
                    gateway_trans_id: None,
                    order_id: Some(order_id),
                    total_amount: details_total.to_json_number(),
                    net_amount: money(
                        details_total.minor_units() - details_fee.minor_units(),
                        zero,
                    )
                    .to_json_number(),
                    fee_amount: details_fee.to_json_number(),
                    trans_status: 1,
                    settlement_status: settlement,
                    refund_id: 0,
                    returned_id: Some(0),
                    transaction_time: Some(payabli_time(created_at)),
                    payment_data: V2PaymentData {
                        masked_account: Some("4XXXXXXXXXXX5439"),
                        account_type: Some("visa"),
                        payment_details: details,
                    },
                    response_data: ResponseData::approved("A0004", "Refunded", number),
                };
                let wrapper = Wrapper {
                    code: "A0004".to_owned(),
                    reason: "Refunded",
                    explanation: "Transaction refunded",
                    action: "No action required",
                    data,
                    token: None,
                };
                Reply::json(StatusCode::CREATED, &wrapper)
            }
            PayabliRefundBehaviour::Approve => {
                let data = V2Data {
                    payment_trans_id: refund_id,
                    operation: "Refund",
                    method: Some("card"),
                    gateway_trans_id: Some(format!("TRN_sandbox{number:020}")),
                    order_id: Some(body.order_id.unwrap_or_default()),
                    total_amount: negative(amount),
                    net_amount: negative(amount),
                    fee_amount: zero_amount,
                    trans_status: 1,
                    settlement_status: 0,
                    refund_id: link_id,
                    returned_id: Some(0),
                    transaction_time: Some(payabli_time(created_at)),
                    payment_data: V2PaymentData {
                        masked_account: Some("4XXXXXXXXXXX5439"),
                        account_type: Some("visa"),
                        payment_details: details,
                    },
                    response_data: ResponseData::approved("A0004", "Refunded", number),
                };
                let wrapper = Wrapper {
                    code: if call.unknown_enum { "A0099" } else { "A0004" }.to_owned(),
                    reason: "Refunded",
                    explanation: "Transaction refunded",
                    action: "No action required",
                    data,
                    token: None,
                };
                Reply::json(StatusCode::CREATED, &wrapper)
            }
            PayabliRefundBehaviour::Decline(code) => {
                let data = V2Data {
                    payment_trans_id: refund_id,
                    operation: "Refund",
                    method: None,
                    gateway_trans_id: None,
                    order_id: None,
                    total_amount: negative(amount),
                    net_amount: negative(amount),
                    fee_amount: zero_amount,
                    trans_status: 2,
                    settlement_status: 0,
                    refund_id: 0,
                    returned_id: None,
                    transaction_time: None,
                    payment_data: V2PaymentData {
                        masked_account: None,
                        account_type: None,
                        payment_details: PaymentDetails {
                            total_amount: None,
                            service_fee: None,
                            currency: currency.code().to_owned(),
                        },
                    },
                    response_data: ResponseData::declined(&code),
                };
                let wrapper = Wrapper {
                    code,
                    reason: "Declined",
                    explanation: "The processor declined the refund",
                    action: "Contact support or refund by another method",
                    data,
                    token: None,
                };
                Reply::json(StatusCode::PAYMENT_REQUIRED, &wrapper)
            }
        }
    }

    fn details(&self, id: &str, call: &Call<'_>) -> Reply {
        let ledger = lock(&self.ledger);
        let now = Instant::now();
        let virtual_now = self.now();
        let visible = |r: &RefundEntry| self.visible(&r.id, virtual_now);
        let record = payment_details(&ledger, id, &visible).or_else(|| {
            ledger
                .refund_by_id(id)
                .filter(|r| visible(r))
                .and_then(|r| refund_details(&ledger, r, now))
        });
        match record {
            Some(mut record) => {
                if call.unknown_enum {
                    record.operation = "Adjustment";
                }
                Reply::json(StatusCode::OK, &record)
            }
            None => not_found(id),
        }
    }

    fn admin_create(&self, body: &[u8]) -> Result<PaymentSnapshot, String> {
        let spec: AdminPayment = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let currency = Currency::from_code(&spec.currency).map_err(|e| e.to_string())?;
        let id = match spec.id {
            Some(id) => id,
            None => format!("10-admin-{}", lock(&self.ledger).next_number()),
        };
        let mut payment = PayabliPayment::new(id, admin_money(spec.amount, currency)?);
        if let Some(fee) = spec.service_fee {
            payment = payment.service_fee(admin_money(fee, currency)?);
        }
        if let Some(s) = spec.trans_status {
            payment = payment.trans_status(s);
        }
        if let Some(s) = spec.settlement_status {
            payment = payment.settlement_status(s);
        }
        if let Some(r) = spec.refunded {
            payment = payment.already_refunded(admin_money(r, currency)?);
        }
        if let Some(o) = spec.order_id {
            payment = payment.order_id(o);
        }
        payment = payment.behaviour(match spec.behaviour.as_deref() {
            None | Some("approve") => PayabliRefundBehaviour::Approve,
            Some("decline") => PayabliRefundBehaviour::Decline(
                spec.decline_code.unwrap_or_else(|| "D0100".to_owned()),
            ),
            Some(other) => return Err(format!("unknown behaviour {other:?} (approve, decline)")),
        });
        self.add(payment).map_err(|e| e.to_string())
    }
}

fn not_refundable(trans_status: i32, settlement: i32) -> Option<&'static str> {
    if trans_status != 1 {
        return Some("Transaction cannot be refunded: it is not an approved transaction");
    }
    match settlement {
        1 | 2 | 3 | -6 => None,
        0 => Some("Transaction cannot be refunded: the batch is still open, void it instead"),
        -2 => Some("Transaction cannot be refunded: it has a chargeback or ACH return"),
        _ => Some("Transaction cannot be refunded in its settlement status"),
    }
}

/// The optional refund body (§3.4).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RefundBody {
    order_id: Option<String>,
    order_description: Option<String>,
    source: Option<String>,
    ipaddress: Option<String>,
    // Checked by deserializing it; the sandbox does not split refunds.
    #[allow(dead_code)]
    refund_details: Option<RefundDetails>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
// The fields are checked by deserializing them; their values are not used.
#[allow(dead_code)]
struct RefundDetails {
    #[serde(default)]
    categories: Option<Vec<Category>>,
    #[serde(default)]
    split_refunding: Option<Vec<Split>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
// The fields are checked by deserializing them; their values are not used.
#[allow(dead_code)]
struct Category {
    label: Option<String>,
    description: Option<String>,
    amount: Option<JsonDecimal>,
    qty: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
// The fields are checked by deserializing them; their values are not used.
#[allow(dead_code)]
struct Split {
    origination_entry_point: Option<String>,
    account_id: Option<String>,
    description: Option<String>,
    amount: Option<JsonDecimal>,
}

fn parse_body(call: &Call<'_>) -> Result<RefundBody, Reply> {
    if call.body.is_empty() {
        return Ok(RefundBody::default());
    }
    let invalid = |detail: &str| {
        bad_request(
            call.path,
            "E3003",
            detail,
            "body",
            "Send no body, or a JSON object with orderId, orderDescription, source, ipaddress, refundDetails",
        )
    };
    if !is_json_content_type(header(call.headers, "content-type")) {
        return Err(invalid(
            "A request body needs Content-Type: application/json",
        ));
    }
    // serde also reads a struct from a JSON array; the body is an object only.
    if call.body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(invalid("The request body must be a JSON object"));
    }
    let body: RefundBody = serde_json::from_slice(call.body)
        .map_err(|e| invalid(&format!("Invalid request body: {e}")))?;
    let too_long = |field: &str, value: &Option<String>, max: usize| {
        value
            .as_ref()
            .filter(|v| v.chars().count() > max)
            .map(|_| invalid(&format!("{field} is longer than {max} characters")))
    };
    if let Some(reply) = too_long("orderId", &body.order_id, 250)
        .or_else(|| too_long("orderDescription", &body.order_description, 250))
        .or_else(|| too_long("source", &body.source, 100))
    {
        return Err(reply);
    }
    if let Some(ip) = &body.ipaddress
        && ip.parse::<IpAddr>().is_err()
    {
        return Err(invalid("ipaddress is not an IP address"));
    }
    Ok(body)
}

fn add_to(
    ledger: &mut Ledger<PaymentState>,
    payment: PayabliPayment,
    at: SystemTime,
) -> Result<(), Error> {
    check_new_payment(&payment.id, payment.total, &ledger.payments)?;
    let currency = payment.total.currency();
    let zero = zero_of(currency)?;
    let fee = payment.fee.unwrap_or(zero);
    if fee.currency() != currency || fee.minor_units() >= payment.total.minor_units() {
        return Err(Error::invalid_input(
            "the service fee must be in the payment's currency and less than its total",
        ));
    }
    if let PayabliRefundBehaviour::Decline(code) = &payment.behaviour
        && !code.starts_with('D')
    {
        return Err(Error::invalid_input(format!(
            "a Payabli decline code starts with D, got {code:?}"
        )));
    }
    if let Some(refunded) = payment.refunded {
        if refunded.currency() != currency
            || refunded.is_zero()
            || refunded.minor_units() > payment.total.minor_units() - fee.minor_units()
        {
            return Err(Error::invalid_input(
                "already refunded amount must be positive, in the payment's currency and at most its total minus the fee",
            ));
        }
        let number = ledger.next_number();
        ledger.refunds.push(RefundEntry {
            id: format!("3040-{number:032x}"),
            payment_id: payment.id.clone(),
            reference: Some(format!("seed-{}", payment.id)),
            amount: refunded,
            fate: Fate::Approved,
            created_at: at + Duration::from_secs(30),
            created_instant: Instant::now(),
            link_id: FIRST_REFUND_ID - 1 + i64::try_from(number).unwrap_or(0),
            note: None,
            announced_final: false,
        });
    }
    ledger.insert(
        payment.id,
        PaymentState {
            total: payment.total,
            fee,
            zero,
            trans_status: payment.trans_status,
            settlement_status: payment.settlement_status,
            order_id: payment.order_id,
            behaviour: payment.behaviour,
            created_at: at,
        },
    );
    Ok(())
}

fn seed_payments() -> Result<Vec<PayabliPayment>, Error> {
    let usd = |text: &str| Money::parse(text, Currency::USD);
    Ok(vec![
        PayabliPayment::new(seed::FIXTURE_USD, usd("105.00")?)
            .service_fee(usd("5.00")?)
            .order_id("DUES-123"),
        PayabliPayment::new(seed::SETTLED_USD, usd("100.00")?).settlement_status(2),
        PayabliPayment::new(seed::PARTIALLY_REFUNDED_USD, usd("100.00")?)
            .already_refunded(usd("40.00")?),
        PayabliPayment::new(seed::BATCH_OPEN_USD, usd("100.00")?).settlement_status(0),
        PayabliPayment::new(seed::CHARGEBACK_USD, usd("100.00")?).settlement_status(-2),
        PayabliPayment::new(seed::VOIDED_USD, usd("100.00")?).trans_status(5),
        PayabliPayment::new(seed::DECLINE_D0100_USD, usd("100.00")?)
            .behaviour(PayabliRefundBehaviour::Decline("D0100".into())),
        PayabliPayment::new(seed::SETTLED_JPY, Money::parse("10000", Currency::JPY)?),
        PayabliPayment::new(seed::SETTLED_KWD, Money::parse("12.345", Currency::KWD)?),
        PayabliPayment::new(seed::SLASH_ID_USD, usd("100.00")?),
    ])
}

fn snapshot(ledger: &Ledger<PaymentState>, id: &str) -> Option<PaymentSnapshot> {
    let p = ledger.payments.get(id)?;
    let refunded = ledger.refunded_minor(id);
    Some(PaymentSnapshot {
        id: id.to_owned(),
        amount: p.total,
        status: p.trans_status.to_string(),
        settlement_status: Some(p.settlement_status),
        service_fee: Some(p.fee),
        refunded: money(refunded, p.zero),
        balance: money(p.refundable() - refunded, p.zero),
        refunds_applied: ledger.applied_count(id),
    })
}

/// `TransStatus` of a refund.
fn refund_trans_status(resolved: Resolved) -> i32 {
    match resolved {
        Resolved::Approved => 1,
        Resolved::Declined => 2,
        Resolved::Pending => 10,
    }
}

/// The v2 response wrapper (§3.4).
#[derive(Serialize)]
struct Wrapper {
    code: String,
    reason: &'static str,
    explanation: &'static str,
    action: &'static str,
    data: V2Data,
    token: Option<String>,
}

/// `V2TransactionDetails`, camelCase.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Data {
    payment_trans_id: String,
    operation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_trans_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_id: Option<String>,
    total_amount: JsonDecimal,
    net_amount: JsonDecimal,
    fee_amount: JsonDecimal,
    trans_status: i32,
    settlement_status: i32,
    refund_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    returned_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_time: Option<String>,
    payment_data: V2PaymentData,
    response_data: ResponseData,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2PaymentData {
    #[serde(skip_serializing_if = "Option::is_none")]
    masked_account: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_type: Option<&'static str>,
    payment_details: PaymentDetails,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    total_amount: Option<JsonDecimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_fee: Option<JsonDecimal>,
    currency: String,
}

/// `responseData`: v2 casing everywhere, also inside the PascalCase details record.
#[derive(Serialize)]
struct ResponseData {
    #[serde(rename = "resultCode")]
    result_code: String,
    #[serde(rename = "resultCodeText")]
    result_code_text: &'static str,
    responsetext: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transactionid: Option<String>,
    response_code: &'static str,
    response_code_text: &'static str,
}

impl ResponseData {
    fn approved(code: &str, text: &'static str, number: u64) -> ResponseData {
        ResponseData {
            result_code: code.to_owned(),
            result_code_text: text,
            responsetext: "CAPTURED",
            authcode: Some(String::new()),
            transactionid: Some(format!("TRN_sandbox{number:020}")),
            response_code: "100",
            response_code_text: "Operation successful",
        }
    }

    fn declined(code: &str) -> ResponseData {
        ResponseData {
            result_code: code.to_owned(),
            result_code_text: "Declined",
            responsetext: "DECLINED",
            authcode: None,
            transactionid: None,
            response_code: "200",
            response_code_text: "Transaction was declined by processor.",
        }
    }
}

/// The Y-L1 details record, PascalCase with camelCase islands (§3.4).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Details {
    payment_trans_id: String,
    operation: &'static str,
    method: &'static str,
    order_id: String,
    total_amount: JsonDecimal,
    net_amount: JsonDecimal,
    fee_amount: JsonDecimal,
    trans_status: i32,
    settlement_status: i32,
    refund_id: i64,
    returned_id: i64,
    transaction_time: String,
    payment_data: DetailsPaymentData,
    response_data: ResponseData,
    transaction_events: Vec<Event>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DetailsPaymentData {
    masked_account: &'static str,
    account_type: &'static str,
    #[serde(rename = "paymentDetails")]
    payment_details: PaymentDetails,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Event {
    trans_event: &'static str,
    event_time: String,
}

/// The record of a payment; `visible` hides the refunds Y-L1 does not show yet (slow commit).
fn payment_details(
    ledger: &Ledger<PaymentState>,
    id: &str,
    visible: &dyn Fn(&RefundEntry) -> bool,
) -> Option<Details> {
    let p = ledger.payments.get(id)?;
    let currency = p.total.currency();
    let applied: Vec<&RefundEntry> = ledger
        .refunds_of(id)
        .filter(|r| r.applied() && visible(r))
        .collect();
    let refund_id = applied.last().map_or(0, |r| r.link_id);
    let mut events = vec![
        Event {
            trans_event: "Created",
            event_time: rfc3339_millis(p.created_at - Duration::from_millis(1_001)),
        },
        Event {
            trans_event: if p.trans_status == 1 {
                "Approved"
            } else {
                "Updated"
            },
            event_time: rfc3339_millis(p.created_at + Duration::from_millis(50)),
        },
    ];
    events.extend(applied.iter().map(|r| Event {
        trans_event: "Refunded",
        event_time: rfc3339_millis(r.created_at),
    }));
    Some(Details {
        payment_trans_id: id.to_owned(),
        operation: "Sale",
        method: "card",
        order_id: p.order_id.clone(),
        total_amount: p.total.to_json_number(),
        net_amount: money(p.refundable(), p.zero).to_json_number(),
        fee_amount: p.fee.to_json_number(),
        trans_status: p.trans_status,
        settlement_status: p.settlement_status,
        refund_id,
        returned_id: 0,
        transaction_time: payabli_time(p.created_at),
        payment_data: DetailsPaymentData {
            masked_account: "4XXXXXXXXXXX5439",
            account_type: "visa",
            payment_details: PaymentDetails {
                total_amount: Some(p.total.to_json_number()),
                service_fee: Some(p.fee.to_json_number()),
                currency: currency.code().to_owned(),
            },
        },
        response_data: if p.trans_status == 1 {
            ResponseData::approved("A0000", "Approved", 0)
        } else {
            ResponseData::declined("D0100")
        },
        transaction_events: events,
    })
}

fn refund_details(ledger: &Ledger<PaymentState>, r: &RefundEntry, now: Instant) -> Option<Details> {
    let p = ledger.payments.get(&r.payment_id)?;
    let resolved = r.resolved(now);
    let approved = resolved == Resolved::Approved;
    Some(Details {
        payment_trans_id: r.id.clone(),
        operation: "Refund",
        method: "card",
        order_id: r.note.clone().unwrap_or_default(),
        total_amount: negative(r.amount),
        net_amount: negative(r.amount),
        fee_amount: JsonDecimal::new(Decimal::ZERO),
        trans_status: refund_trans_status(resolved),
        settlement_status: 0,
        refund_id: r.link_id,
        returned_id: 0,
        transaction_time: payabli_time(r.created_at),
        payment_data: DetailsPaymentData {
            masked_account: "4XXXXXXXXXXX5439",
            account_type: "visa",
            payment_details: PaymentDetails {
                total_amount: Some(p.total.to_json_number()),
                service_fee: Some(p.fee.to_json_number()),
                currency: p.total.currency().code().to_owned(),
            },
        },
        response_data: if approved {
            ResponseData::approved("A0004", "Refunded", 0)
        } else {
            match &r.fate {
                Fate::Declined(code) => ResponseData::declined(code),
                _ => ResponseData::declined("D0100"),
            }
        },
        transaction_events: vec![
            Event {
                trans_event: "Created",
                event_time: rfc3339_millis(r.created_at),
            },
            Event {
                trans_event: if approved { "Approved" } else { "Declined" },
                event_time: rfc3339_millis(r.created_at),
            },
        ],
    })
}

/// `V2BadRequestError`.
#[derive(Serialize)]
struct BadRequest {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    instance: String,
    code: &'static str,
    errors: HashMap<String, Vec<FieldError>>,
    token: Option<String>,
}

#[derive(Serialize)]
struct FieldError {
    message: String,
    suggestion: &'static str,
}

fn bad_request(
    path: &str,
    code: &'static str,
    detail: &str,
    field: &str,
    suggestion: &'static str,
) -> Reply {
    let mut errors = HashMap::new();
    errors.insert(
        field.to_owned(),
        vec![FieldError {
            message: detail.to_owned(),
            suggestion,
        }],
    );
    Reply::json(
        StatusCode::BAD_REQUEST,
        &BadRequest {
            kind: "https://docs.payabli.com/developers/references/pay-in-unified-response-codes",
            title: "Bad Request",
            status: 400,
            detail: detail.to_owned(),
            instance: path.to_owned(),
            code,
            errors,
            token: None,
        },
    )
    .note(format!("{code}: {detail}"))
}

/// `PayabliErrorBody`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    is_success: bool,
    response_code: u16,
    response_text: &'static str,
    response_data: ErrorData,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorData {
    explanation: &'static str,
    todo_action: &'static str,
}

fn error_body(
    status: StatusCode,
    text: &'static str,
    explanation: &'static str,
    todo: &'static str,
) -> Reply {
    Reply::json(
        status,
        &ErrorBody {
            is_success: false,
            response_code: status.as_u16(),
            response_text: text,
            response_data: ErrorData {
                explanation,
                todo_action: todo,
            },
        },
    )
}

fn not_found(id: &str) -> Reply {
    error_body(
        StatusCode::NOT_FOUND,
        "Not Found",
        "Transaction not found",
        "Check the transId",
    )
    .note(format!("no transaction {id:?}"))
}

/// `V2InternalServerError`.
#[derive(Serialize)]
struct InternalError {
    title: &'static str,
    status: u16,
    detail: &'static str,
    instance: String,
}

/// The admin endpoint's payment JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminPayment {
    id: Option<String>,
    amount: JsonDecimal,
    currency: String,
    service_fee: Option<JsonDecimal>,
    trans_status: Option<i32>,
    settlement_status: Option<i32>,
    refunded: Option<JsonDecimal>,
    order_id: Option<String>,
    behaviour: Option<String>,
    decline_code: Option<String>,
}

impl Provider for PayabliEmulator {
    type Route = PayabliRoute;
    const BASE_PATH: &'static str = "/api";

    fn route(&self, method: &Method, segments: &[String]) -> Routing<PayabliRoute> {
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (route, operation, id, expected) = match segs.as_slice() {
            ["v2", "MoneyIn", "refund", id] => (
                PayabliRoute::Refund {
                    id: (*id).to_owned(),
                    amount: None,
                },
                Operation::Refund,
                *id,
                Method::POST,
            ),
            ["v2", "MoneyIn", "refund", id, amount] => (
                PayabliRoute::Refund {
                    id: (*id).to_owned(),
                    amount: Some((*amount).to_owned()),
                },
                Operation::Refund,
                *id,
                Method::POST,
            ),
            ["MoneyIn", "details", id] => (
                PayabliRoute::Details((*id).to_owned()),
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

    fn handle(&self, route: &PayabliRoute, call: &Call<'_>) -> Reply {
        // A status change that a client can observe has been announced by webhook.
        self.finalize_due(Instant::now());
        if !self.authorized(call.headers) {
            let note = if call.headers.contains_key("requesttoken") {
                "wrong requestToken"
            } else {
                "missing requestToken header"
            };
            return error_body(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "The requestToken is missing, invalid, or expired",
                "Send a valid API token in the requestToken header",
            )
            .note(note);
        }
        match route {
            PayabliRoute::Refund { id, amount } => self.refund(id, amount.as_deref(), call),
            PayabliRoute::Details(id) => self.details(id, call),
        }
    }

    fn server_error(&self, call: &Call<'_>, status: StatusCode) -> Reply {
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return error_body(
                status,
                "Service Unavailable",
                "The service is temporarily unavailable",
                "Try again later",
            );
        }
        Reply::json(
            status,
            &InternalError {
                title: if status == StatusCode::INTERNAL_SERVER_ERROR {
                    "Internal Server Error"
                } else {
                    status.canonical_reason().unwrap_or("Server Error")
                },
                status: status.as_u16(),
                detail: "An unexpected error occurred",
                instance: call.path.to_owned(),
            },
        )
    }

    fn too_many_requests(&self, _call: &Call<'_>) -> Reply {
        error_body(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "The rate limit for this token was exceeded",
            "Wait and retry later",
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
                reference: r.reference.clone(),
                amount: r.amount,
                status: refund_trans_status(r.resolved(now)).to_string(),
                applied: r.applied(),
                created_at: r.created_at,
            })
            .collect()
    }

    fn reset(&self) {
        if let Err(e) = self.reset_checked() {
            tracing::error!(error = %e, "refund-sandbox could not re-seed Payabli");
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
        // Payabli refunds are final when created in this emulator, so nothing falls due; kept
        // generic so that a pending Payabli refund would be announced like the others.
        let mut ledger = lock(&self.ledger);
        let (due, next) = ledger.take_finalized(now);
        for r in due.iter().filter_map(|i| ledger.refunds.get(*i)) {
            if let Ok(zero) = zero_of(r.amount.currency()) {
                emit_webhook(&self.outbox, r, r.resolved(now), zero);
            }
        }
        next
    }
}

/// The webhook body of a refund (§4.3; the `RefundedPayment` shape is ASSUMED there): string
/// amounts in major units, negative as in refund records.
#[derive(Serialize)]
struct WebhookBody<'a> {
    #[serde(rename = "Event")]
    event: &'static str,
    #[serde(rename = "Paypoint")]
    paypoint: &'static str,
    #[serde(rename = "Text")]
    text: &'static str,
    #[serde(rename = "transId")]
    trans_id: &'a str,
    #[serde(rename = "NetAmount")]
    net_amount: String,
    #[serde(rename = "Fee")]
    fee: String,
    #[serde(rename = "TotalAmount")]
    total_amount: String,
    #[serde(rename = "transTime")]
    trans_time: String,
    #[serde(rename = "Method")]
    method: &'static str,
    #[serde(rename = "ResultCode")]
    result_code: &'a str,
    #[serde(rename = "ResultCodeText")]
    result_code_text: &'static str,
}

/// The event name of every refund notification (§4.3).
const REFUND_EVENT: &str = "RefundedPayment";

/// Emits `RefundedPayment` for a refund in `state`: `ResultCode` `A0004` when approved, the
/// decline code (`D0100`, …) when declined, `A0001` while pending (§3.5).
fn emit_webhook(outbox: &Outbox, r: &RefundEntry, state: Resolved, zero: Money) {
    let (result_code, result_code_text) = match (state, &r.fate) {
        (Resolved::Approved, _) => ("A0004", "Refunded"),
        (Resolved::Pending, _) => ("A0001", "Initiated"),
        (Resolved::Declined, Fate::Declined(code)) => (code.as_str(), "Declined"),
        (Resolved::Declined, _) => ("D0100", "Declined"),
    };
    let negative = format!("-{}", r.amount.decimal_text());
    let body = WebhookBody {
        event: REFUND_EVENT,
        paypoint: WEBHOOK_PAYPOINT,
        text: "Refunded Payment",
        trans_id: &r.id,
        net_amount: negative.clone(),
        fee: zero.decimal_text(),
        total_amount: negative,
        trans_time: payabli_event_time(r.created_at),
        method: "card",
        result_code,
        result_code_text,
    };
    match serde_json::to_vec(&body) {
        Ok(body) => outbox.emit(REFUND_EVENT, &r.payment_id, &r.id, body),
        Err(e) => {
            tracing::error!(error = %e, "refund-sandbox could not serialize a Payabli webhook")
        }
    }
}
