//! The one error type of refund-rs.
//!
//! Opaque on purpose (as in reqwest and hyper): callers branch on [`Error::kind`] and the `is_*`
//! predicates, read the accessors, and reach foreign errors only through
//! [`std::error::Error::source`]. The representation can then grow without breaking anyone.

use std::fmt;
use std::time::Duration;

use crate::id::{PaymentId, ProviderId, RefundReference};

/// What went wrong, coarsely. New kinds may be added in minor releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request was invalid and was refused, by us before sending anything or by the provider
    /// (HTTP 400/422) without applying it.
    InvalidInput,
    /// The provider cannot do this (for example a partial refund on PayNext); nothing was sent.
    Unsupported,
    /// The credentials were missing, wrong or lacked a permission (HTTP 401/403).
    Auth,
    /// The payment or refund does not exist, or is out of the key's scope (HTTP 404).
    NotFound,
    /// The provider rate-limited the request (HTTP 429); it was not processed.
    RateLimited,
    /// The connection failed. See [`Error::may_have_reached_provider`] for whether bytes left.
    Transport,
    /// A connect or request timeout elapsed.
    Timeout,
    /// A response could not be decoded (not JSON, wrong types, too large).
    Decode,
    /// The provider answered with an error that fits no other kind (an unexpected status, or a
    /// 5xx on a lookup).
    Provider,
    /// A refund request may or may not have been applied: reconcile before doing anything else.
    OutcomeUnknown,
    /// The SDK or an application was configured wrongly (a missing key, a bad base URL).
    Config,
    /// A webhook delivery failed authentication: a missing or wrong token, header or
    /// signature (forged, or signed with another secret). Answer it with 401.
    WebhookAuth,
    /// A webhook delivery was authentic but its timestamp lies outside the tolerance (a replay,
    /// or a badly skewed clock). Answer it with 401, like a failed authentication.
    WebhookStale,
    /// A webhook delivery was authentic but its body could not be read as the provider's
    /// payload. Answer it with 400.
    WebhookMalformed,
}

impl ErrorKind {
    /// A stable snake_case name, as used in the CLI's JSON output (`"outcome_unknown"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Decode => "decode",
            ErrorKind::Provider => "provider",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::Config => "config",
            ErrorKind::WebhookAuth => "webhook_auth",
            ErrorKind::WebhookStale => "webhook_stale",
            ErrorKind::WebhookMalformed => "webhook_malformed",
        }
    }

    /// Every kind, for exhaustive tests and documentation tables.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::InvalidInput,
        ErrorKind::Unsupported,
        ErrorKind::Auth,
        ErrorKind::NotFound,
        ErrorKind::RateLimited,
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::Decode,
        ErrorKind::Provider,
        ErrorKind::OutcomeUnknown,
        ErrorKind::Config,
        ErrorKind::WebhookAuth,
        ErrorKind::WebhookStale,
        ErrorKind::WebhookMalformed,
    ];

    fn default_reach(self) -> Reach {
        match self {
            ErrorKind::InvalidInput
            | ErrorKind::Unsupported
            | ErrorKind::Config
            | ErrorKind::Transport
            // A webhook is received, not sent: nothing of ours reached the provider.
            | ErrorKind::WebhookAuth
            | ErrorKind::WebhookStale
            | ErrorKind::WebhookMalformed => Reach::NeverReached,
            _ => Reach::MayHaveReached,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a request may have reached the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reach {
    /// Provably never reached it: refused before sending, DNS failure, connection refused, TLS
    /// handshake failure. Safe to send again.
    NeverReached,
    /// Bytes may have reached the provider (or it answered).
    MayHaveReached,
}

/// The error type of every refund-rs crate.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    reach: Reach,
    provider: Option<ProviderId>,
    http_status: Option<u16>,
    provider_code: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    payment_id: Option<PaymentId>,
    reference: Option<RefundReference>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind`. The message is this layer's only: lowercase, no trailing period,
    /// never a secret or a whole body.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                reach: kind.default_reach(),
                provider: None,
                http_status: None,
                provider_code: None,
                request_id: None,
                retry_after: None,
                payment_id: None,
                reference: None,
                source: None,
            }),
        }
    }

    /// Shorthand for [`ErrorKind::InvalidInput`] refused before any I/O.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// Shorthand for [`ErrorKind::Decode`].
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }

    /// Shorthand for [`ErrorKind::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Sets the provider.
    #[must_use]
    pub fn with_provider(mut self, provider: ProviderId) -> Self {
        self.inner.provider = Some(provider);
        self
    }

    /// Sets the HTTP status the provider answered with.
    #[must_use]
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.inner.http_status = Some(status);
        self
    }

    /// Sets the provider's own error or response code.
    #[must_use]
    pub fn with_provider_code(mut self, code: impl Into<String>) -> Self {
        self.inner.provider_code = Some(code.into());
        self
    }

    /// Sets the provider's request id (from a response header), for support tickets.
    #[must_use]
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.inner.request_id = Some(id.into());
        self
    }

    /// Sets how long the provider asked us to wait (`Retry-After`).
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.inner.retry_after = Some(delay);
        self
    }

    /// Sets the payment the failed operation was about.
    #[must_use]
    pub fn with_payment_id(mut self, payment: PaymentId) -> Self {
        self.inner.payment_id = Some(payment);
        self
    }

    /// Sets the refund reference the failed operation was about.
    #[must_use]
    pub fn with_reference(mut self, reference: RefundReference) -> Self {
        self.inner.reference = Some(reference);
        self
    }

    /// Sets whether the request may have reached the provider (each kind has a default).
    #[must_use]
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.inner.reach = reach;
        self
    }

    /// Sets the underlying cause, reachable through [`std::error::Error::source`].
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// Re-labels the error with another kind, keeping everything else (used when a layer knows
    /// more, for example that a 5xx answered a refund POST and so the outcome is unknown).
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.inner.kind = kind;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether the request may have reached the provider. `false` means it provably did not, so
    /// sending it again cannot apply anything twice.
    pub fn may_have_reached_provider(&self) -> bool {
        self.inner.reach == Reach::MayHaveReached
    }

    /// Whether the same request may be sent again as it is, for any operation, without risking a
    /// second application: rate-limited requests, and failures that never reached the provider.
    ///
    /// A refund that ended [`ErrorKind::OutcomeUnknown`] is *not* retryable: reconcile first.
    pub fn is_retryable(&self) -> bool {
        match self.inner.kind {
            ErrorKind::RateLimited => true,
            ErrorKind::Transport | ErrorKind::Timeout => self.inner.reach == Reach::NeverReached,
            _ => false,
        }
    }

    /// Whether the refund may or may not have been applied ([`ErrorKind::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        self.inner.kind == ErrorKind::OutcomeUnknown
    }

    /// The provider, when known.
    pub fn provider(&self) -> Option<&ProviderId> {
        self.inner.provider.as_ref()
    }

    /// The HTTP status the provider answered with, when there was an answer.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }

    /// The provider's own error or response code, when it gave one.
    pub fn provider_code(&self) -> Option<&str> {
        self.inner.provider_code.as_deref()
    }

    /// The provider's request id, when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// How long the provider asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The payment concerned, when known.
    pub fn payment_id(&self) -> Option<&PaymentId> {
        self.inner.payment_id.as_ref()
    }

    /// The refund reference concerned, when known.
    pub fn reference(&self) -> Option<&RefundReference> {
        self.inner.reference.as_ref()
    }

    /// This layer's message, without provider or status decoration.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.inner.provider {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.inner.message)?;
        // A provider code comes from the answer's body: print a bounded, escaped prefix (found
        // by fuzzing: a 2,000-character `code` made a 2 KiB message). `provider_code()` keeps it
        // whole.
        let code = self.inner.provider_code.as_deref().map(display_code);
        match (self.inner.http_status, code) {
            (Some(s), Some(c)) => write!(f, " (http {s}, code {c})"),
            (Some(s), None) => write!(f, " (http {s})"),
            (None, Some(c)) => write!(f, " (code {c})"),
            (None, None) => Ok(()),
        }
    }
}

/// The longest provider code [`Error`]'s `Display` prints.
const MAX_DISPLAYED_CODE: usize = 64;

fn display_code(code: &str) -> String {
    let mut out = String::new();
    let mut chars = code.chars();
    for c in chars.by_ref().take(MAX_DISPLAYED_CODE) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind)
            .field("message", &i.message)
            .field("reach", &i.reach);
        if let Some(v) = &i.provider {
            d.field("provider", v);
        }
        if let Some(v) = &i.http_status {
            d.field("http_status", v);
        }
        if let Some(v) = &i.provider_code {
            d.field("provider_code", v);
        }
        if let Some(v) = &i.request_id {
            d.field("request_id", v);
        }
        if let Some(v) = &i.retry_after {
            d.field("retry_after", v);
        }
        if let Some(v) = &i.payment_id {
            d.field("payment_id", v);
        }
        if let Some(v) = &i.reference {
            d.field("reference", v);
        }
        if let Some(v) = &i.source {
            d.field("source", v);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (refund-bench corpus `payabli_refund`): a provider code is read from the
    /// answer's body, and `Display` printed all of it.
    #[test]
    fn display_prints_a_bounded_escaped_provider_code() {
        let code = format!("D{}\n", "9".repeat(3000));
        let e = Error::decode("x")
            .with_http_status(402)
            .with_provider_code(code.clone());
        let shown = e.to_string();
        assert!(shown.len() < 120, "{shown}");
        assert!(shown.starts_with("x (http 402, code D999"), "{shown}");
        assert!(shown.ends_with("…)") && !shown.contains('\n'), "{shown}");
        assert_eq!(e.provider_code(), Some(code.as_str()));
        let short = Error::decode("x").with_provider_code("A0004\n");
        assert_eq!(short.to_string(), "x (code A0004\\n)");
    }

    const _: () = {
        const fn assert_bounds<T: Send + Sync + 'static + std::error::Error>() {}
        assert_bounds::<Error>();
    };

    #[test]
    fn display_of_each_kind() {
        // One realistic error per kind, as the provider crates build them.
        let cases = [
            Error::invalid_input(
                "refund reference may only contain A-Z a-z 0-9 - _ . : (found ' ')",
            ),
            Error::unsupported("partial refunds are not supported")
                .with_provider(ProviderId::PAYNEXT),
            Error::new(ErrorKind::Auth, "the provider refused the credentials")
                .with_provider(ProviderId::PLEXY)
                .with_http_status(401),
            Error::new(ErrorKind::NotFound, "payment not found")
                .with_provider(ProviderId::PLEXY)
                .with_http_status(404)
                .with_provider_code("4"),
            Error::new(ErrorKind::RateLimited, "rate limited, retry after 2s")
                .with_provider(ProviderId::PAYABLI)
                .with_http_status(429),
            Error::new(ErrorKind::Transport, "connection refused").with_provider(ProviderId::PLEXY),
            Error::new(ErrorKind::Timeout, "no answer within 60s")
                .with_provider(ProviderId::PAYNEXT),
            Error::decode(
                "invalid type at `amount`: expected a number, body starts with \"<html>\"",
            )
            .with_provider(ProviderId::PLEXY)
            .with_http_status(200),
            Error::new(ErrorKind::Provider, "unexpected answer to a lookup")
                .with_provider(ProviderId::PAYABLI)
                .with_http_status(503),
            Error::new(
                ErrorKind::OutcomeUnknown,
                "the refund may have been applied: reconcile before retrying",
            )
            .with_provider(ProviderId::PLEXY)
            .with_http_status(500)
            .with_provider_code("2"),
            Error::config("PLEXY_API_KEY is not set"),
            Error::new(
                ErrorKind::WebhookAuth,
                "no v1 entry of the svix-signature header matches the body",
            )
            .with_provider(ProviderId::PAYNEXT),
            Error::new(
                ErrorKind::WebhookStale,
                "the svix-timestamp is 3600 s in the past, beyond the 300 s tolerance",
            )
            .with_provider(ProviderId::PAYNEXT),
            Error::new(
                ErrorKind::WebhookMalformed,
                "the delivery is not a Plexy event: expected value at line 1 column 1",
            )
            .with_provider(ProviderId::PLEXY),
        ];
        assert_eq!(cases.len(), ErrorKind::ALL.len());
        let lines: Vec<String> = cases.iter().map(|e| format!("{}: {e}", e.kind())).collect();
        for (e, kind) in cases.iter().zip(ErrorKind::ALL) {
            assert_eq!(e.kind(), kind);
        }
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn retryability() {
        assert!(Error::new(ErrorKind::RateLimited, "x").is_retryable());
        assert!(Error::new(ErrorKind::Transport, "x").is_retryable());
        assert!(
            !Error::new(ErrorKind::Transport, "x")
                .with_reach(Reach::MayHaveReached)
                .is_retryable()
        );
        assert!(!Error::new(ErrorKind::Timeout, "x").is_retryable());
        assert!(
            Error::new(ErrorKind::Timeout, "x")
                .with_reach(Reach::NeverReached)
                .is_retryable()
        );
        assert!(!Error::new(ErrorKind::OutcomeUnknown, "x").is_retryable());
        assert!(Error::new(ErrorKind::OutcomeUnknown, "x").may_have_reached_provider());
        assert!(!Error::invalid_input("x").may_have_reached_provider());
    }
}
