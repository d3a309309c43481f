//! `refund`: issue and track refunds on Plexy, PayNext and Payabli from the command line.
//!
//! See `refund --help`. The interface, JSON shapes and exit codes are a contract for scripts.
//!
//! Layout: `cli` declares the commands (clap); each command lives in its own module (`demo`,
//! `sandbox`, `single` for `create` and `status`, `batch` with its `journal`, `follow`, `report`
//! and `tracking` for following rows to their final state) and returns its exit code; `output` holds the JSON shapes, the exit codes and the printing helpers. A new
//! command is a variant of `cli::Command`, a module, and one arm in [`run`].

use std::process::ExitCode;

use clap::Parser;
use refund_facade::refund_core::Error;
use refund_facade::{ClientOptions, Router};

mod batch;
mod cli;
mod demo;
mod follow;
mod journal;
mod output;
mod report;
mod sandbox;
mod single;
mod tracking;
mod webhooks;

use cli::{Cli, Command, OutputArg, OutputFormat};

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
    if let Command::Report(args) = &cli.command {
        let format = match cli.output {
            OutputArg::Human => report::ReportFormat::Human,
            OutputArg::Json => report::ReportFormat::Json,
            OutputArg::Csv => report::ReportFormat::Csv,
        };
        return report::command(&args.journal, args.batch_id.as_deref(), format).await;
    }
    let format = match cli.output {
        OutputArg::Human => OutputFormat::Human,
        OutputArg::Json => OutputFormat::Json,
        OutputArg::Csv => {
            output::emit_err("error: --output csv is only for `refund report`");
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Demo => demo::run(format).await,
        Command::Sandbox { addr } => sandbox::run(addr, format).await,
        Command::Create(args) => single::create(args, &options, cli.timeout, format).await,
        Command::Status(args) => single::status(args, &options, format).await,
        Command::Batch(args) => batch_command(&args, &options, format, cli.verbose).await,
        Command::Follow(args) => match router(&options) {
            Ok(router) => {
                follow::command(
                    &router,
                    &args.journal,
                    args.batch_id.as_deref(),
                    args.follow_for,
                    usize::from(args.concurrency),
                    format,
                )
                .await
            }
            Err(e) => output::print_error(format, &e, None),
        },
        // Handled above.
        Command::Report(_) => EXIT_USAGE,
        Command::Webhooks {
            command: cli::WebhooksCommand::Listen(args),
        } => webhooks::listen(args, format).await,
    }
}

/// Exit code of usage errors (as clap's).
const EXIT_USAGE: u8 = 2;

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
        Ok(summary) if args.follow => {
            // The batch has closed its journal: follow its pending rows (shared with webhook
            // listeners, like `refund follow`).
            // The batch a PostgreSQL journal names this run (as `batch::run` chose it).
            let batch_id = args.batch_id.clone().or_else(|| {
                args.file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            });
            let followed = match tracking::TrackingJournal::open(
                &args.journal,
                batch_id.as_deref(),
                tracking::BUSY_TIMEOUT,
            )
            .await
            {
                Ok(store) => {
                    follow::follow_rows(
                        &router,
                        &store,
                        args.follow_for,
                        usize::from(args.concurrency),
                    )
                    .await
                }
                Err(m) => Err(m),
            };
            let code = match &followed {
                Ok(f) if summary.exit_code() == output::EXIT_OK => f.exit_code(),
                Ok(_) => summary.exit_code(),
                Err(_) => output::EXIT_FAILURE,
            };
            match format {
                OutputFormat::Human => {
                    output::emit(summary.table().trim_end());
                    if let Ok(f) = &followed {
                        output::emit(&f.text());
                    }
                }
                OutputFormat::Json => {
                    let mut json = summary.json();
                    if let (Ok(f), Some(obj)) = (&followed, json.as_object_mut()) {
                        obj.insert(
                            "follow".to_owned(),
                            serde_json::to_value(f).unwrap_or_default(),
                        );
                    }
                    output::emit(&json.to_string());
                }
            }
            if let Err(m) = followed {
                output::emit_err(&format!(
                    "error: cannot follow the batch's pending rows: {m}"
                ));
            }
            code
        }
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
