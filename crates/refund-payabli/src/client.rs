//! [`Client`]: Payabli refunds (Y-R1, Y-R2) and the transaction details lookup (Y-L1) behind the
//! [`RefundProvider`] trait, plus Payabli's own options.

use std::fmt;
use std::time::Duration;

use refund_core::http::{
    Auth, BaseUrl, ClientSettings, HttpClient, ProviderClient, refund_outcome_error,
};
use refund_core::{
    BoxFuture, Capabilities, Error, Lookup, PaymentId, ProviderId, Refund, RefundProvider,
    RefundQuery, RefundRequest, Secret, Snapshot,
};

use crate::convert;
use crate::types::{PayabliRefund, TransactionDetails};
use crate::{IDEMPOTENCY_WINDOW, PRODUCTION_BASE_URL};

/// The header that carries the API token (§3.2).
const AUTH_HEADER: &str = "requestToken";

const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// A Payabli client: cheap to clone, `Send + Sync`, safe to share across tasks.
///
/// Each refund call sends exactly one request and never retries (the facade owns retries and
/// reconciliation). The API token is sent as `requestToken` and never appears in `Debug`,
/// errors or logs.
#[derive(Clone)]
pub struct Client {
    http: HttpClient,
    base: BaseUrl,
    /// The idempotency window (§3.6): [`IDEMPOTENCY_WINDOW`] unless a loopback emulator was
    /// given another one ([`Client::with_sandbox_idempotency_window`]).
    window: Duration,
}

const _: () = {
    const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
    assert_bounds::<Client>();
};

impl Client {
    /// Starts building a client with the Payabli API token (sent as `requestToken`).
    pub fn builder(api_key: impl Into<Secret>) -> ClientBuilder {
        ClientBuilder::new(api_key)
    }

    /// The base URL requests go to (`https://api.payabli.com/api` by default).
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// The idempotency window this client reports in its
    /// [`capabilities`](RefundProvider::capabilities) (2 minutes, §3.6).
    pub fn idempotency_window(&self) -> Duration {
        self.window
    }

    /// Uses another idempotency window, for a local emulator only (`refund-sandbox` started with
    /// `PayabliConfig::idempotency_window`), so that tests of crash recovery need not wait
    /// Payabli's real 2 minutes. The window is also how long an "absent" lookup must wait after
    /// the last send (see [`capabilities`](RefundProvider::capabilities)): shorter than the
    /// provider's real retention, it could refund twice, hence the loopback rule.
    ///
    /// # Errors
    /// [`Config`](refund_core::ErrorKind::Config) when the base URL is not a loopback host, or
    /// the window is zero.
    pub fn with_sandbox_idempotency_window(mut self, window: Duration) -> Result<Self, Error> {
        if !self.base.is_loopback() {
            return Err(Error::config(
                "another idempotency window is allowed only for a local emulator (a loopback base URL)",
            )
            .with_provider(ProviderId::PAYABLI));
        }
        if window.is_zero() {
            return Err(
                Error::config("the idempotency window must be longer than zero")
                    .with_provider(ProviderId::PAYABLI),
            );
        }
        self.window = window;
        Ok(self)
    }

    /// Sends one refund with Payabli's own options (split refunds, line items, `orderId`,
    /// `orderDescription`, `source`, `ipaddress`): Y-R1 for a full refund, Y-R2 with the amount
    /// in the path for a partial one, `idempotencyKey: <refund reference>`, and a JSON body only
    /// when an option is set. Never retries.
    ///
    /// A decline is `Ok` with [`RefundStatus::Declined`](refund_core::RefundStatus::Declined);
    /// `A0001`/`A0050` are `Pending`; any other `A…` code is `Succeeded`.
    ///
    /// # Errors
    /// - [`InvalidInput`](refund_core::ErrorKind::InvalidInput): a transId that cannot be a path
    ///   segment (nothing sent), or HTTP 400 with an `E…` code (not applied);
    /// - [`Auth`](refund_core::ErrorKind::Auth) (401, 403), [`NotFound`](refund_core::ErrorKind::NotFound)
    ///   (404), [`RateLimited`](refund_core::ErrorKind::RateLimited) (429, with `Retry-After`);
    /// - [`OutcomeUnknown`](refund_core::ErrorKind::OutcomeUnknown): the refund may have been
    ///   applied: a 409 `Duplicated idempotencyKey` (status 409 kept, so the caller can wait out
    ///   the idempotency window), any 5xx, a timeout or lost connection after sending, or an
    ///   answer that cannot be read;
    /// - [`Transport`](refund_core::ErrorKind::Transport) or [`Timeout`](refund_core::ErrorKind::Timeout)
    ///   that never reached Payabli (safe to send again).
    pub async fn refund_with(&self, refund: &PayabliRefund) -> Result<Refund, Error> {
        self.send_refund(refund.request(), convert::refund_body(refund))
            .await
    }

    async fn send_refund(
        &self,
        request: &RefundRequest,
        body: Option<crate::wire::RefundRequest>,
    ) -> Result<Refund, Error> {
        let annotate = |e: Error| {
            e.with_provider(ProviderId::PAYABLI)
                .with_payment_id(request.payment_id().clone())
                .with_reference(request.reference().clone())
        };
        let http = convert::refund_request_with(&self.base, request, body).map_err(annotate)?;
        let response = self
            .http
            .send(http)
            .await
            .map_err(|e| annotate(refund_outcome_error(e)))?;
        convert::refund_outcome(&response, request).map_err(annotate)
    }

    /// Reads a transaction through Payabli's details lookup (Y-L1,
    /// `GET /MoneyIn/details/{transId}`): status, amounts, linked refund and whether it can be
    /// refunded now. Safe to repeat; this method does not retry by itself.
    ///
    /// # Errors
    /// [`NotFound`](refund_core::ErrorKind::NotFound) for an unknown transId (404),
    /// [`Auth`](refund_core::ErrorKind::Auth), [`RateLimited`](refund_core::ErrorKind::RateLimited),
    /// [`Provider`](refund_core::ErrorKind::Provider) for a 5xx or another unexpected status,
    /// [`Decode`](refund_core::ErrorKind::Decode) for a body that is not a transaction record
    /// or holds an unknown currency, [`Transport`](refund_core::ErrorKind::Transport) and
    /// [`Timeout`](refund_core::ErrorKind::Timeout), and
    /// [`InvalidInput`](refund_core::ErrorKind::InvalidInput) for a transId that cannot be a
    /// path segment.
    pub async fn transaction_details(
        &self,
        trans_id: &PaymentId,
    ) -> Result<TransactionDetails, Error> {
        let annotate = |e: Error| {
            e.with_provider(ProviderId::PAYABLI)
                .with_payment_id(trans_id.clone())
        };
        let request = convert::details_request(&self.base, trans_id, "transaction_details")
            .map_err(annotate)?;
        let response = self.http.send(request).await.map_err(annotate)?;
        convert::details(&response).map_err(annotate)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base.as_str())
            .field("http", &self.http)
            .finish()
    }
}

impl RefundProvider for Client {
    fn provider(&self) -> ProviderId {
        ProviderId::PAYABLI
    }

    /// Partial and multiple partial refunds, the `idempotencyKey` with a 2-minute window
    /// (§3.6), a snapshot before partial refunds, and no lookup by reference (Y-L2 does not
    /// exist). Every call is one HTTP request bounded by the client's
    /// [`timeout`](ClientBuilder::timeout).
    ///
    /// Absence settles after the same 2 minutes: no official SDK sends `idempotencyKey` on the
    /// v2 refund, so Payabli may ignore it there, and a refund still being processed does not
    /// show in Y-L1 yet. A `RefundId` unchanged since the snapshot (or 0) proves no refund only
    /// when seen that long after the last send, twice.
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
            .with_multiple_partial_refunds()
            .with_idempotency_window(self.window)
            .with_snapshot_for_partial()
            .with_call_timeout(self.http.timeout())
            .with_absence_settling(self.window)
    }

    /// [`refund_with`](Client::refund_with) without Payabli options: no request body is sent.
    /// The request's reason and metadata are not sent (Payabli has no such fields; use
    /// [`PayabliRefund`] to send an `orderDescription`).
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
        Box::pin(async move { self.send_refund(request, None).await })
    }

    /// Reconciles through Y-L1 on the original (§3.6, §0.5): for a full refund a non-zero
    /// `RefundId` means found and 0 means absent; for a partial refund a `RefundId` changed from
    /// the snapshot means found and an unchanged one means absent, and without a snapshot the
    /// answer is inconclusive. A 404 or a record of another transaction is inconclusive.
    fn find_refund<'a>(&'a self, query: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
        Box::pin(async move {
            let annotate = |e: Error| {
                e.with_provider(ProviderId::PAYABLI)
                    .with_payment_id(query.payment_id.clone())
                    .with_reference(query.reference.clone())
            };
            let request = convert::details_request(&self.base, &query.payment_id, "find_refund")
                .map_err(annotate)?;
            let response = self.http.send(request).await.map_err(annotate)?;
            convert::lookup(&response, query).map_err(annotate)
        })
    }

    /// The original's current `RefundId` (through Y-L1), as `refund_id=<n>`, taken before a
    /// partial refund so that a later lookup can tell a new refund from an older one (§3.6).
    fn snapshot<'a>(
        &'a self,
        payment_id: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, Error>> {
        Box::pin(async move {
            let annotate = |e: Error| {
                e.with_provider(ProviderId::PAYABLI)
                    .with_payment_id(payment_id.clone())
            };
            let request =
                convert::details_request(&self.base, payment_id, "snapshot").map_err(annotate)?;
            let response = self.http.send(request).await.map_err(annotate)?;
            convert::snapshot(&response, payment_id)
                .map(Some)
                .map_err(annotate)
        })
    }
}

/// Builds a [`Client`]; see [`Client::builder`] and the methods of
/// [`refund_core::http::ClientBuilder`].
pub type ClientBuilder = refund_core::http::ClientBuilder<Client>;

impl ProviderClient for Client {
    const DEFAULT_BASE_URL: &'static str = PRODUCTION_BASE_URL;

    fn from_settings(settings: ClientSettings) -> Result<Self, Error> {
        let (base, http) = settings.connect(ProviderId::PAYABLI, USER_AGENT, |key| {
            Auth::header(AUTH_HEADER, key)
        })?;
        Ok(Client {
            http,
            base,
            window: IDEMPOTENCY_WINDOW,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use refund_core::ErrorKind;

    use super::*;

    #[test]
    fn builder_defaults_and_urls() {
        let client = Client::builder("tok_SECRET_1").build().unwrap();
        assert_eq!(client.base_url(), "https://api.payabli.com/api");
        assert!(!format!("{client:?}").contains("tok_SECRET_1"));
        let sandbox = Client::builder("t")
            .base_url(crate::SANDBOX_BASE_URL)
            .build()
            .unwrap();
        assert_eq!(sandbox.base_url(), "https://api-sandbox.payabli.com/api");
        let local = Client::builder("t")
            .base_url("http://127.0.0.1:8080/api/")
            .build()
            .unwrap();
        assert_eq!(local.base_url(), "http://127.0.0.1:8080/api");

        // The shared builder's checks are tested in refund-core; errors name Payabli.
        let err = Client::builder("").build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.provider(), Some(&ProviderId::PAYABLI));
    }

    #[test]
    fn another_window_only_for_a_loopback_emulator() {
        let production = Client::builder("t").build().unwrap();
        let err = production
            .with_sandbox_idempotency_window(Duration::from_secs(2))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let local = Client::builder("t")
            .base_url("http://127.0.0.1:8080/api")
            .build()
            .unwrap();
        assert!(
            local
                .clone()
                .with_sandbox_idempotency_window(Duration::ZERO)
                .is_err()
        );
        let local = local
            .with_sandbox_idempotency_window(Duration::from_secs(2))
            .unwrap();
        let caps = local.capabilities();
        assert_eq!(caps.idempotency_window, Some(Duration::from_secs(2)));
        assert_eq!(caps.absence_settles_after, Some(Duration::from_secs(2)));
    }

    #[test]
    fn capabilities_of_section_3_6() {
        let caps = Client::builder("t").build().unwrap().capabilities();
        assert!(caps.partial_refunds);
        assert!(caps.multiple_partial_refunds);
        assert_eq!(caps.idempotency_window, Some(Duration::from_secs(120)));
        assert!(caps.snapshot_for_partial);
        assert!(!caps.lookup_by_reference);
        assert_eq!(caps.call_timeout, Some(Duration::from_secs(60)));
        assert_eq!(caps.absence_settles_after, Some(Duration::from_secs(120)));
    }
}
