//! A small in-memory, per-node rate limiter for sign-in attempts, keyed by
//! the client's address.
//!
//! Fixed one-minute windows per key: the first attempt opens a window, each
//! attempt in it counts, and past the limit the rest of the window is
//! refused. Time comes from the app's [`Clock`](lanyard_core::Clock), so
//! tests move it. IPv6 clients are keyed by their /64 (one host usually owns
//! a whole /64, so per-address keys would be free to rotate).
//!
//! The limiter is per node on purpose: it only has to slow a single source
//! down; the account lockout (in the database, shared by every node) is what
//! caps guessing against an account. Windows that have run out are dropped
//! once a minute (at the first attempt after it), so the table holds about
//! the addresses seen in the last minute or two, and gives memory back
//! after a burst. Memory is bounded at [`MAX_KEYS`]
//! addresses. When the table is full and a new address arrives: expired
//! windows are pruned; if none were, the oldest window that is not
//! refusing (its address is under the limit) is evicted, so the newcomer
//! gets a window of its own; if every window is refusing (a flood), the
//! newcomer is counted in one shared overflow window with
//! [`OVERFLOW_FACTOR`] times the limit. So a flood of addresses neither
//! passes uncounted nor blocks the sign-in of the addresses already
//! tracked, and an address being refused is never forgotten early.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// Most addresses tracked at once (a few MiB at worst).
pub const MAX_KEYS: usize = 100_000;

const WINDOW: Duration = Duration::minutes(1);

/// The shared overflow window allows this many times the per-address limit.
pub const OVERFLOW_FACTOR: u32 = 10;

/// The key of the overflow window (no client has it: IPv6 clients are
/// keyed by /64 prefixes, which never end in this address).
const OVERFLOW: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0xfff0));

/// What the limiter says about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit; `first` for the first refusal in this window (worth
    /// one audit event; the rest are not).
    Limited {
        first: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: OffsetDateTime,
    count: u32,
}

/// Per-address attempt counter. Cheap to clone (shared state).
#[derive(Clone)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Arc<Mutex<HashMap<IpAddr, Window>>>,
    /// When run-out windows were last dropped (Unix seconds; changed only
    /// with `windows` locked).
    pruned_at: Arc<AtomicI64>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Arc::default(),
            pruned_at: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// Counts one attempt from `addr` (`None` when the server does not
    /// know the peer: those share one key) at `now`.
    pub fn check(&self, addr: Option<IpAddr>, now: OffsetDateTime) -> Verdict {
        let mut key = addr.map_or(IpAddr::from([0u8; 4]), key_of);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let since = now
            .unix_timestamp()
            .saturating_sub(self.pruned_at.load(Ordering::Relaxed));
        if since >= WINDOW.whole_seconds() {
            self.pruned_at
                .store(now.unix_timestamp(), Ordering::Relaxed);
            windows.retain(|_, w| now - w.start < WINDOW);
            let len = windows.len();
            if windows.capacity() > 1024 && windows.capacity() > 4 * len {
                windows.shrink_to(2 * len);
            }
        }
        if windows.len() >= MAX_KEYS && !windows.contains_key(&key) {
            windows.retain(|k, w| *k == OVERFLOW || now - w.start < WINDOW);
            if windows.len() >= MAX_KEYS {
                let limit = self.per_minute;
                let oldest = windows
                    .iter()
                    .filter(|(k, w)| **k != OVERFLOW && w.count <= limit)
                    .min_by_key(|(_, w)| w.start)
                    .map(|(k, _)| *k);
                match oldest {
                    Some(old) => {
                        windows.remove(&old);
                    }
                    None => {
                        tracing::warn!(
                            "sign-in rate limiter full of refused addresses; counting {key} \
                             in the shared overflow window"
                        );
                        key = OVERFLOW;
                    }
                }
            }
        }
        let limit = if key == OVERFLOW {
            self.per_minute.saturating_mul(OVERFLOW_FACTOR)
        } else {
            self.per_minute
        };
        let w = windows.entry(key).or_insert(Window {
            start: now,
            count: 0,
        });
        if now - w.start >= WINDOW || now < w.start {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        if w.count <= limit {
            Verdict::Allowed
        } else {
            Verdict::Limited {
                first: w.count == limit + 1,
            }
        }
    }
}

/// IPv4 addresses as they are; IPv6 by /64 (IPv4-mapped ones as IPv4).
fn key_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn counts_per_address_per_window() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let l = RateLimiter::new(3);
        for _ in 0..3 {
            assert_eq!(l.check(ip("192.0.2.1"), t), Verdict::Allowed);
        }
        assert_eq!(
            l.check(ip("192.0.2.1"), t + Duration::seconds(10)),
            Verdict::Limited { first: true }
        );
        assert_eq!(
            l.check(ip("192.0.2.1"), t + Duration::seconds(20)),
            Verdict::Limited { first: false }
        );
        // Another address has its own window.
        assert_eq!(l.check(ip("192.0.2.2"), t), Verdict::Allowed);
        // A minute later the window starts again.
        assert_eq!(
            l.check(ip("192.0.2.1"), t + Duration::seconds(60)),
            Verdict::Allowed
        );
    }

    #[test]
    fn ipv6_hosts_share_their_64() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let l = RateLimiter::new(1);
        assert_eq!(l.check(ip("2001:db8:1:2::1"), t), Verdict::Allowed);
        assert_eq!(
            l.check(ip("2001:db8:1:2:ffff::9"), t),
            Verdict::Limited { first: true }
        );
        assert_eq!(l.check(ip("2001:db8:1:3::1"), t), Verdict::Allowed);
        assert_eq!(
            key_of("::ffff:192.0.2.9".parse().unwrap()),
            "192.0.2.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn run_out_windows_are_dropped_once_a_minute() {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let l = RateLimiter::new(3);
        for i in 0..5000u32 {
            l.check(Some(IpAddr::from(i.to_be_bytes())), t);
        }
        assert_eq!(l.windows.lock().unwrap().len(), 5000);
        // Within the minute nothing is dropped.
        l.check(ip("203.0.113.1"), t + Duration::seconds(30));
        assert_eq!(l.windows.lock().unwrap().len(), 5001);
        // A minute after the last pruning, the first attempt drops every
        // window that has run out (the 5,000), not the one still open.
        let later = t + Duration::seconds(61);
        assert_eq!(l.check(ip("203.0.113.2"), later), Verdict::Allowed);
        let w = l.windows.lock().unwrap();
        assert_eq!(w.len(), 2);
        assert!(w.contains_key(&ip("203.0.113.1").unwrap()));
        assert!(
            w.capacity() < 5000,
            "memory given back: capacity {}",
            w.capacity()
        );
    }

    /// A table full of windows started at `t`, each with `count` attempts.
    fn full(l: &RateLimiter, t: OffsetDateTime, count: u32) {
        let mut w = l.windows.lock().unwrap();
        for i in 0..MAX_KEYS as u32 {
            w.insert(IpAddr::from(i.to_be_bytes()), Window { start: t, count });
        }
    }

    #[test]
    fn a_full_table_drops_expired_windows_first() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let l = RateLimiter::new(1);
        full(&l, t, 1);
        let later = t + Duration::minutes(2);
        // The once-a-minute pruning has just run: this is the full table's
        // own pruning.
        l.pruned_at
            .store(later.unix_timestamp() - 1, Ordering::Relaxed);
        assert_eq!(l.check(ip("203.0.113.1"), later), Verdict::Allowed);
        assert_eq!(
            l.check(ip("203.0.113.1"), later),
            Verdict::Limited { first: true }
        );
        assert_eq!(l.windows.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_window_that_is_not_refusing() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let l = RateLimiter::new(2);
        full(&l, t + Duration::seconds(30), 1);
        {
            let mut w = l.windows.lock().unwrap();
            // The oldest two: one refusing (kept), one not (evicted).
            w.insert(ip("10.0.0.1").unwrap(), Window { start: t, count: 3 });
            w.insert(ip("10.0.0.2").unwrap(), Window { start: t, count: 1 });
            w.remove(&IpAddr::from(0u32.to_be_bytes()));
            w.remove(&IpAddr::from(1u32.to_be_bytes()));
        }
        let now = t + Duration::seconds(40);
        // The newcomer gets its own window and its own limit.
        assert_eq!(l.check(ip("203.0.113.1"), now), Verdict::Allowed);
        assert_eq!(l.check(ip("203.0.113.1"), now), Verdict::Allowed);
        assert_eq!(
            l.check(ip("203.0.113.1"), now),
            Verdict::Limited { first: true }
        );
        let w = l.windows.lock().unwrap();
        assert!(!w.contains_key(&ip("10.0.0.2").unwrap()), "evicted");
        assert!(
            w.contains_key(&ip("10.0.0.1").unwrap()),
            "a refused address is kept"
        );
        assert_eq!(w.len(), MAX_KEYS);
    }

    #[test]
    fn a_table_full_of_refused_addresses_counts_newcomers_together() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let l = RateLimiter::new(1);
        full(&l, t, 5);
        // New addresses share one overflow window of 10 x the limit: they
        // are counted (not let through forever) ...
        for i in 0..OVERFLOW_FACTOR {
            let addr = IpAddr::from([198, 51, 100, i as u8]);
            assert_eq!(l.check(Some(addr), t), Verdict::Allowed, "{addr}");
        }
        assert_eq!(
            l.check(ip("198.51.100.200"), t),
            Verdict::Limited { first: true }
        );
        // ... and the addresses already tracked keep their own windows.
        let tracked = IpAddr::from(7u32.to_be_bytes());
        assert_eq!(
            l.check(Some(tracked), t + Duration::seconds(61)),
            Verdict::Allowed,
            "its own window, renewed"
        );
    }
}
