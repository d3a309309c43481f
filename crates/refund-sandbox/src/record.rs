//! What a test can ask the sandbox: payments, refunds actually applied, and the request log.
//!
//! These are the sandbox's own records (the truth), not what a provider's API shows: a test
//! compares them with what a client believes happened.

use std::cell::RefCell;
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
    pub(crate) order: Vec<String>,
    pub(crate) refunds: Vec<RefundEntry>,
    pub(crate) counter: u64,
    /// Lookups into `refunds`, so that no request scans the ledger. Refunds are only ever
    /// appended (`refunds.push`), so the index catches up with new entries whenever it is read,
    /// and a push anywhere keeps it right. A `RefCell`: the ledger lives behind a `Mutex`.
    index: RefCell<RefundIndex>,
}

/// Positions in `Ledger::refunds`, in creation order.
#[derive(Debug, Default)]
struct RefundIndex {
    /// Entries indexed so far (`refunds[..seen]`).
    seen: usize,
    by_payment: HashMap<String, Vec<usize>>,
    by_reference: HashMap<String, Vec<usize>>,
    by_id: HashMap<String, usize>,
    /// Pending entries not yet announced final (see `take_finalized`).
    pending: Vec<usize>,
}

impl<P> Default for Ledger<P> {
    fn default() -> Self {
        Ledger {
            payments: HashMap::new(),
            order: Vec::new(),
            refunds: Vec::new(),
            counter: 0,
            index: RefCell::new(RefundIndex::default()),
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

    /// The index, brought up to date with the entries appended since it was last read.
    fn index(&self) -> std::cell::RefMut<'_, RefundIndex> {
        let mut ix = self.index.borrow_mut();
        if ix.seen > self.refunds.len() {
            // Entries were removed (never done today): start over.
            *ix = RefundIndex::default();
        }
        while let Some(r) = self.refunds.get(ix.seen) {
            let i = ix.seen;
            ix.by_payment
                .entry(r.payment_id.clone())
                .or_default()
                .push(i);
            if let Some(reference) = &r.reference {
                ix.by_reference
                    .entry(reference.clone())
                    .or_default()
                    .push(i);
            }
            ix.by_id.entry(r.id.clone()).or_insert(i);
            if matches!(r.fate, Fate::Pending { .. }) && !r.announced_final {
                ix.pending.push(i);
            }
            ix.seen += 1;
        }
        ix
    }

    pub(crate) fn refunds_of<'a>(
        &'a self,
        payment_id: &'a str,
    ) -> impl Iterator<Item = &'a RefundEntry> + 'a {
        let positions = self
            .index()
            .by_payment
            .get(payment_id)
            .cloned()
            .unwrap_or_default();
        positions.into_iter().filter_map(|i| self.refunds.get(i))
    }

    /// The refund with this id.
    pub(crate) fn refund_by_id(&self, id: &str) -> Option<&RefundEntry> {
        let i = self.index().by_id.get(id).copied()?;
        self.refunds.get(i)
    }

    /// The first refund created with this reference.
    pub(crate) fn first_refund_with_reference(&self, reference: &str) -> Option<&RefundEntry> {
        let i = self
            .index()
            .by_reference
            .get(reference)
            .and_then(|v| v.first().copied())?;
        self.refunds.get(i)
    }

    pub(crate) fn refunded_minor(&self, payment_id: &str) -> i64 {
        self.refunds_of(payment_id)
            .filter(|r| r.applied())
            .map(|r| r.amount.minor_units())
            .sum()
    }

    pub(crate) fn applied_count(&self, payment_id: &str) -> usize {
        self.refunds_of(payment_id).filter(|r| r.applied()).count()
    }

    pub(crate) fn take_finalized(&mut self, now: Instant) -> (Vec<usize>, Option<Instant>) {
        let mut pending = std::mem::take(&mut self.index().pending);
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        pending.retain(|&index| {
            let Some(r) = self.refunds.get_mut(index) else {
                return false;
            };
            match r.fate {
                Fate::Pending { until, .. } if !r.announced_final => {
                    if until <= now {
                        r.announced_final = true;
                        due.push(index);
                        false
                    } else {
                        next = Some(next.map_or(until, |n| n.min(until)));
                        true
                    }
                }
                _ => false,
            }
        });
        // Entries appended meanwhile are indexed (as pending) by the next `index()`.
        let mut ix = self.index();
        pending.append(&mut ix.pending);
        ix.pending = pending;
        (due, next)
    }

    pub(crate) fn resolve_pending(&mut self, now: Instant) {
        for r in &mut self.refunds {
            r.resolve_now(now);
        }
    }
}

/// Idempotency keys seen inside a sliding window: a map for the lookup and a queue in arrival
/// order for the expiry, so that a request costs no scan of every key.
#[derive(Debug, Default)]
pub(crate) struct KeyWindow {
    seen: HashMap<String, Instant>,
    queue: std::collections::VecDeque<(Instant, String)>,
}

impl KeyWindow {
    /// Forgets the keys first seen `window` or longer before `now`.
    pub(crate) fn expire(&mut self, now: Instant, window: std::time::Duration) {
        while let Some((at, _)) = self.queue.front() {
            if now.saturating_duration_since(*at) < window {
                break;
            }
            if let Some((at, key)) = self.queue.pop_front()
                && self.seen.get(&key) == Some(&at)
            {
                self.seen.remove(&key);
            }
        }
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.seen.contains_key(key)
    }

    pub(crate) fn insert(&mut self, key: String, now: Instant) {
        self.queue.push_back((now, key.clone()));
        self.seen.insert(key, now);
    }

    pub(crate) fn clear(&mut self) {
        self.seen.clear();
        self.queue.clear();
    }
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::time::Duration;

    use super::*;

    fn entry(id: &str, payment: &str, reference: Option<&str>, fate: Fate) -> RefundEntry {
        RefundEntry {
            id: id.into(),
            payment_id: payment.into(),
            reference: reference.map(Into::into),
            amount: Money::from_minor(100, Currency::USD).unwrap(),
            fate,
            created_at: SystemTime::now(),
            created_instant: Instant::now(),
            link_id: 0,
            note: None,
            announced_final: false,
        }
    }

    #[test]
    fn the_index_follows_pushes_and_answers_like_a_scan() {
        let mut l: Ledger<()> = Ledger::default();
        l.refunds.push(entry("r1", "p1", Some("a"), Fate::Approved));
        assert_eq!(l.applied_count("p1"), 1);
        // Pushed after the index was read: still found.
        l.refunds
            .push(entry("r2", "p2", Some("a"), Fate::Declined("05".into())));
        l.refunds.push(entry("r3", "p1", None, Fate::Approved));
        assert_eq!(
            l.refunds_of("p1")
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
            ["r1", "r3"]
        );
        assert_eq!(l.refunded_minor("p1"), 200);
        assert_eq!(l.applied_count("p2"), 0);
        assert_eq!(l.refund_by_id("r2").unwrap().payment_id, "p2");
        assert!(l.refund_by_id("r9").is_none());
        assert_eq!(l.first_refund_with_reference("a").unwrap().id, "r1");
        assert!(l.first_refund_with_reference("b").is_none());
    }

    #[test]
    fn pending_refunds_are_announced_once_when_due() {
        let mut l: Ledger<()> = Ledger::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        l.refunds.push(entry(
            "r1",
            "p1",
            None,
            Fate::Pending {
                until: now,
                approve: true,
            },
        ));
        l.refunds.push(entry(
            "r2",
            "p1",
            None,
            Fate::Pending {
                until: later,
                approve: true,
            },
        ));
        l.refunds.push(entry("r3", "p1", None, Fate::Approved));
        assert_eq!(l.take_finalized(now), (vec![0], Some(later)));
        assert_eq!(l.take_finalized(now), (vec![], Some(later)));
        l.refunds.push(entry(
            "r4",
            "p2",
            None,
            Fate::Pending {
                until: now,
                approve: false,
            },
        ));
        l.resolve_pending(now);
        assert_eq!(l.take_finalized(now), (vec![1, 3], None));
        assert_eq!(l.take_finalized(later), (vec![], None));
    }

    #[test]
    fn keys_expire_after_the_window_and_can_be_seen_again() {
        let window = Duration::from_secs(10);
        let t0 = Instant::now();
        let mut k = KeyWindow::default();
        k.insert("a".into(), t0);
        k.insert("b".into(), t0 + Duration::from_secs(5));
        k.expire(t0 + Duration::from_secs(9), window);
        assert!(k.contains("a") && k.contains("b"));
        k.expire(t0 + Duration::from_secs(10), window);
        assert!(!k.contains("a") && k.contains("b"));
        k.insert("a".into(), t0 + Duration::from_secs(12));
        k.expire(t0 + Duration::from_secs(15), window);
        assert!(k.contains("a") && !k.contains("b"));
        k.clear();
        assert!(!k.contains("a"));
    }
}
