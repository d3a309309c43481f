//! The checks a release runs before it changes anything, and their results.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::graph::Member;
use crate::util::{Result, cargo_home};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Pass,
    Fail,
    /// Not run, with the reason in the detail.
    Skip,
}

/// One check's result: a name, a status and lines that explain it.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) status: Status,
    pub(crate) detail: Vec<String>,
}

impl Check {
    pub(crate) fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Pass,
            detail: vec![detail.into()],
        }
    }

    pub(crate) fn skip(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Skip,
            detail: vec![detail.into()],
        }
    }

    pub(crate) fn fail(name: &'static str, detail: Vec<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail,
        }
    }

    /// Passes with `ok` when there are no `problems`, fails listing them otherwise.
    pub(crate) fn from_problems(name: &'static str, problems: Vec<String>, ok: String) -> Self {
        if problems.is_empty() {
            Self::pass(name, ok)
        } else {
            Self::fail(name, problems)
        }
    }
}

/// The registry-facing fields a publishable crate lacks (crates.io requires description and
/// license; the others are what makes a crate findable and its page useful).
pub(crate) fn missing_metadata(member: &Member) -> Vec<String> {
    let meta = &member.meta;
    let mut missing = Vec::new();
    if meta
        .description
        .as_deref()
        .is_none_or(|d| d.trim().is_empty())
    {
        missing.push("description".to_owned());
    }
    if meta.license.is_none() && meta.license_file.is_none() {
        missing.push("license".to_owned());
    }
    if meta.repository.is_none() {
        missing.push("repository".to_owned());
    }
    match &meta.readme {
        None => missing.push("readme".to_owned()),
        Some(path) if !path.is_file() => {
            missing.push(format!("readme (no file at {})", path.display()));
        }
        Some(_) => {}
    }
    if meta.keywords.is_empty() {
        missing.push("keywords".to_owned());
    }
    if meta.categories.is_empty() {
        missing.push("categories".to_owned());
    }
    missing
}

/// Why a file listed by `cargo package --list` does not belong in a published crate, if it
/// does not: test data and snapshots are for this repository's tests, not for users.
pub(crate) fn unwanted_in_package(path: &str) -> Option<&'static str> {
    let components: Vec<&str> = path.split('/').collect();
    let file = components.last().copied().unwrap_or(path);
    if file.ends_with(".snap") || file.ends_with(".snap.new") || file.ends_with(".pending-snap") {
        return Some("insta snapshot");
    }
    let dirs = components.iter().take(components.len().saturating_sub(1));
    for dir in dirs.clone() {
        match *dir {
            "snapshots" => return Some("snapshot directory"),
            "fixtures" | "testdata" | "test-data" | "test_data" => return Some("test fixture"),
            _ => {}
        }
    }
    if components.first() == Some(&"tests") && components.len() > 1 {
        return Some("integration test (not built by users, and its data is not shipped)");
    }
    None
}

fn cargo_in(root: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root);
    cmd
}

/// The files `cargo package` would put in `name`'s `.crate` (no build, no network when
/// `offline`).
pub(crate) fn package_files(root: &Path, name: &str, offline: bool) -> Result<Vec<String>> {
    let mut cmd = cargo_in(root);
    cmd.args(["package", "--list", "--locked", "--allow-dirty", "-p", name]);
    if offline {
        cmd.arg("--offline");
    }
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run cargo package --list: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo package --list -p {name} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// `cargo package` of every crate in `order` at once, so crates not yet on the registry are
/// resolved from the workspace; each package is unpacked and built, as `cargo publish` would.
/// Cargo's output goes to stderr, for the maintainer to follow.
///
/// Builds left by an earlier packaging of the same version are forgotten first (see
/// [`forget_earlier_packagings`]), so the check always builds what is in the tree now.
pub(crate) fn cargo_package(
    root: &Path,
    build_dir: &Path,
    order: &[String],
    offline: bool,
    allow_dirty: bool,
) -> Check {
    const NAME: &str = "cargo package (build every crate from its .crate)";
    let forgotten = forget_earlier_packagings(&cargo_home(), build_dir, order);
    if forgotten > 0 {
        eprintln!("==> {NAME}: forgot {forgotten} stale extractions and builds of an earlier run");
    }
    let mut cmd = cargo_in(root);
    cmd.args(["package", "--locked"]);
    if offline {
        cmd.arg("--offline");
    }
    if allow_dirty {
        cmd.arg("--allow-dirty");
    }
    for name in order {
        cmd.args(["-p", name]);
    }
    eprintln!("==> {NAME}: $ {cmd:?}");
    let started = Instant::now();
    let status = cmd.stdin(Stdio::null()).status();
    let took = format!("{:.0}s", started.elapsed().as_secs_f64());
    match status {
        Ok(s) if s.success() => Check::pass(
            NAME,
            format!("{} crates packaged and built in {took}", order.len()),
        ),
        Ok(s) => Check::fail(
            NAME,
            vec![format!(
                "cargo package failed ({s}) after {took}; its output is above"
            )],
        ),
        Err(e) => Check::fail(NAME, vec![format!("cannot run cargo: {e}")]),
    }
}

/// Removes what an earlier `cargo package` of the same version left behind, so that the verify
/// build sees today's sources. Returns how many directories and build units it removed.
///
/// `cargo package` unpacks each sibling `.crate` from a temporary local registry into
/// `$CARGO_HOME/registry/src/<hash of that registry's path>/<name>-<version>/` and builds it in
/// the workspace's build dir. Both are keyed by name, version and the registry's path only, and
/// the unpacked files carry the fixed mtime cargo writes into every tarball (2006), so neither
/// cargo's "already unpacked" marker nor its mtime fingerprint notices newer sources: a second
/// packaging at the same version would compile a crate against a sibling's older build. Only
/// our own crates' entries are removed; crates.io's extractions and every workspace build stay.
pub(crate) fn forget_earlier_packagings(
    cargo_home: &Path,
    build_dir: &Path,
    crates: &[String],
) -> usize {
    let mut removed = 0;

    // Unpacked `.crate` files, in every registry but crates.io's.
    for registry in read_dir(&cargo_home.join("registry").join("src")) {
        if registry
            .file_name()
            .to_string_lossy()
            .starts_with("index.crates.io-")
        {
            continue;
        }
        for unpacked in read_dir(&registry.path()) {
            let name = unpacked.file_name().to_string_lossy().into_owned();
            // `<name>-<version>`: the version has no dash before a pre-release tag.
            let is_ours = crates.iter().any(|c| {
                name.strip_prefix(c.as_str())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|v| v.starts_with(|ch: char| ch.is_ascii_digit()))
            });
            if is_ours && std::fs::remove_dir_all(unpacked.path()).is_ok() {
                removed += 1;
            }
        }
    }

    // Build units of our crates compiled from an unpacked `.crate`: their dep-info
    // (`deps/<target>-<hash>.d`) names sources under `registry/src/` or `package/`, never under
    // the workspace's `crates/`. Removing the unit's fingerprint
    // (`.fingerprint/<package>-<hash>/`) makes cargo rebuild it.
    for profile in read_dir(build_dir) {
        let fingerprints = profile.path().join(".fingerprint");
        for entry in read_dir(&profile.path().join("deps")) {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some((_, hash)) = file_name
                .strip_suffix(".d")
                .and_then(|stem| stem.rsplit_once('-'))
            else {
                continue;
            };
            let Ok(dep_info) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let Some(first) = dep_info.lines().next() else {
                continue;
            };
            let unpacked = first.contains("/registry/src/") || first.contains("/package/");
            for name in crates {
                if unpacked
                    && first.contains(&format!("/{name}-"))
                    && std::fs::remove_dir_all(fingerprints.join(format!("{name}-{hash}"))).is_ok()
                {
                    removed += 1;
                }
            }
        }
    }
    removed
}

fn read_dir(dir: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    std::fs::read_dir(dir).into_iter().flatten().flatten()
}

/// Whether `cargo semver-checks` is on this machine.
pub(crate) fn semver_checks_installed(root: &Path) -> bool {
    cargo_in(root)
        .args(["semver-checks", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `cargo semver-checks` of `crates` against the release tagged `baseline`.
pub(crate) fn semver_checks(
    root: &Path,
    baseline: &str,
    release_type: &str,
    crates: &[String],
) -> Check {
    const NAME: &str = "cargo-semver-checks";
    let mut cmd = cargo_in(root);
    cmd.args([
        "semver-checks",
        "check-release",
        "--baseline-rev",
        baseline,
        "--release-type",
        release_type,
    ]);
    for name in crates {
        cmd.args(["-p", name]);
    }
    eprintln!("==> {NAME}: $ {cmd:?}");
    match cmd.stdin(Stdio::null()).status() {
        Ok(s) if s.success() => Check::pass(
            NAME,
            format!(
                "{} crates compatible with {baseline} for a {release_type} release",
                crates.len()
            ),
        ),
        Ok(s) => Check::fail(
            NAME,
            vec![format!(
                "cargo semver-checks found breaking changes for a {release_type} release ({s}); \
                 its output is above: release a bigger bump or restore compatibility"
            )],
        ),
        Err(e) => Check::fail(NAME, vec![format!("cannot run cargo semver-checks: {e}")]),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use cargo_metadata::semver::Version;

    use super::*;
    use crate::release::graph::PackageMeta;

    /// A second `cargo package` at the same version must not reuse the first one's unpacked
    /// sources or builds of our crates; crates.io's and the workspace's own stay untouched.
    #[test]
    fn earlier_packagings_are_forgotten_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("cargo-home");
        let build = dir.path().join("target");
        let write = |path: PathBuf, text: &str| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let src = home.join("registry/src");
        let tmp_registry = src.join("-47124362e1aa0fec");
        write(tmp_registry.join("refund-core-0.1.0/src/lib.rs"), "");
        write(tmp_registry.join("refund-facade-0.1.0/src/lib.rs"), "");
        write(tmp_registry.join("serde-1.0.0/src/lib.rs"), "");
        write(
            src.join("index.crates.io-1949cf8c6b5b557f/refund-core-0.1.0/src/lib.rs"),
            "",
        );

        let unpacked = tmp_registry.join("refund-facade-0.1.0/src/lib.rs");
        let deps = build.join("debug/deps");
        let fingerprints = build.join("debug/.fingerprint");
        write(
            deps.join("refund_facade-aaaa.d"),
            &format!(
                "{}: {}\n",
                deps.join("librefund_facade-aaaa.rlib").display(),
                unpacked.display()
            ),
        );
        write(
            fingerprints.join("refund-facade-aaaa/lib-refund_facade"),
            "",
        );
        // The CLI's binary target is `refund`, its package `refund-cli`, unpacked by cargo
        // package under the build dir.
        write(
            deps.join("refund-bbbb.d"),
            &format!(
                "{}: {}\n",
                deps.join("refund-bbbb").display(),
                build.join("package/refund-cli-0.1.0/src/main.rs").display()
            ),
        );
        write(fingerprints.join("refund-cli-bbbb/bin-refund"), "");
        // The workspace's own build of the facade, and a crates.io dependency.
        write(
            deps.join("refund_facade-cccc.d"),
            "/w/target/debug/deps/librefund_facade-cccc.rlib: /w/crates/refund-facade/src/lib.rs\n",
        );
        write(
            fingerprints.join("refund-facade-cccc/lib-refund_facade"),
            "",
        );
        write(
            deps.join("serde-dddd.d"),
            &format!(
                "x: {}\n",
                tmp_registry.join("serde-1.0.0/src/lib.rs").display()
            ),
        );
        write(fingerprints.join("serde-dddd/lib-serde"), "");

        let crates = ["refund-core", "refund-facade", "refund-cli"].map(String::from);
        assert_eq!(forget_earlier_packagings(&home, &build, &crates), 4);

        assert!(!tmp_registry.join("refund-core-0.1.0").exists());
        assert!(!tmp_registry.join("refund-facade-0.1.0").exists());
        assert!(!fingerprints.join("refund-facade-aaaa").exists());
        assert!(!fingerprints.join("refund-cli-bbbb").exists());
        assert!(tmp_registry.join("serde-1.0.0").exists());
        assert!(
            src.join("index.crates.io-1949cf8c6b5b557f/refund-core-0.1.0")
                .exists()
        );
        assert!(fingerprints.join("refund-facade-cccc").exists());
        assert!(fingerprints.join("serde-dddd").exists());
        // Nothing left to forget the second time.
        assert_eq!(forget_earlier_packagings(&home, &build, &crates), 0);
    }

    #[test]
    fn unwanted_package_files() {
        let cases = [
            ("src/lib.rs", None),
            ("README.md", None),
            ("Cargo.toml.orig", None),
            ("src/testing.rs", None),
            ("src/snapshots/x__y.snap", Some("insta snapshot")),
            ("src/wire/snapshots/README.md", Some("snapshot directory")),
            ("src/foo.snap.new", Some("insta snapshot")),
            ("tests/fixtures/refund.json", Some("test fixture")),
            ("src/testdata/a.json", Some("test fixture")),
            (
                "tests/http.rs",
                Some("integration test (not built by users, and its data is not shipped)"),
            ),
            ("tests", None),
        ];
        for (path, expected) in cases {
            assert_eq!(unwanted_in_package(path), expected, "{path}");
        }
    }

    #[test]
    fn missing_metadata_is_named_field_by_field() {
        let readme = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let mut member = Member {
            name: "refund-x".to_owned(),
            version: Version::new(0, 1, 0),
            manifest_path: PathBuf::from("Cargo.toml"),
            publishable: true,
            needs: BTreeSet::new(),
            meta: PackageMeta::default(),
        };
        assert_eq!(
            missing_metadata(&member),
            [
                "description",
                "license",
                "repository",
                "readme",
                "keywords",
                "categories"
            ]
        );
        member.meta = PackageMeta {
            description: Some("x".to_owned()),
            license: Some("MIT".to_owned()),
            license_file: None,
            repository: Some("https://example.com/r".to_owned()),
            readme: Some(readme),
            keywords: vec!["k".to_owned()],
            categories: vec!["c".to_owned()],
        };
        assert!(missing_metadata(&member).is_empty());
        member.meta.readme = Some(PathBuf::from("/nonexistent/README.md"));
        assert_eq!(
            missing_metadata(&member),
            ["readme (no file at /nonexistent/README.md)"]
        );
    }
}
