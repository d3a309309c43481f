//! The webhook runtime of one emulator: the registered endpoint, the event list, the delivery
//! log, signing (§4), and the HTTP client that posts deliveries.
//!
//! Providers call [`Outbox::emit`] where a refund is created or changes status. Every event with
//! an endpoint becomes a [`Job`] sent to the emulator's webhook task (see `server.rs`), which runs
//! each job as its own task: wait, attempt, retry on the schedule, give up. A job holds a
//! [`InFlight`] guard, so `settled()` can wait for every queued and running job to end.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderName, HeaderValue, Request};
use hyper_util::rt::TokioIo;
use refund_core::{Error, Secret};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, watch};
use url::{Host, Url};

use crate::server::lock;
use crate::webhook::{
    DeliveryTrigger, WebhookConfig, WebhookDelivery, WebhookEvent, WebhookEventState,
};
use crate::{payabli, paynext, plexy};

/// The most events and delivery-log entries kept per emulator; older ones are dropped first.
const MAX_KEPT: usize = 10_000;
/// The most bytes of a receiver's answer that are read (the rest is dropped).
const MAX_ANSWER: usize = 64 * 1024;
/// Headers the Payabli custom header may not replace: the sandbox sets them itself.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "user-agent",
];

/// Which provider's authentication the deliveries carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// §4.1: `Authorization: Bearer <token>`.
    Plexy,
    /// §4.2: Svix headers and HMAC-SHA256 signature.
    PayNext,
    /// §4.3: a merchant-configured header and value.
    Payabli,
}

/// How deliveries authenticate, resolved from the configuration.
enum Auth {
    /// The whole `Authorization` header value, `Bearer <token>`.
    Bearer(HeaderValue),
    /// The whole `whsec_<base64>` secret, checked; the HMAC key is decoded from it per attempt.
    Svix(Secret),
    /// A custom header.
    Header(HeaderName, HeaderValue),
}

/// Where deliveries go.
struct Target {
    host: TargetHost,
    port: u16,
    /// The `Host` header: the URL's host and explicit port.
    authority: String,
    /// The path and query.
    path: String,
}

enum TargetHost {
    Name(String),
    Ip(IpAddr),
}

/// A registered endpoint: the configuration as given, checked and resolved.
pub(crate) struct Endpoint {
    config: WebhookConfig,
    target: Target,
    auth: Auth,
}

impl Endpoint {
    fn resolve(scheme: Scheme, config: WebhookConfig) -> Result<Endpoint, Error> {
        config.validate()?;
        let target = target(&config.url)?;
        if scheme != Scheme::Payabli && config.header_name.is_some() {
            return Err(Error::invalid_input(
                "a webhook header name is a Payabli setting; Plexy and PayNext use fixed headers",
            ));
        }
        let secret = config.secret.as_ref().map(Secret::expose_secret);
        let auth = match scheme {
            Scheme::Plexy => {
                let token = secret.unwrap_or(plexy::DEFAULT_WEBHOOK_TOKEN);
                if token.is_empty() {
                    return Err(Error::invalid_input("the Plexy webhook token is empty"));
                }
                Auth::Bearer(sensitive(&format!("Bearer {token}"))?)
            }
            Scheme::PayNext => {
                let secret = secret.unwrap_or(paynext::DEFAULT_WEBHOOK_SECRET);
                svix_key(secret)?;
                Auth::Svix(Secret::new(secret))
            }
            Scheme::Payabli => {
                let name = config
                    .header_name
                    .as_deref()
                    .unwrap_or(payabli::DEFAULT_WEBHOOK_HEADER);
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    Error::invalid_input(format!("{name:?} is not an HTTP header name"))
                })?;
                if RESERVED_HEADERS.contains(&name.as_str()) {
                    return Err(Error::invalid_input(format!(
                        "the Payabli webhook header cannot be {name}: the sandbox sets it itself"
                    )));
                }
                let value = secret.unwrap_or(payabli::DEFAULT_WEBHOOK_SECRET);
                if value.is_empty() {
                    return Err(Error::invalid_input("the Payabli webhook secret is empty"));
                }
                Auth::Header(name, sensitive(value)?)
            }
        };
        Ok(Endpoint {
            config,
            target,
            auth,
        })
    }

    /// The provider's authentication headers for one attempt.
    fn auth_headers(
        &self,
        delivery_id: &str,
        body: &[u8],
        unix_secs: u64,
    ) -> Vec<(HeaderName, HeaderValue)> {
        match &self.auth {
            Auth::Bearer(value) => vec![(http::header::AUTHORIZATION, value.clone())],
            Auth::Header(name, value) => vec![(name.clone(), value.clone())],
            Auth::Svix(secret) => {
                let timestamp = unix_secs.to_string();
                // Checked when the endpoint was registered, so decoding succeeds.
                let key = svix_key(secret.expose_secret()).unwrap_or_default();
                let signature = svix_signature(&key, delivery_id, &timestamp, body);
                let mut headers = Vec::with_capacity(3);
                // Ids and timestamps are ASCII and signatures base64, so these never fail.
                for (name, value) in [
                    ("svix-id", delivery_id.to_owned()),
                    ("svix-timestamp", timestamp),
                    ("svix-signature", format!("v1,{signature}")),
                ] {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.push((HeaderName::from_static(name), value));
                    }
                }
                headers
            }
        }
    }

    /// The admin endpoint's view: everything but the secret.
    pub(crate) fn to_json(&self) -> Value {
        let header = match &self.auth {
            Auth::Header(name, _) => Some(name.as_str().to_owned()),
            Auth::Bearer(_) => Some("authorization".to_owned()),
            Auth::Svix(_) => None,
        };
        let delays: Vec<u128> = self
            .config
            .retry
            .delays()
            .iter()
            .map(Duration::as_millis)
            .collect();
        json!({
            "url": self.config.url,
            "header": header,
            "secret_configured": self.config.secret.is_some(),
            "retry_schedule_ms": delays,
            "timeout_ms": self.config.timeout.as_millis(),
        })
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        Error::invalid_input("a webhook secret must be visible ASCII, valid in an HTTP header")
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Decodes `whsec_<base64>` into the HMAC key (§4.2).
fn svix_key(secret: &str) -> Result<Vec<u8>, Error> {
    let encoded = secret.strip_prefix("whsec_").ok_or_else(|| {
        Error::invalid_input("a PayNext webhook secret has the form whsec_<base64>")
    })?;
    let key = STANDARD.decode(encoded).map_err(|_| {
        Error::invalid_input("the part of a PayNext webhook secret after whsec_ is not base64")
    })?;
    if key.is_empty() {
        return Err(Error::invalid_input("the PayNext webhook secret is empty"));
    }
    Ok(key)
}

/// The Svix signature (§4.2): base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
fn svix_signature(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a webhook URL: `http://` with a host; the sandbox does not speak TLS.
fn target(url: &str) -> Result<Target, Error> {
    let parsed = Url::parse(url)
        .map_err(|e| Error::invalid_input(format!("webhook URL {url:?} is not a URL: {e}")))?;
    if parsed.scheme() != "http" {
        return Err(Error::invalid_input(format!(
            "webhook URL {url:?}: the sandbox delivers over plain HTTP only (http://…)"
        )));
    }
    let host = match parsed.host() {
        Some(Host::Domain(d)) => TargetHost::Name(d.to_owned()),
        Some(Host::Ipv4(ip)) => TargetHost::Ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => TargetHost::Ip(IpAddr::V6(ip)),
        None => {
            return Err(Error::invalid_input(format!(
                "webhook URL {url:?} has no host"
            )));
        }
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    let host_text = parsed.host_str().unwrap_or_default();
    let authority = match parsed.port() {
        Some(p) => format!("{host_text}:{p}"),
        None => host_text.to_owned(),
    };
    let mut path = parsed.path().to_owned();
    if let Some(query) = parsed.query() {
        path.push('?');
        path.push_str(query);
    }
    Ok(Target {
        host,
        port,
        authority,
        path,
    })
}

/// A process-wide counter, so that delivery ids never repeat within a process.
static NEXT_EVENT: AtomicU64 = AtomicU64::new(1);

/// A new delivery id: `msg_` (as Svix ids start), the process start in milliseconds, a counter.
fn new_event_id() -> String {
    static START: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    });
    let n = NEXT_EVENT.fetch_add(1, Ordering::Relaxed);
    format!("msg_sandbox{start:x}{n:08x}")
}

/// One delivery run of one event: its attempts on a schedule.
pub(crate) struct Job {
    event_id: String,
    event_type: String,
    body: Bytes,
    endpoint: Arc<Endpoint>,
    delays: Vec<Duration>,
    trigger: DeliveryTrigger,
    /// The configuration epoch the job belongs to; a change cancels the job.
    epoch: u64,
    _in_flight: InFlight,
}

/// Counts a queued or running job; the count drops when the job is dropped, however it ends.
struct InFlight(Arc<Inner>);

impl InFlight {
    fn new(inner: &Arc<Inner>) -> Self {
        inner.in_flight.send_modify(|n| *n += 1);
        InFlight(Arc::clone(inner))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

struct State {
    endpoint: Option<Arc<Endpoint>>,
    events: VecDeque<WebhookEvent>,
    deliveries: VecDeque<WebhookDelivery>,
    /// How many of the next delivered events get a duplicate.
    duplicates: u32,
}

struct Inner {
    scheme: Scheme,
    state: Mutex<State>,
    jobs: mpsc::UnboundedSender<Job>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    /// Wakes the webhook task: a refund was created or resolved, so the next due status change
    /// may have moved.
    wake: Notify,
    /// Jobs queued or running.
    in_flight: watch::Sender<usize>,
    /// Bumped when the endpoint changes or the emulator resets: cancels the queued jobs.
    epoch: watch::Sender<u64>,
}

/// The webhook runtime of one emulator (cheap to clone).
#[derive(Clone)]
pub(crate) struct Outbox {
    inner: Arc<Inner>,
}

impl Outbox {
    /// An outbox for `scheme`, with the endpoint of the emulator's configuration, if any.
    pub(crate) fn new(scheme: Scheme, config: Option<WebhookConfig>) -> Result<Outbox, Error> {
        let endpoint = config
            .map(|c| Endpoint::resolve(scheme, c).map(Arc::new))
            .transpose()?;
        let (jobs, receiver) = mpsc::unbounded_channel();
        Ok(Outbox {
            inner: Arc::new(Inner {
                scheme,
                state: Mutex::new(State {
                    endpoint,
                    events: VecDeque::new(),
                    deliveries: VecDeque::new(),
                    duplicates: 0,
                }),
                jobs,
                receiver: Mutex::new(Some(receiver)),
                wake: Notify::new(),
                in_flight: watch::Sender::new(0),
                epoch: watch::Sender::new(0),
            }),
        })
    }

    /// Records an event and, when an endpoint is registered, queues its delivery.
    pub(crate) fn emit(&self, event_type: &str, payment_id: &str, refund_id: &str, body: Vec<u8>) {
        let body = Bytes::from(body);
        let mut state = lock(&self.inner.state);
        let id = new_event_id();
        let endpoint = state.endpoint.clone();
        // Read under the state lock, which every epoch change also holds: the job and its
        // endpoint belong to the same epoch.
        let epoch = *self.inner.epoch.borrow();
        push_bounded(
            &mut state.events,
            WebhookEvent {
                id: id.clone(),
                event_type: event_type.to_owned(),
                payment_id: payment_id.to_owned(),
                refund_id: refund_id.to_owned(),
                body: String::from_utf8_lossy(&body).into_owned(),
                created_at: SystemTime::now(),
                state: if endpoint.is_some() {
                    WebhookEventState::Pending
                } else {
                    WebhookEventState::NoEndpoint
                },
                attempts: 0,
            },
        );
        drop(state);
        if let Some(endpoint) = endpoint {
            let delays = endpoint.config.retry.delays().to_vec();
            self.enqueue(Job {
                event_id: id,
                event_type: event_type.to_owned(),
                body,
                endpoint,
                delays,
                trigger: DeliveryTrigger::Scheduled,
                epoch,
                _in_flight: InFlight::new(&self.inner),
            });
        }
        self.inner.wake.notify_one();
    }

    fn enqueue(&self, job: Job) {
        // The receiver lives as long as the emulator's webhook task; once it is gone the job is
        // dropped, which also releases its in-flight count.
        if let Err(mpsc::error::SendError(job)) = self.inner.jobs.send(job) {
            self.finish(&job, WebhookEventState::Cancelled);
        }
    }

    /// Wakes the webhook task to recompute when the next status change is due.
    pub(crate) fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Resolves when [`wake`](Self::wake) was called (a call before this one counts).
    pub(crate) async fn woken(&self) {
        self.inner.wake.notified().await;
    }

    /// The job queue's receiving end, once (for the emulator's webhook task).
    pub(crate) fn take_jobs(&self) -> Option<mpsc::UnboundedReceiver<Job>> {
        lock(&self.inner.receiver).take()
    }

    /// Registers (or replaces) the endpoint; queued retries of earlier events are cancelled.
    pub(crate) fn set_endpoint(&self, config: WebhookConfig) -> Result<(), Error> {
        let endpoint = Arc::new(Endpoint::resolve(self.inner.scheme, config)?);
        let mut state = lock(&self.inner.state);
        state.endpoint = Some(endpoint);
        self.cancel_queued(&mut state);
        Ok(())
    }

    /// Removes the endpoint; queued retries are cancelled.
    pub(crate) fn clear_endpoint(&self) {
        let mut state = lock(&self.inner.state);
        state.endpoint = None;
        self.cancel_queued(&mut state);
    }

    fn cancel_queued(&self, state: &mut State) {
        self.inner.epoch.send_modify(|e| *e += 1);
        for event in &mut state.events {
            if event.state == WebhookEventState::Pending {
                event.state = WebhookEventState::Cancelled;
            }
        }
    }

    /// The registered endpoint's configuration.
    pub(crate) fn config(&self) -> Option<WebhookConfig> {
        lock(&self.inner.state)
            .endpoint
            .as_ref()
            .map(|e| e.config.clone())
    }

    /// The admin view of the registered endpoint.
    pub(crate) fn endpoint_json(&self) -> Option<Value> {
        lock(&self.inner.state)
            .endpoint
            .as_ref()
            .map(|e| e.to_json())
    }

    pub(crate) fn events(&self) -> Vec<WebhookEvent> {
        lock(&self.inner.state).events.iter().cloned().collect()
    }

    pub(crate) fn deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.inner.state).deliveries.iter().cloned().collect()
    }

    pub(crate) fn clear_deliveries(&self) {
        lock(&self.inner.state).deliveries.clear();
    }

    /// The next `times` delivered events are each sent a second time right after.
    pub(crate) fn duplicate_next(&self, times: u32) {
        let mut state = lock(&self.inner.state);
        state.duplicates = state.duplicates.saturating_add(times);
    }

    /// Sends an event once more (the last one when `event_id` is `None`), with the same delivery
    /// id and body; returns its id.
    pub(crate) fn redeliver(&self, event_id: Option<&str>) -> Result<String, Error> {
        let mut state = lock(&self.inner.state);
        let endpoint = state.endpoint.clone().ok_or_else(|| {
            Error::invalid_input("no webhook is registered: nothing to redeliver to")
        })?;
        let event = match event_id {
            Some(id) => state.events.iter_mut().rev().find(|e| e.id == id),
            None => state.events.back_mut(),
        }
        .ok_or_else(|| match event_id {
            Some(id) => Error::invalid_input(format!("no webhook event {id:?}")),
            None => Error::invalid_input("no webhook event to redeliver yet"),
        })?;
        event.state = WebhookEventState::Pending;
        let job = Job {
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            body: Bytes::from(event.body.clone().into_bytes()),
            endpoint,
            delays: vec![Duration::ZERO],
            trigger: DeliveryTrigger::Redelivery,
            epoch: *self.inner.epoch.borrow(),
            _in_flight: InFlight::new(&self.inner),
        };
        let id = job.event_id.clone();
        drop(state);
        self.enqueue(job);
        Ok(id)
    }

    /// Forgets the events, the log and the duplicate count, and cancels queued retries; keeps
    /// the endpoint.
    pub(crate) fn reset(&self) {
        let mut state = lock(&self.inner.state);
        self.cancel_queued(&mut state);
        state.events.clear();
        state.deliveries.clear();
        state.duplicates = 0;
        drop(state);
        self.wake();
    }

    /// Resolves when no job is queued or running.
    pub(crate) async fn settled(&self) {
        let mut rx = self.inner.in_flight.subscribe();
        // An error means the sender is gone, so nothing is in flight either.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Runs one job to its end: waits, attempts, retries, gives up or is cancelled.
    pub(crate) async fn run(self, job: Job) {
        let mut epoch = self.inner.epoch.subscribe();
        for delay in &job.delays {
            if !delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(*delay) => {}
                    _ = epoch.wait_for(|e| *e != job.epoch) => {
                        self.finish(&job, WebhookEventState::Cancelled);
                        return;
                    }
                }
            }
            if *epoch.borrow() != job.epoch {
                self.finish(&job, WebhookEventState::Cancelled);
                return;
            }
            if self.attempt(&job, job.trigger).await {
                if job.trigger == DeliveryTrigger::Scheduled && self.take_duplicate() {
                    self.attempt(&job, DeliveryTrigger::Duplicate).await;
                }
                self.finish(&job, WebhookEventState::Delivered);
                return;
            }
        }
        self.finish(&job, WebhookEventState::GaveUp);
    }

    fn take_duplicate(&self) -> bool {
        let mut state = lock(&self.inner.state);
        if state.duplicates == 0 {
            return false;
        }
        state.duplicates -= 1;
        true
    }

    /// One attempt; whether it was answered 2xx.
    async fn attempt(&self, job: &Job, trigger: DeliveryTrigger) -> bool {
        let number = {
            let mut state = lock(&self.inner.state);
            match state.events.iter_mut().rev().find(|e| e.id == job.event_id) {
                Some(event) => {
                    event.attempts = event.attempts.saturating_add(1);
                    event.attempts
                }
                None => 1,
            }
        };
        let sent_at = SystemTime::now();
        let unix = sent_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let headers = job.endpoint.auth_headers(&job.event_id, &job.body, unix);
        let result = post(&job.endpoint, headers, job.body.clone()).await;
        let (status, error) = match result {
            Ok(status) => (Some(status), None),
            Err(e) => (None, Some(e)),
        };
        let delivery = WebhookDelivery {
            delivery_id: job.event_id.clone(),
            event_type: job.event_type.clone(),
            url: job.endpoint.config.url.clone(),
            attempt: number,
            trigger,
            status,
            error,
            sent_at,
        };
        let ok = delivery.succeeded();
        tracing::debug!(
            delivery_id = %delivery.delivery_id,
            event_type = %delivery.event_type,
            attempt = number,
            status = ?delivery.status,
            "refund-sandbox webhook attempt"
        );
        push_bounded(&mut lock(&self.inner.state).deliveries, delivery);
        ok
    }

    fn finish(&self, job: &Job, outcome: WebhookEventState) {
        let mut state = lock(&self.inner.state);
        if let Some(event) = state.events.iter_mut().rev().find(|e| e.id == job.event_id)
            && event.state == WebhookEventState::Pending
        {
            event.state = outcome;
        }
    }
}

fn push_bounded<T>(list: &mut VecDeque<T>, item: T) {
    if list.len() >= MAX_KEPT {
        list.pop_front();
    }
    list.push_back(item);
}

/// Posts a delivery; the status answered, or why there was none.
async fn post(
    endpoint: &Endpoint,
    auth: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
) -> Result<u16, String> {
    let timeout = endpoint.config.timeout;
    match tokio::time::timeout(timeout, exchange(&endpoint.target, auth, body)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

async fn exchange(
    target: &Target,
    auth: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
) -> Result<u16, String> {
    let stream = match &target.host {
        TargetHost::Ip(ip) => TcpStream::connect(SocketAddr::new(*ip, target.port)).await,
        TargetHost::Name(name) => TcpStream::connect((name.as_str(), target.port)).await,
    }
    .map_err(|e| format!("cannot connect to {}: {e}", target.authority))?;
    // Small deliveries must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let mut request = Request::post(target.path.as_str())
        .body(Body::from(body))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let headers = request.headers_mut();
    if let Ok(host) = HeaderValue::from_str(&target.authority) {
        headers.insert(HOST, host);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("refund-sandbox/", env!("CARGO_PKG_VERSION"))),
    );
    for (name, value) in auth {
        headers.insert(name, value);
    }
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        // Read the answer so that the receiver sees a complete exchange; its content is unused.
        let _ = axum::body::to_bytes(Body::new(response.into_body()), MAX_ANSWER).await;
        Ok(status)
    };
    // The connection must be driven while the request is in flight.
    let mut connection = std::pin::pin!(connection);
    let mut exchange = std::pin::pin!(exchange);
    tokio::select! {
        result = &mut exchange => result,
        _ = &mut connection => exchange.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svix_known_answer() {
        // Svix's documented example (docs.svix.com, "Verifying payloads manually").
        let key = svix_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = svix_signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn svix_secrets_are_checked() {
        assert!(svix_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(svix_key("whsec_not base64!").is_err());
        assert!(svix_key("whsec_").is_err());
        assert!(svix_key(paynext::DEFAULT_WEBHOOK_SECRET).is_ok());
    }

    #[test]
    fn targets() {
        let t = target("http://127.0.0.1:8080/hooks/a?b=1").unwrap();
        assert_eq!(t.port, 8080);
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path, "/hooks/a?b=1");
        let t = target("http://localhost/").unwrap();
        assert_eq!((t.port, t.authority.as_str()), (80, "localhost"));
        let t = target("http://[::1]:9/x").unwrap();
        assert!(matches!(t.host, TargetHost::Ip(IpAddr::V6(_))));
        assert_eq!(t.authority, "[::1]:9");
        assert!(target("https://127.0.0.1/x").is_err());
        assert!(target("127.0.0.1:80").is_err());
        assert!(target("not a url").is_err());
    }

    #[test]
    fn resolves_each_scheme() {
        let url = "http://127.0.0.1:1/h";
        let plexy = Endpoint::resolve(Scheme::Plexy, WebhookConfig::new(url)).unwrap();
        let headers = plexy.auth_headers("msg_1", b"{}", 1);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "authorization");
        assert_eq!(
            headers[0].1,
            format!("Bearer {}", plexy::DEFAULT_WEBHOOK_TOKEN).as_str()
        );
        assert!(headers[0].1.is_sensitive());
        assert!(
            Endpoint::resolve(Scheme::Plexy, WebhookConfig::new(url).header_name("X-A")).is_err()
        );
        assert!(
            Endpoint::resolve(Scheme::PayNext, WebhookConfig::new(url).secret("nope")).is_err()
        );
        let payabli = Endpoint::resolve(
            Scheme::Payabli,
            WebhookConfig::new(url).header_name("X-Hook").secret("v"),
        )
        .unwrap();
        let headers = payabli.auth_headers("msg_1", b"{}", 1);
        assert_eq!(headers[0].0, "x-hook");
        assert_eq!(headers[0].1, "v");
        for bad in ["content-type", "Host", "bad header"] {
            assert!(
                Endpoint::resolve(Scheme::Payabli, WebhookConfig::new(url).header_name(bad))
                    .is_err(),
                "{bad}"
            );
        }
        assert!(
            Endpoint::resolve(Scheme::Payabli, WebhookConfig::new(url).secret("a\nb")).is_err()
        );
        // The admin view never shows the secret.
        let shown = payabli.to_json().to_string();
        assert!(!shown.contains("\"v\""), "{shown}");
    }
}
