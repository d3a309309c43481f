//! Following refunds to their final state, the built binary against the sandbox:
//! `refund batch --follow`, `refund follow` (budget, kill -9 and rerun, 429 with `Retry-After`),
//! `refund webhooks listen --journal` (late duplicates and out-of-order events) and `refund
//! report` (exact totals), each checked against the sandbox's truth.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{refund, run};
use refund_facade::refund_core::{Currency, Money};
use refund_sandbox::payabli::PayabliConfig;
use refund_sandbox::paynext::{self, PayNextConfig, PayNextPayment, PayNextRefundBehaviour};
use refund_sandbox::plexy::{PlexyConfig, PlexyPayment, PlexyRefundBehaviour};
use refund_sandbox::{Fault, FaultKind, Operation, RetrySchedule, Sandbox, WebhookConfig};
use serde_json::Value;

const HEADER: &str = "provider,payment_id,amount,currency,reference,reason\n";

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

/// A sandbox whose PayNext refunds and Plexy `09` refunds stay pending for `delay`.
async fn sandbox(delay: Duration) -> Sandbox {
    Sandbox::start_with(
        PlexyConfig::default().pending_delay(delay),
        PayNextConfig::default().refund_delay(delay),
        PayabliConfig::default(),
    )
    .await
    .unwrap()
}

struct Files {
    _dir: tempfile::TempDir,
    csv: PathBuf,
    journal: PathBuf,
}

/// The batch file of these tests: PayNext full refunds of 100.00, 20.50 and 0.05 USD, one PayNext
/// refund that fails after pending (30.00 USD), and two Plexy partial refunds answered `09`
/// (7.25 and 0.10 USD). Every refund is pending when the batch gets its answer.
fn incident(s: &Sandbox) -> Files {
    let mut csv = HEADER.to_owned();
    for (id, amount) in [("pn-1", "100.00"), ("pn-2", "20.50"), ("pn-3", "0.05")] {
        s.paynext()
            .add_payment(PayNextPayment::new(id, usd(amount)))
            .unwrap();
        csv.push_str(&format!("paynext,{id},,,,\n"));
    }
    s.paynext()
        .add_payment(
            PayNextPayment::new("pn-fail", usd("30.00"))
                .behaviour(PayNextRefundBehaviour::FailLater),
        )
        .unwrap();
    csv.push_str("paynext,pn-fail,,,rf-pn-fail,\n");
    for (id, amount) in [("pl-1", "7.25"), ("pl-2", "0.10")] {
        s.plexy()
            .add_payment(PlexyPayment::new(id, usd("50.00")).behaviour(PlexyRefundBehaviour::Wait))
            .unwrap();
        csv.push_str(&format!("plexy,{id},{amount},USD,rf-{id},\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let f = Files {
        csv: dir.path().join("incident.csv"),
        journal: dir.path().join("incident.journal"),
        _dir: dir,
    };
    std::fs::write(&f.csv, csv).unwrap();
    f
}

const ROWS: u64 = 6;

fn cmd(s: &Sandbox, args: &[&str], journal: &Path) -> Command {
    let mut c = refund(Some(s));
    c.args(args).arg("--journal").arg(journal);
    c
}

async fn report(s: &Sandbox, f: &Files) -> Value {
    let out = run(cmd(s, &["report", "--output", "json"], &f.journal)).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
}

/// The report's rows by reference.
fn rows_by_reference(report: &Value) -> std::collections::BTreeMap<String, Value> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["reference"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// The (from, to, source) of a row's transitions.
fn moves(row: &Value) -> Vec<(Value, String, String)> {
    let mut last_at = 0;
    row["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let at = t["at_ms"].as_i64().unwrap();
            assert!(at >= last_at && at > 1_600_000_000_000, "{row}");
            last_at = at;
            (
                t["from"].clone(),
                t["to"].as_str().unwrap().to_owned(),
                t["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn total<'a>(report: &'a Value, provider: &str, outcome: &str) -> &'a Value {
    report["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["provider"] == provider && t["outcome"] == outcome)
        .unwrap_or_else(|| panic!("no total for {provider} {outcome}: {report}"))
}

/// The sandbox's truth: each payment of the incident refunded once, by one refund request each.
fn assert_truth(s: &Sandbox) {
    for id in ["pn-1", "pn-2", "pn-3"] {
        assert_eq!(s.paynext().refunds_of(id).len(), 1, "{id}");
        assert_eq!(s.paynext().applied_refunds(id), 1, "{id}");
    }
    assert_eq!(s.paynext().refunds_of("pn-fail").len(), 1);
    for reference in ["rf-pl-1", "rf-pl-2"] {
        assert_eq!(s.plexy().refunds_with_reference(reference).len(), 1);
        assert_eq!(s.plexy().applied_refunds_with_reference(reference), 1);
    }
    assert_eq!(common::refund_request_count(s), ROWS as usize);
}

fn lookups(s: &Sandbox) -> usize {
    [s.plexy().requests(), s.paynext().requests()]
        .iter()
        .flatten()
        .filter(|r| r.operation == Some(Operation::Lookup))
        .count()
}

/// Rows with this outcome, read from the journal while other processes may use it.
fn journal_outcomes(path: &Path, outcome: &str) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM rows WHERE outcome = ?1",
        [outcome],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_follow_settles_every_pending_row_and_the_report_adds_up() {
    let s = sandbox(Duration::from_millis(300)).await;
    let f = incident(&s);
    let out = run(cmd(
        &s,
        &[
            "batch",
            f.csv.to_str().unwrap(),
            "--follow",
            "--follow-for",
            "60s",
            "--output",
            "json",
        ],
        &f.journal,
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let summary = out.json();
    // The batch's own answers: everything pending.
    assert_eq!(summary["outcomes"]["pending"], ROWS, "{summary}");
    assert_eq!(
        summary["follow"],
        serde_json::json!({"followed": ROWS, "succeeded": 5, "declined": 1, "pending": 0, "errors": []})
    );
    assert_truth(&s);

    let report = report(&s, &f).await;
    let rows = rows_by_reference(&report);
    assert_eq!(rows.len(), ROWS as usize);
    for (reference, row) in &rows {
        let end = if reference == "rf-pn-fail" {
            "declined"
        } else {
            "succeeded"
        };
        assert_eq!(row["outcome"], end, "{row}");
        assert_eq!(row["state"], "done", "{row}");
        assert_eq!(
            row["updated_at_ms"], row["transitions"][1]["at_ms"],
            "{row}"
        );
        assert_eq!(
            moves(row),
            vec![
                (Value::Null, "pending".to_owned(), "batch".to_owned()),
                (Value::from("pending"), end.to_owned(), "follow".to_owned()),
            ],
            "{row}"
        );
    }
    // Exact totals: PayNext reports the refunded amounts, Plexy rows carry theirs.
    let pn = total(&report, "paynext", "succeeded");
    assert_eq!(
        (
            &pn["rows"],
            &pn["amount"],
            &pn["currency"],
            &pn["rows_without_amount"]
        ),
        (
            &Value::from(3),
            &Value::from("120.55"),
            &Value::from("USD"),
            &Value::from(0)
        ),
        "{report}"
    );
    let pl = total(&report, "plexy", "succeeded");
    assert_eq!(
        (&pl["rows"], &pl["amount"], &pl["currency"]),
        (&Value::from(2), &Value::from("7.35"), &Value::from("USD")),
        "{report}"
    );
    assert_eq!(total(&report, "paynext", "declined")["rows"], 1);
    assert_eq!(report["totals"].as_array().unwrap().len(), 3, "{report}");

    // CSV: a header and one line per row.
    let out = run(cmd(&s, &["report", "--output", "csv"], &f.journal)).await;
    assert_eq!(out.code, 0, "{out:?}");
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
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
            "transitions"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), ROWS as usize);
    let pl1 = records.iter().find(|r| &r[3] == "rf-pl-1").unwrap();
    assert_eq!(
        (&pl1[5], &pl1[7], &pl1[8], &pl1[10]),
        ("succeeded", "7.25", "USD", "2")
    );

    // Human text: the totals.
    let out = run(cmd(&s, &["report"], &f.journal)).await;
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("120.55"), "{}", out.stdout);

    // Following again finds nothing to do; csv is for reports only.
    let out = run(cmd(&s, &["follow", "--output", "json"], &f.journal)).await;
    assert_eq!((out.code, out.json()["followed"].as_u64()), (0, Some(0)));
    let out = run(cmd(&s, &["follow", "--output", "csv"], &f.journal)).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("only for `refund report`"), "{out:?}");
    assert_truth(&s);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_killed_and_rerun_finishes_and_never_refunds_again() {
    let s = sandbox(Duration::from_secs(3600)).await;
    let f = incident(&s);
    let out = run(cmd(
        &s,
        &["batch", f.csv.to_str().unwrap(), "--output", "json"],
        &f.journal,
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["outcomes"]["pending"], ROWS);

    // The budget runs out with every row pending: exit 5, nothing recorded.
    let out = run(cmd(
        &s,
        &["follow", "--follow-for", "2s", "--output", "json"],
        &f.journal,
    ))
    .await;
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(
        out.json(),
        serde_json::json!({"followed": ROWS, "succeeded": 0, "declined": 0, "pending": ROWS, "errors": []})
    );
    assert_eq!(journal_outcomes(&f.journal, "pending"), ROWS);

    // A long follow: the Plexy refunds settle and are recorded, then it is killed while the
    // PayNext ones are still being polled.
    let before = lookups(&s);
    let mut child: Child = cmd(&s, &["follow", "--follow-for", "10m"], &f.journal)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until_async("the first lookups", Duration::from_secs(30), || {
        lookups(&s) >= before + ROWS as usize
    })
    .await;
    s.plexy().resolve_pending();
    common::wait_until_async(
        "the Plexy rows are recorded",
        Duration::from_secs(60),
        || journal_outcomes(&f.journal, "succeeded") == 2,
    )
    .await;
    child.kill().unwrap(); // SIGKILL
    assert_eq!(child.wait().unwrap().code(), None, "killed by a signal");
    assert_eq!(journal_outcomes(&f.journal, "pending"), 4);
    assert_eq!(common::refund_request_count(&s), ROWS as usize);

    // Rerun after the PayNext refunds settled: it follows the 4 rows left and finishes.
    s.paynext().resolve_pending();
    let out = run(cmd(
        &s,
        &["follow", "--follow-for", "60s", "--output", "json"],
        &f.journal,
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json(),
        serde_json::json!({"followed": 4, "succeeded": 3, "declined": 1, "pending": 0, "errors": []})
    );
    let report = report(&s, &f).await;
    for row in report["rows"].as_array().unwrap() {
        assert_eq!(
            moves(row).len(),
            2,
            "one batch and one follow transition: {row}"
        );
        assert_eq!(moves(row)[1].2, "follow", "{row}");
    }
    // The truth: one refund per reference and per payment, no refund request since the batch.
    assert_truth(&s);
    s.shutdown().await;
}

struct Listening {
    child: Child,
    url: String,
    stdout: mpsc::Receiver<String>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `refund webhooks listen --provider paynext --journal …`, ready when it printed its address.
fn listen(journal: &Path) -> Listening {
    let mut cmd = refund(None);
    cmd.args([
        "webhooks",
        "listen",
        "--provider",
        "paynext",
        "--addr",
        "127.0.0.1:0",
    ])
    .arg("--journal")
    .arg(journal)
    .env("PAYNEXT_WEBHOOK_SECRET", paynext::DEFAULT_WEBHOOK_SECRET);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let first = stderr
        .recv_timeout(Duration::from_secs(30))
        .expect("the listener starts");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected: {first}"))
        .to_owned();
    Listening {
        child,
        url: format!("http://{addr}/webhooks/paynext"),
        stdout,
    }
}

#[track_caller]
fn next_json(l: &Listening) -> Value {
    let line = l.stdout.recv_timeout(Duration::from_secs(30)).unwrap();
    serde_json::from_str(&line).unwrap()
}

async fn settled(s: &Sandbox) {
    tokio::time::timeout(Duration::from_secs(30), s.paynext().webhooks_settled())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_settle_rows_and_late_duplicates_or_pending_events_never_move_them_back() {
    let s = sandbox(Duration::from_secs(3600)).await;
    let f = incident(&s);
    let out = run(cmd(&s, &["batch", f.csv.to_str().unwrap()], &f.journal)).await;
    assert_eq!(out.code, 0, "{out:?}");
    // The `refund.created` (PENDING) events, not sent yet: no endpoint was registered.
    let created: Vec<_> = s.paynext().webhook_events();
    assert_eq!(created.len(), 4);
    assert!(created.iter().all(|e| e.event_type == "refund.created"));

    let l = listen(&f.journal);
    s.paynext()
        .set_webhook(
            WebhookConfig::new(l.url.clone())
                .retry(RetrySchedule::from_delays([Duration::ZERO]))
                .timeout(Duration::from_secs(30)),
        )
        .unwrap();
    // The first settled event also arrives twice.
    s.paynext().duplicate_next_webhooks(1);
    s.paynext().resolve_pending();
    settled(&s).await;
    // Concurrent deliveries, each writing the journal: none is turned away.
    let deliveries = s.paynext().webhook_deliveries();
    assert_eq!(deliveries.len(), 5);
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );
    let mut applied = Vec::new();
    for _ in 0..5 {
        let v = next_json(&l);
        assert_eq!(v["event_type"], "refund.updated", "{v}");
        assert_eq!(
            v["journal"]["outcome"],
            if v["payment_id"] == "pn-fail" {
                "declined"
            } else {
                "succeeded"
            },
            "{v}"
        );
        assert_eq!(v["journal"]["applied"], v["duplicate"] == false, "{v}");
        applied.push(v["journal"]["row"].as_u64().unwrap());
    }
    applied.sort_unstable();
    applied.dedup();
    assert_eq!(applied, vec![1, 2, 3, 4]);

    // The PENDING events now, late and out of order: printed, matched, not applied.
    for event in &created {
        s.paynext().redeliver_webhook(&event.id).unwrap();
    }
    settled(&s).await;
    for _ in 0..4 {
        let v = next_json(&l);
        assert_eq!(v["status"], "pending", "{v}");
        assert_eq!(v["journal"]["applied"], false, "{v}");
        assert!(
            ["succeeded", "declined"].contains(&v["journal"]["outcome"].as_str().unwrap()),
            "{v}"
        );
    }

    let report = report(&s, &f).await;
    let rows = rows_by_reference(&report);
    for (reference, row) in &rows {
        if row["provider"] != "paynext" {
            continue;
        }
        let end = if reference == "rf-pn-fail" {
            "declined"
        } else {
            "succeeded"
        };
        assert_eq!(row["outcome"], end, "{row}");
        assert_eq!(
            moves(row),
            vec![
                (Value::Null, "pending".to_owned(), "batch".to_owned()),
                (Value::from("pending"), end.to_owned(), "webhook".to_owned()),
            ],
            "{row}"
        );
    }
    assert_eq!(total(&report, "paynext", "succeeded")["amount"], "120.55");

    // A journal held by a batch: the delivery is answered 503, then applied on redelivery.
    let plexy_rows = rows.values().filter(|r| r["outcome"] == "pending").count();
    assert_eq!(plexy_rows, 2, "the Plexy rows are still pending");
    let locker = rusqlite::Connection::open(&f.journal).unwrap();
    locker
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN IMMEDIATE;")
        .unwrap();
    let last = s.paynext().redeliver_last_webhook().unwrap();
    settled(&s).await;
    let deliveries = s.paynext().webhook_deliveries();
    let attempt = deliveries
        .iter()
        .rev()
        .find(|d| d.delivery_id == last)
        .unwrap();
    assert_eq!(attempt.status, Some(503), "{attempt:?}");
    drop(locker);
    s.paynext().redeliver_last_webhook().unwrap();
    settled(&s).await;
    let v = next_json(&l);
    assert_eq!(v["journal"]["applied"], false, "already final: {v}");
    assert!(v["journal"]["row"].is_u64(), "{v}");

    assert_truth(&s);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_follow_waits_out_retry_after_and_finishes() {
    let s = sandbox(Duration::from_secs(3600)).await;
    let f = incident(&s);
    let out = run(cmd(&s, &["batch", f.csv.to_str().unwrap()], &f.journal)).await;
    assert_eq!(out.code, 0, "{out:?}");
    s.paynext().resolve_pending();
    s.plexy().resolve_pending();
    // pn-1's next four lookups are answered 429 with `Retry-After: 1`: more than the router's
    // lookup retries (3 attempts), so the follow loop itself must wait and poll again.
    s.paynext()
        .inject(
            Fault::new(FaultKind::TooManyRequests {
                retry_after: Duration::from_secs(1),
            })
            .for_payment("pn-1")
            .only(Operation::Lookup)
            .times(4),
        )
        .unwrap();
    let out = run(cmd(
        &s,
        &["follow", "--follow-for", "60s", "--output", "json"],
        &f.journal,
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json(),
        serde_json::json!({"followed": ROWS, "succeeded": 5, "declined": 1, "pending": 0, "errors": []})
    );
    let lookups: Vec<_> = s
        .paynext()
        .requests()
        .into_iter()
        .filter(|r| {
            r.operation == Some(Operation::Lookup) && r.payment_id.as_deref() == Some("pn-1")
        })
        .collect();
    let limited = lookups.iter().filter(|r| r.status == Some(429)).count();
    assert_eq!((limited, lookups.len()), (4, 5), "{lookups:?}");
    for pair in lookups.windows(2) {
        let gap = pair[1]
            .received_at
            .duration_since(pair[0].received_at)
            .unwrap();
        assert!(
            gap >= Duration::from_secs(1),
            "Retry-After honoured: {gap:?}"
        );
    }
    assert_truth(&s);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_killed_while_following_and_rerun_sends_nothing_and_finishes() {
    let s = sandbox(Duration::from_secs(3600)).await;
    let f = incident(&s);
    let batch_follow = |budget: &str| {
        cmd(
            &s,
            &[
                "batch",
                f.csv.to_str().unwrap(),
                "--follow",
                "--follow-for",
                budget,
                "--output",
                "json",
            ],
            &f.journal,
        )
    };
    let mut child = batch_follow("10m")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Every row sent, and the follow's first lookups made: it is polling.
    common::wait_until_async("the follow polls", Duration::from_secs(30), || {
        lookups(&s) >= ROWS as usize
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    assert_eq!(child.wait().unwrap().code(), None, "killed by a signal");
    assert_eq!(common::refund_request_count(&s), ROWS as usize);
    assert_eq!(journal_outcomes(&f.journal, "pending"), ROWS);

    s.paynext().resolve_pending();
    s.plexy().resolve_pending();
    let out = run(batch_follow("60s")).await;
    assert_eq!(out.code, 0, "{out:?}");
    let summary = out.json();
    // The batch part reports the stored answers and sends nothing; the follow settles the rows.
    assert_eq!(summary["outcomes"]["pending"], ROWS, "{summary}");
    assert_eq!(
        summary["follow"],
        serde_json::json!({"followed": ROWS, "succeeded": 5, "declined": 1, "pending": 0, "errors": []})
    );
    let report = report(&s, &f).await;
    for row in report["rows"].as_array().unwrap() {
        assert_eq!(moves(row).len(), 2, "{row}");
    }
    assert_truth(&s);
    s.shutdown().await;
}
