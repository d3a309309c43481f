//! Fuzzing `refund batch`'s CSV row handling through the binary (issue 10): generated CSV files
//! with hostile fields (quotes, commas and line breaks inside quoted fields, white space,
//! control characters, invalid UTF-8, wrong field counts, long values, amounts and references
//! at the edges of their rules) run with **no provider configured**, so nothing can leave the
//! machine: a valid row reaches the router and fails with a configuration error, an invalid one
//! is refused before any I/O.
//!
//! Properties: the binary never panics; every data row gets exactly one report line; a
//! well-formed row is `refused` with `invalid_input` exactly when the core types refuse it
//! (provider name, payment id, reference, amount and currency, reason) or an earlier row already
//! used its provider and reference, and `failed` with `config` otherwise.
//!
//! `REFUND_FUZZ_EXECS` sets the number of generated rows (default 600; `cargo xtask fuzz` runs
//! hundreds of thousands in release mode). The stored corpus `tests/fuzz-corpus/*.csv` is
//! replayed every time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use refund_facade::refund_core::{Currency, Money, PaymentId, RefundReference, RefundRequest};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PROVIDERS: &[&str] = &[
    "plexy",
    "paynext",
    "payabli",
    "Plexy",
    "stripe",
    "",
    " plexy ",
    "plexy\u{0}",
    "payabli,",
];
const PAYMENTS: &[&str] = &[
    "pay_1",
    "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae",
    "a/b c",
    ".",
    "..",
    "",
    " ",
    "x\ty",
    "é🦀",
    "a\"b",
    "a,b",
    "line\nbreak",
    "%2F",
];
const AMOUNTS: &[&str] = &[
    "",
    "10.50",
    "10.5",
    "10",
    "0",
    "0.00",
    "-1",
    "1e3",
    "10.001",
    "1,000.00",
    ".5",
    "5.",
    "92233720368547758.07",
    "92233720368547758.08",
    "99999999999999999999",
    " 10.50 ",
    "NaN",
    "١٠",
];
const CURRENCIES: &[&str] = &[
    "", "USD", "JPY", "KWD", "CLF", "usd", "XAU", "ZZZ", "US", "USDD", " EUR ",
];
const REFERENCES: &[&str] = &[
    "",
    "rf-1",
    "rf-2",
    "a",
    ".",
    "..",
    "...",
    "a b",
    "a/b",
    "rf:1.2_3",
    "é",
    "rf-\u{7f}",
];
const REASONS: &[&str] = &[
    "",
    "customer request",
    "a,b",
    "quote \" inside",
    "line\nbreak",
    "\u{0}",
];

fn field(rng: &mut Rng, pool: &[&str]) -> String {
    match rng.below(10) {
        0 => "x".repeat(rng.below(300)),
        1 => format!(
            "{}{}",
            rng.pick(pool),
            rng.pick(&["", " ", "\t", "\r", "é"])
        ),
        2 => (0..rng.below(70))
            .map(|_| {
                let alphabet = "abcXYZ019-_.:/% \"',é";
                alphabet
                    .chars()
                    .nth(rng.below(alphabet.chars().count()))
                    .unwrap()
            })
            .collect(),
        _ => rng.pick(pool).to_owned(),
    }
}

/// One CSV field, quoted when needed (always quoted at random, too).
fn csv_field(text: &str, rng: &mut Rng) -> String {
    let needs = text.contains([',', '"', '\n', '\r']) || rng.below(5) == 0;
    if needs {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// What the core types say about a well-formed row: `true` when it is a valid request.
fn valid(fields: &[String; 6]) -> bool {
    let f: Vec<&str> = fields.iter().map(|s| s.trim()).collect();
    if !matches!(f[0], "plexy" | "paynext" | "payabli") {
        return false;
    }
    let Ok(payment) = PaymentId::new(f[1]) else {
        return false;
    };
    // An empty reference is derived from the row, always valid.
    let reference = if f[4].is_empty() { "derived" } else { f[4] };
    let Ok(reference) = RefundReference::new(reference) else {
        return false;
    };
    let builder = RefundRequest::builder(payment, reference);
    let builder = match (f[2].is_empty(), f[3].is_empty()) {
        (true, true) => builder,
        (false, false) => {
            let Ok(currency) = Currency::from_code(f[3]) else {
                return false;
            };
            let Ok(money) = Money::parse(f[2], currency) else {
                return false;
            };
            builder.partial(money)
        }
        _ => return false,
    };
    let builder = if f[5].is_empty() {
        builder
    } else {
        builder.reason(f[5])
    };
    builder.build().is_ok()
}

struct Batch {
    text: Vec<u8>,
    /// The expected validity of each row, when every row is well formed.
    expected: Option<Vec<bool>>,
}

fn generate(rng: &mut Rng, rows: usize) -> Batch {
    let mut text = b"provider,payment_id,amount,currency,reference,reason\n".to_vec();
    let garbage = rng.below(8) == 0;
    let mut expected = Vec::new();
    // A second row with the same provider and reference is refused (one logical refund asked
    // twice); empty references are derived per row, so they never collide.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..rows {
        let fields = [
            field(rng, PROVIDERS),
            field(rng, PAYMENTS),
            field(rng, AMOUNTS),
            field(rng, CURRENCIES),
            field(rng, REFERENCES),
            field(rng, REASONS),
        ];
        let mut line: Vec<u8> = fields
            .iter()
            .map(|f| csv_field(f, rng))
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes();
        if garbage {
            // Damage: raw quotes, extra or missing fields, invalid UTF-8, NUL, CR.
            match rng.below(6) {
                0 => line.extend_from_slice(b",extra"),
                1 => line.truncate(rng.below(line.len() + 1)),
                2 => line.insert(rng.below(line.len() + 1), b'"'),
                3 => line.insert(rng.below(line.len() + 1), 0xff),
                4 => line.insert(rng.below(line.len() + 1), b'\r'),
                _ => line.insert(rng.below(line.len() + 1), 0),
            }
        } else {
            let key = (fields[0].trim().to_owned(), fields[4].trim().to_owned());
            let first = key.1.is_empty() || seen.insert(key);
            expected.push(first && valid(&fields));
        }
        text.extend_from_slice(&line);
        text.push(b'\n');
    }
    Batch {
        text,
        expected: (!garbage).then_some(expected),
    }
}

/// Runs the batch; checks the properties; returns the number of rows reported.
fn run(dir: &Path, name: &str, batch: &Batch) -> usize {
    let csv = dir.join(format!("{name}.csv"));
    let journal = dir.join(format!("{name}.sqlite"));
    let report = dir.join(format!("{name}.jsonl"));
    std::fs::write(&csv, &batch.text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refund"));
    cmd.args(["--output", "json", "batch"])
        .arg(&csv)
        .arg("--journal")
        .arg(&journal)
        .arg("--report")
        .arg(&report);
    for (var, _) in std::env::vars() {
        if var.starts_with("PLEXY_") || var.starts_with("PAYNEXT_") || var.starts_with("PAYABLI_") {
            cmd.env_remove(var);
        }
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| c != 101) && !stderr.contains("panicked"),
        "{name}: the binary crashed ({:?}): {stderr}",
        out.status
    );
    let lines = std::fs::read_to_string(&report).unwrap_or_default();
    let mut by_row: BTreeMap<u64, serde_json::Value> = BTreeMap::new();
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{name}: report line {line:?} is not JSON: {e}"));
        let row = v["row"].as_u64().unwrap();
        let outcome = v["outcome"].as_str().unwrap();
        assert!(
            ["refused", "failed"].contains(&outcome),
            "{name}: with no provider configured, row {row} ended {outcome}: {v}"
        );
        assert!(
            by_row.insert(row, v).is_none(),
            "{name}: row {row} reported twice"
        );
    }
    if let Some(expected) = &batch.expected {
        assert_eq!(
            by_row.len(),
            expected.len(),
            "{name}: rows lost or invented"
        );
        for (i, want_valid) in expected.iter().enumerate() {
            let v = &by_row[&(i as u64 + 1)];
            let (outcome, kind) = (v["outcome"].as_str().unwrap(), v["error"]["kind"].as_str());
            if *want_valid {
                assert_eq!(
                    (outcome, kind),
                    ("failed", Some("config")),
                    "{name}: row {} is valid: {v}",
                    i + 1
                );
            } else {
                assert_eq!(
                    (outcome, kind),
                    ("refused", Some("invalid_input")),
                    "{name}: row {} is invalid: {v}",
                    i + 1
                );
            }
        }
    }
    by_row.len()
}

#[test]
fn the_stored_corpus_replays_cleanly() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let dir = tempfile::tempdir().unwrap();
    let mut files = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let batch = Batch {
            text: std::fs::read(&path).unwrap(),
            expected: None,
        };
        run(dir.path(), &name, &batch);
        files += 1;
    }
    assert!(files > 0);
}

#[test]
fn generated_rows_keep_every_property() {
    let total: usize = std::env::var("REFUND_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let seed: u64 = std::env::var("REFUND_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED);
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let (mut done, mut reported, mut batches) = (0, 0, 0);
    while done < total {
        let rows = (total - done).min(1 + rng.below(3000));
        let batch = generate(&mut rng, rows);
        reported += run(dir.path(), &format!("b{batches}"), &batch);
        done += rows;
        batches += 1;
    }
    eprintln!("batch rows fuzz: {done} rows generated in {batches} files, {reported} reported");
    assert!(reported > 0);
}
