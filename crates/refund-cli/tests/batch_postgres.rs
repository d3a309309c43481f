//! `refund batch` with a PostgreSQL journal: several worker processes share one batch, two are
//! killed with SIGKILL while they have requests in flight and are started again, and every row
//! ends applied exactly once, checked against the sandbox's truth. The test runs a throwaway
//! PostgreSQL cluster (`common::pg`); it fails, never skips, when PostgreSQL cannot start.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::pg::PgCluster;
use refund_facade::refund_core::{Currency, Money};
use refund_sandbox::payabli::{PayabliPayment, PayabliRefundBehaviour};
use refund_sandbox::paynext::{PayNextPayment, PayNextRefundBehaviour};
use refund_sandbox::plexy::{PlexyPayment, PlexyRefundBehaviour};
use refund_sandbox::{Fault, FaultKind, Operation, Sandbox};
use serde_json::Value;

const HEADER: &str = "provider,payment_id,amount,currency,reference,reason\n";

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Succeeded,
    Pending,
    Declined,
    Refused,
}

struct Row {
    provider: &'static str,
    payment: String,
    expect: Expect,
}

/// Row `n`: providers in turn, each row its own payment; partial refunds on Plexy and on every
/// other Payabli row (those take a snapshot first); every 25th row declines, every 50th has an
/// invalid amount (refused before any request); every other row a derived reference. Every 30th
/// row is a second partial refund of an earlier row's Payabli payment (rows of one payment must
/// not run at once, even in two workers), and every 100th reuses an earlier row's reference
/// (refused).
fn row(s: &Sandbox, n: usize, csv: &mut String) -> Row {
    let provider = ["plexy", "paynext", "payabli"][n % 3];
    let invalid = |n: usize| n % 50 == 7;
    let declines = |n: usize| n % 25 == 11;
    let shares = n % 30 == 14;
    let duplicate = n % 100 == 52;
    // The row whose payment (or reference) this one reuses: same provider.
    let earlier = n.saturating_sub(6);
    let payment = format!("{provider}-pg-{}", if shares { earlier } else { n });
    if !shares {
        match provider {
            "plexy" => {
                let mut p = PlexyPayment::new(&payment, usd("100.00"));
                if declines(n) {
                    p = p.behaviour(PlexyRefundBehaviour::Decline("05".into()));
                }
                s.plexy().add_payment(p).unwrap();
            }
            "paynext" => {
                let mut p = PayNextPayment::new(&payment, usd("100.00"));
                if declines(n) {
                    p = p.behaviour(PayNextRefundBehaviour::Fail);
                }
                s.paynext().add_payment(p).unwrap();
            }
            _ => {
                let mut p = PayabliPayment::new(&payment, usd("100.00"));
                if declines(n) {
                    p = p.behaviour(PayabliRefundBehaviour::Decline("D0100".into()));
                }
                s.payabli().add_payment(p).unwrap();
            }
        }
    }
    let amount = match provider {
        _ if invalid(n) => "12.345,USD",
        "plexy" => "7.25,USD",
        "payabli" if n.is_multiple_of(2) => "33.10,USD",
        _ => ",",
    };
    let reference = if duplicate {
        format!("rf-pg-{earlier}")
    } else if n.is_multiple_of(2) {
        format!("rf-pg-{n}")
    } else {
        String::new()
    };
    csv.push_str(&format!("{provider},{payment},{amount},{reference},\n"));
    let declined = if shares {
        declines(earlier)
    } else {
        declines(n)
    };
    let expect = match provider {
        _ if invalid(n) || duplicate => Expect::Refused,
        _ if declined => Expect::Declined,
        "paynext" => Expect::Pending,
        _ => Expect::Succeeded,
    };
    Row {
        provider,
        payment,
        expect,
    }
}

/// Applied refunds per payment id, across the three emulators.
fn applied_per_payment(s: &Sandbox) -> HashMap<String, usize> {
    let mut applied = HashMap::new();
    for r in [
        s.plexy().refunds(),
        s.paynext().refunds(),
        s.payabli().refunds(),
    ]
    .into_iter()
    .flatten()
    .filter(|r| r.applied)
    {
        *applied.entry(r.payment_id.clone()).or_default() += 1;
    }
    applied
}

/// Rows per (state, lease owner's pid) in the journal.
async fn states(db: &tokio_postgres::Client) -> BTreeMap<(String, Option<u32>), i64> {
    let created: bool = db
        .query_one("SELECT to_regclass('refund_batch_rows') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    if !created {
        // The first worker has not created the tables yet.
        return BTreeMap::new();
    }
    db.query(
        "SELECT state, split_part(lease_owner, '-', 1), COUNT(*) FROM refund_batch_rows
         GROUP BY 1, 2",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let pid: Option<String> = r.get(1);
        ((r.get(0), pid.and_then(|p| p.parse().ok())), r.get(2))
    })
    .collect()
}

fn in_flight_of(states: &BTreeMap<(String, Option<u32>), i64>, pid: u32) -> i64 {
    states
        .get(&("sending".to_owned(), Some(pid)))
        .copied()
        .unwrap_or(0)
}

/// A worker's command line.
fn worker(s: &Sandbox, csv: &Path, url: &str, report: &Path) -> Child {
    let mut cmd = common::refund(Some(s));
    cmd.args(["--output", "json", "batch"])
        .arg(csv)
        .args(["--journal", url, "--concurrency", "8", "--lease-ms", "2000"])
        .arg("--report")
        .arg(report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Waits for a worker off the runtime and returns its exit code, stdout and stderr.
async fn finish(mut child: Child) -> common::Output {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut t = String::new();
            stdout.read_to_string(&mut t).unwrap();
            t
        });
        let err = std::thread::spawn(move || {
            let mut t = String::new();
            stderr.read_to_string(&mut t).unwrap();
            t
        });
        let status = common::wait_child(&mut child, Duration::from_secs(240));
        let out = common::Output {
            code: status.code().expect("exited, not killed"),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        };
        common::assert_no_secret(&out);
        out
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_two_killed_apply_each_row_exactly_once() {
    const ROWS: usize = 5000;
    let cluster = PgCluster::start();
    let db = cluster.client().await;
    // A Payabli row taken over before its request left is proven absent only after the
    // emulator's idempotency window: 3 s here.
    let s = common::sandbox_with_short_payabli_window().await;
    // Refunds are applied at once and answered 40 ms later, so that the kills find requests in
    // flight: applied by the provider, not yet known to the worker.
    for fault in [
        s.plexy().inject(slow()),
        s.paynext().inject(slow()),
        s.payabli().inject(slow()),
    ] {
        fault.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut csv = HEADER.to_owned();
    let rows: Vec<Row> = (0..ROWS).map(|n| row(&s, n, &mut csv)).collect();
    // Refunds to be applied, per payment.
    let mut want: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        *want.entry(r.payment.as_str()).or_default() +=
            usize::from(matches!(r.expect, Expect::Succeeded | Expect::Pending));
    }
    assert!(
        want.values().any(|n| *n == 2),
        "some payments get two refunds"
    );
    let file = dir.path().join("refunds.csv");
    std::fs::write(&file, csv).unwrap();
    let url = cluster.url();
    let report = |i: usize| dir.path().join(format!("report-{i}.jsonl"));

    let mut workers: Vec<Child> = (0..4)
        .map(|i| worker(&s, &file, &url, &report(i)))
        .collect();
    // Kill workers 0 and 1 (SIGKILL) once each has rows marked `sending` under its lease.
    let victims: Vec<u32> = workers.iter().take(2).map(Child::id).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = states(&db).await;
        if victims.iter().all(|pid| in_flight_of(&st, *pid) > 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the workers never had requests in flight: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for w in workers.iter_mut().take(2) {
        w.kill().unwrap(); // SIGKILL
        let status = w.wait().unwrap();
        assert_eq!(status.code(), None, "killed by a signal");
    }
    // Their in-flight rows stay `sending` under their (now orphaned) leases.
    let st = states(&db).await;
    for pid in &victims {
        assert!(in_flight_of(&st, *pid) > 0, "{pid}: {st:?}");
    }
    let unfinished: i64 = st
        .iter()
        .filter(|((state, _), _)| state != "done" && state != "refused")
        .map(|(_, n)| n)
        .sum();
    assert!(unfinished > 0, "killed before the end: {st:?}");
    // No row was applied twice so far.
    for (payment, n) in applied_per_payment(&s) {
        // (The sandbox's seeded payments come with refunds of their own.)
        if let Some(w) = want.get(payment.as_str()) {
            assert!(n <= *w, "{payment} refunded {n} times");
        }
    }

    // Start them again.
    workers[0] = worker(&s, &file, &url, &report(4));
    workers[1] = worker(&s, &file, &url, &report(5));
    let mut outputs = Vec::new();
    for w in workers {
        outputs.push(finish(w).await);
    }

    // Every worker reports the whole batch, with every row final.
    let count = |e: Expect| rows.iter().filter(|r| r.expect == e).count() as u64;
    for out in &outputs {
        assert_eq!(out.code, 0, "{out:?}");
        let summary = out.json();
        assert_eq!(summary["rows"], ROWS as u64, "{summary}");
        let n = |o: &str| summary["outcomes"][o].as_u64().unwrap();
        // A PayNext refund taken over from a killed worker is looked up, and may have settled
        // (pending → succeeded) by then: the two count together.
        assert_eq!(
            [
                n("succeeded") + n("pending"),
                n("declined"),
                n("refused"),
                n("unknown"),
                n("failed")
            ],
            [
                count(Expect::Succeeded) + count(Expect::Pending),
                count(Expect::Declined),
                count(Expect::Refused),
                0,
                0
            ],
            "{summary}"
        );
        assert!(n("pending") <= count(Expect::Pending), "{summary}");
    }
    for i in [2, 3, 4, 5] {
        let lines = common::report_lines(&report(i));
        assert_eq!(lines.len(), ROWS);
        let first: &Value = &lines[0];
        assert_eq!(first["row"], 1);
    }
    let st = states(&db).await;
    let final_rows: i64 = st
        .iter()
        .filter(|((state, owner), _)| (state == "done" || state == "refused") && owner.is_none())
        .map(|(_, n)| n)
        .sum();
    assert_eq!(final_rows, ROWS as i64, "{st:?}");

    // The sandbox's truth: exactly one refund applied per succeeded or pending row, none for
    // declined or refused rows.
    let applied = applied_per_payment(&s);
    for (n, r) in rows.iter().enumerate() {
        assert_eq!(
            applied.get(&r.payment).copied().unwrap_or(0),
            want[r.payment.as_str()],
            "row {} ({} {}, {:?})",
            n + 1,
            r.provider,
            r.payment,
            r.expect
        );
    }

    // Another file under the same batch id is refused before anything is sent (exit 4).
    let requests = common::request_count(&s);
    let mut other = std::fs::read_to_string(&file).unwrap();
    other = other.replacen("plexy-pg-0,7.25", "plexy-pg-0,7.30", 1);
    let other_file = dir.path().join("other.csv");
    std::fs::write(&other_file, other).unwrap();
    let mut cmd = common::refund(Some(&s));
    cmd.args(["--output", "json", "batch"])
        .arg(&other_file)
        .args(["--journal", &url, "--batch-id", "refunds.csv"]);
    let out = common::run(cmd).await;
    assert_eq!(out.code, 4, "{out:?}");
    let json = out.json();
    let e = common::assert_error_shape(&json);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("row 1 differs from the journal's batch \"refunds.csv\""),
        "{e}"
    );
    assert_eq!(common::request_count(&s), requests);

    // Followed and reported from the same database: every pending (PayNext) row settles, nothing
    // is sent, and the report has every row of the batch with its outcome and transitions.
    let refunds_before = common::refund_request_count(&s);
    let mut cmd = common::refund(Some(&s));
    cmd.args([
        "--output",
        "json",
        "follow",
        "--journal",
        &url,
        "--follow-for",
        "120s",
    ]);
    let out = common::run(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        common::refund_request_count(&s),
        refunds_before,
        "following sends no refund"
    );
    let mut cmd = common::refund(None);
    cmd.args(["--output", "json", "report", "--journal", &url]);
    cmd.args(["--batch-id", "refunds.csv"]);
    let out = common::run(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let report = out.json();
    let report_rows = report["rows"].as_array().unwrap();
    assert_eq!(report_rows.len(), ROWS);
    let with = |o: &str| report_rows.iter().filter(|r| r["outcome"] == o).count() as u64;
    assert_eq!(
        with("pending"),
        0,
        "every pending row was followed to its end"
    );
    assert_eq!(
        with("succeeded"),
        count(Expect::Succeeded) + count(Expect::Pending)
    );
    assert_eq!(with("declined"), count(Expect::Declined));
    assert_eq!(with("refused"), count(Expect::Refused));
    for r in report_rows {
        let transitions = r["transitions"].as_array().unwrap();
        assert!(!transitions.is_empty(), "{r}");
        assert_eq!(transitions.last().unwrap()["to"], r["outcome"], "{r}");
    }
    let totals: u64 = report["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(totals, ROWS as u64);
    s.shutdown().await;
}

#[tokio::test]
async fn a_journal_url_that_requires_tls_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refunds.csv");
    std::fs::write(&file, format!("{HEADER}plexy,p1,,,rf-1,\n")).unwrap();
    let mut cmd = common::refund(None);
    cmd.args(["--output", "json", "batch"]).arg(&file).args([
        "--journal",
        "postgres://refunds:hunter2-secret@127.0.0.1:1/refunds?sslmode=require",
    ]);
    let out = common::run(cmd).await;
    assert_eq!(out.code, 4, "{out:?}");
    let json = out.json();
    let e = common::assert_error_shape(&json);
    assert!(
        e["message"].as_str().unwrap().contains("sslmode=require"),
        "{e}"
    );
    // The password never appears.
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
}

fn slow() -> Fault {
    Fault::new(FaultKind::Delay(Duration::from_millis(40)))
        .only(Operation::Refund)
        .times(1_000_000)
}
