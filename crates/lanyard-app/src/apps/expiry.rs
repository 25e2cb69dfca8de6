//! Warnings before an app's active signing certificate expires: from 30
//! days before (and again at 7 and 1 days, and once expired) the admin
//! portal shows a banner and the SSO tab says so, and the server's log
//! warns once per app at each of those steps; `/metrics` exports every
//! expiry (`lanyard_signing_certificate_not_after_timestamp_seconds`).
//!
//! The list is read from the database at most once a minute per node
//! ([`CACHE_FOR`]), and afresh after any change this node commits (a new
//! key, an activation, a deleted app).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lanyard_core::application::KeyExpiry;
use lanyard_core::Result;
use time::OffsetDateTime;

use crate::Lanyard;

/// Days before expiry at which the warnings start, then escalate.
pub const WARN_AT_DAYS: [i64; 3] = [30, 7, 1];

/// How long a node reuses the list it read.
const CACHE_FOR: Duration = Duration::from_secs(60);

/// An app whose active certificate expires within 30 days (or has expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiring {
    pub app_id: i64,
    pub label: String,
    pub slug: String,
    pub not_after: OffsetDateTime,
    /// Whole days left (negative once expired).
    pub days_left: i64,
    /// The warning step reached: 30, 7, 1, or 0 once expired.
    pub step: i64,
}

impl Expiring {
    /// What the banner and the SSO tab say.
    pub fn message(&self) -> String {
        let date = self.not_after.date();
        let when = match self.days_left {
            d if d < 0 => format!("expired on {date}"),
            0 => format!("expires today ({date})"),
            1 => format!("expires tomorrow ({date})"),
            d => format!("expires in {d} days ({date})"),
        };
        format!(
            "The signing certificate of {} {when}: generate a new key, upload the new metadata to the service provider, then make it the signing key.",
            self.label
        )
    }
}

/// The warning step for `days_left`, if any.
pub fn step(days_left: i64) -> Option<i64> {
    if days_left < 0 {
        return Some(0);
    }
    WARN_AT_DAYS.iter().rev().copied().find(|d| days_left <= *d)
}

/// The node's cache and what it has already logged.
#[derive(Default)]
pub(crate) struct ExpiryState {
    cached: Mutex<Option<(Instant, Vec<KeyExpiry>)>>,
    /// (app, expiry, step) already warned about in the log.
    logged: Mutex<HashSet<(i64, i64, i64)>>,
}

impl ExpiryState {
    /// Forgets the cached list (after a change on this node).
    pub(crate) fn forget(&self) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// The apps whose certificate needs attention, soonest first.
pub async fn expiring(l: &Lanyard) -> Result<Vec<Expiring>> {
    let state = &l.0.expiry;
    let fresh = {
        let cached = state.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, list)| list.clone())
    };
    let all = match fresh {
        Some(list) => list,
        None => {
            let list = l.store().active_key_expiries().await?;
            *state.cached.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((Instant::now(), list.clone()));
            list
        }
    };
    let now = l.now();
    Ok(all.into_iter().filter_map(|e| warning(e, now)).collect())
}

/// The warning for one certificate at `now`, if it needs one.
pub fn warning(e: KeyExpiry, now: OffsetDateTime) -> Option<Expiring> {
    let left = e.not_after - now;
    // Expired a moment ago is "expired", not "0 days left".
    let days_left = if left.is_negative() {
        left.whole_days().min(-1)
    } else {
        left.whole_days()
    };
    step(days_left).map(|step| Expiring {
        app_id: e.app_id.0,
        label: e.label,
        slug: e.slug,
        not_after: e.not_after,
        days_left,
        step,
    })
}

/// Logs a warning for every app that reached a new step since this node
/// last looked (each step once per node).
pub async fn warn_in_log(l: &Lanyard) {
    let list = match expiring(l).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!("cannot read the signing certificates' expiry: {e}");
            return;
        }
    };
    let mut logged = l.0.expiry.logged.lock().unwrap_or_else(|e| e.into_inner());
    for e in list {
        if logged.insert((e.app_id, e.not_after.unix_timestamp(), e.step)) {
            tracing::warn!(
                app = %e.slug.escape_debug(),
                days_left = e.days_left,
                not_after = %e.not_after.date(),
                "signing certificate expiring: {}",
                e.message()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_start_at_30_days_and_escalate() {
        assert_eq!(step(31), None);
        assert_eq!(step(30), Some(30));
        assert_eq!(step(8), Some(30));
        assert_eq!(step(7), Some(7));
        assert_eq!(step(2), Some(7));
        assert_eq!(step(1), Some(1));
        assert_eq!(step(0), Some(1));
        assert_eq!(step(-1), Some(0));
    }
}
