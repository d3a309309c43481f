//! `cargo xtask release <patch|minor|major|X.Y.Z> [--execute]`: release every publishable crate.
//!
//! The default is a dry run that changes nothing and prints the plan: the new version, the
//! crates in publish order (computed from `cargo metadata`, never listed by hand), the files the
//! release edits, the `CHANGELOG.md` section it would write, and every check's result. It
//! exits non-zero when a check fails, so CI runs it as a gate.
//!
//! `--execute` runs the same checks, then bumps every version with `toml_edit` (formatting
//! preserved), writes the changelog section, commits, tags `vX.Y.Z` and publishes crate by
//! crate. A run that stops half-way is finished by running `cargo xtask release X.Y.Z
//! --execute` again: the tag at HEAD marks the release as started, so the rerun skips the bump
//! and commit, and skips the crates the registry already has.

mod changelog;
mod checks;
mod git;
mod graph;
mod registry;
mod version;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_metadata::semver::Version;

use self::checks::{Check, Status};
use self::graph::Workspace;
use self::registry::{Registry, SparseIndex};
use self::version::{Bump, ManifestText, ReadmeEdit};
use crate::util::{Result, run as run_cmd, workspace_root};

/// Arguments of `cargo xtask release`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// `patch`, `minor`, `major` or an explicit `X.Y.Z`.
    bump: String,
    /// Carry the plan out: bump, write CHANGELOG.md, commit, tag vX.Y.Z, publish crate by crate.
    /// Without it, nothing is changed.
    #[arg(long)]
    execute: bool,
    /// Skip the `cargo package` build of every crate, for a quick plan (never with --execute).
    #[arg(long)]
    skip_package: bool,
    /// Use no network: the registry is not asked and cargo runs offline (never with --execute).
    #[arg(long)]
    offline: bool,
    /// Plan even with uncommitted changes: the clean-tree check is skipped (never with
    /// --execute), for local runs of `cargo xtask ci`.
    #[arg(long)]
    allow_dirty: bool,
    /// The workspace to release (default: the one this xtask belongs to).
    #[arg(long, hide = true)]
    root: Option<PathBuf>,
}

/// One file the release rewrites.
struct Edit {
    path: PathBuf,
    /// The path relative to the workspace root.
    label: String,
    text: String,
    changes: Vec<String>,
}

/// Everything a release would do, and whether it may.
struct Plan {
    root: PathBuf,
    current: Version,
    next: Version,
    /// The tag of `next` is at HEAD already: a release that stopped half-way.
    resume: bool,
    previous_tag: Option<String>,
    order: Vec<String>,
    not_published: Vec<String>,
    edits: Vec<Edit>,
    section: Option<String>,
    /// Whether each crate of `order` is on the registry at `next` (`None`: not asked).
    on_registry: Vec<Option<bool>>,
    checks: Vec<Check>,
}

pub(crate) fn run(args: Args) -> Result {
    let bump = Bump::parse(&args.bump)?;
    if args.execute && (args.skip_package || args.offline || args.allow_dirty) {
        return Err(
            "--execute runs every check: drop --skip-package, --offline and --allow-dirty".into(),
        );
    }
    let root = args.root.clone().unwrap_or_else(workspace_root);
    let registry: Option<SparseIndex> = if args.offline {
        None
    } else {
        Some(SparseIndex::crates_io()?)
    };
    let plan = build_plan(
        &root,
        &bump,
        &args,
        registry.as_ref().map(|r| r as &dyn Registry),
    )?;
    print!("{}", render(&plan, args.execute));
    let failed: Vec<&str> = plan
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.name)
        .collect();
    if !failed.is_empty() {
        return Err(format!(
            "{} check(s) failed ({}); nothing was changed",
            failed.len(),
            failed.join("; ")
        ));
    }
    if !args.execute {
        println!("\nDry run: nothing was changed. To release, run:");
        println!("  cargo xtask release {} --execute", plan.next);
        return Ok(());
    }
    match registry {
        Some(registry) => execute(&plan, &registry),
        None => Err("--execute needs the registry".into()),
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn build_plan(
    root: &Path,
    bump: &Bump,
    args: &Args,
    registry: Option<&dyn Registry>,
) -> Result<Plan> {
    let ws = Workspace::load(root, args.offline)?;
    let root = ws.root.clone();
    let order = graph::publish_order(&ws.members)?;
    let publishable: Vec<&graph::Member> = order.iter().filter_map(|n| ws.member(n)).collect();
    let first = publishable
        .first()
        .ok_or("the workspace has no publishable crate")?;
    let current = first.version.clone();
    let differing: Vec<String> = publishable
        .iter()
        .filter(|m| m.version != current)
        .map(|m| format!("{} {}", m.name, m.version))
        .collect();
    if !differing.is_empty() {
        return Err(format!(
            "the crates are released in lockstep, but {} is at {current} while {} differ",
            first.name,
            differing.join(", ")
        ));
    }
    let next = bump.apply(&current);
    if next < current {
        return Err(format!(
            "{next} is older than the current version {current}"
        ));
    }
    let tag = format!("v{next}");
    let head = git::head(&root)?;
    let tag_commit = git::tag_commit(&root, &tag);
    let resume = tag_commit.as_deref() == Some(head.as_str());
    let previous_tag = git::release_tags(&root, true)?
        .range(..next.clone())
        .next_back()
        .map(|(_, t)| t.clone());
    let mut checks = Vec::new();

    let status = git::status(&root)?;
    let dirty = !status.trim().is_empty();
    checks.push(if dirty && args.allow_dirty {
        Check::skip(
            "clean git tree",
            format!(
                "{} uncommitted or untracked files, allowed by --allow-dirty",
                status.lines().count()
            ),
        )
    } else if dirty {
        let mut lines: Vec<String> = status.lines().take(20).map(str::to_owned).collect();
        lines.insert(0, "commit or stash these first:".to_owned());
        Check::fail("clean git tree", lines)
    } else {
        Check::pass("clean git tree", "no uncommitted or untracked files")
    });

    checks.push(match &tag_commit {
        None => Check::pass("release tag", format!("{tag} does not exist yet")),
        Some(_) if resume => Check::pass(
            "release tag",
            format!(
                "{tag} is at HEAD: resuming a release that stopped (no bump, changelog, commit \
                 or tag; publishes the crates the registry lacks)"
            ),
        ),
        Some(commit) => Check::fail(
            "release tag",
            vec![format!(
                "{tag} exists already at {}, not at HEAD (to finish that release, check out \
                 {tag} and run `cargo xtask release {next} --execute`)",
                commit.get(..12).unwrap_or(commit)
            )],
        ),
    });

    let mut problems = Vec::new();
    for member in &publishable {
        let missing = checks::missing_metadata(member);
        if !missing.is_empty() {
            problems.push(format!("{}: missing {}", member.name, missing.join(", ")));
        }
    }
    checks.push(Check::from_problems(
        "crate metadata",
        problems,
        format!(
            "{} crates have description, license, repository, readme, keywords, categories",
            publishable.len()
        ),
    ));

    // The bump, computed in memory: manifests, then READMEs, then the changelog.
    let ours: BTreeSet<String> = order.iter().cloned().collect();
    let mut edits = Vec::new();
    let root_manifest = root.join("Cargo.toml");
    let mut manifests: Vec<(String, String, bool)> = Vec::new();
    let root_is_member = ws.members.iter().any(|m| m.manifest_path == root_manifest);
    if !root_is_member {
        manifests.push(("Cargo.toml".to_owned(), read(&root_manifest)?, false));
    }
    for member in &ws.members {
        let label = relative(&root, &member.manifest_path);
        manifests.push((label, read(&member.manifest_path)?, member.publishable));
    }
    let mut bumped_texts = Vec::new();
    for (label, text, publishable) in &manifests {
        let bumped = version::bump_manifest(text, &ours, &next, *publishable)
            .map_err(|e| format!("{label}: {e}"))?;
        if !bumped.changes.is_empty() {
            edits.push(Edit {
                path: root.join(label),
                label: label.clone(),
                text: bumped.text.clone(),
                changes: bumped.changes,
            });
        }
        bumped_texts.push((label.clone(), bumped.text, *publishable));
    }
    let root_text = bumped_texts
        .iter()
        .find(|(label, _, _)| label == "Cargo.toml")
        .map(|(_, text, _)| text.clone())
        .unwrap_or_default();
    let members: Vec<ManifestText<'_>> = bumped_texts
        .iter()
        .map(|(label, text, publishable)| ManifestText {
            label,
            text,
            publishable: *publishable,
        })
        .collect();
    let disagreements = version::version_disagreements(&root_text, &members, &ours, &next)?;
    let bumped_places: usize = edits.iter().map(|e| e.changes.len()).sum();
    checks.push(Check::from_problems(
        "inter-crate versions",
        disagreements,
        if edits.is_empty() {
            format!("every crate is {next} and every requirement between them accepts it")
        } else {
            format!(
                "after the bump every crate is {next} and every requirement between them \
                 accepts it ({bumped_places} version fields in {} manifests)",
                edits.len()
            )
        },
    ));

    let repository = first
        .meta
        .repository
        .clone()
        .unwrap_or_default()
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .to_owned();
    let changelog_url = format!("{repository}/blob/HEAD/CHANGELOG.md");
    for member in &publishable {
        let Some(path) = member.meta.readme.as_ref().filter(|p| p.is_file()) else {
            continue; // Reported by the metadata check.
        };
        let text = read(path)?;
        let (text, edit) = version::bump_readme(&text, &next, &changelog_url);
        let change = match edit {
            ReadmeEdit::Unchanged => continue,
            ReadmeEdit::Updated => "version line",
            ReadmeEdit::Inserted => "version line (inserted under the title)",
        };
        edits.push(Edit {
            path: path.clone(),
            label: relative(&root, path),
            text,
            changes: vec![change.to_owned()],
        });
    }

    let changelog_path = root.join("CHANGELOG.md");
    let mut section = None;
    let changelog_text = read(&changelog_path).unwrap_or_default();
    if resume {
        let heading = format!("## [{next}]");
        checks.push(if changelog_text.contains(&heading) {
            Check::pass("CHANGELOG.md", format!("has the section {heading}"))
        } else {
            Check::fail("CHANGELOG.md", vec![format!("has no section {heading}")])
        });
    } else {
        let commits = git::commits_since(&root, previous_tag.as_deref())?;
        match changelog::release_changelog(
            &changelog_text,
            &next,
            &changelog::today_utc(),
            &commits,
            previous_tag.as_deref(),
            &repository,
        ) {
            Ok((text, new_section)) => {
                checks.push(Check::pass(
                    "CHANGELOG.md",
                    format!(
                        "section [{next}] from {} commits since {}",
                        commits.len(),
                        previous_tag.as_deref().unwrap_or("the first commit")
                    ),
                ));
                edits.push(Edit {
                    path: changelog_path,
                    label: "CHANGELOG.md".to_owned(),
                    text,
                    changes: vec![format!("new section [{next}]")],
                });
                section = Some(new_section);
            }
            Err(e) => checks.push(Check::fail("CHANGELOG.md", vec![e])),
        }
    }
    if resume && !edits.iter().all(|e| e.label == "CHANGELOG.md") {
        let files: Vec<&str> = edits.iter().map(|e| e.label.as_str()).collect();
        checks.push(Check::fail(
            "resume",
            vec![format!(
                "{tag} is at HEAD but these files are not at {next}: {}",
                files.join(", ")
            )],
        ));
    }
    if resume {
        edits.clear();
    }

    let mut problems = Vec::new();
    let mut files = 0;
    for name in &order {
        match checks::package_files(&root, name, args.offline) {
            Ok(list) => {
                files += list.len();
                for file in list {
                    if let Some(why) = checks::unwanted_in_package(&file) {
                        problems.push(format!("{name}: {file} ({why}): exclude it in Cargo.toml"));
                    }
                }
            }
            Err(e) => problems.push(e),
        }
    }
    checks.push(Check::from_problems(
        "package contents",
        problems,
        format!(
            "no test fixtures or snapshots among the {files} files of {} packages",
            order.len()
        ),
    ));

    let mut on_registry = vec![None; order.len()];
    checks.push(match registry {
        None => Check::skip("registry", "not asked (--offline)"),
        Some(registry) => {
            let mut errors = Vec::new();
            for (name, slot) in order.iter().zip(on_registry.iter_mut()) {
                match registry.is_published(name, &next) {
                    Ok(found) => *slot = Some(found),
                    Err(e) => errors.push(format!("{name}: {e}")),
                }
            }
            let already: Vec<&str> = order
                .iter()
                .zip(&on_registry)
                .filter(|(_, found)| **found == Some(true))
                .map(|(n, _)| n.as_str())
                .collect();
            let ok = if already.is_empty() {
                format!("no crate is on crates.io at {next} yet")
            } else {
                format!(
                    "on crates.io at {next} already, so skipped: {}",
                    already.join(", ")
                )
            };
            Check::from_problems("registry", errors, ok)
        }
    });

    // A release that stopped half-way is finished before the next one starts.
    if let Some(tag) = previous_tag.as_deref().filter(|_| !resume) {
        let name = "previous release complete";
        checks.push(match registry {
            None => Check::skip(name, "not asked (--offline)"),
            Some(registry) => {
                let released = tag.trim_start_matches('v');
                let released = Version::parse(released).map_err(|e| format!("{tag}: {e}"))?;
                let mut problems = Vec::new();
                for crate_name in existed_at(&root, tag, &publishable) {
                    match registry.is_published(&crate_name, &released) {
                        Ok(true) => {}
                        Ok(false) => problems.push(format!(
                            "{crate_name} {released} is not on crates.io: check out {tag} and \
                             run `cargo xtask release {released} --execute` to finish it"
                        )),
                        Err(e) => problems.push(format!("{crate_name}: {e}")),
                    }
                }
                Check::from_problems(
                    name,
                    problems,
                    format!("every crate of {tag} is on crates.io"),
                )
            }
        });
    }

    checks.push(match &previous_tag {
        None => Check::skip(
            "cargo-semver-checks",
            "no previous release tag (vX.Y.Z): nothing to compare against",
        ),
        Some(_) if args.offline => Check::skip("cargo-semver-checks", "not run with --offline"),
        Some(tag) if !checks::semver_checks_installed(&root) => Check::skip(
            "cargo-semver-checks",
            format!(
                "not installed; `cargo install --locked cargo-semver-checks` enables the \
                 comparison with {tag}"
            ),
        ),
        Some(tag) => {
            // Only the crates that existed at the previous release have a baseline.
            let existed = existed_at(&root, tag, &publishable);
            checks::semver_checks(&root, tag, version::release_type(&current, &next), &existed)
        }
    });

    checks.push(if args.skip_package {
        Check::skip(
            "cargo package (build every crate from its .crate)",
            "skipped (--skip-package)",
        )
    } else {
        checks::cargo_package(&root, &ws.build_dir, &order, args.offline, dirty)
    });

    let not_published = ws
        .members
        .iter()
        .filter(|m| !m.publishable)
        .map(|m| m.name.clone())
        .collect();
    Ok(Plan {
        root,
        current,
        next,
        resume,
        previous_tag,
        order,
        not_published,
        edits,
        section,
        on_registry,
        checks,
    })
}

/// The crates of `members` whose manifest existed at `tag`.
fn existed_at(root: &Path, tag: &str, members: &[&graph::Member]) -> Vec<String> {
    members
        .iter()
        .filter(|m| {
            let manifest = relative(root, &m.manifest_path);
            git::git(root, &["cat-file", "-e", &format!("{tag}:{manifest}")]).is_ok()
        })
        .map(|m| m.name.clone())
        .collect()
}

fn render(plan: &Plan, execute: bool) -> String {
    let mut out = String::new();
    let next = &plan.next;
    let mode = if execute { "execute" } else { "dry run" };
    let _ = writeln!(
        out,
        "cargo xtask release: {} -> {next} ({mode})",
        plan.current
    );
    let _ = writeln!(
        out,
        "Previous release: {}",
        plan.previous_tag
            .as_deref()
            .unwrap_or("none (no vX.Y.Z tag reachable from HEAD)")
    );
    if plan.resume {
        let _ = writeln!(out, "Resuming: v{next} is tagged at HEAD");
    }

    let _ = writeln!(out, "\nCrates to publish, in dependency order:");
    let width = plan.order.iter().map(String::len).max().unwrap_or(0);
    for (index, (name, found)) in plan.order.iter().zip(&plan.on_registry).enumerate() {
        let registry = match found {
            Some(true) => "on crates.io already: skipped",
            Some(false) => "not on crates.io yet",
            None => "crates.io not asked",
        };
        let _ = writeln!(
            out,
            "  {}. {name:width$} {next}   ({registry})",
            index.saturating_add(1)
        );
    }
    let _ = writeln!(
        out,
        "Not published (publish = false): {}",
        plan.not_published.join(", ")
    );

    let _ = writeln!(out, "\nFiles the release changes:");
    if plan.edits.is_empty() {
        let _ = writeln!(out, "  none (resuming)");
    }
    for edit in &plan.edits {
        let _ = writeln!(out, "  {}: {}", edit.label, edit.changes.join(", "));
    }
    if !plan.resume {
        let _ = writeln!(
            out,
            "  Cargo.lock: our crates' versions (cargo update --workspace)"
        );
    }

    if let Some(section) = &plan.section {
        let _ = writeln!(out, "\nChangelog section:");
        for line in section.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }

    let _ = writeln!(out, "\nChecks:");
    for check in &plan.checks {
        let label = match check.status {
            Status::Pass => "ok  ",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        let mut detail = check.detail.iter();
        let first = detail.next().map(String::as_str).unwrap_or_default();
        let _ = writeln!(out, "  [{label}] {}: {first}", check.name);
        for line in detail {
            let _ = writeln!(out, "         {line}");
        }
    }

    let _ = writeln!(out, "\nSteps of --execute:");
    let mut step = 0_usize;
    let mut add = |out: &mut String, text: String| {
        step = step.saturating_add(1);
        let _ = writeln!(out, "  {step}. {text}");
    };
    if !plan.resume {
        add(
            &mut out,
            "write the files above; cargo update --workspace".to_owned(),
        );
        add(
            &mut out,
            format!(
                "git commit -m \"{}v{next}\" (those files only)",
                changelog::RELEASE_PREFIX
            ),
        );
        add(&mut out, format!("git tag -a v{next}"));
    }
    for name in &plan.order {
        add(
            &mut out,
            format!("cargo publish --locked -p {name} (skipped when crates.io has {name} {next})"),
        );
    }
    let _ = writeln!(
        out,
        "  then: git push origin HEAD v{next}  (not done by the tool)"
    );
    out
}

fn execute(plan: &Plan, registry: &dyn Registry) -> Result {
    let root = &plan.root;
    let next = &plan.next;
    let tag = format!("v{next}");
    if !plan.resume {
        eprintln!("\n==> writing {} files", plan.edits.len());
        for edit in &plan.edits {
            std::fs::write(&edit.path, &edit.text)
                .map_err(|e| format!("cannot write {}: {e}", edit.path.display()))?;
        }
        run_cmd(cargo_in(root, &["update", "--workspace"]))?;
        let mut paths: Vec<String> = plan.edits.iter().map(|e| e.label.clone()).collect();
        paths.push("Cargo.lock".to_owned());
        let mut add = git_in(root, &["add", "--"]);
        add.args(&paths);
        run_cmd(add)?;
        let message = format!("{}{tag}", changelog::RELEASE_PREFIX);
        let mut commit = git_in(root, &["commit", "--quiet", "-m", &message, "--"]);
        commit.args(&paths);
        run_cmd(commit)?;
        run_cmd(git_in(
            root,
            &["tag", "-a", &tag, "-m", &format!("refund-rs {next}")],
        ))?;
    }
    let mut publish = |name: &str| run_cmd(cargo_in(root, &["publish", "--locked", "-p", name]));
    let done = registry::publish_in_order(&plan.order, next, registry, &mut publish)?;
    println!(
        "\nReleased {next}: published {}; already on crates.io: {}",
        if done.published.is_empty() {
            "none".to_owned()
        } else {
            done.published.join(", ")
        },
        if done.already.is_empty() {
            "none".to_owned()
        } else {
            done.already.join(", ")
        },
    );
    println!("Now push the release commit and tag: git push origin HEAD {tag}");
    Ok(())
}

fn cargo_in(root: &Path, args: &[&str]) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(args);
    cmd
}

fn git_in(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(root).args(args);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry answering from a closure.
    struct FnRegistry<F>(F);

    impl<F: Fn(&str, &Version) -> Result<bool>> Registry for FnRegistry<F> {
        fn is_published(&self, name: &str, version: &Version) -> Result<bool> {
            (self.0)(name, version)
        }
    }

    fn args(bump: &str) -> Args {
        Args {
            bump: bump.to_owned(),
            execute: false,
            skip_package: true,
            offline: true,
            allow_dirty: false,
            root: None,
        }
    }

    fn check<'a>(plan: &'a Plan, name: &str) -> &'a Check {
        plan.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}: {:?}", plan.checks))
    }

    /// A clone of HEAD with a lightweight tag on it.
    fn tagged_clone(tag_suffix: impl FnOnce(&Version) -> String) -> (tempfile::TempDir, Version) {
        let temp = tempfile::tempdir().unwrap();
        let clone = temp.path().join("ws");
        let status = Command::new("git")
            .args(["clone", "--quiet"])
            .arg(workspace_root())
            .arg(&clone)
            .status()
            .unwrap();
        assert!(status.success());
        let ws = Workspace::load(&clone, true).unwrap();
        let current = ws.member("refund-core").unwrap().version.clone();
        git::git(&clone, &["tag", &format!("v{}", tag_suffix(&current))]).unwrap();
        (temp, current)
    }

    #[test]
    fn an_unfinished_previous_release_blocks_the_next() {
        let (temp, current) = tagged_clone(Version::to_string);
        let root = temp.path().join("ws");
        let missing = "refund-facade";
        let registry =
            FnRegistry(|name: &str, version: &Version| Ok(*version == current && name != missing));
        let plan = build_plan(&root, &Bump::Patch, &args("patch"), Some(&registry)).unwrap();
        assert_eq!(plan.previous_tag, Some(format!("v{current}")));
        assert!(!plan.resume);
        assert!(plan.on_registry.iter().all(|found| *found == Some(false)));
        assert_eq!(check(&plan, "registry").status, Status::Pass);
        let previous = check(&plan, "previous release complete");
        assert_eq!(previous.status, Status::Fail);
        assert_eq!(previous.detail.len(), 1, "{:?}", previous.detail);
        assert!(
            previous.detail[0].starts_with(&format!("{missing} {current} is not on crates.io"))
        );
        // The tag is at HEAD: the section lists no commit (only CHANGELOG.md's Unreleased
        // notes, when the tree has some).
        let section = plan.section.as_deref().unwrap();
        assert!(!section.contains("\n### "), "{section}");
        // Planning wrote nothing.
        assert_eq!(git::status(&root).unwrap(), "");
    }

    #[test]
    fn a_tag_at_head_means_resume_and_the_manifests_must_match_it() {
        let (temp, current) =
            tagged_clone(|v| Version::new(v.major, v.minor, v.patch + 1).to_string());
        let root = temp.path().join("ws");
        let next = Version::new(current.major, current.minor, current.patch + 1);
        let registry = FnRegistry(|name: &str, _: &Version| Ok(name == "refund-core"));
        let plan = build_plan(
            &root,
            &Bump::Exact(next.clone()),
            &args("x"),
            Some(&registry),
        )
        .unwrap();
        assert!(plan.resume);
        assert!(plan.edits.is_empty());
        assert_eq!(check(&plan, "release tag").status, Status::Pass);
        // The tag says `next`, but the manifests (and the changelog) are still at `current`.
        assert_eq!(check(&plan, "resume").status, Status::Fail);
        assert_eq!(check(&plan, "CHANGELOG.md").status, Status::Fail);
        assert_eq!(plan.on_registry.first(), Some(&Some(true)));
        let text = render(&plan, true);
        assert!(
            text.contains(&format!("Resuming: v{next} is tagged at HEAD")),
            "{text}"
        );
        assert!(text.contains("on crates.io already: skipped"), "{text}");
        assert!(!text.contains("git tag -a"), "{text}");
    }
}
