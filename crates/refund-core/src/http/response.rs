//! [`Response`] and the pure helpers that provider crates parse it with: JSON decoding with field
//! paths, `Retry-After`, and a default status table.

use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Reach, Result};
use crate::id::ProviderId;
use crate::retry::Operation;

/// Response headers that commonly carry the provider's request id, in order of preference.
const REQUEST_ID_HEADERS: [&str; 2] = ["x-request-id", "request-id"];

/// The longest request id kept; a longer value is ignored rather than copied into errors and
/// logs.
const MAX_REQUEST_ID_LEN: usize = 128;

/// How many characters of a body an error message quotes.
pub const EXCERPT_CHARS: usize = 80;

/// A provider's answer, whatever its status: headers and the whole body, read within the size
/// cap. Parsing it is a pure function of this value, so provider crates unit-test their parsers
/// with [`Response::new`] and no HTTP.
#[derive(Clone)]
pub struct Response {
    provider: ProviderId,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    request_id: Option<String>,
    received_at: SystemTime,
}

impl Response {
    /// A response as received from `provider`, received now (see
    /// [`with_received_at`](Self::with_received_at)).
    pub fn new(
        provider: ProviderId,
        status: StatusCode,
        headers: HeaderMap,
        body: impl Into<Bytes>,
    ) -> Self {
        let request_id = request_id(&headers);
        Response {
            provider,
            status,
            headers,
            body: body.into(),
            request_id,
            received_at: SystemTime::now(),
        }
    }

    /// Sets when the response was received: the time an HTTP-date `Retry-After` is measured
    /// from.
    #[must_use]
    pub fn with_received_at(mut self, at: SystemTime) -> Self {
        self.received_at = at;
        self
    }

    /// The same response with `body` (headers, request id and reception time kept, not
    /// recomputed).
    pub(crate) fn with_body(mut self, body: Bytes) -> Self {
        self.body = body;
        self
    }

    /// The provider that answered.
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value as text, when present and visible ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body bytes (at most the client's size cap).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The provider's request id, from `x-request-id` or `request-id`, when one of them holds a
    /// short printable value.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// When the response was received.
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }

    /// How long the provider asked us to wait: the `Retry-After` header, read relative to
    /// [`received_at`](Self::received_at) (see [`parse_retry_after`]). Not capped here; the
    /// [`RetryPolicy`](crate::retry::RetryPolicy) caps it.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after(value, self.received_at)
    }

    /// Decodes the body as JSON into `T` ([`decode_json`]); a failure also carries the
    /// provider, HTTP status and request id.
    ///
    /// # Errors
    /// [`Decode`](ErrorKind::Decode) naming the field path and quoting the start of the body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        decode_json(&self.body).map_err(|e| self.decorate(e))
    }

    /// An error about this response: `kind` and `message`, plus the provider, HTTP status,
    /// request id and `Retry-After`. Marked as having reached the provider (it answered).
    pub fn error(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        self.decorate(Error::new(kind, message))
    }

    /// Adds this response's provider, HTTP status, request id and `Retry-After` to `error`, and
    /// marks it as having reached the provider.
    pub fn decorate(&self, error: Error) -> Error {
        let mut error = error
            .with_provider(self.provider.clone())
            .with_http_status(self.status.as_u16())
            .with_reach(Reach::MayHaveReached);
        if let Some(id) = &self.request_id {
            error = error.with_request_id(id.clone());
        }
        if let Some(delay) = self.retry_after() {
            error = error.with_retry_after(delay);
        }
        error
    }

    /// A short, printable excerpt of the body for error messages ([`body_excerpt`]).
    pub fn body_excerpt(&self) -> String {
        body_excerpt(&self.body)
    }
}

impl fmt::Debug for Response {
    /// Prints the status, request id and body length; never the body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("provider", &self.provider)
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = headers
            .get(HeaderName::from_static(name))?
            .to_str()
            .ok()?
            .trim();
        let ok = !value.is_empty()
            && value.len() <= MAX_REQUEST_ID_LEN
            && value.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| value.to_owned())
    })
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, also the obsolete RFC 850 and asctime forms), relative to
/// `now`.
///
/// A date in the past gives zero. A number of seconds too large to represent saturates (the
/// retry policy caps it anyway). Anything else, including negative numbers and fractions, is
/// `None`: the header is then ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Decodes a JSON body into `T` with `serde_json`.
///
/// Errors name the path of the field that failed (`data.refunds[0].amount`) and quote the first
/// [`EXCERPT_CHARS`] characters of the body, control characters escaped, so that a log line is
/// enough to see what the provider sent without printing a whole body.
///
/// # Errors
/// [`Decode`](ErrorKind::Decode), with the `serde_json` error as its source.
pub fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    // JSON is UTF-8 (RFC 8259 §8.1). serde_json checks the UTF-8 of the strings it keeps but
    // skips unknown fields without looking, so a body with broken bytes there would pass:
    // check the whole body first (found by fuzzing: such a body was read as proof that no
    // refund exists).
    let text = std::str::from_utf8(body).map_err(|e| {
        Error::decode(format!(
            "the response body is not valid UTF-8, so not JSON; body starts with {}",
            body_excerpt(body)
        ))
        .with_source(e)
    })?;
    // Fast path: plain serde_json. Tracking the field path costs about a third of the decode
    // (measured by `cargo xtask bench`), so it is paid only when the body does not decode: the
    // failing decode is then run again with serde_path_to_error to name the field.
    match serde_json::from_str::<T>(text) {
        Ok(value) => Ok(value),
        Err(first) => Err(decode_error::<T>(text, first)),
    }
}

/// The error of a body that does not decode into `T`: decoded again with the field path
/// tracked, so the message names the field (`data.refunds[0].amount`).
fn decode_error<T: DeserializeOwned>(text: &str, first: serde_json::Error) -> Error {
    let body = text.as_bytes();
    let mut de = serde_json::Deserializer::from_str(text);
    let result = serde_path_to_error::deserialize::<_, T>(&mut de)
        .map_err(|e| (e.path().to_string(), e.into_inner()))
        // Trailing characters after the value are an error too, as in `serde_json::from_slice`.
        .and_then(|value| de.end().map(|()| value).map_err(|e| (".".to_owned(), e)));
    let (path, inner) = match result {
        Err(failure) => failure,
        // Cannot happen (the same input, the same decoder); keep the first error then.
        Ok(_) => (".".to_owned(), first),
    };
    // serde_json quotes the offending value in full (`invalid type: string "…"`), and a path
    // may hold map keys chosen by the provider: both are clipped and escaped, so that a
    // hostile body can neither flood a log line nor inject lines into it.
    let detail = clip_escaped(&inner.to_string(), MAX_DETAIL_CHARS);
    let path = clip_escaped(&path, MAX_DETAIL_CHARS);
    let what = if body.iter().all(u8::is_ascii_whitespace) {
        "the response body is empty".to_owned()
    } else if inner.is_syntax() || inner.is_eof() {
        format!("the response body is not valid JSON ({detail})")
    } else if path == "." {
        format!("unexpected response body ({detail})")
    } else {
        format!("unexpected response body at `{path}` ({detail})")
    };
    Error::decode(format!("{what}; body starts with {}", body_excerpt(body))).with_source(inner)
}

/// How many characters of a decoder's own message (and of a field path) an error quotes.
const MAX_DETAIL_CHARS: usize = 160;

/// The first `max` characters of `text`, control characters escaped, and `…` when cut.
fn clip_escaped(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
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

/// The first [`EXCERPT_CHARS`] characters of `body` in double quotes, invalid UTF-8 replaced,
/// control characters, quotes and backslashes escaped, and `…` when cut.
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::from("\"");
    let mut chars = text.chars();
    for c in chars.by_ref().take(EXCERPT_CHARS) {
        if c.is_control() || c == '"' || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// A default reading of an HTTP status, for the statuses every provider uses alike. Provider
/// crates apply their own table first (codes in the body, vendor quirks) and fall back to this.
///
/// | status | error kind |
/// |---|---|
/// | 2xx | none (`None`) |
/// | 400, 422 | [`InvalidInput`](ErrorKind::InvalidInput) |
/// | 401, 403 | [`Auth`](ErrorKind::Auth) |
/// | 404 | [`NotFound`](ErrorKind::NotFound) |
/// | 429 | [`RateLimited`](ErrorKind::RateLimited), with the `Retry-After` delay |
/// | 5xx | lookup: [`Provider`](ErrorKind::Provider); refund: [`OutcomeUnknown`](ErrorKind::OutcomeUnknown) (contract §0.4) |
/// | anything else | lookup: `Provider`; refund: `OutcomeUnknown` (an unexpected answer never proves a refund was not applied) |
///
/// The error carries the provider, status and request id (see [`Response::error`]).
pub fn default_status_error(response: &Response, operation: Operation) -> Option<Error> {
    let status = response.status();
    if status.is_success() {
        return None;
    }
    let (kind, message) = match status.as_u16() {
        400 | 422 => (
            ErrorKind::InvalidInput,
            "the provider refused the request as invalid".to_owned(),
        ),
        401 | 403 => (
            ErrorKind::Auth,
            "the provider refused the credentials".to_owned(),
        ),
        404 => (ErrorKind::NotFound, "the provider found nothing".to_owned()),
        429 => (
            ErrorKind::RateLimited,
            match response.retry_after() {
                Some(d) => format!("rate limited, retry after {}s", d.as_secs()),
                None => "rate limited".to_owned(),
            },
        ),
        _ => match operation {
            Operation::Refund => (
                ErrorKind::OutcomeUnknown,
                "unexpected answer to a refund: it may have been applied, reconcile before \
                 retrying"
                    .to_owned(),
            ),
            _ if status.is_server_error() => {
                (ErrorKind::Provider, "the provider failed".to_owned())
            }
            _ => (ErrorKind::Provider, "unexpected HTTP status".to_owned()),
        },
    };
    Some(response.error(kind, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_forms() {
        let now = at(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        for (value, expected) in [
            ("0", Some(0)),
            ("120", Some(120)),
            (" 7 ", Some(7)),
            ("Wed, 21 Oct 2015 07:28:30 GMT", Some(30)),
            ("Wednesday, 21-Oct-15 07:29:00 GMT", Some(60)),
            ("Wed Oct 21 07:28:05 2015", Some(5)),
            ("Wed, 21 Oct 2015 07:27:00 GMT", Some(0)),
            ("99999999999999999999999", Some(u64::MAX)),
            ("", None),
            ("-5", None),
            ("1.5", None),
            ("soon", None),
            ("Wed, 32 Oct 2015 07:28:00 GMT", None),
        ] {
            assert_eq!(
                parse_retry_after(value, now).map(|d| d.as_secs()),
                expected,
                "{value:?}"
            );
        }
    }

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(body_excerpt(b""), "\"\"");
        assert_eq!(body_excerpt(b"a\nb\t\"c\\"), r#""a\nb\t\"c\\""#);
        assert_eq!(body_excerpt(b"\xff<"), "\"\u{fffd}<\"");
        let long = "é".repeat(200);
        let e = body_excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 3);
        assert!(e.ends_with("\"…"));
    }

    #[test]
    fn request_ids() {
        let mut h = HeaderMap::new();
        h.insert("request-id", HeaderValue::from_static("req_2"));
        let r = Response::new(ProviderId::PLEXY, StatusCode::OK, h.clone(), "");
        assert_eq!(r.request_id(), Some("req_2"));
        h.insert("x-request-id", HeaderValue::from_static("req_1"));
        let r = Response::new(ProviderId::PLEXY, StatusCode::OK, h, "");
        assert_eq!(r.request_id(), Some("req_1"));
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("has space"));
        let r = Response::new(ProviderId::PLEXY, StatusCode::OK, h, "");
        assert_eq!(r.request_id(), None);
    }

    #[test]
    fn default_statuses() {
        let now = at(1_700_000_000);
        let response = |status: u16, retry_after: Option<&'static str>| {
            let mut h = HeaderMap::new();
            h.insert("x-request-id", HeaderValue::from_static("rid-9"));
            if let Some(v) = retry_after {
                h.insert(RETRY_AFTER, HeaderValue::from_static(v));
            }
            Response::new(
                ProviderId::PAYNEXT,
                StatusCode::from_u16(status).unwrap(),
                h,
                "{}",
            )
            .with_received_at(now)
        };
        use ErrorKind::*;
        for (status, lookup, refund) in [
            (400, InvalidInput, InvalidInput),
            (401, Auth, Auth),
            (403, Auth, Auth),
            (404, NotFound, NotFound),
            (409, Provider, OutcomeUnknown),
            (422, InvalidInput, InvalidInput),
            (429, RateLimited, RateLimited),
            (500, Provider, OutcomeUnknown),
            (503, Provider, OutcomeUnknown),
            (302, Provider, OutcomeUnknown),
        ] {
            for (op, kind) in [(Operation::Lookup, lookup), (Operation::Refund, refund)] {
                let e = default_status_error(&response(status, None), op).unwrap();
                assert_eq!(e.kind(), kind, "{status} {op:?}");
                assert_eq!(e.http_status(), Some(status));
                assert_eq!(e.provider(), Some(&ProviderId::PAYNEXT));
                assert_eq!(e.request_id(), Some("rid-9"));
                assert!(e.may_have_reached_provider());
            }
        }
        for status in [200, 201, 204] {
            assert!(default_status_error(&response(status, None), Operation::Refund).is_none());
        }
        let e = default_status_error(&response(429, Some("7")), Operation::Refund).unwrap();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            e.to_string(),
            "paynext: rate limited, retry after 7s (http 429)"
        );
        assert!(e.is_retryable());
        let date = httpdate::fmt_http_date(now + Duration::from_secs(12));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let r = Response::new(ProviderId::PLEXY, StatusCode::TOO_MANY_REQUESTS, h, "")
            .with_received_at(now);
        assert_eq!(r.retry_after(), Some(Duration::from_secs(12)));
    }

    /// Found by fuzzing (refund-bench corpus `plexy_refund/finding-long-string-amount`): serde
    /// quoted a 2,000-character string value in full, so one hostile field made a multi-kilobyte
    /// error message. Values and map-key paths are now clipped and escaped.
    #[test]
    fn decode_errors_clip_and_escape_what_serde_quotes() {
        #[derive(Debug, serde::Deserialize)]
        struct Body {
            #[allow(dead_code, reason = "only decoded")]
            amount: Option<u64>,
            #[allow(dead_code, reason = "only decoded")]
            errors: Option<std::collections::BTreeMap<String, u64>>,
        }
        let long = "x".repeat(2000);
        let body = format!(r#"{{"amount":"{long}\nforged log line"}}"#);
        let e = decode_json::<Body>(body.as_bytes()).unwrap_err();
        let shown = e.to_string();
        assert!(shown.len() < 600, "{} bytes: {shown}", shown.len());
        assert!(shown.contains("at `amount`"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");

        // Invalid UTF-8 in a field that is skipped is still not JSON.
        let body = b"{\"amount\":1,\"skipped\":\"\xc3x\"}";
        let e = decode_json::<Body>(body).unwrap_err();
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");

        let key = format!("k{}\n", "y".repeat(500));
        let body = format!(r#"{{"errors":{{"{key}":"not a number"}}}}"#);
        let shown = decode_json::<Body>(body.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(shown.len() < 600, "{} bytes: {shown}", shown.len());
        assert!(!shown.contains('\n'), "{shown}");
    }
}
