//! Retention: what the database no longer needs is deleted, in small
//! batches, so it does not grow forever and sign-ins never wait long for a
//! lock.
//!
//! - audit events older than `audit_retention_days` (default 400; 0 keeps
//!   them forever);
//! - expired and idle sessions (user and admin) and spent sign-in throttle
//!   rows (sign-ins also purge them, this catches quiet periods);
//! - remembered AuthnRequest ids and ForceAuthn sightings once they could
//!   not be answered anyway, and expired one-time form tokens.
//!
//! `lanyard serve` runs [`prune`] hourly; each statement deletes at most
//! [`BATCH`] rows, with a short pause between statements.

use std::time::Duration;

use lanyard_core::Result;

use crate::Lanyard;

/// Rows per DELETE statement.
pub const BATCH: u32 = 1000;

/// Pause between two batches: other writers get the lock in between.
const PAUSE: Duration = Duration::from_millis(20);

/// How long what is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Audit events older than this many days are deleted; 0 keeps all.
    pub audit_days: u32,
}

/// What one run deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub audit_events: u64,
    pub sessions: u64,
    pub expired: u64,
}

/// Deletes everything past its retention (see the module docs).
pub async fn prune(l: &Lanyard, retention: Retention) -> Result<Pruned> {
    let store = l.store();
    let now = l.now();
    let mut pruned = Pruned::default();
    if retention.audit_days > 0 {
        let before = now - time::Duration::days(i64::from(retention.audit_days));
        loop {
            let n = store.prune_audit_events(before, BATCH).await?;
            pruned.audit_events += n;
            if n < u64::from(BATCH) {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    loop {
        let n = store.prune_expired(now, BATCH).await?;
        pruned.expired += n;
        if n < u64::from(BATCH) {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    let idle_before = now - l.settings().auth.session_idle;
    pruned.sessions += store.purge_sessions(now, idle_before).await?;
    pruned.sessions += store.purge_admin_sessions(now, idle_before).await?;
    store.purge_sources(now).await?;
    Ok(pruned)
}
