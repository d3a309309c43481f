//! [`HttpClient`]: the one place where refund-rs sends HTTP requests.

use std::fmt;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::Method;
use http::header::{ACCEPT, CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use tracing::Instrument as _;

use super::request::Request;
use super::response::Response;
use crate::error::{Error, ErrorKind, Reach, Result};
use crate::id::ProviderId;
use crate::retry::{Clock, SystemClock};
use crate::secret::Secret;

/// Default connect timeout (contract §0.5). Not covered by semver.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default whole-request timeout, from sending to the last body byte (contract §0.5). Not covered
/// by semver.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default response size cap: 1 MiB. Not covered by semver.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How a provider wants its API key sent. The value is marked sensitive
/// ([`HeaderValue::set_sensitive`]), so HTTP libraries leave it out of their debug output.
#[derive(Clone)]
pub struct Auth {
    header: String,
    bearer: bool,
    key: Secret,
}

impl Auth {
    /// The key as the whole value of `header`: `Auth::header("Authorization", key)` (Plexy),
    /// `Auth::header("requestToken", key)` (Payabli).
    pub fn header(header: impl Into<String>, key: Secret) -> Self {
        Auth {
            header: header.into(),
            bearer: false,
            key,
        }
    }

    /// `Authorization: Bearer <key>` (PayNext).
    pub fn bearer(key: Secret) -> Self {
        Auth {
            header: "authorization".to_owned(),
            bearer: true,
            key,
        }
    }

    fn to_header(&self) -> Result<(HeaderName, HeaderValue)> {
        let name = HeaderName::from_bytes(self.header.as_bytes())
            .map_err(|_| Error::config(format!("invalid auth header name {:?}", self.header)))?;
        let key = self.key.expose_secret();
        if key.trim().is_empty() {
            return Err(Error::config("the API key is empty"));
        }
        let value = if self.bearer {
            HeaderValue::from_str(&format!("Bearer {key}"))
        } else {
            HeaderValue::from_str(key)
        };
        // The error says nothing about where the key is wrong: that would leak part of it.
        let mut value = value.map_err(|_| {
            Error::config("the API key contains characters that cannot be sent in an HTTP header")
        })?;
        value.set_sensitive(true);
        Ok((name, value))
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("header", &self.header)
            .field("bearer", &self.bearer)
            .field("key", &self.key)
            .finish()
    }
}

/// Sends requests to one provider: adds `Accept: application/json`, the User-Agent and the auth
/// header, applies the timeouts and the response size cap, classifies every failure, and wraps
/// each call in a `tracing` span.
///
/// Cheap to clone (an `Arc` inside) and `Send + Sync`: build one per provider configuration and
/// share it.
///
/// Redirects are not followed by the client it builds (a 3xx is returned as a response): a
/// redirected refund POST would turn into a GET, and a redirect to another host must not receive
/// the API key. A caller-supplied `reqwest::Client` should be built with
/// `redirect(reqwest::redirect::Policy::none())` for the same reasons.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    provider: ProviderId,
    client: reqwest::Client,
    timeout: Duration,
    connect_timeout: Option<Duration>,
    max_response_bytes: usize,
    user_agent: HeaderValue,
    auth: Option<(HeaderName, HeaderValue)>,
    clock: Arc<dyn Clock>,
}

/// Builds an [`HttpClient`]; see [`HttpClient::builder`].
#[must_use]
pub struct HttpClientBuilder {
    provider: ProviderId,
    user_agent: String,
    client: Option<reqwest::Client>,
    connect_timeout: Duration,
    timeout: Duration,
    max_response_bytes: usize,
    auth: Option<Auth>,
    clock: Arc<dyn Clock>,
}

impl HttpClient {
    /// Starts building a client for `provider`, sending `User-Agent: <user_agent>` (by
    /// convention `<crate-name>/<version>`, contract §0.6).
    pub fn builder(provider: ProviderId, user_agent: impl Into<String>) -> HttpClientBuilder {
        HttpClientBuilder {
            provider,
            user_agent: user_agent.into(),
            client: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            auth: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The provider this client talks to.
    pub fn provider(&self) -> &ProviderId {
        &self.inner.provider
    }

    /// The whole-request timeout.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The connect timeout, `None` when the caller supplied its own `reqwest::Client` (the
    /// connect timeout is then that client's).
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.inner.connect_timeout
    }

    /// The response size cap in bytes.
    pub fn max_response_bytes(&self) -> usize {
        self.inner.max_response_bytes
    }

    /// Sends one request and reads the whole response body, whatever the status. Never retries.
    ///
    /// The request gets `Accept: application/json`, the User-Agent and the auth header (these
    /// replace same-named headers of the request). A POST without a body goes out with no
    /// `Content-Type` and `Content-Length: 0`. The whole exchange, body included, must finish
    /// within the client's timeout, and the body may not exceed its size cap.
    ///
    /// The call runs in a `tracing` info span `http` with the fields `provider`, `operation`,
    /// `method`, `path`, `status` and `elapsed_ms`; bodies, headers and the query are never
    /// recorded.
    ///
    /// A refund crate converts errors that may have reached the provider into
    /// [`OutcomeUnknown`](ErrorKind::OutcomeUnknown) with [`refund_outcome_error`](super::refund_outcome_error).
    ///
    /// # Errors
    /// Every error carries the provider and tells whether the request may have reached it:
    /// - [`Transport`](ErrorKind::Transport), never reached: DNS failure, connection refused,
    ///   TLS handshake failure;
    /// - [`Timeout`](ErrorKind::Timeout), never reached: the connect timeout elapsed;
    /// - [`Timeout`](ErrorKind::Timeout), may have reached: the whole-request timeout elapsed
    ///   (even while still connecting: whether the request left is then not known);
    /// - [`Transport`](ErrorKind::Transport), may have reached: the connection broke after the
    ///   request may have been written;
    /// - [`Decode`](ErrorKind::Decode): the body is larger than the size cap (with the status);
    /// - [`Config`](ErrorKind::Config), never reached: reqwest could not build the request.
    pub async fn send(&self, request: Request) -> Result<Response> {
        let span = tracing::info_span!(
            "http",
            provider = %self.inner.provider,
            operation = request.operation_name(),
            method = %request.method(),
            path = request.endpoint().path(),
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self.send_inner(request).instrument(span.clone()).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        span.record("elapsed_ms", elapsed_ms);
        match &result {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                tracing::debug!(
                    parent: &span,
                    status = response.status().as_u16(),
                    elapsed_ms,
                    body_len = response.body().len(),
                    "http call finished"
                );
            }
            Err(error) => {
                if let Some(status) = error.http_status() {
                    span.record("status", status);
                }
                tracing::debug!(
                    parent: &span,
                    kind = %error.kind(),
                    may_have_reached = error.may_have_reached_provider(),
                    elapsed_ms,
                    error = %error,
                    "http call failed"
                );
            }
        }
        result
    }

    async fn send_inner(&self, request: Request) -> Result<Response> {
        let inner = &*self.inner;
        let (method, endpoint, extra_headers, body) = request.into_parts();

        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, inner.user_agent.clone());
        for (name, value) in &extra_headers {
            headers.insert(name.clone(), value.clone());
        }
        if let Some((name, value)) = &inner.auth {
            headers.insert(name.clone(), value.clone());
        }
        if body.is_none() && method_has_body(&method) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }

        let mut builder = inner
            .client
            .request(method, endpoint.url().clone())
            .headers(headers);
        if let Some(body) = body {
            builder = builder.body(body);
        }

        // One deadline for the whole exchange, body included: a single timer, registered once
        // and shared by both phases (reqwest's per-request timeout would box its own).
        let deadline = tokio::time::sleep(inner.timeout);
        let mut deadline = std::pin::pin!(deadline);
        let mut response = within(deadline.as_mut(), builder.send())
            .await
            .ok_or_else(|| self.request_timeout())?
            .map_err(|e| self.transport_error(e, Phase::Send))?;
        let received_at = inner.clock.now();
        let status = response.status();
        // Moved, not cloned: the body is read through `chunk`, which needs no headers.
        let headers = std::mem::take(response.headers_mut());
        let partial = Response::new(inner.provider.clone(), status, headers, bytes::Bytes::new())
            .with_received_at(received_at);

        let cap = inner.max_response_bytes;
        if let Some(length) = response.content_length()
            && length > u64::try_from(cap).unwrap_or(u64::MAX)
        {
            return Err(too_large(&partial, cap));
        }
        let initial = response
            .content_length()
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(0)
            .min(cap);
        // A body that arrives in one chunk (the usual small answer) is kept as it is; only a
        // body in several chunks is copied together.
        let mut received = 0usize;
        let mut first: Option<bytes::Bytes> = None;
        let mut joined = BytesMut::new();
        loop {
            let chunk = within(deadline.as_mut(), response.chunk())
                .await
                .ok_or_else(|| partial.decorate(self.request_timeout()))?
                .map_err(|e| partial.decorate(self.transport_error(e, Phase::Body)))?;
            let Some(chunk) = chunk else { break };
            received = received.saturating_add(chunk.len());
            if received > cap {
                return Err(too_large(&partial, cap));
            }
            if received == chunk.len() {
                first = Some(chunk);
                continue;
            }
            if let Some(earlier) = first.take() {
                joined.reserve(initial.max(received));
                joined.extend_from_slice(&earlier);
            }
            joined.extend_from_slice(&chunk);
        }
        let body = first.unwrap_or_else(|| joined.freeze());
        Ok(partial.with_body(body))
    }

    /// The whole-request deadline passed: the request may have been written.
    fn request_timeout(&self) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "no complete answer within the request timeout ({}s)",
                seconds_text(self.inner.timeout)
            ),
        )
        .with_reach(Reach::MayHaveReached)
        .with_provider(self.inner.provider.clone())
    }

    /// Classifies a reqwest failure. The URL is stripped from the source, so that neither the
    /// path nor a query can reach a log through `Debug`.
    fn transport_error(&self, error: reqwest::Error, phase: Phase) -> Error {
        let timeout = error.is_timeout();
        let (kind, reach, what) = if error.is_builder() {
            (
                ErrorKind::Config,
                Reach::NeverReached,
                "the HTTP request could not be built",
            )
        } else if error.is_connect() {
            // Connecting (DNS, TCP, TLS handshake) happens before any request byte is written
            // on that connection, so the request provably never reached the provider.
            if timeout {
                (
                    ErrorKind::Timeout,
                    Reach::NeverReached,
                    "timed out connecting to the provider",
                )
            } else if error.is_dns() {
                (
                    ErrorKind::Transport,
                    Reach::NeverReached,
                    "could not resolve the provider's host name",
                )
            } else {
                (
                    ErrorKind::Transport,
                    Reach::NeverReached,
                    "could not connect to the provider",
                )
            }
        } else if timeout {
            // The whole-request timeout: it may have elapsed during connecting, but we cannot
            // tell, so assume the request was written.
            (
                ErrorKind::Timeout,
                Reach::MayHaveReached,
                "no complete answer within the request timeout",
            )
        } else if phase == Phase::Body {
            (
                ErrorKind::Transport,
                Reach::MayHaveReached,
                "the connection broke while reading the response",
            )
        } else {
            (
                ErrorKind::Transport,
                Reach::MayHaveReached,
                "the connection failed after the request may have been sent",
            )
        };
        let message = match root_cause(&error) {
            Some(cause) if !timeout => format!("{what}: {cause}"),
            _ if kind == ErrorKind::Timeout && reach == Reach::MayHaveReached => {
                format!("{what} ({}s)", seconds_text(self.inner.timeout))
            }
            _ => what.to_owned(),
        };
        Error::new(kind, message)
            .with_reach(reach)
            .with_provider(self.inner.provider.clone())
            .with_source(error.without_url())
    }
}

/// `future`'s output, or `None` when `deadline` passes first.
async fn within<F: Future>(
    mut deadline: std::pin::Pin<&mut tokio::time::Sleep>,
    future: F,
) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Formats a duration in seconds, to the millisecond, without float arithmetic (`0.2`, `60`).
fn seconds_text(duration: Duration) -> String {
    let millis = duration.subsec_millis();
    if millis == 0 {
        duration.as_secs().to_string()
    } else {
        let frac = format!("{millis:03}");
        format!("{}.{}", duration.as_secs(), frac.trim_end_matches('0'))
    }
}

/// The innermost error of the chain (an `io::Error`, a rustls error), which says what actually
/// happened ("Connection refused"). reqwest's own message, which holds the URL, is skipped.
fn root_cause(error: &reqwest::Error) -> Option<String> {
    let mut cause: &dyn std::error::Error = std::error::Error::source(error)?;
    while let Some(next) = cause.source() {
        cause = next;
    }
    Some(cause.to_string())
}

fn too_large(response: &Response, cap: usize) -> Error {
    response.error(
        ErrorKind::Decode,
        format!("response larger than {cap} bytes"),
    )
}

fn method_has_body(method: &Method) -> bool {
    *method == Method::POST || *method == Method::PUT || *method == Method::PATCH
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Send,
    Body,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("HttpClient")
            .field("provider", &inner.provider)
            .field("timeout", &inner.timeout)
            .field("connect_timeout", &inner.connect_timeout)
            .field("max_response_bytes", &inner.max_response_bytes)
            .field("user_agent", &inner.user_agent)
            .field("auth_header", &inner.auth.as_ref().map(|(name, _)| name))
            .finish()
    }
}

impl HttpClientBuilder {
    /// Uses this `reqwest::Client` (reqwest 0.13) instead of building one, for example to share
    /// a connection pool or to configure proxies and TLS roots. The request timeout still
    /// applies to every request; the connect timeout is then the client's own. Build it with
    /// `redirect(reqwest::redirect::Policy::none())` (see [`HttpClient`]).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sets the connect timeout (DNS, TCP and TLS). Default 10 s. Ignored when a client is
    /// supplied with [`client`](Self::client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the whole-request timeout, from sending to the last body byte. Default 60 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the response size cap in bytes. Default 1 MiB.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sends this API key on every request. Default: no auth header.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Reads the time of each response (for HTTP-date `Retry-After` values) from `clock`.
    /// Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Config`](ErrorKind::Config) when a timeout or the size cap is zero, the User-Agent or
    /// the auth header name is not a valid header, the API key is empty or holds characters a
    /// header cannot carry (the message never shows the key), or reqwest cannot build its
    /// client (for example when no TLS root certificates can be loaded).
    pub fn build(self) -> Result<HttpClient> {
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::config("timeouts must be greater than zero"));
        }
        if self.max_response_bytes == 0 {
            return Err(Error::config(
                "the response size cap must be greater than zero",
            ));
        }
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::config("the User-Agent is not a valid header value"))?;
        let auth = self.auth.as_ref().map(Auth::to_header).transpose()?;
        let (client, connect_timeout) = match self.client {
            Some(client) => (client, None),
            None => {
                let client = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| Error::config("could not build the HTTP client").with_source(e))?;
                (client, Some(self.connect_timeout))
            }
        };
        Ok(HttpClient {
            inner: Arc::new(Inner {
                provider: self.provider,
                client,
                timeout: self.timeout,
                connect_timeout,
                max_response_bytes: self.max_response_bytes,
                user_agent,
                auth,
                clock: self.clock,
            }),
        })
    }
}

impl fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientBuilder")
            .field("provider", &self.provider)
            .field("user_agent", &self.user_agent)
            .field("custom_client", &self.client.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("auth", &self.auth)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const _: () = {
        const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
        assert_bounds::<HttpClient>();
    };

    #[test]
    fn auth_headers_are_sensitive_and_validated() {
        let (name, value) = Auth::bearer(Secret::new("sk_1")).to_header().unwrap();
        assert_eq!(name, "authorization");
        assert_eq!(value, "Bearer sk_1");
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("sk_1"));
        let (name, value) = Auth::header("requestToken", Secret::new("tok"))
            .to_header()
            .unwrap();
        assert_eq!(name, "requesttoken");
        assert_eq!(value, "tok");
        assert!(value.is_sensitive());

        for (auth, needle) in [
            (Auth::header("Authorization", Secret::new("")), "empty"),
            (Auth::header("Authorization", Secret::new("  ")), "empty"),
            (
                Auth::header("Authorization", Secret::new("ab\ncd-SECRET")),
                "characters",
            ),
            (
                Auth::header("bad header", Secret::new("SECRET")),
                "header name",
            ),
        ] {
            let err = auth.to_header().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains(needle), "{err}");
            assert!(!err.to_string().contains("SECRET"), "{err}");
            assert!(!format!("{err:?}").contains("SECRET"), "{err:?}");
        }
        assert!(!format!("{:?}", Auth::bearer(Secret::new("SECRET"))).contains("SECRET"));
    }

    #[test]
    fn formats_seconds() {
        assert_eq!(seconds_text(Duration::from_millis(200)), "0.2");
        assert_eq!(seconds_text(Duration::from_secs(60)), "60");
        assert_eq!(seconds_text(Duration::from_millis(1250)), "1.25");
    }

    #[test]
    fn builder_checks() {
        let b = || HttpClient::builder(ProviderId::PLEXY, "refund-plexy/0.1.0");
        assert_eq!(
            b().timeout(Duration::ZERO).build().unwrap_err().kind(),
            ErrorKind::Config
        );
        assert_eq!(
            b().max_response_bytes(0).build().unwrap_err().kind(),
            ErrorKind::Config
        );
        let err = HttpClient::builder(ProviderId::PLEXY, "bad\nua")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let client = b()
            .auth(Auth::header("Authorization", Secret::new("sk_live_XYZ")))
            .build()
            .unwrap();
        assert_eq!(client.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(client.connect_timeout(), Some(DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(client.max_response_bytes(), DEFAULT_MAX_RESPONSE_BYTES);
        let debug = format!("{client:?}");
        assert!(!debug.contains("sk_live_XYZ"), "{debug}");
        assert!(debug.contains("authorization"), "{debug}");
        let supplied = b().client(reqwest::Client::new()).build().unwrap();
        assert_eq!(supplied.connect_timeout(), None);
    }
}
