//! [`ClientBuilder`]: the one builder behind every provider crate's `Client::builder`.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::client::{Auth, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpClient};
use super::endpoint::BaseUrl;
use crate::error::{Error, Result};
use crate::id::ProviderId;
use crate::secret::Secret;

/// A provider client that [`ClientBuilder`] can build. Implemented by each provider crate's
/// `Client`; an application has no reason to implement it.
pub trait ProviderClient: Sized {
    /// The base URL used when [`ClientBuilder::base_url`] is not called.
    const DEFAULT_BASE_URL: &'static str;

    /// Builds the client from the settings, which [`ClientSettings::connect`] checks.
    ///
    /// # Errors
    /// [`Config`](crate::ErrorKind::Config) for settings that cannot make a client.
    fn from_settings(settings: ClientSettings) -> Result<Self>;
}

/// Builds a provider `Client` (`refund_plexy::ClientBuilder` and the others are this type).
/// Start one with the provider crate's `Client::builder(api_key)`. Errors are reported by
/// [`build`](Self::build); `Debug` never shows the key.
#[must_use]
pub struct ClientBuilder<C> {
    settings: ClientSettings,
    client: PhantomData<fn() -> C>,
}

/// What a [`ClientBuilder`] collected, handed to [`ProviderClient::from_settings`].
pub struct ClientSettings {
    api_key: Secret,
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    http_client: Option<reqwest::Client>,
}

impl<C: ProviderClient> ClientBuilder<C> {
    /// A builder with `api_key` and the defaults: the provider's production base URL, a 60 s
    /// request timeout, a 10 s connect timeout and a `reqwest::Client` of our own.
    pub fn new(api_key: impl Into<Secret>) -> Self {
        ClientBuilder {
            settings: ClientSettings {
                api_key: api_key.into(),
                base_url: C::DEFAULT_BASE_URL.to_owned(),
                timeout: DEFAULT_TIMEOUT,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                http_client: None,
            },
            client: PhantomData,
        }
    }

    /// Sets the base URL, such as the provider crate's `SANDBOX_BASE_URL` or a local test
    /// server (`http://127.0.0.1:8080`). Default: its `PRODUCTION_BASE_URL`. Checked by
    /// [`build`](Self::build): https only, plain http only for a loopback host.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.settings.base_url = url.into();
        self
    }

    /// Sets the whole-request timeout, from sending to the last body byte. Default 60 s. Every
    /// call of the client is one request, so this also bounds each call
    /// ([`Capabilities::call_timeout`](crate::Capabilities::call_timeout)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Sets the connect timeout. Default 10 s. Ignored when a client is supplied with
    /// [`http_client`](Self::http_client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Uses this `reqwest::Client` (reqwest 0.13) instead of building one, to share a
    /// connection pool or configure proxies. Build it with
    /// `redirect(reqwest::redirect::Policy::none())`: a redirected refund POST would become a
    /// GET, and a redirect must not carry the key to another host. Default: a client of our
    /// own.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.settings.http_client = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Config`](crate::ErrorKind::Config), naming the provider, when the base URL is invalid
    /// (not https, and not http on a loopback host), the API key is empty or cannot be sent in
    /// a header, a timeout is zero, or the HTTP client cannot be built. Messages never show
    /// the key.
    pub fn build(self) -> Result<C> {
        C::from_settings(self.settings)
    }
}

impl<C> fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("ClientBuilder")
            .field("api_key", &s.api_key)
            .field("base_url", &s.base_url)
            .field("timeout", &s.timeout)
            .field("connect_timeout", &s.connect_timeout)
            .field("custom_http_client", &s.http_client.is_some())
            .finish()
    }
}

impl ClientSettings {
    /// Checks the settings and makes the base URL and the [`HttpClient`] of `provider`,
    /// sending `User-Agent: <user_agent>` and the key as `auth` makes it. Errors carry
    /// `provider`.
    ///
    /// # Errors
    /// As for [`ClientBuilder::build`].
    pub fn connect(
        self,
        provider: ProviderId,
        user_agent: &str,
        auth: impl FnOnce(Secret) -> Auth,
    ) -> Result<(BaseUrl, HttpClient)> {
        let with_provider = |e: Error| e.with_provider(provider.clone());
        let base = BaseUrl::parse(&self.base_url).map_err(with_provider)?;
        let mut http = HttpClient::builder(provider.clone(), user_agent)
            .auth(auth(self.api_key))
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout);
        if let Some(client) = self.http_client {
            http = http.client(client);
        }
        let http = http.build().map_err(with_provider)?;
        Ok((base, http))
    }
}

impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSettings")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// A provider client of the simplest kind, to test the shared builder once for all three.
    #[derive(Debug)]
    struct Probe {
        base: BaseUrl,
        http: HttpClient,
    }

    impl ProviderClient for Probe {
        const DEFAULT_BASE_URL: &'static str = "https://api.example.com/v1";

        fn from_settings(settings: ClientSettings) -> Result<Self> {
            let (base, http) =
                settings.connect(ProviderId::PLEXY, "refund-probe/0.0.0", |key| {
                    Auth::header("Authorization", key)
                })?;
            Ok(Probe { base, http })
        }
    }

    #[test]
    fn defaults_and_settings_reach_the_client() {
        let probe = ClientBuilder::<Probe>::new("k").build().unwrap();
        assert_eq!(probe.base.as_str(), "https://api.example.com/v1");
        assert_eq!(probe.http.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(probe.http.connect_timeout(), Some(DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(probe.http.provider(), &ProviderId::PLEXY);

        let probe = ClientBuilder::<Probe>::new("k")
            .base_url("http://127.0.0.1:8080/v1/")
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        assert_eq!(probe.base.as_str(), "http://127.0.0.1:8080/v1");
        assert_eq!(probe.http.timeout(), Duration::from_secs(5));
        assert_eq!(probe.http.connect_timeout(), Some(Duration::from_secs(2)));

        // A caller's reqwest client brings its own connect timeout.
        let probe = ClientBuilder::<Probe>::new("k")
            .http_client(reqwest::Client::new())
            .build()
            .unwrap();
        assert_eq!(probe.http.connect_timeout(), None);
    }

    #[test]
    fn bad_settings_are_config_errors_naming_the_provider_never_the_key() {
        let builder = || ClientBuilder::<Probe>::new("k");
        for (builder, needle) in [
            (builder().base_url("http://api.example.com/v1"), "https"),
            (builder().base_url("not a url"), "URL"),
            (builder().base_url("https://user:pw@api.example.com/v1"), ""),
            (ClientBuilder::new(""), "empty"),
            (ClientBuilder::new("  "), "empty"),
            (ClientBuilder::new("key\nSECRET"), "header"),
            (builder().timeout(Duration::ZERO), "timeouts"),
            (builder().connect_timeout(Duration::ZERO), "timeouts"),
        ] {
            let err = builder.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            assert_eq!(err.provider(), Some(&ProviderId::PLEXY), "{err}");
            assert!(err.to_string().contains(needle), "{err}");
            assert!(!err.to_string().contains("SECRET"), "{err}");
            assert!(!format!("{err:?}").contains("SECRET"), "{err:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let builder = ClientBuilder::<Probe>::new("probe_SECRET_1");
        let shown = format!("{builder:?}");
        assert!(shown.starts_with("ClientBuilder {"), "{shown}");
        assert!(!shown.contains("probe_SECRET_1"), "{shown}");
        let probe = builder.build().unwrap();
        assert!(!format!("{probe:?}").contains("probe_SECRET_1"));
    }
}
