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

    /// Records a row's state and report line; `false` when another worker holds the row now.
    pub(crate) async fn finish(
        self,
        idx: u64,
        state: RowState,
        outcome: &str,
        refund_id: Option<&str>,
        result: &str,
    ) -> JournalResult<bool> {
        match self {
            Store::Sqlite(j) => j.finish(idx, state, result).map(|()| true),
            Store::Postgres(j) => j.finish(idx, state, outcome, refund_id, result).await,
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
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ) {
                format!(
                    "journal {} is in use by another process (another `refund batch` with the same journal?)",
                    path.display()
                )
            } else {
                format!("cannot open journal {}: {e}", path.display())
            }
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
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        Ok(Journal {
            inner: Mutex::new(Inner {
                conn,
                open: false,
                tx: 0,
                committed: 0,
                writes: 0,
                began: std::time::Instant::now(),
            }),
        })
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

    /// Records a row's final (or retryable) state and report line (committed with the next
    /// commit).
    pub(crate) fn finish(&self, idx: u64, state: RowState, result: &str) -> JournalResult<()> {
        let i = to_i64(idx)?;
        self.inner().write(|c| {
            c.prepare_cached(
                "UPDATE rows SET state = ?2, result = ?3, updated_at = ?4 WHERE idx = ?1",
            )?
            .execute(params![i, state.as_str(), result, now()])
        })?;
        Ok(())
    }

    /// Commits every write so far.
    pub(crate) fn flush(&self) -> JournalResult<()> {
        self.inner().commit()
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
            j.finish(1, RowState::Done, "{}").unwrap();
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
        j.finish(0, RowState::Done, "{}").unwrap();
        assert!(j.inner().open);
        j.flush().unwrap();
        assert!(!j.inner().open);
        assert_eq!(
            j.counts().unwrap(),
            vec![("done".to_string(), 1), ("sending".to_string(), 49)]
        );
    }
}
