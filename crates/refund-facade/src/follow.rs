//! [`Router::follow`]: poll a refund the provider accepted until its status is final.
//!
//! A refund is often `pending` when the refund call returns (PayNext's always is). Following it
//! means looking it up again ([`RefundProvider::find_refund`](refund_core::RefundProvider), the
//! lookup of [`Router::status`], under the router's lookup retry policy) with an exponential
//! backoff and jitter until the provider reports it `succeeded` or `declined`, or until a time
//! budget runs out. Waiting goes through the router's injected
//! [`Sleeper`](refund_core::retry::Sleeper) and the budget is timed by its
//! [`Clock`](refund_core::retry::Clock), so tests use a
//! [`ManualClock`](refund_core::retry::ManualClock) and never sleep.

use std::time::{Duration, SystemTime};

use refund_core::retry::{Operation, RetryPolicy};
use refund_core::{Error, Lookup, ProviderId, Refund, RefundQuery, RefundStatus, Result};

use crate::Router;

/// How [`Router::follow`] polls.
///
/// | setting | default |
/// |---|---|
/// | [`budget`](Self::with_budget): time from the first lookup after which it stops | 15 min |
/// | [`initial_backoff`](Self::with_initial_backoff): wait after the first lookup; doubles after each further one | 1 s |
/// | [`max_backoff`](Self::with_max_backoff): cap of the doubling wait | 60 s |
/// | [`max_jitter_permille`](Self::with_max_jitter_permille): random extra wait, up to this many thousandths of the wait | 200 (20 %) |
///
/// A rate-limited lookup (`429` with `Retry-After`) waits at least what the provider asked for.
/// The defaults are not covered by semver.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowPolicy {
    /// Time from the first lookup after which following stops (no wait starts that would end
    /// after it).
    pub budget: Duration,
    /// The wait after the first lookup.
    pub initial_backoff: Duration,
    /// The cap of the doubling wait (jitter comes on top).
    pub max_backoff: Duration,
    /// The random extra wait, in thousandths of the wait (0 to 1000).
    pub max_jitter_permille: u32,
}

impl Default for FollowPolicy {
    fn default() -> Self {
        FollowPolicy {
            budget: Duration::from_secs(15 * 60),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_jitter_permille: 200,
        }
    }
}

impl FollowPolicy {
    /// Sets the budget (default 15 min).
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Sets the wait after the first lookup (default 1 s); it doubles after each further lookup.
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the cap of the doubling wait (default 60 s).
    #[must_use]
    pub fn with_max_backoff(mut self, cap: Duration) -> Self {
        self.max_backoff = cap;
        self
    }

    /// Sets the largest random extra wait in thousandths of the wait (default 200; values above
    /// 1000 count as 1000).
    #[must_use]
    pub fn with_max_jitter_permille(mut self, permille: u32) -> Self {
        self.max_jitter_permille = permille.min(1000);
        self
    }

    /// The waits as a retry policy: the same doubling, cap and jitter arithmetic.
    fn backoff_policy(&self) -> RetryPolicy {
        RetryPolicy::new()
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
            .with_max_jitter_permille(self.max_jitter_permille)
    }
}

/// A change of a followed refund's status, as a lookup saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusChange {
    /// The status seen before (`None` for the first lookup that found the refund).
    pub from: Option<RefundStatus>,
    /// The status now.
    pub to: RefundStatus,
    /// The refund as the provider reported it.
    pub refund: Refund,
    /// When the lookup answered (the router's clock).
    pub at: SystemTime,
}

/// Why [`Router::follow`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FollowEnd {
    /// The provider reported a final status: succeeded or declined.
    Final,
    /// The budget ran out first: the refund is still pending as far as we know.
    BudgetExhausted,
}

/// Where [`Router::follow`] left a refund.
#[derive(Debug)]
#[non_exhaustive]
pub struct Followed {
    /// Why it stopped.
    pub end: FollowEnd,
    /// The refund as the last lookup that found it reported it (`None` when no lookup found
    /// it: every answer was absent, inconclusive or an error).
    pub refund: Option<Refund>,
    /// Lookups made (each may have been retried by the router's lookup retry policy).
    pub lookups: u32,
    /// The last lookup error, when the last lookup failed.
    pub last_error: Option<Error>,
}

impl Followed {
    /// Whether the refund reached a final status (succeeded or declined).
    pub fn is_final(&self) -> bool {
        self.end == FollowEnd::Final
    }
}

/// Whether a status will not change any more.
fn is_final(status: RefundStatus) -> bool {
    matches!(status, RefundStatus::Succeeded | RefundStatus::Declined)
}

impl Router {
    /// Polls the refund `query` names on `provider` until the provider reports it succeeded or
    /// declined, or until `policy`'s budget runs out; `on_change` is called for each status a
    /// lookup sees that differs from the previous one (the first one found included).
    ///
    /// Each poll is [`status`](Self::status) (the lookup of reconciliation, retried under the
    /// router's lookup retry policy). Between polls it waits `initial_backoff × 2^(n−1)`,
    /// capped at `max_backoff`, plus a random jitter, and at least a rate-limited lookup's
    /// `Retry-After`; it never starts a wait that would end after the budget. The first lookup
    /// is made at once. Waiting and timing use the router's injected sleeper and clock.
    ///
    /// Use it for a refund the provider accepted (answered `pending`). A lookup that answers
    /// [`Lookup::Absent`] or [`Lookup::Inconclusive`] is *not* read as "failed": an accepted
    /// refund that a lookup cannot see yet is still pending, so polling goes on. Only a
    /// `declined` status is a failure. Following never sends a refund.
    ///
    /// ```no_run
    /// use refund_facade::{FollowPolicy, Router};
    /// use refund_facade::refund_core::{PaymentId, ProviderId, RefundQuery, RefundReference};
    ///
    /// # async fn demo(router: Router) -> Result<(), refund_facade::refund_core::Error> {
    /// let query = RefundQuery::new(PaymentId::new("pay_1")?, RefundReference::new("rf-1")?);
    /// let policy = FollowPolicy::default().with_budget(std::time::Duration::from_secs(600));
    /// let followed = router
    ///     .follow(&ProviderId::PAYNEXT, &query, &policy, |change| {
    ///         println!("{:?} -> {}", change.from, change.to);
    ///     })
    ///     .await?;
    /// if !followed.is_final() {
    ///     println!("still pending after 10 minutes");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Config` for an unknown provider; a lookup error that polling again cannot cure (`Auth`,
    /// `NotFound`, `InvalidInput`, `Unsupported`, `Config`). Transport failures, timeouts, 5xx
    /// and 429 answers keep polling within the budget (the last one is in
    /// [`Followed::last_error`]).
    pub async fn follow(
        &self,
        provider: &ProviderId,
        query: &RefundQuery,
        policy: &FollowPolicy,
        mut on_change: impl FnMut(&StatusChange),
    ) -> Result<Followed> {
        // Fail before any wait when the provider is not configured.
        self.provider(provider)?;
        let (clock, sleeper, jitter) = self.timing();
        let backoff = policy.backoff_policy();
        let started = clock.now();
        let mut followed = Followed {
            end: FollowEnd::BudgetExhausted,
            refund: None,
            lookups: 0,
            last_error: None,
        };
        loop {
            followed.lookups = followed.lookups.saturating_add(1);
            let mut floor = Duration::ZERO;
            match self.status(provider, query).await {
                Ok(Lookup::Found(refund)) => {
                    followed.last_error = None;
                    let from = followed.refund.as_ref().map(|r| r.status);
                    let to = refund.status;
                    if from != Some(to) {
                        tracing::info!(provider = %provider, reference = %query.reference, from = from.map(|s| s.as_str()), to = %to, "refund status changed");
                        on_change(&StatusChange {
                            from,
                            to,
                            refund: refund.clone(),
                            at: clock.now(),
                        });
                    }
                    followed.refund = Some(refund);
                    if is_final(to) {
                        followed.end = FollowEnd::Final;
                        return Ok(followed);
                    }
                }
                Ok(other) => {
                    // Absent or inconclusive for a refund that was accepted: not a failure.
                    followed.last_error = None;
                    tracing::info!(provider = %provider, reference = %query.reference, answer = ?other, "follow lookup did not find the refund yet");
                }
                Err(e) if RetryPolicy::new().is_retryable(Operation::Lookup, &e) => {
                    floor = e.retry_after().unwrap_or_default();
                    tracing::info!(provider = %provider, reference = %query.reference, kind = %e.kind(), "follow lookup failed, polling again later");
                    followed.last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
            let wait = backoff.backoff(followed.lookups, jitter()).max(floor);
            let elapsed = clock.now().duration_since(started).unwrap_or_default();
            if elapsed.saturating_add(wait) > policy.budget {
                return Ok(followed);
            }
            sleeper.sleep(wait).await;
        }
    }
}
