//! What the CLI prints, and its exit codes (both are a contract).

use std::io::Write;

use refund_facade::refund_core::{Error, ErrorKind, Refund, RefundStatus};
use serde::Serialize;

use crate::cli::OutputFormat;

/// Exit code: succeeded or pending.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: any other failure.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit code: declined.
pub(crate) const EXIT_DECLINED: u8 = 3;
/// Exit code: refused before or by the provider without applying anything.
pub(crate) const EXIT_REFUSED: u8 = 4;
/// Exit code: outcome unknown (may have been applied).
pub(crate) const EXIT_UNKNOWN: u8 = 5;

/// The JSON object printed for one refund by `create` and `status`, and per row by `batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RefundJson {
    pub(crate) provider: String,
    pub(crate) payment_id: String,
    pub(crate) reference: String,
    pub(crate) outcome: &'static str,
    pub(crate) refund_id: Option<String>,
    pub(crate) amount: Option<String>,
    pub(crate) currency: Option<String>,
    pub(crate) provider_code: Option<String>,
    pub(crate) message: Option<String>,
}

impl RefundJson {
    pub(crate) fn from_refund(refund: &Refund) -> Self {
        let decline = refund.decline.as_ref();
        RefundJson {
            provider: refund.provider.to_string(),
            payment_id: refund.payment_id.to_string(),
            reference: refund.reference.to_string(),
            outcome: refund.status.as_str(),
            refund_id: refund.refund_id.as_ref().map(ToString::to_string),
            amount: refund.amount.map(|m| m.decimal_text()),
            currency: refund.amount.map(|m| m.currency().code().to_owned()),
            provider_code: decline
                .and_then(|d| d.provider_code.clone())
                .or_else(|| refund.raw_status.clone()),
            message: decline.and_then(|d| d.message.clone()),
        }
    }

    pub(crate) fn exit_code(&self) -> u8 {
        if self.outcome == RefundStatus::Declined.as_str() {
            EXIT_DECLINED
        } else {
            EXIT_OK
        }
    }
}

/// The JSON error object: `{"error": {"kind", "message", "reference"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ErrorJson {
    pub(crate) error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    pub(crate) reference: Option<String>,
}

impl ErrorJson {
    pub(crate) fn from_error(e: &Error, reference: Option<&str>) -> Self {
        ErrorJson {
            error: ErrorBody {
                kind: e.kind().as_str(),
                message: e.to_string(),
                reference: e
                    .reference()
                    .map(ToString::to_string)
                    .or(reference.map(str::to_owned)),
            },
        }
    }
}

/// The exit code for an error.
pub(crate) fn exit_code_for(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::InvalidInput
        | ErrorKind::Unsupported
        | ErrorKind::Auth
        | ErrorKind::NotFound
        | ErrorKind::Config => EXIT_REFUSED,
        ErrorKind::OutcomeUnknown => EXIT_UNKNOWN,
        _ => EXIT_FAILURE,
    }
}

/// Writes `text` and a newline to stdout.
///
/// A closed pipe (`refund … | head -1`) is not an error worth a panic: the rest of the output is
/// dropped and the exit code still tells the outcome. Other write errors are reported on stderr.
pub(crate) fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{text}").and_then(|()| out.flush());
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        emit_err(&format!("error: cannot write to stdout: {e}"));
    }
}

/// Writes `text` and a newline to stderr, ignoring failures (there is nowhere left to report
/// them).
pub(crate) fn emit_err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Prints a refund (one JSON object, or text) and returns its exit code.
pub(crate) fn print_refund(
    format: OutputFormat,
    refund: &RefundJson,
    generated_reference: bool,
) -> u8 {
    match format {
        OutputFormat::Json => emit(&serde_json::to_string(refund).unwrap_or_default()),
        OutputFormat::Human => {
            if generated_reference {
                emit(&format!("generated reference: {}", refund.reference));
            }
            emit(&human_refund(refund));
        }
    }
    refund.exit_code()
}

/// Prints an error (the JSON error object on stdout, or text on stderr) and returns its exit
/// code.
pub(crate) fn print_error(format: OutputFormat, e: &Error, reference: Option<&str>) -> u8 {
    match format {
        OutputFormat::Json => {
            emit(&serde_json::to_string(&ErrorJson::from_error(e, reference)).unwrap_or_default())
        }
        OutputFormat::Human => emit_err(&human_error(e, reference)),
    }
    exit_code_for(e)
}

/// Human text for one refund.
pub(crate) fn human_refund(r: &RefundJson) -> String {
    let mut out = format!(
        "{} refund {} on {} for payment {}",
        r.outcome, r.reference, r.provider, r.payment_id
    );
    if let (Some(a), Some(c)) = (&r.amount, &r.currency) {
        out.push_str(&format!(": {a} {c}"));
    }
    if let Some(id) = &r.refund_id {
        out.push_str(&format!("\n  provider refund id: {id}"));
    }
    if let Some(code) = &r.provider_code {
        out.push_str(&format!("\n  provider code: {code}"));
    }
    if let Some(m) = &r.message {
        out.push_str(&format!("\n  message: {m}"));
    }
    out
}

/// Human text for an error.
pub(crate) fn human_error(e: &Error, reference: Option<&str>) -> String {
    let mut out = format!("error ({}): {e}", e.kind().as_str());
    if let Some(r) = e
        .reference()
        .map(ToString::to_string)
        .or(reference.map(str::to_owned))
    {
        out.push_str(&format!("\n  reference: {r}"));
    }
    if e.kind() == ErrorKind::OutcomeUnknown {
        out.push_str("\n  the refund may have been applied: run `refund status` with this reference later; do not create a new refund");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use refund_facade::refund_core::{
        Currency, Decline, DeclineCode, Money, PaymentId, ProviderId, RefundReference,
    };

    #[test]
    fn refund_json_shape() {
        let r = Refund::new(
            ProviderId::PLEXY,
            PaymentId::new("p1").unwrap(),
            RefundReference::new("rf-1").unwrap(),
            RefundStatus::Declined,
        )
        .with_amount(Money::parse("10.5", Currency::USD).unwrap())
        .with_decline(
            Decline::new(DeclineCode::DoNotHonor)
                .with_provider_code("05")
                .with_message("declined"),
        );
        let j = RefundJson::from_refund(&r);
        assert_eq!(
            serde_json::to_string(&j).unwrap(),
            r#"{"provider":"plexy","payment_id":"p1","reference":"rf-1","outcome":"declined","refund_id":null,"amount":"10.50","currency":"USD","provider_code":"05","message":"declined"}"#
        );
        assert_eq!(j.exit_code(), EXIT_DECLINED);
    }

    #[test]
    fn exit_codes() {
        for (kind, code) in [
            (ErrorKind::InvalidInput, 4),
            (ErrorKind::Unsupported, 4),
            (ErrorKind::Auth, 4),
            (ErrorKind::NotFound, 4),
            (ErrorKind::Config, 4),
            (ErrorKind::OutcomeUnknown, 5),
            (ErrorKind::Transport, 1),
            (ErrorKind::Timeout, 1),
            (ErrorKind::Decode, 1),
            (ErrorKind::Provider, 1),
            (ErrorKind::RateLimited, 1),
        ] {
            assert_eq!(exit_code_for(&Error::new(kind, "x")), code, "{kind}");
        }
    }
}
