//! [`Request`]: what a provider crate asks [`HttpClient::send`](super::HttpClient::send) to send.

use std::fmt;

use bytes::Bytes;
use http::Method;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::endpoint::Endpoint;
use crate::error::{Error, Result};

/// One HTTP request, built by a provider crate as plain data (no I/O), so that request building is
/// a pure function that unit tests can inspect.
///
/// [`HttpClient::send`](super::HttpClient::send) adds `Accept`, `User-Agent` and the auth header;
/// a request never carries credentials itself.
#[derive(Clone)]
pub struct Request {
    method: Method,
    endpoint: Endpoint,
    operation: &'static str,
    headers: HeaderMap,
    body: Option<Bytes>,
}

impl Request {
    /// A request with no extra headers and no body. Its operation name is `"request"` until
    /// [`operation`](Self::operation) sets one.
    pub fn new(method: Method, endpoint: Endpoint) -> Self {
        Request {
            method,
            endpoint,
            operation: "request",
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// A GET request.
    pub fn get(endpoint: Endpoint) -> Self {
        Self::new(Method::GET, endpoint)
    }

    /// A POST request (with no body until one is set: it is then sent with no `Content-Type`
    /// and `Content-Length: 0`).
    pub fn post(endpoint: Endpoint) -> Self {
        Self::new(Method::POST, endpoint)
    }

    /// Names the operation for the tracing span (`"refund"`, `"find_refund"`). Default
    /// `"request"`.
    #[must_use]
    pub fn operation(mut self, name: &'static str) -> Self {
        self.operation = name;
        self
    }

    /// Adds a header, replacing any earlier value of the same name (`X-API-Version`,
    /// `idempotencyKey`). Header names are sent in lowercase, as HTTP/2 requires and HTTP/1.1
    /// allows (names are case-insensitive).
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds a header from text, replacing any earlier value of the same name.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when `name` is not a valid header name or
    /// `value` not a valid header value (for example a line break). The message names the
    /// header, never the value.
    pub fn try_header(self, name: &str, value: &str) -> Result<Self> {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::invalid_input(format!("invalid HTTP header name {name:?}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid_input(format!("invalid value for HTTP header {name:?}")))?;
        Ok(self.header(header, value))
    }

    /// Sets a JSON body from its bytes, and `Content-Type: application/json`.
    #[must_use]
    pub fn json_bytes(mut self, body: impl Into<Bytes>) -> Self {
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = Some(body.into());
        self
    }

    /// Serializes `value` with `serde_json` as the body, and sets
    /// `Content-Type: application/json`.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when `value` cannot be serialized.
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        let body = serde_json::to_vec(value).map_err(|e| {
            Error::invalid_input("the request body could not be serialized").with_source(e)
        })?;
        Ok(self.json_bytes(body))
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The operation name for the tracing span.
    pub fn operation_name(&self) -> &'static str {
        self.operation
    }

    /// The headers set on this request (not the ones the client adds).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    pub(crate) fn into_parts(self) -> (Method, Endpoint, HeaderMap, Option<Bytes>) {
        (self.method, self.endpoint, self.headers, self.body)
    }
}

impl fmt::Debug for Request {
    /// Prints the method, URL, operation and headers, and only the body's length: bodies stay
    /// out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.endpoint.as_str())
            .field("operation", &self.operation)
            .field("headers", &self.headers)
            .field("body_len", &self.body.as_ref().map(Bytes::len))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::http::{BaseUrl, Segment};

    fn endpoint() -> Endpoint {
        BaseUrl::parse("https://api.example.com/v1")
            .unwrap()
            .endpoint(&[Segment::Lit("payments"), Segment::Param("p 1")])
            .unwrap()
    }

    #[test]
    fn builds_plain_data() {
        #[derive(serde::Serialize)]
        struct Body {
            amount: crate::JsonDecimal,
        }
        let r = Request::post(endpoint())
            .operation("refund")
            .try_header("idempotencyKey", "rf-1")
            .unwrap()
            .json(&Body {
                amount: "10.50".parse().unwrap(),
            })
            .unwrap();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.endpoint().path(), "/v1/payments/p%201");
        assert_eq!(r.operation_name(), "refund");
        assert_eq!(r.headers()["idempotencykey"], "rf-1");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(r.body(), Some(&br#"{"amount":10.50}"#[..]));
        let debug = format!("{r:?}");
        assert!(debug.contains("body_len: Some(16)"), "{debug}");
        assert!(!debug.contains("10.50"), "{debug}");

        let bare = Request::post(endpoint());
        assert!(bare.body().is_none());
        assert!(bare.headers().is_empty());
        assert_eq!(Request::get(endpoint()).operation_name(), "request");
    }

    #[test]
    fn refuses_bad_headers() {
        let err = Request::get(endpoint())
            .try_header("x-key", "line\nbreak-secret")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.to_string().contains("secret"));
        let err = Request::get(endpoint())
            .try_header("bad name", "v")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}
