//! Plexy's error answers (contract §1.4 "Errors on the refund POST", §1.5 error codes) mapped to
//! [`refund_core::Error`], in one function, plus the §0.5 test of a 404 body that proves absence.

use refund_core::http::Response;
use refund_core::retry::Operation;
use refund_core::{Error, ErrorKind};

use crate::wire;

/// The longest provider text quoted in an error message.
const MAX_TEXT_CHARS: usize = 200;

/// The error kind for a non-2xx HTTP status (contract §1.4). The HTTP status decides; the body's
/// `code` is diagnostic only (§1.5, ASSUMED).
///
/// | HTTP | refund POST | lookup |
/// |---|---|---|
/// | 400, 422 | `InvalidInput` (rejected, not applied) | `InvalidInput` |
/// | 401, 403 | `Auth` | `Auth` |
/// | 404 | `NotFound` | `NotFound` |
/// | 429 | `RateLimited` (not applied; `Retry-After` kept, not applied) | `RateLimited` |
/// | 5xx | `OutcomeUnknown` (a 5xx never proves "not applied", §5.4) | `Provider` |
/// | anything else (3xx, 402, 409, …) | `OutcomeUnknown` | `Provider` |
pub(crate) fn kind_for_status(status: u16, operation: Operation) -> ErrorKind {
    match status {
        400 | 422 => ErrorKind::InvalidInput,
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        _ => match operation {
            Operation::Refund => ErrorKind::OutcomeUnknown,
            _ => ErrorKind::Provider,
        },
    }
}

/// The error for a non-2xx answer, per [`kind_for_status`].
///
/// The body is read leniently as Plexy's error body `{code, message, source, type}` (every field
/// optional, `code` an integer or a numeric string, the legacy `{message, code}` included); a
/// body that is missing, not JSON, or of another shape only gives no detail, it never changes
/// the kind. The error carries the provider, HTTP status, request id and `Retry-After` (see
/// [`Response::error`]), and the body's `code` as the provider code. Messages quote at most 200
/// characters of provider text, never the whole body.
pub(crate) fn status_error(response: &Response, operation: Operation) -> Error {
    let status = response.status().as_u16();
    let kind = kind_for_status(status, operation);
    let refund = operation == Operation::Refund;
    let summary = match kind {
        ErrorKind::InvalidInput if refund => "the refund was refused as invalid (not applied)",
        ErrorKind::InvalidInput => "the request was refused as invalid",
        ErrorKind::Auth => "the API key was refused",
        ErrorKind::NotFound => "the transaction was not found or is out of the key's scope",
        ErrorKind::RateLimited if refund => "rate limited (the refund was not applied)",
        ErrorKind::RateLimited => "rate limited",
        ErrorKind::OutcomeUnknown if status >= 500 => "server error after the refund was sent",
        ErrorKind::OutcomeUnknown => "unexpected answer to the refund",
        _ if status >= 500 => "server error",
        _ => "unexpected HTTP status",
    };
    let body = error_body(response.body());
    let detail = body.as_ref().map(detail).unwrap_or_default();
    let mut message = if detail.is_empty() {
        summary.to_owned()
    } else {
        format!("{summary}: {detail}")
    };
    if kind == ErrorKind::OutcomeUnknown {
        message.push_str("; it may have been applied, reconcile before retrying");
    }
    if let Some(delay) = response
        .retry_after()
        .filter(|_| kind == ErrorKind::RateLimited)
    {
        message.push_str(&format!(", retry after {}s", delay.as_secs()));
    }
    let mut error = response.error(kind, message);
    if let Some(code) = body.and_then(|b| b.code) {
        let code = clip(&code.to_string());
        if !code.is_empty() {
            error = error.with_provider_code(code);
        }
    }
    error
}

/// Whether a P-L2 404 body proves that no transaction has the reference (contract §0.5, §1.5):
/// it is Plexy's own JSON error body, a JSON object whose `code` is present and is 4, as the
/// integer `4` or the string `"4"` (§5.3), like
/// `{"code":4,"message":"Not Found","source":"transactions","type":"apiError"}`.
///
/// `message` and `type` are not enough: `{"message":"Not Found"}` is the generic answer of
/// Plexy's Go web framework (and of gateways) to a route it does not have, so it says nothing
/// about the reference; if the P-L2 path is wrong or removed, reading it as absence would
/// re-send the refund and refund twice. An empty body, an HTML page, plain text, a JSON value of
/// another shape, wrong field types, a body without `code` or with another code (`2`, `"04"`,
/// `4.0`) therefore does not prove absence.
pub(crate) fn is_plexy_not_found(body: &[u8]) -> bool {
    let Some(body) = error_body(body) else {
        return false;
    };
    body.code.is_some_and(|code| code.is(4))
}

/// Plexy's error body, when the bytes are one.
fn error_body(body: &[u8]) -> Option<wire::ErrorBody> {
    // From `&str`: serde_json skips unknown fields of a byte slice without checking their UTF-8,
    // and a body that is not UTF-8 is not JSON, so never Plexy's proof of absence (found by
    // fuzzing).
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str::<wire::ErrorBody>(text).ok()
}

/// `message (type, source)` with each part clipped, or empty.
fn detail(body: &wire::ErrorBody) -> String {
    let mut out = body.message.as_deref().map(clip).unwrap_or_default();
    let extras: Vec<String> = [
        body.type_.as_ref().map(|t| clip(t.as_str())),
        body.source
            .as_deref()
            .map(|s| format!("source {}", clip(s))),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect();
    if !extras.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("({})", extras.join(", ")));
    }
    out
}

/// At most [`MAX_TEXT_CHARS`] characters of provider text, control characters replaced, `…`
/// when cut.
fn clip(text: &str) -> String {
    let text = text.trim();
    let mut out: String = text
        .chars()
        .take(MAX_TEXT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_TEXT_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use refund_core::ProviderId;
    use refund_core::http::{HeaderMap, HeaderValue, StatusCode, header};

    use super::*;

    fn response(status: u16, body: &str) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("req-7"));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        Response::new(
            ProviderId::PLEXY,
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.to_owned(),
        )
        .with_received_at(SystemTime::UNIX_EPOCH)
    }

    const E400: &str =
        r#"{"code":5,"message":"Unprocessable Entity","source":"refund","type":"validationError"}"#;
    const E401: &str = r#"{"message":"unauthorized","type":"apiError"}"#;
    const E404: &str =
        r#"{"code":4,"message":"Not Found","source":"transactions","type":"apiError"}"#;
    const E500: &str =
        r#"{"code":2,"message":"Something Went Wrong","source":"payments","type":"apiError"}"#;
    const E500_OBSERVED: &str = r#"{"message":"failed to handle command: something went wrong, transaction can not be refunded: already refunded"}"#;

    /// Every status of the §1.4 error table (and the ones around it), for both operations, with
    /// the documented bodies and the §1.5 codes.
    #[test]
    fn error_table() {
        use ErrorKind::*;
        for (status, body, refund_kind, lookup_kind, code) in [
            (400, E400, InvalidInput, InvalidInput, Some("5")),
            (
                400,
                r#"{"code":3,"message":"Invalid Request Params","source":"refund","type":"apiError"}"#,
                InvalidInput,
                InvalidInput,
                Some("3"),
            ),
            (401, E401, Auth, Auth, None),
            (403, "", Auth, Auth, None),
            (404, E404, NotFound, NotFound, Some("4")),
            (422, E400, InvalidInput, InvalidInput, Some("5")),
            (429, "", RateLimited, RateLimited, None),
            (
                500,
                r#"{"code":1,"message":"Service Unavailable","source":"keys","type":"apiError"}"#,
                OutcomeUnknown,
                Provider,
                Some("1"),
            ),
            (500, E500, OutcomeUnknown, Provider, Some("2")),
            (500, E500_OBSERVED, OutcomeUnknown, Provider, None),
            (
                503,
                r#"{"code":"1","message":"service unavailable"}"#,
                OutcomeUnknown,
                Provider,
                Some("1"),
            ),
            (
                502,
                "<html>bad gateway</html>",
                OutcomeUnknown,
                Provider,
                None,
            ),
            (504, "", OutcomeUnknown, Provider, None),
            (599, "{}", OutcomeUnknown, Provider, None),
            (302, "", OutcomeUnknown, Provider, None),
            (409, "", OutcomeUnknown, Provider, None),
            (402, "", OutcomeUnknown, Provider, None),
        ] {
            for (operation, kind) in [
                (Operation::Refund, refund_kind),
                (Operation::Lookup, lookup_kind),
            ] {
                let e = status_error(&response(status, body), operation);
                assert_eq!(e.kind(), kind, "{status} {operation:?} {body}");
                assert_eq!(e.http_status(), Some(status));
                assert_eq!(e.provider(), Some(&ProviderId::PLEXY));
                assert_eq!(e.provider_code(), code, "{status} {body}");
                assert_eq!(e.request_id(), Some("req-7"));
                assert!(e.may_have_reached_provider());
            }
        }
    }

    #[test]
    fn messages_carry_the_body_detail_clipped() {
        let e = status_error(&response(400, E400), Operation::Refund);
        assert_eq!(
            e.to_string(),
            "plexy: the refund was refused as invalid (not applied): Unprocessable Entity \
             (validationError, source refund) (http 400, code 5)"
        );
        let e = status_error(&response(500, E500_OBSERVED), Operation::Refund);
        assert!(e.to_string().contains("already refunded"), "{e}");
        assert!(e.to_string().contains("may have been applied"), "{e}");
        let e = status_error(&response(429, "{}"), Operation::Refund);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(e.to_string().contains("retry after 3s"), "{e}");
        assert!(e.is_retryable());

        let long = format!(r#"{{"message":"{}\nend"}}"#, "x".repeat(500));
        let e = status_error(&response(400, &long), Operation::Refund);
        assert!(e.message().chars().count() < 300, "{}", e.message());
        assert!(e.message().ends_with('…'));
        assert!(!e.message().contains('\n'));
    }

    #[test]
    fn unreadable_bodies_give_no_detail_and_keep_the_kind() {
        for body in [
            "",
            "<html><body>502</body></html>",
            r#"{"code":true}"#,
            r#"{"code":4.5,"message":"x"}"#,
            "[1,2]",
            r#"{"message":"#,
            "null",
        ] {
            let e = status_error(&response(400, body), Operation::Refund);
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{body}");
            assert_eq!(e.provider_code(), None);
            assert_eq!(
                e.message(),
                "the refund was refused as invalid (not applied)",
                "{body}"
            );
        }
    }

    #[test]
    fn absence_needs_plexys_own_not_found_body() {
        for (body, proves) in [
            (E404, true),
            (r#"{"code":4}"#, true),
            (r#"{"code":"4","message":"Not Found"}"#, true),
            (
                r#"{"code":4,"message":"not found","type":"apiError"}"#,
                true,
            ),
            (r#"{"code":4,"extra":[1,2,3]}"#, true),
            (r#"{"message":"Not Found","code":null,"code":4}"#, true),
            // The Go framework's (or a gateway's) answer to an unknown route: no `code`.
            (r#"{"message":"Not Found"}"#, false),
            (r#"{"message":"not found","type":"apiError"}"#, false),
            (r#"{"message":"Not Found","type":"apiError"}"#, false),
            (r#"{"type":"apiError"}"#, false),
            (r#"{"message":"transaction not found"}"#, false),
            (r#"{"code":null,"message":"Not Found"}"#, false),
            ("", false),
            ("   ", false),
            ("Not Found", false),
            ("404 page not found", false),
            ("<html><body><h1>404 Not Found</h1></body></html>", false),
            ("{}", false),
            (r#"{"error":"not found"}"#, false),
            (r#"{"code":2,"message":"Something Went Wrong"}"#, false),
            (r#"{"code":404,"message":"Not Found"}"#, false),
            (r#"{"code":"04","message":"Not Found"}"#, false),
            (r#"{"code":" 4","message":"Not Found"}"#, false),
            (r#"{"code":4.0,"message":"Not Found"}"#, false),
            (r#"{"code":"x","message":"Not Found"}"#, false),
            (r#"{"code":true,"message":"Not Found"}"#, false),
            (r#"{"message":404}"#, false),
            (r#"[{"code":4}]"#, false),
            ("null", false),
            (r#"{"code":4,"message":"Not"#, false),
        ] {
            assert_eq!(is_plexy_not_found(body.as_bytes()), proves, "{body}");
        }
        // Found by fuzzing (refund-bench corpus `plexy_find_refund/finding-*`): broken UTF-8 in
        // a field serde skips made a body that is not JSON count as Plexy's proof of absence.
        assert!(!is_plexy_not_found(
            b"{\"code\":4,\"message\":\"Not Found\",\"source\":\"1e\xff3\"}"
        ));
    }

    #[test]
    fn clip_escapes_and_cuts() {
        assert_eq!(clip("  a\tb "), "a b");
        assert_eq!(clip(&"é".repeat(250)).chars().count(), MAX_TEXT_CHARS + 1);
        assert_eq!(clip(&"é".repeat(200)).chars().count(), MAX_TEXT_CHARS);
    }
}
