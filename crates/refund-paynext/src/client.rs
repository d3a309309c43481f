//! [`Client`]: the PayNext client, its builder, the [`RefundProvider`] implementation and the
//! native N-L1 lookup.

use std::fmt;

use refund_core::http::{
    Auth, BaseUrl, ClientSettings, HttpClient, ProviderClient, Response, refund_outcome_error,
};
use refund_core::retry::Operation;
use refund_core::{
    BoxFuture, Capabilities, Error, ErrorKind, Lookup, PaymentId, ProviderId, Refund, RefundAmount,
    RefundProvider, RefundQuery, RefundRequest, Secret,
};

use crate::payment::Payment;
use crate::{PRODUCTION_BASE_URL, convert, error, wire};

/// The User-Agent of every request (contract §0.6).
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// A PayNext client: full refunds (N-R1) through [`RefundProvider`], and the payment lookup
/// (N-L1) as [`get_payment`](Self::get_payment) and
/// [`find_refund`](RefundProvider::find_refund).
///
/// Cheap to clone and `Send + Sync`: build one and share it. `Debug` never prints the API key.
/// Each call sends exactly one HTTP request and never retries.
#[derive(Clone)]
pub struct Client {
    http: HttpClient,
    base_url: BaseUrl,
}

const _: () = {
    const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
    assert_bounds::<Client>();
};

/// Configures a [`Client`]; see [`Client::builder`] and the methods of
/// [`refund_core::http::ClientBuilder`]. `Debug` never prints the API key.
pub type ClientBuilder = refund_core::http::ClientBuilder<Client>;

impl Client {
    /// Starts configuring a client that authenticates with `api_key`
    /// (`Authorization: Bearer <key>`, contract §2.2). The key needs the "Refunds: Write"
    /// permission to refund and "Payments: Read" to look payments up.
    pub fn builder(api_key: impl Into<Secret>) -> ClientBuilder {
        ClientBuilder::new(api_key)
    }

    /// The base URL requests go to (no trailing slash).
    pub fn base_url(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// Looks a payment up (N-L1, `GET /payments/{payment_id}`) and returns its refund state.
    ///
    /// # Errors
    /// - `InvalidInput` when the id cannot be a path segment (`.`, `..`), before any request,
    ///   or when PayNext answers 400/409/422;
    /// - `Auth` (401/403), `NotFound` (404), `RateLimited` (429, with `retry_after`),
    ///   `Provider` (5xx or another unexpected status);
    /// - `Transport` or `Timeout` when the request failed;
    /// - `Decode` when the 200 body is not a Payment object, names another payment, or holds a
    ///   negative amount.
    ///
    /// Errors carry the provider and the payment id.
    pub async fn get_payment(&self, payment_id: &PaymentId) -> Result<Payment, Error> {
        let result = async {
            let wire = self.lookup(payment_id, "get_payment").await?;
            convert::payment_view(&wire.payment, payment_id).map_err(|e| wire.response.decorate(e))
        }
        .await;
        result.map_err(|e| {
            e.with_provider(ProviderId::PAYNEXT)
                .with_payment_id(payment_id.clone())
        })
    }

    /// Sends N-L1 and decodes a 2xx answer.
    async fn lookup(
        &self,
        payment_id: &PaymentId,
        operation: &'static str,
    ) -> Result<LookupAnswer, Error> {
        let request = convert::lookup_request(&self.base_url, payment_id, operation)?;
        let response = self.http.send(request).await?;
        let payment = lookup_payment(&response)?;
        Ok(LookupAnswer { response, payment })
    }

    async fn send_refund(&self, request: &RefundRequest) -> Result<Refund, Error> {
        let http_request = convert::refund_request(&self.base_url, request)?;
        let response = self
            .http
            .send(http_request)
            .await
            .map_err(refund_outcome_error)?;
        refund_answer(&response, request)
    }

    async fn reconcile(&self, query: &RefundQuery) -> Result<Lookup, Error> {
        if query.amount != RefundAmount::Full {
            // PayNext never made a partial refund for us (we refuse them before sending), so a
            // refund found on the payment cannot be the one asked about.
            return Err(Error::unsupported(
                "partial refunds are not supported, so there is none to look up: PayNext refunds whole payments only",
            ));
        }
        let answer = self.lookup(&query.payment_id, "find_refund").await;
        reconcile_answer(answer.map(|a| a.payment), query)
    }
}

/// Reads the answer to N-R1: an error status per [`error::status_error`], else the Payment
/// object mapped by [`convert::refund_from_payment`]. A 2xx that cannot be read or mapped may
/// still mean the refund was applied (§0.4), so it is `OutcomeUnknown`.
pub(crate) fn refund_answer(response: &Response, request: &RefundRequest) -> Result<Refund, Error> {
    if let Some(error) = error::status_error(response, Operation::Refund) {
        return Err(error);
    }
    response
        .json::<wire::Payment>()
        .and_then(|payment| {
            convert::refund_from_payment(&payment, request.payment_id(), request.reference())
                .map_err(|e| response.decorate(e))
        })
        .map_err(refund_outcome_error)
}

/// Reads a 2xx answer to N-L1 as a Payment object; any other status is an error per
/// [`error::status_error`].
pub(crate) fn lookup_payment(response: &Response) -> Result<wire::Payment, Error> {
    if let Some(error) = error::status_error(response, Operation::Lookup) {
        return Err(error);
    }
    response.json::<wire::Payment>()
}

/// Reconciliation from the outcome of N-L1 (§2.6, §0.5).
pub(crate) fn reconcile_answer(
    answer: Result<wire::Payment, Error>,
    query: &RefundQuery,
) -> Result<Lookup, Error> {
    match answer {
        Ok(payment) => Ok(convert::lookup_from_payment(&payment, query)),
        // A 404 for a payment we are refunding proves nothing: it may be a gateway's answer
        // for an unknown route (§0.5).
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Lookup::Inconclusive(format!(
            "N-L1 answered 404 for a payment being refunded: {}",
            e.message()
        ))),
        // A 200 that is not a Payment object is a doubtful answer, not a failed lookup.
        Err(e) if e.kind() == ErrorKind::Decode && e.http_status().is_some_and(|s| s < 300) => {
            Ok(Lookup::Inconclusive(e.message().to_owned()))
        }
        Err(e) => Err(e),
    }
}

/// A decoded 2xx answer to N-L1, with the response it came from (for error decoration).
struct LookupAnswer {
    response: Response,
    payment: wire::Payment,
}

impl RefundProvider for Client {
    fn provider(&self) -> ProviderId {
        ProviderId::PAYNEXT
    }

    /// Full refunds only; no idempotency key; no lookup by reference (contract §2.4, §2.6).
    /// Every call is one HTTP request bounded by the client's [`timeout`](ClientBuilder::timeout).
    fn capabilities(&self) -> Capabilities {
        Capabilities::none().with_call_timeout(self.http.timeout())
    }

    /// N-R1: refunds the whole payment. The request's reason and metadata are not sent (N-R1
    /// has no body), nor is its reference (PayNext has no field for it).
    ///
    /// # Errors
    /// - `Unsupported` for a partial refund, and `InvalidInput` for a payment id that cannot be
    ///   a path segment: nothing is sent;
    /// - `InvalidInput` (400, 409, 422: invalid, "cannot be refunded", "already refunded"),
    ///   `Auth` (401/403), `NotFound` (404), `RateLimited` (429): not applied;
    /// - `OutcomeUnknown` for any 5xx or other unexpected status, a failure after the request
    ///   may have been sent, or a 2xx that cannot be read: reconcile with
    ///   [`find_refund`](RefundProvider::find_refund) before anything else;
    /// - `Transport`/`Timeout` that never reached PayNext (safe to re-send).
    ///
    /// Errors carry the provider, payment id and reference.
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
        Box::pin(async move {
            self.send_refund(request).await.map_err(|e| {
                e.with_provider(ProviderId::PAYNEXT)
                    .with_payment_id(request.payment_id().clone())
                    .with_reference(request.reference().clone())
            })
        })
    }

    /// Reconciles through N-L1 (contract §2.6, §0.5): `Found` when the payment has a refund
    /// (`refund` non-null or `refunded_amount > 0`), with its outcome; `Absent` only for a 200
    /// Payment whose `id` is the payment id and that shows no refund; `Inconclusive` for a 404,
    /// a 200 that is not such a Payment, or another payment's answer.
    ///
    /// # Errors
    /// `Unsupported` for a partial-refund query (nothing is sent); `InvalidInput` for an id
    /// that cannot be a path segment; `Auth`, `RateLimited`, `Provider` (5xx), `Transport`,
    /// `Timeout` and other failures of the lookup itself. Errors carry the provider, payment id
    /// and reference.
    fn find_refund<'a>(&'a self, query: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
        Box::pin(async move {
            self.reconcile(query).await.map_err(|e| {
                e.with_provider(ProviderId::PAYNEXT)
                    .with_payment_id(query.payment_id.clone())
                    .with_reference(query.reference.clone())
            })
        })
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url())
            .field("http", &self.http)
            .finish()
    }
}

impl ProviderClient for Client {
    const DEFAULT_BASE_URL: &'static str = PRODUCTION_BASE_URL;

    fn from_settings(settings: ClientSettings) -> Result<Self, Error> {
        let (base_url, http) = settings.connect(ProviderId::PAYNEXT, USER_AGENT, Auth::bearer)?;
        Ok(Client { http, base_url })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use refund_core::http::reqwest;

    use super::*;

    #[test]
    fn builder_defaults_and_urls() {
        let client = Client::builder("sk_live_SECRET").build().unwrap();
        assert_eq!(client.base_url(), "https://api.paynext.com");
        assert_eq!(client.provider(), ProviderId::PAYNEXT);
        let caps = client.capabilities();
        assert!(!caps.partial_refunds);
        assert!(!caps.multiple_partial_refunds);
        assert_eq!(caps.idempotency_window, None);
        assert!(!caps.lookup_by_reference);
        assert!(!caps.snapshot_for_partial);

        let sandbox = Client::builder("k")
            .base_url(crate::SANDBOX_BASE_URL)
            .build()
            .unwrap();
        assert_eq!(sandbox.base_url(), "https://sandbox-api.paynext.com");
        let local = Client::builder("k")
            .base_url("http://127.0.0.1:8080/")
            .build()
            .unwrap();
        assert_eq!(local.base_url(), "http://127.0.0.1:8080");

        // The shared builder's checks are tested in refund-core; errors name PayNext.
        let err = Client::builder("  ").build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.provider(), Some(&ProviderId::PAYNEXT));
    }

    #[test]
    fn debug_never_prints_the_key() {
        let builder = Client::builder("sk_live_TOPSECRET")
            .http_client(reqwest::Client::new())
            .timeout(Duration::from_secs(5));
        let debug = format!("{builder:?}");
        assert!(!debug.contains("TOPSECRET"), "{debug}");
        assert!(debug.contains("custom_http_client: true"), "{debug}");
        let client = builder.build().unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("TOPSECRET"), "{debug}");
        assert!(debug.contains("api.paynext.com"), "{debug}");
    }
}
