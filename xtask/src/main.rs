//! `cargo xtask`: maintainer tasks of refund-rs.
//!
//! - `cargo xtask ci`: everything CI checks, in order (the README's test command).
//! - `cargo xtask codegen [--check]`: vendor wire models from `specs/`.
//! - `cargo xtask release <patch|minor|major|X.Y.Z> [--execute]`: cut a release.
//! - `cargo xtask bench` / `cargo xtask fuzz [--execs N]`: benchmarks and long fuzz runs
//!   (`BENCHMARKS.md`, `SECURITY.md`); not part of `ci`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod ci;
mod codegen;
mod release;
mod util;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Maintainer tasks of refund-rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every CI check in order: fmt, clippy, tests, docs, cargo-deny, codegen freshness,
    /// facade feature subsets, the release dry run and the demo.
    Ci(ci::Args),
    /// Generate vendor wire models from specs/*.yaml.
    Codegen(codegen::Args),
    /// Plan (dry run) or execute a release of every publishable crate.
    Release(release::Args),
    /// Run the benchmarks of BENCHMARKS.md and print their numbers (not part of `ci`).
    Bench(bench::BenchArgs),
    /// Run the fuzz targets for millions of generated inputs (not part of `ci`).
    Fuzz(bench::FuzzArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ci(args) => ci::run(args),
        Command::Codegen(args) => codegen::run(args),
        Command::Release(args) => release::run(args),
        Command::Bench(args) => bench::run_bench(args),
        Command::Fuzz(args) => bench::run_fuzz(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
