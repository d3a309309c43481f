//! `refund batch`: stream a CSV file of refunds through the facade with bounded concurrency,
//! journaled so that a rerun after any crash never refunds a row twice.
//!
//! How a row flows:
//! 1. read and parsed (rows are read lazily: neither the file nor the report is held in memory);
//! 2. looked up in the journal, in file order: a final row is reported from the journal and not
//!    touched; a new row is inserted (`new`); a row that differs from the journal stops the batch
//!    (the journal belongs to another file);
//! 3. a row that cannot be a refund request (malformed CSV, invalid amount, unknown currency or
//!    provider, a reference already used by an earlier row) is refused before any request;
//! 4. rows of the same payment run one after the other (a snapshot taken for a partial refund
//!    must see the refunds of the earlier rows, or reconciliation could mistake one for another);
//! 5. the refund: `prepared` (with the provider's snapshot, if it needs one) and `sending` are
//!    committed *before* the request leaves; a rerun never re-sends a `sending` or `unknown` row
//!    blindly, it reconciles it (the facade's `resume`: look up first);
//! 6. the result is committed (`done`, `refused`, `unknown`, `failed`) and written to the report.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use refund_facade::refund_core::{
    Currency, Error, ErrorKind, Money, PaymentId, ProviderId, RefundReference, RefundRequest,
    Snapshot,
};
use refund_facade::{PreparedRefund, RefundOutcome, Router};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::journal::postgres::{self, PgJournal};
use crate::journal::{Journal, RowKey, RowState, Store};
use crate::output::RefundJson;

/// The header a batch file must have, in this order.
pub(crate) const HEADER: [&str; 6] = [
    "provider",
    "payment_id",
    "amount",
    "currency",
    "reference",
    "reason",
];

/// The outcomes of a row, in the order of the summary's columns.
pub(crate) const OUTCOMES: [&str; 6] = [
    "succeeded",
    "pending",
    "declined",
    "refused",
    "unknown",
    "failed",
];

/// One line of the report (and the stored result of a final row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct ReportLine {
    /// The row number in the file: 1 for the first line after the header.
    pub(crate) row: u64,
    pub(crate) provider: String,
    pub(crate) payment_id: String,
    pub(crate) reference: String,
    /// `succeeded`, `pending`, `declined`, `refused`, `unknown` or `failed`.
    pub(crate) outcome: String,
    pub(crate) refund_id: Option<String>,
    pub(crate) amount: Option<String>,
    pub(crate) currency: Option<String>,
    pub(crate) provider_code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) error: Option<ReportError>,
}

/// The error of a row that did not end in a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct ReportError {
    pub(crate) kind: String,
    pub(crate) message: String,
}

/// The reference of a row whose `reference` column is empty: derived from the row's content and
/// position, so a rerun of the same file derives the same references.
pub(crate) fn derive_reference(idx: u64, key: &RowKey) -> String {
    let mut h = Sha256::new();
    for part in [
        &idx.to_string(),
        &key.provider,
        &key.payment_id,
        &key.amount,
        &key.currency,
        &key.reason,
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(15).map(|b| format!("{b:02x}")).collect();
    format!("b-{hex}")
}

/// A row as read from the file: its key, and why it cannot be a request if it is malformed.
#[derive(Debug)]
struct ParsedRow {
    idx: u64,
    key: RowKey,
    problem: Option<Error>,
}

/// Parses one CSV record. A malformed record (wrong number of fields, invalid UTF-8) still gets a
/// key (its first six fields, as text) so that it can be journaled and reported as refused.
fn parse_row(idx: u64, record: &csv::ByteRecord) -> ParsedRow {
    let mut problem = None;
    let mut field = |i: usize| -> String {
        let bytes = record.get(i).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(text) => text.trim().to_owned(),
            Err(_) => {
                problem.get_or_insert_with(|| {
                    Error::invalid_input(format!(
                        "row {}: the {} field is not valid UTF-8",
                        idx + 1,
                        HEADER.get(i).copied().unwrap_or("extra")
                    ))
                });
                String::from_utf8_lossy(bytes).trim().to_owned()
            }
        }
    };
    let mut key = RowKey {
        provider: field(0),
        payment_id: field(1),
        amount: field(2),
        currency: field(3),
        reference: field(4),
        reason: field(5),
    };
    if record.len() != HEADER.len() {
        problem = Some(Error::invalid_input(format!(
            "row {}: expected {} fields ({}), found {}",
            idx + 1,
            HEADER.len(),
            HEADER.join(","),
            record.len()
        )));
    }
    if key.reference.is_empty() {
        key.reference = derive_reference(idx, &key);
    }
    ParsedRow { idx, key, problem }
}

fn provider_of(name: &str) -> Result<ProviderId, Error> {
    match name {
        "plexy" => Ok(ProviderId::PLEXY),
        "paynext" => Ok(ProviderId::PAYNEXT),
        "payabli" => Ok(ProviderId::PAYABLI),
        other => Err(Error::invalid_input(format!(
            "unknown provider {other:?} (plexy, paynext or payabli)"
        ))),
    }
}

/// Builds the request of a row; every problem is `InvalidInput`, found before any I/O.
pub(crate) fn request_of(key: &RowKey) -> Result<(ProviderId, RefundRequest), Error> {
    let provider = provider_of(&key.provider)?;
    let builder = RefundRequest::builder(
        PaymentId::new(key.payment_id.clone())?,
        RefundReference::new(key.reference.clone())?,
    );
    let builder = match (key.amount.is_empty(), key.currency.is_empty()) {
        (true, true) => builder,
        (false, false) => builder.partial(Money::parse(
            &key.amount,
            Currency::from_code(&key.currency)?,
        )?),
        (false, true) => return Err(Error::invalid_input("amount given without currency")),
        (true, false) => return Err(Error::invalid_input("currency given without amount")),
    };
    let builder = if key.reason.is_empty() {
        builder
    } else {
        builder.reason(key.reason.clone())
    };
    Ok((provider, builder.build()?))
}

/// What a row ended as, and the journal state that records it.
///
/// `refused`: nothing was applied and running the row again cannot help (the row is invalid, the
/// provider cannot do it, the payment does not exist). `failed`: nothing was applied, but a rerun
/// tries again (configuration, credentials, rate limits, a provider or network failure before
/// the refund was sent). `unknown`: the refund may have been applied; a rerun reconciles it.
fn classify(e: &Error, sent: bool) -> RowState {
    match e.kind() {
        ErrorKind::OutcomeUnknown => RowState::Unknown,
        ErrorKind::InvalidInput | ErrorKind::Unsupported | ErrorKind::NotFound => RowState::Refused,
        // Not applied: a missing or wrong key, or a 429, says nothing about the row itself.
        ErrorKind::Config | ErrorKind::Auth | ErrorKind::RateLimited => RowState::Failed,
        // The facade reports anything that may have been applied as OutcomeUnknown; should
        // another kind that may have reached the provider come back after a refund request was
        // sent, count it as unknown (a rerun looks it up) rather than failed (a rerun re-sends).
        _ if sent && e.may_have_reached_provider() => RowState::Unknown,
        _ => RowState::Failed,
    }
}

fn line_for(
    idx: u64,
    key: &RowKey,
    result: &Result<RefundJson, (Error, bool)>,
) -> (RowState, ReportLine) {
    let mut line = ReportLine {
        row: idx.saturating_add(1),
        provider: key.provider.clone(),
        payment_id: key.payment_id.clone(),
        reference: key.reference.clone(),
        outcome: String::new(),
        refund_id: None,
        amount: None,
        currency: None,
        provider_code: None,
        message: None,
        error: None,
    };
    match result {
        Ok(r) => {
            line.outcome = r.outcome.to_owned();
            line.refund_id = r.refund_id.clone();
            line.amount = r.amount.clone();
            line.currency = r.currency.clone();
            line.provider_code = r.provider_code.clone();
            line.message = r.message.clone();
            (RowState::Done, line)
        }
        Err((e, sent)) => {
            let state = classify(e, *sent);
            line.outcome = match state {
                RowState::Unknown => "unknown",
                RowState::Refused => "refused",
                _ => "failed",
            }
            .to_owned();
            line.error = Some(ReportError {
                kind: e.kind().as_str().to_owned(),
                message: e.to_string(),
            });
            (state, line)
        }
    }
}

/// What to do with a row, decided in file order before any of its I/O.
enum Plan {
    /// Final in the journal: report the stored result.
    Stored(ReportLine),
    /// Work to do from this state.
    Work {
        row: ParsedRow,
        state: RowState,
        snapshot: Option<String>,
        /// When the row was last marked `sending` (ms since the Unix epoch).
        sending_at: Option<i64>,
    },
}

/// Looks a row up in the journal (inserting it if new). Runs in file order, so that every
/// earlier row is in the journal when a row's reference is checked against them.
fn plan(journal: &Journal, mut row: ParsedRow) -> Result<Plan, Error> {
    let idx = row.idx;
    let (state, snapshot, sending_at) = match journal.get(idx).map_err(Error::config)? {
        None => {
            journal.insert(idx, &row.key).map_err(Error::config)?;
            (RowState::New, None, None)
        }
        Some(stored) => {
            if stored.key != row.key {
                return Err(Error::invalid_input(format!(
                    "row {} differs from the journal (journal: {} {} reference {}; file: {} {} reference {}): this journal belongs to another file",
                    idx + 1,
                    stored.key.provider,
                    stored.key.payment_id,
                    stored.key.reference,
                    row.key.provider,
                    row.key.payment_id,
                    row.key.reference
                )));
            }
            if stored.state.is_final()
                && let Some(line) = stored
                    .result
                    .as_deref()
                    .and_then(|s| serde_json::from_str::<ReportLine>(s).ok())
            {
                return Ok(Plan::Stored(line));
            }
            (stored.state, stored.snapshot, stored.sending_at)
        }
    };
    // Two rows with one reference would be one logical refund asked twice: the second is refused
    // (checked only before anything is sent for it).
    if state == RowState::New
        && row.problem.is_none()
        && let Some(first) = journal
            .earlier_with_reference(idx, &row.key.provider, &row.key.reference)
            .map_err(Error::config)?
    {
        row.problem = Some(Error::invalid_input(format!(
            "row {}: reference {} is already used by row {} of this file",
            idx + 1,
            row.key.reference,
            first.saturating_add(1)
        )));
    }
    Ok(Plan::Work {
        row,
        state,
        snapshot,
        sending_at,
    })
}

/// A payment's lock, and how many rows hold it or wait for it.
type PaymentLock = (Arc<tokio::sync::Mutex<()>>, usize);

/// One lock per (provider, payment): rows of the same payment run one after the other.
#[derive(Default)]
struct PaymentLocks {
    /// The lock of each payment with rows running or waiting.
    map: Mutex<HashMap<(String, String), PaymentLock>>,
}

/// Holds a payment's lock; frees the map entry when the last user is gone.
struct PaymentGuard<'a> {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    _ticket: Ticket<'a>,
}

struct Ticket<'a> {
    locks: &'a PaymentLocks,
    key: (String, String),
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut map = self
            .locks
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, users)) = map.get_mut(&self.key) {
            *users = users.saturating_sub(1);
            if *users == 0 {
                map.remove(&self.key);
            }
        }
    }
}

impl PaymentLocks {
    async fn lock(&self, provider: &str, payment: &str) -> PaymentGuard<'_> {
        let key = (provider.to_owned(), payment.to_owned());
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = map.entry(key.clone()).or_default();
            entry.1 += 1;
            Arc::clone(&entry.0)
        };
        // The ticket exists before the wait, so a cancelled wait still releases its count.
        let ticket = Ticket { locks: self, key };
        PaymentGuard {
            _guard: mutex.lock_owned().await,
            _ticket: ticket,
        }
    }
}

/// What the journal holds about a row that needs work.
struct Stored {
    state: RowState,
    snapshot: Option<String>,
    /// When the row was last marked `sending` (ms since the Unix epoch), if ever.
    sending_at: Option<i64>,
}

/// Processes one row from its journal state, journaling before and after every request.
/// `None`: another worker took the row over (its lease expired); it finishes the row.
async fn process(
    router: &Router,
    store: Store<'_>,
    locks: &PaymentLocks,
    row: ParsedRow,
    stored: Stored,
) -> Result<Option<ReportLine>, String> {
    let Stored {
        state,
        snapshot,
        sending_at,
    } = stored;
    let ParsedRow { idx, key, problem } = row;
    if let Some(e) = problem {
        return finish(store, idx, &key, Err((e, false))).await;
    }
    let (provider, request) = match request_of(&key) {
        Ok(r) => r,
        Err(e) => return finish(store, idx, &key, Err((e, false))).await,
    };
    if router.provider(&provider).is_err() {
        // Nothing sent; a rerun with the key set refunds the row.
        return finish(
            store,
            idx,
            &key,
            Err((crate::not_configured(&provider), false)),
        )
        .await;
    }
    let _payment = locks.lock(&key.provider, &key.payment_id).await;
    let snapshot = snapshot.map(Snapshot::new);
    let result: Result<RefundOutcome, (Error, bool)> = match state {
        RowState::New | RowState::Failed => match router.prepare(&provider, &request).await {
            // Nothing was sent: the checks failed or the snapshot could not be taken.
            Err(e) => Err((e, false)),
            Ok(prepared) => {
                let snapshot = prepared.snapshot.as_ref().map(Snapshot::as_str);
                if store.mark_sending(idx, Some(snapshot)).await?.is_none() {
                    return Ok(None);
                }
                router.execute(&prepared).await.map_err(|e| (e, true))
            }
        },
        RowState::Prepared => {
            if store.mark_sending(idx, None).await?.is_none() {
                return Ok(None);
            }
            router
                .execute(&PreparedRefund::new(provider, request, snapshot))
                .await
                .map_err(|e| (e, true))
        }
        // May have been sent: reconcile, never send blindly.
        // The time it was marked `sending` tells the router when the last request may have
        // left (a provider whose absence proof settles late, Payabli, needs it).
        RowState::Sending | RowState::Unknown | RowState::Done | RowState::Refused => {
            let mut prepared = PreparedRefund::new(provider, request, snapshot);
            if let Some(ms) = sending_at.and_then(|ms| u64::try_from(ms).ok()) {
                prepared = prepared.with_last_sent_at(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
                );
            }
            router.resume(&prepared).await.map_err(|e| (e, true))
        }
    };
    finish(
        store,
        idx,
        &key,
        result.map(|o| RefundJson::from_refund(&o.refund)),
    )
    .await
}

async fn finish(
    store: Store<'_>,
    idx: u64,
    key: &RowKey,
    result: Result<RefundJson, (Error, bool)>,
) -> Result<Option<ReportLine>, String> {
    let (state, line) = line_for(idx, key, &result);
    let text =
        serde_json::to_string(&line).map_err(|e| format!("cannot encode report line: {e}"))?;
    // With tracking: the row's outcome and its transition (see the end of journal.rs).
    let kept = store
        .finish(idx, state, &text, &crate::tracking::batch_update(&line))
        .await?;
    Ok(kept.then_some(line))
}

/// Totals printed at the end.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// (provider, outcome) → rows.
    pub(crate) counts: BTreeMap<(String, String), u64>,
    /// Rows reported.
    pub(crate) rows: u64,
}

impl Summary {
    fn add(&mut self, line: &ReportLine) {
        self.rows += 1;
        // Rows naming no known provider (refused) are counted together, so that the table has
        // at most four lines whatever the file holds.
        let provider = match line.provider.as_str() {
            p @ ("plexy" | "paynext" | "payabli") => p,
            _ => "other",
        };
        *self
            .counts
            .entry((provider.to_owned(), line.outcome.clone()))
            .or_default() += 1;
    }

    /// Rows with this outcome, all providers.
    pub(crate) fn count(&self, outcome: &str) -> u64 {
        self.counts
            .iter()
            .filter(|((_, o), _)| o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    fn count_of(&self, provider: &str, outcome: &str) -> u64 {
        self.counts
            .get(&(provider.to_owned(), outcome.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The providers with rows, in a fixed order.
    fn providers(&self) -> Vec<&'static str> {
        ["plexy", "paynext", "payabli", "other"]
            .into_iter()
            .filter(|p| self.counts.keys().any(|(q, _)| q == p))
            .collect()
    }

    /// The exit code: 0 when every row is final, 5 when a row's outcome is unknown, else 1 when
    /// a row failed.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.count("unknown") > 0 {
            crate::output::EXIT_UNKNOWN
        } else if self.count("failed") > 0 {
            crate::output::EXIT_FAILURE
        } else {
            crate::output::EXIT_OK
        }
    }

    /// A readable table (one line per provider, one column per outcome), then what to do about
    /// rows that are not final.
    pub(crate) fn table(&self) -> String {
        let mut out = format!("{:<10}", "provider");
        for o in OUTCOMES {
            out.push_str(&format!(" {o:>10}"));
        }
        out.push_str(&format!(" {:>10}\n", "total"));
        for p in self.providers() {
            out.push_str(&format!("{p:<10}"));
            let mut total = 0;
            for o in OUTCOMES {
                let n = self.count_of(p, o);
                total += n;
                out.push_str(&format!(" {n:>10}"));
            }
            out.push_str(&format!(" {total:>10}\n"));
        }
        out.push_str(&format!("{:<10}", "all"));
        for o in OUTCOMES {
            out.push_str(&format!(" {:>10}", self.count(o)));
        }
        out.push_str(&format!(" {:>10}\n", self.rows));
        let unknown = self.count("unknown");
        if unknown > 0 {
            out.push_str(&format!(
                "\n{unknown} row(s) may have been applied: run the same command again later (same file, same journal) to reconcile them; never with a new journal.\n"
            ));
        }
        let failed = self.count("failed");
        if failed > 0 {
            out.push_str(&format!(
                "\n{failed} row(s) failed without being applied: fix the cause (see the report) and run the same command again.\n"
            ));
        }
        out
    }

    /// The JSON summary: `{"rows", "outcomes": {outcome: n}, "providers": {provider: {outcome:
    /// n, "total": n}}}`, every outcome present.
    pub(crate) fn json(&self) -> serde_json::Value {
        let outcomes = |count: &dyn Fn(&str) -> u64| -> serde_json::Map<String, serde_json::Value> {
            OUTCOMES
                .iter()
                .map(|o| ((*o).to_owned(), count(o).into()))
                .collect()
        };
        let providers: serde_json::Map<String, serde_json::Value> = self
            .providers()
            .into_iter()
            .map(|p| {
                let mut counts = outcomes(&|o| self.count_of(p, o));
                let total: u64 = OUTCOMES.iter().map(|o| self.count_of(p, o)).sum();
                counts.insert("total".to_owned(), total.into());
                (p.to_owned(), serde_json::Value::Object(counts))
            })
            .collect();
        serde_json::json!({
            "rows": self.rows,
            "outcomes": outcomes(&|o| self.count(o)),
            "providers": providers,
        })
    }
}

/// What `refund batch` was asked to do.
pub(crate) struct BatchRun<'a> {
    pub(crate) file: &'a Path,
    /// A SQLite file's path, or a `postgres://` URL.
    pub(crate) journal: &'a str,
    /// The batch's name in a PostgreSQL journal (default: the file's name).
    pub(crate) batch_id: Option<&'a str>,
    /// How long a PostgreSQL worker's claim on a row lasts without renewal.
    pub(crate) lease: Duration,
    pub(crate) concurrency: usize,
    pub(crate) report: Option<&'a Path>,
    pub(crate) progress: bool,
}

/// Why a batch stopped before its end.
#[derive(Debug)]
pub(crate) struct Stopped {
    /// What went wrong.
    pub(crate) error: Error,
    /// Whether rows had started (`false`: the batch was refused before any row was read, so
    /// nothing was sent).
    pub(crate) started: bool,
}

impl Stopped {
    fn before_start(error: Error) -> Self {
        Stopped {
            error,
            started: false,
        }
    }
}

/// The report file, if one was asked for.
type Report = Option<LineWriter<File>>;

fn open_report(args: &BatchRun<'_>) -> Result<Report, Stopped> {
    args.report
        .map(|p| {
            File::create(p).map(LineWriter::new).map_err(|e| {
                Stopped::before_start(Error::config(format!("cannot create {}: {e}", p.display())))
            })
        })
        .transpose()
}

fn write_line(report: &mut Report, line: &ReportLine) -> Result<(), Error> {
    if let Some(w) = report.as_mut() {
        serde_json::to_string(line)
            .map_err(|e| e.to_string())
            .and_then(|text| writeln!(w, "{text}").map_err(|e| e.to_string()))
            .map_err(|e| Error::config(format!("cannot write the report: {e}")))?;
    }
    Ok(())
}

fn flush_report(report: &mut Report) -> Result<(), Error> {
    if let Some(w) = report.as_mut() {
        w.flush()
            .map_err(|e| Error::config(format!("cannot write the report: {e}")))?;
    }
    Ok(())
}

fn progress_bar(args: &BatchRun<'_>) -> indicatif::ProgressBar {
    let progress = if args.progress {
        // Drawn only when stderr is a terminal (indicatif hides itself otherwise).
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows done ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    progress
}

/// Runs a batch. Returns the summary; the caller prints it and picks the exit code.
///
/// # Errors
/// [`Stopped`] when the file cannot be read or has the wrong header, the journal cannot be
/// opened (or is in use) or belongs to another file, or the journal or report cannot be
/// written. Rows in flight when it stops are finished and journaled first.
pub(crate) async fn run(router: &Router, args: BatchRun<'_>) -> Result<Summary, Stopped> {
    let invalid = |m: String| Stopped::before_start(Error::invalid_input(m));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(args.file)
        .map_err(|e| invalid(format!("cannot read {}: {e}", args.file.display())))?;
    let header = reader.byte_headers().map_err(|e| {
        invalid(format!(
            "cannot read the header of {}: {e}",
            args.file.display()
        ))
    })?;
    let found: Vec<String> = header
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_owned())
        .collect();
    if found != HEADER {
        return Err(invalid(format!(
            "the header of {} must be {:?}, found {:?}",
            args.file.display(),
            HEADER.join(","),
            found.join(",")
        )));
    }
    if postgres::is_url(args.journal) {
        run_postgres(router, &args, reader).await
    } else {
        run_sqlite(router, &args, reader).await
    }
}

async fn run_sqlite(
    router: &Router,
    args: &BatchRun<'_>,
    reader: csv::Reader<File>,
) -> Result<Summary, Stopped> {
    let journal = Journal::open(Path::new(args.journal))
        .map_err(|m| Stopped::before_start(Error::config(m)))?;
    let mut report = open_report(args)?;
    let progress = progress_bar(args);

    // The first fatal problem; once set, no new row is started (rows in flight finish).
    let fatal: RefCell<Option<Error>> = RefCell::new(None);
    let stop = |e: Error| {
        fatal.borrow_mut().get_or_insert(e);
    };
    let journal = &journal;
    let locks = PaymentLocks::default();
    let locks = &locks;
    // Rows are read lazily and at most `concurrency` are in flight, so memory does not grow
    // with the file. The journal lookup (`plan`) runs here, in file order.
    let plans = reader
        .into_byte_records()
        .enumerate()
        .map_while(|(i, rec)| {
            if fatal.borrow().is_some() {
                return None;
            }
            let idx = u64::try_from(i).unwrap_or(u64::MAX);
            let planned = rec
                .map_err(|e| {
                    Error::invalid_input(format!(
                        "cannot read row {} of {}: {e}",
                        idx + 1,
                        args.file.display()
                    ))
                })
                .map(|r| parse_row(idx, &r))
                .and_then(|row| plan(journal, row));
            match planned {
                Ok(p) => Some(p),
                Err(e) => {
                    stop(e);
                    None
                }
            }
        });
    let mut results = futures_util::stream::iter(plans)
        .map(|plan| async move {
            match plan {
                Plan::Stored(line) => Ok(Some(line)),
                Plan::Work {
                    row,
                    state,
                    snapshot,
                    sending_at,
                } => {
                    let stored = Stored {
                        state,
                        snapshot,
                        sending_at,
                    };
                    process(router, Store::Sqlite(journal), locks, row, stored).await
                }
            }
        })
        .buffer_unordered(args.concurrency.max(1));
    let mut summary = Summary::default();
    while let Some(result) = results.next().await {
        match result {
            Ok(Some(line)) => {
                summary.add(&line);
                if let Err(e) = write_line(&mut report, &line) {
                    stop(e);
                }
                progress.inc(1);
            }
            // Only a PostgreSQL worker loses rows to another.
            Ok(None) => {}
            Err(e) => stop(Error::config(e)),
        }
    }
    drop(results);
    progress.finish_and_clear();
    if let Err(e) = journal.flush() {
        stop(Error::config(e));
    }
    if let Err(e) = flush_report(&mut report) {
        stop(e);
    }
    match fatal.into_inner() {
        Some(error) => Err(Stopped {
            error,
            started: true,
        }),
        None => Ok(summary),
    }
}

/// Rows inserted into a PostgreSQL journal per statement.
const LOAD_CHUNK: usize = 1000;

/// One worker of a batch in PostgreSQL: inserts the file's rows (idempotently), then claims and
/// processes rows until none is left that it may take, then reports the whole batch.
async fn run_postgres(
    router: &Router,
    args: &BatchRun<'_>,
    reader: csv::Reader<File>,
) -> Result<Summary, Stopped> {
    let batch_id = match args.batch_id {
        Some(b) => b.to_owned(),
        None => args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Stopped::before_start(Error::invalid_input(format!(
                    "{} has no file name to name the batch: use --batch-id",
                    args.file.display()
                )))
            })?,
    };
    // Connections for intents and as many for results: one each per four rows in flight, at
    // most eight (a worker opens at most 17). Each commit waits for a WAL flush, so rows in
    // flight need connections of their own to share flushes (measured in BENCHMARKS.md §3).
    let connections = args.concurrency.div_ceil(4).clamp(1, 8);
    let journal = PgJournal::open(args.journal, &batch_id, args.lease, connections)
        .await
        .map_err(|m| Stopped::before_start(Error::config(m)))?;
    tracing::info!(batch = %batch_id, worker = journal.owner(), "PostgreSQL journal: worker started");
    let mut report = open_report(args)?;

    // 1. Every row of the file is in the journal (inserted by whichever worker came first).
    let mut chunk = Vec::with_capacity(LOAD_CHUNK);
    let mut records = reader.into_byte_records().enumerate();
    loop {
        let next = records.next();
        let at_end = next.is_none();
        if let Some((i, rec)) = next {
            let idx = u64::try_from(i).unwrap_or(u64::MAX);
            let rec = rec.map_err(|e| {
                Stopped::before_start(Error::invalid_input(format!(
                    "cannot read row {} of {}: {e}",
                    idx + 1,
                    args.file.display()
                )))
            })?;
            let row = parse_row(idx, &rec);
            chunk.push((row.idx, row.key, row.problem.map(|e| e.to_string())));
        }
        if chunk.len() >= LOAD_CHUNK || (at_end && !chunk.is_empty()) {
            let differs = journal
                .load(&chunk)
                .await
                .map_err(|m| Stopped::before_start(Error::config(m)))?;
            if let Some((idx, stored)) = differs {
                let file = chunk
                    .iter()
                    .find(|(i, _, _)| *i == idx)
                    .map(|(_, k, _)| k.clone())
                    .unwrap_or_else(|| stored.clone());
                return Err(Stopped::before_start(Error::invalid_input(format!(
                    "row {} differs from the journal's batch {batch_id:?} (journal: {} {} reference {}; file: {} {} reference {}): use another --batch-id for another file",
                    idx + 1,
                    stored.provider,
                    stored.payment_id,
                    stored.reference,
                    file.provider,
                    file.payment_id,
                    file.reference
                ))));
            }
            chunk.clear();
        }
        if at_end {
            break;
        }
    }

    journal
        .analyze()
        .await
        .map_err(|m| Stopped::before_start(Error::config(m)))?;

    // 2. Claim and process rows; renew the leases held meanwhile.
    let progress = progress_bar(args);
    let outcome = work(router, &journal, args, &progress).await;
    progress.finish_and_clear();
    outcome.map_err(|e| Stopped {
        error: Error::config(e),
        started: true,
    })?;

    // 3. Report the whole batch, in row order, from the journal.
    let stopped = |error: Error| Stopped {
        error,
        started: true,
    };
    let mut summary = Summary::default();
    let mut after = None;
    loop {
        let page = journal
            .page(after, 1000)
            .await
            .map_err(|m| stopped(Error::config(m)))?;
        let Some(last) = page.last() else { break };
        after = Some(last.idx);
        for row in page {
            let line = row
                .result
                .as_deref()
                .and_then(|s| serde_json::from_str::<ReportLine>(s).ok())
                .unwrap_or_else(|| {
                    // Not finished by anyone (a worker stopped midway): may have been applied.
                    let e = Error::new(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "row {} is still {} in the journal",
                            row.idx + 1,
                            row.state.as_str()
                        ),
                    );
                    line_for(row.idx, &row.key, &Err((e, true))).1
                });
            summary.add(&line);
            write_line(&mut report, &line).map_err(stopped)?;
        }
    }
    flush_report(&mut report).map_err(stopped)?;
    Ok(summary)
}

/// The claim loop of a PostgreSQL worker.
async fn work(
    router: &Router,
    journal: &PgJournal,
    args: &BatchRun<'_>,
    progress: &indicatif::ProgressBar,
) -> Result<(), String> {
    let concurrency = args.concurrency.max(1);
    // Claims come in groups of at least half the concurrency, so a worker holds at most about
    // 1.5 times its concurrency in leases.
    let refill_below = concurrency.div_ceil(2);
    let poll = (args.lease / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let locks = PaymentLocks::default();
    let mut running = futures_util::stream::FuturesUnordered::new();
    // Rows claimed and waiting for a slot.
    let mut queue = std::collections::VecDeque::new();
    let mut renew = tokio::time::interval((args.lease / 3).max(Duration::from_millis(10)));
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When a claim last found nothing (claims are not repeated faster than `poll` then).
    let mut dry_since: Option<tokio::time::Instant> = None;
    let mut fatal: Option<String> = None;
    loop {
        if fatal.is_none()
            && queue.len() + running.len() < refill_below
            && dry_since.is_none_or(|t| t.elapsed() >= poll)
        {
            let claimed = match journal
                .claim(concurrency + refill_below - queue.len() - running.len())
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    fatal = Some(e);
                    Vec::new()
                }
            };
            dry_since = claimed.is_empty().then(tokio::time::Instant::now);
            for c in claimed {
                queue.push_back(c);
            }
        }
        while running.len() < concurrency
            && let Some(c) = queue.pop_front()
        {
            running.push(claimed_row(router, journal, &locks, c));
        }
        if running.is_empty() {
            if fatal.is_some() {
                break;
            }
            if dry_since.is_some() {
                // Nothing to claim: done, unless rows are in other workers' hands (their
                // leases may expire, and their rows then need reconciling).
                if journal.held_by_others().await? == 0 {
                    break;
                }
                tokio::time::sleep(poll).await;
            }
            continue;
        }
        tokio::select! {
            done = running.next() => match done {
                Some(Ok(Some(_))) => progress.inc(1),
                Some(Ok(None)) => {}
                Some(Err(e)) => { fatal.get_or_insert(e); }
                None => {}
            },
            _ = renew.tick() => {
                if let Err(e) = journal.renew().await {
                    fatal.get_or_insert(e);
                }
            }
            () = tokio::time::sleep(poll), if dry_since.is_some() && fatal.is_none() => {}
        }
    }
    match fatal {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Processes a claimed row: the duplicate-reference check of a new row, then [`process`].
/// Nothing is awaited before `process` takes the payment's lock, so that rows of one payment
/// take it in row order (they are started in row order).
async fn claimed_row(
    router: &Router,
    journal: &PgJournal,
    locks: &PaymentLocks,
    c: postgres::Claimed,
) -> Result<Option<ReportLine>, String> {
    let mut row = ParsedRow {
        idx: c.idx,
        key: c.key,
        problem: c.problem.map(Error::invalid_input),
    };
    // As with SQLite: a reference already used by an earlier row is refused, checked only
    // before anything is sent for the row. Every earlier row is in the journal: this worker
    // inserted the whole file before claiming.
    if c.state == RowState::New
        && row.problem.is_none()
        && let Some(first) = c.earlier_with_reference
    {
        row.problem = Some(Error::invalid_input(format!(
            "row {}: reference {} is already used by row {} of this file",
            row.idx + 1,
            row.key.reference,
            first.saturating_add(1)
        )));
    }
    let stored = Stored {
        state: c.state,
        snapshot: c.snapshot,
        sending_at: c.sending_at,
    };
    process(router, Store::Postgres(journal), locks, row, stored).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(reference: &str) -> RowKey {
        RowKey {
            provider: "plexy".into(),
            payment_id: "p1".into(),
            amount: "10.50".into(),
            currency: "USD".into(),
            reference: reference.into(),
            reason: String::new(),
        }
    }

    #[test]
    fn derived_references_are_stable_valid_and_position_dependent() {
        let a = derive_reference(0, &key(""));
        assert_eq!(a, derive_reference(0, &key("")));
        assert_ne!(a, derive_reference(1, &key("")));
        assert!(RefundReference::new(a.clone()).is_ok(), "{a}");
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn rows_become_requests_or_invalid_input() {
        assert!(request_of(&key("rf-1")).is_ok());
        let full = RowKey {
            amount: String::new(),
            currency: String::new(),
            ..key("rf-1")
        };
        assert!(request_of(&full).unwrap().1.amount().partial().is_none());
        for bad in [
            RowKey {
                provider: "stripe".into(),
                ..key("rf-1")
            },
            RowKey {
                amount: "10.001".into(),
                ..key("rf-1")
            },
            RowKey {
                currency: String::new(),
                ..key("rf-1")
            },
            RowKey {
                amount: String::new(),
                ..key("rf-1")
            },
            RowKey {
                currency: "XXX".into(),
                ..key("rf-1")
            },
            RowKey {
                amount: "0".into(),
                ..key("rf-1")
            },
            RowKey {
                payment_id: String::new(),
                ..key("rf-1")
            },
            key("bad ref"),
        ] {
            assert_eq!(
                request_of(&bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_records_are_parsed_with_a_problem() {
        let ok = parse_row(
            0,
            &csv::ByteRecord::from(vec!["plexy", " p1 ", "", "", "", ""]),
        );
        assert!(ok.problem.is_none());
        assert_eq!(ok.key.payment_id, "p1");
        assert_eq!(ok.key.reference, derive_reference(0, &ok.key));

        let short = parse_row(4, &csv::ByteRecord::from(vec!["plexy", "p1"]));
        let e = short.problem.unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("row 5: expected 6 fields"), "{e}");

        let mut bytes = csv::ByteRecord::new();
        for f in [&b"plexy"[..], b"p\xff1", b"", b"", b"rf-1", b""] {
            bytes.push_field(f);
        }
        let utf8 = parse_row(0, &bytes);
        assert!(
            utf8.problem
                .unwrap()
                .to_string()
                .contains("payment_id field is not valid UTF-8")
        );
        assert_eq!(utf8.key.reference, "rf-1");
    }

    #[test]
    fn classification_never_resends_what_may_have_been_applied() {
        let kinds = |sent: bool| {
            [
                ErrorKind::InvalidInput,
                ErrorKind::Unsupported,
                ErrorKind::Auth,
                ErrorKind::NotFound,
                ErrorKind::RateLimited,
                ErrorKind::Transport,
                ErrorKind::Timeout,
                ErrorKind::Decode,
                ErrorKind::Provider,
                ErrorKind::OutcomeUnknown,
                ErrorKind::Config,
            ]
            .iter()
            .map(|k| (k.as_str(), classify(&Error::new(*k, "x"), sent).as_str()))
            .collect::<Vec<_>>()
        };
        let expected_sent = vec![
            ("invalid_input", "refused"),
            ("unsupported", "refused"),
            ("auth", "failed"),
            ("not_found", "refused"),
            ("rate_limited", "failed"),
            ("transport", "failed"),
            ("timeout", "unknown"),
            ("decode", "unknown"),
            ("provider", "unknown"),
            ("outcome_unknown", "unknown"),
            ("config", "failed"),
        ];
        assert_eq!(kinds(true), expected_sent);
        // Before any refund request (a failed snapshot lookup), only OutcomeUnknown is unknown.
        let not_sent: Vec<_> = ErrorKind::ALL
            .iter()
            .filter(|k| classify(&Error::new(**k, "x"), false) == RowState::Unknown)
            .map(|k| k.as_str())
            .collect();
        assert_eq!(not_sent, vec!["outcome_unknown"]);
    }

    #[test]
    fn summary_counts_and_exit_codes() {
        let mut s = Summary::default();
        assert_eq!(s.exit_code(), 0);
        let line = |provider: &str, outcome: &str| ReportLine {
            row: 1,
            provider: provider.into(),
            payment_id: "p".into(),
            reference: "r".into(),
            outcome: outcome.into(),
            refund_id: None,
            amount: None,
            currency: None,
            provider_code: None,
            message: None,
            error: None,
        };
        for (p, o) in [
            ("plexy", "succeeded"),
            ("plexy", "declined"),
            ("payabli", "refused"),
            ("paynext", "pending"),
            ("Stripe, Inc.", "refused"),
        ] {
            s.add(&line(p, o));
        }
        assert_eq!(s.exit_code(), 0);
        s.add(&line("plexy", "failed"));
        assert_eq!(s.exit_code(), 1);
        s.add(&line("payabli", "unknown"));
        assert_eq!(s.exit_code(), 5);
        let json = s.json();
        assert_eq!(json["rows"], 7);
        assert_eq!(json["providers"]["other"]["refused"], 1);
        assert_eq!(json["outcomes"]["succeeded"], 1);
        assert_eq!(json["outcomes"]["unknown"], 1);
        assert_eq!(json["providers"]["plexy"]["total"], 3);
        assert_eq!(json["providers"]["payabli"]["refused"], 1);
        let table = s.table();
        assert!(table.contains("1 row(s) may have been applied"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("all") && l.ends_with(" 7")),
            "{table}"
        );
    }
}
