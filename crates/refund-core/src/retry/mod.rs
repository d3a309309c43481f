//! The retry policy of contract §0.5, as pure functions, and a small async runner around it.
//!
//! - **Lookups (GET)** are safe to repeat: a network error, a timeout, a 429 or a 5xx is
//!   retried, up to [`RetryPolicy::max_attempts`] attempts in all.
//! - **Refund POSTs** are re-sent only when the request provably never reached the provider
//!   (DNS failure, connection refused, TLS handshake failure, connect timeout) or the provider
//!   answered 429 (rate-limited requests are not processed). Anything that may have reached the
//!   provider (a timeout or broken connection after sending, a 5xx, an unreadable 2xx, an
//!   [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown)) is never retried here: that needs
//!   reconciliation first, which is the facade's job.
//! - The wait before attempt *n + 1* is `initial_backoff × 2^(n−1)`, capped at `max_backoff`,
//!   plus a random jitter of up to `max_jitter` of that; when the provider sent `Retry-After`
//!   we wait at least that long, capped at `max_retry_after`.
//!
//! [`RetryPolicy::decide`] takes the jitter as an argument ([`Jitter`]) and time is injected
//! through [`Clock`] and [`Sleeper`], so tests are deterministic and never sleep
//! ([`ManualClock`]).
//!
//! The default numbers are not covered by semver; see [`RetryPolicy`] for them.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

mod time;

pub use time::{Clock, ManualClock, Sleeper, SystemClock, TokioSleeper};

/// What kind of operation failed: it decides what may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// A read (GET): safe to repeat.
    Lookup,
    /// A refund (POST): repeated only when it provably never reached the provider, or on 429.
    Refund,
}

/// A random fraction in thousandths (0 to 1000), used to spread retries out.
///
/// Passed into [`RetryPolicy::decide`] rather than drawn inside it, so that tests choose it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Jitter(u16);

impl Jitter {
    /// No jitter: the plain backoff.
    pub const NONE: Jitter = Jitter(0);
    /// The largest jitter: the backoff plus the policy's whole `max_jitter`.
    pub const MAX: Jitter = Jitter(1000);

    /// A jitter of `permille` thousandths; values above 1000 count as 1000.
    pub fn from_permille(permille: u16) -> Jitter {
        Jitter(permille.min(1000))
    }

    /// A uniformly random jitter.
    pub fn random() -> Jitter {
        Jitter(fastrand::u16(0..=1000))
    }

    /// The jitter in thousandths (0 to 1000).
    pub fn permille(self) -> u16 {
        self.0
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decision {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Stop and report the error.
    GiveUp(GiveUpReason),
}

/// Why [`RetryPolicy::decide`] gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The failure may not be retried for this operation (for a refund: it may have been
    /// applied, or the provider refused it).
    NotRetryable,
    /// The attempt limit is reached.
    AttemptsExhausted,
}

/// When and how long to wait before trying again (contract §0.5).
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`max_attempts`](Self::with_max_attempts) | 3 | attempts in all, the first one included |
/// | [`initial_backoff`](Self::with_initial_backoff) | 500 ms | wait after the first failure; doubles after each further one |
/// | [`max_backoff`](Self::with_max_backoff) | 2 s | cap of the doubling backoff (before jitter) |
/// | [`max_jitter_permille`](Self::with_max_jitter_permille) | 500 | jitter adds up to this many thousandths of the backoff |
/// | [`max_retry_after`](Self::with_max_retry_after) | 60 s | a provider's `Retry-After` is honoured up to this |
///
/// With the defaults a lookup is tried at most three times, waiting 0.5–0.75 s and then 1–1.5 s;
/// the contract's third backoff value, 2 s, is the cap that later attempts would wait when
/// `max_attempts` is raised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_jitter_permille: u32,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            initial_backoff: Self::DEFAULT_INITIAL_BACKOFF,
            max_backoff: Self::DEFAULT_MAX_BACKOFF,
            max_jitter_permille: Self::DEFAULT_MAX_JITTER_PERMILLE,
            max_retry_after: Self::DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl RetryPolicy {
    /// Default attempt limit (all attempts, the first one included).
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
    /// Default wait after the first failure.
    pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(500);
    /// Default cap of the exponential backoff, before jitter.
    pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(2);
    /// Default largest jitter, in thousandths of the backoff.
    pub const DEFAULT_MAX_JITTER_PERMILLE: u32 = 500;
    /// Default cap of a provider's `Retry-After`.
    pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

    /// The policy of contract §0.5, with the defaults in the table above.
    pub fn new() -> Self {
        Self::default()
    }

    /// A policy that never retries (one attempt).
    pub fn never() -> Self {
        Self::default().with_max_attempts(1)
    }

    /// Sets the attempt limit, the first attempt included. Default 3; 0 counts as 1.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the wait after the first failure. Default 500 ms.
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the cap of the doubling backoff, before jitter. Default 2 s.
    #[must_use]
    pub fn with_max_backoff(mut self, cap: Duration) -> Self {
        self.max_backoff = cap;
        self
    }

    /// Sets the largest jitter in thousandths of the backoff (500 = up to +50 %). Default 500;
    /// 0 turns jitter off.
    #[must_use]
    pub fn with_max_jitter_permille(mut self, permille: u32) -> Self {
        self.max_jitter_permille = permille;
        self
    }

    /// Sets the cap of a provider's `Retry-After`. Default 60 s.
    #[must_use]
    pub fn with_max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// The attempt limit, the first attempt included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait after the first failure.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The cap of the doubling backoff, before jitter.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The largest jitter, in thousandths of the backoff.
    pub fn max_jitter_permille(&self) -> u32 {
        self.max_jitter_permille
    }

    /// The cap of a provider's `Retry-After`.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Whether `error` may be retried for `operation`, ignoring the attempt limit.
    ///
    /// - For a lookup: [`Transport`](ErrorKind::Transport), [`Timeout`](ErrorKind::Timeout),
    ///   [`RateLimited`](ErrorKind::RateLimited), and any error carrying HTTP status 429 or
    ///   5xx; never errors found before sending (`InvalidInput`, `Unsupported`, `Config`) nor
    ///   `Auth` and `NotFound` answers.
    /// - For a refund: `RateLimited`, and `Transport`/`Timeout` that provably never reached the
    ///   provider. Nothing else.
    pub fn is_retryable(&self, operation: Operation, error: &Error) -> bool {
        match operation {
            Operation::Lookup => match error.kind() {
                ErrorKind::Transport | ErrorKind::Timeout | ErrorKind::RateLimited => true,
                ErrorKind::InvalidInput
                | ErrorKind::Unsupported
                | ErrorKind::Config
                | ErrorKind::Auth
                | ErrorKind::NotFound => false,
                _ => matches!(error.http_status(), Some(429 | 500..=599)),
            },
            Operation::Refund => match error.kind() {
                ErrorKind::RateLimited => true,
                ErrorKind::Transport | ErrorKind::Timeout => !error.may_have_reached_provider(),
                _ => false,
            },
        }
    }

    /// The backoff after `failed_attempts` failures (at least 1): `initial_backoff ×
    /// 2^(failed_attempts − 1)` capped at `max_backoff`, plus `jitter` × `max_jitter` of it.
    ///
    /// The cap applies before the jitter, so that clients that all reached the cap still spread
    /// out.
    pub fn backoff(&self, failed_attempts: u32, jitter: Jitter) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(31);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);
        // Integer arithmetic only: jitter (≤ 1000) × max_jitter (per mille) / 1 000 000.
        let scale = u32::from(jitter.permille()).saturating_mul(self.max_jitter_permille);
        let extra = base.saturating_mul(scale) / 1_000_000;
        base.saturating_add(extra)
    }

    /// What to do after attempt number `failed_attempts` (1 for the first attempt) failed with
    /// `error`.
    ///
    /// Gives up when the error is not retryable for `operation`
    /// ([`is_retryable`](Self::is_retryable)) or `failed_attempts` reached the attempt limit.
    /// Otherwise waits [`backoff`](Self::backoff), or the error's
    /// [`retry_after`](Error::retry_after) capped at `max_retry_after` when that is longer.
    pub fn decide(
        &self,
        operation: Operation,
        failed_attempts: u32,
        error: &Error,
        jitter: Jitter,
    ) -> Decision {
        if !self.is_retryable(operation, error) {
            return Decision::GiveUp(GiveUpReason::NotRetryable);
        }
        if failed_attempts >= self.max_attempts {
            return Decision::GiveUp(GiveUpReason::AttemptsExhausted);
        }
        let backoff = self.backoff(failed_attempts, jitter);
        let delay = match error.retry_after() {
            Some(asked) => asked.min(self.max_retry_after).max(backoff),
            None => backoff,
        };
        Decision::Retry(delay)
    }
}

/// Runs `attempt` until it succeeds or `policy` gives up, sleeping through `sleeper` in between.
///
/// `attempt` receives the attempt number (1, 2, …). `jitter` is called once per failure
/// ([`Jitter::random`] in production, a constant in tests). Each retry is logged as a `tracing`
/// debug event with the attempt number, the error kind and the delay. The last error is returned
/// unchanged.
///
/// ```
/// use refund_core::retry::{self, Jitter, ManualClock, Operation, RetryPolicy};
/// use refund_core::{Error, ErrorKind};
///
/// # async fn demo() {
/// let clock = ManualClock::default();
/// let result: Result<u32, Error> = retry::run(
///     &RetryPolicy::new(),
///     Operation::Lookup,
///     &clock,
///     || Jitter::NONE,
///     |attempt| async move {
///         if attempt < 3 { Err(Error::new(ErrorKind::Timeout, "slow")) } else { Ok(attempt) }
///     },
/// )
/// .await;
/// assert_eq!(result.ok(), Some(3));
/// assert_eq!(clock.total_slept().as_millis(), 1500);
/// # }
/// ```
///
/// # Errors
/// The error of the last attempt.
pub async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    operation: Operation,
    sleeper: &dyn Sleeper,
    mut jitter: impl FnMut() -> Jitter,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempts: u32 = 0;
    loop {
        attempts = attempts.saturating_add(1);
        let error = match attempt(attempts).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        match policy.decide(operation, attempts, &error, jitter()) {
            Decision::Retry(delay) => {
                tracing::debug!(
                    attempt = attempts,
                    operation = ?operation,
                    kind = %error.kind(),
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "attempt failed, retrying"
                );
                sleeper.sleep(delay).await;
            }
            Decision::GiveUp(_) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let p = RetryPolicy::new();
        let ms = |d: Duration| d.as_millis();
        assert_eq!(ms(p.backoff(1, Jitter::NONE)), 500);
        assert_eq!(ms(p.backoff(2, Jitter::NONE)), 1000);
        assert_eq!(ms(p.backoff(3, Jitter::NONE)), 2000);
        assert_eq!(ms(p.backoff(4, Jitter::NONE)), 2000);
        assert_eq!(ms(p.backoff(u32::MAX, Jitter::NONE)), 2000);
        assert_eq!(ms(p.backoff(0, Jitter::NONE)), 500);
        assert_eq!(ms(p.backoff(1, Jitter::MAX)), 750);
        assert_eq!(ms(p.backoff(2, Jitter::from_permille(500))), 1250);
        assert_eq!(ms(p.backoff(4, Jitter::MAX)), 3000);
        assert_eq!(Jitter::from_permille(5000), Jitter::MAX);
        let no_jitter = p.clone().with_max_jitter_permille(0);
        assert_eq!(ms(no_jitter.backoff(1, Jitter::MAX)), 500);
        let huge = RetryPolicy::new()
            .with_initial_backoff(Duration::MAX)
            .with_max_backoff(Duration::MAX)
            .with_max_jitter_permille(u32::MAX);
        assert_eq!(huge.backoff(40, Jitter::MAX), Duration::MAX);
    }

    #[test]
    fn random_jitter_is_in_range() {
        for _ in 0..1000 {
            assert!(Jitter::random().permille() <= 1000);
        }
    }
}
