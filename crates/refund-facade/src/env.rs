//! Building providers from environment variables.

use std::time::Duration;

use refund_core::Result;

use crate::router::RouterBuilder;

/// The environment variables [`RouterBuilder::providers_from_env`] reads.
///
/// A provider whose key variable is absent or empty is not registered; a base URL is optional
/// and defaults to the provider's production URL (plain http only for loopback hosts).
pub const ENV_VARS: [(&str, &str, &str); 3] = [
    ("plexy", "PLEXY_API_KEY", "PLEXY_BASE_URL"),
    ("paynext", "PAYNEXT_API_KEY", "PAYNEXT_BASE_URL"),
    ("payabli", "PAYABLI_API_TOKEN", "PAYABLI_BASE_URL"),
];

/// A local emulator's Payabli idempotency window, in milliseconds (`refund-sandbox` started with
/// `PayabliConfig::idempotency_window`): read by
/// [`RouterBuilder::providers_from_env`] and accepted only with a loopback `PAYABLI_BASE_URL`
/// (see `refund_payabli::Client::with_sandbox_idempotency_window`). Unset: Payabli's 2 minutes.
pub const PAYABLI_SANDBOX_WINDOW_VAR: &str = "PAYABLI_SANDBOX_IDEMPOTENCY_WINDOW_MS";

/// Settings applied to every client built from the environment.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ClientOptions {
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
}

impl ClientOptions {
    /// The whole-request timeout of each HTTP call. Default: each client's own (60 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The connect timeout. Default: each client's own (10 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
}

#[cfg(any(feature = "plexy", feature = "paynext", feature = "payabli"))]
macro_rules! register {
    ($builder:ident, $krate:ident, $vars:ident, $key_var:literal, $url_var:literal, $options:ident) => {
        register!($builder, $krate, $vars, $key_var, $url_var, $options, Ok)
    };
    ($builder:ident, $krate:ident, $vars:ident, $key_var:literal, $url_var:literal, $options:ident, $finish:expr) => {{
        if let Some(key) = $vars($key_var).filter(|k| !k.is_empty()) {
            let mut client = $krate::Client::builder(key);
            if let Some(url) = $vars($url_var).filter(|u| !u.is_empty()) {
                client = client.base_url(url);
            }
            if let Some(t) = $options.timeout {
                client = client.timeout(t);
            }
            if let Some(t) = $options.connect_timeout {
                client = client.connect_timeout(t);
            }
            let client = client.build().and_then($finish).map_err(|e| {
                refund_core::Error::config(format!("{} / {}: {}", $key_var, $url_var, e.message()))
            })?;
            $builder = $builder.provider(std::sync::Arc::new(client));
        }
    }};
}

impl RouterBuilder {
    /// Registers every provider whose key is set in the process environment (see [`ENV_VARS`]).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](refund_core::ErrorKind::Config) when a base URL is invalid (not
    /// https, and not http on a loopback host).
    pub fn providers_from_env(self, options: &ClientOptions) -> Result<Self> {
        self.providers_from_vars(|name| std::env::var(name).ok(), options)
    }

    /// Like [`providers_from_env`](Self::providers_from_env), reading variables through `vars`
    /// (for tests and for configuration that does not live in the environment).
    ///
    /// # Errors
    /// As for [`providers_from_env`](Self::providers_from_env).
    #[allow(
        unused_mut,
        unused_variables,
        reason = "which statements exist depends on the enabled features"
    )]
    pub fn providers_from_vars(
        self,
        vars: impl Fn(&str) -> Option<String>,
        options: &ClientOptions,
    ) -> Result<Self> {
        let mut builder = self;
        #[cfg(feature = "plexy")]
        register!(
            builder,
            refund_plexy,
            vars,
            "PLEXY_API_KEY",
            "PLEXY_BASE_URL",
            options
        );
        #[cfg(feature = "paynext")]
        register!(
            builder,
            refund_paynext,
            vars,
            "PAYNEXT_API_KEY",
            "PAYNEXT_BASE_URL",
            options
        );
        #[cfg(feature = "payabli")]
        {
            let window = match vars(PAYABLI_SANDBOX_WINDOW_VAR).filter(|v| !v.is_empty()) {
                None => None,
                Some(ms) => Some(ms.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                    refund_core::Error::config(format!(
                        "{PAYABLI_SANDBOX_WINDOW_VAR} must be a whole number of milliseconds"
                    ))
                })?),
            };
            let with_window = |client: refund_payabli::Client| match window {
                Some(w) => client.with_sandbox_idempotency_window(w).map_err(|e| {
                    refund_core::Error::config(format!(
                        "{PAYABLI_SANDBOX_WINDOW_VAR}: {}",
                        e.message()
                    ))
                }),
                None => Ok(client),
            };
            register!(
                builder,
                refund_payabli,
                vars,
                "PAYABLI_API_TOKEN",
                "PAYABLI_BASE_URL",
                options,
                with_window
            );
        }
        Ok(builder)
    }
}

impl crate::Router {
    /// A router with every provider configured in the environment (see [`ENV_VARS`]) and the
    /// default policies.
    ///
    /// # Errors
    /// As for [`RouterBuilder::providers_from_env`].
    pub fn from_env() -> Result<crate::Router> {
        crate::Router::builder()
            .providers_from_env(&ClientOptions::default())?
            .build()
    }
}

#[cfg(all(test, feature = "payabli"))]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use refund_core::{ErrorKind, ProviderId};

    use super::*;

    fn router_with(vars: &[(&str, &str)]) -> Result<crate::Router> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        crate::Router::builder()
            .providers_from_vars(
                |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
                &ClientOptions::default(),
            )?
            .build()
    }

    #[test]
    fn a_sandbox_window_applies_to_a_loopback_payabli_only() {
        let local = router_with(&[
            ("PAYABLI_API_TOKEN", "t"),
            ("PAYABLI_BASE_URL", "http://127.0.0.1:9/api"),
            (PAYABLI_SANDBOX_WINDOW_VAR, "1500"),
        ])
        .unwrap();
        let caps = local.provider(&ProviderId::PAYABLI).unwrap().capabilities();
        assert_eq!(caps.idempotency_window, Some(Duration::from_millis(1500)));
        assert_eq!(
            caps.absence_settles_after,
            Some(Duration::from_millis(1500))
        );

        // Unset: Payabli's own 2 minutes.
        let default = router_with(&[
            ("PAYABLI_API_TOKEN", "t"),
            ("PAYABLI_BASE_URL", "http://127.0.0.1:9/api"),
        ])
        .unwrap();
        let caps = default
            .provider(&ProviderId::PAYABLI)
            .unwrap()
            .capabilities();
        assert_eq!(caps.absence_settles_after, Some(Duration::from_secs(120)));

        // Never against the real provider, and never a malformed value.
        for vars in [
            &[
                ("PAYABLI_API_TOKEN", "t"),
                (PAYABLI_SANDBOX_WINDOW_VAR, "1500"),
            ][..],
            &[
                ("PAYABLI_API_TOKEN", "t"),
                ("PAYABLI_BASE_URL", "http://127.0.0.1:9/api"),
                (PAYABLI_SANDBOX_WINDOW_VAR, "2m"),
            ][..],
        ] {
            let err = router_with(vars).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(
                err.to_string().contains(PAYABLI_SANDBOX_WINDOW_VAR),
                "{err}"
            );
        }
    }
}
