//! The built `refund` binary against the sandbox: `demo`, `sandbox`, `create` and `status`, both
//! output modes, every exit code, and no secret in any output.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{
    Output, WRONG_KEY, assert_error_shape, assert_refund_shape, refund, refund_run, request_count,
    run,
};
use refund_facade::refund_core::{Currency, Money};
use refund_sandbox::plexy::{self, PlexyPayment};
use refund_sandbox::{Fault, FaultKind, Operation, Sandbox, payabli, paynext};
use serde_json::{Value, json};

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

fn assert_code(out: &Output, code: i32) {
    assert_eq!(out.code, code, "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// demo

#[test]
fn demo_tours_the_three_providers_in_both_output_modes() {
    let human = refund(None).arg("demo").output().unwrap();
    let stdout = String::from_utf8(human.stdout).unwrap();
    assert_eq!(human.status.code(), Some(0), "{stdout}");
    assert!(
        human.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&human.stderr)
    );
    for expected in [
        "refund-rs demo",
        "provider  payment",
        "succeeded (reconciled)",
        "declined",
        "pending",
        "error: unsupported",
        "1.250 KWD",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in\n{stdout}");
    }
    assert!(
        stdout.lines().all(|l| l == l.trim_end()),
        "no trailing spaces"
    );

    let json = refund(None)
        .args(["demo", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(0));
    assert!(json.stderr.is_empty());
    let rows: Value = serde_json::from_slice(&json.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let outcome = |r: &Value| {
        r["result"]["outcome"]
            .as_str()
            .or(r["result"]["error"]["kind"].as_str())
            .unwrap()
            .to_owned()
    };
    let summary: Vec<(String, String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["provider"].as_str().unwrap().to_owned(),
                outcome(r),
                r["applied_by_sandbox"].as_u64().unwrap(),
            )
        })
        .collect();
    let expect = |p: &str, o: &str, a: u64| (p.to_owned(), o.to_owned(), a);
    assert_eq!(
        summary,
        vec![
            expect("plexy", "succeeded", 1),
            expect("plexy", "succeeded", 1),
            expect("plexy", "declined", 0),
            expect("plexy", "succeeded", 1),
            expect("paynext", "pending", 1),
            expect("paynext", "unsupported", 0),
            expect("payabli", "succeeded", 1),
            expect("payabli", "succeeded", 1),
            expect("payabli", "declined", 0),
        ]
    );
    // The two faults were reconciled by a lookup, never by a second refund.
    let reconciled: Vec<bool> = rows
        .iter()
        .map(|r| r["result"]["reconciled"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(
        reconciled,
        [false, false, false, true, false, false, false, true, false]
    );
    assert_eq!(rows[1]["result"]["refund"]["amount"], "1.250");
    assert_eq!(rows[1]["result"]["refund"]["currency"], "KWD");
    assert_refund_shape(&rows[0]["result"]["refund"]);
}

// ---------------------------------------------------------------------------------------------
// sandbox

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_prints_its_urls_keys_and_payments_and_serves_until_interrupted() {
    let mut child = refund(None)
        .args(["sandbox", "--addr", "127.0.0.1:0", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (line, _rest) = common::first_line(&mut child, Duration::from_secs(30));
    let described: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(common::keys(&described), ["payabli", "paynext", "plexy"]);
    let expect = [
        (
            "plexy",
            "PLEXY_API_KEY",
            "PLEXY_BASE_URL",
            plexy::DEFAULT_API_KEY,
            "/v1",
            plexy::seed::REFUNDABLE_USD,
            "100.00",
            "USD",
        ),
        (
            "paynext",
            "PAYNEXT_API_KEY",
            "PAYNEXT_BASE_URL",
            paynext::DEFAULT_API_KEY,
            "",
            paynext::seed::SETTLED_KWD,
            "12.345",
            "KWD",
        ),
        (
            "payabli",
            "PAYABLI_API_TOKEN",
            "PAYABLI_BASE_URL",
            payabli::DEFAULT_API_KEY,
            "/api",
            payabli::seed::SETTLED_JPY,
            "10000",
            "JPY",
        ),
    ];
    let mut env = Vec::new();
    for (name, key_var, url_var, key, path, payment, amount, currency) in expect {
        let p = &described[name];
        assert_eq!(common::keys(p), ["api_key", "base_url", "env", "payments"]);
        let base = p["base_url"].as_str().unwrap();
        assert!(
            base.starts_with("http://127.0.0.1:") && base.ends_with(path),
            "{base}"
        );
        assert_eq!(p["api_key"], key);
        assert_eq!(p["env"], json!({ key_var: key, url_var: base }));
        let seeded = p["payments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == payment)
            .unwrap_or_else(|| panic!("{payment} in {p}"));
        assert_eq!(seeded["amount"], amount);
        assert_eq!(seeded["currency"], currency);
        assert_eq!(seeded["balance"], amount);
        env.push((key_var, key.to_owned()));
        env.push((url_var, base.to_owned()));
    }

    // The printed variables are all a client needs: refund through the child's emulators.
    let mut create = refund(None);
    create.envs(env.clone()).args([
        "create",
        "--provider",
        "plexy",
        "--payment",
        plexy::seed::REFUNDABLE_USD,
        "--amount",
        "10.50",
        "--currency",
        "USD",
        "--reference",
        "rf-through-child",
        "--output",
        "json",
    ]);
    let out = run(create).await;
    assert_code(&out, 0);
    assert_eq!(out.json()["outcome"], "succeeded");
    assert_eq!(out.json()["amount"], "10.50");

    // Ctrl-C stops it cleanly.
    let killed = std::process::Command::new("kill")
        .args(["-s", "INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = common::wait_child(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn sandbox_human_output_lists_the_exports_and_payments() {
    let mut child = refund(None)
        .args(["sandbox"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (first, mut rest) = common::first_line(&mut child, Duration::from_secs(30));
    assert!(
        first.starts_with("refund sandbox: three emulators"),
        "{first}"
    );
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !text.contains("payabli:") || !text.contains(payabli::seed::SETTLED_JPY) {
        assert!(Instant::now() < deadline, "{text}");
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut rest, &mut line).unwrap() == 0 {
            break;
        }
        text.push_str(&line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        text.contains("  export PLEXY_API_KEY=plexy_sandbox_key"),
        "{text}"
    );
    assert!(
        text.contains("  export PLEXY_BASE_URL=http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains(plexy::seed::DECLINE_51_USD), "{text}");
}

#[test]
fn sandbox_refuses_a_non_loopback_address() {
    let out = refund(None)
        .args(["sandbox", "--addr", "0.0.0.0:0", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(assert_error_shape(&v)["kind"], "config");
}

// ---------------------------------------------------------------------------------------------
// create and status: outcomes and JSON shapes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_reports_each_outcome_with_its_exit_code_and_exact_json() {
    let s = Sandbox::start().await.unwrap();
    let json = |args: &[&str]| {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--output", "json"]);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let create = |args: Vec<String>| {
        let s = &s;
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = refund_run(s, &refs).await;
            assert!(out.stderr.is_empty(), "{out:?}");
            out
        }
    };

    // Full refund on Plexy.
    let out = create(json(&[
        "--provider",
        "plexy",
        "--payment",
        plexy::seed::REFUNDABLE_USD,
        "--reference",
        "rf-full",
        "--reason",
        "duplicate charge",
    ]))
    .await;
    assert_code(&out, 0);
    let v = out.json();
    assert_refund_shape(&v);
    assert_eq!(v["provider"], "plexy");
    assert_eq!(v["payment_id"], plexy::seed::REFUNDABLE_USD);
    assert_eq!(v["reference"], "rf-full");
    assert_eq!(v["outcome"], "succeeded");
    assert_eq!(v["provider_code"], "00");
    assert!(v["refund_id"].is_string());
    assert_eq!(v["message"], Value::Null);
    assert_eq!(s.plexy().applied_refunds_with_reference("rf-full"), 1);
    assert_eq!(
        s.plexy()
            .payment(plexy::seed::REFUNDABLE_USD)
            .unwrap()
            .balance,
        usd("0")
    );

    // Partial refunds: amounts are decimal strings with the currency's digits.
    for (provider, payment, amount, currency, expected) in [
        ("plexy", plexy::seed::REFUNDABLE_KWD, "1.25", "KWD", "1.250"),
        ("plexy", plexy::seed::REFUNDABLE_JPY, "100", "JPY", "100"),
        (
            "payabli",
            payabli::seed::SETTLED_USD,
            "10.5",
            "USD",
            "10.50",
        ),
    ] {
        let reference = format!("rf-partial-{provider}-{currency}");
        let out = create(json(&[
            "--provider",
            provider,
            "--payment",
            payment,
            "--amount",
            amount,
            "--currency",
            currency,
            "--reference",
            &reference,
        ]))
        .await;
        assert_code(&out, 0);
        let v = out.json();
        assert_refund_shape(&v);
        assert_eq!(v["outcome"], "succeeded", "{v}");
        assert_eq!(
            (v["amount"].as_str(), v["currency"].as_str()),
            (Some(expected), Some(currency))
        );
    }
    assert_eq!(
        s.payabli()
            .applied_refunds_with_reference("rf-partial-payabli-USD"),
        1
    );

    // PayNext starts pending: exit 0.
    let out = create(json(&[
        "--provider",
        "paynext",
        "--payment",
        paynext::seed::FIXTURE_USD,
        "--reference",
        "rf-pn",
    ]))
    .await;
    assert_code(&out, 0);
    let v = out.json();
    assert_refund_shape(&v);
    assert_eq!(v["outcome"], "pending");
    assert_eq!(
        (v["amount"].as_str(), v["currency"].as_str()),
        (Some("150.00"), Some("USD"))
    );
    assert_eq!(s.paynext().applied_refunds(paynext::seed::FIXTURE_USD), 1);

    // Declines: exit 3, with the provider's code and message.
    for (provider, payment, code) in [
        ("plexy", plexy::seed::DECLINE_51_USD, "51"),
        ("payabli", payabli::seed::DECLINE_D0100_USD, "D0100"),
    ] {
        let out = create(json(&[
            "--provider",
            provider,
            "--payment",
            payment,
            "--reference",
            "rf-declined",
        ]))
        .await;
        assert_code(&out, 3);
        let v = out.json();
        assert_refund_shape(&v);
        assert_eq!(v["outcome"], "declined");
        assert_eq!(v["provider_code"], code);
        assert!(v["message"].is_string(), "{v}");
    }
    assert_eq!(s.plexy().applied_refunds(plexy::seed::DECLINE_51_USD), 0);

    // Human mode: the same refund, readable, on stdout.
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::PARTIALLY_REFUNDED_USD,
            "--amount",
            "5",
            "--currency",
            "USD",
            "--reference",
            "rf-human",
        ],
    )
    .await;
    assert_code(&out, 0);
    assert!(out.stderr.is_empty());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "succeeded refund rf-human on plexy for payment {}: 5.00 USD",
            plexy::seed::PARTIALLY_REFUNDED_USD
        )
    );
    assert!(lines[1].starts_with("  provider refund id: "), "{lines:?}");
    assert_eq!(lines[2], "  provider code: 00");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_generates_and_prints_a_reference_when_none_is_given() {
    let s = Sandbox::start().await.unwrap();
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::REFUNDABLE_USD,
            "--amount",
            "1",
            "--currency",
            "USD",
        ],
    )
    .await;
    assert_code(&out, 0);
    let first = out.stdout.lines().next().unwrap();
    let reference = first
        .strip_prefix("generated reference: ")
        .unwrap_or_else(|| panic!("{first}"));
    assert!(
        reference.starts_with("rf-") && reference.len() == 39,
        "{reference}"
    );
    assert!(
        out.stdout
            .contains(&format!("succeeded refund {reference} on plexy"))
    );
    assert_eq!(s.plexy().applied_refunds_with_reference(reference), 1);

    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::REFUNDABLE_USD,
            "--amount",
            "1",
            "--currency",
            "USD",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 0);
    let v = out.json();
    assert_refund_shape(&v);
    let generated = v["reference"].as_str().unwrap();
    assert!(
        generated.starts_with("rf-") && generated != reference,
        "{generated}"
    );
    assert_eq!(s.plexy().applied_refunds_with_reference(generated), 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_what_the_provider_says() {
    let s = Sandbox::start().await.unwrap();
    for (provider, payment) in [
        ("plexy", plexy::seed::REFUNDABLE_USD),
        ("paynext", paynext::seed::SETTLED_JPY),
        ("payabli", payabli::seed::SETTLED_KWD),
    ] {
        let out = refund_run(
            &s,
            &[
                "create",
                "--provider",
                provider,
                "--payment",
                payment,
                "--reference",
                "rf-st",
            ],
        )
        .await;
        assert!(out.code == 0, "{out:?}");
    }
    let before = request_count(&s);
    let status = |provider: &'static str, payment: &'static str, output: &'static str| {
        let s = &s;
        async move {
            refund_run(
                s,
                &[
                    "status",
                    "--provider",
                    provider,
                    "--payment",
                    payment,
                    "--reference",
                    "rf-st",
                    "--output",
                    output,
                ],
            )
            .await
        }
    };
    let out = status("plexy", plexy::seed::REFUNDABLE_USD, "json").await;
    assert_code(&out, 0);
    let v = out.json();
    assert_refund_shape(&v);
    assert_eq!(
        (v["outcome"].as_str(), v["reference"].as_str()),
        (Some("succeeded"), Some("rf-st"))
    );

    let out = status("paynext", paynext::seed::SETTLED_JPY, "json").await;
    assert_code(&out, 0);
    assert_eq!(out.json()["outcome"], "pending");
    s.paynext().resolve_pending();
    let out = status("paynext", paynext::seed::SETTLED_JPY, "json").await;
    assert_code(&out, 0);
    assert_eq!(out.json()["outcome"], "succeeded");
    assert_eq!(out.json()["amount"], "10000");

    let out = status("payabli", payabli::seed::SETTLED_KWD, "human").await;
    assert_code(&out, 0);
    assert!(
        out.stdout.starts_with(&format!(
            "succeeded refund rf-st on payabli for payment {}",
            payabli::seed::SETTLED_KWD
        )),
        "{out:?}"
    );

    // Lookups only: no refund request was sent by `status`.
    assert_eq!(common::refund_request_count(&s), 3);
    assert!(request_count(&s) > before);
    s.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Exit code 4: refused without applying anything

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_refused_before_any_request() {
    let s = Sandbox::start().await.unwrap();
    let p = plexy::seed::REFUNDABLE_USD;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--provider",
                "plexy",
                "--payment",
                p,
                "--amount",
                "10.001",
                "--currency",
                "USD",
            ],
            "invalid_input",
        ),
        (
            vec![
                "--provider",
                "plexy",
                "--payment",
                p,
                "--amount",
                "1.5",
                "--currency",
                "JPY",
            ],
            "invalid_input",
        ),
        (
            vec![
                "--provider",
                "plexy",
                "--payment",
                p,
                "--amount",
                "0",
                "--currency",
                "USD",
            ],
            "invalid_input",
        ),
        (
            vec![
                "--provider",
                "plexy",
                "--payment",
                p,
                "--amount=-5",
                "--currency",
                "USD",
            ],
            "invalid_input",
        ),
        (
            vec![
                "--provider",
                "plexy",
                "--payment",
                p,
                "--amount",
                "1e3",
                "--currency",
                "USD",
            ],
            "invalid_input",
        ),
        (
            vec![
                "--provider",
                "plexy",
                "--payment",
                p,
                "--amount",
                "10",
                "--currency",
                "ABC",
            ],
            "invalid_input",
        ),
        (
            vec![
                "--provider",
                "plexy",
                "--payment",
                p,
                "--reference",
                "bad ref",
            ],
            "invalid_input",
        ),
        (
            vec!["--provider", "plexy", "--payment", p, "--reference", ""],
            "invalid_input",
        ),
        (
            vec!["--provider", "plexy", "--payment", ""],
            "invalid_input",
        ),
        (
            vec![
                "--provider",
                "paynext",
                "--payment",
                paynext::seed::FIXTURE_USD,
                "--amount",
                "1",
                "--currency",
                "USD",
            ],
            "unsupported",
        ),
    ];
    for (args, kind) in cases {
        let mut all = vec!["create", "--output", "json"];
        all.extend_from_slice(&args);
        let out = refund_run(&s, &all).await;
        assert_code(&out, 4);
        let v = out.json();
        assert_eq!(assert_error_shape(&v)["kind"], kind, "{args:?}: {v}");
        assert!(out.stderr.is_empty());
    }
    for args in [
        vec!["--payment", "", "--reference", "rf-1"],
        vec!["--payment", p, "--reference", "bad ref"],
    ] {
        let mut all = vec!["status", "--provider", "plexy", "--output", "json"];
        all.extend_from_slice(&args);
        let out = refund_run(&s, &all).await;
        assert_code(&out, 4);
        assert_eq!(assert_error_shape(&out.json())["kind"], "invalid_input");
    }
    // Human mode: the error on stderr, nothing on stdout.
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            p,
            "--amount",
            "1.001",
            "--currency",
            "USD",
            "--reference",
            "rf-h",
        ],
    )
    .await;
    assert_code(&out, 4);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.starts_with("error (invalid_input): "),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("reference: rf-h"), "{}", out.stderr);

    assert_eq!(request_count(&s), 0, "nothing reached a provider");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_name_the_variable_and_send_nothing() {
    let s = Sandbox::start().await.unwrap();
    // No key for the provider.
    let mut cmd = refund(Some(&s));
    cmd.env_remove("PAYABLI_API_TOKEN").args([
        "create",
        "--provider",
        "payabli",
        "--payment",
        payabli::seed::SETTLED_USD,
        "--output",
        "json",
    ]);
    let out = run(cmd).await;
    assert_code(&out, 4);
    let v = out.json();
    let e = assert_error_shape(&v);
    assert_eq!(e["kind"], "config");
    assert!(
        e["message"].as_str().unwrap().contains("PAYABLI_API_TOKEN"),
        "{v}"
    );
    assert!(e["reference"].as_str().unwrap().starts_with("rf-"), "{v}");

    // Plain http to a host that is not loopback.
    let mut cmd = refund(Some(&s));
    cmd.env("PLEXY_BASE_URL", "http://example.com/v1").args([
        "status",
        "--provider",
        "plexy",
        "--payment",
        "p1",
        "--reference",
        "rf-1",
        "--output",
        "json",
    ]);
    let out = run(cmd).await;
    assert_code(&out, 4);
    let v = out.json();
    assert_eq!(assert_error_shape(&v)["kind"], "config");
    assert_eq!(v["error"]["reference"], "rf-1");

    // Human mode.
    let mut cmd = refund(None);
    cmd.args([
        "status",
        "--provider",
        "paynext",
        "--payment",
        "p1",
        "--reference",
        "rf-1",
    ]);
    let out = run(cmd).await;
    assert_code(&out, 4);
    assert!(
        out.stderr
            .contains("error (config): PAYNEXT_API_KEY is not set"),
        "{}",
        out.stderr
    );
    assert_eq!(request_count(&s), 0);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_by_the_provider_exit_4() {
    let s = Sandbox::start().await.unwrap();
    // A wrong key: auth, and the key is never printed (checked by `run` for every output).
    for output in ["json", "human"] {
        let mut cmd = refund(Some(&s));
        cmd.env("PLEXY_API_KEY", WRONG_KEY).args([
            "create",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::REFUNDABLE_USD,
            "--reference",
            "rf-auth",
            "--output",
            output,
            "-vv",
        ]);
        let out = run(cmd).await;
        assert_code(&out, 4);
        if output == "json" {
            assert_eq!(assert_error_shape(&out.json())["kind"], "auth");
        } else {
            assert!(out.stderr.contains("error (auth)"), "{}", out.stderr);
        }
    }
    // An unknown payment: not found.
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            "no-such-payment",
            "--reference",
            "rf-nf",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 4);
    let v = out.json();
    assert_eq!(assert_error_shape(&v)["kind"], "not_found");
    assert_eq!(v["error"]["reference"], "rf-nf");
    // A refund the provider refuses (nothing left to refund): invalid input.
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::FULLY_REFUNDED_USD,
            "--reference",
            "rf-zero",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 4);
    assert_eq!(assert_error_shape(&out.json())["kind"], "invalid_input");
    // `status` of a refund that does not exist.
    let out = refund_run(
        &s,
        &[
            "status",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::REFUNDABLE_USD,
            "--reference",
            "rf-never",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 4);
    let v = out.json();
    assert_eq!(assert_error_shape(&v)["kind"], "not_found");
    assert_eq!(v["error"]["reference"], "rf-never");
    assert_eq!(s.plexy().applied_refunds(plexy::seed::REFUNDABLE_USD), 0);
    s.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Exit code 5: outcome unknown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_that_cannot_be_established_exits_5() {
    let s = Sandbox::start().await.unwrap();
    s.plexy()
        .add_payment(PlexyPayment::new("pl-unknown", usd("50.00")))
        .unwrap();
    // Every refund answer is a 500 (which may hide an applied refund) and the lookups keep
    // proving absence: after the bounded re-sends the facade gives up with OutcomeUnknown.
    s.plexy()
        .inject(
            Fault::new(FaultKind::ServerErrorBeforeApplying(500))
                .for_payment("pl-unknown")
                .only(Operation::Refund)
                .times(3),
        )
        .unwrap();
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            "pl-unknown",
            "--reference",
            "rf-unknown",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 5);
    let v = out.json();
    let e = assert_error_shape(&v);
    assert_eq!(e["kind"], "outcome_unknown");
    assert_eq!(e["reference"], "rf-unknown");
    assert_eq!(common::refund_request_count(&s), 3);

    // `status` then establishes the truth (nothing was applied: not found), human mode.
    let out = refund_run(
        &s,
        &[
            "status",
            "--provider",
            "plexy",
            "--payment",
            "pl-unknown",
            "--reference",
            "rf-unknown",
        ],
    )
    .await;
    assert_code(&out, 4);
    assert!(out.stderr.contains("error (not_found)"), "{}", out.stderr);

    // Human mode of an unknown outcome says what to do.
    s.plexy()
        .inject(
            Fault::new(FaultKind::ServerErrorBeforeApplying(503))
                .for_payment("pl-unknown")
                .only(Operation::Refund)
                .times(3),
        )
        .unwrap();
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            "pl-unknown",
            "--reference",
            "rf-unknown-2",
        ],
    )
    .await;
    assert_code(&out, 5);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.starts_with("error (outcome_unknown): "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("reference: rf-unknown-2"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("run `refund status`"), "{}", out.stderr);
    assert_eq!(s.plexy().applied_refunds("pl-unknown"), 0);

    // A lookup answer that proves nothing (a gateway's HTML 404): status exits 5.
    s.plexy()
        .inject(Fault::new(FaultKind::HtmlErrorPage(404)).only(Operation::Lookup))
        .unwrap();
    let out = refund_run(
        &s,
        &[
            "status",
            "--provider",
            "plexy",
            "--payment",
            "pl-unknown",
            "--reference",
            "rf-unknown",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 5);
    let v = out.json();
    assert_eq!(assert_error_shape(&v)["kind"], "outcome_unknown");
    assert_eq!(v["error"]["reference"], "rf-unknown");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_refund_whose_lookups_keep_failing_exits_5_and_is_never_resent() {
    // Slow by design: the facade's default reconciliation waits 1+2+4+8+16 s between its six
    // lookups before it gives up (about 31 s; the other tests run meanwhile).
    let s = Sandbox::start().await.unwrap();
    s.plexy()
        .inject(
            Fault::new(FaultKind::CloseAfterApplying)
                .for_payment(plexy::seed::REFUNDABLE_USD)
                .only(Operation::Refund),
        )
        .unwrap();
    s.plexy()
        .inject(
            Fault::new(FaultKind::CloseBeforeApplying)
                .only(Operation::Lookup)
                .times(100),
        )
        .unwrap();
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::REFUNDABLE_USD,
            "--amount",
            "20",
            "--currency",
            "USD",
            "--reference",
            "rf-dark",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 5);
    let v = out.json();
    let e = assert_error_shape(&v);
    assert_eq!(e["kind"], "outcome_unknown");
    assert_eq!(e["reference"], "rf-dark");
    // Applied once, sent once: the lost answer was never "retried" by a second refund.
    assert_eq!(s.plexy().applied_refunds_with_reference("rf-dark"), 1);
    assert_eq!(common::refund_request_count(&s), 1);

    // Later, with the provider reachable again, `status` establishes the truth.
    s.plexy().clear_faults();
    let out = refund_run(
        &s,
        &[
            "status",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::REFUNDABLE_USD,
            "--reference",
            "rf-dark",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 0);
    let v = out.json();
    assert_eq!(
        (v["outcome"].as_str(), v["amount"].as_str()),
        (Some("succeeded"), Some("20.00"))
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_reconciled_not_resent() {
    let s = Sandbox::start().await.unwrap();
    // Applied, then the connection drops; the first lookup fails too; the second finds it.
    s.plexy()
        .inject(Fault::new(FaultKind::CloseAfterApplying).only(Operation::Refund))
        .unwrap();
    s.plexy()
        .inject(Fault::new(FaultKind::ServerErrorBeforeApplying(502)).only(Operation::Lookup))
        .unwrap();
    let out = refund_run(
        &s,
        &[
            "create",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::REFUNDABLE_JPY,
            "--amount",
            "500",
            "--currency",
            "JPY",
            "--reference",
            "rf-lost",
            "--output",
            "json",
            "-v",
        ],
    )
    .await;
    assert_code(&out, 0);
    let v = out.json();
    assert_eq!(
        (v["outcome"].as_str(), v["amount"].as_str()),
        (Some("succeeded"), Some("500"))
    );
    assert_eq!(s.plexy().applied_refunds_with_reference("rf-lost"), 1);
    assert_eq!(common::refund_request_count(&s), 1);
    // -v logs the attempt and the lookups on stderr (and never a key: checked by `run`).
    assert!(
        out.stderr.contains("reconciliation found the refund"),
        "{}",
        out.stderr
    );
    s.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Exit code 1: other failures

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_providers_and_failed_lookups_exit_1() {
    let s = Sandbox::start().await.unwrap();
    // A port where nothing listens (bound, then released).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cmd = refund(Some(&s));
    cmd.env("PLEXY_BASE_URL", format!("http://{closed}/v1"))
        .args([
            "create",
            "--provider",
            "plexy",
            "--payment",
            "p1",
            "--reference",
            "rf-down",
            "--output",
            "json",
        ]);
    let out = run(cmd).await;
    assert_code(&out, 1);
    let v = out.json();
    assert_eq!(assert_error_shape(&v)["kind"], "transport");
    assert_eq!(v["error"]["reference"], "rf-down");

    // A lookup answered with a 500: `status` cannot tell.
    s.payabli()
        .inject(
            Fault::new(FaultKind::ServerErrorBeforeApplying(500))
                .only(Operation::Lookup)
                .times(5),
        )
        .unwrap();
    let out = refund_run(
        &s,
        &[
            "status",
            "--provider",
            "payabli",
            "--payment",
            payabli::seed::SETTLED_USD,
            "--reference",
            "rf-x",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 1);
    assert_eq!(assert_error_shape(&out.json())["kind"], "provider");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_bounds_each_request() {
    let s = Sandbox::start().await.unwrap();
    // The refund is applied but its answer takes 30 s; with --timeout 0.5 the CLI gives up on
    // the answer and reconciles by a lookup instead of waiting.
    s.plexy()
        .inject(
            Fault::new(FaultKind::Delay(Duration::from_secs(30)))
                .for_payment(plexy::seed::REFUNDABLE_KWD)
                .only(Operation::Refund),
        )
        .unwrap();
    let started = Instant::now();
    let out = refund_run(
        &s,
        &[
            "--timeout",
            "0.5",
            "create",
            "--provider",
            "plexy",
            "--payment",
            plexy::seed::REFUNDABLE_KWD,
            "--reference",
            "rf-slow",
            "--output",
            "json",
        ],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_code(&out, 0);
    assert_eq!(out.json()["outcome"], "succeeded");
    assert_eq!(s.plexy().applied_refunds_with_reference("rf-slow"), 1);
    let log = s.plexy().requests();
    assert_eq!(log[0].fault.as_deref(), Some("delay"));
    assert_eq!(log[0].operation, Some(Operation::Refund));
    assert_eq!(log.len(), 2, "one refund, one lookup: {log:?}");
    s.shutdown().await;
}

/// Issue 16, item 4: a second `create` with the same reference on Payabli after a finished full
/// refund meets 409 and answers from the lookup at once (`RefundId` ≠ 0): exit 0, succeeded, no
/// second refund, no wait for the idempotency window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payabli_rerun_of_a_finished_refund_answers_at_once() {
    let s = Sandbox::start().await.unwrap();
    s.payabli()
        .add_payment(payabli::PayabliPayment::new("10-rerun-full", usd("100.00")))
        .unwrap();
    let args = [
        "create",
        "--provider",
        "payabli",
        "--payment",
        "10-rerun-full",
        "--reference",
        "rf-rerun-full",
        "--output",
        "json",
    ];
    let first = refund_run(&s, &args).await;
    assert_code(&first, 0);
    let again = refund_run(&s, &args).await;
    assert_code(&again, 0);
    assert_eq!(again.json()["outcome"], "succeeded");
    assert_refund_shape(&again.json());
    assert!(
        again.stderr.is_empty(),
        "no wait announced: {}",
        again.stderr
    );
    assert_eq!(s.payabli().applied_refunds("10-rerun-full"), 1);
    // The rerun: one POST answered 409, then one details lookup; nothing else.
    let log = s.payabli().requests();
    let seen: Vec<(String, Option<u16>)> =
        log.iter().map(|r| (r.method.clone(), r.status)).collect();
    assert_eq!(
        seen,
        [
            ("POST".to_owned(), Some(201)),
            ("POST".to_owned(), Some(409)),
            ("GET".to_owned(), Some(200)),
        ]
    );
    s.shutdown().await;
}

/// Payabli may show a refund only up to 2 minutes after it was sent (issue 16): `status` says so
/// when it sees none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payabli_status_without_a_refund_warns_that_one_may_show_late() {
    let s = Sandbox::start().await.unwrap();
    let out = refund_run(
        &s,
        &[
            "status",
            "--provider",
            "payabli",
            "--payment",
            payabli::seed::SETTLED_USD,
            "--reference",
            "rf-none",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 4);
    let v = out.json();
    let e = assert_error_shape(&v);
    assert_eq!(e["kind"], "not_found");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("up to 120s after it was sent"),
        "{}",
        e["message"]
    );
    s.shutdown().await;
}

/// Issue 16, item 4: a rerun of a finished partial refund meets 409, and the snapshot this run
/// took already includes the first refund, so nothing can prove absence: exit 5 with
/// `outcome_unknown` at once (the default budget would fit the 2-minute window, but waiting and
/// re-sending would refund twice), never a second refund.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payabli_rerun_of_a_partial_refund_exits_5_at_once() {
    let s = Sandbox::start().await.unwrap();
    s.payabli()
        .add_payment(payabli::PayabliPayment::new("10-rerun-part", usd("100.00")))
        .unwrap();
    let args = [
        "create",
        "--provider",
        "payabli",
        "--payment",
        "10-rerun-part",
        "--amount",
        "10.00",
        "--currency",
        "USD",
        "--reference",
        "rf-rerun-part",
        "--output",
        "json",
    ];
    assert_code(&refund_run(&s, &args).await, 0);
    let again = refund_run(&s, &args).await;
    assert_code(&again, 5);
    let v = again.json();
    let e = assert_error_shape(&v);
    assert_eq!(e["kind"], "outcome_unknown");
    assert_eq!(e["reference"], "rf-rerun-part");
    assert!(
        e["message"].as_str().unwrap().contains("earlier run"),
        "{}",
        e["message"]
    );
    assert_eq!(s.payabli().applied_refunds("10-rerun-part"), 1);
    s.shutdown().await;
}

/// Issue 16, item 4: when "absent" needs Payabli's 2-minute window to pass (a 500 on the refund
/// may hide a refund that shows late) and `--timeout 2` leaves no room for it, `create` exits 5
/// with `outcome_unknown` at once, saying why, and sends nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payabli_window_beyond_the_timeout_exits_5() {
    let s = Sandbox::start().await.unwrap();
    s.payabli()
        .add_payment(payabli::PayabliPayment::new("10-window", usd("100.00")))
        .unwrap();
    s.payabli()
        .inject(
            Fault::new(FaultKind::ServerErrorBeforeApplying(500))
                .for_payment("10-window")
                .only(Operation::Refund),
        )
        .unwrap();
    let out = refund_run(
        &s,
        &[
            "--timeout",
            "2",
            "create",
            "--provider",
            "payabli",
            "--payment",
            "10-window",
            "--reference",
            "rf-window",
            "--output",
            "json",
        ],
    )
    .await;
    assert_code(&out, 5);
    let v = out.json();
    let e = assert_error_shape(&v);
    assert_eq!(e["kind"], "outcome_unknown");
    assert!(
        e["message"].as_str().unwrap().contains("window"),
        "{}",
        e["message"]
    );
    assert_eq!(common::refund_request_count(&s), 1, "never re-sent");
    assert_eq!(s.payabli().applied_refunds("10-window"), 0);
    s.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Exit code 2: usage errors

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        vec![],
        vec!["refund-everything"],
        vec!["create", "--payment", "p1"],
        vec!["create", "--provider", "stripe", "--payment", "p1"],
        vec![
            "create",
            "--provider",
            "plexy",
            "--payment",
            "p1",
            "--amount",
            "10",
        ],
        vec![
            "create",
            "--provider",
            "plexy",
            "--payment",
            "p1",
            "--currency",
            "USD",
        ],
        vec!["status", "--provider", "plexy", "--payment", "p1"],
        vec![
            "--timeout",
            "0",
            "status",
            "--provider",
            "plexy",
            "--payment",
            "p1",
            "--reference",
            "r",
        ],
        vec!["--timeout", "soon", "demo"],
        vec!["--output", "yaml", "demo"],
        vec!["batch", "file.csv"],
        vec!["batch", "file.csv", "--journal", "j", "--concurrency", "0"],
    ] {
        let out = refund(None).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with("error:") || stderr.starts_with("Issue and track refunds"),
            "{args:?}: {stderr}"
        );
    }
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["sandbox", "--help"],
        vec!["create", "--help"],
        vec!["status", "--help"],
        vec!["batch", "--help"],
    ] {
        let out = refund(None).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .contains("Usage: refund")
        );
    }
    let batch_help = refund(None).args(["batch", "--help"]).output().unwrap();
    let text = String::from_utf8(batch_help.stdout).unwrap();
    assert!(text.contains("Exit codes: 0 every row ended"), "{text}");
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    // `refund demo --output json | head -c 10`: stdout closes early.
    let mut child = refund(None)
        .args(["demo", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}
