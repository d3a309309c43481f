//! Batch benchmark (issue 10, part 3): `refund batch` over a generated CSV file against the
//! sandbox, with the SQLite journal: rows per second and the peak resident memory of the
//! `refund` process, at several file sizes (memory must not grow with the file).
//!
//! The three emulators run in this process (one runtime thread); the `refund` binary runs as a
//! child process configured through its environment, exactly as a user runs it. Its peak RSS is
//! the kernel's high-water mark (`VmHWM` in `/proc/<pid>/status`, Linux), read every 10 ms until
//! it exits.
//!
//! Rows rotate over the providers: a partial Plexy refund (5.00 of 10.00 USD), a full PayNext
//! refund (answered `PENDING`), a full Payabli refund; every row a fresh payment. The run checks
//! that every row ended succeeded or pending.
//!
//! With `--postgres URL`, the journal is that PostgreSQL database instead, and each size runs
//! once per count in `--workers` (default `1,4`): that many `refund batch` processes on the same
//! file and batch id, started together; the time is until the last one exits, the CPU is
//! their sum, the RSS the largest.
//!
//! Usage: `batch --refund PATH [--rows 10000,100000] [--concurrency 32] [--postgres URL
//! [--workers 1,4]] [--json]`

#![allow(
    clippy::float_arithmetic,
    reason = "rates and memory ratios are floats; no money is involved"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use refund_bench::stats::{cpu_seconds, peak_rss_kib};
use refund_core::{Currency, Money};
use refund_sandbox::Sandbox;
use refund_sandbox::payabli::PayabliPayment;
use refund_sandbox::paynext::PayNextPayment;
use refund_sandbox::plexy::PlexyPayment;

struct Args {
    refund: PathBuf,
    rows: Vec<usize>,
    concurrency: u16,
    postgres: Option<String>,
    workers: Vec<usize>,
    json: bool,
}

fn list(text: Option<String>, what: &str) -> Result<Vec<usize>, String> {
    text.ok_or(format!("{what} needs a list"))?
        .split(',')
        .map(|n| n.trim().parse().map_err(|_| format!("bad {what} {n:?}")))
        .collect()
}

fn args() -> Result<Args, String> {
    let mut refund = None;
    let mut rows = vec![10_000, 100_000];
    let mut concurrency = 32;
    let mut json = false;
    let mut postgres = None;
    let mut workers = vec![1, 4];
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--refund" => refund = it.next().map(PathBuf::from),
            "--rows" => rows = list(it.next(), "--rows")?,
            "--workers" => workers = list(it.next(), "--workers")?,
            "--postgres" => postgres = it.next(),
            "--concurrency" => {
                concurrency = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--concurrency needs a number")?;
            }
            "--json" => json = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        refund: refund.ok_or("--refund PATH (the refund binary) is required")?,
        rows,
        concurrency,
        postgres,
        workers,
        json,
    })
}

struct Run {
    rows: usize,
    workers: usize,
    seconds: f64,
    peak_rss_kib: u64,
    /// CPU seconds of the `refund` process, and of this process (the emulators) meanwhile.
    cli_cpu: f64,
    sandbox_cpu: f64,
    journal_bytes: u64,
    summary: serde_json::Value,
}

fn main() -> Result<(), String> {
    let args = args()?;
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sandbox")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let sandbox = server_rt
        .block_on(Sandbox::start())
        .map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("refund-bench-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;

    let mut runs = Vec::new();
    let workers = if args.postgres.is_some() {
        args.workers.clone()
    } else {
        vec![1]
    };
    let mut n = 0;
    for rows in args.rows.iter().copied() {
        for w in workers.iter().copied() {
            // Fresh payments, file and batch id for every run.
            let prefix = format!("p{}-r{n}-", std::process::id());
            n += 1;
            seed(&sandbox, &prefix, rows)?;
            let csv = dir.join(format!("{prefix}rows.csv"));
            write_csv(&csv, &prefix, rows)?;
            let run = run_batch(&args, &sandbox, &dir, &prefix, &csv, rows, w)?;
            runs.push(run);
        }
    }
    server_rt.block_on(sandbox.shutdown());
    let _ = std::fs::remove_dir_all(&dir);

    if args.json {
        let json: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "rows": r.rows,
                    "workers": r.workers,
                    "seconds": r.seconds,
                    "rows_per_second": r.rows as f64 / r.seconds,
                    "peak_rss_kib": r.peak_rss_kib,
                    "refund_cpu_seconds": r.cli_cpu,
                    "sandbox_cpu_seconds": r.sandbox_cpu,
                    "journal_bytes": r.journal_bytes,
                    "summary": r.summary,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(json));
    } else {
        println!(
            "refund batch against the sandbox, {} journal, --concurrency {} per worker",
            if args.postgres.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            args.concurrency
        );
        println!(
            "{:>9} {:>7} {:>9} {:>10} {:>14} {:>13} {:>12} {:>12}",
            "rows",
            "workers",
            "seconds",
            "rows/s",
            "peak RSS MiB",
            "journal MiB",
            "refund CPU s",
            "sandbox CPU s"
        );
        for r in &runs {
            println!(
                "{:>9} {:>7} {:>9.2} {:>10.0} {:>14.1} {:>13.1} {:>12.2} {:>12.2}",
                r.rows,
                r.workers,
                r.seconds,
                r.rows as f64 / r.seconds,
                r.peak_rss_kib as f64 / 1024.0,
                r.journal_bytes as f64 / (1024.0 * 1024.0),
                r.cli_cpu,
                r.sandbox_cpu
            );
        }
        if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
            println!(
                "peak RSS at {} rows / at {} rows: {:.2}",
                last.rows,
                first.rows,
                last.peak_rss_kib as f64 / first.peak_rss_kib.max(1) as f64
            );
        }
    }
    Ok(())
}

fn seed(sandbox: &Sandbox, prefix: &str, rows: usize) -> Result<(), String> {
    let amount = Money::parse("10.00", Currency::USD).map_err(|e| e.to_string())?;
    for i in 0..rows {
        let id = format!("{prefix}{i}");
        let added = match i % 3 {
            0 => sandbox.plexy().add_payment(PlexyPayment::new(id, amount)),
            1 => sandbox
                .paynext()
                .add_payment(PayNextPayment::new(id, amount)),
            _ => sandbox
                .payabli()
                .add_payment(PayabliPayment::new(id, amount)),
        };
        added.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn write_csv(path: &Path, prefix: &str, rows: usize) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut w = std::io::BufWriter::new(file);
    let mut write = || -> std::io::Result<()> {
        writeln!(w, "provider,payment_id,amount,currency,reference,reason")?;
        for i in 0..rows {
            match i % 3 {
                0 => writeln!(w, "plexy,{prefix}{i},5.00,USD,{prefix}ref-{i},batch bench")?,
                1 => writeln!(w, "paynext,{prefix}{i},,,{prefix}ref-{i},")?,
                _ => writeln!(w, "payabli,{prefix}{i},,,{prefix}ref-{i},")?,
            }
        }
        w.flush()
    };
    write().map_err(|e| e.to_string())
}

#[allow(
    clippy::too_many_arguments,
    reason = "a private helper of a benchmark binary"
)]
fn run_batch(
    args: &Args,
    sandbox: &Sandbox,
    dir: &Path,
    prefix: &str,
    csv: &Path,
    rows: usize,
    workers: usize,
) -> Result<Run, String> {
    let sqlite = dir.join(format!("{prefix}journal.sqlite"));
    let journal = match &args.postgres {
        Some(url) => url.clone(),
        None => sqlite.to_string_lossy().into_owned(),
    };
    let command = |w: usize| {
        let report = dir.join(format!("{prefix}report-{w}.jsonl"));
        let mut cmd = Command::new(&args.refund);
        cmd.args(["--output", "json", "batch"])
            .arg(csv)
            .arg("--journal")
            .arg(&journal)
            .arg("--concurrency")
            .arg(args.concurrency.to_string())
            .arg("--report")
            .arg(&report)
            .env("PLEXY_API_KEY", sandbox.plexy().api_key().expose_secret())
            .env("PLEXY_BASE_URL", sandbox.plexy().base_url())
            .env(
                "PAYNEXT_API_KEY",
                sandbox.paynext().api_key().expose_secret(),
            )
            .env("PAYNEXT_BASE_URL", sandbox.paynext().base_url())
            .env(
                "PAYABLI_API_TOKEN",
                sandbox.payabli().api_key().expose_secret(),
            )
            .env("PAYABLI_BASE_URL", sandbox.payabli().base_url())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if args.postgres.is_some() {
            cmd.arg("--batch-id").arg(format!("{prefix}bench"));
        }
        cmd
    };
    let started = Instant::now();
    let sandbox_cpu_before = cpu_seconds("self").unwrap_or(0.0);
    let mut children = (0..workers)
        .map(|w| {
            command(w)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", args.refund.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pids: Vec<u32> = children.iter().map(std::process::Child::id).collect();
    let mut peak = 0;
    let mut cpu = vec![0.0; workers];
    let mut exited = vec![false; workers];
    while exited.iter().any(|e| !e) {
        for ((child, pid), (cpu, exited)) in children
            .iter_mut()
            .zip(&pids)
            .zip(cpu.iter_mut().zip(exited.iter_mut()))
        {
            if *exited {
                continue;
            }
            if let Some(kib) = peak_rss_kib(*pid) {
                peak = peak.max(kib);
            }
            if let Some(c) = cpu_seconds(&pid.to_string()) {
                *cpu = c;
            }
            *exited = child.try_wait().map_err(|e| e.to_string())?.is_some();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let seconds = started.elapsed().as_secs_f64();
    let sandbox_cpu = cpu_seconds("self").unwrap_or(0.0) - sandbox_cpu_before;
    let mut summary = serde_json::Value::Null;
    for child in children {
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        summary = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| {
                format!(
                    "no JSON summary from refund batch (exit {:?}): {stdout} {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
        let count = |o: &str| {
            summary
                .get("outcomes")
                .and_then(|x| x.get(o))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        let done = count("succeeded") + count("pending");
        if done != u64::try_from(rows).unwrap_or(0) {
            return Err(format!(
                "{rows} rows, but {done} succeeded or pending: {summary} {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let journal_bytes = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| {
            let mut p = sqlite.clone().into_os_string();
            p.push(s);
            std::fs::metadata(p).ok().map(|m| m.len())
        })
        .sum();
    Ok(Run {
        rows,
        workers,
        seconds,
        peak_rss_kib: peak,
        cli_cpu: cpu.iter().sum(),
        sandbox_cpu,
        journal_bytes,
        summary,
    })
}
