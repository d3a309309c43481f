//! The batch journal: an embedded SQLite database that records each row's state before and
//! after every request, so that a batch killed at any moment (even `kill -9`) and run again
//! never refunds a row twice.
//!
//! The rule that makes it safe: a row is marked `sending` and committed *before* its refund
//! request leaves. On a rerun a `sending` or `unknown` row is never sent blindly: it is
//! reconciled (looked up first) through the facade's `resume`.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

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

    fn parse(s: &str) -> Option<RowState> {
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
}

/// The journal. Shared by the batch's tasks; every write is its own committed transaction.
pub(crate) struct Journal {
    conn: Mutex<Connection>,
}

pub(crate) type JournalResult<T> = Result<T, String>;

fn err(e: rusqlite::Error) -> String {
    format!("journal: {e}")
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
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        Ok(Journal {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, idx: u64) -> JournalResult<Option<JournalRow>> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT provider, payment_id, amount, currency, reference, reason, state, snapshot, result
                 FROM rows WHERE idx = ?1",
                params![to_i64(idx)?],
                |r| {
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
                    ))
                },
            )
            .optional()
            .map_err(err)?;
        match row {
            None => Ok(None),
            Some((key, state, snapshot, result)) => {
                let state = RowState::parse(&state)
                    .ok_or_else(|| format!("journal: row {idx} has unknown state {state:?}"))?;
                Ok(Some(JournalRow {
                    key,
                    state,
                    snapshot,
                    result,
                }))
            }
        }
    }

    pub(crate) fn insert(&self, idx: u64, key: &RowKey) -> JournalResult<()> {
        self.conn()
            .execute(
                "INSERT INTO rows (idx, provider, payment_id, amount, currency, reference, reason, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'new', ?8)",
                params![
                    to_i64(idx)?,
                    key.provider,
                    key.payment_id,
                    key.amount,
                    key.currency,
                    key.reference,
                    key.reason,
                    now()
                ],
            )
            .map_err(err)?;
        Ok(())
    }

    /// The first row before `idx` with the same provider and reference, if any.
    pub(crate) fn earlier_with_reference(
        &self,
        idx: u64,
        provider: &str,
        reference: &str,
    ) -> JournalResult<Option<u64>> {
        let found: Option<i64> = self
            .conn()
            .query_row(
                "SELECT MIN(idx) FROM rows WHERE provider = ?1 AND reference = ?2 AND idx < ?3",
                params![provider, reference, to_i64(idx)?],
                |r| r.get(0),
            )
            .map_err(err)?;
        Ok(found.and_then(|i| u64::try_from(i).ok()))
    }

    pub(crate) fn set_state(&self, idx: u64, state: RowState) -> JournalResult<()> {
        self.conn()
            .execute(
                "UPDATE rows SET state = ?2, updated_at = ?3 WHERE idx = ?1",
                params![to_i64(idx)?, state.as_str(), now()],
            )
            .map_err(err)?;
        Ok(())
    }

    pub(crate) fn set_prepared(&self, idx: u64, snapshot: Option<&str>) -> JournalResult<()> {
        self.conn()
            .execute(
                "UPDATE rows SET state = 'prepared', snapshot = ?2, updated_at = ?3 WHERE idx = ?1",
                params![to_i64(idx)?, snapshot, now()],
            )
            .map_err(err)?;
        Ok(())
    }

    pub(crate) fn finish(&self, idx: u64, state: RowState, result: &str) -> JournalResult<()> {
        self.conn()
            .execute(
                "UPDATE rows SET state = ?2, result = ?3, updated_at = ?4 WHERE idx = ?1",
                params![to_i64(idx)?, state.as_str(), result, now()],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Counts of rows per state.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> JournalResult<Vec<(String, u64)>> {
        let conn = self.conn();
        let mut stmt = conn
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

fn to_i64(idx: u64) -> JournalResult<i64> {
    i64::try_from(idx).map_err(|_| format!("row index {idx} too large"))
}

fn now() -> i64 {
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

    #[test]
    fn states_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        {
            let j = Journal::open(&path).unwrap();
            j.insert(0, &key()).unwrap();
            j.set_prepared(0, Some("snap")).unwrap();
            j.set_state(0, RowState::Sending).unwrap();
            j.insert(
                1,
                &RowKey {
                    reference: "rf-2".into(),
                    ..key()
                },
            )
            .unwrap();
            j.finish(1, RowState::Done, "{}").unwrap();
        }
        let j = Journal::open(&path).unwrap();
        let r0 = j.get(0).unwrap().unwrap();
        assert_eq!(r0.state, RowState::Sending);
        assert_eq!(r0.snapshot.as_deref(), Some("snap"));
        assert_eq!(r0.key, key());
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
}
