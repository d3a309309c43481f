//! `cargo xtask release patch` (the dry run) on a clean checkout: it prints a correct plan and
//! changes nothing.
//!
//! The checkout is a fresh clone of HEAD in a temporary directory, so the test is the same
//! whether or not the developer's working tree has uncommitted changes. The network is not
//! used (`--offline`) and the slow `cargo package` build is skipped (`--skip-package`); CI runs
//! the full dry run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Every file of the checkout (but `.git` and build output) with its contents, plus what git
/// says about the tree, HEAD and the refs.
fn state(dir: &Path) -> (BTreeMap<PathBuf, Vec<u8>>, String, String, String) {
    fn walk(dir: &Path, root: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if relative == Path::new(".git") || relative == Path::new("target") {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, files);
            } else {
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    (
        files,
        git(dir, &["status", "--porcelain", "--untracked-files=all"]),
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["for-each-ref"]),
    )
}

#[test]
fn dry_run_on_a_clean_checkout_prints_the_plan_and_changes_nothing() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let checkout = temp.path().join("refund-rs");
    let status = Command::new("git")
        .args(["clone", "--quiet"])
        .arg(workspace)
        .arg(&checkout)
        .status()
        .unwrap();
    assert!(status.success());
    let before = state(&checkout);
    assert!(!before.0.is_empty());
    assert_eq!(before.1, "", "a fresh clone is clean");

    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["release", "patch", "--skip-package", "--offline", "--root"])
        .arg(&checkout)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "the dry run failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert_eq!(state(&checkout), before, "the dry run changed the checkout");

    // The versions: the current one from the manifest, the next by a patch bump.
    let manifest: toml_edit::DocumentMut = std::fs::read_to_string(checkout.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let current = manifest["workspace"]["package"]["version"]
        .as_str()
        .unwrap();
    let current = cargo_metadata::semver::Version::parse(current).unwrap();
    let next = format!("{}.{}.{}", current.major, current.minor, current.patch + 1);
    assert!(
        stdout.starts_with(&format!(
            "cargo xtask release: {current} -> {next} (dry run)\n"
        )),
        "{stdout}"
    );

    // Publish order: refund-core first, the vendors before the facade, nothing unpublishable.
    let crates: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Crates to publish"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(crates.first(), Some(&"refund-core"), "{stdout}");
    let at = |name: &str| {
        crates
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("{name} not in {crates:?}"))
    };
    for vendor in ["refund-plexy", "refund-paynext", "refund-payabli"] {
        assert!(at(vendor) < at("refund-facade"), "{crates:?}");
    }
    assert!(!crates.contains(&"xtask") && !crates.contains(&"refund-tests"));
    let unpublished = stdout
        .lines()
        .find(|l| l.starts_with("Not published (publish = false): "))
        .unwrap();
    assert!(unpublished.contains("xtask") && unpublished.contains("refund-tests"));
    for line in stdout
        .lines()
        .filter(|l| l.contains("(crates.io not asked)"))
    {
        assert!(line.contains(&format!(" {next} ")), "{line}");
    }

    // The files the bump edits, and the changelog section with the latest commit in it.
    assert!(
        stdout.contains("  Cargo.toml: workspace.package.version"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("  CHANGELOG.md: new section [{next}]")));
    assert!(stdout.contains(&format!("    ## [{next}] - ")), "{stdout}");
    let latest = git(&checkout, &["log", "-1", "--no-merges", "--format=%h"]);
    let entry = stdout
        .lines()
        .find(|l| l.ends_with(&format!(" ({})", latest.trim())))
        .unwrap_or_else(|| panic!("commit {latest} not in the changelog section\n{stdout}"));
    assert!(entry.starts_with("    - "), "{entry}");

    // Every check passed or was skipped for a stated reason.
    assert!(!stdout.contains("[FAIL]"), "{stdout}");
    for check in [
        "[ok  ] clean git tree",
        "[ok  ] release tag",
        "[ok  ] crate metadata",
        "[ok  ] inter-crate versions",
        "[ok  ] CHANGELOG.md",
        "[ok  ] package contents",
        "[skip] registry: not asked (--offline)",
        "[skip] cargo-semver-checks",
        "[skip] cargo package (build every crate from its .crate): skipped (--skip-package)",
    ] {
        assert!(stdout.contains(check), "{check}\n{stdout}");
    }
    assert!(stdout.contains(&format!("git tag -a v{next}")));
    assert!(stdout.contains("Dry run: nothing was changed"));

    // A dirty tree fails the plan (still changing nothing), unless --allow-dirty says it may be.
    std::fs::write(checkout.join("stray.txt"), "work in progress\n").unwrap();
    let dirty = state(&checkout);
    let run = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["release", "patch", "--skip-package", "--offline"])
            .args(extra)
            .arg("--root")
            .arg(&checkout)
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        (output.status.success(), stdout)
    };
    let (ok, stdout) = run(&[]);
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("[FAIL] clean git tree: commit or stash these first:"),
        "{stdout}"
    );
    assert!(stdout.contains("?? stray.txt"), "{stdout}");
    let (ok, stdout) = run(&["--allow-dirty"]);
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains("[skip] clean git tree: 1 uncommitted"),
        "{stdout}"
    );
    assert_eq!(state(&checkout), dirty, "the dry run changed the checkout");
}
