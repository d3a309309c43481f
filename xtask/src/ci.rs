//! `cargo xtask ci`: every check CI runs, in order, so that a local run and CI agree.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Result, cargo, cargo_home, run as run_cmd, workspace_root};

/// Arguments of `cargo xtask ci`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Skip `cargo deny` (for quick local runs; CI never skips it).
    #[arg(long)]
    skip_deny: bool,
}

/// The directory cargo-deny uses for its default advisory database URL.
const ADVISORY_DB_DIR: &str = "advisory-db-3157b0e258782691";
const ADVISORY_DB_URL: &str = "https://github.com/rustsec/advisory-db";

pub(crate) fn run_step(name: &str, cmd: Command) -> Result {
    eprintln!("\n==> {name}");
    let started = Instant::now();
    let result = run_cmd(cmd);
    eprintln!(
        "<== {name}: {} in {:.1}s",
        if result.is_ok() { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    result
}

pub(crate) fn run(args: Args) -> Result {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_step("fmt", fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    run_step("clippy", clippy)?;

    let mut test = cargo();
    test.args(["test", "--workspace", "--locked"]);
    run_step("test", test)?;

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run_step("doc", doc)?;

    if args.skip_deny {
        eprintln!("\n==> deny: skipped (--skip-deny)");
    } else {
        deny()?;
    }

    if crate::codegen::AVAILABLE {
        let mut cmd = cargo();
        cmd.args(["xtask", "codegen", "--check"]);
        run_step("codegen freshness", cmd)?;
    }

    facade_feature_subsets()?;

    // The release dry run: publish order, metadata, package contents, `cargo package` of every
    // crate. Strict (clean tree) in CI; a developer's uncommitted work is allowed locally.
    let mut release = cargo();
    release.args(["xtask", "release", "patch"]);
    if std::env::var_os("CI").is_none() {
        release.arg("--allow-dirty");
    }
    run_step("release dry run", release)?;

    // The README's run command.
    let mut demo = cargo();
    demo.args(["run", "--locked", "-p", "refund-cli", "--", "demo"]);
    run_step("demo", demo)?;
    eprintln!("\nxtask ci: all checks passed");
    Ok(())
}

/// Every subset of the facade's provider features builds (a `cargo hack --feature-powerset`
/// without the extra tool): an app compiles only the vendors it uses.
fn facade_feature_subsets() -> Result {
    const FEATURES: [&str; 3] = ["plexy", "paynext", "payabli"];
    for mask in 0..(1u32 << FEATURES.len()) {
        let chosen: Vec<&str> = FEATURES
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, f)| *f)
            .collect();
        let mut cmd = cargo();
        cmd.args([
            "clippy",
            "--locked",
            "-p",
            "refund-facade",
            "--no-default-features",
        ]);
        if !chosen.is_empty() {
            cmd.args(["--features", &chosen.join(",")]);
        }
        cmd.args(["--", "-D", "warnings"]);
        let name = format!("facade features [{}]", chosen.join(","));
        run_step(&name, cmd)?;
    }
    Ok(())
}

fn deny() -> Result {
    ensure_cargo_deny()?;
    let offline = seed_advisory_db_if_offline()?;
    let mut cmd = cargo();
    if offline {
        let mut fetch = cargo();
        fetch.args(["fetch", "--locked"]);
        run_step("fetch (for offline deny)", fetch)?;
        cmd.args(["deny", "--offline", "check"]);
    } else {
        cmd.args(["deny", "check"]);
    }
    run_step("deny", cmd)
}

fn ensure_cargo_deny() -> Result {
    let present = cargo()
        .args(["deny", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    let mut install = cargo();
    install.args(["install", "--locked", "cargo-deny"]);
    run_step("install cargo-deny", install)
}

/// The RustSec database's host is unreachable from our build machines; a git bundle of a
/// snapshot sits in `../shared/advisory-db.bundle`. When the online fetch is impossible and the
/// bundle exists, clone it where cargo-deny looks and tell the caller to run offline. On a
/// machine with network the normal online check runs.
fn seed_advisory_db_if_offline() -> Result<bool> {
    if std::env::var_os("REFUND_DENY_ONLINE").is_some() || advisory_host_reachable() {
        return Ok(false);
    }
    let bundle = workspace_root().join("../shared/advisory-db.bundle");
    let target = cargo_home().join("advisory-dbs").join(ADVISORY_DB_DIR);
    if target.join(".git").exists() || target.join("HEAD").exists() {
        eprintln!(
            "advisory database: offline, using the copy in {}",
            target.display()
        );
        return Ok(true);
    }
    if !bundle.exists() {
        return Err(format!(
            "the advisory database cannot be fetched and no bundle exists at {}",
            bundle.display()
        ));
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut clone = Command::new("git");
    clone
        .args(["clone", "--quiet", "--branch", "main"])
        .arg(&bundle)
        .arg(&target);
    run_step("seed advisory database from bundle", clone)?;
    // cargo-deny checks the remote URL of the clone; point it at the real database.
    let mut remote = Command::new("git");
    remote
        .arg("-C")
        .arg(&target)
        .args(["remote", "set-url", "origin", ADVISORY_DB_URL]);
    run_cmd(remote)?;
    Ok(true)
}

fn advisory_host_reachable() -> bool {
    let child = Command::new("git")
        .args(["ls-remote", "--heads", ADVISORY_DB_URL])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}
