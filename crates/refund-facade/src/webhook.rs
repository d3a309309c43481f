//! One webhook entry point for every provider: verify, parse, de-duplicate.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use refund_core::http::HeaderMap;
use refund_core::webhook::{
    Deduplicator, MemoryDeduplicator, Seen, WebhookOutcome, WebhookVerifier,
};
use refund_core::{Error, ErrorKind, ProviderId, Result};

/// The environment variables [`WebhookReceiverBuilder::verifiers_from_vars`] reads.
pub const WEBHOOK_ENV_VARS: [&str; 5] = [
    "PLEXY_WEBHOOK_TOKEN",
    "PLEXY_WEBHOOK_SIGNATURE_KEY",
    "PAYNEXT_WEBHOOK_SECRET",
    "PAYABLI_WEBHOOK_HEADER",
    "PAYABLI_WEBHOOK_SECRET",
];

/// A verified delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The refund event, or why it was ignored.
    pub outcome: WebhookOutcome,
    /// Whether this delivery id was seen before (a redelivery): acknowledge it, act on it once.
    pub duplicate: bool,
}

/// Receives webhook deliveries for several providers: dispatches by provider to its
/// [`WebhookVerifier`], then drops repeats with a [`Deduplicator`].
///
/// Mounting it in axum (any framework that gives the raw body bytes and the headers works the
/// same way):
///
/// ```text
/// async fn hook(State(rx): State<Arc<WebhookReceiver>>, Path(p): Path<String>,
///               headers: HeaderMap, body: Bytes) -> StatusCode {
///     let Ok(provider) = ProviderId::new(p) else { return StatusCode::NOT_FOUND };
///     match rx.receive(&provider, &headers, &body, None).await {
///         Ok(d) => { if !d.duplicate { /* act on d.outcome */ } StatusCode::OK }
///         Err(e) => StatusCode::from_u16(WebhookReceiver::status_for(&e)).unwrap_or(StatusCode::BAD_REQUEST),
///     }
/// }
/// ```
///
/// The same handler is compiled and run in `tests/tests/webhooks.rs` of the repository.
#[derive(Clone)]
pub struct WebhookReceiver {
    verifiers: BTreeMap<ProviderId, Arc<dyn WebhookVerifier>>,
    dedup: Arc<dyn Deduplicator>,
}

impl fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("providers", &self.verifiers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Builder of a [`WebhookReceiver`].
#[must_use]
pub struct WebhookReceiverBuilder {
    verifiers: Vec<Arc<dyn WebhookVerifier>>,
    dedup: Arc<dyn Deduplicator>,
}

impl fmt::Debug for WebhookReceiverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookReceiverBuilder")
            .field("verifiers", &self.verifiers)
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver {
    /// A builder with no verifiers and an in-memory de-duplicator ([`MemoryDeduplicator::default`]).
    pub fn builder() -> WebhookReceiverBuilder {
        WebhookReceiverBuilder {
            verifiers: Vec::new(),
            dedup: Arc::new(MemoryDeduplicator::default()),
        }
    }

    /// The providers this receiver verifies.
    pub fn providers(&self) -> impl Iterator<Item = &ProviderId> {
        self.verifiers.keys()
    }

    /// Verifies and parses one delivery for `provider`, on the raw body bytes as received.
    ///
    /// # Errors
    /// `NotFound` for a provider without a verifier; the verifier's `WebhookAuth`,
    /// `WebhookStale` or `WebhookMalformed`; the de-duplicator's failure. See
    /// [`status_for`](Self::status_for) for the HTTP answer.
    pub async fn receive(
        &self,
        provider: &ProviderId,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<Delivery> {
        let verifier = self.verifiers.get(provider).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("no webhook verifier for provider {provider}"),
            )
        })?;
        let outcome = verifier.verify(headers, body, peer)?;
        let duplicate = match outcome.delivery_id() {
            Some(id) => self.dedup.check(provider, id).await? == Seen::Duplicate,
            None => false,
        };
        tracing::info!(
            provider = %provider,
            event_type = outcome.event_type(),
            delivery_id = outcome.delivery_id(),
            duplicate,
            "webhook delivery verified"
        );
        Ok(Delivery { outcome, duplicate })
    }

    /// The HTTP status to answer for an error of [`receive`](Self::receive): 401 for failed
    /// authentication or a stale signature, 400 for a body that cannot be read, 404 for an
    /// unknown provider, 500 otherwise (the provider will retry).
    pub fn status_for(error: &Error) -> u16 {
        match error.kind() {
            ErrorKind::WebhookAuth | ErrorKind::WebhookStale => 401,
            ErrorKind::WebhookMalformed => 400,
            ErrorKind::NotFound => 404,
            _ => 500,
        }
    }
}

impl WebhookReceiverBuilder {
    /// Registers a verifier for its provider. Default: none.
    pub fn verifier(mut self, verifier: Arc<dyn WebhookVerifier>) -> Self {
        self.verifiers.push(verifier);
        self
    }

    /// The de-duplicator. Default: an in-memory one (10,000 ids for 48 h).
    pub fn deduplicator(mut self, dedup: Arc<dyn Deduplicator>) -> Self {
        self.dedup = dedup;
        self
    }

    /// Registers the verifiers whose secrets `vars` gives: `PLEXY_WEBHOOK_TOKEN` (Plexy's
    /// bearer-token webhooks) or `PLEXY_WEBHOOK_SIGNATURE_KEY` (the merchant's private key `pr_…`,
    /// for Plexy's legacy `x-signature` callbacks, see
    /// `refund_plexy::PlexyWebhookVerifier::legacy_signature`), `PAYNEXT_WEBHOOK_SECRET`, and
    /// `PAYABLI_WEBHOOK_HEADER` + `PAYABLI_WEBHOOK_SECRET` (an absent or empty variable
    /// registers nothing).
    ///
    /// # Errors
    /// `Config` when a secret is unusable (a PayNext secret that is not `whsec_<base64>`, a bad
    /// header name, a Plexy key that is only `pr_`), only one of the two Payabli variables is
    /// set, or both Plexy variables are (a receiver has one verifier per provider).
    #[allow(
        unused_mut,
        unused_variables,
        reason = "which statements exist depends on the enabled features"
    )]
    pub fn verifiers_from_vars(self, vars: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| vars(name).filter(|v| !v.is_empty());
        let config = |var: &str, e: Error| Error::config(format!("{var}: {}", e.message()));
        let mut builder = self;
        #[cfg(feature = "plexy")]
        match (
            get("PLEXY_WEBHOOK_TOKEN"),
            get("PLEXY_WEBHOOK_SIGNATURE_KEY"),
        ) {
            (Some(token), None) => {
                let v = refund_plexy::PlexyWebhookVerifier::new(token)
                    .map_err(|e| config("PLEXY_WEBHOOK_TOKEN", e))?;
                builder = builder.verifier(Arc::new(v));
            }
            (None, Some(key)) => {
                let v = refund_plexy::PlexyWebhookVerifier::legacy_signature(key)
                    .map_err(|e| config("PLEXY_WEBHOOK_SIGNATURE_KEY", e))?;
                builder = builder.verifier(Arc::new(v));
            }
            (None, None) => {}
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "set PLEXY_WEBHOOK_TOKEN or PLEXY_WEBHOOK_SIGNATURE_KEY, not both",
                ));
            }
        }
        #[cfg(feature = "paynext")]
        if let Some(secret) = get("PAYNEXT_WEBHOOK_SECRET") {
            let v = refund_paynext::PayNextWebhookVerifier::new(secret)
                .map_err(|e| config("PAYNEXT_WEBHOOK_SECRET", e))?;
            builder = builder.verifier(Arc::new(v));
        }
        #[cfg(feature = "payabli")]
        match (get("PAYABLI_WEBHOOK_HEADER"), get("PAYABLI_WEBHOOK_SECRET")) {
            (Some(header), Some(secret)) => {
                let v = refund_payabli::PayabliWebhookVerifier::new(&header, secret)
                    .map_err(|e| config("PAYABLI_WEBHOOK_HEADER", e))?;
                builder = builder.verifier(Arc::new(v));
            }
            (None, None) => {}
            _ => {
                return Err(Error::config(
                    "PAYABLI_WEBHOOK_HEADER and PAYABLI_WEBHOOK_SECRET must be set together",
                ));
            }
        }
        Ok(builder)
    }

    /// Builds the receiver.
    ///
    /// # Errors
    /// `Config` when two verifiers are for the same provider.
    pub fn build(self) -> Result<WebhookReceiver> {
        let mut verifiers = BTreeMap::new();
        for v in self.verifiers {
            let id = v.provider();
            if verifiers.insert(id.clone(), v).is_some() {
                return Err(Error::config(format!(
                    "two webhook verifiers for provider {id}"
                )));
            }
        }
        Ok(WebhookReceiver {
            verifiers,
            dedup: self.dedup,
        })
    }
}

#[cfg(all(test, feature = "plexy"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use refund_core::webhook::header_map;

    use super::*;

    /// A flat legacy callback and its `x-signature` under the private key `pr_test_SECRET_key`
    /// (HMAC-SHA256 with key `test_SECRET_key` of `7d1f0c3a-refund-110.5KZTrf-7f3c2btrue`,
    /// computed with Python's `hmac` module; see refund-plexy's `tests/webhook_legacy.rs`).
    const LEGACY_BODY: &str = r#"{"id":"7d1f0c3a-refund-1","amount":10.50,"currency":"KZT","orderReference":"rf-7f3c2b","success":true,"type":"refund","parentTransactionId":"pay-1"}"#;
    const LEGACY_SIG: &str = "12a12da215bb3e13a9cef4701e02b8a256978c7de018325b0ce9b16756fb0ab8";

    fn from(vars: &[(&str, &str)]) -> Result<WebhookReceiver> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WebhookReceiver::builder()
            .verifiers_from_vars(move |name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })?
            .build()
    }

    #[tokio::test]
    async fn plexy_legacy_signature_key_from_vars() {
        let rx = from(&[("PLEXY_WEBHOOK_SIGNATURE_KEY", "pr_test_SECRET_key")]).unwrap();
        let headers = header_map([("x-signature", LEGACY_SIG)]).unwrap();
        let first = rx
            .receive(&ProviderId::PLEXY, &headers, LEGACY_BODY.as_bytes(), None)
            .await
            .unwrap();
        let event = first.outcome.event().unwrap();
        assert_eq!(event.delivery_id, "7d1f0c3a-refund-1|true|10.5");
        assert!(!first.duplicate);
        let again = rx
            .receive(&ProviderId::PLEXY, &headers, LEGACY_BODY.as_bytes(), None)
            .await
            .unwrap();
        assert!(again.duplicate);
        // The bearer token is not accepted by a legacy receiver.
        let bearer = header_map([("authorization", "Bearer pr_test_SECRET_key")]).unwrap();
        let e = rx
            .receive(&ProviderId::PLEXY, &bearer, LEGACY_BODY.as_bytes(), None)
            .await
            .unwrap_err();
        assert_eq!(WebhookReceiver::status_for(&e), 401);

        // Still the token scheme with PLEXY_WEBHOOK_TOKEN.
        let rx = from(&[("PLEXY_WEBHOOK_TOKEN", "tok")]).unwrap();
        let e = rx
            .receive(&ProviderId::PLEXY, &headers, LEGACY_BODY.as_bytes(), None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WebhookAuth);

        // One verifier per provider, and a usable key.
        let e = from(&[
            ("PLEXY_WEBHOOK_TOKEN", "tok"),
            ("PLEXY_WEBHOOK_SIGNATURE_KEY", "pr_k"),
        ])
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = from(&[("PLEXY_WEBHOOK_SIGNATURE_KEY", "pr_")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("PLEXY_WEBHOOK_SIGNATURE_KEY"), "{e}");
        assert!(!format!("{e} {e:?}").contains("SECRET"));
        assert!(WEBHOOK_ENV_VARS.contains(&"PLEXY_WEBHOOK_SIGNATURE_KEY"));
    }
}
