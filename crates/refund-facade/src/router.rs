//! [`Router`]: routing, capability checks, safe retries and reconciliation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use refund_core::retry::{
    Clock, Decision, Jitter, Operation, RetryPolicy, Sleeper, SystemClock, TokioSleeper,
};
use refund_core::{
    Capabilities, Error, ErrorKind, Lookup, PaymentId, ProviderId, RefundAmount, RefundProvider,
    RefundQuery, RefundReference, RefundRequest, Result, Snapshot,
};
use tracing::Instrument;

use crate::outcome::{RefundOutcome, check_integrity};

/// Reconciliation settings: how hard the facade tries to learn the truth after an unknown
/// outcome before it gives up and reports [`ErrorKind::OutcomeUnknown`].
///
/// | setting | default |
/// |---|---|
/// | [`budget`](Self::with_budget): time for one logical refund, reconciliation included | 5 min |
/// | [`max_lookups`](Self::with_max_lookups): reconciliation lookups | 6 |
/// | [`max_resends`](Self::with_max_resends): re-sends after a lookup proved absence | 2 |
/// | [`lookup_backoff`](Self::with_lookup_backoff): wait before the 2nd lookup; doubles, capped at 30 s | 1 s |
/// | [`attempt_timeout`](Self::with_attempt_timeout): cap on one provider call, above the clients' own 60 s | 90 s |
///
/// The defaults are not covered by semver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcilePolicy {
    budget: Duration,
    max_lookups: u32,
    max_resends: u32,
    lookup_backoff: Duration,
    max_lookup_backoff: Duration,
    attempt_timeout: Duration,
}

impl Default for ReconcilePolicy {
    fn default() -> Self {
        ReconcilePolicy {
            budget: Duration::from_secs(300),
            max_lookups: 6,
            max_resends: 2,
            lookup_backoff: Duration::from_secs(1),
            max_lookup_backoff: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(90),
        }
    }
}

impl ReconcilePolicy {
    /// The time allowed for one logical refund, reconciliation included: no wait (backoff, a
    /// provider's window) starts that would end past it. One lookup right after a send whose
    /// outcome is unknown is made even when a slow send used the budget up: it is read-only and
    /// bounded like every call, and it may find the refund.
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The most reconciliation lookups for one logical refund (at least 1).
    #[must_use]
    pub fn with_max_lookups(mut self, n: u32) -> Self {
        self.max_lookups = n.max(1);
        self
    }

    /// The most re-sends after lookups that proved no refund exists.
    #[must_use]
    pub fn with_max_resends(mut self, n: u32) -> Self {
        self.max_resends = n;
        self
    }

    /// The wait before the second lookup; it doubles for each further one, up to 30 s.
    #[must_use]
    pub fn with_lookup_backoff(mut self, backoff: Duration) -> Self {
        self.lookup_backoff = backoff;
        self
    }

    /// The cap on one provider call. When it elapses the call may have reached the provider,
    /// so it is handled as an unknown outcome. A provider whose
    /// [`call_timeout`](Capabilities::call_timeout) is no longer than this cap bounds its calls
    /// itself (ours do, with their HTTP timeout), and the router adds no timer of its own.
    #[must_use]
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    fn lookup_delay(&self, lookups_done: u32) -> Duration {
        let doublings = lookups_done.saturating_sub(1).min(16);
        self.lookup_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_lookup_backoff)
    }
}

/// One entry point for refunds on several providers.
///
/// Guarantee: for one refund reference, at most one refund is applied by this router, and the
/// outcome reported is the provider's truth — or [`ErrorKind::OutcomeUnknown`] when the truth
/// could not be established within the [`ReconcilePolicy`] budget (then call
/// [`Router::resume`] later).
///
/// How: capability checks before any I/O; a refund request is re-sent automatically only when
/// it provably never reached the provider or was rate-limited (contract §0.5); after an unknown
/// outcome the router looks the refund up ([`RefundProvider::find_refund`]) and adopts what it
/// finds, re-sends with the same reference only when the provider proved absence, and waits
/// out an idempotency window when the provider answers a re-send with a conflict (Payabli 409):
/// it looks the refund up at once, and re-sends only once the window has passed. For a provider
/// whose absence proof settles late ([`Capabilities::absence_settles_after`], Payabli), an
/// `Absent` answer counts only when taken that long after the last send and confirmed by a
/// second lookup; a wait that does not fit the budget ends [`ErrorKind::OutcomeUnknown`].
///
/// Cheap to clone; share one across tasks.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

struct Inner {
    providers: BTreeMap<ProviderId, Arc<dyn RefundProvider>>,
    retry: RetryPolicy,
    reconcile: ReconcilePolicy,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    jitter: fn() -> Jitter,
    on_window_wait: Option<WindowWaitHook>,
    /// The references being refunded, per provider (every provider has its set from the start,
    /// so claiming a reference copies only the reference).
    in_flight: Mutex<HashMap<ProviderId, HashSet<RefundReference>>>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field(
                "providers",
                &self.inner.providers.keys().collect::<Vec<_>>(),
            )
            .field("retry", &self.inner.retry)
            .field("reconcile", &self.inner.reconcile)
            .finish_non_exhaustive()
    }
}

/// What is told before the router waits for a provider's window: see
/// [`RouterBuilder::on_window_wait`].
type WindowWaitHook = Arc<dyn Fn(&WindowWait) + Send + Sync>;

/// A wait the router is about to make for a provider's window before it looks a refund up
/// again: the idempotency window after a conflict (Payabli 409), or the time after the last
/// send before an `Absent` answer proves anything
/// ([`Capabilities::absence_settles_after`]). Given to the hook of
/// [`RouterBuilder::on_window_wait`], so that an application can say why it is waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowWait {
    /// The provider.
    pub provider: ProviderId,
    /// The refund's reference.
    pub reference: RefundReference,
    /// How long the router will wait (it never waits beyond its budget).
    pub wait: Duration,
}

impl WindowWait {
    /// A notice of a wait of `wait` for the refund `reference` on `provider`.
    pub fn new(provider: ProviderId, reference: RefundReference, wait: Duration) -> Self {
        WindowWait {
            provider,
            reference,
            wait,
        }
    }
}

/// Builder of a [`Router`].
#[must_use]
pub struct RouterBuilder {
    providers: Vec<Arc<dyn RefundProvider>>,
    retry: RetryPolicy,
    reconcile: ReconcilePolicy,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    jitter: fn() -> Jitter,
    on_window_wait: Option<WindowWaitHook>,
}

impl fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

impl RouterBuilder {
    /// Registers a provider (one of ours or an application's own). Default: none.
    pub fn provider(mut self, provider: Arc<dyn RefundProvider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// The retry policy for refund re-sends and lookups. Default: [`RetryPolicy::new`].
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Reconciliation settings. Default: [`ReconcilePolicy::default`].
    pub fn reconcile_policy(mut self, policy: ReconcilePolicy) -> Self {
        self.reconcile = policy;
        self
    }

    /// The clock that times budgets. Default: the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// What waits between attempts. Default: Tokio's timer.
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Where backoff jitter comes from. Default: [`Jitter::random`].
    pub fn jitter(mut self, jitter: fn() -> Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Called (synchronously, keep it short) before each wait for a provider's window, which
    /// may last minutes (Payabli: 2). The router also logs a `warn` event then. Default: none.
    pub fn on_window_wait(mut self, hook: impl Fn(&WindowWait) + Send + Sync + 'static) -> Self {
        self.on_window_wait = Some(Arc::new(hook));
        self
    }

    /// Builds the router.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when two providers have the same name.
    pub fn build(self) -> Result<Router> {
        let mut providers = BTreeMap::new();
        let mut in_flight = HashMap::new();
        for p in self.providers {
            let id = p.provider();
            if providers.insert(id.clone(), p).is_some() {
                return Err(Error::config(format!("provider {id} is registered twice")));
            }
            in_flight.insert(id, HashSet::new());
        }
        Ok(Router {
            inner: Arc::new(Inner {
                providers,
                retry: self.retry,
                reconcile: self.reconcile,
                clock: self.clock,
                sleeper: self.sleeper,
                jitter: self.jitter,
                on_window_wait: self.on_window_wait,
                in_flight: Mutex::new(in_flight),
            }),
        })
    }
}

/// A refund ready to be sent: the request plus what the provider needed remembered before
/// sending ([`RefundProvider::snapshot`]). Store it (for example in a journal) before
/// [`Router::execute`], so that [`Router::resume`] can finish the job after a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedRefund {
    /// The provider.
    pub provider: ProviderId,
    /// The request.
    pub request: RefundRequest,
    /// The provider's snapshot taken before the first attempt, if it needs one.
    pub snapshot: Option<Snapshot>,
    /// When the last refund request for it started to be sent, if known (for
    /// [`Router::resume`]; see [`with_last_sent_at`](Self::with_last_sent_at)).
    pub last_sent_at: Option<SystemTime>,
}

impl PreparedRefund {
    /// Re-creates a prepared refund from stored parts (the time of the last send unknown).
    pub fn new(provider: ProviderId, request: RefundRequest, snapshot: Option<Snapshot>) -> Self {
        PreparedRefund {
            provider,
            request,
            snapshot,
            last_sent_at: None,
        }
    }

    /// When the last refund request for this refund started to be sent (for example the time a
    /// journal marked it as sending, just before [`Router::execute`]). [`Router::resume`] counts
    /// a provider's settling window ([`Capabilities::absence_settles_after`]) from this time
    /// plus the longest a call can last (at most from the start of `resume`: it resumes after
    /// the sender stopped); without it (the default), conservatively from the start of
    /// `resume`.
    #[must_use]
    pub fn with_last_sent_at(mut self, at: SystemTime) -> Self {
        self.last_sent_at = Some(at);
        self
    }
}

enum Step {
    Send,
    Reconcile { wait: Duration },
}

struct Progress {
    started: SystemTime,
    attempts: u32,
    lookups: u32,
    resends: u32,
    last_error: Option<Error>,
    /// When the last refund request that may have reached the provider ended (its answer, its
    /// failure, or a conflict); settling windows count from here.
    last_sent: Option<SystemTime>,
    /// When the provider last answered a conflict (a key inside its idempotency window).
    conflict_at: Option<SystemTime>,
    /// Consecutive `Absent` answers taken after the settling window.
    settled_absent: u32,
    /// Whether a lookup was made since the last send (or the start of `resume`).
    looked_since_send: bool,
    /// Whether a request of this refund may have reached the provider already (always after a
    /// send of unknown outcome, and from the start of `resume`).
    may_have_reached: bool,
    /// The provider answered a conflict before any request of this run could have reached it:
    /// a request with this reference was sent by an earlier run.
    earlier_request: bool,
}

/// What an `Absent` answer allows.
enum Absence {
    /// Absence is proven: re-sending is safe.
    Proven,
    /// Absent, but taken too early: wait this long, then look again.
    TooEarly(Duration),
    /// Absent after the window; one more lookup must agree.
    Confirm,
}

impl Router {
    /// Starts a builder with no providers.
    pub fn builder() -> RouterBuilder {
        RouterBuilder {
            providers: Vec::new(),
            retry: RetryPolicy::new(),
            reconcile: ReconcilePolicy::default(),
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            jitter: Jitter::random,
            on_window_wait: None,
        }
    }

    /// The injected clock, sleeper and jitter source, for the crate's other modules
    /// (`follow.rs` waits and times its budget with them).
    pub(crate) fn timing(&self) -> (&dyn Clock, &dyn Sleeper, fn() -> Jitter) {
        (
            self.inner.clock.as_ref(),
            self.inner.sleeper.as_ref(),
            self.inner.jitter,
        )
    }

    /// The registered providers' names.
    pub fn providers(&self) -> impl Iterator<Item = &ProviderId> {
        self.inner.providers.keys()
    }

    /// The provider registered under `name`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when no such provider is registered.
    pub fn provider(&self, name: &ProviderId) -> Result<&Arc<dyn RefundProvider>> {
        self.inner.providers.get(name).ok_or_else(|| {
            Error::config(format!(
                "provider {name} is not configured (configured: {})",
                self.inner
                    .providers
                    .keys()
                    .map(ProviderId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Capability check, before any I/O.
    fn check(
        &self,
        provider: &ProviderId,
        request: &RefundRequest,
    ) -> Result<(&Arc<dyn RefundProvider>, Capabilities)> {
        let p = self.provider(provider)?;
        let caps = p.capabilities();
        if matches!(request.amount(), RefundAmount::Partial(_)) && !caps.partial_refunds {
            return Err(
                Error::unsupported("partial refunds are not supported by this provider")
                    .with_provider(provider.clone())
                    .with_payment_id(request.payment_id().clone())
                    .with_reference(request.reference().clone()),
            );
        }
        Ok((p, caps))
    }

    /// The longest one call of a provider with these capabilities can last.
    fn call_bound(&self, caps: &Capabilities) -> Duration {
        self.own_timeout(caps)
            .or(caps.call_timeout)
            .unwrap_or(self.inner.reconcile.attempt_timeout)
    }

    /// The timer the router puts around one call of a provider with these capabilities: none
    /// when the provider bounds its calls itself within the attempt timeout.
    fn own_timeout(&self, caps: &Capabilities) -> Option<Duration> {
        let cap = self.inner.reconcile.attempt_timeout;
        match caps.call_timeout {
            Some(bound) if bound <= cap => None,
            _ => Some(cap),
        }
    }

    /// Refunds on `provider`: checks, snapshot if needed, send, and reconcile (see [`Router`]).
    ///
    /// # Errors
    /// - `Config` for an unknown provider, `Unsupported` when the provider cannot do it,
    ///   `InvalidInput` when a refund with the same reference is already in progress in this
    ///   router; nothing is sent in these cases.
    /// - The provider's refusal (`InvalidInput`, `Auth`, `NotFound`, …).
    /// - `OutcomeUnknown` (carrying provider, payment and reference) when the truth could not be
    ///   established within the budget: call [`resume`](Self::resume) later.
    pub async fn refund(
        &self,
        provider: &ProviderId,
        request: &RefundRequest,
    ) -> Result<RefundOutcome> {
        let (p, caps) = self.check(provider, request)?;
        let snapshot = self.snapshot_if_needed(p, &caps, request).await?;
        self.drive(
            provider,
            (p, caps),
            request,
            snapshot.as_ref(),
            Step::Send,
            None,
        )
        .await
    }

    /// Checks a refund and takes the provider's snapshot if it needs one; nothing is refunded.
    ///
    /// # Errors
    /// As for [`refund`](Self::refund) before anything is sent; a failed snapshot lookup is
    /// returned as it is (no refund was sent).
    pub async fn prepare(
        &self,
        provider: &ProviderId,
        request: &RefundRequest,
    ) -> Result<PreparedRefund> {
        let (p, caps) = self.check(provider, request)?;
        let snapshot = self.snapshot_if_needed(p, &caps, request).await?;
        Ok(PreparedRefund::new(
            provider.clone(),
            request.clone(),
            snapshot,
        ))
    }

    /// The provider's snapshot, when it needs one for this request (retried as a lookup).
    async fn snapshot_if_needed(
        &self,
        provider: &Arc<dyn RefundProvider>,
        caps: &Capabilities,
        request: &RefundRequest,
    ) -> Result<Option<Snapshot>> {
        if !(caps.snapshot_for_partial && matches!(request.amount(), RefundAmount::Partial(_))) {
            return Ok(None);
        }
        let payment = request.payment_id();
        self.lookup(|| provider.snapshot(payment)).await
    }

    /// A read-only provider call under the lookup retry policy.
    async fn lookup<T, Fut>(&self, mut call: impl FnMut() -> Fut) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        refund_core::retry::run(
            &self.inner.retry,
            Operation::Lookup,
            self.inner.sleeper.as_ref(),
            self.inner.jitter,
            |_| call(),
        )
        .await
    }

    /// Sends a prepared refund and reconciles it.
    ///
    /// # Errors
    /// As for [`refund`](Self::refund).
    pub async fn execute(&self, prepared: &PreparedRefund) -> Result<RefundOutcome> {
        self.drive(
            &prepared.provider,
            self.check(&prepared.provider, &prepared.request)?,
            &prepared.request,
            prepared.snapshot.as_ref(),
            Step::Send,
            None,
        )
        .await
    }

    /// Finishes a refund that ended [`ErrorKind::OutcomeUnknown`] (after a crash or an outage):
    /// looks it up first, and re-sends with the same reference only when the provider proves
    /// that none exists.
    ///
    /// # Errors
    /// As for [`refund`](Self::refund).
    ///
    /// A provider whose absence proof settles late ([`Capabilities::absence_settles_after`])
    /// is re-sent to only once that window has passed since the last send
    /// ([`PreparedRefund::with_last_sent_at`]; unknown: since the start of `resume`).
    pub async fn resume(&self, prepared: &PreparedRefund) -> Result<RefundOutcome> {
        self.drive(
            &prepared.provider,
            self.check(&prepared.provider, &prepared.request)?,
            &prepared.request,
            prepared.snapshot.as_ref(),
            Step::Reconcile {
                wait: Duration::ZERO,
            },
            Some(prepared.last_sent_at),
        )
        .await
    }

    /// What the provider says about the refund of `payment` keyed by `reference` (no re-send).
    ///
    /// # Errors
    /// `Config` for an unknown provider; the lookup's own error after the lookup retry policy.
    pub async fn status(&self, provider: &ProviderId, query: &RefundQuery) -> Result<Lookup> {
        let p = self.provider(provider)?;
        let span = tracing::info_span!(
            "refund_status",
            provider = %provider,
            payment = %query.payment_id,
            reference = %query.reference,
        );
        self.lookup(|| p.find_refund(query)).instrument(span).await
    }

    /// Shorthand for [`status`](Self::status) of a full refund.
    ///
    /// # Errors
    /// As for [`status`](Self::status).
    pub async fn status_of(
        &self,
        provider: &ProviderId,
        payment: &PaymentId,
        reference: &RefundReference,
    ) -> Result<Lookup> {
        self.status(
            provider,
            &RefundQuery::new(payment.clone(), reference.clone()),
        )
        .await
    }

    fn claim<'a>(
        &'a self,
        provider: &'a ProviderId,
        reference: &'a RefundReference,
    ) -> Result<InFlight<'a>> {
        let mut in_flight = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Every registered provider has its set; `check` ran before.
        let claimed = match in_flight.get_mut(provider) {
            Some(references) => references.insert(reference.clone()),
            None => in_flight
                .entry(provider.clone())
                .or_default()
                .insert(reference.clone()),
        };
        if !claimed {
            return Err(Error::invalid_input(format!(
                "a refund with reference {reference} is already in progress on {provider}"
            ))
            .with_provider(provider.clone())
            .with_reference(reference.clone()));
        }
        Ok(InFlight {
            router: self,
            provider,
            reference,
        })
    }

    fn elapsed(&self, since: SystemTime) -> Duration {
        self.inner
            .clock
            .now()
            .duration_since(since)
            .unwrap_or_default()
    }

    /// Runs a refund whose provider and capabilities [`check`](Self::check) returned.
    /// `resumed`: `Some(when the last send started, if known)` for [`resume`](Self::resume).
    async fn drive(
        &self,
        provider_id: &ProviderId,
        (provider, caps): (&Arc<dyn RefundProvider>, Capabilities),
        request: &RefundRequest,
        snapshot: Option<&Snapshot>,
        first: Step,
        resumed: Option<Option<SystemTime>>,
    ) -> Result<RefundOutcome> {
        let _claim = self.claim(provider_id, request.reference())?;
        let span = tracing::info_span!(
            "refund",
            provider = %provider_id,
            payment = %request.payment_id(),
            reference = %request.reference(),
        );
        let job = Job {
            provider_id,
            provider: provider.as_ref(),
            timeout: self.own_timeout(&caps),
            caps,
            request,
            snapshot,
        };
        let now = self.inner.clock.now();
        // After a crash the last send may still have been under way until the crash: count
        // from when it ended at the latest (its start plus the longest a call lasts, and no
        // later than now: the process that sent it is gone), or from now when unknown.
        let last_sent = resumed.map(|at| match at {
            Some(at) => at
                .checked_add(self.call_bound(&job.caps))
                .map_or(now, |end| end.min(now)),
            None => now,
        });
        let mut progress = Progress {
            started: now,
            attempts: 0,
            lookups: 0,
            resends: 0,
            last_error: None,
            last_sent,
            conflict_at: None,
            settled_absent: 0,
            looked_since_send: false,
            may_have_reached: resumed.is_some(),
            earlier_request: false,
        };
        self.run_steps(&job, first, &mut progress)
            .instrument(span)
            .await
    }

    async fn run_steps(
        &self,
        job: &Job<'_>,
        first: Step,
        progress: &mut Progress,
    ) -> Result<RefundOutcome> {
        let request = job.request;
        let provider = job.provider;
        let policy = &self.inner.reconcile;
        // What reconciliation looks for: built on the first lookup only.
        let mut query: Option<RefundQuery> = None;
        let mut step = first;
        let mut send_failures: u32 = 0;
        loop {
            match step {
                Step::Send => {
                    progress.attempts += 1;
                    progress.looked_since_send = false;
                    let t0 = self.inner.clock.now();
                    let result =
                        bounded(job.timeout, provider.refund(request), job.provider_id).await;
                    let elapsed_ms = duration_ms(self.elapsed(t0));
                    match result {
                        Ok(refund) => {
                            tracing::info!(attempt = progress.attempts, outcome = %refund.status, elapsed_ms, "refund attempt answered");
                            return Ok(self.outcome(request, refund, progress, false));
                        }
                        Err(e) if is_unknown(&e) => {
                            tracing::warn!(attempt = progress.attempts, outcome = "unknown", kind = %e.kind(), http_status = e.http_status(), elapsed_ms, "refund attempt outcome unknown, reconciling");
                            let now = self.inner.clock.now();
                            progress.last_sent = Some(now);
                            // Payabli answers a repeated idempotency key inside its window with
                            // 409 and no replay (§3.6). Look at once (the earlier request may
                            // have succeeded long ago); a re-send must wait the window out.
                            if e.http_status() == Some(409) && job.caps.idempotency_window.is_some()
                            {
                                progress.conflict_at = Some(now);
                                // No request of this run can have reached the provider before:
                                // the key was used by an earlier run (a rerun with the same
                                // reference), whose refund a snapshot taken by this run already
                                // includes.
                                if !progress.may_have_reached {
                                    progress.earlier_request = true;
                                }
                            }
                            progress.may_have_reached = true;
                            progress.last_error = Some(e);
                            step = Step::Reconcile {
                                wait: Duration::ZERO,
                            };
                        }
                        Err(e) => {
                            send_failures += 1;
                            let decision = self.inner.retry.decide(
                                Operation::Refund,
                                send_failures,
                                &e,
                                (self.inner.jitter)(),
                            );
                            match decision {
                                Decision::Retry(delay)
                                    if self.elapsed(progress.started) + delay < policy.budget =>
                                {
                                    tracing::info!(attempt = progress.attempts, outcome = "not_applied", kind = %e.kind(), delay_ms = duration_ms(delay), elapsed_ms, "refund attempt did not reach the provider, re-sending");
                                    self.inner.sleeper.sleep(delay).await;
                                    step = Step::Send;
                                }
                                _ => {
                                    tracing::info!(attempt = progress.attempts, outcome = "error", kind = %e.kind(), elapsed_ms, "refund attempt failed");
                                    return Err(annotate(e, job));
                                }
                            }
                        }
                    }
                }
                Step::Reconcile { wait } => {
                    let first_look = wait.is_zero() && !progress.looked_since_send;
                    if progress.lookups >= policy.max_lookups
                        || (self.elapsed(progress.started).saturating_add(wait) > policy.budget
                            && !first_look)
                    {
                        return Err(self.unknown(job, progress));
                    }
                    if !wait.is_zero() {
                        self.inner.sleeper.sleep(wait).await;
                    }
                    progress.lookups += 1;
                    progress.looked_since_send = true;
                    let t0 = self.inner.clock.now();
                    let query = query.get_or_insert_with(|| {
                        RefundQuery::for_request(request).with_snapshot(job.snapshot.cloned())
                    });
                    let found = match job.timeout {
                        Some(cap) => tokio::time::timeout(cap, provider.find_refund(query)).await,
                        None => Ok(provider.find_refund(query).await),
                    };
                    let elapsed_ms = duration_ms(self.elapsed(t0));
                    let next_wait = policy.lookup_delay(progress.lookups);
                    match found {
                        Ok(Ok(Lookup::Found(refund))) => {
                            tracing::info!(lookup = progress.lookups, outcome = %refund.status, elapsed_ms, "reconciliation found the refund");
                            return Ok(self.outcome(request, refund, progress, true));
                        }
                        Ok(Ok(Lookup::Absent))
                            if progress.earlier_request && job.snapshot.is_some() =>
                        {
                            tracing::warn!(
                                lookup = progress.lookups,
                                elapsed_ms,
                                "an earlier run sent a refund with this reference, and this run's snapshot cannot tell it apart: giving up"
                            );
                            return Err(self.unknown_because(
                                job,
                                progress,
                                "; the provider answered a conflict to this run's first request, so an earlier run sent a refund with this reference, and the snapshot taken by this run cannot tell that refund apart (resume the earlier run's prepared refund, or check the payment)",
                            ));
                        }
                        Ok(Ok(Lookup::Absent)) => match self.absence(job, progress) {
                            Absence::Proven => {
                                tracing::info!(
                                    lookup = progress.lookups,
                                    outcome = "absent",
                                    elapsed_ms,
                                    "reconciliation proved no refund exists"
                                );
                                if progress.resends >= policy.max_resends {
                                    return Err(self.unknown(job, progress));
                                }
                                progress.resends += 1;
                                progress.settled_absent = 0;
                                step = Step::Send;
                            }
                            Absence::Confirm => {
                                tracing::info!(
                                    lookup = progress.lookups,
                                    outcome = "absent",
                                    elapsed_ms,
                                    "reconciliation saw no refund after the window; confirming with one more lookup"
                                );
                                step = Step::Reconcile { wait: next_wait };
                            }
                            Absence::TooEarly(wait) => {
                                let wait_ms = duration_ms(wait);
                                if self.elapsed(progress.started).saturating_add(wait)
                                    > policy.budget
                                    || progress.lookups >= policy.max_lookups
                                {
                                    tracing::warn!(
                                        lookup = progress.lookups,
                                        wait_ms,
                                        "no refund seen yet, but the provider's window has not passed since the last send and waiting for it does not fit the budget"
                                    );
                                    let because = format!(
                                        "; no refund seen yet, but an earlier request may still be processing and the provider's window ({}s more) does not fit the budget",
                                        wait.as_secs_f64().ceil()
                                    );
                                    return Err(self.unknown_because(job, progress, &because));
                                }
                                tracing::warn!(
                                    lookup = progress.lookups,
                                    wait_ms,
                                    "no refund seen yet, but an earlier request may still be processing: waiting for the provider's window to pass since the last send before looking again"
                                );
                                if let Some(hook) = &self.inner.on_window_wait {
                                    hook(&WindowWait::new(
                                        job.provider_id.clone(),
                                        request.reference().clone(),
                                        wait,
                                    ));
                                }
                                step = Step::Reconcile { wait };
                            }
                        },
                        Ok(Ok(Lookup::Inconclusive(reason))) => {
                            tracing::info!(lookup = progress.lookups, outcome = "inconclusive", %reason, elapsed_ms, "reconciliation lookup inconclusive");
                            progress.settled_absent = 0;
                            step = Step::Reconcile { wait: next_wait };
                        }
                        Ok(Ok(_)) => {
                            // A lookup answer this version does not know proves nothing.
                            tracing::info!(
                                lookup = progress.lookups,
                                outcome = "inconclusive",
                                elapsed_ms,
                                "reconciliation lookup gave an answer this version does not know"
                            );
                            progress.settled_absent = 0;
                            step = Step::Reconcile { wait: next_wait };
                        }
                        Ok(Err(e)) => {
                            tracing::info!(lookup = progress.lookups, outcome = "error", kind = %e.kind(), elapsed_ms, "reconciliation lookup failed");
                            let wait = e
                                .retry_after()
                                .map_or(next_wait, |asked| asked.max(next_wait));
                            progress.last_error = Some(e);
                            progress.settled_absent = 0;
                            step = Step::Reconcile { wait };
                        }
                        Err(_) => {
                            tracing::info!(
                                lookup = progress.lookups,
                                outcome = "timeout",
                                elapsed_ms,
                                "reconciliation lookup timed out"
                            );
                            progress.settled_absent = 0;
                            step = Step::Reconcile { wait: next_wait };
                        }
                    }
                }
            }
        }
    }

    /// What an `Absent` answer taken now allows: a re-send inside the idempotency window of a
    /// conflict would only meet another conflict, and a provider whose absence proof settles late
    /// needs two `Absent` answers taken after its window since the last send.
    fn absence(&self, job: &Job<'_>, progress: &mut Progress) -> Absence {
        let now = self.inner.clock.now();
        // A time beyond what `SystemTime` holds: wait the whole window (the budget bounds it).
        let until = |from: SystemTime, window: Duration| {
            from.checked_add(window)
                .map_or(window, |end| end.duration_since(now).unwrap_or_default())
        };
        let mut wait = match (progress.conflict_at, job.caps.idempotency_window) {
            (Some(at), Some(window)) => until(at, window),
            _ => Duration::ZERO,
        };
        let settling = job.caps.absence_settles_after;
        if let Some(window) = settling {
            let from = progress.last_sent.unwrap_or(progress.started);
            wait = wait.max(until(from, window));
        }
        if !wait.is_zero() {
            progress.settled_absent = 0;
            return Absence::TooEarly(wait);
        }
        if settling.is_none() {
            return Absence::Proven;
        }
        progress.settled_absent += 1;
        if progress.settled_absent >= 2 {
            Absence::Proven
        } else {
            Absence::Confirm
        }
    }

    fn outcome(
        &self,
        request: &RefundRequest,
        refund: refund_core::Refund,
        progress: &Progress,
        reconciled: bool,
    ) -> RefundOutcome {
        let mismatch = check_integrity(request, &refund);
        if let Some(m) = &mismatch {
            tracing::warn!(requested = %m.requested, reported = %m.reported, "provider reported a different refund amount");
        }
        RefundOutcome {
            refund,
            attempts: progress.attempts,
            lookups: progress.lookups,
            reconciled,
            mismatch,
        }
    }

    fn unknown(&self, job: &Job<'_>, progress: &mut Progress) -> Error {
        self.unknown_because(job, progress, "")
    }

    /// [`unknown`](Self::unknown) with why the truth could not be learnt (`because` starts
    /// with "; " or is empty).
    fn unknown_because(&self, job: &Job<'_>, progress: &mut Progress, because: &str) -> Error {
        let mut e = Error::new(
            ErrorKind::OutcomeUnknown,
            format!(
                "refund outcome unknown after {} attempt(s) and {} lookup(s){because}: it may have been applied; resume or check its status later",
                progress.attempts, progress.lookups
            ),
        )
        .with_provider(job.provider_id.clone())
        .with_payment_id(job.request.payment_id().clone())
        .with_reference(job.request.reference().clone());
        if let Some(last) = progress.last_error.take() {
            if let Some(status) = last.http_status() {
                e = e.with_http_status(status);
            }
            e = e.with_source(last);
        }
        tracing::warn!(
            attempts = progress.attempts,
            lookups = progress.lookups,
            "giving up: outcome unknown"
        );
        e
    }
}

/// One refund being driven: what every step needs.
struct Job<'a> {
    provider_id: &'a ProviderId,
    provider: &'a dyn RefundProvider,
    caps: Capabilities,
    /// The router's own timer around each call, when the provider does not bound its calls.
    timeout: Option<Duration>,
    request: &'a RefundRequest,
    snapshot: Option<&'a Snapshot>,
}

/// A refund `call`, under the router's own timer when there is one. When the timer elapses the
/// refund may have reached the provider, so its outcome is unknown.
async fn bounded<T>(
    timeout: Option<Duration>,
    call: impl Future<Output = Result<T>>,
    provider: &ProviderId,
) -> Result<T> {
    let Some(cap) = timeout else {
        return call.await;
    };
    match tokio::time::timeout(cap, call).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorKind::OutcomeUnknown,
            "the refund call did not finish within the attempt timeout",
        )
        .with_provider(provider.clone())),
    }
}

/// Adds the refund's provider, payment and reference to an error that lacks them.
fn annotate(e: Error, job: &Job<'_>) -> Error {
    let e = if e.provider().is_none() {
        e.with_provider(job.provider_id.clone())
    } else {
        e
    };
    let e = if e.payment_id().is_none() {
        e.with_payment_id(job.request.payment_id().clone())
    } else {
        e
    };
    if e.reference().is_none() {
        e.with_reference(job.request.reference().clone())
    } else {
        e
    }
}

/// Whether a failed refund attempt may have been applied.
///
/// Provider crates report these as `OutcomeUnknown`; a provider of an application's own might
/// report a timeout or a 5xx after sending instead, so those count too.
fn is_unknown(e: &Error) -> bool {
    e.is_outcome_unknown()
        || (e.may_have_reached_provider()
            && (matches!(
                e.kind(),
                ErrorKind::Timeout | ErrorKind::Transport | ErrorKind::Decode
            ) || matches!(e.http_status(), Some(500..=599))))
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A claimed reference, released when the refund ends (or its future is dropped).
struct InFlight<'a> {
    router: &'a Router,
    provider: &'a ProviderId,
    reference: &'a RefundReference,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .router
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(references) = in_flight.get_mut(self.provider) {
            references.remove(self.reference);
        }
    }
}
