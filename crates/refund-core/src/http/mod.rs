//! The HTTP layer shared by every provider crate.
//!
//! A provider crate does three things, and only the middle one does I/O:
//! 1. **build** a [`Request`] as plain data: an [`Endpoint`] from its [`BaseUrl`] and path
//!    [`Segment`]s (each parameter percent-encoded into exactly one segment, contract §0.2),
//!    extra headers, and a JSON body;
//! 2. **send** it with [`HttpClient::send`], which adds `Accept: application/json`, the
//!    User-Agent and the auth header ([`Auth`], marked sensitive), applies the connect and
//!    request timeouts and the response size cap, classifies every failure into "never reached
//!    the provider" and "may have reached it", and records one `tracing` span per call;
//! 3. **parse** the [`Response`] (any status) with pure functions: [`Response::json`] /
//!    [`decode_json`] for bodies, its own status table with [`default_status_error`] as the
//!    fallback, [`Response::retry_after`] for 429s, and [`refund_outcome_error`] for refund
//!    POSTs.
//!
//! ```no_run
//! use refund_core::http::{Auth, BaseUrl, HttpClient, Request, Segment, default_status_error};
//! use refund_core::retry::Operation;
//! use refund_core::{Error, ProviderId, Secret};
//!
//! #[derive(serde::Deserialize)]
//! struct Payment {
//!     id: String,
//! }
//!
//! # async fn demo() -> Result<(), Error> {
//! let base = BaseUrl::parse("https://api.paynext.com")?;
//! let client = HttpClient::builder(ProviderId::PAYNEXT, "refund-paynext/0.1.0")
//!     .auth(Auth::bearer(Secret::new("sk_test_123")))
//!     .build()?;
//!
//! let request = Request::get(base.endpoint(&[Segment::Lit("payments"), Segment::Param("pay_1")])?)
//!     .operation("find_refund")
//!     .try_header("X-API-Version", "1.0.0")?;
//! let response = client.send(request).await?;
//! if let Some(error) = default_status_error(&response, Operation::Lookup) {
//!     return Err(error);
//! }
//! let payment: Payment = response.json()?;
//! # let _ = payment.id;
//! # Ok(()) }
//! ```
//!
//! The defaults (timeouts, size cap) are not covered by semver.

mod builder;
mod client;
mod endpoint;
mod request;
mod response;

pub use builder::{ClientBuilder, ClientSettings, ProviderClient};
pub use client::{
    Auth, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, HttpClient,
    HttpClientBuilder,
};
pub use endpoint::{BaseUrl, Endpoint, Segment, encode_path_param};
pub use request::Request;
pub use response::{
    EXCERPT_CHARS, Response, body_excerpt, decode_json, default_status_error, parse_retry_after,
};

/// The `http` crate's types used in this API (the same ones reqwest uses).
pub use ::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

/// The `reqwest` crate (0.13), whose `Client` [`HttpClientBuilder::client`] accepts.
pub use reqwest;

use crate::error::{Error, ErrorKind};

/// Relabels a failed refund POST as [`OutcomeUnknown`](ErrorKind::OutcomeUnknown) when it may
/// have been applied (contract §0.4): a [`Transport`](ErrorKind::Transport) or
/// [`Timeout`](ErrorKind::Timeout) error that may have reached the provider, or a
/// [`Decode`](ErrorKind::Decode) or [`Provider`](ErrorKind::Provider) error (an answer we could
/// not read or did not expect). The message, status, request id and source are kept.
///
/// Errors that prove nothing was applied stay as they are: never-reached failures,
/// `RateLimited`, `InvalidInput`, `Auth`, `NotFound`, `Unsupported`, `Config`.
pub fn refund_outcome_error(error: Error) -> Error {
    let unknown = match error.kind() {
        ErrorKind::Transport | ErrorKind::Timeout => error.may_have_reached_provider(),
        ErrorKind::Decode | ErrorKind::Provider => true,
        _ => false,
    };
    if unknown {
        error.with_kind(ErrorKind::OutcomeUnknown)
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reach;

    #[test]
    fn refund_outcome_relabels_only_what_may_have_been_applied() {
        use ErrorKind::*;
        for (kind, reach, expected) in [
            (Transport, Reach::NeverReached, Transport),
            (Transport, Reach::MayHaveReached, OutcomeUnknown),
            (Timeout, Reach::NeverReached, Timeout),
            (Timeout, Reach::MayHaveReached, OutcomeUnknown),
            (Decode, Reach::MayHaveReached, OutcomeUnknown),
            (Provider, Reach::MayHaveReached, OutcomeUnknown),
            (RateLimited, Reach::MayHaveReached, RateLimited),
            (InvalidInput, Reach::MayHaveReached, InvalidInput),
            (Auth, Reach::MayHaveReached, Auth),
            (NotFound, Reach::MayHaveReached, NotFound),
            (OutcomeUnknown, Reach::MayHaveReached, OutcomeUnknown),
            (Config, Reach::NeverReached, Config),
        ] {
            let e = refund_outcome_error(
                Error::new(kind, "x")
                    .with_reach(reach)
                    .with_http_status(500),
            );
            assert_eq!(e.kind(), expected, "{kind:?} {reach:?}");
            assert_eq!(e.http_status(), Some(500));
        }
    }
}
