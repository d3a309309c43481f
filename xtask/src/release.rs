//! `cargo xtask release` (being written).

use crate::util::Result;

/// Arguments of `cargo xtask release`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// `patch`, `minor`, `major` or an explicit `X.Y.Z`.
    bump: String,
    /// Carry the plan out (the default is a dry run that changes nothing).
    #[arg(long)]
    execute: bool,
}

pub(crate) fn run(args: Args) -> Result {
    let _ = (args.bump, args.execute);
    Err("release is not written yet".into())
}
