//! Overhead per refund on loopback (issue 10, part 2).
//!
//! For each provider, the same refund POST against the same in-process `refund-sandbox`
//! emulator, two ways, interleaved in one run:
//! - **ours**: `Router::refund` (facade: capability check, in-flight claim, reconciliation
//!   machinery) over the vendor client (request building, validation, the shared HTTP layer with
//!   its timeout, size cap and tracing span, typed decode and mapping), configured exactly as an
//!   application does (`providers_from_vars`);
//! - **baseline**: a minimal hand-written `reqwest` call: format the URL and body, send, read the
//!   bytes, parse a `serde_json::Value`, read the one field that says whether it worked.
//!
//! Every refund goes to a fresh payment, so both paths do the same work on the server; the
//! emulator is reset and reseeded every 500 sequential calls and before every concurrent round,
//! so that its in-memory state (which some of its lookups scan) stays small. The
//! sandbox runs on its own runtime thread; the client side runs on a current-thread runtime, so
//! each side has one of the machine's two cores.
//!
//! Sequential: latency percentiles of each path, the two paths alternating call by call.
//! Concurrency 64: throughput of each path over rounds in ABBA order, each path starting from a
//! freshly reseeded emulator; the median round of each. Prints a table, or one JSON object with `--json`.
//!
//! With `--calibrate`, "ours" is replaced by a second copy of the baseline (its own
//! `reqwest::Client`, its own payments): an A/A run, whose ratios show what the design itself
//! reads as a difference between two identical paths.
//!
//! Usage: `overhead [--sequential N] [--concurrent N] [--rounds R] [--provider NAME] [--json]
//! [--diagnose | --calibrate]`

#![allow(
    clippy::float_arithmetic,
    reason = "latency statistics are floats; no money is involved"
)]

use std::time::{Duration, Instant};

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use refund_bench::stats::{median, micros, percentile};
use refund_core::{
    Currency, Money, PaymentId, ProviderId, RefundProvider, RefundReference, RefundRequest,
};
use refund_facade::{ClientOptions, Router};
use refund_sandbox::Sandbox;
use refund_sandbox::payabli::PayabliPayment;
use refund_sandbox::paynext::PayNextPayment;
use refund_sandbox::plexy::PlexyPayment;

const CONCURRENCY: usize = 64;
const WARMUP: usize = 300;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Provider {
    Plexy,
    PayNext,
    Payabli,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Plexy => "plexy",
            Provider::PayNext => "paynext",
            Provider::Payabli => "payabli",
        }
    }

    fn id(self) -> ProviderId {
        match self {
            Provider::Plexy => ProviderId::PLEXY,
            Provider::PayNext => ProviderId::PAYNEXT,
            Provider::Payabli => ProviderId::PAYABLI,
        }
    }
}

struct Args {
    sequential: usize,
    concurrent: usize,
    rounds: usize,
    providers: Vec<Provider>,
    json: bool,
    diagnose: bool,
    calibrate: bool,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        sequential: 20_000,
        concurrent: 4000,
        rounds: 16,
        providers: vec![Provider::Plexy, Provider::PayNext, Provider::Payabli],
        json: false,
        diagnose: false,
        calibrate: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--sequential" => args.sequential = number("--sequential")?,
            "--concurrent" => args.concurrent = number("--concurrent")?,
            "--rounds" => args.rounds = number("--rounds")?.max(1),
            "--json" => args.json = true,
            "--diagnose" => args.diagnose = true,
            "--calibrate" => args.calibrate = true,
            "--provider" => {
                let p = match it.next().as_deref() {
                    Some("plexy") => Provider::Plexy,
                    Some("paynext") => Provider::PayNext,
                    Some("payabli") => Provider::Payabli,
                    other => return Err(format!("unknown provider {other:?}")),
                };
                args.providers = vec![p];
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// What the two paths need to reach one emulator.
struct Target {
    provider: Provider,
    base_url: String,
    key: String,
    router: Router,
    client: Arc<dyn RefundProvider>,
    http: reqwest::Client,
    /// The A/A copy's own client (`--calibrate`).
    twin: reqwest::Client,
    /// Whether "ours" is the A/A copy of the baseline.
    calibrate: bool,
}

fn main() -> Result<(), String> {
    let args = args()?;
    // The sandbox on its own thread (one worker), the clients on this one.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sandbox")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let sandbox = server_rt
        .block_on(Sandbox::start())
        .map_err(|e| e.to_string())?;

    let mut results = Vec::new();
    for provider in args.providers.iter().copied() {
        let target = target(&sandbox, provider, args.calibrate)?;
        let reseed = |range| reseed(&sandbox, provider, range);
        if args.diagnose {
            client_rt.block_on(diagnose(&target, args.sequential, &reseed))?;
            continue;
        }
        let result = client_rt.block_on(measure(&target, &args, &reseed))?;
        results.push(result);
    }
    server_rt.block_on(sandbox.shutdown());

    if args.json {
        let json: Vec<serde_json::Value> = results.iter().map(Measured::json).collect();
        println!("{}", serde_json::Value::Array(json));
    } else {
        print_table(&results, &args);
    }
    Ok(())
}

/// Empties the provider's emulator (back to its seed data) and creates the payments of `range`
/// for every path. The emulators keep payments and refunds in memory and some of their lookups
/// scan them, so the state is kept small: a measurement must not get slower as it goes.
fn reseed(
    sandbox: &Sandbox,
    provider: Provider,
    range: std::ops::Range<usize>,
) -> Result<(), String> {
    let amount = Money::parse("10.00", Currency::USD).map_err(|e| e.to_string())?;
    match provider {
        Provider::Plexy => sandbox.plexy().reset(),
        Provider::PayNext => sandbox.paynext().reset(),
        Provider::Payabli => sandbox.payabli().reset(),
    }
    for path in ["o", "b", "c", "h", "t"] {
        for i in range.clone() {
            let id = format!("{path}{i}");
            let added = match provider {
                Provider::Plexy => sandbox.plexy().add_payment(PlexyPayment::new(id, amount)),
                Provider::PayNext => sandbox
                    .paynext()
                    .add_payment(PayNextPayment::new(id, amount)),
                Provider::Payabli => sandbox
                    .payabli()
                    .add_payment(PayabliPayment::new(id, amount)),
            };
            added.map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn target(sandbox: &Sandbox, provider: Provider, calibrate: bool) -> Result<Target, String> {
    let (base_url, key) = match provider {
        Provider::Plexy => (sandbox.plexy().base_url(), sandbox.plexy().api_key()),
        Provider::PayNext => (sandbox.paynext().base_url(), sandbox.paynext().api_key()),
        Provider::Payabli => (sandbox.payabli().base_url(), sandbox.payabli().api_key()),
    };
    let (base_url, key) = (base_url.to_owned(), key.expose_secret().to_owned());
    let (key_var, url_var) = match provider {
        Provider::Plexy => ("PLEXY_API_KEY", "PLEXY_BASE_URL"),
        Provider::PayNext => ("PAYNEXT_API_KEY", "PAYNEXT_BASE_URL"),
        Provider::Payabli => ("PAYABLI_API_TOKEN", "PAYABLI_BASE_URL"),
    };
    // Configured exactly as an application configures it from its environment.
    let router = Router::builder()
        .providers_from_vars(
            |name| match name {
                n if n == key_var => Some(key.clone()),
                n if n == url_var => Some(base_url.clone()),
                _ => None,
            },
            &ClientOptions::default(),
        )
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let client = router
        .provider(&provider.id())
        .map_err(|e| e.to_string())?
        .clone();
    Ok(Target {
        provider,
        base_url,
        key,
        router,
        client,
        http: reqwest::Client::new(),
        twin: reqwest::Client::new(),
        calibrate,
    })
}

/// Ours: one refund through the facade; `Ok` only for the outcome the sandbox gives a fresh
/// payment (Succeeded, or Pending on PayNext).
#[inline(never)]
async fn ours(t: &Target, i: usize) -> Result<(), String> {
    if t.calibrate {
        return minimal(t, &t.twin, "o", i).await;
    }
    let request = refund_request("o", i)?;
    let outcome = t
        .router
        .refund(&t.provider.id(), &request)
        .await
        .map_err(|e| e.to_string())?;
    let expected = match t.provider {
        Provider::PayNext => refund_core::RefundStatus::Pending,
        _ => refund_core::RefundStatus::Succeeded,
    };
    if outcome.refund.status != expected {
        return Err(format!("ours: {:?}", outcome.refund.status));
    }
    Ok(())
}

/// The refund of payment `{prefix}{i}` with reference `r{prefix}{i}`, as an application builds it.
fn refund_request(prefix: &str, i: usize) -> Result<RefundRequest, String> {
    RefundRequest::builder(
        PaymentId::new(format!("{prefix}{i}")).map_err(|e| e.to_string())?,
        RefundReference::new(format!("r{prefix}{i}")).map_err(|e| e.to_string())?,
    )
    .build()
    .map_err(|e| e.to_string())
}

/// Baseline: the minimal hand-written call of the same endpoint.
#[inline(never)]
async fn baseline(t: &Target, i: usize) -> Result<(), String> {
    minimal(t, &t.http, "b", i).await
}

/// The minimal request of the provider's refund endpoint through `http`: the URL and body
/// formatted by hand, the provider's auth and required headers, nothing else.
fn minimal_request(
    t: &Target,
    http: &reqwest::Client,
    prefix: &str,
    i: usize,
) -> reqwest::RequestBuilder {
    let payment = format!("{prefix}{i}");
    let reference = format!("r{prefix}{i}");
    match t.provider {
        Provider::Plexy => http
            .post(format!("{}/payments/{payment}/refund", t.base_url))
            .header("Authorization", &t.key)
            .header("Content-Type", "application/json")
            .body(format!(r#"{{"orderReference":"{reference}"}}"#)),
        Provider::PayNext => http
            .post(format!("{}/payments/refund/{payment}", t.base_url))
            .header("Authorization", format!("Bearer {}", t.key))
            .header("X-API-Version", "1.0.0"),
        Provider::Payabli => http
            .post(format!("{}/v2/MoneyIn/refund/{payment}", t.base_url))
            .header("requestToken", &t.key)
            .header("idempotencyKey", reference),
    }
}

/// The minimal call through `http`, on the payment `{prefix}{i}`.
async fn minimal(t: &Target, http: &reqwest::Client, prefix: &str, i: usize) -> Result<(), String> {
    let response = minimal_request(t, http, prefix, i)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "baseline {}: http {status}: {e}: {}",
            t.provider.name(),
            String::from_utf8_lossy(&bytes)
        )
    })?;
    let ok = match t.provider {
        Provider::Plexy => value.get("success") == Some(&serde_json::Value::Bool(true)),
        Provider::PayNext => value
            .get("refund")
            .and_then(|r| r.get("status"))
            .is_some_and(|s| s == "PENDING"),
        Provider::Payabli => value
            .get("code")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|c| c.starts_with('A')),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("baseline: {value}"))
    }
}

struct Measured {
    provider: Provider,
    /// An A/A run (`--calibrate`): "ours" was a copy of the baseline.
    calibration: bool,
    ours_seq: Vec<Duration>,
    base_seq: Vec<Duration>,
    ours_rps: Vec<f64>,
    base_rps: Vec<f64>,
}

impl Measured {
    fn ratios(&self) -> (f64, f64, f64) {
        let p = |v: &[Duration], q| micros(percentile(v, q));
        let p50 = p(&self.ours_seq, 50) / p(&self.base_seq, 50);
        let p99 = p(&self.ours_seq, 99) / p(&self.base_seq, 99);
        let tput = median(&self.ours_rps) / median(&self.base_rps);
        (p50, p99, tput)
    }

    fn json(&self) -> serde_json::Value {
        let (p50, p99, tput) = self.ratios();
        let p = |v: &[Duration], q| micros(percentile(v, q));
        serde_json::json!({
            "provider": self.provider.name(),
            "calibration": self.calibration,
            "sequential": {
                "requests_per_path": self.ours_seq.len(),
                "ours_p50_us": p(&self.ours_seq, 50),
                "ours_p99_us": p(&self.ours_seq, 99),
                "baseline_p50_us": p(&self.base_seq, 50),
                "baseline_p99_us": p(&self.base_seq, 99),
                "p50_ratio": p50,
                "p99_ratio": p99,
            },
            "concurrency_64": {
                "ours_rps": median(&self.ours_rps),
                "baseline_rps": median(&self.base_rps),
                "ours_rounds": self.ours_rps,
                "baseline_rounds": self.base_rps,
                "throughput_ratio": tput,
            },
        })
    }
}

/// How many sequential calls per path run between two reseeds.
const BLOCK: usize = 500;

type Reseed<'a> = dyn Fn(std::ops::Range<usize>) -> Result<(), String> + 'a;

async fn measure(t: &Target, args: &Args, reseed: &Reseed<'_>) -> Result<Measured, String> {
    // Warm-up: connections, allocator, caches. Not recorded.
    reseed(0..WARMUP)?;
    for i in 0..WARMUP {
        ours(t, i).await?;
        baseline(t, i).await?;
    }
    let mut next = WARMUP;
    let mut ours_seq = Vec::with_capacity(args.sequential);
    let mut base_seq = Vec::with_capacity(args.sequential);
    for k in 0..args.sequential {
        let i = next + k;
        if k % BLOCK == 0 {
            reseed(i..i + BLOCK)?;
        }
        // Alternate which path goes first, so neither always follows the other.
        for first_ours in [k % 2 == 0, k % 2 == 1] {
            let started = Instant::now();
            if first_ours {
                ours(t, i).await?;
                ours_seq.push(started.elapsed());
            } else {
                baseline(t, i).await?;
                base_seq.push(started.elapsed());
            }
        }
    }
    next += args.sequential;
    ours_seq.sort();
    base_seq.sort();

    let mut ours_rps = Vec::new();
    let mut base_rps = Vec::new();
    for round in 0..args.rounds {
        let range = next..next + args.concurrent;
        next += args.concurrent;
        // ABBA order across rounds.
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_ours in order {
            // Each path starts from the same emulator state.
            reseed(range.clone())?;
            let started = Instant::now();
            let stream = futures_util::stream::iter(range.clone());
            if is_ours {
                stream
                    .map(|i| ours(t, i))
                    .buffer_unordered(CONCURRENCY)
                    .try_collect::<Vec<()>>()
                    .await?;
            } else {
                stream
                    .map(|i| baseline(t, i))
                    .buffer_unordered(CONCURRENCY)
                    .try_collect::<Vec<()>>()
                    .await?;
            }
            let rps = args.concurrent as f64 / started.elapsed().as_secs_f64();
            if is_ours {
                ours_rps.push(rps);
            } else {
                base_rps.push(rps);
            }
        }
    }
    Ok(Measured {
        provider: t.provider,
        calibration: t.calibrate,
        ours_seq,
        base_seq,
        ours_rps,
        base_rps,
    })
}

fn print_table(results: &[Measured], args: &Args) {
    if args.calibrate {
        println!("CALIBRATION (A/A): \"ours\" is a second copy of the baseline");
    }
    println!(
        "overhead per refund on loopback: {} sequential calls per path, {} × {} at concurrency {CONCURRENCY}",
        args.sequential, args.rounds, args.concurrent
    );
    println!(
        "{:<9} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8}",
        "provider",
        "ours p50",
        "base p50",
        "ratio",
        "ours p99",
        "base p99",
        "ratio",
        "ours rps",
        "base rps",
        "ratio"
    );
    for m in results {
        let (p50, p99, tput) = m.ratios();
        let p = |v: &[Duration], q| micros(percentile(v, q));
        println!(
            "{:<9} {:>8.1}µs {:>8.1}µs {:>8.3} {:>8.1}µs {:>8.1}µs {:>8.3} {:>10.0} {:>10.0} {:>8.3}",
            m.provider.name(),
            p(&m.ours_seq, 50),
            p(&m.base_seq, 50),
            p50,
            p(&m.ours_seq, 99),
            p(&m.base_seq, 99),
            p99,
            median(&m.ours_rps),
            median(&m.base_rps),
            tput
        );
    }
}

/// Where the time goes: the same sequential call five ways, round-robin, p50 and p99 of each.
/// - `router`: ours, as measured;
/// - `client`: the vendor client's `refund` alone (no facade);
/// - `baseline`: the minimal call;
/// - `baseline+`: the minimal call plus what our HTTP layer adds on the wire and per request
///   (`Accept` and `User-Agent` headers, a per-request timeout);
/// - `client+timer`: the client inside a `tokio::time::timeout`, as the facade calls a provider
///   that does not promise a `call_timeout` of its own.
async fn diagnose(t: &Target, n: usize, reseed: &Reseed<'_>) -> Result<(), String> {
    let mut samples: [Vec<Duration>; 5] = Default::default();
    for i in 0..WARMUP + n {
        if i % BLOCK == 0 {
            reseed(i..i + BLOCK)?;
        }
        for k in 0..5 {
            let which = (k + i) % 5;
            let started = Instant::now();
            match which {
                0 => ours(t, i).await?,
                1 => client_only(t, i).await?,
                2 => baseline(t, i).await?,
                3 => baseline_plus(t, i).await?,
                _ => client_with_timer(t, i).await?,
            }
            if i >= WARMUP
                && let Some(v) = samples.get_mut(which)
            {
                v.push(started.elapsed());
            }
        }
    }
    for (name, v) in ["router", "client", "baseline", "baseline+", "client+timer"]
        .iter()
        .zip(samples.iter_mut())
    {
        v.sort();
        println!(
            "{:<8} {:<10} p50 {:>7.1}µs p99 {:>7.1}µs",
            t.provider.name(),
            name,
            micros(percentile(v, 50)),
            micros(percentile(v, 99))
        );
    }
    Ok(())
}

#[inline(never)]
async fn client_only(t: &Target, i: usize) -> Result<(), String> {
    let request = refund_request("c", i)?;
    t.client.refund(&request).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// The vendor client inside a `tokio::time::timeout`, as the facade runs each attempt of a
/// provider without a `call_timeout` promise.
#[inline(never)]
async fn client_with_timer(t: &Target, i: usize) -> Result<(), String> {
    let request = refund_request("t", i)?;
    tokio::time::timeout(Duration::from_secs(60), t.client.refund(&request))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(())
}

#[inline(never)]
async fn baseline_plus(t: &Target, i: usize) -> Result<(), String> {
    let response = minimal_request(t, &t.http, "h", i)
        .header("Accept", "application/json")
        .header("User-Agent", "refund-plexy/0.1.0")
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let _: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    Ok(())
}
