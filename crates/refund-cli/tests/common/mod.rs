//! Helpers shared by the CLI's integration tests: run the built `refund` binary against a
//! sandbox started in the test process, and check what it printed.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different part of these helpers"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use refund_sandbox::Sandbox;
use serde_json::Value;

/// The sandbox's API keys: none may ever appear in the CLI's output (except `refund sandbox`,
/// which prints its own test keys on purpose).
pub const SECRETS: [&str; 3] = [
    refund_sandbox::plexy::DEFAULT_API_KEY,
    refund_sandbox::paynext::DEFAULT_API_KEY,
    refund_sandbox::payabli::DEFAULT_API_KEY,
];

/// What a finished `refund` run left.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout parsed as exactly one JSON value.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim_end_matches('\n'))
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self:?}"))
    }
}

/// A `refund` command with an empty environment plus the variables of `sandbox`.
pub fn refund(sandbox: Option<&Sandbox>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refund"));
    cmd.env_clear();
    if let Some(s) = sandbox {
        cmd.envs(vars(s));
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// The configuration variables pointing at `sandbox`.
pub fn vars(s: &Sandbox) -> Vec<(&'static str, String)> {
    vec![
        (
            "PLEXY_API_KEY",
            s.plexy().api_key().expose_secret().to_owned(),
        ),
        ("PLEXY_BASE_URL", s.plexy().base_url().to_owned()),
        (
            "PAYNEXT_API_KEY",
            s.paynext().api_key().expose_secret().to_owned(),
        ),
        ("PAYNEXT_BASE_URL", s.paynext().base_url().to_owned()),
        (
            "PAYABLI_API_TOKEN",
            s.payabli().api_key().expose_secret().to_owned(),
        ),
        ("PAYABLI_BASE_URL", s.payabli().base_url().to_owned()),
        // The emulator's idempotency window (2 minutes unless a test made it shorter): the CLI
        // waits as long as the emulator remembers keys, no longer.
        (
            "PAYABLI_SANDBOX_IDEMPOTENCY_WINDOW_MS",
            s.payabli().idempotency_window().as_millis().to_string(),
        ),
    ]
}

/// The longest a `refund` run may take in these tests before it is killed and the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(90);

/// Runs `cmd` to completion off the async runtime (the sandbox keeps serving meanwhile), killing
/// it after [`RUN_LIMIT`], and checks that no API key appears in its output.
pub async fn run(mut cmd: Command) -> Output {
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let read = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                pipe.read_to_end(&mut text).unwrap();
                String::from_utf8(text).unwrap()
            })
        };
        let stdout = read(Box::new(child.stdout.take().unwrap()));
        let stderr = read(Box::new(child.stderr.take().unwrap()));
        let status = wait_child(&mut child, RUN_LIMIT);
        Output {
            code: status.code().expect("exited, not killed"),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        }
    })
    .await
    .unwrap();
    assert_no_secret(&out);
    out
}

/// Runs `refund <args>` against `sandbox`.
pub async fn refund_run(sandbox: &Sandbox, args: &[&str]) -> Output {
    let mut cmd = refund(Some(sandbox));
    cmd.args(args);
    run(cmd).await
}

/// No key of the sandbox (nor the wrong key the tests use) appears in the output.
pub fn assert_no_secret(out: &Output) {
    for secret in SECRETS.iter().chain([&WRONG_KEY]) {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "the key {secret:?} was printed: {out:?}"
        );
    }
}

/// A key the sandbox does not accept.
pub const WRONG_KEY: &str = "wrong-key-d41d8cd98f00b204";

/// The sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

/// The keys of the JSON object of one refund (`create`, `status`).
pub const REFUND_KEYS: [&str; 9] = [
    "amount",
    "currency",
    "message",
    "outcome",
    "payment_id",
    "provider",
    "provider_code",
    "reference",
    "refund_id",
];

/// Checks the exact shape of a refund JSON object: keys, and a string or null for each value.
pub fn assert_refund_shape(v: &Value) {
    assert_eq!(keys(v), REFUND_KEYS, "{v}");
    for k in ["provider", "payment_id", "reference", "outcome"] {
        assert!(v[k].is_string(), "{k} is a string: {v}");
    }
    for k in [
        "refund_id",
        "amount",
        "currency",
        "provider_code",
        "message",
    ] {
        assert!(v[k].is_string() || v[k].is_null(), "{k}: {v}");
    }
    assert!(
        ["succeeded", "pending", "declined"].contains(&v["outcome"].as_str().unwrap()),
        "{v}"
    );
    // An amount comes with its currency.
    assert_eq!(v["amount"].is_null(), v["currency"].is_null(), "{v}");
}

/// Checks the exact shape of the JSON error object and returns its body.
pub fn assert_error_shape(v: &Value) -> &Value {
    assert_eq!(keys(v), ["error"], "{v}");
    let e = &v["error"];
    assert_eq!(keys(e), ["kind", "message", "reference"], "{v}");
    assert!(e["kind"].is_string() && e["message"].is_string(), "{v}");
    assert!(
        e["reference"].is_string() || e["reference"].is_null(),
        "{v}"
    );
    e
}

/// Every request the three emulators received.
pub fn request_count(s: &Sandbox) -> usize {
    s.plexy().requests().len() + s.paynext().requests().len() + s.payabli().requests().len()
}

/// Every refund request the three emulators received.
pub fn refund_request_count(s: &Sandbox) -> usize {
    [
        s.plexy().requests(),
        s.paynext().requests(),
        s.payabli().requests(),
    ]
    .iter()
    .flatten()
    .filter(|r| r.operation == Some(refund_sandbox::Operation::Refund))
    .count()
}

/// Every refund the three emulators created (applied or declined).
pub fn refund_records(s: &Sandbox) -> usize {
    s.plexy().refunds().len() + s.paynext().refunds().len() + s.payabli().refunds().len()
}

/// Polls `condition` every few milliseconds until it holds; fails after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Like [`wait_until`], without blocking the runtime the sandbox runs on.
pub async fn wait_until_async(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits for a child to exit, killing it (and failing) after `limit`.
pub fn wait_child(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads the first line a child prints on stdout, within `limit`.
pub fn first_line(
    child: &mut Child,
    limit: Duration,
) -> (String, BufReader<std::process::ChildStdout>) {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line).map(|_| line);
        let _ = tx.send((read, reader));
    });
    match rx.recv_timeout(limit) {
        Ok((Ok(line), reader)) => (line, reader),
        Ok((Err(e), _)) => panic!("cannot read the child's stdout: {e}"),
        Err(_) => {
            let _ = child.kill();
            panic!("no line on stdout within {limit:?}");
        }
    }
}

/// The lines of a report file, parsed.
pub fn report_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Rows per journal state, read from the journal file (only while no batch holds it).
pub fn journal_states(path: &Path) -> std::collections::BTreeMap<String, u64> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let has_rows: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'rows'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if !has_rows {
        // Killed between creating the file and creating the table.
        return std::collections::BTreeMap::new();
    }
    let mut stmt = conn
        .prepare("SELECT state, COUNT(*) FROM rows GROUP BY state")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub mod pg;

/// A sandbox whose Payabli emulator remembers idempotency keys for 3 seconds instead of 2
/// minutes ([`vars`] tells the CLI): crash-recovery tests then wait 3 seconds, not 2 minutes,
/// before an "absent" Payabli lookup may lead to a re-send.
#[allow(dead_code, reason = "not every test binary uses it")]
pub async fn sandbox_with_short_payabli_window() -> Sandbox {
    Sandbox::start_with(
        refund_sandbox::plexy::PlexyConfig::default(),
        refund_sandbox::paynext::PayNextConfig::default(),
        refund_sandbox::payabli::PayabliConfig::default()
            .idempotency_window(Duration::from_secs(3)),
    )
    .await
    .unwrap()
}
