//! The `CHANGELOG.md` section of a release: the notes under "Unreleased" plus the commits since
//! the previous release, grouped by the area prefix of their subject (see `style.md`, Commits).

use std::time::{SystemTime, UNIX_EPOCH};

use cargo_metadata::semver::Version;

use super::git::Commit;
use crate::util::Result;

/// Commit areas in the order the changelog lists them, with the heading each gets. Subjects
/// with another prefix, or none, go under "Other".
const AREAS: [(&str, &str); 10] = [
    ("core", "refund-core"),
    ("plexy", "refund-plexy"),
    ("paynext", "refund-paynext"),
    ("payabli", "refund-payabli"),
    ("sandbox", "refund-sandbox"),
    ("facade", "refund-facade"),
    ("cli", "refund-cli"),
    ("xtask", "Maintainer tooling (xtask)"),
    ("ci", "CI"),
    ("docs", "Documentation"),
];

/// The subject prefix of the commit that `cargo xtask release` makes itself.
pub(crate) const RELEASE_PREFIX: &str = "release: ";

/// The section for `version`: `carried` (hand-written notes from "Unreleased") first, then the
/// commits grouped by area, oldest first within a group.
pub(crate) fn render_section(
    version: &Version,
    date: &str,
    commits: &[Commit],
    carried: &str,
) -> String {
    let mut groups: Vec<Vec<String>> = vec![Vec::new(); AREAS.len()];
    let mut other = Vec::new();
    for commit in commits {
        if commit.subject.starts_with(RELEASE_PREFIX) {
            continue;
        }
        let area = commit.subject.split_once(": ").and_then(|(area, rest)| {
            let index = AREAS.iter().position(|(name, _)| *name == area)?;
            Some((index, rest))
        });
        match area.and_then(|(index, rest)| Some((groups.get_mut(index)?, rest))) {
            Some((group, rest)) => group.push(format!("- {rest} ({})", commit.short)),
            None => other.push(format!("- {} ({})", commit.subject, commit.short)),
        }
    }
    let mut out = format!("## [{version}] - {date}\n");
    let carried = carried.trim();
    if !carried.is_empty() {
        out.push('\n');
        out.push_str(carried);
        out.push('\n');
    }
    let headings = AREAS.iter().map(|(_, heading)| *heading).chain(["Other"]);
    let mut any = false;
    for (heading, entries) in headings.zip(groups.iter().chain([&other])) {
        if entries.is_empty() {
            continue;
        }
        any = true;
        out.push_str(&format!("\n### {heading}\n\n"));
        for entry in entries {
            out.push_str(entry);
            out.push('\n');
        }
    }
    if !any && carried.is_empty() {
        out.push_str("\nNo changes since the previous release.\n");
    }
    out
}

fn is_link_definition(line: &str) -> bool {
    line.starts_with('[') && line.contains("]: ")
}

fn is_unreleased_heading(line: &str) -> bool {
    line.trim().eq_ignore_ascii_case("## [unreleased]")
}

/// The changelog with the release of `version` written in: the "Unreleased" notes move into a
/// new section under an emptied "Unreleased", and the comparison links at the bottom are
/// updated. Returns the new text and the section alone.
///
/// # Errors
/// The changelog has no `## [Unreleased]` heading.
pub(crate) fn release_changelog(
    text: &str,
    version: &Version,
    date: &str,
    commits: &[Commit],
    previous_tag: Option<&str>,
    repository: &str,
) -> Result<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| is_unreleased_heading(l))
        .ok_or("CHANGELOG.md has no `## [Unreleased]` heading")?;
    let body_start = start.saturating_add(1);
    let end = lines
        .iter()
        .enumerate()
        .skip(body_start)
        .find(|(_, l)| l.starts_with("## ") || is_link_definition(l))
        .map_or(lines.len(), |(i, _)| i);
    let carried = lines.get(body_start..end).unwrap_or_default().join("\n");
    let section = render_section(version, date, commits, &carried);

    let mut out = lines.get(..body_start).unwrap_or_default().join("\n");
    out.push_str("\n\n");
    out.push_str(&section);
    let rest = lines.get(end..).unwrap_or_default();
    if !rest.is_empty() {
        out.push('\n');
        out.push_str(&rest.join("\n"));
        out.push('\n');
    }
    Ok((
        update_links(&out, version, previous_tag, repository),
        section,
    ))
}

/// Points `[Unreleased]` at the comparison from the new tag and adds the new version's link.
fn update_links(
    text: &str,
    version: &Version,
    previous_tag: Option<&str>,
    repository: &str,
) -> String {
    let repository = repository.trim_end_matches('/').trim_end_matches(".git");
    let unreleased = format!("[Unreleased]: {repository}/compare/v{version}...HEAD");
    let this = match previous_tag {
        Some(tag) => format!("[{version}]: {repository}/compare/{tag}...v{version}"),
        None => format!("[{version}]: {repository}/releases/tag/v{version}"),
    };
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    match lines
        .iter()
        .position(|l| l.to_ascii_lowercase().starts_with("[unreleased]: "))
    {
        Some(at) => {
            lines.insert(at.saturating_add(1), this);
            if let Some(line) = lines.get_mut(at) {
                *line = unreleased;
            }
        }
        None => {
            lines.push(String::new());
            lines.push(unreleased);
            lines.push(this);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Today's date in UTC as `YYYY-MM-DD`.
pub(crate) fn today_utc() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::*;
    use crate::release::git::commits_since;

    /// Runs git in `dir` with a fixed identity and no user or system configuration.
    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?} failed");
    }

    fn commit(dir: &Path, subject: &str) {
        git(dir, &["commit", "--quiet", "--allow-empty", "-m", subject]);
    }

    const CHANGELOG: &str = "# Changelog

Intro.

## [Unreleased]

### Breaking

- `Money::parse` refuses exponent notation.

## [0.1.0] - 2026-01-10

- First release.

[Unreleased]: https://github.com/o/r/compare/v0.1.0...HEAD
[0.1.0]: https://github.com/o/r/releases/tag/v0.1.0
";

    #[test]
    fn a_section_without_commits_or_notes_says_so() {
        let v = Version::new(0, 2, 0);
        let empty = render_section(&v, "2026-01-02", &[], "");
        assert_eq!(
            empty,
            "## [0.2.0] - 2026-01-02\n\nNo changes since the previous release.\n"
        );
        let noted = render_section(&v, "2026-01-02", &[], "- a note\n");
        assert_eq!(noted, "## [0.2.0] - 2026-01-02\n\n- a note\n");
    }

    #[test]
    fn section_from_a_scripted_repository_groups_commits_since_the_last_tag() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        git(repo, &["init", "--quiet", "--initial-branch=main"]);
        commit(repo, "core: before the release");
        git(repo, &["tag", "-a", "v0.1.0", "-m", "refund-rs 0.1.0"]);
        commit(repo, "plexy: add the refunds client");
        commit(repo, "core: exact JSON amounts");
        commit(repo, "fix a typo in the README");
        commit(repo, "docs: releasing section");
        git(repo, &["checkout", "--quiet", "-b", "topic"]);
        commit(repo, "ci: cache the registry");
        git(repo, &["checkout", "--quiet", "main"]);
        commit(repo, "unknown: an area we do not know");
        git(
            repo,
            &[
                "merge",
                "--quiet",
                "--no-ff",
                "-m",
                "Merge branch 'topic'",
                "topic",
            ],
        );
        commit(repo, "xtask: release automation");

        let commits = commits_since(repo, Some("v0.1.0")).unwrap();
        let subjects: Vec<&str> = commits.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(subjects.len(), 7, "{subjects:?}");
        assert!(!subjects.iter().any(|s| s.starts_with("Merge")));
        let short = |subject: &str| {
            commits
                .iter()
                .find(|c| c.subject == subject)
                .map(|c| c.short.clone())
                .unwrap()
        };

        let (text, section) = release_changelog(
            CHANGELOG,
            &Version::new(0, 2, 0),
            "2026-02-01",
            &commits,
            Some("v0.1.0"),
            "https://github.com/o/r",
        )
        .unwrap();
        let expected_section = format!(
            "## [0.2.0] - 2026-02-01

### Breaking

- `Money::parse` refuses exponent notation.

### refund-core

- exact JSON amounts ({core})

### refund-plexy

- add the refunds client ({plexy})

### Maintainer tooling (xtask)

- release automation ({xtask})

### CI

- cache the registry ({ci})

### Documentation

- releasing section ({docs})

### Other

- fix a typo in the README ({typo})
- unknown: an area we do not know ({unknown})
",
            core = short("core: exact JSON amounts"),
            plexy = short("plexy: add the refunds client"),
            xtask = short("xtask: release automation"),
            ci = short("ci: cache the registry"),
            docs = short("docs: releasing section"),
            typo = short("fix a typo in the README"),
            unknown = short("unknown: an area we do not know"),
        );
        assert_eq!(section, expected_section);
        let expected_text = format!(
            "# Changelog

Intro.

## [Unreleased]

{expected_section}
## [0.1.0] - 2026-01-10

- First release.

[Unreleased]: https://github.com/o/r/compare/v0.2.0...HEAD
[0.2.0]: https://github.com/o/r/compare/v0.1.0...v0.2.0
[0.1.0]: https://github.com/o/r/releases/tag/v0.1.0
"
        );
        assert_eq!(text, expected_text);

        // The release commit itself never appears, and with no tag every commit counts.
        commit(repo, "release: v0.2.0");
        let all = commits_since(repo, None).unwrap();
        assert_eq!(all.len(), 9);
        let first = render_section(&Version::new(0, 2, 0), "2026-02-01", &all, "");
        assert!(!first.contains("release: v0.2.0"), "{first}");
        assert!(first.contains("- before the release ("), "{first}");
    }

    #[test]
    fn first_release_of_a_changelog_without_links() {
        let changelog = "# Changelog\n\n## [Unreleased]\n";
        let commits = [Commit {
            short: "abc1234".to_owned(),
            subject: "core: money".to_owned(),
        }];
        let (text, _) = release_changelog(
            changelog,
            &Version::new(0, 1, 0),
            "2026-01-10",
            &commits,
            None,
            "https://github.com/o/r.git",
        )
        .unwrap();
        assert_eq!(
            text,
            "# Changelog

## [Unreleased]

## [0.1.0] - 2026-01-10

### refund-core

- money (abc1234)

[Unreleased]: https://github.com/o/r/compare/v0.1.0...HEAD
[0.1.0]: https://github.com/o/r/releases/tag/v0.1.0
"
        );
        assert!(
            release_changelog("# Changelog\n", &Version::new(0, 1, 0), "", &[], None, "").is_err()
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(today_utc().len(), 10);
    }
}
