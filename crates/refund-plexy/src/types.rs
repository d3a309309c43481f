//! Plexy's own public types: a [`Transaction`] as the lookups return it (P-L1, P-L2), its
//! [`TransactionKind`] and normalized [`TransactionStatus`], and what it says about
//! [`Refundability`]. Wire types stay private; these are what callers see.

use std::fmt;

use refund_core::{Currency, Money, RefundStatus};

/// A Plexy transaction (a payment or a refund), as `GET /transactions/{id}` (P-L1) and
/// `GET /transactions/by-order-reference/{reference}` (P-L2) return it (contract §1.4).
///
/// Every field is optional because Plexy may leave any of them out (§0.6). The OBSERVED field
/// variants (`transactionId`, `merchantReference`, `originalTransactionId`, ids wrapped as
/// `{"Value": …}`, statuses written `TRANSACTION_STATUS_<X>`) are already folded into the
/// canonical fields.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Transaction {
    /// The transaction id (opaque, §0.1).
    pub id: Option<String>,
    /// A payment, a refund, or another kind.
    pub kind: Option<TransactionKind>,
    /// The normalized status (see [`TransactionStatus::from_wire`]).
    pub status: Option<TransactionStatus>,
    /// The status exactly as Plexy wrote it (`"refunded"`, `"TRANSACTION_STATUS_AUTHED"`).
    pub raw_status: Option<String>,
    /// The transaction's amount, converted exactly from Plexy's major units. `None` when Plexy
    /// gave no amount or no currency (an amount is never guessed into a currency).
    pub amount: Option<Money>,
    /// On a payment, the refundable balance left, converted like `amount`.
    pub remaining: Option<Money>,
    /// The currency Plexy reported.
    pub currency: Option<Currency>,
    /// The merchant reference (`orderReference`); on a refund, the caller's refund reference.
    pub order_reference: Option<String>,
    /// On a refund, the id of the refunded payment (`parentTransactionId`).
    pub parent_id: Option<String>,
    /// The ISO-8583-style `responseCode` (`"00"` approved), when present.
    pub response_code: Option<String>,
    /// Plexy's free-text message. Show it, never parse it.
    pub message: Option<String>,
    /// When the transaction was created (ISO 8601 UTC text, as Plexy wrote it).
    pub created_at: Option<String>,
    /// When the transaction last changed (ISO 8601 UTC text, as Plexy wrote it).
    pub updated_at: Option<String>,
}

impl Transaction {
    /// The outcome of a refund transaction (contract §1.4, ASSUMED): `refunded` and `charged`
    /// are [`Succeeded`](RefundStatus::Succeeded); `rejected`, `failed` and `cancelled` are
    /// [`Declined`](RefundStatus::Declined); `created`, `new`, `3d`, `authorized`, an unknown
    /// status or no status at all are [`Pending`](RefundStatus::Pending).
    pub fn refund_status(&self) -> RefundStatus {
        refund_status_of(self.status.as_ref())
    }

    /// Whether this transaction, read as an original payment, can be refunded (contract §1.4):
    /// `charged` → [`Refundable`](Refundability::Refundable); `refunded` →
    /// [`Refunded`](Refundability::Refunded) (at least one refund exists, possibly partial: see
    /// [`remaining`](Self::remaining)); `authorized` →
    /// [`CancelInstead`](Refundability::CancelInstead); anything else, and any refund
    /// transaction, → [`NotRefundable`](Refundability::NotRefundable).
    pub fn refundability(&self) -> Refundability {
        if matches!(self.kind, Some(TransactionKind::Refund)) {
            return Refundability::NotRefundable;
        }
        match &self.status {
            Some(TransactionStatus::Charged) => Refundability::Refundable,
            Some(TransactionStatus::Refunded) => Refundability::Refunded,
            Some(TransactionStatus::Authorized) => Refundability::CancelInstead,
            _ => Refundability::NotRefundable,
        }
    }
}

/// What kind of transaction it is (`type`; the webhook vocabulary, contract §1.4, §4.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionKind {
    /// `payment`.
    Payment,
    /// `refund`.
    Refund,
    /// `reversal` (webhooks, §4.1).
    Reversal,
    /// Any other value, kept as Plexy wrote it.
    Other(String),
}

impl TransactionKind {
    /// Reads Plexy's `type` value; letter case is ignored (`REFUND` is a refund).
    pub fn from_wire(raw: &str) -> Self {
        let lower = raw.trim().to_ascii_lowercase();
        match lower.as_str() {
            "payment" => TransactionKind::Payment,
            "refund" => TransactionKind::Refund,
            "reversal" => TransactionKind::Reversal,
            _ => TransactionKind::Other(raw.to_owned()),
        }
    }

    /// The canonical wire value (`"payment"`, `"refund"`, `"reversal"`), or the raw value.
    pub fn as_str(&self) -> &str {
        match self {
            TransactionKind::Payment => "payment",
            TransactionKind::Refund => "refund",
            TransactionKind::Reversal => "reversal",
            TransactionKind::Other(raw) => raw,
        }
    }
}

impl fmt::Display for TransactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for TransactionKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A transaction status (contract §1.5), normalized.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionStatus {
    /// `created`.
    Created,
    /// `new` (2023 docs).
    New,
    /// `3d`: 3-D Secure in progress.
    ThreeD,
    /// `authorized` (also written `TRANSACTION_STATUS_AUTHED`).
    Authorized,
    /// `rejected`.
    Rejected,
    /// `failed` (spelled `transaction.failed` on one documentation page).
    Failed,
    /// `charged`: captured, refundable.
    Charged,
    /// `cancelled`.
    Cancelled,
    /// `refunded`: a refund transaction was created.
    Refunded,
    /// Any other value, after normalization (prefix stripped, lowercase).
    Other(String),
}

/// The outcome of a refund transaction in `status` (see [`Transaction::refund_status`]).
pub(crate) fn refund_status_of(status: Option<&TransactionStatus>) -> RefundStatus {
    match status {
        Some(TransactionStatus::Refunded | TransactionStatus::Charged) => RefundStatus::Succeeded,
        Some(
            TransactionStatus::Rejected | TransactionStatus::Failed | TransactionStatus::Cancelled,
        ) => RefundStatus::Declined,
        _ => RefundStatus::Pending,
    }
}

impl TransactionStatus {
    /// Reads a status as Plexy writes it, accepting the OBSERVED variant of contract §1.4:
    /// `TRANSACTION_STATUS_<X>` has its prefix stripped and is lowercased, and `authed` reads as
    /// `authorized`. The `transaction.` prefix of the status page (`transaction.failed`) is
    /// stripped too, and letter case is ignored.
    pub fn from_wire(raw: &str) -> Self {
        let trimmed = raw.trim();
        let lower = trimmed.to_ascii_lowercase();
        let name = lower
            .strip_prefix("transaction_status_")
            .or_else(|| lower.strip_prefix("transaction."))
            .unwrap_or(&lower);
        match name {
            "created" => TransactionStatus::Created,
            "new" => TransactionStatus::New,
            "3d" => TransactionStatus::ThreeD,
            "authorized" | "authed" => TransactionStatus::Authorized,
            "rejected" => TransactionStatus::Rejected,
            "failed" => TransactionStatus::Failed,
            "charged" => TransactionStatus::Charged,
            "cancelled" => TransactionStatus::Cancelled,
            "refunded" => TransactionStatus::Refunded,
            other => TransactionStatus::Other(other.to_owned()),
        }
    }

    /// The canonical status name (`"charged"`), or the normalized unknown value.
    pub fn as_str(&self) -> &str {
        match self {
            TransactionStatus::Created => "created",
            TransactionStatus::New => "new",
            TransactionStatus::ThreeD => "3d",
            TransactionStatus::Authorized => "authorized",
            TransactionStatus::Rejected => "rejected",
            TransactionStatus::Failed => "failed",
            TransactionStatus::Charged => "charged",
            TransactionStatus::Cancelled => "cancelled",
            TransactionStatus::Refunded => "refunded",
            TransactionStatus::Other(raw) => raw,
        }
    }
}

impl fmt::Display for TransactionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for TransactionStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whether an original payment can be refunded (contract §1.4, "Original payment").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refundability {
    /// `charged`: refundable.
    Refundable,
    /// `refunded`: at least one refund exists, possibly partial; the payment's remaining
    /// balance tells what is left.
    Refunded,
    /// `authorized`: not captured yet, so it is cancelled rather than refunded
    /// (`POST /payments/{id}/cancel`, not covered by this crate).
    CancelInstead,
    /// Any other status (or a refund transaction): not refundable.
    NotRefundable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_normalized() {
        use TransactionStatus::*;
        for (raw, status) in [
            ("created", Created),
            ("new", New),
            ("3d", ThreeD),
            ("3D", ThreeD),
            ("authorized", Authorized),
            ("rejected", Rejected),
            ("failed", Failed),
            ("transaction.failed", Failed),
            ("charged", Charged),
            ("cancelled", Cancelled),
            ("refunded", Refunded),
            ("TRANSACTION_STATUS_CHARGED", Charged),
            ("TRANSACTION_STATUS_AUTHED", Authorized),
            ("TRANSACTION_STATUS_AUTHORIZED", Authorized),
            ("TRANSACTION_STATUS_REFUNDED", Refunded),
            ("TRANSACTION_STATUS_3D", ThreeD),
            ("TRANSACTION_STATUS_CANCELLED", Cancelled),
            ("Charged", Charged),
            ("TRANSACTION_STATUS_DISPUTED", Other("disputed".into())),
            ("settled", Other("settled".into())),
            ("", Other(String::new())),
        ] {
            assert_eq!(TransactionStatus::from_wire(raw), status, "{raw:?}");
        }
        assert_eq!(TransactionStatus::from_wire("3D").to_string(), "3d");
    }

    #[test]
    fn kinds() {
        assert_eq!(
            TransactionKind::from_wire("refund"),
            TransactionKind::Refund
        );
        assert_eq!(
            TransactionKind::from_wire("REFUND"),
            TransactionKind::Refund
        );
        assert_eq!(
            TransactionKind::from_wire("chargeback"),
            TransactionKind::Other("chargeback".into())
        );
        assert_eq!(TransactionKind::Payment.to_string(), "payment");
    }

    fn with(kind: Option<TransactionKind>, status: Option<TransactionStatus>) -> Transaction {
        Transaction {
            id: None,
            kind,
            status,
            raw_status: None,
            amount: None,
            remaining: None,
            currency: None,
            order_reference: None,
            parent_id: None,
            response_code: None,
            message: None,
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn refund_status_of_every_status() {
        use TransactionStatus::*;
        for (status, expected) in [
            (Some(Refunded), RefundStatus::Succeeded),
            (Some(Charged), RefundStatus::Succeeded),
            (Some(Rejected), RefundStatus::Declined),
            (Some(Failed), RefundStatus::Declined),
            (Some(Cancelled), RefundStatus::Declined),
            (Some(Created), RefundStatus::Pending),
            (Some(New), RefundStatus::Pending),
            (Some(ThreeD), RefundStatus::Pending),
            (Some(Authorized), RefundStatus::Pending),
            (Some(Other("disputed".into())), RefundStatus::Pending),
            (None, RefundStatus::Pending),
        ] {
            let t = with(Some(TransactionKind::Refund), status.clone());
            assert_eq!(t.refund_status(), expected, "{status:?}");
        }
    }

    #[test]
    fn refundability_of_an_original() {
        use TransactionStatus::*;
        let payment = Some(TransactionKind::Payment);
        for (kind, status, expected) in [
            (payment.clone(), Some(Charged), Refundability::Refundable),
            (payment.clone(), Some(Refunded), Refundability::Refunded),
            (
                payment.clone(),
                Some(Authorized),
                Refundability::CancelInstead,
            ),
            (payment.clone(), Some(Created), Refundability::NotRefundable),
            (
                payment.clone(),
                Some(Rejected),
                Refundability::NotRefundable,
            ),
            (payment, None, Refundability::NotRefundable),
            (None, Some(Charged), Refundability::Refundable),
            (
                Some(TransactionKind::Refund),
                Some(Charged),
                Refundability::NotRefundable,
            ),
        ] {
            assert_eq!(with(kind, status).refundability(), expected);
        }
    }
}
