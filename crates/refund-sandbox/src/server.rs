//! The HTTP runtime shared by the three emulators: listener, connections, routing of provider
//! paths, fault injection, the request log and the admin endpoints.
//!
//! Connections are served by hyper directly (not `axum::serve`) so that a fault can drop one
//! connection without an answer: each connection task races the connection against a
//! [`Notify`] that the handler triggers. The axum [`Router`] serves the admin endpoints and hands
//! every other path to the provider, which routes on percent-decoded segments itself (contract
//! §0.2: decode once, route on the decoded value, so an id `a/b` sent as `a%2Fb` is one segment).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use percent_encoding::percent_decode_str;
use refund_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::delivery::Outbox;
use crate::fault::{Fault, FaultKind, Stage, retry_after_secs};
use crate::record::{LoggedRequest, Operation, PaymentSnapshot, RefundRecord};
use crate::webhook::{WebhookConfig, WebhookDelivery, WebhookEvent};

/// The largest request body the emulators read (1 MiB); larger bodies get 413.
const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// The most request-log entries kept per emulator; older ones are dropped first.
const MAX_LOG_ENTRIES: usize = 10_000;
/// The most body bytes kept per request-log entry.
const MAX_LOGGED_BODY: usize = 64 * 1024;
/// Header names whose values never reach the request log.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "requesttoken",
    "cookie",
    "x-api-key",
];

/// Locks a mutex, ignoring poisoning: every critical section leaves the state consistent
/// before anything can fail, so a panic elsewhere never leaves half an update behind.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a provider emulator implements; the runtime does the rest.
pub(crate) trait Provider: Send + Sync + 'static {
    /// A routed provider operation.
    type Route: Send;
    /// The path prefix of the base URL: `/v1`, `` or `/api`.
    const BASE_PATH: &'static str;
    /// Routes percent-decoded path segments (after the base path).
    fn route(&self, method: &Method, segments: &[String]) -> Routing<Self::Route>;
    /// Processes a routed request. Runs under the provider's lock, without awaiting.
    fn handle(&self, route: &Self::Route, call: &Call<'_>) -> Reply;
    /// The provider's answer for a 5xx.
    fn server_error(&self, call: &Call<'_>, status: StatusCode) -> Reply;
    /// The provider's answer for a 429.
    fn too_many_requests(&self, call: &Call<'_>) -> Reply;
    /// Creates a payment from the admin endpoint's JSON.
    fn create_from_json(&self, body: &[u8]) -> Result<PaymentSnapshot, String>;
    /// One payment.
    fn snapshot(&self, id: &str) -> Option<PaymentSnapshot>;
    /// Every payment, in creation order.
    fn snapshots(&self) -> Vec<PaymentSnapshot>;
    /// Every refund, in creation order.
    fn refund_records(&self) -> Vec<RefundRecord>;
    /// Back to the seeded state (or empty).
    fn reset(&self);
    /// Makes every pending refund final now, and emits the webhook events of the change.
    fn resolve_pending(&self);
    /// The emulator's webhook runtime.
    fn outbox(&self) -> &Outbox;
    /// Emits the webhook events of the pending refunds whose final state is due at `now`;
    /// returns when the next one falls due.
    fn finalize_due(&self, now: Instant) -> Option<Instant>;
    /// The emulator's switchable modes, as the admin JSON of `GET /_sandbox/modes`. None by
    /// default.
    fn modes(&self) -> Value {
        json!({})
    }
    /// Switches modes from the admin JSON of `POST /_sandbox/modes` and returns the modes after
    /// the change, or why the body was refused.
    fn set_modes(&self, body: &[u8]) -> Result<Value, String> {
        let _ = body;
        Err("this emulator has no switchable modes".to_owned())
    }
}

/// The result of routing.
pub(crate) enum Routing<R> {
    Found {
        route: R,
        operation: Operation,
        payment_id: Option<String>,
    },
    MethodNotAllowed,
    NotFound,
}

/// A request as the provider sees it.
pub(crate) struct Call<'a> {
    /// The raw path (percent-encoded, without the query).
    pub(crate) path: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    /// Answer with an unknown enum value (fault [`FaultKind::UnknownEnumValue`]).
    pub(crate) unknown_enum: bool,
}

/// A provider's answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) retry_after: Option<u64>,
    /// Why the sandbox refused the request (for the request log only).
    pub(crate) note: Option<String>,
}

impl Reply {
    /// A JSON answer from a serializable value (amounts are exact `JsonDecimal` literals).
    pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status,
                content_type: "application/json",
                body,
                retry_after: None,
                note: None,
            },
            Err(e) => Reply::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("refund-sandbox could not serialize its answer: {e}"),
            ),
        }
    }

    /// A plain-text answer.
    pub(crate) fn text(status: StatusCode, text: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.into().into_bytes(),
            retry_after: None,
            note: None,
        }
    }

    /// Adds the reason for the request log.
    #[must_use]
    pub(crate) fn note(mut self, note: impl Into<String>) -> Reply {
        self.note = Some(note.into());
        self
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// One emulator's state besides the provider's own: faults and the request log.
pub(crate) struct Shared<P> {
    pub(crate) provider: P,
    faults: Mutex<Vec<Fault>>,
    log: Mutex<VecDeque<LoggedRequest>>,
}

impl<P: Provider> Shared<P> {
    fn new(provider: P) -> Self {
        Shared {
            provider,
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn inject(&self, fault: Fault) -> Result<(), Error> {
        fault.validate()?;
        lock(&self.faults).push(fault);
        Ok(())
    }

    pub(crate) fn faults(&self) -> Vec<Fault> {
        lock(&self.faults).clone()
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// Reset: seeded state, no faults, empty log, no webhook events or deliveries (the
    /// registered webhook stays).
    pub(crate) fn reset(&self) {
        self.provider.reset();
        self.provider.outbox().reset();
        self.clear_faults();
        self.clear_requests();
    }

    fn take_fault(&self, operation: Operation, payment_id: Option<&str>) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let index = faults
            .iter()
            .position(|f| f.matches(operation, payment_id))?;
        let fault = faults.get_mut(index)?;
        let kind = fault.kind().clone();
        if fault.fire() {
            faults.remove(index);
        }
        Some(kind)
    }

    fn push_log(&self, entry: LoggedRequest) {
        let mut log = lock(&self.log);
        if log.len() >= MAX_LOG_ENTRIES {
            log.pop_front();
        }
        log.push_back(entry);
    }
}

/// A running emulator: its listener task and shared state.
pub(crate) struct Server<P: Provider> {
    pub(crate) shared: Arc<Shared<P>>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    webhook_task: Option<JoinHandle<()>>,
}

impl<P: Provider> Server<P> {
    /// Binds the listener (so the emulator is ready when this returns) and starts serving.
    pub(crate) async fn start(provider: P, addr: SocketAddr) -> Result<Self, Error> {
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            Error::config(format!("refund-sandbox cannot listen on {addr}")).with_source(e)
        })?;
        let addr = listener.local_addr().map_err(|e| {
            Error::config("refund-sandbox cannot read its listening address").with_source(e)
        })?;
        let shared = Arc::new(Shared::new(provider));
        let router = router(Arc::clone(&shared));
        let (stop, stopped) = watch::channel(false);
        let webhook_task = tokio::spawn(webhook_loop(Arc::clone(&shared), stop.subscribe()));
        let task = tokio::spawn(accept_loop(listener, router, stopped));
        Ok(Server {
            shared,
            addr,
            stop,
            task: Some(task),
            webhook_task: Some(webhook_task),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection, stops webhook deliveries and waits for the
    /// listener to be released.
    pub(crate) async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for task in [self.task.take(), self.webhook_task.take()]
            .into_iter()
            .flatten()
        {
            // A join error means the task panicked or was cancelled; either way it is gone.
            let _ = task.await;
        }
    }
}

impl<P: Provider> Drop for Server<P> {
    fn drop(&mut self) {
        // The accept loop sees this, closes the listener and aborts its connections.
        self.stop.send_replace(true);
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                Err(e) => {
                    // Out of file descriptors or similar: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "refund-sandbox accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// The emulator's webhook task: emits the status changes of pending refunds when they fall due
/// (no client request needed) and runs every queued delivery job as its own task. Stopping the
/// emulator aborts the jobs.
async fn webhook_loop<P: Provider>(shared: Arc<Shared<P>>, mut stopped: watch::Receiver<bool>) {
    let outbox = shared.provider.outbox().clone();
    let Some(mut jobs) = outbox.take_jobs() else {
        return;
    };
    let mut running = JoinSet::new();
    loop {
        let next_due = shared.provider.finalize_due(Instant::now());
        tokio::select! {
            _ = stopped.changed() => break,
            () = outbox.woken() => {}
            () = sleep_until(next_due) => {}
            Some(job) = jobs.recv() => {
                running.spawn(outbox.clone().run(job));
            }
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    running.shutdown().await;
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Lets a handler close its own connection without an answer.
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

async fn serve_connection(stream: TcpStream, router: Router) {
    // Small answers must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let handle = ConnectionKill(Arc::clone(&kill));
    let service = hyper::service::service_fn(move |mut request: http::Request<_>| {
        request.extensions_mut().insert(handle.clone());
        router.clone().oneshot(request.map(Body::new))
    });
    // No header-read timeout: hyper's default (30 s) also closes idle keep-alive connections,
    // which a client could be about to reuse; a test would then see a failure nobody injected.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "refund-sandbox connection ended with an error");
            }
        }
        () = kill.notified() => {
            // Dropping the connection closes the socket: the client sees EOF without an answer.
        }
    }
}

fn router<P: Provider>(shared: Arc<Shared<P>>) -> Router {
    Router::new()
        .route(
            "/_sandbox/payments",
            post(admin_create_payment::<P>).get(admin_list_payments::<P>),
        )
        .route("/_sandbox/payments/{id}", get(admin_payment::<P>))
        .route("/_sandbox/refunds", get(admin_refunds::<P>))
        .route(
            "/_sandbox/faults",
            post(admin_add_fault::<P>)
                .get(admin_list_faults::<P>)
                .delete(admin_clear_faults::<P>),
        )
        .route(
            "/_sandbox/requests",
            get(admin_requests::<P>).delete(admin_clear_requests::<P>),
        )
        .route("/_sandbox/reset", post(admin_reset::<P>))
        .route(
            "/_sandbox/modes",
            get(admin_modes::<P>).post(admin_set_modes::<P>),
        )
        .route(
            "/_sandbox/resolve-pending",
            post(admin_resolve_pending::<P>),
        )
        .route(
            "/_sandbox/webhooks",
            post(admin_set_webhook::<P>)
                .get(admin_webhook::<P>)
                .delete(admin_clear_webhook::<P>),
        )
        .route("/_sandbox/webhooks/events", get(admin_webhook_events::<P>))
        .route(
            "/_sandbox/webhooks/deliveries",
            get(admin_webhook_deliveries::<P>).delete(admin_clear_webhook_deliveries::<P>),
        )
        .route(
            "/_sandbox/webhooks/redeliver",
            post(admin_redeliver_webhook::<P>),
        )
        .route(
            "/_sandbox/webhooks/duplicate",
            post(admin_duplicate_webhooks::<P>),
        )
        .fallback(provider_entry::<P>)
        .with_state(shared)
}

/// Splits a raw path after the base path into percent-decoded segments; `None` when the path is
/// outside the base or a segment is not UTF-8 once decoded.
fn segments(base: &str, raw: &str) -> Option<Vec<String>> {
    let rest = raw.strip_prefix(base)?.strip_prefix('/')?;
    rest.split('/')
        .map(|segment| {
            percent_decode_str(segment)
                .decode_utf8()
                .ok()
                .map(Cow::into_owned)
        })
        .collect()
}

fn log_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                "[redacted]".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

fn log_body(body: &[u8]) -> String {
    let cut = body.get(..MAX_LOGGED_BODY).unwrap_or(body);
    String::from_utf8_lossy(cut).into_owned()
}

/// Every provider path: route, pick a fault, process, log, answer.
async fn provider_entry<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    request: Request,
) -> Response {
    let received_at = SystemTime::now();
    let (parts, body) = request.into_parts();
    let kill = parts.extensions.get::<ConnectionKill>().cloned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let mut entry = LoggedRequest {
        method: parts.method.to_string(),
        path: path_and_query,
        headers: log_headers(&parts.headers),
        body: String::new(),
        operation: None,
        payment_id: None,
        status: None,
        fault: None,
        note: None,
        received_at,
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BODY).await else {
        let reply = Reply::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "refund-sandbox: request body too large or unreadable",
        );
        return finish(&shared, entry, reply);
    };
    entry.body = log_body(&body);
    let routing = match segments(P::BASE_PATH, parts.uri.path()) {
        Some(segs) => shared.provider.route(&parts.method, &segs),
        None => Routing::NotFound,
    };
    let (route, operation, payment_id) = match routing {
        Routing::Found {
            route,
            operation,
            payment_id,
        } => (route, operation, payment_id),
        Routing::MethodNotAllowed => {
            let reply = Reply::text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("refund-sandbox: {} is not allowed here", parts.method),
            );
            return finish(&shared, entry, reply);
        }
        Routing::NotFound => {
            // Deliberately not the provider's JSON 404: a client calling a wrong path must see
            // an inconclusive answer, never "not found" from the provider (contract §0.5).
            let reply = Reply::text(
                StatusCode::NOT_FOUND,
                format!(
                    "refund-sandbox: no route for {} {}",
                    parts.method,
                    parts.uri.path()
                ),
            );
            return finish(&shared, entry, reply);
        }
    };
    entry.operation = Some(operation);
    entry.payment_id.clone_from(&payment_id);
    let fault = shared.take_fault(operation, payment_id.as_deref());
    entry.fault = fault.as_ref().map(|f| f.name().to_owned());
    let call = Call {
        path: parts.uri.path(),
        headers: &parts.headers,
        body: &body,
        unknown_enum: fault == Some(FaultKind::UnknownEnumValue),
    };

    if let Some(kind) = fault.as_ref().filter(|k| k.stage() == Stage::Before) {
        let reply = match kind {
            FaultKind::ServerErrorBeforeApplying(status) => shared.provider.server_error(
                &call,
                status_code(*status, StatusCode::INTERNAL_SERVER_ERROR),
            ),
            FaultKind::TooManyRequests { retry_after } => {
                let mut reply = shared.provider.too_many_requests(&call);
                reply.retry_after = Some(retry_after_secs(*retry_after));
                reply
            }
            FaultKind::HtmlErrorPage(status) => {
                html_page(status_code(*status, StatusCode::BAD_GATEWAY))
            }
            _ => {
                shared.push_log(entry);
                return close_connection(kill).await;
            }
        };
        return finish(&shared, entry, reply);
    }

    let reply = shared.provider.handle(&route, &call);
    let Some(kind) = fault else {
        return finish(&shared, entry, reply);
    };
    match kind {
        FaultKind::Delay(delay) => {
            entry.status = Some(reply.status.as_u16());
            entry.note.clone_from(&reply.note);
            shared.push_log(entry);
            tokio::time::sleep(delay).await;
            reply.into_response()
        }
        FaultKind::CloseAfterApplying => {
            entry.note = Some(match reply.note {
                Some(note) => format!("processed with status {}: {note}", reply.status),
                None => format!("processed with status {}", reply.status),
            });
            shared.push_log(entry);
            close_connection(kill).await
        }
        FaultKind::ServerErrorAfterApplying(status) => {
            entry.note = Some(format!("processed with status {}", reply.status));
            let error = shared.provider.server_error(
                &call,
                status_code(status, StatusCode::INTERNAL_SERVER_ERROR),
            );
            finish(&shared, entry, error)
        }
        FaultKind::TruncatedJsonAfterApplying => {
            let mut reply = reply;
            let half = reply.body.len() / 2;
            reply.body.truncate(half);
            finish(&shared, entry, reply)
        }
        FaultKind::OversizedBody(size) => {
            let mut reply = reply;
            reply.body = pad(std::mem::take(&mut reply.body), size);
            finish(&shared, entry, reply)
        }
        // Applied inside `handle` through `Call::unknown_enum`; the before-stage kinds were
        // handled above.
        _ => finish(&shared, entry, reply),
    }
}

fn status_code(code: u16, fallback: StatusCode) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(fallback)
}

/// Logs the request with its answer and sends the answer.
fn finish<P: Provider>(shared: &Shared<P>, mut entry: LoggedRequest, reply: Reply) -> Response {
    entry.status = Some(reply.status.as_u16());
    if entry.note.is_none() {
        entry.note.clone_from(&reply.note);
    }
    shared.push_log(entry);
    reply.into_response()
}

/// Closes the request's connection without an answer.
async fn close_connection(kill: Option<ConnectionKill>) -> Response {
    if let Some(ConnectionKill(notify)) = kill {
        notify.notify_one();
        // The connection task drops this handler together with the connection.
        std::future::pending::<()>().await;
    }
    // Only reachable if the connection handle is missing, which `serve_connection` prevents;
    // answer loudly rather than pretend the connection was closed.
    Reply::text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "refund-sandbox could not close this connection",
    )
    .into_response()
}

/// A gateway's HTML error page.
fn html_page(status: StatusCode) -> Reply {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    Reply {
        status,
        content_type: "text/html; charset=utf-8",
        body: format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        .into_bytes(),
        retry_after: None,
        note: None,
    }
}

/// Pads a body to at least `size` bytes, keeping JSON objects valid JSON.
fn pad(body: Vec<u8>, size: usize) -> Vec<u8> {
    let missing = size.saturating_sub(body.len());
    if missing == 0 {
        return body;
    }
    let mut out = Vec::with_capacity(size + 32);
    if let Some(rest) = body.strip_prefix(b"{") {
        let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
        out.extend_from_slice(b"{\"sandbox_padding\":\"");
        out.resize(out.len() + missing, b'x');
        out.extend_from_slice(if empty { b"\"" } else { b"\"," });
        out.extend_from_slice(rest);
    } else {
        out.extend_from_slice(&body);
        out.resize(size, b' ');
    }
    out
}

fn admin_json(status: StatusCode, value: &Value) -> Response {
    Reply::json(status, value).into_response()
}

fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    admin_json(status, &json!({ "error": message.into() }))
}

fn no_content() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

async fn admin_create_payment<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    body: Bytes,
) -> Response {
    match shared.provider.create_from_json(&body) {
        Ok(snapshot) => admin_json(StatusCode::CREATED, &snapshot.to_json()),
        Err(message) => admin_error(StatusCode::BAD_REQUEST, message),
    }
}

async fn admin_list_payments<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    let list: Vec<Value> = shared
        .provider
        .snapshots()
        .iter()
        .map(PaymentSnapshot::to_json)
        .collect();
    admin_json(StatusCode::OK, &Value::Array(list))
}

async fn admin_payment<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    Path(id): Path<String>,
) -> Response {
    let Some(snapshot) = shared.provider.snapshot(&id) else {
        return admin_error(StatusCode::NOT_FOUND, format!("no payment {id:?}"));
    };
    let refunds: Vec<Value> = shared
        .provider
        .refund_records()
        .iter()
        .filter(|r| r.payment_id == id)
        .map(RefundRecord::to_json)
        .collect();
    let mut value = snapshot.to_json();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("refunds".into(), Value::Array(refunds));
    }
    admin_json(StatusCode::OK, &value)
}

async fn admin_refunds<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    request: Request,
) -> Response {
    let mut payment_id = None;
    let mut reference = None;
    for (key, value) in url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
    {
        match key.as_ref() {
            "payment_id" => payment_id = Some(value.into_owned()),
            "reference" => reference = Some(value.into_owned()),
            other => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter {other:?}"),
                );
            }
        }
    }
    let list: Vec<Value> = shared
        .provider
        .refund_records()
        .iter()
        .filter(|r| payment_id.as_ref().is_none_or(|p| *p == r.payment_id))
        .filter(|r| {
            reference
                .as_ref()
                .is_none_or(|x| Some(x) == r.reference.as_ref())
        })
        .map(RefundRecord::to_json)
        .collect();
    admin_json(StatusCode::OK, &Value::Array(list))
}

async fn admin_add_fault<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    body: Bytes,
) -> Response {
    match Fault::from_admin_json(&body) {
        Ok(fault) => {
            let value = fault.to_json();
            match shared.inject(fault) {
                Ok(()) => admin_json(StatusCode::CREATED, &value),
                Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }
        Err(message) => admin_error(StatusCode::BAD_REQUEST, message),
    }
}

async fn admin_list_faults<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    let list: Vec<Value> = shared.faults().iter().map(Fault::to_json).collect();
    admin_json(StatusCode::OK, &Value::Array(list))
}

async fn admin_clear_faults<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    shared.clear_faults();
    no_content()
}

async fn admin_requests<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    let list: Vec<Value> = shared
        .requests()
        .iter()
        .map(LoggedRequest::to_json)
        .collect();
    admin_json(StatusCode::OK, &Value::Array(list))
}

async fn admin_clear_requests<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    shared.clear_requests();
    no_content()
}

async fn admin_reset<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    shared.reset();
    no_content()
}

async fn admin_modes<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    admin_json(StatusCode::OK, &shared.provider.modes())
}

async fn admin_set_modes<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    body: Bytes,
) -> Response {
    match shared.provider.set_modes(&body) {
        Ok(modes) => admin_json(StatusCode::OK, &modes),
        Err(message) => admin_error(StatusCode::BAD_REQUEST, message),
    }
}

async fn admin_resolve_pending<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    shared.provider.resolve_pending();
    no_content()
}

async fn admin_set_webhook<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    body: Bytes,
) -> Response {
    let outbox = shared.provider.outbox();
    let result = WebhookConfig::from_admin_json(&body)
        .and_then(|config| outbox.set_endpoint(config).map_err(|e| e.to_string()));
    match result {
        // `null` only if another request removed the webhook in between.
        Ok(()) => admin_json(
            StatusCode::CREATED,
            &outbox.endpoint_json().unwrap_or(Value::Null),
        ),
        Err(message) => admin_error(StatusCode::BAD_REQUEST, message),
    }
}

async fn admin_webhook<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    match shared.provider.outbox().endpoint_json() {
        Some(view) => admin_json(StatusCode::OK, &view),
        None => admin_error(StatusCode::NOT_FOUND, "no webhook is registered"),
    }
}

async fn admin_clear_webhook<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    shared.provider.outbox().clear_endpoint();
    no_content()
}

async fn admin_webhook_events<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    let list: Vec<Value> = shared
        .provider
        .outbox()
        .events()
        .iter()
        .map(WebhookEvent::to_json)
        .collect();
    admin_json(StatusCode::OK, &Value::Array(list))
}

async fn admin_webhook_deliveries<P: Provider>(State(shared): State<Arc<Shared<P>>>) -> Response {
    let list: Vec<Value> = shared
        .provider
        .outbox()
        .deliveries()
        .iter()
        .map(WebhookDelivery::to_json)
        .collect();
    admin_json(StatusCode::OK, &Value::Array(list))
}

async fn admin_clear_webhook_deliveries<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
) -> Response {
    shared.provider.outbox().clear_deliveries();
    no_content()
}

/// `{"event_id": "…"}` (optional; the last event when absent).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RedeliverSpec {
    event_id: Option<String>,
}

/// `{"times": n}` (optional; 1 when absent).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DuplicateSpec {
    times: Option<u32>,
}

/// An optional JSON body: empty (or white space only) reads as the default.
fn optional_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

async fn admin_redeliver_webhook<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    body: Bytes,
) -> Response {
    let spec: RedeliverSpec = match optional_json(&body) {
        Ok(spec) => spec,
        Err(message) => return admin_error(StatusCode::BAD_REQUEST, message),
    };
    match shared.provider.outbox().redeliver(spec.event_id.as_deref()) {
        Ok(id) => admin_json(StatusCode::ACCEPTED, &json!({ "event_id": id })),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn admin_duplicate_webhooks<P: Provider>(
    State(shared): State<Arc<Shared<P>>>,
    body: Bytes,
) -> Response {
    let spec: DuplicateSpec = match optional_json(&body) {
        Ok(spec) => spec,
        Err(message) => return admin_error(StatusCode::BAD_REQUEST, message),
    };
    shared
        .provider
        .outbox()
        .duplicate_next(spec.times.unwrap_or(1));
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_segment_once() {
        assert_eq!(
            segments("/v1", "/v1/payments/ab%2Fc%20d/refund"),
            Some(vec!["payments".into(), "ab/c d".into(), "refund".into()])
        );
        // Decoded once only: `%252F` is the text `%2F`, not a slash.
        assert_eq!(
            segments("", "/payments/a%252Fb"),
            Some(vec!["payments".into(), "a%2Fb".into()])
        );
        assert_eq!(segments("/api", "/v1/x"), None);
        assert_eq!(segments("/v1", "/v1"), None);
        assert_eq!(segments("/v1", "/v1x/a"), None);
        assert_eq!(segments("", "/a/%FF"), None);
    }

    #[test]
    fn pads_json_objects_validly() {
        let padded = pad(br#"{"a":1}"#.to_vec(), 100);
        assert!(padded.len() >= 100);
        let v: Value = serde_json::from_slice(&padded).unwrap();
        assert_eq!(v["a"], 1);
        let padded = pad(b"{}".to_vec(), 50);
        assert!(serde_json::from_slice::<Value>(&padded).is_ok());
        assert_eq!(pad(b"abc".to_vec(), 5), b"abc  ");
        assert_eq!(pad(b"abcdef".to_vec(), 3), b"abcdef");
    }

    #[test]
    fn redacts_secret_headers() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer sk_1"));
        h.insert("requesttoken", HeaderValue::from_static("tok"));
        h.insert("x-api-version", HeaderValue::from_static("1.0.0"));
        let logged = log_headers(&h);
        assert!(logged.contains(&("authorization".into(), "[redacted]".into())));
        assert!(logged.contains(&("requesttoken".into(), "[redacted]".into())));
        assert!(logged.contains(&("x-api-version".into(), "1.0.0".into())));
    }
}
