//! The workspace's crates (from `cargo metadata`) and the order to publish them in.
//!
//! Nothing here names a crate: the order follows from the dependency graph alone, so a crate
//! added to the workspace is released without touching this file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cargo_metadata::semver::{Version, VersionReq};
use cargo_metadata::{DependencyKind, MetadataCommand};

use crate::util::Result;

/// One workspace member, as the release sees it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) version: Version,
    pub(crate) manifest_path: PathBuf,
    /// False for `publish = false` (and for crates restricted to registries other than crates.io).
    pub(crate) publishable: bool,
    /// Workspace members that must be on the registry before this crate can be published:
    /// normal and build dependencies, and dev-dependencies that carry a version (cargo strips
    /// the path-only ones when packaging, but keeps those).
    pub(crate) needs: BTreeSet<String>,
    pub(crate) meta: PackageMeta,
}

/// The registry-facing metadata fields of a package.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackageMeta {
    pub(crate) description: Option<String>,
    pub(crate) license: Option<String>,
    pub(crate) license_file: Option<PathBuf>,
    pub(crate) repository: Option<String>,
    /// Absolute path of the readme, when one is set (or detected by cargo).
    pub(crate) readme: Option<PathBuf>,
    pub(crate) keywords: Vec<String>,
    pub(crate) categories: Vec<String>,
}

/// The workspace, as far as releasing is concerned.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    /// Where cargo keeps intermediate build artifacts (`build-dir`, by default the target dir).
    pub(crate) build_dir: PathBuf,
    pub(crate) members: Vec<Member>,
}

impl Workspace {
    /// Reads the workspace with `cargo metadata --no-deps` (no network, no lockfile change).
    pub(crate) fn load(root: &Path, offline: bool) -> Result<Self> {
        let mut cmd = MetadataCommand::new();
        cmd.manifest_path(root.join("Cargo.toml"))
            .current_dir(root)
            .no_deps();
        if let Some(cargo) = std::env::var_os("CARGO") {
            cmd.cargo_path(cargo);
        }
        if offline {
            cmd.other_options(vec!["--offline".to_owned()]);
        }
        let metadata = cmd
            .exec()
            .map_err(|e| format!("cargo metadata failed: {e}"))?;
        let packages = metadata.workspace_packages();
        let names: BTreeSet<String> = packages.iter().map(|p| p.name.to_string()).collect();
        let members = packages
            .iter()
            .map(|p| {
                let needs = p
                    .dependencies
                    .iter()
                    .filter(|d| d.path.is_some() && names.contains(&d.name))
                    .filter(|d| match d.kind {
                        DependencyKind::Development => d.req != VersionReq::STAR,
                        _ => true,
                    })
                    .map(|d| d.name.clone())
                    .collect();
                Member {
                    name: p.name.to_string(),
                    version: p.version.clone(),
                    manifest_path: p.manifest_path.clone().into_std_path_buf(),
                    publishable: match &p.publish {
                        None => true,
                        Some(registries) => registries.iter().any(|r| r == "crates-io"),
                    },
                    needs,
                    meta: PackageMeta {
                        description: p.description.clone(),
                        license: p.license.clone(),
                        license_file: p.license_file.clone().map(|f| f.into_std_path_buf()),
                        repository: p.repository.clone(),
                        readme: p.readme.as_ref().map(|r| {
                            let dir = p.manifest_path.parent().map(|d| d.as_std_path());
                            dir.unwrap_or(root).join(r.as_std_path())
                        }),
                        keywords: p.keywords.clone(),
                        categories: p.categories.clone(),
                    },
                }
            })
            .collect();
        let build_dir = metadata
            .build_directory
            .clone()
            .unwrap_or_else(|| metadata.target_directory.clone());
        Ok(Self {
            root: metadata.workspace_root.into_std_path_buf(),
            build_dir: build_dir.into_std_path_buf(),
            members,
        })
    }

    /// The member named `name`.
    pub(crate) fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }
}

/// Publishable crates in an order where each comes after everything it needs, ties broken by
/// name so the order is stable. Crates with `publish = false` are left out.
///
/// # Errors
/// A publishable crate that needs an unpublishable one, or a dependency cycle (named in full).
pub(crate) fn publish_order(members: &[Member]) -> Result<Vec<String>> {
    let publishable: BTreeMap<&str, &Member> = members
        .iter()
        .filter(|m| m.publishable)
        .map(|m| (m.name.as_str(), m))
        .collect();
    let all: BTreeSet<&str> = members.iter().map(|m| m.name.as_str()).collect();
    // Remaining unmet needs of each publishable crate.
    let mut pending: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, member) in &publishable {
        let mut needs = BTreeSet::new();
        for need in &member.needs {
            if publishable.contains_key(need.as_str()) {
                needs.insert(need.as_str());
            } else if all.contains(need.as_str()) {
                return Err(format!(
                    "{name} depends on {need}, which has `publish = false`: it cannot be published"
                ));
            }
        }
        pending.insert(name, needs);
    }
    let mut order = Vec::with_capacity(pending.len());
    loop {
        let ready: Option<&str> = pending
            .iter()
            .find(|(_, needs)| needs.is_empty())
            .map(|(name, _)| *name);
        let Some(next) = ready else { break };
        pending.remove(next);
        for needs in pending.values_mut() {
            needs.remove(next);
        }
        order.push(next.to_owned());
    }
    if pending.is_empty() {
        Ok(order)
    } else {
        Err(format!(
            "dependency cycle among publishable crates: {}",
            find_cycle(&pending).join(" -> ")
        ))
    }
}

/// In a graph where every node still has an unmet need, walking needs must revisit a node: the
/// walk from that node back to itself is a cycle.
fn find_cycle(pending: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    let mut path: Vec<&str> = Vec::new();
    let mut current = pending.keys().next().copied();
    while let Some(node) = current {
        if let Some(start) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path.iter().skip(start).map(|n| (*n).to_owned()).collect();
            cycle.push(node.to_owned());
            return cycle;
        }
        path.push(node);
        current = pending
            .get(node)
            .and_then(|needs| needs.iter().find(|n| pending.contains_key(**n)))
            .copied();
    }
    path.iter().map(|n| (*n).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, publishable: bool, needs: &[&str]) -> Member {
        Member {
            name: name.to_owned(),
            version: Version::new(0, 1, 0),
            manifest_path: PathBuf::from(format!("{name}/Cargo.toml")),
            publishable,
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
            meta: PackageMeta::default(),
        }
    }

    fn position(order: &[String], name: &str) -> usize {
        order
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{name} missing from {order:?}"))
    }

    #[test]
    fn synthetic_graph_orders_dependencies_first_and_skips_unpublishable() {
        let members = [
            node("cli", true, &["facade", "core"]),
            node("facade", true, &["core", "vendor-b", "vendor-a", "sandbox"]),
            node("vendor-b", true, &["core"]),
            node("vendor-a", true, &["core"]),
            node("sandbox", true, &["core"]),
            node("core", true, &[]),
            node("tests", false, &["facade", "core"]),
            node("xtask", false, &[]),
        ];
        let order = publish_order(&members).unwrap();
        assert_eq!(
            order,
            ["core", "sandbox", "vendor-a", "vendor-b", "facade", "cli"]
        );
    }

    #[test]
    fn a_cycle_is_an_error_that_names_it() {
        let members = [
            node("core", true, &[]),
            node("a", true, &["core", "c"]),
            node("b", true, &["a"]),
            node("c", true, &["b"]),
            node("d", true, &["core"]),
        ];
        let err = publish_order(&members).unwrap_err();
        assert!(err.contains("dependency cycle"), "{err}");
        assert!(err.contains("a -> c -> b -> a"), "{err}");
    }

    #[test]
    fn a_self_cycle_is_an_error() {
        let err = publish_order(&[node("a", true, &["a"])]).unwrap_err();
        assert!(err.contains("a -> a"), "{err}");
    }

    #[test]
    fn depending_on_an_unpublishable_crate_is_an_error() {
        let members = [node("a", true, &["helper"]), node("helper", false, &[])];
        let err = publish_order(&members).unwrap_err();
        assert!(err.contains("a depends on helper"), "{err}");
    }

    #[test]
    fn order_of_this_workspace_from_cargo_metadata() {
        let ws = Workspace::load(&crate::util::workspace_root(), true).unwrap();
        let order = publish_order(&ws.members).unwrap();
        assert_eq!(order.first().map(String::as_str), Some("refund-core"));
        assert!(!order.iter().any(|n| n == "xtask" || n == "refund-tests"));
        for member in ws.members.iter().filter(|m| m.publishable) {
            let at = position(&order, &member.name);
            for need in &member.needs {
                assert!(
                    position(&order, need) < at,
                    "{} is published before its dependency {need}: {order:?}",
                    member.name
                );
            }
        }
        // The vendor crates must precede the facade, whichever of them exist.
        let facade = position(&order, "refund-facade");
        for vendor in ["refund-plexy", "refund-paynext", "refund-payabli"] {
            assert!(position(&order, vendor) < facade, "{order:?}");
        }
        let xtask = ws.member("xtask").unwrap();
        assert!(!xtask.publishable);
    }
}
