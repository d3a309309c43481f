//! The batch journal: an embedded SQLite database that records each row's state before and
//! after every request, so that a batch killed at any moment (even `kill -9`) and run again
//! never refunds a row twice.
//!
//! The rule that makes it safe: a row is marked `sending` and committed *before* its refund
//! request leaves. On a rerun a `sending` or `unknown` row is never sent blindly: it is
//! reconciled (looked up first) through the facade's `resume`.
//!
//! [`postgres`] holds the same journal on PostgreSQL, for several workers sharing one batch;
//! [`Store`] is what a row's processing writes through, whichever the backend.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

pub(crate) mod postgres;

/// Where a row's processing records its states: the backend of the batch's journal.
#[derive(Clone, Copy)]
pub(crate) enum Store<'a> {
    /// One process, a SQLite file.
    Sqlite(&'a Journal),
    /// One worker of several, a PostgreSQL database.
    Postgres(&'a postgres::PgJournal),
}

impl Store<'_> {
    /// Marks a row `sending` (with its snapshot when `snapshot` is `Some`); returns once that is
    /// committed, with the time it was marked, or `None` when this worker lost the row to
    /// another (PostgreSQL: its lease expired): then nothing may be sent.
    pub(crate) async fn mark_sending(
        self,
        idx: u64,
        snapshot: Option<Option<&str>>,
    ) -> JournalResult<Option<i64>> {
        match self {
            Store::Sqlite(j) => j.mark_sending(idx, snapshot).await.map(Some),
            Store::Postgres(j) => j.mark_sending(idx, snapshot).await,
        }
    }

    /// Records a row's state and report line, with the batch's tracking update (its outcome
    /// and transition); `false` when another worker holds the row now.
    pub(crate) async fn finish(
        self,
        idx: u64,
        state: RowState,
        result: &str,
        update: &crate::tracking::StatusUpdate,
    ) -> JournalResult<bool> {
        match self {
            Store::Sqlite(j) => j.finish(idx, state, result, update).map(|()| true),
            Store::Postgres(j) => j.finish(idx, state, result, update).await,
        }
    }
}

/// A row's state in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowState {
    /// Recorded; nothing sent.
    New,
    /// The provider's snapshot was taken; nothing sent.
    Prepared,
    /// A refund request may be in flight or applied.
    Sending,
    /// Final: the provider answered succeeded, pending or declined.
    Done,
    /// Final: refused without applying anything (invalid row, unsupported, not found, auth…).
    Refused,
    /// The outcome is unknown; a rerun reconciles it.
    Unknown,
    /// Failed without reaching the provider (after retries); a rerun tries again.
    Failed,
}

impl RowState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RowState::New => "new",
            RowState::Prepared => "prepared",
            RowState::Sending => "sending",
            RowState::Done => "done",
            RowState::Refused => "refused",
            RowState::Unknown => "unknown",
            RowState::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<RowState> {
        Some(match s {
            "new" => RowState::New,
            "prepared" => RowState::Prepared,
            "sending" => RowState::Sending,
            "done" => RowState::Done,
            "refused" => RowState::Refused,
            "unknown" => RowState::Unknown,
            "failed" => RowState::Failed,
            _ => return None,
        })
    }

    /// Whether the row needs no more work.
    pub(crate) fn is_final(self) -> bool {
        matches!(self, RowState::Done | RowState::Refused)
    }
}

/// The fields of a CSV row that identify it (compared on a rerun).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowKey {
    pub(crate) provider: String,
    pub(crate) payment_id: String,
    pub(crate) amount: String,
    pub(crate) currency: String,
    pub(crate) reference: String,
    pub(crate) reason: String,
}

/// What the journal knows about a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalRow {
    pub(crate) key: RowKey,
    pub(crate) state: RowState,
    pub(crate) snapshot: Option<String>,
    pub(crate) result: Option<String>,
    /// When the row was last marked `sending` (ms since the Unix epoch): where a provider's
    /// absence proof depends on its idempotency window, the window starts here.
    pub(crate) sending_at: Option<i64>,
}

/// The journal. Shared by the batch's tasks.
///
/// Group commit: writes run at once inside one open transaction, which is committed when a
/// row is marked `sending` (that row's request leaves only after the commit that holds its
/// intent), when it holds many writes or has been open for a while, and at the end of the run.
/// Rows whose intents arrive while a commit is pending share it, so a busy batch commits far
/// fewer times than it writes. A final state lost with an uncommitted transaction (`kill -9`)
/// leaves the row `sending`: a rerun looks it up, it never sends it again blindly.
pub(crate) struct Journal {
    inner: Mutex<Inner>,
}

struct Inner {
    conn: Connection,
    /// Whether a transaction is open.
    open: bool,
    /// The number of the open transaction (or of the last one, when none is open).
    tx: u64,
    /// The number of the last committed transaction.
    committed: u64,
    /// Writes in the open transaction.
    writes: usize,
    /// When the open transaction began.
    began: std::time::Instant,
}

/// A transaction holding this many writes is committed.
const MAX_WRITES: usize = 2048;
/// A transaction open this long is committed at the next write.
const MAX_OPEN: std::time::Duration = std::time::Duration::from_millis(200);

pub(crate) type JournalResult<T> = Result<T, String>;

/// Why `path` could not be opened: in use by `holder` when another process holds it.
fn open_error(path: &Path, e: &rusqlite::Error, holder: &str) -> String {
    if matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    ) {
        format!("journal {} is in use by {holder}", path.display())
    } else {
        format!("cannot open journal {}: {e}", path.display())
    }
}

fn err(e: rusqlite::Error) -> String {
    format!("journal: {e}")
}

impl Inner {
    /// Runs `write` inside the open transaction (beginning one if needed); returns the number of
    /// the transaction that holds it.
    fn write(
        &mut self,
        write: impl FnOnce(&Connection) -> rusqlite::Result<usize>,
    ) -> JournalResult<u64> {
        if !self.open {
            self.conn
                .prepare_cached("BEGIN IMMEDIATE")
                .and_then(|mut s| s.execute([]))
                .map_err(err)?;
            self.open = true;
            self.tx = self.tx.wrapping_add(1);
            self.writes = 0;
            self.began = std::time::Instant::now();
        }
        write(&self.conn).map_err(err)?;
        self.writes += 1;
        let tx = self.tx;
        if self.writes >= MAX_WRITES || self.began.elapsed() >= MAX_OPEN {
            self.commit()?;
        }
        Ok(tx)
    }

    fn commit(&mut self) -> JournalResult<()> {
        if self.open {
            self.conn
                .prepare_cached("COMMIT")
                .and_then(|mut s| s.execute([]))
                .map_err(err)?;
            self.open = false;
            self.committed = self.tx;
        }
        Ok(())
    }
}

impl Journal {
    /// Opens (or creates) the journal and locks it for this process.
    ///
    /// The lock (SQLite's exclusive locking mode) is held until the process ends, even by
    /// `kill -9`: a second `refund batch` on the same journal is refused at once instead of
    /// sending the same rows in parallel.
    pub(crate) fn open(path: &Path) -> JournalResult<Journal> {
        let conn = Connection::open(path)
            .map_err(|e| format!("cannot open journal {}: {e}", path.display()))?;
        // Fail at once, not after a wait, when another process holds the journal.
        conn.busy_timeout(std::time::Duration::ZERO).map_err(err)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(err)?;
        let in_use = |e: rusqlite::Error| {
            open_error(
                path,
                &e,
                "another process (another `refund batch` with the same journal?)",
            )
        };
        // WAL with synchronous=NORMAL: a committed transaction survives the process being killed
        // (the OS has it); only a power loss could lose the last commits.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(in_use)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // The first write takes the exclusive lock, kept until the connection closes.
        conn.execute_batch(
            "BEGIN IMMEDIATE;
            CREATE TABLE IF NOT EXISTS rows (
                idx INTEGER PRIMARY KEY,
                provider TEXT NOT NULL,
                payment_id TEXT NOT NULL,
                amount TEXT NOT NULL,
                currency TEXT NOT NULL,
                reference TEXT NOT NULL,
                reason TEXT NOT NULL,
                state TEXT NOT NULL,
                snapshot TEXT,
                result TEXT,
                updated_at INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS rows_by_reference ON rows (provider, reference);
            COMMIT;",
        )
        .map_err(in_use)?;
        // Journals written before `sending_at` existed get the column (NULL for their rows).
        let has_sending_at: bool = conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('rows') WHERE name = 'sending_at'",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if !has_sending_at {
            conn.execute_batch("ALTER TABLE rows ADD COLUMN sending_at INTEGER")
                .map_err(err)?;
        }
        migrate_tracking(&conn).map_err(in_use)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        Ok(Journal::with_connection(conn))
    }

    fn with_connection(conn: Connection) -> Journal {
        Journal {
            inner: Mutex::new(Inner {
                conn,
                open: false,
                tx: 0,
                committed: 0,
                writes: 0,
                began: std::time::Instant::now(),
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, idx: u64) -> JournalResult<Option<JournalRow>> {
        let inner = self.inner();
        let mut stmt = inner
            .conn
            .prepare_cached(
                "SELECT provider, payment_id, amount, currency, reference, reason, state, snapshot, result, sending_at
                 FROM rows WHERE idx = ?1",
            )
            .map_err(err)?;
        let row = stmt
            .query_row(params![to_i64(idx)?], |r| {
                Ok((
                    RowKey {
                        provider: r.get(0)?,
                        payment_id: r.get(1)?,
                        amount: r.get(2)?,
                        currency: r.get(3)?,
                        reference: r.get(4)?,
                        reason: r.get(5)?,
                    },
                    r.get::<_, String>(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .optional()
            .map_err(err)?;
        match row {
            None => Ok(None),
            Some((key, state, snapshot, result, sending_at)) => {
                let state = RowState::parse(&state)
                    .ok_or_else(|| format!("journal: row {idx} has unknown state {state:?}"))?;
                Ok(Some(JournalRow {
                    key,
                    state,
                    snapshot,
                    result,
                    sending_at,
                }))
            }
        }
    }

    /// Records a new row (committed with the next commit).
    pub(crate) fn insert(&self, idx: u64, key: &RowKey) -> JournalResult<()> {
        let idx = to_i64(idx)?;
        self.inner().write(|c| {
            c.prepare_cached(
                "INSERT INTO rows (idx, provider, payment_id, amount, currency, reference, reason, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'new', ?8)",
            )?
            .execute(params![
                idx,
                key.provider,
                key.payment_id,
                key.amount,
                key.currency,
                key.reference,
                key.reason,
                now()
            ])
        })?;
        Ok(())
    }

    /// The first row before `idx` with the same provider and reference, if any.
    pub(crate) fn earlier_with_reference(
        &self,
        idx: u64,
        provider: &str,
        reference: &str,
    ) -> JournalResult<Option<u64>> {
        let idx = to_i64(idx)?;
        let inner = self.inner();
        let found: Option<i64> = inner
            .conn
            .prepare_cached(
                "SELECT MIN(idx) FROM rows WHERE provider = ?1 AND reference = ?2 AND idx < ?3",
            )
            .and_then(|mut s| s.query_row(params![provider, reference, idx], |r| r.get(0)))
            .map_err(err)?;
        Ok(found.and_then(|i| u64::try_from(i).ok()))
    }

    /// Marks a row `sending` (storing its snapshot when `snapshot` is `Some`) and returns once
    /// that is committed: only then may its request leave. Returns the time it was marked.
    pub(crate) async fn mark_sending(
        &self,
        idx: u64,
        snapshot: Option<Option<&str>>,
    ) -> JournalResult<i64> {
        let at = now();
        let i = to_i64(idx)?;
        let tx = self.inner().write(|c| match snapshot {
            Some(snapshot) => c
                .prepare_cached(
                    "UPDATE rows SET state = 'sending', snapshot = ?2, sending_at = ?3, updated_at = ?3 WHERE idx = ?1",
                )?
                .execute(params![i, snapshot, at]),
            None => c
                .prepare_cached(
                    "UPDATE rows SET state = 'sending', sending_at = ?2, updated_at = ?2 WHERE idx = ?1",
                )?
                .execute(params![i, at]),
        })?;
        // Let the other rows add their writes to this transaction before it is committed.
        tokio::task::yield_now().await;
        let mut inner = self.inner();
        if inner.committed < tx {
            inner.commit()?;
        }
        Ok(at)
    }

    /// Records a row's final (or retryable) state and report line, and the batch's tracking
    /// update (the row's outcome and its transition, see the end of this file), in the open
    /// transaction: committed together with the next commit.
    pub(crate) fn finish(
        &self,
        idx: u64,
        state: RowState,
        result: &str,
        update: &StatusUpdate,
    ) -> JournalResult<()> {
        let i = to_i64(idx)?;
        self.inner().write(|c| {
            c.prepare_cached(
                "UPDATE rows SET state = ?2, result = ?3, updated_at = ?4 WHERE idx = ?1",
            )?
            .execute(params![i, state.as_str(), result, now()])?;
            apply_on(c, i, update).map(|_| 1)
        })?;
        Ok(())
    }

    /// Commits every write so far.
    pub(crate) fn flush(&self) -> JournalResult<()> {
        self.inner().commit()
    }

    /// Sets a row's state (tests only), committed at once.
    #[cfg(test)]
    pub(crate) fn set_state(&self, idx: u64, state: RowState) -> JournalResult<()> {
        let i = to_i64(idx)?;
        self.inner().write(|c| {
            c.prepare_cached("UPDATE rows SET state = ?2, updated_at = ?3 WHERE idx = ?1")?
                .execute(params![i, state.as_str(), now()])
        })?;
        self.flush()
    }

    /// Counts of rows per state.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> JournalResult<Vec<(String, u64)>> {
        let inner = self.inner();
        let mut stmt = inner
            .conn
            .prepare("SELECT state, COUNT(*) FROM rows GROUP BY state ORDER BY state")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(err)?;
        rows.map(|r| {
            r.map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
                .map_err(err)
        })
        .collect()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Best effort: the run flushes explicitly; a write lost here only leaves a row to be
        // looked up by the next run.
        let _ = self.inner().commit();
    }
}

pub(crate) fn to_i64(idx: u64) -> JournalResult<i64> {
    i64::try_from(idx).map_err(|_| format!("row index {idx} too large"))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RowKey {
        RowKey {
            provider: "plexy".into(),
            payment_id: "p1".into(),
            amount: "10.50".into(),
            currency: "USD".into(),
            reference: "rf-1".into(),
            reason: String::new(),
        }
    }

    /// The batch's update of a row that succeeded.
    fn succeeded() -> crate::tracking::StatusUpdate {
        crate::tracking::StatusUpdate {
            to: "succeeded",
            source: crate::tracking::Source::Batch,
            refund_id: None,
            detail: None,
            at_ms: 0,
        }
    }

    #[tokio::test]
    async fn states_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        {
            let j = Journal::open(&path).unwrap();
            j.insert(0, &key()).unwrap();
            let at = j.mark_sending(0, Some(Some("snap"))).await.unwrap();
            assert!(at > 0);
            j.insert(
                1,
                &RowKey {
                    reference: "rf-2".into(),
                    ..key()
                },
            )
            .unwrap();
            j.finish(1, RowState::Done, "{}", &succeeded()).unwrap();
            j.flush().unwrap();
        }
        let j = Journal::open(&path).unwrap();
        let r0 = j.get(0).unwrap().unwrap();
        assert_eq!(r0.state, RowState::Sending);
        assert_eq!(r0.snapshot.as_deref(), Some("snap"));
        assert_eq!(r0.key, key());
        assert!(r0.sending_at.is_some());
        let r1 = j.get(1).unwrap().unwrap();
        assert_eq!(
            (r1.state, r1.result.as_deref()),
            (RowState::Done, Some("{}"))
        );
        assert!(j.get(2).unwrap().is_none());
        assert_eq!(
            j.counts().unwrap(),
            vec![("done".to_string(), 1), ("sending".to_string(), 1)]
        );
        // A row cannot be inserted twice.
        assert!(j.insert(0, &key()).is_err());
    }

    #[tokio::test]
    async fn intents_are_committed_before_mark_sending_returns_and_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        for i in 0..50 {
            j.insert(
                i,
                &RowKey {
                    reference: format!("rf-{i}"),
                    ..key()
                },
            )
            .unwrap();
        }
        // Inserts wait for the next commit.
        assert!(j.inner().open);
        j.mark_sending(0, Some(None)).await.unwrap();
        let first = {
            let inner = j.inner();
            assert!(!inner.open && inner.committed == inner.tx);
            inner.tx
        };
        // Fifty rows marked at once: every one returns committed, through one or two commits.
        let marks = (1..50).map(|i| j.mark_sending(i, Some(None)));
        for r in futures_util::future::join_all(marks).await {
            r.unwrap();
        }
        let inner = j.inner();
        assert!(!inner.open && inner.committed == inner.tx);
        assert!(inner.tx - first <= 2, "{} commits", inner.tx - first);
        drop(inner);
        // A result rides along with the next commit.
        j.finish(0, RowState::Done, "{}", &succeeded()).unwrap();
        assert!(j.inner().open);
        j.flush().unwrap();
        assert!(!j.inner().open);
        assert_eq!(
            j.counts().unwrap(),
            vec![("done".to_string(), 1), ("sending".to_string(), 49)]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tracking: each row's current outcome and its transitions (`refund batch --follow`,
// `refund follow`, `refund webhooks listen --journal`, `refund report`).
//
// Schema (a Postgres journal mirrors exactly this):
// - `rows.outcome TEXT` (nullable): succeeded | pending | declined | refused | unknown | failed,
//   NULL while the batch has not finished the row;
// - `rows.refund_id TEXT` (nullable): the provider's refund id, once known;
// - `transitions (seq INTEGER PRIMARY KEY AUTOINCREMENT, idx INTEGER NOT NULL, at_ms INTEGER NOT
//   NULL, from_outcome TEXT, to_outcome TEXT NOT NULL, source TEXT NOT NULL, refund_id TEXT,
//   detail TEXT)` with source batch | follow | webhook.
//
// An older journal is migrated when opened (columns added, `outcome` and `refund_id` backfilled
// from the stored `result`, one `batch` transition per backfilled row).
//
// The rule: a final outcome (succeeded, declined, refused) never changes, whatever arrives later.
// Every change is a guarded UPDATE (on the outcome read, and never from a final one) in one
// transaction with its transition, so two writers on one journal (a follow and a webhook
// listener) cannot move a row back.
//
// Locking: `refund batch` holds the journal exclusively (see `Journal::open`). Follow, report and
// the webhook listener open it in SQLite's normal locking mode with a busy timeout
// (`Journal::open_shared`), so they can run side by side, but not while a batch runs.
// ---------------------------------------------------------------------------------------------

use crate::tracking::{StatusUpdate, TrackedRow, Transition};

/// The guarded outcome change: only from the outcome read, and never from a final one
/// (succeeded, declined, refused never change once recorded).
const GUARDED_UPDATE_SQL: &str =
    "UPDATE rows SET outcome = ?2, refund_id = COALESCE(refund_id, ?3), updated_at = ?5
     WHERE idx = ?1 AND outcome IS ?4
       AND (outcome IS NULL OR outcome NOT IN ('succeeded', 'declined', 'refused'))";

/// Adds the tracking columns and table when missing and backfills `outcome` from `result`.
fn migrate_tracking(conn: &Connection) -> rusqlite::Result<()> {
    let mut columns = Vec::new();
    {
        let mut stmt = conn.prepare("PRAGMA table_info(rows)")?;
        let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
        for name in names {
            columns.push(name?);
        }
    }
    let has = |c: &str| columns.iter().any(|n| n == c);
    // IMMEDIATE: see `immediate` (which maps the error for callers of the journal's methods).
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    if !has("outcome") {
        tx.execute_batch("ALTER TABLE rows ADD COLUMN outcome TEXT")?;
    }
    if !has("refund_id") {
        tx.execute_batch("ALTER TABLE rows ADD COLUMN refund_id TEXT")?;
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS transitions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            idx INTEGER NOT NULL,
            at_ms INTEGER NOT NULL,
            from_outcome TEXT,
            to_outcome TEXT NOT NULL,
            source TEXT NOT NULL,
            refund_id TEXT,
            detail TEXT
        );
        CREATE INDEX IF NOT EXISTS transitions_by_idx ON transitions (idx, seq);
        CREATE INDEX IF NOT EXISTS rows_by_outcome ON rows (outcome);
        CREATE INDEX IF NOT EXISTS rows_by_payment ON rows (provider, payment_id);",
    )?;
    // Rows finished by a version that did not record outcomes (today's batch commits a row's
    // result and outcome together: `Journal::finish_tracked`).
    let stale: Vec<(i64, String, i64)> = {
        let mut stmt = tx.prepare(
            "SELECT idx, result, updated_at FROM rows WHERE outcome IS NULL AND result IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (idx, result, at_ms) in stale {
        let Ok(line) = serde_json::from_str::<crate::batch::ReportLine>(&result) else {
            continue;
        };
        if !crate::tracking::OUTCOMES.contains(&line.outcome.as_str()) {
            continue;
        }
        tx.execute(
            "UPDATE rows SET outcome = ?2, refund_id = COALESCE(refund_id, ?3)
             WHERE idx = ?1 AND outcome IS NULL",
            params![idx, line.outcome, line.refund_id],
        )?;
        tx.execute(
            "INSERT INTO transitions (idx, at_ms, from_outcome, to_outcome, source, refund_id, detail)
             VALUES (?1, ?2, NULL, ?3, 'batch', ?4, ?5)",
            params![
                idx,
                at_ms,
                line.outcome,
                line.refund_id,
                "recorded from the batch result"
            ],
        )?;
    }
    tx.commit()
}

/// A transaction that takes the write lock first (waiting for it under the busy timeout) rather
/// than upgrading a read lock, which fails at once when another process writes.
fn immediate(conn: &Connection) -> JournalResult<rusqlite::Transaction<'_>> {
    rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)
        .map_err(err)
}

/// Records `update` for row `idx` inside the transaction open on `tx` when its source may move the row (see
/// `Source::may_move`): a guarded UPDATE (on the outcome read, never from a final one) and its
/// transition. Returns the transition written, if any.
fn apply_on(
    tx: &Connection,
    idx: i64,
    update: &StatusUpdate,
) -> rusqlite::Result<Option<Transition>> {
    // Cached statements: the batch runs this for every row.
    let current: Option<(Option<String>, String)> = tx
        .prepare_cached("SELECT outcome, state FROM rows WHERE idx = ?1")?
        .query_row(params![idx], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((from, state)) = current else {
        return Ok(None);
    };
    if !update.source.may_move(from.as_deref(), &state, update.to) {
        return Ok(None);
    }
    let changed = tx.prepare_cached(GUARDED_UPDATE_SQL)?.execute(params![
        idx,
        update.to,
        update.refund_id,
        from,
        update.at_ms
    ])?;
    if changed != 1 {
        return Ok(None);
    }
    tx.prepare_cached(
        "INSERT INTO transitions (idx, at_ms, from_outcome, to_outcome, source, refund_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        idx,
        update.at_ms,
        from,
        update.to,
        update.source.as_str(),
        update.refund_id,
        update.detail
    ])?;
    Ok(Some(Transition {
        at_ms: update.at_ms,
        from,
        to: update.to.to_owned(),
        source: update.source.as_str().to_owned(),
        refund_id: update.refund_id.clone(),
        detail: update.detail.clone(),
    }))
}

impl Journal {
    /// Opens an existing journal for tracking (follow, report, webhooks) in SQLite's normal
    /// locking mode, so that several such processes can share it; migrates it if needed.
    ///
    /// Each statement waits up to `busy_timeout` for another writer (a follow and a webhook
    /// listener hold the journal for a few milliseconds per change). Fails when the journal does
    /// not exist, or is held by a running `refund batch` (after that wait).
    pub(crate) fn open_shared(
        path: &Path,
        busy_timeout: std::time::Duration,
    ) -> JournalResult<Journal> {
        if !path.exists() {
            return Err(format!(
                "journal {} does not exist (it is created by `refund batch`)",
                path.display()
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("cannot open journal {}: {e}", path.display()))?;
        conn.busy_timeout(busy_timeout).map_err(err)?;
        let in_use = |e: rusqlite::Error| {
            open_error(path, &e, "a running `refund batch`; try again when it ends")
        };
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(in_use)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(in_use)?;
        let has_rows: bool = conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'rows'",
                [],
                |r| r.get(0),
            )
            .map_err(in_use)?;
        if !has_rows {
            return Err(format!(
                "{} is not a batch journal (no rows table)",
                path.display()
            ));
        }
        migrate_tracking(&conn).map_err(in_use)?;
        Ok(Journal::with_connection(conn))
    }

    /// Records a status change of row `idx` with its transition, unless the row's outcome is
    /// final, already `update.to`, or not movable by `update.source` (see
    /// [`Source::may_move`](crate::tracking::Source::may_move)). Returns the transition written,
    /// if any.
    pub(crate) fn apply_status_sync(
        &self,
        idx: u64,
        update: &StatusUpdate,
    ) -> JournalResult<Option<Transition>> {
        let mut inner = self.inner();
        // A batch that follows its own rows still holds its group transaction: commit it first.
        inner.commit()?;
        let tx = immediate(&inner.conn)?;
        let transition = apply_on(&tx, to_i64(idx)?, update).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(transition)
    }

    /// Rows matching `filter` (an SQL condition on `rows` with positional parameters), in file
    /// order, with their transitions when `with_transitions`.
    fn tracked_rows(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
        with_transitions: bool,
    ) -> JournalResult<Vec<TrackedRow>> {
        let mut inner = self.inner();
        inner.commit()?;
        let conn = &inner.conn;
        let mut rows: Vec<TrackedRow> = {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT idx, provider, payment_id, amount, currency, reference, reason, state,
                            snapshot, result, outcome, refund_id, updated_at
                     FROM rows WHERE {filter} ORDER BY idx"
                ))
                .map_err(err)?;
            let mapped = stmt
                .query_map(args, |r| {
                    Ok(TrackedRow {
                        idx: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                        key: RowKey {
                            provider: r.get(1)?,
                            payment_id: r.get(2)?,
                            amount: r.get(3)?,
                            currency: r.get(4)?,
                            reference: r.get(5)?,
                            reason: r.get(6)?,
                        },
                        state: r.get(7)?,
                        snapshot: r.get(8)?,
                        result: r.get(9)?,
                        outcome: r.get(10)?,
                        refund_id: r.get(11)?,
                        updated_at_ms: r.get(12)?,
                        transitions: Vec::new(),
                    })
                })
                .map_err(err)?;
            mapped.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        if with_transitions {
            let mut stmt = conn
                .prepare(
                    "SELECT at_ms, from_outcome, to_outcome, source, refund_id, detail
                     FROM transitions WHERE idx = ?1 ORDER BY seq",
                )
                .map_err(err)?;
            for row in &mut rows {
                let mapped = stmt
                    .query_map(params![to_i64(row.idx)?], |r| {
                        Ok(Transition {
                            at_ms: r.get(0)?,
                            from: r.get(1)?,
                            to: r.get(2)?,
                            source: r.get(3)?,
                            refund_id: r.get(4)?,
                            detail: r.get(5)?,
                        })
                    })
                    .map_err(err)?;
                row.transitions = mapped.collect::<rusqlite::Result<_>>().map_err(err)?;
            }
        }
        Ok(rows)
    }
}

impl crate::tracking::TrackingStore for Journal {
    async fn pending_rows(&self) -> JournalResult<Vec<TrackedRow>> {
        self.tracked_rows("outcome = 'pending'", &[], false)
    }

    async fn rows_for_event(
        &self,
        provider: &str,
        payment_id: Option<&str>,
        reference: Option<&str>,
        refund_id: Option<&str>,
    ) -> JournalResult<Vec<TrackedRow>> {
        match payment_id {
            Some(payment) => self.tracked_rows(
                "provider = ?1 AND payment_id = ?2",
                &[&provider, &payment],
                false,
            ),
            None => self.tracked_rows(
                "provider = ?1 AND ((?2 IS NOT NULL AND reference = ?2) OR (?3 IS NOT NULL AND refund_id = ?3))",
                &[&provider, &reference, &refund_id],
                false,
            ),
        }
    }

    async fn apply_status(
        &self,
        idx: u64,
        update: &StatusUpdate,
    ) -> JournalResult<Option<Transition>> {
        self.apply_status_sync(idx, update)
    }

    async fn rows_for_report(&self) -> JournalResult<Vec<TrackedRow>> {
        self.tracked_rows("1 = 1", &[], true)
    }
}

#[cfg(test)]
mod tracking_tests {
    use super::*;
    use crate::tracking::{Source, TrackingStore};

    fn key(reference: &str) -> RowKey {
        RowKey {
            provider: "paynext".into(),
            payment_id: format!("pay-{reference}"),
            amount: String::new(),
            currency: String::new(),
            reference: reference.into(),
            reason: String::new(),
        }
    }

    fn update(source: Source, to: &'static str) -> StatusUpdate {
        StatusUpdate {
            to,
            source,
            refund_id: Some("re_1".into()),
            detail: None,
            at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn an_old_journal_is_migrated_and_backfilled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        {
            // The schema before tracking existed, with one finished and one unfinished row.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE rows (idx INTEGER PRIMARY KEY, provider TEXT NOT NULL,
                 payment_id TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL,
                 reference TEXT NOT NULL, reason TEXT NOT NULL, state TEXT NOT NULL,
                 snapshot TEXT, result TEXT, updated_at INTEGER NOT NULL);
                 INSERT INTO rows VALUES (0, 'paynext', 'p0', '', '', 'rf-0', '', 'done', NULL,
                   '{\"row\":1,\"provider\":\"paynext\",\"payment_id\":\"p0\",\"reference\":\"rf-0\",\"outcome\":\"pending\",\"refund_id\":\"re_0\",\"amount\":\"10.00\",\"currency\":\"USD\",\"provider_code\":null,\"message\":null,\"error\":null}', 5);
                 INSERT INTO rows VALUES (1, 'paynext', 'p1', '', '', 'rf-1', '', 'sending', NULL, NULL, 6);",
            )
            .unwrap();
        }
        let j = Journal::open_shared(&path, std::time::Duration::from_secs(5)).unwrap();
        let rows = j.tracked_rows("1 = 1", &[], true).unwrap();
        assert_eq!(rows[0].outcome.as_deref(), Some("pending"));
        assert_eq!(rows[0].refund_id.as_deref(), Some("re_0"));
        assert_eq!(rows[0].transitions.len(), 1);
        assert_eq!(rows[0].transitions[0].at_ms, 5);
        assert_eq!(rows[0].transitions[0].source, "batch");
        assert_eq!(rows[1].outcome, None);
        assert!(rows[1].transitions.is_empty());
        drop(j);
        // Opening again (also exclusively, as a batch does) changes nothing.
        let j = Journal::open(&path).unwrap();
        let rows = j.tracked_rows("1 = 1", &[], true).unwrap();
        assert_eq!(rows[0].transitions.len(), 1);
    }

    #[tokio::test]
    async fn a_final_outcome_never_moves_back() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        j.insert(0, &key("rf-0")).unwrap();
        j.set_state(0, RowState::Done).unwrap();
        let t = j
            .apply_status(0, &update(Source::Batch, "pending"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((t.from, t.to.as_str()), (None, "pending"));
        assert_eq!(j.pending_rows().await.unwrap().len(), 1);
        // Pending again: no transition.
        assert!(
            j.apply_status(0, &update(Source::Webhook, "pending"))
                .await
                .unwrap()
                .is_none()
        );
        let t = j
            .apply_status(0, &update(Source::Webhook, "succeeded"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.from.as_deref(), t.to.as_str()),
            (Some("pending"), "succeeded")
        );
        // Late, duplicate and out-of-order news, from every source, never moves it back.
        for (source, to) in [
            (Source::Webhook, "pending"),
            (Source::Follow, "pending"),
            (Source::Follow, "declined"),
            (Source::Batch, "unknown"),
            (Source::Batch, "pending"),
            (Source::Webhook, "succeeded"),
        ] {
            assert!(
                j.apply_status(0, &update(source, to))
                    .await
                    .unwrap()
                    .is_none(),
                "{source:?} {to}"
            );
        }
        let rows = j.rows_for_report().await.unwrap();
        assert_eq!(rows[0].outcome.as_deref(), Some("succeeded"));
        assert_eq!(rows[0].transitions.len(), 2);
        assert!(j.pending_rows().await.unwrap().is_empty());
    }

    #[test]
    fn two_writers_racing_on_one_row_record_one_final_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        {
            let j = Journal::open(&path).unwrap();
            for idx in 0..50 {
                j.insert(idx, &key(&format!("rf-{idx}"))).unwrap();
                j.set_state(idx, RowState::Done).unwrap();
                j.apply_status_sync(idx, &update(Source::Batch, "pending"))
                    .unwrap()
                    .unwrap();
            }
        }
        // A follow and a webhook listener, each with its own connection, settle every row at
        // the same time with contradicting news.
        let writers: Vec<_> = [(Source::Follow, "succeeded"), (Source::Webhook, "declined")]
            .into_iter()
            .map(|(source, to)| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let j =
                        Journal::open_shared(&path, std::time::Duration::from_secs(10)).unwrap();
                    (0..50)
                        .filter(|idx| {
                            j.apply_status_sync(*idx, &update(source, to))
                                .unwrap()
                                .is_some()
                        })
                        .count()
                })
            })
            .collect();
        let won: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(won, 50, "each row moved exactly once");
        let j = Journal::open_shared(&path, std::time::Duration::from_secs(10)).unwrap();
        for row in j.tracked_rows("1 = 1", &[], true).unwrap() {
            let last = row.transitions.last().unwrap();
            assert_eq!(row.transitions.len(), 2, "{row:?}");
            assert_eq!(row.outcome.as_deref(), Some(last.to.as_str()));
            assert_eq!(last.from.as_deref(), Some("pending"));
        }
    }

    #[tokio::test]
    async fn follow_and_webhooks_move_only_rows_that_may_have_been_applied() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        for (i, state) in [RowState::New, RowState::Sending, RowState::Failed]
            .into_iter()
            .enumerate()
        {
            let idx = u64::try_from(i).unwrap();
            j.insert(idx, &key(&format!("rf-{i}"))).unwrap();
            j.set_state(idx, state).unwrap();
        }
        j.apply_status(2, &update(Source::Batch, "failed"))
            .await
            .unwrap()
            .unwrap();
        // Not sent: nothing to follow.
        assert!(
            j.apply_status(0, &update(Source::Webhook, "succeeded"))
                .await
                .unwrap()
                .is_none()
        );
        // Sent by a batch that was killed: the provider's word is recorded.
        assert!(
            j.apply_status(1, &update(Source::Webhook, "succeeded"))
                .await
                .unwrap()
                .is_some()
        );
        // Failed without being applied: only a batch rerun moves it.
        assert!(
            j.apply_status(2, &update(Source::Follow, "succeeded"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            j.apply_status(2, &update(Source::Batch, "pending"))
                .await
                .unwrap()
                .is_some()
        );
        let found = j
            .rows_for_event("paynext", None, None, Some("re_1"))
            .await
            .unwrap();
        assert_eq!(found.iter().map(|r| r.idx).collect::<Vec<_>>(), vec![1, 2]);
        let found = j
            .rows_for_event("paynext", Some("pay-rf-0"), None, None)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
    }
}
