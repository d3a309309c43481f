//! Version arithmetic, the formatting-preserving version bump of manifests (with `toml_edit`)
//! and READMEs, and the check that every inter-crate requirement agrees with the new version.

use std::collections::{BTreeMap, BTreeSet};

use cargo_metadata::semver::{Version, VersionReq};
use toml_edit::{DocumentMut, Item, TableLike, Value};

use crate::util::Result;

/// Dependency tables of a manifest (the underscore spellings are old but still accepted).
const DEP_TABLES: [&str; 5] = [
    "dependencies",
    "dev-dependencies",
    "build-dependencies",
    "dev_dependencies",
    "build_dependencies",
];

/// What the maintainer asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bump {
    Patch,
    Minor,
    Major,
    Exact(Version),
}

impl Bump {
    /// Parses `patch`, `minor`, `major` or a version (`0.2.0`, also `v0.2.0`).
    pub(crate) fn parse(text: &str) -> Result<Self> {
        match text {
            "patch" => Ok(Self::Patch),
            "minor" => Ok(Self::Minor),
            "major" => Ok(Self::Major),
            other => Version::parse(other.strip_prefix('v').unwrap_or(other))
                .map(Self::Exact)
                .map_err(|e| {
                    format!("`{other}` is neither patch, minor, major nor a version X.Y.Z: {e}")
                }),
        }
    }

    /// The version this bump leads to from `current` (semver rules: a lower part resets).
    pub(crate) fn apply(&self, current: &Version) -> Version {
        let (major, minor, patch) = (current.major, current.minor, current.patch);
        match self {
            // A pre-release becomes its release: 0.2.0-rc.1 -> 0.2.0.
            Self::Patch if !current.pre.is_empty() => Version::new(major, minor, patch),
            Self::Patch => Version::new(major, minor, patch.saturating_add(1)),
            Self::Minor => Version::new(major, minor.saturating_add(1), 0),
            Self::Major => Version::new(major.saturating_add(1), 0, 0),
            Self::Exact(v) => v.clone(),
        }
    }
}

/// The kind of change from `old` to `new` in cargo's semver sense, as cargo-semver-checks's
/// `--release-type` names it: before 1.0 the minor number is the breaking one.
pub(crate) fn release_type(old: &Version, new: &Version) -> &'static str {
    let breaking = if old.major == 0 {
        new.major > 0 || new.minor != old.minor
    } else {
        new.major != old.major
    };
    let additive = if old.major == 0 {
        new.patch != old.patch
    } else {
        new.minor != old.minor
    };
    if breaking {
        "major"
    } else if additive {
        "minor"
    } else {
        "patch"
    }
}

/// A manifest after the bump, and what changed in it (dotted TOML paths).
#[derive(Debug)]
pub(crate) struct Bumped {
    pub(crate) text: String,
    pub(crate) changes: Vec<String>,
}

/// Sets every version of our crates in one manifest to `new`, keeping comments, spacing and
/// order exactly: `workspace.package.version`, `package.version` when `own_version` and it is a
/// literal, and the `version` of every dependency entry on one of `ours` (in
/// `workspace.dependencies`, the dependency tables and their `target.*` variants). A requirement
/// operator is kept (`=0.1.0` becomes `=0.1.1`).
///
/// # Errors
/// The text is not TOML.
pub(crate) fn bump_manifest(
    text: &str,
    ours: &BTreeSet<String>,
    new: &Version,
    own_version: bool,
) -> Result<Bumped> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let new_text = new.to_string();
    let mut changes = Vec::new();
    if let Some(workspace) = doc.get_mut("workspace").and_then(Item::as_table_like_mut) {
        if let Some(version) = workspace
            .get_mut("package")
            .and_then(Item::as_table_like_mut)
            .and_then(|package| package.get_mut("version"))
            && set_string(version, &new_text)
        {
            changes.push("workspace.package.version".to_owned());
        }
        if let Some(deps) = workspace
            .get_mut("dependencies")
            .and_then(Item::as_table_like_mut)
        {
            bump_deps(deps, "workspace.dependencies", ours, new, &mut changes);
        }
    }
    if own_version
        && let Some(version) = doc
            .get_mut("package")
            .and_then(Item::as_table_like_mut)
            .and_then(|package| package.get_mut("version"))
        && set_string(version, &new_text)
    {
        changes.push("package.version".to_owned());
    }
    bump_dep_tables(doc.as_table_mut(), "", ours, new, &mut changes);
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (cfg, item) in targets.iter_mut() {
            let prefix = format!("target.{}.", cfg.get());
            if let Some(table) = item.as_table_like_mut() {
                bump_dep_tables(table, &prefix, ours, new, &mut changes);
            }
        }
    }
    Ok(Bumped {
        text: doc.to_string(),
        changes,
    })
}

fn bump_dep_tables(
    table: &mut dyn TableLike,
    prefix: &str,
    ours: &BTreeSet<String>,
    new: &Version,
    changes: &mut Vec<String>,
) {
    for key in DEP_TABLES {
        if let Some(deps) = table.get_mut(key).and_then(Item::as_table_like_mut) {
            bump_deps(deps, &format!("{prefix}{key}"), ours, new, changes);
        }
    }
}

fn bump_deps(
    deps: &mut dyn TableLike,
    path: &str,
    ours: &BTreeSet<String>,
    new: &Version,
    changes: &mut Vec<String>,
) {
    for (key, item) in deps.iter_mut() {
        let key = key.get().to_owned();
        let Some(entry) = item.as_table_like_mut() else {
            continue;
        };
        let name = entry
            .get("package")
            .and_then(Item::as_str)
            .unwrap_or(&key)
            .to_owned();
        if !ours.contains(&name) {
            continue;
        }
        if let Some(version) = entry.get_mut("version")
            && let Some(old) = version.as_str()
        {
            let req = bumped_req(old, new);
            if set_string(version, &req) {
                changes.push(format!("{path}.{key}.version"));
            }
        }
    }
}

/// `old` with its version replaced by `new`, keeping a leading operator.
fn bumped_req(old: &str, new: &Version) -> String {
    let old = old.trim();
    if old.contains(',') {
        // A range (`>=0.1, <0.3`) has no single version to replace: pin the new one.
        return new.to_string();
    }
    let operator_len = old.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
    format!("{}{new}", old.get(..operator_len).unwrap_or(""))
}

/// Replaces a string value, keeping the whitespace and comments around it.
fn set_string(item: &mut Item, text: &str) -> bool {
    let Some(value) = item.as_value_mut() else {
        return false;
    };
    if value.as_str().is_none_or(|old| old == text) {
        return false;
    }
    let decor = value.decor().clone();
    let mut replacement = Value::from(text);
    *replacement.decor_mut() = decor;
    *value = replacement;
    true
}

/// One member manifest, for [`version_disagreements`].
pub(crate) struct ManifestText<'a> {
    /// How problems name the file (a path relative to the workspace root).
    pub(crate) label: &'a str,
    pub(crate) text: &'a str,
    pub(crate) publishable: bool,
}

/// Every place where the manifests disagree with `new`: a publishable crate whose version is
/// not `new`, a requirement on one of `ours` that `new` does not satisfy, or a normal
/// dependency on one of ours without a version (cargo cannot publish it). `workspace = true`
/// entries are resolved through the root's `[workspace.dependencies]`.
///
/// # Errors
/// A manifest is not TOML.
pub(crate) fn version_disagreements(
    root: &str,
    members: &[ManifestText<'_>],
    ours: &BTreeSet<String>,
    new: &Version,
) -> Result<Vec<String>> {
    let root_doc: DocumentMut = root
        .parse()
        .map_err(|e| format!("Cargo.toml is not TOML: {e}"))?;
    let workspace = root_doc.get("workspace").and_then(Item::as_table_like);
    let workspace_version = workspace
        .and_then(|w| w.get("package"))
        .and_then(Item::as_table_like)
        .and_then(|p| p.get("version"))
        .and_then(Item::as_str);
    let mut problems = Vec::new();
    // Requirements declared once in [workspace.dependencies], by key.
    let mut inherited: BTreeMap<String, Option<String>> = BTreeMap::new();
    if let Some(deps) = workspace
        .and_then(|w| w.get("dependencies"))
        .and_then(Item::as_table_like)
    {
        for (key, item) in deps.iter() {
            let Some(entry) = item.as_table_like() else {
                continue;
            };
            let name = entry.get("package").and_then(Item::as_str).unwrap_or(key);
            if !ours.contains(name) {
                continue;
            }
            let req = entry.get("version").and_then(Item::as_str);
            if let Some(req) = req {
                problems.extend(check_req(
                    "Cargo.toml",
                    &format!("workspace.dependencies.{key}"),
                    req,
                    new,
                ));
            }
            inherited.insert(key.to_owned(), req.map(str::to_owned));
        }
    }
    for member in members {
        let doc: DocumentMut = member
            .text
            .parse()
            .map_err(|e| format!("{} is not TOML: {e}", member.label))?;
        if member.publishable {
            let version = doc
                .get("package")
                .and_then(Item::as_table_like)
                .and_then(|p| p.get("version"));
            let resolved = match version {
                Some(item) if item.as_str().is_some() => item.as_str(),
                Some(item) if is_inherited(item) => workspace_version,
                _ => None,
            };
            if resolved != Some(new.to_string().as_str()) {
                problems.push(format!(
                    "{}: the package version is {}, not {new}",
                    member.label,
                    resolved.unwrap_or("unset")
                ));
            }
        }
        let mut tables: Vec<(String, &dyn TableLike)> = Vec::new();
        collect_dep_tables(doc.as_table(), "", &mut tables);
        if let Some(targets) = doc.get("target").and_then(Item::as_table_like) {
            for (cfg, item) in targets.iter() {
                if let Some(table) = item.as_table_like() {
                    collect_dep_tables(table, &format!("target.{cfg}."), &mut tables);
                }
            }
        }
        for (path, deps) in tables {
            let dev = path.contains("dev");
            for (key, item) in deps.iter() {
                let Some(entry) = item.as_table_like() else {
                    continue;
                };
                let from_workspace = entry
                    .get("workspace")
                    .and_then(Item::as_bool)
                    .unwrap_or(false);
                let req = if from_workspace {
                    match inherited.get(key) {
                        Some(req) => req.as_deref(),
                        // Not one of ours (or not declared, which cargo itself reports).
                        None => continue,
                    }
                } else {
                    let name = entry.get("package").and_then(Item::as_str).unwrap_or(key);
                    if !ours.contains(name) {
                        continue;
                    }
                    entry.get("version").and_then(Item::as_str)
                };
                let at = format!("{path}.{key}");
                match req {
                    Some(req) => problems.extend(check_req(member.label, &at, req, new)),
                    None if member.publishable && !dev => problems.push(format!(
                        "{}: {at} has no version requirement, which cargo publish needs",
                        member.label
                    )),
                    None => {}
                }
            }
        }
    }
    Ok(problems)
}

fn is_inherited(item: &Item) -> bool {
    item.as_table_like()
        .and_then(|t| t.get("workspace"))
        .and_then(Item::as_bool)
        .unwrap_or(false)
}

fn collect_dep_tables<'a>(
    table: &'a dyn TableLike,
    prefix: &str,
    out: &mut Vec<(String, &'a dyn TableLike)>,
) {
    for key in DEP_TABLES {
        if let Some(deps) = table.get(key).and_then(Item::as_table_like) {
            out.push((format!("{prefix}{key}"), deps));
        }
    }
}

fn check_req(label: &str, at: &str, req: &str, new: &Version) -> Option<String> {
    match VersionReq::parse(req) {
        Ok(parsed) if parsed.matches(new) => None,
        Ok(_) => Some(format!(
            "{label}: {at} requires `{req}`, which {new} does not satisfy"
        )),
        Err(e) => Some(format!(
            "{label}: {at} has an invalid requirement `{req}`: {e}"
        )),
    }
}

/// The line by which a crate README names its version and links to the changelog.
pub(crate) fn readme_line(version: &Version, changelog_url: &str) -> String {
    format!("Version {version} · [changelog]({changelog_url})")
}

fn is_readme_line(line: &str) -> bool {
    line.starts_with("Version ") && line.contains("CHANGELOG.md")
}

/// What [`bump_readme`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadmeEdit {
    Unchanged,
    Updated,
    /// The README had no version line: one goes under the title.
    Inserted,
}

/// Points the README's version line at `version`, inserting it under the `# ` title if missing.
pub(crate) fn bump_readme(
    text: &str,
    version: &Version,
    changelog_url: &str,
) -> (String, ReadmeEdit) {
    let line = readme_line(version, changelog_url);
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let edit = if let Some(existing) = lines.iter_mut().find(|l| is_readme_line(l)) {
        if *existing == line {
            ReadmeEdit::Unchanged
        } else {
            *existing = line;
            ReadmeEdit::Updated
        }
    } else {
        match lines.iter().position(|l| l.starts_with("# ")) {
            Some(title) => {
                lines.insert(title.saturating_add(1), line);
                lines.insert(title.saturating_add(1), String::new());
            }
            None => {
                lines.insert(0, String::new());
                lines.insert(0, line);
            }
        }
        ReadmeEdit::Inserted
    };
    (lines.join("\n"), edit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> BTreeSet<String> {
        ["refund-core", "refund-plexy", "refund-facade"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    const ROOT: &str = r#"# The workspace.
[workspace]
members = ["crates/*", "xtask"]   # every crate
resolver = "3"

[workspace.package]
version    =   "0.1.0"   # lockstep: one version for every crate
edition = "2024"

[workspace.dependencies]
# Our own crates.
refund-core = { path = "crates/refund-core", version = "0.1.0" }
refund-plexy = {path="crates/refund-plexy",version="=0.1.0"}   # pinned
refund-facade = { path = "crates/refund-facade", version = "0.1.0", default-features = false }

# Third-party crates: untouched even when their version matches ours.
serde = { version = "0.1.0", features = ["derive"] }
toml = "0.1.0"

[workspace.dependencies.refund-extra]
path = "crates/refund-extra"
version = "0.1.0"
"#;

    #[test]
    fn bump_of_a_fixture_root_manifest_changes_only_our_versions() {
        let mut ours = ours();
        ours.insert("refund-extra".to_owned());
        let bumped = bump_manifest(ROOT, &ours, &Version::new(0, 2, 0), false).unwrap();
        let expected = ROOT
            .replace(
                r#"version    =   "0.1.0"   # lockstep"#,
                r#"version    =   "0.2.0"   # lockstep"#,
            )
            .replace(
                r#""crates/refund-core", version = "0.1.0" }"#,
                r#""crates/refund-core", version = "0.2.0" }"#,
            )
            .replace(r#"version="=0.1.0"}"#, r#"version="=0.2.0"}"#)
            .replace(
                r#""crates/refund-facade", version = "0.1.0","#,
                r#""crates/refund-facade", version = "0.2.0","#,
            )
            .replace(
                "path = \"crates/refund-extra\"\nversion = \"0.1.0\"",
                "path = \"crates/refund-extra\"\nversion = \"0.2.0\"",
            );
        assert_ne!(expected, ROOT);
        assert_eq!(bumped.text, expected);
        assert_eq!(
            bumped.changes,
            [
                "workspace.package.version",
                "workspace.dependencies.refund-core.version",
                "workspace.dependencies.refund-plexy.version",
                "workspace.dependencies.refund-facade.version",
                "workspace.dependencies.refund-extra.version",
            ]
        );
    }

    #[test]
    fn bump_of_a_fixture_member_manifest_keeps_its_formatting() {
        let member = r#"[package]
name = "refund-facade"
version = "0.1.0" # its own version
edition.workspace = true

[dependencies]
refund-core.workspace = true
refund-plexy = { path = "../refund-plexy", version = "0.1.0", optional = true }
core2 = { package = "refund-core", path = "../refund-core", version = "^0.1.0" }
serde = "0.1.0"

[dev-dependencies.refund-core]
path = "../refund-core"
version = "0.1.0"   # a dev-dependency with a version is published too

[target.'cfg(unix)'.build-dependencies]
refund-plexy = { path = "../refund-plexy", version = "0.1.0" }
"#;
        let bumped = bump_manifest(member, &ours(), &Version::new(0, 1, 1), true).unwrap();
        let expected = member
            .replace(
                "version = \"0.1.0\" # its own",
                "version = \"0.1.1\" # its own",
            )
            .replace(
                r#""../refund-plexy", version = "0.1.0", optional"#,
                r#""../refund-plexy", version = "0.1.1", optional"#,
            )
            .replace(r#"version = "^0.1.0" }"#, r#"version = "^0.1.1" }"#)
            .replace(
                "version = \"0.1.0\"   # a dev",
                "version = \"0.1.1\"   # a dev",
            )
            .replace(
                "\"../refund-plexy\", version = \"0.1.0\" }\n",
                "\"../refund-plexy\", version = \"0.1.1\" }\n",
            );
        assert_eq!(bumped.text, expected);
        assert_eq!(
            bumped.changes,
            [
                "package.version",
                "dependencies.refund-plexy.version",
                "dependencies.core2.version",
                "dev-dependencies.refund-core.version",
                "target.cfg(unix).build-dependencies.refund-plexy.version",
            ]
        );
        // Bumping again to the same version is a no-op.
        let again = bump_manifest(&bumped.text, &ours(), &Version::new(0, 1, 1), true).unwrap();
        assert_eq!(again.text, bumped.text);
        assert!(again.changes.is_empty());
    }

    #[test]
    fn an_unpublished_members_own_version_is_left_alone() {
        let xtask = "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\n";
        let bumped = bump_manifest(xtask, &ours(), &Version::new(0, 2, 0), false).unwrap();
        assert_eq!(bumped.text, xtask);
    }

    #[test]
    fn disagreements_are_found_after_a_bump_and_gone_after_it() {
        let member = "[package]\nname = \"refund-plexy\"\nversion.workspace = true\n\n\
                      [dependencies]\nrefund-core.workspace = true\n";
        let stray = "[package]\nname = \"refund-facade\"\nversion = \"0.1.0\"\n\n\
                     [dependencies]\nrefund-core = { path = \"../refund-core\" }\n\
                     [dev-dependencies]\nrefund-plexy = { path = \"../refund-plexy\" }\n";
        let new = Version::new(0, 2, 0);
        let members = [
            ManifestText {
                label: "crates/refund-plexy/Cargo.toml",
                text: member,
                publishable: true,
            },
            ManifestText {
                label: "crates/refund-facade/Cargo.toml",
                text: stray,
                publishable: true,
            },
        ];
        let before = version_disagreements(ROOT, &members, &ours(), &new).unwrap();
        assert_eq!(
            before,
            [
                "Cargo.toml: workspace.dependencies.refund-core requires `0.1.0`, which 0.2.0 does not satisfy",
                "Cargo.toml: workspace.dependencies.refund-plexy requires `=0.1.0`, which 0.2.0 does not satisfy",
                "Cargo.toml: workspace.dependencies.refund-facade requires `0.1.0`, which 0.2.0 does not satisfy",
                "crates/refund-plexy/Cargo.toml: the package version is 0.1.0, not 0.2.0",
                "crates/refund-plexy/Cargo.toml: dependencies.refund-core requires `0.1.0`, which 0.2.0 does not satisfy",
                "crates/refund-facade/Cargo.toml: the package version is 0.1.0, not 0.2.0",
                "crates/refund-facade/Cargo.toml: dependencies.refund-core has no version requirement, which cargo publish needs",
            ]
        );
        let root = bump_manifest(ROOT, &ours(), &new, false).unwrap().text;
        let member = bump_manifest(member, &ours(), &new, true).unwrap().text;
        let members = [ManifestText {
            label: "crates/refund-plexy/Cargo.toml",
            text: &member,
            publishable: true,
        }];
        assert_eq!(
            version_disagreements(&root, &members, &ours(), &new).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn bumps_follow_semver() {
        let v = |s: &str| Version::parse(s).unwrap();
        let cases = [
            ("patch", "0.1.0", "0.1.1"),
            ("minor", "0.1.3", "0.2.0"),
            ("major", "0.1.3", "1.0.0"),
            ("major", "1.4.2", "2.0.0"),
            ("patch", "0.2.0-rc.1", "0.2.0"),
            ("0.3.0", "0.1.0", "0.3.0"),
            ("v1.0.0", "0.1.0", "1.0.0"),
        ];
        for (bump, from, to) in cases {
            assert_eq!(
                Bump::parse(bump).unwrap().apply(&v(from)),
                v(to),
                "{bump} {from}"
            );
        }
        assert!(Bump::parse("next").is_err());
        assert_eq!(release_type(&v("0.1.0"), &v("0.1.1")), "minor");
        assert_eq!(release_type(&v("0.1.0"), &v("0.2.0")), "major");
        assert_eq!(release_type(&v("1.1.0"), &v("1.1.1")), "patch");
        assert_eq!(release_type(&v("1.1.0"), &v("1.2.0")), "minor");
        assert_eq!(release_type(&v("1.1.0"), &v("2.0.0")), "major");
    }

    #[test]
    fn readme_version_line_is_updated_or_inserted_under_the_title() {
        let url = "https://github.com/o/r/blob/HEAD/CHANGELOG.md";
        let readme = "# refund-core\n\nShared types.\n";
        let (inserted, edit) = bump_readme(readme, &Version::new(0, 1, 0), url);
        assert_eq!(edit, ReadmeEdit::Inserted);
        assert_eq!(
            inserted,
            format!("# refund-core\n\nVersion 0.1.0 · [changelog]({url})\n\nShared types.\n")
        );
        let (updated, edit) = bump_readme(&inserted, &Version::new(0, 1, 1), url);
        assert_eq!(edit, ReadmeEdit::Updated);
        assert_eq!(updated, inserted.replace("0.1.0", "0.1.1"));
        let (same, edit) = bump_readme(&updated, &Version::new(0, 1, 1), url);
        assert_eq!(edit, ReadmeEdit::Unchanged);
        assert_eq!(same, updated);
    }
}
