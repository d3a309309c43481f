//! Injectable time: a [`Clock`] that tells the wall-clock time and a [`Sleeper`] that waits, with
//! real implementations and a [`ManualClock`] for tests that never really sleep.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::provider::BoxFuture;

/// Tells the current wall-clock time. Used to read `Retry-After` dates and to time budgets.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// Waits for a while. Object-safe, so that it can be held as `Arc<dyn Sleeper>`.
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The system's wall clock ([`SystemTime::now`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Sleeps with [`tokio::time::sleep`] (needs a Tokio runtime with the time driver enabled).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock for tests: time stands still until [`advance`](Self::advance)d, and sleeping returns
/// at once after advancing the clock by the requested duration and recording it.
///
/// Cheap to clone; clones share the same time and the same record of sleeps, so a test keeps one
/// clone and hands another to the code under test.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use refund_core::retry::{Clock, ManualClock, Sleeper};
///
/// # async fn demo() {
/// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let start = clock.now();
/// clock.sleep(Duration::from_millis(500)).await; // returns immediately
/// assert_eq!(clock.now(), start + Duration::from_millis(500));
/// assert_eq!(clock.sleeps(), vec![Duration::from_millis(500)]);
/// # }
/// ```
#[derive(Clone)]
pub struct ManualClock {
    state: Arc<Mutex<ManualState>>,
}

struct ManualState {
    now: SystemTime,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            state: Arc::new(Mutex::new(ManualState {
                now: start,
                sleeps: Vec::new(),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, ManualState> {
        // A panic while the lock was held (only possible in a failing test) leaves plain data
        // that is still consistent, so carry on with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock forward (saturating at the largest representable time).
    pub fn advance(&self, by: Duration) {
        let mut state = self.state();
        state.now = state.now.checked_add(by).unwrap_or(state.now);
    }

    /// Sets the clock to `now`.
    pub fn set(&self, now: SystemTime) {
        self.state().now = now;
    }

    /// Every duration slept so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state().sleeps.clone()
    }

    /// The sum of every duration slept so far.
    pub fn total_slept(&self) -> Duration {
        self.state()
            .sleeps
            .iter()
            .fold(Duration::ZERO, |sum, d| sum.saturating_add(*d))
    }
}

impl Default for ManualClock {
    /// A clock standing at 2023-11-14T22:13:20Z (Unix time 1 700 000 000).
    fn default() -> Self {
        ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("ManualClock")
            .field("now", &state.now)
            .field("sleeps", &state.sleeps.len())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.state().now
    }
}

impl Sleeper for ManualClock {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        {
            let mut state = self.state();
            state.sleeps.push(duration);
            state.now = state.now.checked_add(duration).unwrap_or(state.now);
        }
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_records_and_advances() {
        let clock = ManualClock::default();
        let other = clock.clone();
        let t0 = clock.now();
        other.sleep(Duration::from_secs(2)).await;
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), t0 + Duration::from_secs(3));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(2)]);
        assert_eq!(other.total_slept(), Duration::from_secs(2));
        clock.set(t0);
        assert_eq!(other.now(), t0);
    }

    #[tokio::test]
    async fn real_implementations() {
        let before = SystemTime::now();
        assert!(SystemClock.now() >= before);
        // A zero sleep completes without waiting; it shows the future is driven by tokio.
        TokioSleeper.sleep(Duration::ZERO).await;
    }
}
