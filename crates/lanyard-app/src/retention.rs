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
//! [`BATCH`] rows, and after each the run rests [`REST_FACTOR`] times as
//! long as the statement took (at least [`PAUSE`]): pruning takes at most
//! about a tenth of one core and of SQLite's write lock, however slow the
//! machine. `bench/retention.sh` measures what sign-ins running meanwhile
//! feel: on PostgreSQL nothing measurable; on SQLite the SSO p99 rises by
//! about a third (2.6-3.0 -> 3.5-3.9 ms at half load on two cores), and resting
//! longer does not change that (docs/BENCHMARKS.md). A million expired
//! events take several minutes; nothing waits for them.

use std::time::Duration;

use lanyard_core::Result;

use crate::Lanyard;

/// Rows per DELETE statement.
pub const BATCH: u32 = 1000;

/// Shortest pause between two batches: other writers get the lock in
/// between.
const PAUSE: Duration = Duration::from_millis(20);

/// The pause after a batch is this many times the batch's own time.
const REST_FACTOR: u32 = 9;

/// Runs `batch` until it deletes fewer than [`BATCH`] rows, resting between
/// batches (see the module docs); returns the rows deleted.
async fn in_batches<F, Fut>(mut batch: F) -> Result<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let mut total = 0;
    loop {
        let started = std::time::Instant::now();
        let n = batch().await?;
        total += n;
        if n < u64::from(BATCH) {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE.max(started.elapsed() * REST_FACTOR)).await;
    }
}

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
        pruned.audit_events = in_batches(|| store.prune_audit_events(before, BATCH)).await?;
    }
    pruned.expired = in_batches(|| store.prune_expired(now, BATCH)).await?;
    let idle_before = now - l.settings().auth.session_idle;
    pruned.sessions += store.purge_sessions(now, idle_before).await?;
    pruned.sessions += store.purge_admin_sessions(now, idle_before).await?;
    store.purge_sources(now).await?;
    Ok(pruned)
}
