//! PayNext's error answers → [`refund_core::Error`] (contract §2.4, "Errors").

use refund_core::http::Response;
use refund_core::retry::Operation;
use refund_core::{Error, ErrorKind};

use crate::wire;

/// The longest PayNext error message quoted in our error messages, in characters.
const MAX_MESSAGE_CHARS: usize = 200;

/// Maps a non-2xx answer to an error; `None` for a 2xx.
///
/// | HTTP | kind |
/// |---|---|
/// | 400 (also "cannot be refunded" / "already refunded"), 409, 422 | `InvalidInput` |
/// | 401, 403 | `Auth` |
/// | 404 | `NotFound` |
/// | 429 | `RateLimited` (with `Retry-After`) |
/// | 5xx | refund: `OutcomeUnknown`; lookup: `Provider` |
/// | anything else (1xx, 3xx, other 4xx) | refund: `OutcomeUnknown`; lookup: `Provider` |
///
/// The message quotes PayNext's `error.message` when the body is PayNext's error JSON
/// (`{"error":{"message":"…"}}`); any other body (an HTML page, nothing) is not quoted. The
/// error carries the provider, HTTP status, request id and `Retry-After`. PayNext's error body
/// has no code, so no provider code is set.
pub(crate) fn status_error(response: &Response, operation: Operation) -> Option<Error> {
    let status = response.status();
    if status.is_success() {
        return None;
    }
    let refund = operation == Operation::Refund;
    let (kind, what) = match status.as_u16() {
        400 | 409 | 422 => (ErrorKind::InvalidInput, "the request was refused"),
        401 | 403 => (ErrorKind::Auth, "the credentials were refused"),
        404 => (ErrorKind::NotFound, "no such payment"),
        429 => (ErrorKind::RateLimited, "rate limited"),
        500..=599 if refund => (
            ErrorKind::OutcomeUnknown,
            "server error during a refund: it may have been applied, reconcile before \
             retrying",
        ),
        500..=599 => (ErrorKind::Provider, "server error"),
        _ if refund => (
            ErrorKind::OutcomeUnknown,
            "unexpected HTTP status for a refund: it may have been applied, reconcile before \
             retrying",
        ),
        _ => (ErrorKind::Provider, "unexpected HTTP status"),
    };
    let mut message = what.to_owned();
    if kind == ErrorKind::RateLimited
        && let Some(delay) = response.retry_after()
    {
        message.push_str(&format!(", retry after {}s", delay.as_secs()));
    }
    if let Some(text) = vendor_message(response) {
        message.push_str(": ");
        message.push_str(&text);
    }
    Some(response.error(kind, message))
}

/// PayNext's `error.message`, when the body is its error JSON: trimmed, control characters
/// escaped, at most [`MAX_MESSAGE_CHARS`] characters (then `…`).
pub(crate) fn vendor_message(response: &Response) -> Option<String> {
    let body: wire::ErrorBody = serde_json::from_slice(response.body()).ok()?;
    let text = body.error?.message?;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref().take(MAX_MESSAGE_CHARS) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use refund_core::ProviderId;
    use refund_core::http::{HeaderMap, HeaderValue, StatusCode, header};

    use super::*;

    fn response(status: u16, body: &str) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("req_42"));
        if status == 429 {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        }
        Response::new(
            ProviderId::PAYNEXT,
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.to_owned(),
        )
    }

    /// Every status of the contract's error table (§2.4), plus the ones it does not list, on
    /// both operations.
    #[test]
    fn error_table() {
        use ErrorKind::*;
        let body = |m: &str| format!(r#"{{"error":{{"message":"{m}"}}}}"#);
        for (status, message, refund_kind, lookup_kind) in [
            (
                400,
                "Payment pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789 cannot be refunded in status AUTHORIZED",
                InvalidInput,
                InvalidInput,
            ),
            (
                400,
                "Payment pay_1 has already been refunded",
                InvalidInput,
                InvalidInput,
            ),
            (400, "Invalid X-API-Version", InvalidInput, InvalidInput),
            (401, "Invalid API key", Auth, Auth),
            (403, "Missing permission Refunds: Write", Auth, Auth),
            (404, "Payment not found", NotFound, NotFound),
            (409, "Conflict", InvalidInput, InvalidInput),
            (422, "Unprocessable", InvalidInput, InvalidInput),
            (429, "Too many requests", RateLimited, RateLimited),
            (500, "Internal server error", OutcomeUnknown, Provider),
            (502, "Bad gateway", OutcomeUnknown, Provider),
            (503, "Unavailable", OutcomeUnknown, Provider),
            (504, "Gateway timeout", OutcomeUnknown, Provider),
            (599, "odd", OutcomeUnknown, Provider),
            (302, "moved", OutcomeUnknown, Provider),
            (405, "method not allowed", OutcomeUnknown, Provider),
            (418, "teapot", OutcomeUnknown, Provider),
        ] {
            for (operation, kind) in [
                (Operation::Refund, refund_kind),
                (Operation::Lookup, lookup_kind),
            ] {
                let e = status_error(&response(status, &body(message)), operation).unwrap();
                assert_eq!(e.kind(), kind, "{status} {operation:?}");
                assert_eq!(e.http_status(), Some(status));
                assert_eq!(e.provider(), Some(&ProviderId::PAYNEXT));
                assert_eq!(e.request_id(), Some("req_42"));
                assert_eq!(e.provider_code(), None);
                assert!(e.may_have_reached_provider());
                assert!(e.message().ends_with(&format!(": {message}")), "{e}");
            }
        }
        for status in [200, 201, 204] {
            assert!(status_error(&response(status, "{}"), Operation::Refund).is_none());
        }
    }

    #[test]
    fn rate_limit_keeps_retry_after() {
        let e = status_error(
            &response(429, r#"{"error":{"message":"slow down"}}"#),
            Operation::Refund,
        )
        .unwrap();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "paynext: rate limited, retry after 3s: slow down (http 429)"
        );
    }

    #[test]
    fn messages_of_every_kind() {
        let lines: Vec<String> = [
            (400, Operation::Refund, r#"{"error":{"message":"Payment pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789 cannot be refunded in status AUTHORIZED"}}"#),
            (401, Operation::Refund, r#"{"error":{"message":"Invalid API key"}}"#),
            (404, Operation::Lookup, r#"{"error":{"message":"Payment not found"}}"#),
            (404, Operation::Lookup, "<html>Not Found</html>"),
            (500, Operation::Refund, r#"{"error":{"message":"Internal server error"}}"#),
            (500, Operation::Lookup, r#"{"error":{"message":"Internal server error"}}"#),
            (503, Operation::Refund, ""),
        ]
        .into_iter()
        .map(|(status, op, body)| {
            let e = status_error(&response(status, body), op).unwrap();
            format!("{status} {op:?} -> {}: {e}", e.kind())
        })
        .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn vendor_messages_are_read_defensively() {
        for (body, expected) in [
            (
                r#"{"error":{"message":"Payment not found"}}"#,
                Some("Payment not found"),
            ),
            (r#"{"error":{"message":"  padded \n"}}"#, Some("padded")),
            (r#"{"error":{"message":"a\u0007b"}}"#, Some("a\\u{7}b")),
            (
                r#"{"error":{"message":"x","code":"more","details":[1]},"extra":true}"#,
                Some("x"),
            ),
            (r#"{"error":{"message":""}}"#, None),
            (r#"{"error":{"message":42}}"#, None),
            (r#"{"error":null}"#, None),
            (r#"{"error":"Payment not found"}"#, None),
            (r#"{"message":"Payment not found"}"#, None),
            ("<html><body>502 Bad Gateway</body></html>", None),
            (r#"{"error":{"message":"trunc"#, None),
            ("", None),
        ] {
            assert_eq!(
                vendor_message(&response(400, body)).as_deref(),
                expected,
                "{body}"
            );
        }
        let long = format!(r#"{{"error":{{"message":"{}"}}}}"#, "é".repeat(500));
        let text = vendor_message(&response(400, &long)).unwrap();
        assert_eq!(text.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(text.ends_with('…'));
    }
}
