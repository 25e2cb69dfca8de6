//! Time as an input.
//!
//! Use-cases and protocol code never read the system clock themselves; they are
//! handed a [`Clock`], so expiry and validity windows can be tested by moving a
//! [`FixedClock`].

use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// Something that can tell the current time.
///
/// `Send + Sync` so one clock can be shared by every request handler.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;
}

/// The real wall clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until told otherwise; for tests and demos.
///
/// Shared by reference (e.g. `Arc<FixedClock>`), so a test can keep one handle
/// and move time while the code under test holds another.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<OffsetDateTime>,
}

impl FixedClock {
    /// A clock that reads `now` until [`set`](Self::set) or
    /// [`advance`](Self::advance) is called.
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Make the clock read `now` from here on.
    pub fn set(&self, now: OffsetDateTime) {
        *self.lock() = now;
    }

    /// Move the clock by `by` (which may be negative).
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    // The guarded value is a plain timestamp that is always valid, so a panic
    // in another holder cannot leave it half-written: ignore poisoning.
    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;

    #[test]
    fn fixed_clock_reads_what_it_was_given_until_moved() {
        let clock = FixedClock::new(datetime!(2025-01-02 03:04:05 UTC));
        assert_eq!(clock.now(), datetime!(2025-01-02 03:04:05 UTC));
        assert_eq!(clock.now(), datetime!(2025-01-02 03:04:05 UTC));

        clock.advance(Duration::minutes(5));
        assert_eq!(clock.now(), datetime!(2025-01-02 03:09:05 UTC));

        clock.advance(Duration::seconds(-10));
        assert_eq!(clock.now(), datetime!(2025-01-02 03:08:55 UTC));

        clock.set(datetime!(2030-06-01 00:00:00 UTC));
        assert_eq!(clock.now(), datetime!(2030-06-01 00:00:00 UTC));
    }

    #[test]
    fn a_shared_fixed_clock_moves_for_every_holder() {
        let handle = Arc::new(FixedClock::new(datetime!(2025-01-01 00:00:00 UTC)));
        let shared: Arc<dyn Clock> = handle.clone();
        handle.advance(Duration::hours(1));
        assert_eq!(shared.now(), datetime!(2025-01-01 01:00:00 UTC));
    }

    #[test]
    fn system_clock_is_utc_and_moves_forward() {
        let first = SystemClock.now();
        let second = SystemClock.now();
        assert!(first.offset().is_utc());
        assert!(second >= first);
        // Sanity: not a zero or fixed value (2024-01-01 is in the past).
        assert!(first > time::macros::datetime!(2024-01-01 00:00:00 UTC));
    }
}
