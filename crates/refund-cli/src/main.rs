//! `refund`: issue and track refunds on Plexy, PayNext and Payabli from the command line.
//!
//! See `refund --help`. The interface, JSON shapes and exit codes are a contract for scripts.

use std::process::ExitCode;

use clap::Parser;
use refund_facade::refund_core::{
    Currency, Error, ErrorKind, Lookup, Money, PaymentId, RefundQuery, RefundReference,
    RefundRequest,
};
use refund_facade::{ClientOptions, Router};

mod batch;
mod cli;
mod demo;
mod journal;
mod output;
mod sandbox;

use cli::{Cli, Command, OutputFormat};
use output::{ErrorJson, RefundJson};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
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

async fn run(cli: Cli) -> u8 {
    let options = match cli.timeout {
        Some(t) => ClientOptions::default().with_request_timeout(t),
        None => ClientOptions::default(),
    };
    match cli.command {
        Command::Demo => demo::run(cli.output).await,
        Command::Sandbox { addr } => sandbox::run(addr, cli.output).await,
        Command::Create(args) => {
            let reference = args.reference.clone().unwrap_or_else(random_reference);
            let result = async {
                let request = create_request(&args, &reference)?;
                let router = router_for(args.provider, &options)?;
                router.refund(&args.provider.id(), &request).await
            }
            .await;
            match result {
                Ok(outcome) => print_refund(
                    cli.output,
                    &RefundJson::from_refund(&outcome.refund),
                    args.reference.is_none(),
                ),
                Err(e) => print_error(cli.output, &e, Some(&reference)),
            }
        }
        Command::Status(args) => {
            let result = async {
                let payment = PaymentId::new(args.payment.clone())?;
                let reference = RefundReference::new(args.reference.clone())?;
                let router = router_for(args.provider, &options)?;
                let query = RefundQuery::new(payment.clone(), reference.clone());
                match router.status(&args.provider.id(), &query).await? {
                    Lookup::Found(refund) => Ok(refund),
                    Lookup::Absent => Err(Error::new(
                        ErrorKind::NotFound,
                        format!("no refund with reference {reference} exists for payment {payment}"),
                    )
                    .with_provider(args.provider.id())),
                    Lookup::Inconclusive(reason) => Err(Error::new(
                        ErrorKind::OutcomeUnknown,
                        format!("the provider's answer proves nothing either way ({reason}); try again later"),
                    )
                    .with_provider(args.provider.id())),
                    _ => Err(Error::new(ErrorKind::OutcomeUnknown, "unrecognised lookup answer")),
                }
            }
            .await;
            match result {
                Ok(refund) => print_refund(cli.output, &RefundJson::from_refund(&refund), false),
                Err(e) => print_error(cli.output, &e, Some(&args.reference)),
            }
        }
        Command::Batch(args) => {
            let router = match router(&options) {
                Ok(r) => r,
                Err(e) => return print_error(cli.output, &e, None),
            };
            let summary = batch::run(
                &router,
                &args.file,
                &args.journal,
                usize::from(args.concurrency),
                args.report.as_deref(),
            )
            .await;
            match summary {
                Ok(summary) => {
                    match cli.output {
                        OutputFormat::Human => print!("{}", summary.table()),
                        OutputFormat::Json => {
                            let counts: std::collections::BTreeMap<String, u64> = [
                                "succeeded",
                                "pending",
                                "declined",
                                "refused",
                                "unknown",
                                "failed",
                            ]
                            .iter()
                            .map(|o| ((*o).to_owned(), summary.count(o)))
                            .collect();
                            println!(
                                "{}",
                                serde_json::json!({"rows": summary.rows, "outcomes": counts})
                            );
                        }
                    }
                    if summary.count("unknown") > 0 {
                        output::EXIT_UNKNOWN
                    } else if summary.count("failed") > 0 {
                        output::EXIT_FAILURE
                    } else {
                        output::EXIT_OK
                    }
                }
                Err(message) => {
                    let e = Error::new(ErrorKind::InvalidInput, message);
                    print_error(cli.output, &e, None);
                    output::EXIT_FAILURE
                }
            }
        }
    }
}

fn router(options: &ClientOptions) -> Result<Router, Error> {
    Router::builder().providers_from_env(options)?.build()
}

/// A router that has `provider`, or a configuration error naming the variable to set.
fn router_for(provider: cli::ProviderArg, options: &ClientOptions) -> Result<Router, Error> {
    let router = router(options)?;
    if router.provider(&provider.id()).is_err() {
        let key_var = refund_facade::ENV_VARS
            .iter()
            .find(|(name, _, _)| *name == provider.id().as_str())
            .map_or("the API key variable", |(_, key, _)| key);
        return Err(Error::config(format!(
            "{key_var} is not set: it is required for {}",
            provider.id()
        )));
    }
    Ok(router)
}

fn create_request(args: &cli::CreateArgs, reference: &str) -> Result<RefundRequest, Error> {
    let builder = RefundRequest::builder(
        PaymentId::new(args.payment.clone())?,
        RefundReference::new(reference)?,
    );
    let builder = match (&args.amount, &args.currency) {
        (Some(amount), Some(currency)) => {
            builder.partial(Money::parse(amount, Currency::from_code(currency)?)?)
        }
        (None, None) => builder,
        _ => return Err(Error::invalid_input("--amount and --currency go together")),
    };
    let builder = match &args.reason {
        Some(reason) => builder.reason(reason.clone()),
        None => builder,
    };
    builder.build()
}

/// A random reference for `create` without `--reference`: `rf-` and a UUID v4.
fn random_reference() -> String {
    format!("rf-{}", uuid::Uuid::new_v4())
}

fn print_refund(format: OutputFormat, refund: &RefundJson, generated_reference: bool) -> u8 {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string(refund).unwrap_or_default()),
        OutputFormat::Human => {
            if generated_reference {
                println!("generated reference: {}", refund.reference);
            }
            println!("{}", output::human_refund(refund));
        }
    }
    refund.exit_code()
}

fn print_error(format: OutputFormat, e: &Error, reference: Option<&str>) -> u8 {
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&ErrorJson::from_error(e, reference)).unwrap_or_default()
        ),
        OutputFormat::Human => eprintln!("{}", output::human_error(e, reference)),
    }
    output::exit_code_for(e)
}
