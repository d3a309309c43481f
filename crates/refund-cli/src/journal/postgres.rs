//! The batch journal on PostgreSQL, shared by several `refund batch` workers (processes, on one
//! machine or many) that work through one batch together.
//!
//! - Every worker reads the same CSV file and inserts its rows idempotently (`ON CONFLICT DO
//!   NOTHING`); a row that differs from the stored one stops that worker, as with SQLite.
//! - Rows are claimed in small groups with `SELECT … FOR UPDATE SKIP LOCKED` and a lease
//!   (`lease_owner`, `lease_until`, in the database's clock); a worker renews the leases it holds
//!   while it works on them. Claims of one batch are serialized by an advisory lock, so that
//!   rows of one payment are never in two workers' hands at once (a snapshot taken for a partial
//!   refund must see the refunds of the earlier rows).
//! - A row is marked `sending` and committed before its request leaves, and only while its
//!   worker still holds the lease (the update is fenced on `lease_owner` and `lease_until`).
//! - A worker killed (even `kill -9`) leaves its rows leased until the lease expires; then any
//!   worker claims them, and a `sending` row is reconciled (looked up first) exactly as a rerun
//!   does with SQLite, never sent again blindly.
//! - `unknown` and `failed` rows are tried again once by each worker that started after they
//!   got that state (a rerun), not over and over within a run.
//!
//! Several batches share one database: every row carries its batch id (`--batch-id`, by
//! default the CSV file's name).

use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls, config::SslMode};

use super::{JournalResult, RowKey, RowState, to_i64};

/// The tables, created by the first worker (under an advisory lock: concurrent `CREATE TABLE IF
/// NOT EXISTS` may otherwise fail). `refund_batch_transitions` and the `outcome`/`refund_id`
/// columns mirror the SQLite journal's follow-up schema.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS refund_batch_rows (
    batch TEXT NOT NULL,
    idx BIGINT NOT NULL,
    provider TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    reference TEXT NOT NULL,
    reason TEXT NOT NULL,
    problem TEXT,
    state TEXT NOT NULL,
    snapshot TEXT,
    result TEXT,
    outcome TEXT,
    refund_id TEXT,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    sending_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (batch, idx)
);
CREATE INDEX IF NOT EXISTS refund_batch_rows_by_reference
    ON refund_batch_rows (batch, provider, reference, idx);
CREATE INDEX IF NOT EXISTS refund_batch_rows_by_payment
    ON refund_batch_rows (batch, provider, payment_id, idx);
CREATE INDEX IF NOT EXISTS refund_batch_rows_open
    ON refund_batch_rows (batch, idx) WHERE state NOT IN ('done', 'refused');
CREATE TABLE IF NOT EXISTS refund_batch_transitions (
    seq BIGSERIAL PRIMARY KEY,
    batch TEXT NOT NULL,
    idx BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    from_outcome TEXT,
    to_outcome TEXT NOT NULL,
    source TEXT NOT NULL,
    refund_id TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS refund_batch_transitions_by_row
    ON refund_batch_transitions (batch, idx, seq);
";

/// The first key of our advisory locks (the second is the batch's hash, or 0 for the schema).
const LOCK_SPACE: i32 = 0x5246_4e44; // "RFND"

/// Milliseconds since the Unix epoch, in the database's clock (every worker uses the same).
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Outcomes that never change once recorded (as in the SQLite journal).
const FINAL_OUTCOMES_SQL: &str = "('succeeded', 'declined', 'refused')";

/// A row claimed by this worker.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) idx: u64,
    pub(crate) key: RowKey,
    /// Why the row cannot be a request (found when the CSV was read).
    pub(crate) problem: Option<String>,
    pub(crate) state: RowState,
    pub(crate) snapshot: Option<String>,
    /// When the row was last marked `sending` (ms since the Unix epoch, database clock).
    pub(crate) sending_at: Option<i64>,
    /// The first earlier row of the batch with the same provider and reference.
    pub(crate) earlier_with_reference: Option<u64>,
}

/// A row as stored, for the report at the end.
#[derive(Debug)]
pub(crate) struct StoredRow {
    pub(crate) idx: u64,
    pub(crate) key: RowKey,
    pub(crate) state: RowState,
    pub(crate) result: Option<String>,
}

/// One worker's handle on a batch in PostgreSQL.
pub(crate) struct PgJournal {
    /// Row updates, spread over a few connections by row (each connection runs its statements
    /// one after the other; with several, the commits of many rows share a WAL flush).
    main: Client,
    extra: Vec<Client>,
    /// Final states, spread like `extra`, on sessions with `synchronous_commit = off`: a result
    /// lost with a server crash leaves its row `sending` under an expiring lease, which is then
    /// looked up, never sent again, so waiting for its flush would only slow every row down.
    /// (A later synchronous commit flushes it anyway: the WAL is written in order.)
    results: Vec<Client>,
    /// Claims, which need a transaction of their own.
    claims: tokio::sync::Mutex<Client>,
    batch: String,
    owner: String,
    /// The lease length, as PostgreSQL interval text.
    lease: String,
    /// When this worker started (ms, database clock): `unknown`/`failed` rows that got their
    /// state after this are not tried again by this worker.
    started_ms: i64,
}

/// An error's text with the server's message ("db error" alone says nothing). Neither holds the
/// connection string nor its password.
fn pg_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{e}: {} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn pg_err(e: tokio_postgres::Error) -> String {
    format!("journal (PostgreSQL): {}", pg_text(&e))
}

async fn connect(config: &Config) -> JournalResult<Client> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| format!("cannot connect to the PostgreSQL journal: {}", pg_text(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("PostgreSQL journal connection: {e}");
        }
    });
    Ok(client)
}

/// The connection settings of a journal URL. Connections are plain TCP (or a Unix socket):
/// `sslmode=require` is refused, since this build has no TLS stack for PostgreSQL.
fn config_of(url: &str) -> JournalResult<Config> {
    let config: Config = url
        .parse()
        .map_err(|e| format!("invalid PostgreSQL journal URL: {e}"))?;
    if config.get_ssl_mode() == SslMode::Require {
        return Err(
            "the PostgreSQL journal does not support TLS (sslmode=require): use sslmode=disable over a trusted network or a tunnel"
                .to_owned(),
        );
    }
    Ok(config)
}

/// Whether `journal` names a PostgreSQL database rather than a SQLite file.
pub(crate) fn is_url(journal: &str) -> bool {
    journal.starts_with("postgres://") || journal.starts_with("postgresql://")
}

impl PgJournal {
    /// Connects, creates the tables if needed, and names this worker.
    ///
    /// Connections are plain TCP (or a Unix socket): `sslmode=require` is refused, since this
    /// build has no TLS stack for PostgreSQL.
    pub(crate) async fn open(
        url: &str,
        batch: &str,
        lease: Duration,
        connections: usize,
    ) -> JournalResult<PgJournal> {
        let config = config_of(url)?;
        let main = connect(&config).await?;
        let mut extra = Vec::new();
        for _ in 1..connections {
            extra.push(connect(&config).await?);
        }
        let mut results = Vec::new();
        for _ in 0..connections.max(1) {
            let client = connect(&config).await?;
            client
                .batch_execute("SET synchronous_commit = off")
                .await
                .map_err(pg_err)?;
            results.push(client);
        }
        let mut claims = connect(&config).await?;
        {
            let tx = claims.transaction().await.map_err(pg_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&LOCK_SPACE])
                .await
                .map_err(pg_err)?;
            tx.batch_execute(SCHEMA).await.map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
        }
        let started_ms: i64 = claims
            .query_one(&format!("SELECT {NOW_MS}"), &[])
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        Ok(PgJournal {
            main,
            extra,
            results,
            claims: tokio::sync::Mutex::new(claims),
            batch: batch.to_owned(),
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            lease: format!("{} milliseconds", lease.as_millis()),
            started_ms,
        })
    }

    /// The connection for row `idx`.
    fn client(&self, idx: u64) -> &Client {
        let n = u64::try_from(self.extra.len())
            .unwrap_or(0)
            .saturating_add(1);
        match usize::try_from(idx % n).unwrap_or(0) {
            0 => &self.main,
            i => self.extra.get(i - 1).unwrap_or(&self.main),
        }
    }

    /// This worker's name in `lease_owner` (`<pid>-<random>`).
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Inserts rows that are not stored yet; returns the first stored row that differs from the
    /// file, with its stored key.
    pub(crate) async fn load(
        &self,
        rows: &[(u64, RowKey, Option<String>)],
    ) -> JournalResult<Option<(u64, RowKey)>> {
        let mut idx = Vec::with_capacity(rows.len());
        let mut cols: [Vec<&str>; 6] = Default::default();
        let mut problems = Vec::with_capacity(rows.len());
        for (i, key, problem) in rows {
            idx.push(to_i64(*i)?);
            for (col, value) in cols.iter_mut().zip([
                &key.provider,
                &key.payment_id,
                &key.amount,
                &key.currency,
                &key.reference,
                &key.reason,
            ]) {
                col.push(value.as_str());
            }
            problems.push(problem.as_deref());
        }
        let [provider, payment_id, amount, currency, reference, reason] = &cols;
        self.main
            .execute(
                &format!(
                    "INSERT INTO refund_batch_rows
                       (batch, idx, provider, payment_id, amount, currency, reference, reason, problem, state, updated_at)
                     SELECT $1, u.idx, u.provider, u.payment_id, u.amount, u.currency, u.reference, u.reason, u.problem, 'new', {NOW_MS}
                     FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                       AS u(idx, provider, payment_id, amount, currency, reference, reason, problem)
                     ON CONFLICT (batch, idx) DO NOTHING"
                ),
                &[
                    &self.batch,
                    &idx,
                    provider,
                    payment_id,
                    amount,
                    currency,
                    reference,
                    reason,
                    &problems,
                ],
            )
            .await
            .map_err(pg_err)?;
        let stored = self
            .main
            .query(
                "SELECT idx, provider, payment_id, amount, currency, reference, reason
                 FROM refund_batch_rows WHERE batch = $1 AND idx = ANY($2::bigint[]) ORDER BY idx",
                &[&self.batch, &idx],
            )
            .await
            .map_err(pg_err)?;
        let mut by_idx: std::collections::HashMap<u64, &RowKey> =
            rows.iter().map(|(i, k, _)| (*i, k)).collect();
        for row in stored {
            let i = u64::try_from(row.try_get::<_, i64>(0).map_err(pg_err)?).unwrap_or(u64::MAX);
            let key = key_at(&row, 1)?;
            if let Some(file) = by_idx.remove(&i)
                && *file != key
            {
                return Ok(Some((i, key)));
            }
        }
        Ok(None)
    }

    /// Refreshes the planner's statistics after a load, so that claims use the indexes from the
    /// start (a table just filled looks empty to the planner until autovacuum analyzes it).
    /// Skipped, with a warning from the server, when this role does not own the table.
    pub(crate) async fn analyze(&self) -> JournalResult<()> {
        self.main
            .batch_execute("ANALYZE refund_batch_rows")
            .await
            .map_err(pg_err)
    }

    /// Claims up to `limit` rows that need work and that no live worker holds, in row order.
    pub(crate) async fn claim(&self, limit: usize) -> JournalResult<Vec<Claimed>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.claims.lock().await;
        let tx = conn.transaction().await.map_err(pg_err)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&LOCK_SPACE, &self.batch],
        )
        .await
        .map_err(pg_err)?;
        let rows = tx
            .query(
                // The picked rows are materialized first and updated through the primary key:
                // a plan that joins the locking subquery to the table could run it again and
                // again. The payment check reads only leased rows (a finished row has no lease).
                "WITH picked AS MATERIALIZED (
                     SELECT c.idx FROM refund_batch_rows c
                     WHERE c.batch = $1 AND c.state NOT IN ('done', 'refused')
                       AND (c.lease_until IS NULL OR c.lease_until < clock_timestamp())
                       AND NOT (c.state IN ('unknown', 'failed') AND c.updated_at >= $5)
                       AND NOT EXISTS (
                           SELECT 1 FROM refund_batch_rows e
                           WHERE e.batch = c.batch AND e.provider = c.provider
                             AND e.payment_id = c.payment_id AND e.idx < c.idx
                             AND e.lease_until >= clock_timestamp() AND e.lease_owner <> $2)
                     ORDER BY c.idx
                     LIMIT $4
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE refund_batch_rows r
                 SET lease_owner = $2, lease_until = clock_timestamp() + $3::text::interval
                 WHERE r.batch = $1 AND r.idx = ANY(ARRAY(SELECT idx FROM picked))
                 RETURNING r.idx, r.provider, r.payment_id, r.amount, r.currency, r.reference,
                           r.reason, r.problem, r.state, r.snapshot, r.sending_at,
                           (SELECT MIN(e.idx) FROM refund_batch_rows e
                            WHERE e.batch = r.batch AND e.provider = r.provider
                              AND e.reference = r.reference AND e.idx < r.idx)",
                &[
                    &self.batch,
                    &self.owner,
                    &self.lease,
                    &limit,
                    &self.started_ms,
                ],
            )
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                let idx: i64 = row.try_get(0).map_err(pg_err)?;
                let state: String = row.try_get(8).map_err(pg_err)?;
                Ok(Claimed {
                    idx: u64::try_from(idx).map_err(|_| format!("journal: row index {idx}"))?,
                    key: key_at(row, 1)?,
                    problem: row.try_get(7).map_err(pg_err)?,
                    state: RowState::parse(&state)
                        .ok_or_else(|| format!("journal: row {idx} has unknown state {state:?}"))?,
                    snapshot: row.try_get(9).map_err(pg_err)?,
                    sending_at: row.try_get(10).map_err(pg_err)?,
                    earlier_with_reference: row
                        .try_get::<_, Option<i64>>(11)
                        .map_err(pg_err)?
                        .and_then(|i| u64::try_from(i).ok()),
                })
            })
            .collect::<JournalResult<Vec<_>>>()?;
        claimed.sort_by_key(|c| c.idx);
        Ok(claimed)
    }

    /// Extends the leases of the rows this worker holds.
    pub(crate) async fn renew(&self) -> JournalResult<u64> {
        self.main
            .execute(
                "UPDATE refund_batch_rows SET lease_until = clock_timestamp() + $3::text::interval
                 WHERE batch = $1 AND lease_owner = $2 AND state NOT IN ('done', 'refused')",
                &[&self.batch, &self.owner, &self.lease],
            )
            .await
            .map_err(pg_err)
    }

    /// Marks a row `sending` (storing its snapshot when `snapshot` is `Some`), committed, if this
    /// worker still holds its lease. Returns when it was marked, or `None` when the lease was
    /// lost (another worker has the row now: nothing may be sent).
    pub(crate) async fn mark_sending(
        &self,
        idx: u64,
        snapshot: Option<Option<&str>>,
    ) -> JournalResult<Option<i64>> {
        let replace = snapshot.is_some();
        let snapshot = snapshot.flatten();
        let row = self
            .client(idx)
            .query_opt(
                &format!(
                    "UPDATE refund_batch_rows
                     SET state = 'sending', snapshot = CASE WHEN $3 THEN $4 ELSE snapshot END,
                         sending_at = {NOW_MS}, updated_at = {NOW_MS}
                     WHERE batch = $1 AND idx = $2 AND lease_owner = $5
                       AND lease_until > clock_timestamp()
                     RETURNING sending_at"
                ),
                &[&self.batch, &to_i64(idx)?, &replace, &snapshot, &self.owner],
            )
            .await
            .map_err(pg_err)?;
        row.map(|r| r.try_get(0).map_err(pg_err)).transpose()
    }

    /// Records a row's state and report line, with the batch's tracking update: its outcome
    /// (moved by the rules of `Source::may_move` for the batch: never from a final outcome, and
    /// from `pending` only to `succeeded` or `declined`) and, when it moved, its transition, in
    /// one statement. `false` when this worker no longer holds the row (its lease was taken
    /// over): then nothing is written.
    pub(crate) async fn finish(
        &self,
        idx: u64,
        state: RowState,
        result: &str,
        update: &crate::tracking::StatusUpdate,
    ) -> JournalResult<bool> {
        let results = u64::try_from(self.results.len()).unwrap_or(1).max(1);
        let client = usize::try_from(idx % results)
            .ok()
            .and_then(|i| self.results.get(i))
            .unwrap_or_else(|| self.client(idx));
        let row = client
            .query_one(
                &format!(
                    "WITH prev AS (
                         SELECT outcome FROM refund_batch_rows
                         WHERE batch = $1 AND idx = $2 AND lease_owner = $5
                         FOR UPDATE
                     ), moved AS (
                         SELECT outcome AS from_outcome,
                                (outcome IS DISTINCT FROM $6::text
                                 AND (outcome IS NULL OR outcome NOT IN {FINAL_OUTCOMES_SQL})
                                 AND NOT (outcome IS NOT NULL AND outcome = 'pending'
                                          AND $6::text NOT IN ('succeeded', 'declined'))) AS ok
                         FROM prev
                     ), u AS (
                         UPDATE refund_batch_rows r
                         SET state = $3, result = $4,
                             outcome = CASE WHEN moved.ok THEN $6::text ELSE r.outcome END,
                             refund_id = COALESCE(r.refund_id, $7::text),
                             updated_at = {NOW_MS}, lease_owner = NULL, lease_until = NULL
                         FROM moved
                         WHERE r.batch = $1 AND r.idx = $2 AND r.lease_owner = $5
                         RETURNING moved.ok AS ok, moved.from_outcome AS from_outcome
                     ), t AS (
                         INSERT INTO refund_batch_transitions
                             (batch, idx, at_ms, from_outcome, to_outcome, source, refund_id, detail)
                         SELECT $1, $2, $8, from_outcome, $6::text, 'batch', $7::text, $9::text
                         FROM u WHERE ok
                     )
                     SELECT COUNT(*) FROM u"
                ),
                &[
                    &self.batch,
                    &to_i64(idx)?,
                    &state.as_str(),
                    &result,
                    &self.owner,
                    &update.to,
                    &update.refund_id,
                    &update.at_ms,
                    &update.detail,
                ],
            )
            .await
            .map_err(pg_err)?;
        let n: i64 = row.try_get(0).map_err(pg_err)?;
        Ok(n > 0)
    }

    /// Rows that still need work and that another worker holds now.
    pub(crate) async fn held_by_others(&self) -> JournalResult<i64> {
        self.main
            .query_one(
                "SELECT COUNT(*) FROM refund_batch_rows
                 WHERE batch = $1 AND state NOT IN ('done', 'refused')
                   AND lease_until >= clock_timestamp()",
                &[&self.batch],
            )
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)
    }

    /// Up to `limit` rows after `after` (all rows from the start when `None`), in row order.
    pub(crate) async fn page(
        &self,
        after: Option<u64>,
        limit: i64,
    ) -> JournalResult<Vec<StoredRow>> {
        let after = match after {
            Some(a) => to_i64(a)?,
            None => -1,
        };
        let rows = self
            .main
            .query(
                "SELECT idx, provider, payment_id, amount, currency, reference, reason, state, result
                 FROM refund_batch_rows WHERE batch = $1 AND idx > $2 ORDER BY idx LIMIT $3",
                &[&self.batch, &after, &limit],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|row| {
                let idx: i64 = row.try_get(0).map_err(pg_err)?;
                let state: String = row.try_get(7).map_err(pg_err)?;
                Ok(StoredRow {
                    idx: u64::try_from(idx).map_err(|_| format!("journal: row index {idx}"))?,
                    key: key_at(row, 1)?,
                    state: RowState::parse(&state)
                        .ok_or_else(|| format!("journal: row {idx} has unknown state {state:?}"))?,
                    result: row.try_get(8).map_err(pg_err)?,
                })
            })
            .collect()
    }
}

/// The six key columns starting at column `at`.
fn key_at(row: &tokio_postgres::Row, at: usize) -> JournalResult<RowKey> {
    let get = |i: usize| row.try_get::<_, String>(at + i).map_err(pg_err);
    Ok(RowKey {
        provider: get(0)?,
        payment_id: get(1)?,
        amount: get(2)?,
        currency: get(3)?,
        reference: get(4)?,
        reason: get(5)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Tracking on PostgreSQL (`refund follow`, `refund report`, `refund webhooks listen --journal`):
// the same operations and rules as the SQLite journal's tracking block, on one batch.
// ---------------------------------------------------------------------------------------------

use crate::tracking::{StatusUpdate, TrackedRow, Transition};

/// One batch of a PostgreSQL journal, opened for tracking (no lease, nothing is claimed).
pub(crate) struct PgTracking {
    client: Client,
    batch: String,
}

impl PgTracking {
    /// Connects to the journal and picks the batch: `batch` when given, else the only batch the
    /// database holds.
    ///
    /// # Errors
    /// The URL is invalid or asks for TLS, the database is unreachable or holds no batch
    /// journal, the batch does not exist, or several batches exist and none was named.
    pub(crate) async fn open(url: &str, batch: Option<&str>) -> JournalResult<PgTracking> {
        let config = config_of(url)?;
        let client = connect(&config).await?;
        let exists: bool = client
            .query_one("SELECT to_regclass('refund_batch_rows') IS NOT NULL", &[])
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        if !exists {
            return Err(
                "the PostgreSQL database holds no batch journal (it is created by `refund batch`)"
                    .to_owned(),
            );
        }
        let batches: Vec<String> = client
            .query(
                "SELECT DISTINCT batch FROM refund_batch_rows ORDER BY batch",
                &[],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        let batch = match batch {
            Some(b) if batches.iter().any(|x| x == b) => b.to_owned(),
            Some(b) => {
                return Err(format!(
                    "the PostgreSQL journal has no batch {b:?} (batches: {})",
                    batches.join(", ")
                ));
            }
            None => match batches.as_slice() {
                [only] => only.clone(),
                [] => return Err("the PostgreSQL journal holds no batch yet".to_owned()),
                _ => {
                    return Err(format!(
                        "the PostgreSQL journal holds several batches ({}): name one with --batch-id",
                        batches.join(", ")
                    ));
                }
            },
        };
        Ok(PgTracking { client, batch })
    }

    /// Rows of the batch matching `filter` (SQL on `refund_batch_rows`, parameters from `$2`),
    /// in file order, with their transitions when `with_transitions`.
    async fn tracked_rows(
        &self,
        filter: &str,
        args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        with_transitions: bool,
    ) -> JournalResult<Vec<TrackedRow>> {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&self.batch];
        params.extend_from_slice(args);
        let found = self
            .client
            .query(
                &format!(
                    "SELECT idx, provider, payment_id, amount, currency, reference, reason, state,
                            snapshot, result, outcome, refund_id, updated_at
                     FROM refund_batch_rows WHERE batch = $1 AND ({filter}) ORDER BY idx"
                ),
                &params,
            )
            .await
            .map_err(pg_err)?;
        let mut rows = Vec::with_capacity(found.len());
        for r in &found {
            let idx: i64 = r.try_get(0).map_err(pg_err)?;
            rows.push(TrackedRow {
                idx: u64::try_from(idx).unwrap_or(0),
                key: RowKey {
                    provider: r.try_get(1).map_err(pg_err)?,
                    payment_id: r.try_get(2).map_err(pg_err)?,
                    amount: r.try_get(3).map_err(pg_err)?,
                    currency: r.try_get(4).map_err(pg_err)?,
                    reference: r.try_get(5).map_err(pg_err)?,
                    reason: r.try_get(6).map_err(pg_err)?,
                },
                state: r.try_get(7).map_err(pg_err)?,
                snapshot: r.try_get(8).map_err(pg_err)?,
                result: r.try_get(9).map_err(pg_err)?,
                outcome: r.try_get(10).map_err(pg_err)?,
                refund_id: r.try_get(11).map_err(pg_err)?,
                updated_at_ms: r.try_get(12).map_err(pg_err)?,
                transitions: Vec::new(),
            });
        }
        if with_transitions {
            let all = self
                .client
                .query(
                    "SELECT idx, at_ms, from_outcome, to_outcome, source, refund_id, detail
                     FROM refund_batch_transitions WHERE batch = $1 ORDER BY idx, seq",
                    &[&self.batch],
                )
                .await
                .map_err(pg_err)?;
            let mut by_idx: std::collections::HashMap<u64, Vec<Transition>> =
                std::collections::HashMap::new();
            for t in &all {
                let idx: i64 = t.try_get(0).map_err(pg_err)?;
                by_idx
                    .entry(u64::try_from(idx).unwrap_or(0))
                    .or_default()
                    .push(Transition {
                        at_ms: t.try_get(1).map_err(pg_err)?,
                        from: t.try_get(2).map_err(pg_err)?,
                        to: t.try_get(3).map_err(pg_err)?,
                        source: t.try_get(4).map_err(pg_err)?,
                        refund_id: t.try_get(5).map_err(pg_err)?,
                        detail: t.try_get(6).map_err(pg_err)?,
                    });
            }
            for row in &mut rows {
                row.transitions = by_idx.remove(&row.idx).unwrap_or_default();
            }
        }
        Ok(rows)
    }
}

impl crate::tracking::TrackingStore for PgTracking {
    async fn pending_rows(&self) -> JournalResult<Vec<TrackedRow>> {
        self.tracked_rows("outcome = 'pending'", &[], false).await
    }

    async fn rows_for_event(
        &self,
        provider: &str,
        payment_id: Option<&str>,
        reference: Option<&str>,
        refund_id: Option<&str>,
    ) -> JournalResult<Vec<TrackedRow>> {
        match payment_id {
            Some(payment) => {
                self.tracked_rows(
                    "provider = $2 AND payment_id = $3",
                    &[&provider, &payment],
                    false,
                )
                .await
            }
            None => {
                self.tracked_rows(
                    "provider = $2 AND (($3::text IS NOT NULL AND reference = $3::text)
                                        OR ($4::text IS NOT NULL AND refund_id = $4::text))",
                    &[&provider, &reference, &refund_id],
                    false,
                )
                .await
            }
        }
    }

    /// The row's outcome and state are read, the rules applied (`Source::may_move`), and the
    /// change written by one statement guarded on what was read (and never from a final
    /// outcome), with its transition: a concurrent writer makes it a no-op, never a regression.
    async fn apply_status(
        &self,
        idx: u64,
        update: &StatusUpdate,
    ) -> JournalResult<Option<Transition>> {
        let i = to_i64(idx)?;
        let Some(current) = self
            .client
            .query_opt(
                "SELECT outcome, state FROM refund_batch_rows WHERE batch = $1 AND idx = $2",
                &[&self.batch, &i],
            )
            .await
            .map_err(pg_err)?
        else {
            return Ok(None);
        };
        let from: Option<String> = current.try_get(0).map_err(pg_err)?;
        let state: String = current.try_get(1).map_err(pg_err)?;
        if !update.source.may_move(from.as_deref(), &state, update.to) {
            return Ok(None);
        }
        let changed: i64 = self
            .client
            .query_one(
                &format!(
                    "WITH u AS (
                         UPDATE refund_batch_rows
                         SET outcome = $3::text, refund_id = COALESCE(refund_id, $4::text),
                             updated_at = $6
                         WHERE batch = $1 AND idx = $2 AND state = $9::text
                           AND outcome IS NOT DISTINCT FROM $5::text
                           AND (outcome IS NULL OR outcome NOT IN {FINAL_OUTCOMES_SQL})
                         RETURNING idx
                     ), t AS (
                         INSERT INTO refund_batch_transitions
                             (batch, idx, at_ms, from_outcome, to_outcome, source, refund_id, detail)
                         SELECT $1, $2, $6, $5::text, $3::text, $7::text, $4::text, $8::text FROM u
                     )
                     SELECT COUNT(*) FROM u"
                ),
                &[
                    &self.batch,
                    &i,
                    &update.to,
                    &update.refund_id,
                    &from,
                    &update.at_ms,
                    &update.source.as_str(),
                    &update.detail,
                    &state,
                ],
            )
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        if changed != 1 {
            return Ok(None);
        }
        Ok(Some(Transition {
            at_ms: update.at_ms,
            from,
            to: update.to.to_owned(),
            source: update.source.as_str().to_owned(),
            refund_id: update.refund_id.clone(),
            detail: update.detail.clone(),
        }))
    }

    async fn rows_for_report(&self) -> JournalResult<Vec<TrackedRow>> {
        self.tracked_rows("TRUE", &[], true).await
    }
}
