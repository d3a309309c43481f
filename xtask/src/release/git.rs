//! The few git questions a release asks, through the `git` command.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use cargo_metadata::semver::Version;

use crate::util::Result;

/// Runs `git -C root args…` and returns its standard output.
pub(crate) fn git(root: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// `git status --porcelain`: empty when the tree is clean (untracked files count as dirty).
pub(crate) fn status(root: &Path) -> Result<String> {
    git(root, &["status", "--porcelain", "--untracked-files=all"])
}

/// The commit HEAD points at.
pub(crate) fn head(root: &Path) -> Result<String> {
    Ok(git(root, &["rev-parse", "HEAD"])?.trim().to_owned())
}

/// The release tags (`vX.Y.Z`) by version. With `merged`, only those reachable from HEAD.
pub(crate) fn release_tags(root: &Path, merged: bool) -> Result<BTreeMap<Version, String>> {
    let mut args = vec!["tag", "--list", "v*"];
    if merged {
        args.extend(["--merged", "HEAD"]);
    }
    Ok(git(root, &args)?
        .lines()
        .filter_map(|tag| {
            let version = Version::parse(tag.strip_prefix('v')?).ok()?;
            Some((version, tag.to_owned()))
        })
        .collect())
}

/// The commit a tag points at, if the tag exists.
pub(crate) fn tag_commit(root: &Path, tag: &str) -> Option<String> {
    git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{tag}^{{commit}}"),
        ],
    )
    .ok()
    .map(|s| s.trim().to_owned())
    .filter(|s| !s.is_empty())
}

/// One commit, as a changelog lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Commit {
    pub(crate) short: String,
    pub(crate) subject: String,
}

/// The non-merge commits after `since` (a tag) up to HEAD, oldest first; all when `since` is
/// `None`.
pub(crate) fn commits_since(root: &Path, since: Option<&str>) -> Result<Vec<Commit>> {
    let range = since.map_or_else(|| "HEAD".to_owned(), |tag| format!("{tag}..HEAD"));
    let log = git(
        root,
        &[
            "log",
            "--no-merges",
            "--reverse",
            "--topo-order",
            "--format=%h%x1f%s",
            &range,
        ],
    )?;
    Ok(log
        .lines()
        .filter_map(|line| {
            let (short, subject) = line.split_once('\u{1f}')?;
            Some(Commit {
                short: short.to_owned(),
                subject: subject.to_owned(),
            })
        })
        .collect())
}
