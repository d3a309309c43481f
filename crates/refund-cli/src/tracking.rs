//! What following, webhooks and reports need from a journal: [`TrackingStore`], implemented by
//! the SQLite journal (`journal.rs`) and meant to be implemented by any other journal backend.
//!
//! A row's *outcome* is its current state as far as the provider told us: `succeeded`,
//! `pending`, `declined` (including a refund that failed after being pending), `refused`,
//! `unknown`, `failed` (the batch's vocabulary). Each change is a [`Transition`] with a
//! timestamp and its [`Source`]. Final outcomes (succeeded, declined, refused) never change.

use crate::journal::{JournalResult, RowKey};

/// Every outcome a row can have.
pub(crate) const OUTCOMES: [&str; 6] = crate::batch::OUTCOMES;

/// How long follow and report wait for another writer of a shared journal.
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long the webhook listener waits for another writer before answering 503: short, because
/// a batch holds the journal for its whole run and the provider delivers again anyway.
pub(crate) const WEBHOOK_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

/// Outcomes that never change once recorded.
pub(crate) const FINAL: [&str; 3] = ["succeeded", "declined", "refused"];

/// Who recorded a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `refund batch`: the answer to the refund request (or its reconciliation).
    Batch,
    /// `refund follow` / `refund batch --follow`: a provider lookup.
    Follow,
    /// `refund webhooks listen --journal`: a verified webhook event.
    Webhook,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Batch => "batch",
            Source::Follow => "follow",
            Source::Webhook => "webhook",
        }
    }

    /// Whether this source may move a row from outcome `from` (journal state `state`) to `to`.
    ///
    /// Nothing moves a final outcome, a `pending` row only moves to `succeeded` or `declined`,
    /// and a repeated outcome is no transition. A batch records
    /// what its request ended as (also after `failed` or `unknown`, on a rerun). A lookup or a
    /// webhook only tells about a refund that exists: it may move a row the provider accepted
    /// (`pending`), one whose outcome is `unknown`, or one a killed batch left `sending`, and only
    /// to `pending`, `succeeded` or `declined`; a row refused, failed or never sent is not theirs
    /// to change.
    pub(crate) fn may_move(self, from: Option<&str>, state: &str, to: &str) -> bool {
        if from == Some(to) || from.is_some_and(|f| FINAL.contains(&f)) {
            return false;
        }
        // A refund known to exist only moves on to its final status: a later rerun that cannot
        // establish it again (`unknown`) knows less, not more.
        if from == Some("pending") && to != "succeeded" && to != "declined" {
            return false;
        }
        match self {
            Source::Batch => OUTCOMES.contains(&to),
            Source::Follow | Source::Webhook => {
                ["pending", "succeeded", "declined"].contains(&to)
                    && match from {
                        Some(f) => f == "pending" || f == "unknown",
                        None => state == "sending",
                    }
            }
        }
    }
}

/// A status change to record for one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusUpdate {
    /// The new outcome (one of [`OUTCOMES`]).
    pub(crate) to: &'static str,
    pub(crate) source: Source,
    /// The provider's refund id, when the news carries one (recorded when the row has none yet).
    pub(crate) refund_id: Option<String>,
    /// Free-form detail: JSON text with `amount`, `currency`, `raw_status`, `event_type`, …
    pub(crate) detail: Option<String>,
    /// When it happened, in Unix milliseconds.
    pub(crate) at_ms: i64,
}

/// One recorded change of a row's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Transition {
    /// When, in Unix milliseconds.
    pub(crate) at_ms: i64,
    /// The outcome before (`None`: the batch had not finished the row).
    pub(crate) from: Option<String>,
    pub(crate) to: String,
    /// `batch`, `follow` or `webhook`.
    pub(crate) source: String,
    pub(crate) refund_id: Option<String>,
    /// JSON text or a note, as recorded.
    pub(crate) detail: Option<String>,
}

/// A journal row as tracking sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrackedRow {
    /// 0 for the first row after the header.
    pub(crate) idx: u64,
    pub(crate) key: RowKey,
    /// The batch's journal state (`new`, `prepared`, `sending`, `done`, …).
    pub(crate) state: String,
    pub(crate) snapshot: Option<String>,
    /// The batch's report line (JSON), for a finished row.
    pub(crate) result: Option<String>,
    pub(crate) outcome: Option<String>,
    pub(crate) refund_id: Option<String>,
    pub(crate) updated_at_ms: i64,
    /// Filled by [`TrackingStore::rows_for_report`] only.
    pub(crate) transitions: Vec<Transition>,
}

/// The storage operations of following, webhooks and reports. Async, so that a backend over
/// the network can implement it.
pub(crate) trait TrackingStore {
    /// Rows whose outcome is `pending`, in file order.
    async fn pending_rows(&self) -> JournalResult<Vec<TrackedRow>>;

    /// Candidate rows for a webhook event: the rows of `payment_id` on `provider` when the event
    /// names the payment, else the rows on `provider` with this reference or refund id.
    async fn rows_for_event(
        &self,
        provider: &str,
        payment_id: Option<&str>,
        reference: Option<&str>,
        refund_id: Option<&str>,
    ) -> JournalResult<Vec<TrackedRow>>;

    /// Records `update` for row `idx` when [`Source::may_move`] allows it, atomically with its
    /// transition and guarded against a concurrent writer; returns the transition written.
    async fn apply_status(
        &self,
        idx: u64,
        update: &StatusUpdate,
    ) -> JournalResult<Option<Transition>>;

    /// Every row, in file order, with its transitions.
    async fn rows_for_report(&self) -> JournalResult<Vec<TrackedRow>>;
}

/// The one row a webhook event is about, among the candidates of
/// [`TrackingStore::rows_for_event`]:
/// 1. the row with the event's reference, when the event carries one;
/// 2. else the row with the event's refund id;
/// 3. else, for an event that names the payment (`payment_id`) but no reference, the only row
///    of that payment that was sent, when its refund id is unknown or the event's "refund id" is
///    the payment id itself: PayNext allows one refund per payment, its events carry no
///    reference, and a refund without a processor id of its own is identified by the payment id
///    (contract §4.2).
///
/// `None` when no row or more than one could be meant.
pub(crate) fn match_event<'a>(
    candidates: &'a [TrackedRow],
    payment_id: Option<&str>,
    reference: Option<&str>,
    refund_id: Option<&str>,
) -> Option<&'a TrackedRow> {
    fn only<'a>(rows: impl Iterator<Item = &'a TrackedRow>) -> Option<&'a TrackedRow> {
        let mut rows = rows;
        match (rows.next(), rows.next()) {
            (Some(row), None) => Some(row),
            _ => None,
        }
    }
    if let Some(reference) = reference {
        // A reference names one refund: no fallback when no row has it.
        return only(candidates.iter().filter(|r| r.key.reference == reference));
    }
    if let Some(id) = refund_id
        && candidates
            .iter()
            .any(|r| r.refund_id.as_deref() == Some(id))
    {
        return only(
            candidates
                .iter()
                .filter(|r| r.refund_id.as_deref() == Some(id)),
        );
    }
    let payment = payment_id?;
    let sent = || {
        candidates
            .iter()
            .filter(|r| r.key.payment_id == payment && r.state != "new" && r.state != "prepared")
    };
    let row = only(sent())?;
    (row.refund_id.is_none() || refund_id == Some(payment)).then_some(row)
}

/// The update a batch records when it finishes a row.
pub(crate) fn batch_update(line: &crate::batch::ReportLine) -> StatusUpdate {
    let to = OUTCOMES
        .iter()
        .copied()
        .find(|o| *o == line.outcome)
        .unwrap_or("unknown");
    let detail = line
        .error
        .as_ref()
        .map(|e| serde_json::json!({"error": {"kind": e.kind, "message": e.message}}).to_string());
    StatusUpdate {
        to,
        source: Source::Batch,
        refund_id: line.refund_id.clone(),
        detail,
        at_ms: now_ms(),
    }
}

/// The current time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A batch journal opened for tracking: a SQLite file (shared mode) or one batch of a
/// PostgreSQL journal.
pub(crate) enum TrackingJournal {
    /// A SQLite journal file.
    Sqlite(crate::journal::Journal),
    /// A batch of a PostgreSQL journal.
    Postgres(crate::journal::postgres::PgTracking),
}

impl TrackingJournal {
    /// Opens `journal` (a SQLite path, or a `postgres://` URL with the batch `batch_id`, needed
    /// only when the database holds several batches). A SQLite journal waits up to
    /// `busy_timeout` for another writer.
    ///
    /// # Errors
    /// The journal does not exist, cannot be opened, or (SQLite) a `refund batch` holds it.
    pub(crate) async fn open(
        journal: &str,
        batch_id: Option<&str>,
        busy_timeout: std::time::Duration,
    ) -> JournalResult<TrackingJournal> {
        if crate::journal::postgres::is_url(journal) {
            crate::journal::postgres::PgTracking::open(journal, batch_id)
                .await
                .map(TrackingJournal::Postgres)
        } else {
            crate::journal::Journal::open_shared(std::path::Path::new(journal), busy_timeout)
                .map(TrackingJournal::Sqlite)
        }
    }
}

impl TrackingStore for TrackingJournal {
    async fn pending_rows(&self) -> JournalResult<Vec<TrackedRow>> {
        match self {
            TrackingJournal::Sqlite(j) => j.pending_rows().await,
            TrackingJournal::Postgres(j) => j.pending_rows().await,
        }
    }

    async fn rows_for_event(
        &self,
        provider: &str,
        payment_id: Option<&str>,
        reference: Option<&str>,
        refund_id: Option<&str>,
    ) -> JournalResult<Vec<TrackedRow>> {
        match self {
            TrackingJournal::Sqlite(j) => {
                j.rows_for_event(provider, payment_id, reference, refund_id)
                    .await
            }
            TrackingJournal::Postgres(j) => {
                j.rows_for_event(provider, payment_id, reference, refund_id)
                    .await
            }
        }
    }

    async fn apply_status(
        &self,
        idx: u64,
        update: &StatusUpdate,
    ) -> JournalResult<Option<Transition>> {
        match self {
            TrackingJournal::Sqlite(j) => j.apply_status(idx, update).await,
            TrackingJournal::Postgres(j) => j.apply_status(idx, update).await,
        }
    }

    async fn rows_for_report(&self) -> JournalResult<Vec<TrackedRow>> {
        match self {
            TrackingJournal::Sqlite(j) => j.rows_for_report().await,
            TrackingJournal::Postgres(j) => j.rows_for_report().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(idx: u64, reference: &str, refund_id: Option<&str>) -> TrackedRow {
        TrackedRow {
            idx,
            key: RowKey {
                provider: "paynext".into(),
                payment_id: "p".into(),
                amount: String::new(),
                currency: String::new(),
                reference: reference.into(),
                reason: String::new(),
            },
            state: "done".into(),
            snapshot: None,
            result: None,
            outcome: Some("pending".into()),
            refund_id: refund_id.map(str::to_owned),
            updated_at_ms: 0,
            transitions: Vec::new(),
        }
    }

    #[test]
    fn events_match_by_reference_then_refund_id_then_the_only_row() {
        let rows = [row(0, "rf-0", Some("re_0")), row(1, "rf-1", None)];
        let idx = |r: Option<&TrackedRow>| r.map(|r| r.idx);
        assert_eq!(
            idx(match_event(&rows, Some("p"), Some("rf-1"), Some("re_0"))),
            Some(1)
        );
        assert_eq!(
            idx(match_event(&rows, Some("p"), None, Some("re_0"))),
            Some(0)
        );
        assert_eq!(
            idx(match_event(&rows, Some("p"), Some("rf-9"), Some("re_0"))),
            None
        );
        // Two rows of the payment and an unknown refund id: ambiguous.
        assert_eq!(idx(match_event(&rows, Some("p"), None, Some("re_9"))), None);
        assert_eq!(idx(match_event(&rows, None, None, Some("re_9"))), None);
        // The only row of a payment.
        let one = [row(0, "rf-0", None)];
        assert_eq!(
            idx(match_event(&one, Some("p"), None, Some("re_9"))),
            Some(0)
        );
        let known = [row(0, "rf-0", Some("re_0"))];
        assert_eq!(
            idx(match_event(&known, Some("p"), None, Some("re_9"))),
            None
        );
        // PayNext names a refund without an id of its own by the payment id.
        assert_eq!(
            idx(match_event(&known, Some("p"), None, Some("p"))),
            Some(0)
        );
    }

    #[test]
    fn sources_never_move_a_final_outcome() {
        for source in [Source::Batch, Source::Follow, Source::Webhook] {
            for from in FINAL {
                for to in OUTCOMES {
                    assert!(
                        !source.may_move(Some(from), "done", to),
                        "{source:?} {from} {to}"
                    );
                }
            }
        }
        assert!(Source::Follow.may_move(Some("pending"), "done", "succeeded"));
        assert!(Source::Webhook.may_move(Some("unknown"), "unknown", "declined"));
        assert!(Source::Webhook.may_move(None, "sending", "pending"));
        assert!(!Source::Webhook.may_move(None, "new", "succeeded"));
        assert!(!Source::Follow.may_move(Some("failed"), "failed", "succeeded"));
        assert!(!Source::Webhook.may_move(Some("pending"), "done", "unknown"));
        assert!(Source::Batch.may_move(Some("failed"), "failed", "pending"));
        assert!(Source::Batch.may_move(Some("unknown"), "unknown", "succeeded"));
        for to in ["unknown", "failed", "refused"] {
            assert!(
                !Source::Batch.may_move(Some("pending"), "unknown", to),
                "{to}"
            );
        }
    }
}
