//! The bounded fuzz suite that `cargo test` (and so `cargo xtask ci`) runs:
//! - every stored corpus input (`corpus/<target>/`, including every past finding) replayed;
//! - a short generated campaign per target (`REFUND_FUZZ_EXECS` inputs each, default 1,500;
//!   `cargo xtask fuzz --execs N` runs millions in release mode; `REFUND_FUZZ_FINDINGS=DIR`
//!   saves what fails, `REFUND_FUZZ_WRITE_CORPUS=DIR` writes seeds and a sample of inputs);
//! - proptest properties over arbitrary bytes and structure-aware mutations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use refund_bench::fuzz::{self, TARGETS, Target};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every file of the stored corpus, as (target, file name, bytes).
fn corpus() -> Vec<(Target, String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let target = Target::from_name(&name)
            .unwrap_or_else(|| panic!("corpus/{name} does not name a fuzz target"));
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let bytes = std::fs::read(&file).unwrap();
            out.push((
                target,
                file.file_name().unwrap().to_string_lossy().into_owned(),
                bytes,
            ));
        }
    }
    out
}

#[test]
fn the_stored_corpus_replays_cleanly() {
    let corpus = corpus();
    // Every target has a corpus, and the findings of past runs are in it.
    for target in TARGETS {
        assert!(
            corpus.iter().any(|(t, _, _)| *t == target),
            "no corpus for {}",
            target.name()
        );
    }
    assert!(corpus.len() >= 200, "{} inputs", corpus.len());
    let mut failures = Vec::new();
    for (target, file, bytes) in &corpus {
        if let Err(e) = fuzz::run_caught(*target, bytes) {
            failures.push(format!("{}/{file}: {e}", target.name()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn execs() -> u64 {
    std::env::var("REFUND_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500)
}

fn seed() -> u64 {
    std::env::var("REFUND_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED)
}

#[test]
fn generated_inputs_keep_every_property() {
    let (execs, seed) = (execs(), seed());
    let mut lines = Vec::new();
    let mut findings = Vec::new();
    for target in TARGETS {
        let started = std::time::Instant::now();
        let report = fuzz::campaign(target, execs, seed);
        lines.push(format!(
            "{:<22} {:>10} execs {:>10} accepted {:>3} findings {:>8.1}s",
            target.name(),
            report.execs,
            report.accepted,
            report.findings.len(),
            started.elapsed().as_secs_f64()
        ));
        // Inputs that reached the accepting paths prove the generator is not just noise.
        assert!(report.accepted > 0, "{}: nothing accepted", target.name());
        findings.extend(report.findings);
    }
    eprintln!("fuzz campaign, seed {seed}:\n{}", lines.join("\n"));
    if let Some(dir) = std::env::var_os("REFUND_FUZZ_FINDINGS") {
        // Save findings so that they can be added to the corpus.
        for f in &findings {
            let dir = Path::new(&dir).join(&f.target);
            std::fs::create_dir_all(&dir).unwrap();
            let name = format!("finding-{:016x}", fnv(&f.input));
            std::fs::write(dir.join(name), &f.input).unwrap();
        }
    }
    if let Some(dir) = std::env::var_os("REFUND_FUZZ_WRITE_CORPUS") {
        // Refreshes a corpus: the seeds and a sample of generated inputs of every target.
        for target in TARGETS {
            let dir = Path::new(&dir).join(target.name());
            std::fs::create_dir_all(&dir).unwrap();
            let mut rng = fuzz::Rng::new(seed);
            let inputs = target
                .seeds()
                .into_iter()
                .chain((0..24).map(|_| target.generate(&mut rng)));
            for input in inputs {
                let name = format!("{:016x}", fnv(&input));
                std::fs::write(dir.join(name), &input).unwrap();
            }
        }
    }
    let shown: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{}: {} (input {:?})",
                f.target,
                fuzz::clip(&f.message, 400),
                fuzz::clip(&String::from_utf8_lossy(&f.input), 300)
            )
        })
        .collect();
    assert!(shown.is_empty(), "{shown:#?}");
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary bytes, any target.
    #[test]
    fn arbitrary_bytes(target in 0..TARGETS.len(), data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let target = TARGETS[target];
        prop_assert!(fuzz::run_caught(target, &data).is_ok(), "{}: {:?}", target.name(), fuzz::run_caught(target, &data));
    }

    /// Structure-aware mutations chosen by proptest (it shrinks the seed on failure).
    #[test]
    fn mutated_fixtures(target in 0..TARGETS.len(), seed in any::<u64>()) {
        let target = TARGETS[target];
        let input = target.generate(&mut fuzz::Rng::new(seed));
        let result = fuzz::run_caught(target, &input);
        prop_assert!(result.is_ok(), "{}: {:?} on {:?}", target.name(), result, fuzz::clip(&String::from_utf8_lossy(&input), 300));
    }
}
