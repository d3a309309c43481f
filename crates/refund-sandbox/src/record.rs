//! What a test can ask the sandbox: payments, refunds actually applied, and the request log.
//!
//! These are the sandbox's own records (the truth), not what a provider's API shows: a test
//! compares them with what a client believes happened.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use refund_core::{Currency, Money};
use serde_json::{Value, json};

use crate::util::rfc3339_millis;

/// The kind of provider operation a request was routed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// A refund POST (P-R1/P-R2, N-R1, Y-R1/Y-R2).
    Refund,
    /// A lookup GET (P-L1, P-L2, N-L1, Y-L1).
    Lookup,
}

impl Operation {
    /// `"refund"` or `"lookup"`, as in the admin endpoint's JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Refund => "refund",
            Operation::Lookup => "lookup",
        }
    }
}

/// A payment as the sandbox holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaymentSnapshot {
    /// The payment id (Plexy transaction id, PayNext `pay_…` id, Payabli transId).
    pub id: String,
    /// The original amount (Payabli: `TotalAmount`, service fee included).
    pub amount: Money,
    /// The provider's status of the payment: Plexy `status` (`charged`, `refunded`, …), PayNext
    /// `payment_status` (`SETTLED`, …), Payabli `TransStatus` as decimal text (`"1"`).
    pub status: String,
    /// Payabli's `SettlementStatus`; `None` for the other providers.
    pub settlement_status: Option<i32>,
    /// Payabli's service fee, which cannot be refunded; `None` for the other providers.
    pub service_fee: Option<Money>,
    /// The sum of the refunds applied so far (approved, or accepted and pending approval).
    pub refunded: Money,
    /// What can still be refunded: the amount (less the service fee) minus `refunded`.
    pub balance: Money,
    /// How many refunds were applied to this payment (declined ones are not counted).
    pub refunds_applied: usize,
}

/// A refund the sandbox created, applied or declined.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefundRecord {
    /// The provider's refund id (Plexy transaction id, PayNext `processor_transaction_id`,
    /// Payabli transId of the refund).
    pub id: String,
    /// The refunded payment.
    pub payment_id: String,
    /// The caller's reference: Plexy `orderReference`, Payabli `idempotencyKey` header (which
    /// Payabli itself never echoes); `None` on PayNext, whose refund carries no reference.
    pub reference: Option<String>,
    /// The amount.
    pub amount: Money,
    /// The provider's status of the refund now: Plexy `refunded`/`rejected`/`created`, PayNext
    /// `SUCCEEDED`/`PENDING`/`FAILED`, Payabli `TransStatus` as text (`"1"`, `"2"`).
    pub status: String,
    /// Whether money moved or will move: `false` only for declined refunds.
    pub applied: bool,
    /// When the sandbox created it.
    pub created_at: SystemTime,
}

/// One request that reached a provider route (admin requests are not logged).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// The method, `POST` or `GET`.
    pub method: String,
    /// The raw path and query, as sent (still percent-encoded).
    pub path: String,
    /// The headers in the order received; the values of `Authorization`, `requestToken` and
    /// other credential headers are replaced by `[redacted]`.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced), cut at 64 KiB.
    pub body: String,
    /// The operation the request was routed to; `None` for an unknown route.
    pub operation: Option<Operation>,
    /// The payment the request names, when it names one (percent-decoded).
    pub payment_id: Option<String>,
    /// The HTTP status answered; `None` when the connection was closed without an answer.
    pub status: Option<u16>,
    /// The fault applied to this request, by its admin name (`"close_after_applying"`).
    pub fault: Option<String>,
    /// Why the sandbox refused the request, when it did (the provider's body may say less).
    pub note: Option<String>,
    /// When the request arrived.
    pub received_at: SystemTime,
}

impl LoggedRequest {
    /// The value of a header (case-insensitive name), if it was sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How a refund ends.
#[derive(Clone, Debug)]
pub(crate) enum Fate {
    Approved,
    /// Declined with the provider's code (Plexy responseCode, Payabli D-code, PayNext `FAILED`).
    Declined(String),
    /// Pending until `until`, then approved (`approve`) or declined.
    Pending {
        until: Instant,
        approve: bool,
    },
}

/// A refund's state at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    Approved,
    Declined,
    Pending,
}

/// A refund in a provider's ledger.
#[derive(Clone, Debug)]
pub(crate) struct RefundEntry {
    pub(crate) id: String,
    pub(crate) payment_id: String,
    pub(crate) reference: Option<String>,
    pub(crate) amount: Money,
    pub(crate) fate: Fate,
    pub(crate) created_at: SystemTime,
    pub(crate) created_instant: Instant,
    /// Payabli's numeric refund link id (`refundId`); 0 elsewhere.
    pub(crate) link_id: i64,
    /// Payabli `orderId`, Plexy `description`.
    pub(crate) note: Option<String>,
    /// Whether the webhook event of a pending refund's final state was emitted.
    pub(crate) announced_final: bool,
}

impl RefundEntry {
    /// The state the refund was created in, as its creation answer and webhook show it: a
    /// pending refund reads pending there even when its delay is zero.
    pub(crate) fn initial(&self) -> Resolved {
        match &self.fate {
            Fate::Approved => Resolved::Approved,
            Fate::Declined(_) => Resolved::Declined,
            Fate::Pending { .. } => Resolved::Pending,
        }
    }

    pub(crate) fn resolved(&self, now: Instant) -> Resolved {
        match &self.fate {
            Fate::Approved => Resolved::Approved,
            Fate::Declined(_) => Resolved::Declined,
            Fate::Pending { until, approve } => {
                if now < *until {
                    Resolved::Pending
                } else if *approve {
                    Resolved::Approved
                } else {
                    Resolved::Declined
                }
            }
        }
    }

    /// Whether money moved or will move (declined refunds, now or later, do not count).
    pub(crate) fn applied(&self) -> bool {
        match &self.fate {
            Fate::Approved => true,
            Fate::Declined(_) => false,
            Fate::Pending { approve, .. } => *approve,
        }
    }

    /// When the refund reached its final state (or now, while it is pending).
    pub(crate) fn updated_at(&self, now: Instant) -> SystemTime {
        match &self.fate {
            Fate::Pending { until, .. } if now >= *until => {
                self.created_at + until.saturating_duration_since(self.created_instant)
            }
            _ => self.created_at,
        }
    }

    /// Makes a pending refund final now.
    pub(crate) fn resolve_now(&mut self, now: Instant) {
        if let Fate::Pending { until, .. } = &mut self.fate
            && *until > now
        {
            *until = now;
        }
    }
}

/// Payments and refunds of one provider, behind the provider's lock.
#[derive(Debug)]
pub(crate) struct Ledger<P> {
    pub(crate) payments: HashMap<String, P>,
    /// Payment ids in creation order, for listings.
    pub(crate) order: Vec<String>,
    pub(crate) refunds: Vec<RefundEntry>,
    /// The last id number handed out (refund ids are built from it).
    pub(crate) counter: u64,
}

impl<P> Default for Ledger<P> {
    fn default() -> Self {
        Ledger {
            payments: HashMap::new(),
            order: Vec::new(),
            refunds: Vec::new(),
            counter: 0,
        }
    }
}

impl<P> Ledger<P> {
    pub(crate) fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    pub(crate) fn insert(&mut self, id: String, payment: P) {
        self.order.push(id.clone());
        self.payments.insert(id, payment);
    }

    pub(crate) fn refunds_of<'a>(
        &'a self,
        payment_id: &'a str,
    ) -> impl Iterator<Item = &'a RefundEntry> + 'a {
        self.refunds
            .iter()
            .filter(move |r| r.payment_id == payment_id)
    }

    /// The sum of the applied refunds of a payment, in minor units.
    pub(crate) fn refunded_minor(&self, payment_id: &str) -> i64 {
        self.refunds_of(payment_id)
            .filter(|r| r.applied())
            .map(|r| r.amount.minor_units())
            .sum()
    }

    pub(crate) fn applied_count(&self, payment_id: &str) -> usize {
        self.refunds_of(payment_id).filter(|r| r.applied()).count()
    }

    /// The pending refunds whose final state is due at `now` and not yet announced by webhook
    /// (marked announced now), and when the next one falls due.
    pub(crate) fn take_finalized(&mut self, now: Instant) -> (Vec<usize>, Option<Instant>) {
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (index, r) in self.refunds.iter_mut().enumerate() {
            if let Fate::Pending { until, .. } = r.fate
                && !r.announced_final
            {
                if until <= now {
                    r.announced_final = true;
                    due.push(index);
                } else {
                    next = Some(next.map_or(until, |n| n.min(until)));
                }
            }
        }
        (due, next)
    }

    pub(crate) fn resolve_pending(&mut self, now: Instant) {
        for r in &mut self.refunds {
            r.resolve_now(now);
        }
    }
}

/// Builds money from minor units that the sandbox computed itself (never negative), in the
/// currency of `zero`. `zero` is also the fallback, which `from_minor` never needs for a
/// non-negative value.
pub(crate) fn money(minor: i64, zero: Money) -> Money {
    Money::from_minor(minor.max(0), zero.currency()).unwrap_or(zero)
}

/// Zero in a currency.
pub(crate) fn zero_of(currency: Currency) -> Result<Money, refund_core::Error> {
    Money::from_minor(0, currency)
}

fn money_json(m: Money) -> Value {
    json!({
        "amount": m.decimal_text(),
        "amount_minor": m.minor_units(),
        "currency": m.currency().code(),
    })
}

impl PaymentSnapshot {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "amount": money_json(self.amount),
            "status": self.status,
            "settlement_status": self.settlement_status,
            "service_fee": self.service_fee.map(money_json),
            "refunded": money_json(self.refunded),
            "balance": money_json(self.balance),
            "refunds_applied": self.refunds_applied,
        })
    }
}

impl RefundRecord {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "payment_id": self.payment_id,
            "reference": self.reference,
            "amount": money_json(self.amount),
            "status": self.status,
            "applied": self.applied,
            "created_at": rfc3339_millis(self.created_at),
        })
    }
}

impl LoggedRequest {
    pub(crate) fn to_json(&self) -> Value {
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        json!({
            "method": self.method,
            "path": self.path,
            "headers": headers,
            "body": self.body,
            "operation": self.operation.map(|o| o.as_str()),
            "payment_id": self.payment_id,
            "status": self.status,
            "fault": self.fault,
            "note": self.note,
            "received_at": rfc3339_millis(self.received_at),
        })
    }
}
