//! [`Client`]: Plexy refunds (P-R1, P-R2) and lookups (P-L1, P-L2) behind the
//! [`RefundProvider`] trait, plus Plexy's own lookups as native methods.

use std::fmt;

use refund_core::http::{
    Auth, BaseUrl, ClientSettings, HttpClient, ProviderClient, Response, refund_outcome_error,
};
use refund_core::retry::Operation;
use refund_core::{
    BoxFuture, Capabilities, Error, ErrorKind, Lookup, ProviderId, Refund, RefundProvider,
    RefundQuery, RefundReference, RefundRequest, Secret,
};

use crate::PRODUCTION_BASE_URL;
use crate::convert;
use crate::error;
use crate::types::Transaction;

/// The header that carries the raw API key, with no `Bearer` prefix (§1.2).
const AUTH_HEADER: &str = "Authorization";

const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// A Plexy client: cheap to clone, `Send + Sync`, safe to share across tasks.
///
/// Each call sends exactly one request and never retries (the `refund-facade` crate owns
/// retries and reconciliation). The API key is sent as `Authorization: <key>` and never appears
/// in `Debug`, errors or logs.
#[derive(Clone)]
pub struct Client {
    http: HttpClient,
    base: BaseUrl,
}

const _: () = {
    const fn assert_bounds<T: Send + Sync + Clone + 'static>() {}
    assert_bounds::<Client>();
    const fn assert_error<T: Send + Sync + 'static>() {}
    assert_error::<Error>();
};

impl Client {
    /// Starts building a client with the Plexy API key (sent as `Authorization: <key>`).
    pub fn builder(api_key: impl Into<Secret>) -> ClientBuilder {
        ClientBuilder::new(api_key)
    }

    /// The base URL requests go to (`https://api.plexypay.com/v1` by default).
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// Reads one transaction, a payment or a refund (P-L1, `GET /transactions/{id}`): its kind,
    /// normalized status, amounts, references and what it says about
    /// [`refundability`](Transaction::refundability). Safe to repeat; this method does not retry
    /// by itself.
    ///
    /// The id is any Plexy transaction id, percent-encoded into one path segment (§0.2).
    ///
    /// # Errors
    /// - [`InvalidInput`](ErrorKind::InvalidInput): an id that cannot be a path segment (empty,
    ///   `.`, `..`; nothing is sent), or HTTP 400/422;
    /// - [`NotFound`](ErrorKind::NotFound) (404), [`Auth`](ErrorKind::Auth) (401, 403),
    ///   [`RateLimited`](ErrorKind::RateLimited) (429, with `Retry-After`);
    /// - [`Provider`](ErrorKind::Provider): a 5xx or another unexpected status;
    /// - [`Decode`](ErrorKind::Decode): a body that is not a transaction, an unknown currency,
    ///   an amount that cannot be converted, or a body over the size cap;
    /// - [`Transport`](ErrorKind::Transport), [`Timeout`](ErrorKind::Timeout).
    pub async fn transaction(&self, id: &str) -> Result<Transaction, Error> {
        let request = convert::transaction_request(&self.base, id, "transaction")
            .map_err(|e| e.with_provider(ProviderId::PLEXY))?;
        let response = self.send_lookup(request).await?;
        convert::transaction(&response)
    }

    /// Reads the transactions that carry `reference` as their `orderReference` (P-L2,
    /// `GET /transactions/by-order-reference/{reference}`), whichever shape Plexy answers in
    /// (one object, a JSON array, `{"data":[…]}`). Safe to repeat; no retries.
    ///
    /// This is the raw lookup: every transaction is returned, whatever payment it belongs to,
    /// and any 404 is `NotFound`. [`find_refund`](RefundProvider::find_refund) applies the match
    /// rule and the §0.5 rule of what proves absence on top of it.
    ///
    /// # Errors
    /// As for [`transaction`](Self::transaction); a 404 of any body is
    /// [`NotFound`](ErrorKind::NotFound).
    pub async fn find_by_order_reference(
        &self,
        reference: &RefundReference,
    ) -> Result<Vec<Transaction>, Error> {
        let request =
            convert::by_reference_request(&self.base, reference, "find_by_order_reference")
                .map_err(|e| {
                    e.with_provider(ProviderId::PLEXY)
                        .with_reference(reference.clone())
                })?;
        let response = self
            .send_lookup(request)
            .await
            .map_err(|e| e.with_reference(reference.clone()))?;
        convert::transactions(&response).map_err(|e| e.with_reference(reference.clone()))
    }

    /// Sends a GET. A body over the size cap with a non-2xx status is mapped by its status
    /// (which decides the outcome, §1.4), not reported as a decode error.
    async fn send_lookup(&self, request: refund_core::http::Request) -> Result<Response, Error> {
        self.http
            .send(request)
            .await
            .map_err(|e| by_status(e, Operation::Lookup))
    }
}

/// An error of [`HttpClient::send`] that carries a non-2xx status (the body was over the size
/// cap) takes the kind of that status; anything else is returned as is.
fn by_status(e: Error, operation: Operation) -> Error {
    match e.http_status() {
        Some(status) if e.kind() == ErrorKind::Decode && !(200..300).contains(&status) => {
            let kind = error::kind_for_status(status, operation);
            e.with_kind(kind)
        }
        _ => e,
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
        ProviderId::PLEXY
    }

    /// Partial refunds, several partial refunds per payment, and lookup by the caller's
    /// reference (P-L2). No idempotency window: Plexy documents no idempotency mechanism
    /// (§1.6), so a re-sent POST can create a second refund. No snapshot is needed. Every call
    /// is one HTTP request bounded by the client's [`timeout`](ClientBuilder::timeout).
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
            .with_multiple_partial_refunds()
            .with_lookup_by_reference()
            .with_call_timeout(self.http.timeout())
    }

    /// Sends one refund (P-R1 for a full refund, P-R2 for a partial one) and never retries.
    ///
    /// `POST /payments/{payment_id}/refund` with `Authorization: <key>`,
    /// `Content-Type: application/json` and the body `{"orderReference":"<reference>"}`
    /// (full) or `{"amount":10.50,"minorAmount":1050,"orderReference":"<reference>"}`
    /// (partial), plus `"description":"<reason>"` when the request has a reason.
    ///
    /// The outcome follows §1.4: `responseCode` `09` → Pending; `success: true` → Succeeded;
    /// `success: false` → Declined (an `Ok`, with the normalized reason and the raw code);
    /// without `success`, `00` → Succeeded and another code → Declined. The refunded amount and
    /// remaining balance are filled for partial refunds only: Plexy's answer names no currency
    /// and a full refund's currency is not known to the client.
    ///
    /// Errors: `InvalidInput` before sending (bad payment id) or on HTTP 400/422; `Auth` on
    /// 401/403; `NotFound` on 404; `RateLimited` on 429; `OutcomeUnknown` on any 5xx or other
    /// unexpected status, a timeout or broken connection after sending, or a 2xx answer that
    /// cannot be read; `Transport`/`Timeout` only when the request provably never left.
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> BoxFuture<'a, Result<Refund, Error>> {
        Box::pin(async move {
            let annotate = |e: Error| {
                e.with_provider(ProviderId::PLEXY)
                    .with_payment_id(request.payment_id().clone())
                    .with_reference(request.reference().clone())
            };
            let http = convert::refund_request(&self.base, request).map_err(annotate)?;
            let response = self.http.send(http).await.map_err(|e| {
                let e = by_status(e, Operation::Refund);
                annotate(refund_outcome_error(e))
            })?;
            convert::refund_outcome(&response, request).map_err(annotate)
        })
    }

    /// Reconciles through P-L2 with the same reference (§1.6, §0.5): a refund transaction of
    /// this payment is `Found` with its outcome (`refunded`/`charged` → Succeeded;
    /// `rejected`/`failed`/`cancelled` → Declined; anything else → Pending); a 404 carrying
    /// Plexy's JSON error body with `code` 4 (integer or `"4"`) is `Absent`. Any other 404 is
    /// `Inconclusive`: `{"message":"Not Found"}` without a `code` is what Plexy's web framework
    /// (or a gateway) answers for a route it does not have, so it proves nothing about the
    /// reference; so are an empty, HTML or foreign body. A 2xx answer without a matching
    /// transaction, or an answer that cannot be read, is `Inconclusive` too. Transport, auth,
    /// rate-limit and 5xx failures are errors.
    fn find_refund<'a>(&'a self, query: &'a RefundQuery) -> BoxFuture<'a, Result<Lookup, Error>> {
        Box::pin(async move {
            let annotate = |e: Error| {
                e.with_provider(ProviderId::PLEXY)
                    .with_payment_id(query.payment_id.clone())
                    .with_reference(query.reference.clone())
            };
            let request =
                convert::by_reference_request(&self.base, &query.reference, "find_refund")
                    .map_err(annotate)?;
            let response = match self.http.send(request).await {
                Ok(response) => response,
                Err(e) if e.kind() == ErrorKind::Decode => {
                    // The answer was larger than the size cap: its body cannot be read, so it
                    // proves nothing, whatever its status.
                    return match e.http_status() {
                        Some(status) if status == 404 || (200..300).contains(&status) => {
                            Ok(Lookup::Inconclusive(format!(
                                "http {status} with an unreadable body: {}",
                                e.message()
                            )))
                        }
                        _ => Err(annotate(by_status(e, Operation::Lookup))),
                    };
                }
                Err(e) => return Err(annotate(e)),
            };
            convert::lookup(&response, query).map_err(annotate)
        })
    }
}

/// Builds a [`Client`]; see [`Client::builder`] and the methods of
/// [`refund_core::http::ClientBuilder`].
pub type ClientBuilder = refund_core::http::ClientBuilder<Client>;

impl ProviderClient for Client {
    const DEFAULT_BASE_URL: &'static str = PRODUCTION_BASE_URL;

    fn from_settings(settings: ClientSettings) -> Result<Self, Error> {
        let (base, http) = settings.connect(ProviderId::PLEXY, USER_AGENT, |key| {
            Auth::header(AUTH_HEADER, key)
        })?;
        Ok(Client { http, base })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn builder_defaults_and_urls() {
        let client = Client::builder("plexy_SECRET_1").build().unwrap();
        assert_eq!(client.base_url(), "https://api.plexypay.com/v1");
        assert!(!format!("{client:?}").contains("plexy_SECRET_1"));
        let sandbox = Client::builder("k")
            .base_url(crate::SANDBOX_BASE_URL)
            .build()
            .unwrap();
        assert_eq!(sandbox.base_url(), "https://test-api.plexypay.com/v1");
        let local = Client::builder("k")
            .base_url("http://127.0.0.1:8080/v1/")
            .build()
            .unwrap();
        assert_eq!(local.base_url(), "http://127.0.0.1:8080/v1");

        // The shared builder's checks are tested in refund-core; errors name Plexy.
        let err = Client::builder("k")
            .base_url("http://api.plexypay.com/v1")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.provider(), Some(&ProviderId::PLEXY));
    }

    #[test]
    fn capabilities_of_section_1_6() {
        let client = Client::builder("k").build().unwrap();
        assert_eq!(client.provider(), ProviderId::PLEXY);
        let caps = client.capabilities();
        assert!(caps.partial_refunds);
        assert!(caps.multiple_partial_refunds);
        assert!(caps.lookup_by_reference);
        assert_eq!(caps.idempotency_window, None);
        assert!(!caps.snapshot_for_partial);
        assert_eq!(caps.call_timeout, Some(Duration::from_secs(60)));
        let quick = Client::builder("k")
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        assert_eq!(
            quick.capabilities().call_timeout,
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn oversized_answers_take_the_kind_of_their_status() {
        let big = |status: u16| {
            Error::decode("response larger than 1048576 bytes").with_http_status(status)
        };
        for (status, refund, lookup) in [
            (200, ErrorKind::Decode, ErrorKind::Decode),
            (400, ErrorKind::InvalidInput, ErrorKind::InvalidInput),
            (401, ErrorKind::Auth, ErrorKind::Auth),
            (404, ErrorKind::NotFound, ErrorKind::NotFound),
            (429, ErrorKind::RateLimited, ErrorKind::RateLimited),
            (500, ErrorKind::OutcomeUnknown, ErrorKind::Provider),
        ] {
            assert_eq!(by_status(big(status), Operation::Refund).kind(), refund);
            assert_eq!(by_status(big(status), Operation::Lookup).kind(), lookup);
        }
        let transport = Error::new(ErrorKind::Transport, "x");
        assert_eq!(
            by_status(transport, Operation::Refund).kind(),
            ErrorKind::Transport
        );
        // A 2xx over the cap on a refund ends as OutcomeUnknown.
        assert_eq!(
            refund_outcome_error(by_status(big(200), Operation::Refund)).kind(),
            ErrorKind::OutcomeUnknown
        );
    }
}
