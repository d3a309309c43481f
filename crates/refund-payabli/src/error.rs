//! Payabli's error answers (contract §3.4 "Errors on the refund POST", §3.7) mapped to
//! [`refund_core::Error`], in one function.

use refund_core::http::Response;
use refund_core::retry::Operation;
use refund_core::{Error, ErrorKind};

use crate::wire;

/// The longest provider text quoted in an error message.
const MAX_TEXT_CHARS: usize = 200;

/// The error for a non-2xx answer that is not a decline (402 with a `D…` code is a decline,
/// read by [`convert::refund_outcome`](crate::convert::refund_outcome)).
///
/// | HTTP | body | refund POST | lookup |
/// |---|---|---|---|
/// | 400 | `V2BadRequestError` with an `E…` code | `InvalidInput` (code, `detail`, field messages) | `InvalidInput` |
/// | 400 | anything else (no code, another code, not JSON) | `InvalidInput`: refused before processing, nothing applied | `InvalidInput` |
/// | 401 | `PayabliErrorBody` or anything | `Auth` | `Auth` |
/// | 403 | any | `Auth` | `Auth` |
/// | 404 | any | `NotFound` | `NotFound` (`find_refund` reads it as inconclusive first) |
/// | 409 | text `Duplicated idempotencyKey: …` (never required to be JSON) | `OutcomeUnknown`, status 409 | `Provider` |
/// | 429 | any | `RateLimited` with `Retry-After` | `RateLimited` |
/// | 5xx | `V2InternalServerError`, `PayabliErrorBody` or anything | `OutcomeUnknown` | `Provider` |
/// | other (402 without a `D…` code, 3xx, …) | any | `OutcomeUnknown` | `Provider` |
///
/// Each error carries the provider, HTTP status, request id and `Retry-After` (see
/// [`Response::error`]), and the provider's code when the body has one. Messages quote at most
/// 200 characters of provider text, never the whole body.
pub(crate) fn status_error(response: &Response, operation: Operation) -> Error {
    let status = response.status().as_u16();
    let refund = operation == Operation::Refund;
    // Each body is decoded leniently: a body of another shape (or plain text) just gives no
    // detail, it never turns the answer into a decode error.
    let bad_request = || serde_json::from_slice::<wire::V2BadRequestError>(response.body()).ok();
    let payabli = || serde_json::from_slice::<wire::PayabliErrorBody>(response.body()).ok();
    let (kind, message, code) = match status {
        400 => {
            let body = bad_request();
            let code = body
                .as_ref()
                .and_then(|b| b.code.as_ref())
                .map(|c| c.as_str().to_owned());
            let detail = body.as_ref().map(bad_request_text).unwrap_or_default();
            // A 400 is Payabli refusing the request before processing it, with or without an
            // `E…` code (§3.4): nothing was applied. Re-reading a code-less 400 as "may have
            // been applied" only made the facade wait out the idempotency window for nothing.
            let message = if refund && code.is_none() && detail.is_empty() {
                "the refund was refused as invalid (http 400 without a Payabli error code); \
                 nothing was applied"
                    .to_owned()
            } else {
                with_detail("the request was refused as invalid", &detail)
            };
            (ErrorKind::InvalidInput, message, code)
        }
        401 | 403 => {
            let body = payabli();
            (
                ErrorKind::Auth,
                with_detail(
                    "the requestToken was refused",
                    &body.as_ref().map(payabli_text).unwrap_or_default(),
                ),
                body.and_then(|b| b.response_code).map(|c| c.to_string()),
            )
        }
        404 => {
            let body = payabli();
            (
                ErrorKind::NotFound,
                with_detail(
                    "no such transaction",
                    &body.as_ref().map(payabli_text).unwrap_or_default(),
                ),
                body.and_then(|b| b.response_code).map(|c| c.to_string()),
            )
        }
        409 if refund => (
            ErrorKind::OutcomeUnknown,
            "duplicated idempotencyKey: an earlier request with this key is inside the \
             idempotency window and its answer is not replayed; reconcile, and wait the window \
             out before re-sending"
                .to_owned(),
            None,
        ),
        429 => (
            ErrorKind::RateLimited,
            match response.retry_after() {
                Some(d) => format!("rate limited, retry after {}s", d.as_secs()),
                None => "rate limited".to_owned(),
            },
            None,
        ),
        _ => {
            let detail = server_error_text(response);
            let code = payabli()
                .and_then(|b| b.response_code)
                .map(|c| c.to_string());
            if refund {
                (
                    ErrorKind::OutcomeUnknown,
                    with_detail(
                        "unexpected answer to a refund: it may have been applied, reconcile \
                         before retrying",
                        &detail,
                    ),
                    code,
                )
            } else if response.status().is_server_error() {
                (
                    ErrorKind::Provider,
                    with_detail("the provider failed", &detail),
                    code,
                )
            } else {
                (
                    ErrorKind::Provider,
                    with_detail("unexpected HTTP status", &detail),
                    code,
                )
            }
        }
    };
    let error = response.error(kind, message);
    match code {
        Some(code) => error.with_provider_code(code),
        None => error,
    }
}

/// The letter of a unified response code (`A`, `D` or `E`) when `code` has the documented form:
/// that letter and four digits (§3.5). Anything else is not a code we branch on.
pub(crate) fn code_letter(code: &str) -> Option<char> {
    let mut chars = code.chars();
    let letter = chars.next()?;
    let digits = chars.as_str();
    let well_formed = matches!(letter, 'A' | 'D' | 'E')
        && digits.len() == 4
        && digits.bytes().all(|b| b.is_ascii_digit());
    well_formed.then_some(letter)
}

fn bad_request_text(body: &wire::V2BadRequestError) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(detail) = &body.detail {
        parts.push(detail.clone());
    }
    if let Some(errors) = &body.errors {
        for (field, list) in errors {
            for e in list {
                if let Some(m) = &e.message {
                    parts.push(format!("{field}: {m}"));
                }
            }
        }
    }
    parts.join("; ")
}

fn payabli_text(body: &wire::PayabliErrorBody) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = &body.response_text {
        parts.push(t.clone());
    }
    if let Some(e) = body
        .response_data
        .as_ref()
        .and_then(|d| d.explanation.as_ref())
    {
        parts.push(e.clone());
    }
    parts.join(": ")
}

fn server_error_text(response: &Response) -> String {
    if let Ok(body) = serde_json::from_slice::<wire::V2InternalServerError>(response.body())
        && (body.title.is_some() || body.detail.is_some())
    {
        return [body.title, body.detail]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
    }
    if let Ok(body) = serde_json::from_slice::<wire::PayabliErrorBody>(response.body()) {
        return payabli_text(&body);
    }
    String::new()
}

/// `message`, followed by the provider's text (shortened) when there is one.
fn with_detail(message: &str, detail: &str) -> String {
    let detail = detail.trim();
    if detail.is_empty() {
        return message.to_owned();
    }
    let mut short: String = detail
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT_CHARS)
        .collect();
    if detail.chars().count() > MAX_TEXT_CHARS {
        short.push('…');
    }
    format!("{message}: {short}")
}

#[cfg(test)]
mod tests {
    use refund_core::ProviderId;
    use refund_core::http::{HeaderMap, HeaderValue, StatusCode};

    use super::*;

    const BAD_REQUEST: &str = r#"{"type":"https://docs.payabli.com/developers/references/pay-in-unified-response-codes","title":"Bad Request","status":400,"detail":"Amount value is greater than available amount for action","instance":"/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723/500.00","code":"E3012","errors":{"amount":[{"message":"Amount exceeds the refundable amount","suggestion":"Use at most the original total minus service fees"}]},"token":null}"#;
    const UNAUTHORIZED: &str = r#"{"isSuccess":false,"responseCode":401,"responseText":"Unauthorized","responseData":{"explanation":"The requestToken is missing, invalid, or expired","todoAction":"Send a valid API token in the requestToken header"}}"#;
    const INTERNAL: &str = r#"{"title":"Internal Server Error","status":500,"detail":"An unexpected error occurred","instance":"/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723"}"#;
    const UNAVAILABLE: &str = r#"{"isSuccess":false,"responseCode":503,"responseText":"Service Unavailable","responseData":{"explanation":"Try again later"}}"#;
    const NOT_FOUND: &str = r#"{"isSuccess":false,"responseText":"Transaction not found"}"#;

    fn response(status: u16, body: &str, headers: &[(&'static str, &'static str)]) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        Response::new(
            ProviderId::PAYABLI,
            StatusCode::from_u16(status).unwrap(),
            map,
            body.to_owned(),
        )
    }

    /// One row: status, body, response headers, operation, then the expected kind, provider code
    /// and a piece of the message.
    type Case = (
        u16,
        &'static str,
        &'static [(&'static str, &'static str)],
        Operation,
        ErrorKind,
        Option<&'static str>,
        &'static str,
    );

    /// Every status of the §3.4 error table (and the cases around it), for both operations.
    #[test]
    fn error_table() {
        use ErrorKind::*;
        use Operation::{Lookup, Refund};
        const TEXT_409: &[(&str, &str)] = &[("content-type", "text/plain; charset=utf-8")];
        let cases: &[Case] = &[
            (
                400,
                BAD_REQUEST,
                &[],
                Refund,
                InvalidInput,
                Some("E3012"),
                "Amount value is greater than available amount for action; amount: Amount exceeds the refundable amount",
            ),
            (
                400,
                r#"{"code":"E1234"}"#,
                &[],
                Refund,
                InvalidInput,
                Some("E1234"),
                "invalid",
            ),
            (
                400,
                r#"{"code":"E9999","detail":"Unexpected error"}"#,
                &[],
                Refund,
                InvalidInput,
                Some("E9999"),
                "Unexpected error",
            ),
            (
                400,
                r#"{"code":"D0100"}"#,
                &[],
                Refund,
                InvalidInput,
                Some("D0100"),
                "invalid",
            ),
            (
                400,
                r#"{"code":"Eabcd"}"#,
                &[],
                Refund,
                InvalidInput,
                Some("Eabcd"),
                "invalid",
            ),
            (
                400,
                "<html>Bad Request</html>",
                &[],
                Refund,
                InvalidInput,
                None,
                "nothing was applied",
            ),
            (
                400,
                "",
                &[],
                Refund,
                InvalidInput,
                None,
                "nothing was applied",
            ),
            (
                400,
                BAD_REQUEST,
                &[],
                Lookup,
                InvalidInput,
                Some("E3012"),
                "invalid",
            ),
            (400, "<html>", &[], Lookup, InvalidInput, None, "invalid"),
            (
                401,
                UNAUTHORIZED,
                &[],
                Refund,
                Auth,
                Some("401"),
                "Unauthorized: The requestToken is missing, invalid, or expired",
            ),
            (401, "", &[], Refund, Auth, None, "requestToken"),
            (
                401,
                UNAUTHORIZED,
                &[],
                Lookup,
                Auth,
                Some("401"),
                "Unauthorized",
            ),
            (403, "Forbidden", &[], Refund, Auth, None, "requestToken"),
            (403, "{}", &[], Lookup, Auth, None, "requestToken"),
            (
                404,
                NOT_FOUND,
                &[],
                Refund,
                NotFound,
                None,
                "Transaction not found",
            ),
            (
                404,
                "<html>Not Found</html>",
                &[],
                Refund,
                NotFound,
                None,
                "no such transaction",
            ),
            (
                404,
                NOT_FOUND,
                &[],
                Lookup,
                NotFound,
                None,
                "no such transaction",
            ),
            (
                409,
                "Duplicated idempotencyKey: rf-9c01",
                TEXT_409,
                Refund,
                OutcomeUnknown,
                None,
                "idempotencyKey",
            ),
            (
                409,
                "Duplicated idempotencyKey: rf-9c01",
                &[],
                Refund,
                OutcomeUnknown,
                None,
                "window",
            ),
            (409, "", &[], Lookup, Provider, None, "unexpected"),
            (
                429,
                "",
                &[("retry-after", "7")],
                Refund,
                RateLimited,
                None,
                "retry after 7s",
            ),
            (
                429,
                "slow down",
                &[],
                Lookup,
                RateLimited,
                None,
                "rate limited",
            ),
            (
                500,
                INTERNAL,
                &[],
                Refund,
                OutcomeUnknown,
                None,
                "Internal Server Error: An unexpected error occurred",
            ),
            (
                500,
                INTERNAL,
                &[],
                Lookup,
                Provider,
                None,
                "the provider failed: Internal Server Error",
            ),
            (
                502,
                "<html>Bad Gateway</html>",
                &[],
                Refund,
                OutcomeUnknown,
                None,
                "reconcile",
            ),
            (
                503,
                UNAVAILABLE,
                &[],
                Refund,
                OutcomeUnknown,
                Some("503"),
                "Service Unavailable: Try again later",
            ),
            (
                503,
                UNAVAILABLE,
                &[],
                Lookup,
                Provider,
                Some("503"),
                "Service Unavailable",
            ),
            (504, "", &[], Refund, OutcomeUnknown, None, "reconcile"),
            (
                402,
                "not json",
                &[],
                Refund,
                OutcomeUnknown,
                None,
                "reconcile",
            ),
            (
                402,
                "{}",
                &[],
                Lookup,
                Provider,
                None,
                "unexpected HTTP status",
            ),
            (
                302,
                "",
                &[("location", "https://elsewhere.example")],
                Refund,
                OutcomeUnknown,
                None,
                "reconcile",
            ),
            (418, "", &[], Lookup, Provider, None, "unexpected"),
        ];
        for (status, body, headers, operation, kind, code, needle) in cases {
            let error = status_error(&response(*status, body, headers), *operation);
            let what = format!("{status} {operation:?} {body:?}");
            assert_eq!(error.kind(), *kind, "{what}");
            assert_eq!(error.http_status(), Some(*status), "{what}");
            assert_eq!(error.provider_code(), *code, "{what}");
            assert_eq!(error.provider(), Some(&ProviderId::PAYABLI), "{what}");
            assert!(error.may_have_reached_provider(), "{what}");
            assert!(error.to_string().contains(needle), "{what}: {error}");
        }
    }

    #[test]
    fn rate_limit_keeps_retry_after() {
        let e = status_error(
            &response(429, "", &[("retry-after", "30")]),
            Operation::Refund,
        );
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(30)));
        assert!(e.is_retryable());
    }

    #[test]
    fn long_provider_text_is_cut() {
        let body = format!(r#"{{"code":"E3003","detail":"{}"}}"#, "x".repeat(5000));
        let e = status_error(&response(400, &body, &[]), Operation::Refund);
        assert!(e.to_string().len() < 400, "{e}");
        assert!(e.to_string().contains('…'));
    }

    #[test]
    fn code_letters() {
        for (code, letter) in [
            ("A0004", Some('A')),
            ("A0099", Some('A')),
            ("D9999", Some('D')),
            ("E1234", Some('E')),
            ("a0004", None),
            ("X0001", None),
            ("A004", None),
            ("A00040", None),
            ("A00a4", None),
            ("", None),
            ("Aé123", None),
        ] {
            assert_eq!(code_letter(code), letter, "{code}");
        }
    }
}
