//! `refund batch`: stream a CSV file of refunds through the facade with bounded concurrency,
//! journaled so that a rerun after any crash never refunds a row twice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use futures_util::StreamExt;
use refund_facade::refund_core::{
    Currency, Error, ErrorKind, Money, PaymentId, ProviderId, RefundReference, RefundRequest,
    Snapshot,
};
use refund_facade::{PreparedRefund, Router};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::journal::{Journal, RowKey, RowState};
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

/// One line of the report (and the stored result of a final row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct ReportLine {
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

/// Parses one CSV record (already split into fields) into the row key.
fn row_key(idx: u64, record: &csv::StringRecord) -> Result<RowKey, String> {
    if record.len() != HEADER.len() {
        return Err(format!(
            "row {idx}: expected {} fields, found {}",
            HEADER.len(),
            record.len()
        ));
    }
    let field = |i: usize| record.get(i).unwrap_or_default().trim().to_owned();
    let mut key = RowKey {
        provider: field(0),
        payment_id: field(1),
        amount: field(2),
        currency: field(3),
        reference: field(4),
        reason: field(5),
    };
    if key.reference.is_empty() {
        key.reference = derive_reference(idx, &key);
    }
    Ok(key)
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

fn line_for(idx: u64, key: &RowKey, result: &Result<RefundJson, Error>) -> (RowState, ReportLine) {
    let mut line = ReportLine {
        row: idx,
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
        Err(e) => {
            let state = match e.kind() {
                ErrorKind::OutcomeUnknown => RowState::Unknown,
                ErrorKind::InvalidInput
                | ErrorKind::Unsupported
                | ErrorKind::Auth
                | ErrorKind::NotFound
                | ErrorKind::Config => RowState::Refused,
                _ if e.may_have_reached_provider() => RowState::Unknown,
                _ => RowState::Failed,
            };
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

/// Processes one row, journaling before and after every request.
async fn process(
    router: &Router,
    journal: &Journal,
    idx: u64,
    key: RowKey,
) -> Result<ReportLine, String> {
    let existing = journal.get(idx)?;
    let (state, snapshot) = match existing {
        None => {
            journal.insert(idx, &key)?;
            (RowState::New, None)
        }
        Some(row) => {
            if row.key != key {
                return Err(format!(
                    "row {idx} differs from the journal (journal reference {}, file reference {}): this journal belongs to another file",
                    row.key.reference, key.reference
                ));
            }
            if row.state.is_final()
                && let Some(stored) = row
                    .result
                    .as_deref()
                    .and_then(|s| serde_json::from_str::<ReportLine>(s).ok())
            {
                return Ok(stored);
            }
            (row.state, row.snapshot)
        }
    };
    let (provider, request) = match request_of(&key) {
        Ok(r) => r,
        Err(e) => return finish(journal, idx, &key, Err(e)),
    };
    let snapshot = snapshot.map(Snapshot::new);
    let result = match state {
        RowState::New | RowState::Failed => match router.prepare(&provider, &request).await {
            Err(e) => Err(e),
            Ok(prepared) => {
                journal.set_prepared(idx, prepared.snapshot.as_ref().map(Snapshot::as_str))?;
                journal.set_state(idx, RowState::Sending)?;
                router.execute(&prepared).await
            }
        },
        RowState::Prepared => {
            journal.set_state(idx, RowState::Sending)?;
            router
                .execute(&PreparedRefund::new(provider, request, snapshot))
                .await
        }
        // May have been sent: reconcile, never send blindly.
        RowState::Sending | RowState::Unknown | RowState::Done | RowState::Refused => {
            router
                .resume(&PreparedRefund::new(provider, request, snapshot))
                .await
        }
    };
    finish(
        journal,
        idx,
        &key,
        result.map(|o| RefundJson::from_refund(&o.refund)),
    )
}

fn finish(
    journal: &Journal,
    idx: u64,
    key: &RowKey,
    result: Result<RefundJson, Error>,
) -> Result<ReportLine, String> {
    let (state, line) = line_for(idx, key, &result);
    let text =
        serde_json::to_string(&line).map_err(|e| format!("cannot encode report line: {e}"))?;
    journal.finish(idx, state, &text)?;
    Ok(line)
}

/// Totals printed at the end.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// (provider, outcome) → rows.
    pub(crate) counts: BTreeMap<(String, String), u64>,
    pub(crate) rows: u64,
}

impl Summary {
    fn add(&mut self, line: &ReportLine) {
        self.rows += 1;
        *self
            .counts
            .entry((line.provider.clone(), line.outcome.clone()))
            .or_default() += 1;
    }

    pub(crate) fn count(&self, outcome: &str) -> u64 {
        self.counts
            .iter()
            .filter(|((_, o), _)| o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    /// A readable table: one line per provider, one column per outcome.
    pub(crate) fn table(&self) -> String {
        const OUTCOMES: [&str; 6] = [
            "succeeded",
            "pending",
            "declined",
            "refused",
            "unknown",
            "failed",
        ];
        let mut out = format!("{:<10}", "provider");
        for o in OUTCOMES {
            out.push_str(&format!(" {o:>10}"));
        }
        out.push_str(&format!(" {:>10}\n", "total"));
        let providers: std::collections::BTreeSet<&String> =
            self.counts.keys().map(|(p, _)| p).collect();
        for p in providers {
            out.push_str(&format!("{p:<10}"));
            let mut total = 0;
            for o in OUTCOMES {
                let n = self
                    .counts
                    .get(&(p.clone(), o.to_owned()))
                    .copied()
                    .unwrap_or(0);
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
        out
    }
}

/// Runs a batch. Returns the summary; the caller picks the exit code.
pub(crate) async fn run(
    router: &Router,
    file: &Path,
    journal_path: &Path,
    concurrency: usize,
    report: Option<&Path>,
) -> Result<Summary, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let header = reader
        .headers()
        .map_err(|e| format!("cannot read the header of {}: {e}", file.display()))?;
    let found: Vec<&str> = header.iter().map(str::trim).collect();
    if found != HEADER {
        return Err(format!(
            "the header must be {:?}, found {:?}",
            HEADER.join(","),
            found.join(",")
        ));
    }
    let journal = Journal::open(journal_path)?;
    let mut report = match report {
        Some(p) => {
            Some(BufWriter::new(File::create(p).map_err(|e| {
                format!("cannot create {}: {e}", p.display())
            })?))
        }
        None => None,
    };
    let progress = indicatif::ProgressBar::new_spinner();
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows {per_sec} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    // Rows are read lazily and at most `concurrency` are in flight, so memory does not grow
    // with the file.
    let rows = reader.into_records().enumerate().map(|(i, rec)| {
        let idx = u64::try_from(i).unwrap_or(u64::MAX);
        rec.map_err(|e| format!("row {idx}: {e}"))
            .and_then(|r| row_key(idx, &r))
            .map(|k| (idx, k))
    });
    let journal = &journal;
    let mut results = futures_util::stream::iter(rows)
        .map(|row| async move {
            let (idx, key) = row?;
            process(router, journal, idx, key).await
        })
        .buffer_unordered(concurrency.max(1));
    let mut summary = Summary::default();
    let mut first_error = None;
    while let Some(result) = results.next().await {
        match result {
            Ok(line) => {
                summary.add(&line);
                if let Some(w) = report.as_mut() {
                    let text = serde_json::to_string(&line).map_err(|e| e.to_string())?;
                    writeln!(w, "{text}").map_err(|e| format!("cannot write the report: {e}"))?;
                }
                progress.inc(1);
            }
            Err(e) => {
                // A malformed row or a journal problem: stop taking new rows but let the ones in
                // flight finish (they are journaled), then report.
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
    }
    progress.finish_and_clear();
    if let Some(w) = report.as_mut() {
        w.flush()
            .map_err(|e| format!("cannot write the report: {e}"))?;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
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
}
