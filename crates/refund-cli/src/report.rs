//! `refund report --journal PATH`: every row's current state with its transitions, and totals
//! per provider, currency and outcome with exact amounts.
//!
//! A row's amount is the partial amount of its CSV line; for a full refund, the amount the
//! provider reported last (a follow or webhook transition, else the batch's answer). A full
//! refund the provider never reported an amount for has no amount: it is counted in its total's
//! `rows` and `rows_without_amount`, not in `amount`, so a total's `amount` is exact for the rows
//! with a known amount and a lower bound when `rows_without_amount` is not 0 (and its `currency`
//! is `null` when no row of the group has one).

use std::collections::BTreeMap;

use refund_facade::refund_core::{Currency, Error, Money};
use serde::Serialize;

use crate::tracking::{TrackedRow, TrackingStore, Transition};

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportFormat {
    Human,
    Json,
    Csv,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReportRow {
    /// The row number in the file (1 for the first line after the header).
    pub(crate) row: u64,
    pub(crate) provider: String,
    pub(crate) payment_id: String,
    pub(crate) reference: String,
    /// The batch's journal state: new, prepared, sending, done, refused, unknown, failed.
    pub(crate) state: String,
    /// succeeded, pending, declined, refused, unknown, failed; `null` while the batch has not
    /// finished the row.
    pub(crate) outcome: Option<String>,
    pub(crate) refund_id: Option<String>,
    pub(crate) amount: Option<String>,
    pub(crate) currency: Option<String>,
    /// Last change of the row, Unix milliseconds.
    pub(crate) updated_at_ms: i64,
    pub(crate) transitions: Vec<Transition>,
}

/// Totals of one (provider, currency, outcome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Total {
    pub(crate) provider: String,
    pub(crate) currency: Option<String>,
    pub(crate) outcome: Option<String>,
    pub(crate) rows: u64,
    /// The exact sum of the known amounts (`null` when none is known).
    pub(crate) amount: Option<String>,
    pub(crate) rows_without_amount: u64,
}

/// The whole report: `{"rows": [...], "totals": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Report {
    pub(crate) rows: Vec<ReportRow>,
    pub(crate) totals: Vec<Total>,
}

/// The amount of a row (see the module docs).
fn amount_of(row: &TrackedRow) -> Option<Money> {
    let money = |amount: &str, currency: &str| {
        Currency::from_code(currency)
            .and_then(|c| Money::parse(amount, c))
            .ok()
    };
    if !row.key.amount.is_empty() && !row.key.currency.is_empty() {
        return money(&row.key.amount, &row.key.currency);
    }
    let detail_amount = row.transitions.iter().rev().find_map(|t| {
        let v: serde_json::Value = serde_json::from_str(t.detail.as_deref()?).ok()?;
        money(v.get("amount")?.as_str()?, v.get("currency")?.as_str()?)
    });
    detail_amount.or_else(|| {
        let line: crate::batch::ReportLine = serde_json::from_str(row.result.as_deref()?).ok()?;
        money(line.amount.as_deref()?, line.currency.as_deref()?)
    })
}

/// Builds the report from the store.
///
/// # Errors
/// The journal could not be read, or a total overflowed.
pub(crate) async fn build<S: TrackingStore>(store: &S) -> Result<Report, Error> {
    let tracked = store.rows_for_report().await.map_err(Error::config)?;
    type Key = (String, Option<String>, Option<String>);
    let mut totals: BTreeMap<Key, (u64, Option<Money>, u64)> = BTreeMap::new();
    let mut rows = Vec::with_capacity(tracked.len());
    for row in tracked {
        let amount = amount_of(&row);
        let key = (
            row.key.provider.clone(),
            amount.map(|m| m.currency().code().to_owned()),
            row.outcome.clone(),
        );
        let total = totals.entry(key).or_insert((0, None, 0));
        total.0 += 1;
        match (amount, total.1) {
            (None, _) => total.2 += 1,
            (Some(m), None) => total.1 = Some(m),
            (Some(m), Some(sum)) => total.1 = Some(sum.checked_add(m)?),
        }
        rows.push(ReportRow {
            row: row.idx.saturating_add(1),
            provider: row.key.provider,
            payment_id: row.key.payment_id,
            reference: row.key.reference,
            state: row.state,
            outcome: row.outcome,
            refund_id: row.refund_id,
            amount: amount.map(|m| m.decimal_text()),
            currency: amount.map(|m| m.currency().code().to_owned()),
            updated_at_ms: row.updated_at_ms,
            transitions: row.transitions,
        });
    }
    let totals = totals
        .into_iter()
        .map(
            |((provider, currency, outcome), (rows, amount, without))| Total {
                provider,
                currency,
                outcome,
                rows,
                amount: amount.map(|m| m.decimal_text()),
                rows_without_amount: without,
            },
        )
        .collect();
    Ok(Report { rows, totals })
}

impl Report {
    /// One CSV line per row, after the header
    /// `row,provider,payment_id,reference,state,outcome,refund_id,amount,currency,updated_at_ms,transitions`
    /// (`transitions`: how many).
    pub(crate) fn csv(&self) -> Result<String, Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let encode = |e: csv::Error| Error::config(format!("cannot write CSV: {e}"));
        w.write_record([
            "row",
            "provider",
            "payment_id",
            "reference",
            "state",
            "outcome",
            "refund_id",
            "amount",
            "currency",
            "updated_at_ms",
            "transitions",
        ])
        .map_err(encode)?;
        for r in &self.rows {
            w.write_record([
                r.row.to_string().as_str(),
                &r.provider,
                &r.payment_id,
                &r.reference,
                &r.state,
                r.outcome.as_deref().unwrap_or(""),
                r.refund_id.as_deref().unwrap_or(""),
                r.amount.as_deref().unwrap_or(""),
                r.currency.as_deref().unwrap_or(""),
                &r.updated_at_ms.to_string(),
                &r.transitions.len().to_string(),
            ])
            .map_err(encode)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::config(format!("cannot write CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| Error::config(format!("cannot write CSV: {e}")))
    }

    /// A readable table of the totals.
    pub(crate) fn text(&self) -> String {
        let mut out = format!(
            "{:<10} {:<8} {:<10} {:>8} {:>16} {:>10}\n",
            "provider", "currency", "outcome", "rows", "amount", "no amount"
        );
        for t in &self.totals {
            out.push_str(&format!(
                "{:<10} {:<8} {:<10} {:>8} {:>16} {:>10}\n",
                t.provider,
                t.currency.as_deref().unwrap_or("-"),
                t.outcome.as_deref().unwrap_or("(none)"),
                t.rows,
                t.amount.as_deref().unwrap_or("-"),
                t.rows_without_amount
            ));
        }
        let pending = self
            .rows
            .iter()
            .filter(|r| r.outcome.as_deref() == Some("pending"))
            .count();
        out.push_str(&format!("{} row(s)", self.rows.len()));
        if pending > 0 {
            out.push_str(&format!(
                ", {pending} still pending (`refund follow --journal …` follows them)"
            ));
        }
        out
    }
}

/// `refund report --journal PATH`: prints the report; returns the exit code (0, or 4 when the
/// journal cannot be opened, 1 when it cannot be read).
pub(crate) async fn command(journal: &str, batch_id: Option<&str>, format: ReportFormat) -> u8 {
    let error_format = match format {
        ReportFormat::Json => crate::cli::OutputFormat::Json,
        _ => crate::cli::OutputFormat::Human,
    };
    let store = match crate::tracking::TrackingJournal::open(
        journal,
        batch_id,
        crate::tracking::BUSY_TIMEOUT,
    )
    .await
    {
        Ok(j) => j,
        Err(m) => return crate::output::print_error(error_format, &Error::config(m), None),
    };
    let report = match build(&store).await {
        Ok(r) => r,
        Err(e) => {
            crate::output::print_error(error_format, &e, None);
            return crate::output::EXIT_FAILURE;
        }
    };
    let text = match format {
        ReportFormat::Human => Ok(report.text()),
        ReportFormat::Json => serde_json::to_string(&report)
            .map_err(|e| Error::config(format!("cannot encode the report: {e}"))),
        ReportFormat::Csv => report.csv().map(|s| s.trim_end().to_owned()),
    };
    match text {
        Ok(t) => {
            crate::output::emit(&t);
            crate::output::EXIT_OK
        }
        Err(e) => {
            crate::output::print_error(error_format, &e, None);
            crate::output::EXIT_FAILURE
        }
    }
}
