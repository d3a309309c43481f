//! `refund batch`, the built binary against the sandbox: outcomes and report, summary and exit
//! codes, reruns, 1,000 rows on three providers, and kill -9 at several points (requests in
//! flight included) followed by reruns, checked against the sandbox's truth.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Output, assert_error_shape, journal_states, refund, report_lines, run};
use refund_facade::refund_core::{Currency, Money};
use refund_sandbox::payabli::{PayabliPayment, PayabliRefundBehaviour};
use refund_sandbox::paynext::{PayNextPayment, PayNextRefundBehaviour};
use refund_sandbox::plexy::{self, PlexyPayment, PlexyRefundBehaviour};
use refund_sandbox::{Fault, FaultKind, Operation, RefundRecord, Sandbox, payabli, paynext};
use serde_json::Value;

const HEADER: &str = "provider,payment_id,amount,currency,reference,reason\n";

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

struct Files {
    _dir: tempfile::TempDir,
    csv: PathBuf,
    journal: PathBuf,
    report: PathBuf,
}

fn files(csv: &[u8]) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let f = Files {
        csv: dir.path().join("refunds.csv"),
        journal: dir.path().join("refunds.journal"),
        report: dir.path().join("report.jsonl"),
        _dir: dir,
    };
    std::fs::write(&f.csv, csv).unwrap();
    f
}

fn batch_cmd(s: &Sandbox, f: &Files, extra: &[&str]) -> std::process::Command {
    let mut cmd = refund(Some(s));
    cmd.arg("batch")
        .arg(&f.csv)
        .arg("--journal")
        .arg(&f.journal)
        .arg("--report")
        .arg(&f.report)
        .args(extra);
    cmd
}

async fn batch(s: &Sandbox, f: &Files, extra: &[&str]) -> Output {
    let out = run(batch_cmd(s, f, extra)).await;
    // Not a terminal: no progress bar, and nothing else either.
    assert!(out.stderr.is_empty(), "stderr: {}", out.stderr);
    out
}

/// The report, by row number.
fn report_by_row(path: &Path) -> BTreeMap<u64, Value> {
    let mut rows = BTreeMap::new();
    for line in report_lines(path) {
        let row = line["row"].as_u64().unwrap();
        assert!(rows.insert(row, line).is_none(), "row {row} reported twice");
    }
    rows
}

const REPORT_KEYS: [&str; 11] = [
    "amount",
    "currency",
    "error",
    "message",
    "outcome",
    "payment_id",
    "provider",
    "provider_code",
    "reference",
    "refund_id",
    "row",
];

fn assert_report_shape(line: &Value) {
    assert_eq!(common::keys(line), REPORT_KEYS, "{line}");
    let outcome = line["outcome"].as_str().unwrap();
    assert!(
        [
            "succeeded",
            "pending",
            "declined",
            "refused",
            "unknown",
            "failed"
        ]
        .contains(&outcome),
        "{line}"
    );
    if ["succeeded", "pending", "declined"].contains(&outcome) {
        assert!(line["error"].is_null(), "{line}");
    } else {
        assert_eq!(common::keys(&line["error"]), ["kind", "message"], "{line}");
    }
}

/// The JSON summary's outcome counts, in the summary's column order.
fn outcome_counts(summary: &Value) -> Vec<u64> {
    [
        "succeeded",
        "pending",
        "declined",
        "refused",
        "unknown",
        "failed",
    ]
    .iter()
    .map(|o| summary["outcomes"][*o].as_u64().unwrap())
    .collect()
}

/// The `all` line of the human summary, split on white space.
fn human_totals(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .find(|l| l.starts_with("all "))
        .unwrap_or_else(|| panic!("no totals in\n{stdout}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Applied refunds per payment id, across the three emulators.
fn applied_per_payment(s: &Sandbox) -> HashMap<String, usize> {
    let mut applied = HashMap::new();
    let all: Vec<RefundRecord> = [
        s.plexy().refunds(),
        s.paynext().refunds(),
        s.payabli().refunds(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for r in all.iter().filter(|r| r.applied) {
        *applied.entry(r.payment_id.clone()).or_default() += 1;
    }
    applied
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_reports_every_row_and_a_rerun_sends_nothing() {
    let s = Sandbox::start().await.unwrap();
    // A UTF-8 BOM before the header (spreadsheet exports), quoted fields, an empty reference
    // (derived), and rows that are refused before any request.
    let mut csv = b"\xef\xbb\xbf".to_vec();
    csv.extend_from_slice(HEADER.as_bytes());
    let rows = [
        // 1-4: Plexy. Rows 1 and 2 are the same payment: they run one after the other.
        format!(
            "plexy,{},10.50,USD,rf-b1,duplicate charge",
            plexy::seed::REFUNDABLE_USD
        ),
        format!("plexy,{},,,,", plexy::seed::REFUNDABLE_USD),
        format!("plexy,{},,,rf-b3,", plexy::seed::DECLINE_05_USD),
        format!(
            "\"plexy\",\"{}\",\"1.000\",\"KWD\",\"rf-b4\",\"quoted, with a comma\"",
            plexy::seed::REFUNDABLE_KWD
        ),
        // 5-6: PayNext.
        format!("paynext,{},,,,", paynext::seed::SETTLED_KWD),
        format!("paynext,{},100,JPY,rf-b6,", paynext::seed::SETTLED_JPY),
        // 7-9: Payabli; 7 and 8 are the same payment (a partial, then the rest).
        format!("payabli,{},250,JPY,rf-b7,", payabli::seed::SETTLED_JPY),
        format!("payabli,{},,,rf-b8,", payabli::seed::SETTLED_JPY),
        format!("payabli,{},,,rf-b9,", payabli::seed::DECLINE_D0100_USD),
        // 10-15: refused before any request.
        format!("plexy,{},10.001,USD,rf-b10,", plexy::seed::REFUNDABLE_JPY),
        format!("plexy,{},1.00,US,rf-b11,", plexy::seed::REFUNDABLE_JPY),
        "stripe,ch_1,,,rf-b12,".to_owned(),
        format!("plexy,{},100,JPY,rf-b1,", plexy::seed::REFUNDABLE_JPY),
        format!("plexy,{},,,rf-b14", plexy::seed::REFUNDABLE_JPY),
        format!("plexy,{},5,,rf-b15,", plexy::seed::REFUNDABLE_JPY),
        // 16: refused by the provider (no such payment).
        "plexy,no-such-payment,,,rf-b16,".to_owned(),
    ];
    for r in &rows {
        csv.extend_from_slice(r.as_bytes());
        csv.push(b'\n');
    }
    // 17: not UTF-8.
    csv.extend_from_slice(b"plexy,plexy-jpy-\xff,,,rf-b17,\n");
    let f = files(&csv);

    let out = batch(&s, &f, &["--concurrency", "4"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let table: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        table[0].split_whitespace().collect::<Vec<_>>(),
        [
            "provider",
            "succeeded",
            "pending",
            "declined",
            "refused",
            "unknown",
            "failed",
            "total"
        ]
    );
    let line_of = |p: &str| {
        table
            .iter()
            .find(|l| l.starts_with(&format!("{p} ")))
            .unwrap_or_else(|| panic!("{p} in {table:?}"))
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse::<u64>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(line_of("plexy"), [3, 0, 1, 7, 0, 0, 11]);
    assert_eq!(line_of("paynext"), [0, 1, 0, 1, 0, 0, 2]);
    assert_eq!(line_of("payabli"), [2, 0, 1, 0, 0, 0, 3]);
    assert_eq!(line_of("other"), [0, 0, 0, 1, 0, 0, 1]);
    assert_eq!(
        human_totals(&out.stdout),
        ["all", "5", "1", "2", "9", "0", "0", "17"]
    );

    let report = report_by_row(&f.report);
    assert_eq!(
        report.keys().copied().collect::<Vec<_>>(),
        (1..=17).collect::<Vec<_>>()
    );
    report.values().for_each(assert_report_shape);
    let outcome = |row: u64| report[&row]["outcome"].as_str().unwrap().to_owned();
    let error_kind = |row: u64| report[&row]["error"]["kind"].as_str().unwrap().to_owned();
    let error_message = |row: u64| {
        report[&row]["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        (1..=9).map(outcome).collect::<Vec<_>>(),
        [
            "succeeded",
            "succeeded",
            "declined",
            "succeeded",
            "pending",
            "refused",
            "succeeded",
            "succeeded",
            "declined"
        ]
    );
    assert_eq!(report[&1]["amount"], "10.50");
    assert_eq!(report[&4]["amount"], "1.000");
    assert_eq!(report[&7]["amount"], "250");
    assert_eq!(report[&7]["currency"], "JPY");
    assert_eq!(report[&3]["provider_code"], "05");
    assert_eq!(error_kind(6), "unsupported");
    for row in 10..=17 {
        assert_eq!(outcome(row), "refused", "row {row}");
    }
    assert_eq!(error_kind(16), "not_found");
    assert!(
        error_message(13).contains("reference rf-b1 is already used by row 1"),
        "{}",
        error_message(13)
    );
    assert!(
        error_message(14).contains("row 14: expected 6 fields"),
        "{}",
        error_message(14)
    );
    assert!(
        error_message(15).contains("amount given without currency"),
        "{}",
        error_message(15)
    );
    assert!(
        error_message(17).contains("payment_id field is not valid UTF-8"),
        "{}",
        error_message(17)
    );
    // Empty references are derived.
    let derived = report[&2]["reference"].as_str().unwrap().to_owned();
    assert!(
        derived.starts_with("b-") && derived.len() == 32,
        "{derived}"
    );

    // The truth: one refund per succeeded row, none for the others.
    assert_eq!(s.plexy().applied_refunds_with_reference("rf-b1"), 1);
    assert_eq!(s.plexy().applied_refunds_with_reference(&derived), 1);
    assert_eq!(
        s.plexy()
            .payment(plexy::seed::REFUNDABLE_USD)
            .unwrap()
            .balance,
        usd("0")
    );
    assert_eq!(s.payabli().applied_refunds(payabli::seed::SETTLED_JPY), 2);
    assert_eq!(s.paynext().applied_refunds(paynext::seed::SETTLED_KWD), 1);
    assert!(
        s.plexy()
            .requests()
            .iter()
            .all(|r| r.payment_id.as_deref() != Some(plexy::seed::REFUNDABLE_JPY))
    );
    assert!(
        s.paynext()
            .requests()
            .iter()
            .all(|r| r.payment_id.as_deref() != Some(paynext::seed::SETTLED_JPY))
    );
    assert_eq!(common::refund_request_count(&s), 9);

    // The same file and journal again: every row is final, nothing is sent, the same report.
    let requests = common::request_count(&s);
    let out = batch(&s, &f, &["--output", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let summary = out.json();
    assert_eq!(common::keys(&summary), ["outcomes", "providers", "rows"]);
    assert_eq!(summary["rows"], 17);
    assert_eq!(outcome_counts(&summary), [5, 1, 2, 9, 0, 0]);
    assert_eq!(
        summary["providers"]["payabli"],
        serde_json::json!({"succeeded": 2, "pending": 0, "declined": 1, "refused": 0, "unknown": 0, "failed": 0, "total": 3})
    );
    assert_eq!(common::request_count(&s), requests);
    assert_eq!(report_by_row(&f.report), report);
    assert_eq!(
        journal_states(&f.journal),
        BTreeMap::from([("done".into(), 8), ("refused".into(), 9)])
    );
    s.shutdown().await;
}

/// The expected outcome of row `n` of the 1,000-row file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Succeeded,
    Pending,
    Declined,
    Refused,
}

struct BigRow {
    provider: &'static str,
    payment: String,
    amount: Option<&'static str>,
    reference: Option<String>,
    expect: Expect,
}

/// Row `n` (0-based): providers in turn, each row its own payment; partial and full refunds;
/// every 25th row a payment that declines; every 50th an invalid amount; every other row with
/// an empty (derived) reference.
fn big_row(n: usize) -> BigRow {
    let provider = ["plexy", "paynext", "payabli"][n % 3];
    let invalid = n % 50 == 7;
    let declines = n % 25 == 11;
    let amount = match (provider, invalid) {
        (_, true) => Some(["12.345", "-1", "1.0.0", "abc"][(n / 50) % 4]),
        ("plexy", _) if !n.is_multiple_of(4) => Some("12.34"),
        ("payabli", _) if n % 4 == 1 => Some("25.00"),
        _ => None,
    };
    let expect = match provider {
        _ if invalid => Expect::Refused,
        _ if declines => Expect::Declined,
        "paynext" => Expect::Pending,
        _ => Expect::Succeeded,
    };
    BigRow {
        provider,
        payment: format!("{provider}-big-{n}"),
        amount,
        reference: n.is_multiple_of(2).then(|| format!("rf-big-{n}")),
        expect,
    }
}

fn add_payment(s: &Sandbox, provider: &str, id: &str, declines: bool) {
    match provider {
        "plexy" => {
            let mut p = PlexyPayment::new(id, usd("100.00"));
            if declines {
                p = p.behaviour(PlexyRefundBehaviour::Decline("05".into()));
            }
            s.plexy().add_payment(p).unwrap();
        }
        "paynext" => {
            let mut p = PayNextPayment::new(id, usd("100.00"));
            if declines {
                p = p.behaviour(PayNextRefundBehaviour::Fail);
            }
            s.paynext().add_payment(p).unwrap();
        }
        _ => {
            let mut p = PayabliPayment::new(id, usd("100.00"));
            if declines {
                p = p.behaviour(PayabliRefundBehaviour::Decline("D0100".into()));
            }
            s.payabli().add_payment(p).unwrap();
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_rows_on_three_providers_are_each_applied_once() {
    const ROWS: usize = 1000;
    let s = Sandbox::start().await.unwrap();
    let mut csv = HEADER.to_owned();
    let rows: Vec<BigRow> = (0..ROWS).map(big_row).collect();
    for r in &rows {
        add_payment(&s, r.provider, &r.payment, r.expect == Expect::Declined);
        let (amount, currency) = r.amount.map_or(("", ""), |a| (a, "USD"));
        csv.push_str(&format!(
            "{},{},{amount},{currency},{},incident 42\n",
            r.provider,
            r.payment,
            r.reference.as_deref().unwrap_or(""),
        ));
    }
    let f = files(csv.as_bytes());

    let out = batch(&s, &f, &["--concurrency", "16", "--output", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let count = |e: Expect| rows.iter().filter(|r| r.expect == e).count() as u64;
    let summary = out.json();
    assert_eq!(summary["rows"], ROWS as u64);
    assert_eq!(
        outcome_counts(&summary),
        [
            count(Expect::Succeeded),
            count(Expect::Pending),
            count(Expect::Declined),
            count(Expect::Refused),
            0,
            0
        ]
    );
    for p in ["plexy", "paynext", "payabli"] {
        let rows_of = rows.iter().filter(|r| r.provider == p).count() as u64;
        assert_eq!(summary["providers"][p]["total"], rows_of, "{summary}");
    }

    // One JSON object per row, each with the expected outcome.
    let report = report_by_row(&f.report);
    assert_eq!(report.len(), ROWS);
    let applied = applied_per_payment(&s);
    let mut references = Vec::new();
    for (n, r) in rows.iter().enumerate() {
        let line = &report[&(n as u64 + 1)];
        assert_report_shape(line);
        assert_eq!(line["payment_id"], r.payment.as_str());
        let expected = match r.expect {
            Expect::Succeeded => "succeeded",
            Expect::Pending => "pending",
            Expect::Declined => "declined",
            Expect::Refused => "refused",
        };
        assert_eq!(line["outcome"], expected, "row {}: {line}", n + 1);
        let reference = line["reference"].as_str().unwrap().to_owned();
        match &r.reference {
            Some(given) => assert_eq!(&reference, given),
            None => assert!(reference.starts_with("b-"), "{reference}"),
        }
        if r.expect == Expect::Succeeded
            && r.provider != "paynext"
            && let Some(a) = r.amount
        {
            assert_eq!(line["amount"], a, "row {}", n + 1);
        }
        // The sandbox's truth: exactly one refund applied per succeeded or pending row.
        let want = usize::from(matches!(r.expect, Expect::Succeeded | Expect::Pending));
        assert_eq!(
            applied.get(&r.payment).copied().unwrap_or(0),
            want,
            "row {}: {line}",
            n + 1
        );
        if r.provider == "plexy" && want == 1 {
            assert_eq!(s.plexy().applied_refunds_with_reference(&reference), 1);
        }
        references.push(reference);
    }
    // Refused rows never reached a provider; every other row sent exactly one refund request.
    let valid = ROWS as u64 - count(Expect::Refused);
    assert_eq!(common::refund_request_count(&s) as u64, valid);

    // A rerun of the same file with the same journal applies nothing more and sends nothing.
    let requests = common::request_count(&s);
    let out = batch(&s, &f, &["--concurrency", "16"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(human_totals(&out.stdout)[7], ROWS.to_string());
    assert_eq!(common::request_count(&s), requests);
    assert_eq!(applied_per_payment(&s), applied);
    let again = report_by_row(&f.report);
    assert_eq!(again, report);
    // Derived references are derived again, identically.
    let again_refs: Vec<String> = again
        .values()
        .map(|l| l["reference"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(again_refs, references);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_killed_at_any_point_and_rerun_applies_each_row_exactly_once() {
    const ROWS: usize = 120;
    // A Payabli row killed before its request left is proven absent only after the emulator's
    // idempotency window: 3 s here.
    let s = common::sandbox_with_short_payabli_window().await;
    // Every refund is applied at once but answered 150 ms later, so that a kill finds requests
    // in flight: applied by the provider, not yet known to the batch.
    let slow = || {
        Fault::new(FaultKind::Delay(Duration::from_millis(150)))
            .only(Operation::Refund)
            .times(100_000)
    };
    s.plexy().inject(slow()).unwrap();
    s.paynext().inject(slow()).unwrap();
    s.payabli().inject(slow()).unwrap();
    let mut csv = HEADER.to_owned();
    let mut payments = Vec::new();
    for n in 0..ROWS {
        let provider = ["plexy", "paynext", "payabli"][n % 3];
        let payment = format!("{provider}-crash-{n}");
        add_payment(&s, provider, &payment, false);
        // Partial refunds on Plexy and on every other Payabli row (those need a snapshot, which
        // the journal must keep across the kill).
        let amount = match provider {
            "plexy" => "7.25,USD",
            "payabli" if n % 2 == 0 => "33.10,USD",
            _ => ",",
        };
        let reference = if n % 2 == 0 {
            format!("rf-crash-{n}")
        } else {
            String::new()
        };
        csv.push_str(&format!("{provider},{payment},{amount},{reference},\n"));
        payments.push((provider, payment));
    }
    let f = files(csv.as_bytes());
    let spawn = || {
        batch_cmd(&s, &f, &["--concurrency", "8", "--output", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let report_len = |p: &Path| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
    let check_truth = |when: &str| {
        let applied = applied_per_payment(&s);
        for (_, payment) in &payments {
            let n = applied.get(payment).copied().unwrap_or(0);
            assert!(n <= 1, "{when}: {payment} refunded {n} times");
        }
        applied.len()
    };
    let final_rows = |states: &BTreeMap<String, u64>| {
        states.get("done").copied().unwrap_or(0) + states.get("refused").copied().unwrap_or(0)
    };

    // Kill points: right after the journal appears (nothing or little sent); while the first
    // requests are in flight; after some report lines; while requests are in flight again.
    let seeded_refunds = common::refund_records(&s);
    let mut in_flight_kills = 0;
    for point in [
        "journal created",
        "first refunds in flight",
        "report lines",
        "refunds in flight",
    ] {
        let done_before = if f.journal.exists() {
            final_rows(&journal_states(&f.journal))
        } else {
            0
        };
        let applied_before = check_truth(point);
        // The report is rewritten by each run: no stale lines may satisfy a kill condition.
        let _ = std::fs::remove_file(&f.report);
        let mut child = spawn();
        let pid = child.id();
        match point {
            "journal created" => {
                common::wait_until_async(point, Duration::from_secs(30), || f.journal.exists())
                    .await;
            }
            "first refunds in flight" => {
                common::wait_until_async(point, Duration::from_secs(30), || {
                    common::refund_records(&s) >= seeded_refunds + 3
                })
                .await;
            }
            "report lines" => {
                let target = done_before as usize + 15;
                common::wait_until_async(point, Duration::from_secs(30), || {
                    report_len(&f.report) >= target
                })
                .await;
            }
            _ => {
                let target = applied_before + 20;
                common::wait_until_async(point, Duration::from_secs(30), || {
                    check_truth(point) >= target
                })
                .await;
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            None,
            "{point}: killed by a signal (pid {pid})"
        );
        check_truth(point);
        let states = journal_states(&f.journal);
        if states.get("sending").copied().unwrap_or(0) > 0 {
            in_flight_kills += 1;
        }
        if point.ends_with("in flight") {
            assert!(
                states.get("sending").copied().unwrap_or(0) > 0,
                "{point}: {states:?}"
            );
        }
        assert!(
            final_rows(&states) < ROWS as u64,
            "{point}: killed before the end: {states:?}"
        );
    }
    assert!(in_flight_kills >= 2);

    // Rerun until it completes (the first rerun should; a bound keeps the test finite).
    let mut code = None;
    for _ in 0..3 {
        let out = run(batch_cmd(
            &s,
            &f,
            &["--concurrency", "8", "--output", "json"],
        ))
        .await;
        assert!(out.stderr.is_empty(), "{}", out.stderr);
        if out.code == 0 {
            let summary = out.json();
            assert_eq!(summary["rows"], ROWS as u64);
            assert_eq!(
                summary["outcomes"]["succeeded"].as_u64().unwrap()
                    + summary["outcomes"]["pending"].as_u64().unwrap(),
                ROWS as u64
            );
            code = Some(0);
            break;
        }
    }
    assert_eq!(code, Some(0), "the batch completed");

    // The truth: every row applied exactly once; the journal is complete.
    let applied = applied_per_payment(&s);
    for (provider, payment) in &payments {
        assert_eq!(
            applied.get(payment).copied(),
            Some(1),
            "{provider} {payment}"
        );
    }
    let report = report_by_row(&f.report);
    assert_eq!(report.len(), ROWS);
    for line in report.values() {
        if line["provider"] == "plexy" {
            let reference = line["reference"].as_str().unwrap();
            assert_eq!(
                s.plexy().applied_refunds_with_reference(reference),
                1,
                "{line}"
            );
        }
    }
    assert_eq!(
        journal_states(&f.journal),
        BTreeMap::from([("done".into(), ROWS as u64)])
    );

    // And once more: nothing left to send.
    let refunds = common::refund_request_count(&s);
    let out = run(batch_cmd(&s, &f, &["--output", "json"])).await;
    assert_eq!(out.code, 0);
    assert_eq!(common::refund_request_count(&s), refunds);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_rows_exit_5_and_are_reconciled_by_a_rerun() {
    let s = Sandbox::start().await.unwrap();
    s.plexy()
        .add_payment(PlexyPayment::new("pl-u", usd("40.00")))
        .unwrap();
    // Three 500s: the refund may have been applied each time, the lookups keep proving absence,
    // and the facade gives up after its re-sends.
    s.plexy()
        .inject(
            Fault::new(FaultKind::ServerErrorBeforeApplying(500))
                .for_payment("pl-u")
                .only(Operation::Refund)
                .times(3),
        )
        .unwrap();
    let f = files(
        format!(
            "{HEADER}plexy,pl-u,10.00,USD,rf-u1,\npayabli,{},,,rf-u2,\n",
            payabli::seed::SETTLED_USD
        )
        .as_bytes(),
    );
    let out = batch(&s, &f, &[]).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(
        human_totals(&out.stdout),
        ["all", "1", "0", "0", "0", "1", "0", "2"]
    );
    assert!(
        out.stdout
            .contains("1 row(s) may have been applied: run the same command again later"),
        "{}",
        out.stdout
    );
    let report = report_by_row(&f.report);
    assert_eq!(report[&1]["outcome"], "unknown");
    assert_eq!(report[&1]["error"]["kind"], "outcome_unknown");
    assert_eq!(
        journal_states(&f.journal),
        BTreeMap::from([("done".into(), 1), ("unknown".into(), 1)])
    );
    assert_eq!(s.plexy().applied_refunds("pl-u"), 0);

    // The provider is back: the rerun looks the row up, finds nothing, and sends it once.
    // With -vv the steps are logged on stderr (never a key: `run` checks every output).
    let out = run(batch_cmd(&s, &f, &["--output", "json", "-vv"])).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(outcome_counts(&out.json()), [2, 0, 0, 0, 0, 0]);
    assert!(
        out.stderr
            .contains("reconciliation proved no refund exists"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("rf-u1"), "{}", out.stderr);
    assert_eq!(s.plexy().applied_refunds_with_reference("rf-u1"), 1);
    assert_eq!(s.payabli().applied_refunds(payabli::seed::SETTLED_USD), 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_rows_exit_1_and_are_retried_by_a_rerun() {
    let s = Sandbox::start().await.unwrap();
    let f = files(
        format!(
            "{HEADER}payabli,{},5.00,USD,rf-f1,\nplexy,{},,,rf-f2,\n",
            payabli::seed::SETTLED_USD,
            plexy::seed::REFUNDABLE_USD
        )
        .as_bytes(),
    );
    // Payabli is not configured: its row fails (nothing sent) and stays to be retried.
    let mut cmd = batch_cmd(&s, &f, &["--output", "json"]);
    cmd.env_remove("PAYABLI_API_TOKEN");
    let out = run(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(outcome_counts(&out.json()), [1, 0, 0, 0, 0, 1]);
    let report = report_by_row(&f.report);
    assert_eq!(report[&1]["error"]["kind"], "config");
    assert!(
        report[&1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PAYABLI_API_TOKEN is not set"),
        "{}",
        report[&1]
    );
    assert!(s.payabli().requests().is_empty());

    // Human summary of a failed row says what to do.
    let mut cmd = batch_cmd(&s, &f, &[]);
    cmd.env_remove("PAYABLI_API_TOKEN");
    let out = run(cmd).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("1 row(s) failed without being applied"),
        "{}",
        out.stdout
    );

    let out = batch(&s, &f, &["--output", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(outcome_counts(&out.json()), [2, 0, 0, 0, 0, 0]);
    assert_eq!(s.payabli().applied_refunds_with_reference("rf-f1"), 1);
    assert_eq!(s.plexy().applied_refunds_with_reference("rf-f2"), 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_cannot_start_or_continue_says_why() {
    let s = Sandbox::start().await.unwrap();
    // Wrong header: nothing starts, exit 4.
    let f = files(b"provider,payment,amount\nplexy,p1,1\n");
    let out = batch(&s, &f, &["--output", "json"]).await;
    assert_eq!(out.code, 4, "{out:?}");
    let v = out.json();
    let e = assert_error_shape(&v);
    assert_eq!(e["kind"], "invalid_input");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("must be \"provider,payment_id,amount,currency,reference,reason\""),
        "{v}"
    );
    assert!(!f.journal.exists());

    // A missing file, human mode: the error on stderr.
    let mut missing = files(b"");
    missing.csv = missing.journal.with_extension("missing.csv");
    let out = run(batch_cmd(&s, &missing, &[])).await;
    assert_eq!(out.code, 4);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .starts_with("error (invalid_input): cannot read "),
        "{}",
        out.stderr
    );

    // A journal of another file: the batch stops at the first row that differs, exit 1.
    let f = files(
        format!(
            "{HEADER}plexy,{},1.00,USD,rf-j1,\n",
            plexy::seed::REFUNDABLE_USD
        )
        .as_bytes(),
    );
    assert_eq!(batch(&s, &f, &[]).await.code, 0);
    std::fs::write(
        &f.csv,
        format!(
            "{HEADER}plexy,{},2.00,USD,rf-j9,\nplexy,{},3.00,USD,rf-j10,\n",
            plexy::seed::REFUNDABLE_USD,
            plexy::seed::REFUNDABLE_USD
        ),
    )
    .unwrap();
    let requests = common::request_count(&s);
    let out = batch(&s, &f, &["--output", "json"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    let v = out.json();
    let message = assert_error_shape(&v)["message"].as_str().unwrap();
    assert!(
        message.contains("row 1 differs from the journal")
            && message.contains("belongs to another file"),
        "{message}"
    );
    assert_eq!(common::request_count(&s), requests, "nothing sent");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_at_a_time_per_journal() {
    let s = Sandbox::start().await.unwrap();
    s.plexy()
        .inject(Fault::new(FaultKind::Delay(Duration::from_secs(20))).only(Operation::Refund))
        .unwrap();
    let f = files(format!("{HEADER}plexy,{},,,rf-lock,\n", plexy::seed::REFUNDABLE_USD).as_bytes());
    let seeded_refunds = common::refund_records(&s);
    let mut first = batch_cmd(&s, &f, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first batch's refund is in flight: it holds the journal.
    common::wait_until_async("the refund is in flight", Duration::from_secs(30), || {
        common::refund_records(&s) == seeded_refunds + 1
    })
    .await;
    let out = batch(&s, &f, &["--output", "json"]).await;
    assert_eq!(out.code, 4, "{out:?}");
    let v = out.json();
    let e = assert_error_shape(&v);
    assert_eq!(e["kind"], "config");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("is in use by another process"),
        "{v}"
    );
    assert_eq!(
        common::refund_request_count(&s),
        1,
        "the second batch sent nothing"
    );

    first.kill().unwrap();
    first.wait().unwrap();
    // Killed with the refund in flight: the rerun finds it instead of sending it again.
    let out = batch(&s, &f, &["--output", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(s.plexy().applied_refunds_with_reference("rf-lock"), 1);
    assert_eq!(common::refund_request_count(&s), 1);
    s.shutdown().await;
}
