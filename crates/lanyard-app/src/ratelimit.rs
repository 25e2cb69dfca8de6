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
//! caps guessing against an account. Memory is bounded: expired windows are
//! pruned whenever the map reaches [`MAX_KEYS`], and if it is still full the
//! new address is let through uncounted (fail open, logged) rather than
//! refused, so a flood from very many addresses cannot lock everyone out of
//! sign-in; the lockout still holds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// Most addresses tracked at once (a few MiB at worst).
pub const MAX_KEYS: usize = 100_000;

const WINDOW: Duration = Duration::minutes(1);

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
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Arc::default(),
        }
    }

    /// Counts one attempt from `addr` (`None` when the server does not
    /// know the peer: those share one key) at `now`.
    pub fn check(&self, addr: Option<IpAddr>, now: OffsetDateTime) -> Verdict {
        let key = addr.map_or(IpAddr::from([0u8; 4]), key_of);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= MAX_KEYS && !windows.contains_key(&key) {
            windows.retain(|_, w| now - w.start < WINDOW);
            if windows.len() >= MAX_KEYS {
                tracing::warn!("sign-in rate limiter full; not counting {key}");
                return Verdict::Allowed;
            }
        }
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
        if w.count <= self.per_minute {
            Verdict::Allowed
        } else {
            Verdict::Limited {
                first: w.count == self.per_minute + 1,
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
    fn a_full_map_prunes_then_fails_open() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let l = RateLimiter::new(0);
        {
            let mut w = l.windows.lock().unwrap();
            for i in 0..MAX_KEYS as u32 {
                w.insert(IpAddr::from(i.to_be_bytes()), Window { start: t, count: 1 });
            }
        }
        // Still full within the window: a new address is not counted.
        assert_eq!(l.check(ip("203.0.113.1"), t), Verdict::Allowed);
        // A minute on, the old windows are pruned and counting resumes.
        let later = t + Duration::minutes(2);
        assert_eq!(
            l.check(ip("203.0.113.1"), later),
            Verdict::Limited { first: true }
        );
        assert_eq!(l.windows.lock().unwrap().len(), 1);
    }
}
