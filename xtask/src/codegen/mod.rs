//! `cargo xtask codegen [--check]`: each vendor's private wire models from its OpenAPI spec.
//!
//! `specs/<vendor>.yaml` → `crates/refund-<vendor>/src/wire/generated.rs`. The output depends on
//! the spec text and the versions in `Cargo.lock` only (spec order is kept, no hash maps), so two
//! runs give the same bytes and `--check` can compare them with the committed file.

use std::path::Path;

use crate::util::{Result, workspace_root};

mod emit;
mod spec;

/// Arguments of `cargo xtask codegen`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Fail, naming the stale file, when the committed output differs from a fresh run.
    #[arg(long)]
    check: bool,
}

/// Whether codegen exists yet (CI runs `codegen --check` once it does).
pub(crate) const AVAILABLE: bool = true;

/// The vendors with a spec, in a fixed order.
const VENDORS: &[&str] = &["plexy", "paynext", "payabli"];

/// One generated file: its path relative to the workspace root, and its text.
struct Output {
    path: String,
    text: String,
}

pub(crate) fn run(args: Args) -> Result {
    let root = workspace_root();
    if args.check {
        check(&root)?;
        eprintln!("codegen: every generated file is up to date");
        return Ok(());
    }
    for output in generate_all(&root)? {
        let path = root.join(&output.path);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(output.text.as_str()) {
            eprintln!("codegen: {} (unchanged)", output.path);
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, &output.text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("codegen: wrote {}", output.path);
    }
    Ok(())
}

/// Compares every committed file with a fresh run; writes nothing.
///
/// # Errors
/// Names each stale or missing file, or the spec that does not generate.
pub(crate) fn check(root: &Path) -> Result {
    let mut stale = Vec::new();
    for output in generate_all(root)? {
        let current = std::fs::read_to_string(root.join(&output.path)).ok();
        match current {
            Some(text) if text == output.text => {}
            Some(_) => stale.push(format!("{} is stale", output.path)),
            None => stale.push(format!("{} is missing", output.path)),
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "generated code differs from its spec:\n  {}\nrun `cargo xtask codegen` and commit the result",
            stale.join("\n  ")
        ))
    }
}

fn generate_all(root: &Path) -> Result<Vec<Output>> {
    VENDORS
        .iter()
        .map(|vendor| {
            let spec_path = format!("specs/{vendor}.yaml");
            let text = std::fs::read_to_string(root.join(&spec_path))
                .map_err(|e| format!("cannot read {spec_path}: {e}"))?;
            Ok(Output {
                path: format!("crates/refund-{vendor}/src/wire/generated.rs"),
                text: generate(&text, &spec_path)?,
            })
        })
        .collect()
}

/// The generated module for one spec text (`spec_path` is named in the output and in errors).
fn generate(spec_text: &str, spec_path: &str) -> Result<String> {
    let doc = spec::parse(spec_text, spec_path)?;
    emit::render(&doc, spec_path)
}

#[cfg(test)]
mod tests;
