//! The command-line interface (a contract: scripts call it).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Issue and track refunds on Plexy, PayNext and Payabli.
///
/// Configuration comes from the environment: PLEXY_API_KEY, PLEXY_BASE_URL, PAYNEXT_API_KEY,
/// PAYNEXT_BASE_URL, PAYABLI_API_TOKEN, PAYABLI_BASE_URL (base URLs default to production; plain
/// http is accepted only for loopback hosts).
///
/// Exit codes: 0 succeeded or pending; 3 declined; 4 refused without applying anything (invalid
/// input, unsupported, auth, not found, config); 5 outcome unknown (may have been applied: run
/// `refund status` later); 1 any other failure; 2 usage errors. `refund batch --help`,
/// `refund follow --help` and `refund report --help` tell the exit codes of those commands.
#[derive(Debug, Parser)]
#[command(name = "refund", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Output format (`csv` is for `refund report` only).
    #[arg(long, global = true, value_enum, default_value_t = OutputArg::Human)]
    pub(crate) output: OutputArg,
    /// Per-request timeout in seconds (connect timeout stays 10 s).
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<std::time::Duration>,
    /// More logging on stderr (-v each attempt and lookup, -vv debug). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Readable text.
    Human,
    /// One JSON object (per row for batch reports).
    Json,
}

/// The values of `--output`: the output formats, plus `csv` for `refund report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputArg {
    /// Readable text.
    Human,
    /// One JSON object (per row for batch reports).
    Json,
    /// CSV, header and one line per row (`refund report` only).
    Csv,
}

/// Providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProviderArg {
    /// Plexy.
    Plexy,
    /// PayNext.
    Paynext,
    /// Payabli.
    Payabli,
}

impl ProviderArg {
    pub(crate) fn id(self) -> refund_facade::refund_core::ProviderId {
        use refund_facade::refund_core::ProviderId;
        match self {
            ProviderArg::Plexy => ProviderId::PLEXY,
            ProviderArg::Paynext => ProviderId::PAYNEXT,
            ProviderArg::Payabli => ProviderId::PAYABLI,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start the embedded sandbox and run a short tour of the SDK on all three providers.
    Demo,
    /// Run the three provider emulators until interrupted and print their URLs, keys and seeded
    /// payments.
    Sandbox {
        /// Address of the first emulator (the next two use the following ports); default: an
        /// ephemeral port each on 127.0.0.1.
        #[arg(long, value_name = "127.0.0.1:PORT")]
        addr: Option<SocketAddr>,
    },
    /// One logical refund (full unless --amount is given).
    Create(CreateArgs),
    /// What the provider says about a refund (reconciles an outcome-unknown one).
    Status(StatusArgs),
    /// Refund every row of a CSV file, resumably.
    ///
    /// The file has the header `provider,payment_id,amount,currency,reference,reason`; `amount`
    /// and `currency` are empty for a full refund, and an empty `reference` is derived from the
    /// row's content and position (a rerun of the same file derives the same references).
    /// Rows are read and reported one at a time, at most --concurrency at once.
    ///
    /// Each row's state is committed to the journal before and after every request. Run the same
    /// command again with the same journal after any interruption (even kill -9): final rows are
    /// not touched, rows that may have been sent are looked up before anything is re-sent, and
    /// the rest are refunded. Never start over with a new journal.
    ///
    /// With a PostgreSQL journal, start the same command (same file, same journal URL) on as
    /// many machines as you like: each worker inserts the file's rows if missing, claims rows in
    /// small groups under a lease that it renews while it works, and at the end reports the
    /// whole batch. The rows of a worker that dies (even kill -9) are taken over by another once
    /// their lease expires (30 s), and rows that may have been sent are looked up first, never
    /// sent again blindly.
    ///
    /// Row outcomes: succeeded, pending, declined; refused (nothing applied, and running again
    /// will not help: a malformed row, an invalid amount, currency or reference, a reference
    /// already used by an earlier row, unsupported, payment not found); failed (nothing applied,
    /// a rerun tries again: missing or wrong API key, rate limit, network or provider failure);
    /// unknown (may have been applied: a rerun reconciles it).
    ///
    /// Exit codes: 0 every row ended succeeded, pending, declined or refused; 5 a row's outcome
    /// is unknown (run the same command again later); 1 a row failed, or the batch stopped
    /// midway (journal of another file, journal or report not writable); 4 the batch did not
    /// start (unreadable file, wrong header, journal in use or unreachable, a PostgreSQL batch
    /// of another file, invalid configuration); 2 usage errors.
    Batch(BatchArgs),
    /// Follow the pending rows of a batch journal until they are final.
    ///
    /// Polls each row whose outcome is `pending` with the provider's lookups (exponential
    /// backoff with jitter, rate limits honoured), at most --concurrency rows at once, until the
    /// provider reports it succeeded or declined, or --follow-for runs out. Each change is
    /// recorded in the journal with a timestamp (see `refund report`). Nothing is ever sent; a
    /// lookup that cannot find a refund the provider accepted leaves it pending. Safe to stop at
    /// any moment (even kill -9) and run again. Runs beside `refund webhooks listen --journal`,
    /// not while a `refund batch` holds the journal.
    ///
    /// Exit codes: 0 every followed row is final; 5 some rows are still pending after the
    /// budget (run it again later); 1 a row could not be followed (missing key, auth, payment
    /// not found) or the journal could not be written; 4 the journal cannot be opened (missing,
    /// or in use by a batch); 2 usage errors.
    Follow(FollowArgs),
    /// The current state of every row of a batch journal, with totals.
    ///
    /// `--output json`: {"rows": [{"row", "provider", "payment_id", "reference", "state",
    /// "outcome", "refund_id", "amount", "currency", "updated_at_ms", "transitions": [{"at_ms",
    /// "from", "to", "source", "refund_id", "detail"}]}], "totals": [{"provider", "currency",
    /// "outcome", "rows", "amount", "rows_without_amount"}]}. `--output csv`: the header
    /// row,provider,payment_id,reference,state,outcome,refund_id,amount,currency,updated_at_ms,transitions
    /// and one line per row. Text: the totals.
    ///
    /// Amounts are exact decimal text. A full refund's amount is the one the provider reported;
    /// a row without a known amount is counted in its total's `rows_without_amount`, not in its
    /// `amount`.
    ///
    /// Exit codes: 0 printed; 4 the journal cannot be opened; 1 it cannot be read.
    Report(ReportArgs),
    /// Webhooks: receive and verify a provider's refund notifications.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCommand {
    /// Accept webhook deliveries (POST on any path) until interrupted; print one JSON object per
    /// verified delivery on stdout.
    ///
    /// Answers 200 for a verified delivery (also for duplicates and ignored events), 401 when
    /// authentication fails (wrong or missing token or signature, stale timestamp), 400 for a body
    /// that cannot be parsed. Secrets come from PLEXY_WEBHOOK_TOKEN, PAYNEXT_WEBHOOK_SECRET,
    /// PAYABLI_WEBHOOK_HEADER + PAYABLI_WEBHOOK_SECRET, or --secret / --header; they are never
    /// printed. With PLEXY_WEBHOOK_SIGNATURE_KEY (the private key) set and PLEXY_WEBHOOK_TOKEN
    /// unset, Plexy's legacy x-signature callbacks are verified instead. The bound address is
    /// printed on stderr ("listening on 127.0.0.1:PORT").
    Listen(ListenArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ListenArgs {
    /// The provider whose deliveries are verified.
    #[arg(long, value_enum)]
    pub(crate) provider: ProviderArg,
    /// Address to listen on (loopback; port 0 picks a free one).
    #[arg(long, value_name = "127.0.0.1:PORT")]
    pub(crate) addr: SocketAddr,
    /// The webhook secret (Plexy token, PayNext `whsec_…` secret, Payabli header value);
    /// default: the provider's environment variable.
    #[arg(long, value_name = "SECRET")]
    pub(crate) secret: Option<String>,
    /// Payabli only: the name of the header carrying the secret; default PAYABLI_WEBHOOK_HEADER.
    #[arg(long, value_name = "NAME")]
    pub(crate) header: Option<String>,
    /// Apply each verified refund event to this batch journal: the row with the event's
    /// provider, payment and reference (or refund id) gets the event's status, unless its
    /// outcome is already final (duplicates and late or out-of-order events never move a final
    /// row back). Each printed object then has a "journal" member: {"row", "applied",
    /// "outcome"}. While a `refund batch` holds the journal, deliveries are answered 503 so that
    /// the provider delivers them again later.
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) journal: Option<String>,
    /// With a PostgreSQL journal: the batch (default: the only batch the database holds).
    #[arg(long, value_name = "NAME")]
    pub(crate) batch_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct FollowArgs {
    /// The batch journal: a SQLite file, or a postgres:// URL.
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) journal: String,
    /// With a PostgreSQL journal: the batch (default: the only batch the database holds).
    #[arg(long, value_name = "NAME")]
    pub(crate) batch_id: Option<String>,
    /// How long to follow, in all: 90s, 15m, 2h or plain seconds.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub(crate) follow_for: std::time::Duration,
    /// Rows followed at once.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) concurrency: u16,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// The batch journal: a SQLite file, or a postgres:// URL.
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) journal: String,
    /// With a PostgreSQL journal: the batch (default: the only batch the database holds).
    #[arg(long, value_name = "NAME")]
    pub(crate) batch_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// The provider.
    #[arg(long, value_enum)]
    pub(crate) provider: ProviderArg,
    /// The provider's payment id.
    #[arg(long, value_name = "ID")]
    pub(crate) payment: String,
    /// Amount of a partial refund, as decimal text (requires --currency).
    #[arg(long, value_name = "DECIMAL", requires = "currency")]
    pub(crate) amount: Option<String>,
    /// ISO 4217 currency of --amount.
    #[arg(long, value_name = "ISO", requires = "amount")]
    pub(crate) currency: Option<String>,
    /// Your reference for this refund (1-64 of A-Z a-z 0-9 - _ . :); a random one is generated
    /// and printed when omitted.
    #[arg(long, value_name = "REF")]
    pub(crate) reference: Option<String>,
    /// A reason sent to the provider where it accepts one.
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The provider.
    #[arg(long, value_enum)]
    pub(crate) provider: ProviderArg,
    /// The provider's payment id.
    #[arg(long, value_name = "ID")]
    pub(crate) payment: String,
    /// The refund's reference.
    #[arg(long, value_name = "REF")]
    pub(crate) reference: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BatchArgs {
    /// CSV file with header provider,payment_id,amount,currency,reference,reason.
    #[arg(value_name = "FILE.csv")]
    pub(crate) file: PathBuf,
    /// The journal: a SQLite file (created if missing; one process at a time), or a PostgreSQL
    /// database `postgres://user:password@host:port/dbname?sslmode=disable` shared by any number
    /// of `refund batch` workers running the same file (tables created if missing). Rerunning
    /// with the same journal never refunds a row twice.
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) journal: String,
    /// The batch's name in a PostgreSQL journal (default: the file's name): every worker of one
    /// batch uses the same; another file needs another name.
    #[arg(long, value_name = "NAME")]
    pub(crate) batch_id: Option<String>,
    /// How long a PostgreSQL worker's claim on a row lasts without renewal, in milliseconds
    /// (renewed every third of it; a killed worker's rows wait this long).
    #[arg(long, value_name = "MS", default_value_t = 30_000, hide = true,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub(crate) lease_ms: u64,
    /// Refunds in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) concurrency: u16,
    /// Write one JSON object per row to this file (replaced on each run, in completion order):
    /// {"row", "provider", "payment_id", "reference", "outcome", "refund_id", "amount",
    /// "currency", "provider_code", "message", "error": null or {"kind", "message"}}.
    #[arg(long, value_name = "PATH")]
    pub(crate) report: Option<PathBuf>,
    /// After the batch, follow its pending rows until they are final (as `refund follow`; the
    /// exit code is then the batch's when it is not 0, else the follow's, and the summary gets
    /// a "follow" member with --output json).
    #[arg(long)]
    pub(crate) follow: bool,
    /// With --follow: how long to follow, in all: 90s, 15m, 2h or plain seconds.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration, requires = "follow")]
    pub(crate) follow_for: std::time::Duration,
}

fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("not a number of seconds: {s:?}"))?;
    if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
        return Err("timeout must be between 0 and 3600 seconds".into());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// A duration: `90s`, `15m`, `2h` or plain seconds (`45`), more than 0 and at most 7 days.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (write 90s, 15m, 2h or seconds)"))?;
    let seconds = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(|| format!("not a duration: {s:?} (write 90s, 15m, 2h or seconds)"))?;
    if seconds == 0 || seconds > 7 * 24 * 3600 {
        return Err("the duration must be between 1 second and 7 days".into());
    }
    Ok(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let secs = std::time::Duration::from_secs;
        assert_eq!(parse_duration("90s"), Ok(secs(90)));
        assert_eq!(parse_duration("15m"), Ok(secs(900)));
        assert_eq!(parse_duration("2h"), Ok(secs(7200)));
        assert_eq!(parse_duration("45"), Ok(secs(45)));
        for bad in ["", "0", "1.5m", "10d", "m", "-5s", "5 s", "169h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
