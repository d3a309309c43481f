//! `refund follow` and `refund batch --follow`: poll every `pending` row of a journal with the
//! provider's lookups ([`Router::follow`]: exponential backoff with jitter, rate limits
//! honoured) until it is final or the `--follow-for` budget runs out, recording each change in
//! the journal (a `follow` transition with its timestamp).
//!
//! Following only looks refunds up: it never sends one. A lookup that does not find a refund
//! the provider accepted leaves it pending (never "failed"). It can be stopped at any moment
//! (even `kill -9`) and run again.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use refund_facade::refund_core::{Error, RefundQuery, RefundStatus, Snapshot};
use refund_facade::{FollowPolicy, Router};
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::output;
use crate::tracking::{Source, StatusUpdate, TrackedRow, TrackingStore, now_ms};

/// A row that could not be followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FollowError {
    /// The row number in the file (1 for the first line after the header).
    pub(crate) row: u64,
    pub(crate) kind: String,
    pub(crate) message: String,
}

/// What a follow did: `{"followed", "succeeded", "declined", "pending", "errors": [{"row",
/// "kind", "message"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct FollowSummary {
    /// Pending rows at the start.
    pub(crate) followed: u64,
    /// Rows found succeeded.
    pub(crate) succeeded: u64,
    /// Rows found declined (failed after pending).
    pub(crate) declined: u64,
    /// Rows still pending at the end (rows with an error included).
    pub(crate) pending: u64,
    /// Rows whose lookups failed with an error that polling cannot cure.
    pub(crate) errors: Vec<FollowError>,
}

impl FollowSummary {
    /// 1 when a row could not be followed, else 5 when a row is still pending, else 0.
    pub(crate) fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            output::EXIT_FAILURE
        } else if self.pending > 0 {
            output::EXIT_UNKNOWN
        } else {
            output::EXIT_OK
        }
    }

    /// Readable text.
    pub(crate) fn text(&self) -> String {
        let mut out = format!(
            "followed {} pending row(s): {} succeeded, {} declined, {} still pending",
            self.followed, self.succeeded, self.declined, self.pending
        );
        for e in &self.errors {
            out.push_str(&format!(
                "\n  row {}: error ({}): {}",
                e.row, e.kind, e.message
            ));
        }
        if self.pending > 0 {
            out.push_str(
                "\nrows still pending: run `refund follow --journal …` again later, or see `refund report`",
            );
        }
        out
    }

    /// Prints the summary in `format`.
    pub(crate) fn print(&self, format: OutputFormat) {
        match format {
            OutputFormat::Human => output::emit(&self.text()),
            OutputFormat::Json => output::emit(&serde_json::to_string(self).unwrap_or_default()),
        }
    }
}

/// What one row's follow ended as.
enum RowEnd {
    Final(RefundStatus),
    Pending,
    Error(FollowError),
}

/// Follows every pending row of `store` for at most `budget` in all, `concurrency` rows at once.
///
/// # Errors
/// The journal could not be read or written.
pub(crate) async fn follow_rows<S: TrackingStore>(
    router: &Router,
    store: &S,
    budget: Duration,
    concurrency: usize,
) -> Result<FollowSummary, String> {
    let deadline = Instant::now() + budget;
    let rows = store.pending_rows().await?;
    let mut summary = FollowSummary {
        followed: u64::try_from(rows.len()).unwrap_or(u64::MAX),
        ..FollowSummary::default()
    };
    let mut ends = futures_util::stream::iter(rows)
        .map(|row| follow_row(router, store, row, deadline))
        .buffer_unordered(concurrency.max(1));
    let mut failure = None;
    while let Some(end) = ends.next().await {
        match end {
            Ok(RowEnd::Final(RefundStatus::Succeeded)) => summary.succeeded += 1,
            Ok(RowEnd::Final(_)) => summary.declined += 1,
            Ok(RowEnd::Pending) => summary.pending += 1,
            Ok(RowEnd::Error(e)) => {
                summary.pending += 1;
                summary.errors.push(e);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    summary.errors.sort_by_key(|e| e.row);
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

async fn follow_row<S: TrackingStore>(
    router: &Router,
    store: &S,
    row: TrackedRow,
    deadline: Instant,
) -> Result<RowEnd, String> {
    let number = row.idx.saturating_add(1);
    let error = |e: &Error| {
        RowEnd::Error(FollowError {
            row: number,
            kind: e.kind().as_str().to_owned(),
            message: e.to_string(),
        })
    };
    let (provider, request) = match crate::batch::request_of(&row.key) {
        Ok(r) => r,
        Err(e) => return Ok(error(&e)),
    };
    if router.provider(&provider).is_err() {
        return Ok(error(&crate::not_configured(&provider)));
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Ok(RowEnd::Pending);
    }
    let query =
        RefundQuery::for_request(&request).with_snapshot(row.snapshot.clone().map(Snapshot::new));
    let policy = FollowPolicy::default().with_budget(remaining);
    let followed = match router.follow(&provider, &query, &policy, |_| {}).await {
        Ok(f) => f,
        Err(e) => return Ok(error(&e)),
    };
    let Some(refund) = followed
        .refund
        .filter(|r| r.status != RefundStatus::Pending)
    else {
        return Ok(RowEnd::Pending);
    };
    let detail = serde_json::json!({
        "amount": refund.amount.map(|m| m.decimal_text()),
        "currency": refund.amount.map(|m| m.currency().code().to_owned()),
        "raw_status": refund.raw_status,
        "lookups": followed.lookups,
    });
    store
        .apply_status(
            row.idx,
            &StatusUpdate {
                to: refund.status.as_str(),
                source: Source::Follow,
                refund_id: refund.refund_id.as_ref().map(ToString::to_string),
                detail: Some(detail.to_string()),
                at_ms: now_ms(),
            },
        )
        .await?;
    Ok(RowEnd::Final(refund.status))
}

/// `refund follow --journal PATH`: opens the journal (shared with webhook listeners), follows
/// its pending rows and prints the summary; returns the exit code.
pub(crate) async fn command(
    router: &Router,
    journal: &str,
    batch_id: Option<&str>,
    budget: Duration,
    concurrency: usize,
    format: OutputFormat,
) -> u8 {
    let store = match crate::tracking::TrackingJournal::open(
        journal,
        batch_id,
        crate::tracking::BUSY_TIMEOUT,
    )
    .await
    {
        Ok(j) => j,
        Err(m) => return output::print_error(format, &Error::config(m), None),
    };
    match follow_rows(router, &store, budget, concurrency).await {
        Ok(summary) => {
            summary.print(format);
            summary.exit_code()
        }
        Err(m) => {
            output::print_error(format, &Error::config(m), None);
            output::EXIT_FAILURE
        }
    }
}
