//! `refund`: issue and track refunds on Plexy, PayNext and Payabli from the command line.
//!
//! See `refund --help`. The interface, JSON shapes and exit codes are a contract for scripts.
//!
//! Layout: `cli` declares the commands (clap); each command lives in its own module (`demo`,
//! `sandbox`, `single` for `create` and `status`, `batch` with its `journal`) and returns its
//! exit code; `output` holds the JSON shapes, the exit codes and the printing helpers. A new
//! command is a variant of `cli::Command`, a module, and one arm in [`run`].

use std::process::ExitCode;

use clap::Parser;
use refund_facade::refund_core::Error;
use refund_facade::{ClientOptions, Router};

mod batch;
mod cli;
mod demo;
mod journal;
mod output;
mod sandbox;
mod single;
mod webhooks;

use cli::{Cli, Command, OutputFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::emit_err(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(output::EXIT_FAILURE);
        }
    };
    ExitCode::from(runtime.block_on(run(cli)))
}

fn init_logging(verbose: u8) {
    // Quiet by default: results go to stdout, and warnings about reconciliation would only
    // repeat what the result says. -v shows each attempt and lookup.
    let level = match verbose {
        0 => tracing::Level::ERROR,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Runs one command and returns the process exit code.
async fn run(cli: Cli) -> u8 {
    let options = match cli.timeout {
        Some(t) => ClientOptions::default().with_request_timeout(t),
        None => ClientOptions::default(),
    };
    match cli.command {
        Command::Demo => demo::run(cli.output).await,
        Command::Sandbox { addr } => sandbox::run(addr, cli.output).await,
        Command::Create(args) => single::create(args, &options, cli.output).await,
        Command::Status(args) => single::status(args, &options, cli.output).await,
        Command::Batch(args) => batch_command(&args, &options, cli.output, cli.verbose).await,
        Command::Webhooks {
            command: cli::WebhooksCommand::Listen(args),
        } => webhooks::listen(args, cli.output).await,
    }
}

async fn batch_command(
    args: &cli::BatchArgs,
    options: &ClientOptions,
    format: OutputFormat,
    verbose: u8,
) -> u8 {
    let router = match router(options) {
        Ok(r) => r,
        Err(e) => return output::print_error(format, &e, None),
    };
    let run = batch::BatchRun {
        file: &args.file,
        journal: &args.journal,
        batch_id: args.batch_id.as_deref(),
        lease: std::time::Duration::from_millis(args.lease_ms),
        concurrency: usize::from(args.concurrency),
        report: args.report.as_deref(),
        // Log lines on stderr would tear a progress bar apart.
        progress: verbose == 0,
    };
    match batch::run(&router, run).await {
        Ok(summary) => {
            match format {
                OutputFormat::Human => output::emit(summary.table().trim_end()),
                OutputFormat::Json => output::emit(&summary.json().to_string()),
            }
            summary.exit_code()
        }
        Err(stopped) => {
            let code = output::print_error(format, &stopped.error, None);
            if stopped.started {
                // Rows may have been sent before it stopped: not "refused without applying".
                output::EXIT_FAILURE
            } else {
                code
            }
        }
    }
}

/// A router with every provider configured in the environment.
fn router(options: &ClientOptions) -> Result<Router, Error> {
    Router::builder().providers_from_env(options)?.build()
}

/// A router that has `provider`, or a configuration error naming the variable to set.
pub(crate) fn router_for(
    provider: cli::ProviderArg,
    options: &ClientOptions,
) -> Result<Router, Error> {
    let router = router(options)?;
    if router.provider(&provider.id()).is_err() {
        return Err(not_configured(&provider.id()));
    }
    Ok(router)
}

/// The configuration error for a provider whose key is not set, naming the variable.
pub(crate) fn not_configured(provider: &refund_facade::refund_core::ProviderId) -> Error {
    let key_var = refund_facade::ENV_VARS
        .iter()
        .find(|(name, _, _)| *name == provider.as_str())
        .map_or("the API key variable", |(_, key, _)| key);
    Error::config(format!(
        "{key_var} is not set: it is required for {provider}"
    ))
}
