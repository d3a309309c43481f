//! `cargo xtask codegen` (being written).

use crate::util::Result;

/// Arguments of `cargo xtask codegen`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Fail, naming the stale file, when the committed output differs from a fresh run.
    #[arg(long)]
    check: bool,
}

pub(crate) fn run(args: Args) -> Result {
    let _ = args.check;
    Err("codegen is not written yet".into())
}

/// Whether codegen exists yet (CI runs `codegen --check` once it does).
pub(crate) const AVAILABLE: bool = false;
