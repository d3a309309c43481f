//! `cargo xtask bench` and `cargo xtask fuzz`: the measurements of `BENCHMARKS.md` and the long
//! fuzz runs of `SECURITY.md`. Neither is part of `cargo xtask ci` (which replays the fuzz
//! corpus and runs a short campaign through `cargo test`).
//!
//! The work is done by the `refund-bench` crate (criterion bench `decode`, binaries `overhead`
//! and `batch`, test `fuzz`) and by `refund-cli`'s `batch_rows_fuzz` test; this module runs them
//! in release mode and prints their numbers.

#![allow(
    clippy::float_arithmetic,
    reason = "timing ratios are floats; no money is involved"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::util::{Result, cargo, run, workspace_root};

/// Arguments of `cargo xtask bench`.
#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// Run only these parts (repeatable): decode, overhead, batch, build.
    #[arg(long, value_name = "PART")]
    only: Vec<String>,
    /// Rows of the batch runs, comma-separated.
    #[arg(long, default_value = "10000,100000")]
    batch_rows: String,
    /// Sequential refunds per path and provider in the overhead benchmark.
    #[arg(long, default_value_t = 20_000)]
    sequential: usize,
    /// Refunds per round at concurrency 64 in the overhead benchmark.
    #[arg(long, default_value_t = 4000)]
    concurrent: usize,
}

/// Arguments of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub(crate) struct FuzzArgs {
    /// Generated inputs per target (and CSV rows for the batch target).
    #[arg(long, default_value_t = 1_000_000)]
    execs: u64,
    /// Generator seed (the same seed gives the same inputs on every machine).
    #[arg(long, default_value_t = 0x5EED)]
    seed: u64,
}

const PARTS: [&str; 4] = ["decode", "overhead", "batch", "build"];

pub(crate) fn run_bench(args: BenchArgs) -> Result {
    for part in &args.only {
        if !PARTS.contains(&part.as_str()) {
            return Err(format!(
                "unknown part {part:?} (one of {})",
                PARTS.join(", ")
            ));
        }
    }
    let wanted = |p: &str| args.only.is_empty() || args.only.iter().any(|o| o == p);
    let started = Instant::now();
    let mut report = Vec::new();
    if wanted("decode") {
        report.push(decode()?);
    }
    if wanted("overhead") {
        report.push(overhead(&args)?);
    }
    if wanted("batch") {
        report.push(batch(&args)?);
    }
    if wanted("build") {
        report.push(build_cost()?);
    }
    println!("\n{}", report.join("\n"));
    eprintln!(
        "xtask bench: done in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Runs a command and returns its standard output (standard error passes through).
fn output(mut cmd: Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    eprintln!("$ {shown}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{shown} failed with {}", out.status));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{shown}: output is not UTF-8: {e}"))
}

/// Part 1: criterion's `decode` bench, then the typed/untyped ratio per case from its
/// estimates (median).
fn decode() -> Result<String> {
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "refund-bench", "--bench", "decode"]);
    run(cmd)?;
    let dir = target_dir().join("criterion");
    let mut groups: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains('-') && dir.join(n).join("typed").exists())
        .collect();
    groups.sort();
    let mut out = String::from(
        "== decoding: typed decode + mapping vs serde_json::Value parse (median ns) ==\n",
    );
    out.push_str(&format!(
        "{:<36} {:>10} {:>10} {:>8}\n",
        "case", "typed", "Value", "ratio"
    ));
    for g in groups {
        let typed = median_ns(&dir.join(&g).join("typed"))?;
        let value = median_ns(&dir.join(&g).join("value"))?;
        out.push_str(&format!(
            "{g:<36} {typed:>10.0} {value:>10.0} {:>8.2}\n",
            typed / value
        ));
    }
    out.push_str("(ratio < 1: our typed path is faster than the untyped parse alone)\n");
    Ok(out)
}

fn median_ns(bench: &Path) -> Result<f64> {
    let file = bench.join("new").join("estimates.json");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    json.get("median")
        .and_then(|m| m.get("point_estimate"))
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| format!("{}: no median", file.display()))
}

/// Part 2: the `overhead` binary.
fn overhead(args: &BenchArgs) -> Result<String> {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "-q",
        "-p",
        "refund-bench",
        "--bin",
        "overhead",
        "--",
        "--sequential",
        &args.sequential.to_string(),
        "--concurrent",
        &args.concurrent.to_string(),
    ]);
    Ok(format!("== overhead ==\n{}", output(cmd)?))
}

/// Part 3: the `batch` binary, driving a release build of the `refund` binary.
fn batch(args: &BenchArgs) -> Result<String> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "refund-cli", "--bin", "refund"]);
    run(build)?;
    let refund = target_dir().join("release").join("refund");
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "-q",
        "-p",
        "refund-bench",
        "--bin",
        "batch",
        "--",
        "--rows",
        &args.batch_rows,
        "--refund",
    ])
    .arg(&refund);
    Ok(format!("== batch ==\n{}", output(cmd)?))
}

/// Part 4: clean debug build time and dependency-tree size of one vendor crate alone and of the
/// whole facade, each in its own empty target directory under the system temp directory.
fn build_cost() -> Result<String> {
    let mut out = String::from("== build cost (clean `cargo build -p …`, debug profile) ==\n");
    out.push_str(&format!(
        "{:<16} {:>8} {:>14}\n",
        "crate", "crates", "clean build s"
    ));
    for (krate, features) in [
        ("refund-plexy", None),
        ("refund-facade", Some("plexy,paynext,payabli")),
    ] {
        let target = std::env::temp_dir().join(format!("refund-build-cost-{krate}"));
        let _ = std::fs::remove_dir_all(&target);
        let mut tree = cargo();
        tree.args(["tree", "-p", krate, "-e", "normal", "--prefix", "none"]);
        if let Some(f) = features {
            tree.args(["--features", f]);
        }
        let listing = output(tree)?;
        let mut lines: Vec<&str> = listing
            .lines()
            .map(|l| l.trim_end_matches(" (*)"))
            .filter(|l| !l.is_empty())
            .collect();
        lines.sort_unstable();
        lines.dedup();
        let mut build = cargo();
        build
            .args(["build", "-q", "-p", krate])
            .env("CARGO_TARGET_DIR", &target);
        if let Some(f) = features {
            build.args(["--features", f]);
        }
        let started = Instant::now();
        run(build)?;
        let seconds = started.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&target);
        out.push_str(&format!("{krate:<16} {:>8} {seconds:>14.1}\n", lines.len()));
    }
    Ok(out)
}

pub(crate) fn run_fuzz(args: FuzzArgs) -> Result {
    let started = Instant::now();
    let findings = target_dir().join("fuzz-findings");
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--release",
        "-p",
        "refund-bench",
        "--test",
        "fuzz",
        "generated_inputs_keep_every_property",
        "--",
        "--nocapture",
    ])
    .env("REFUND_FUZZ_EXECS", args.execs.to_string())
    .env("REFUND_FUZZ_SEED", args.seed.to_string())
    .env("REFUND_FUZZ_FINDINGS", &findings);
    let library = run(cmd);
    let mut csv = cargo();
    csv.args([
        "test",
        "--release",
        "-p",
        "refund-cli",
        "--test",
        "batch_rows_fuzz",
        "generated_rows_keep_every_property",
        "--",
        "--nocapture",
    ])
    .env("REFUND_FUZZ_EXECS", args.execs.to_string())
    .env("REFUND_FUZZ_SEED", args.seed.to_string());
    let rows = run(csv);
    eprintln!(
        "xtask fuzz: {} execs per target, seed {}, {:.0}s; findings (if any) saved in {}",
        args.execs,
        args.seed,
        started.elapsed().as_secs_f64(),
        findings.display()
    );
    library.and(rows)
}
