//! Retention: what the database no longer needs is deleted, in small
//! batches, so it does not grow forever and sign-ins never wait long for a
//! lock.
//!
//! - audit events older than `audit_retention_days` (default 400; 0 keeps
//!   them forever);
//! - the session history: user sessions that ended more than
//!   `ended_session_retention_days` ago (default 30; 0 keeps them forever);
//! - expired and idle sessions (user and admin) and spent sign-in throttle
//!   rows (sign-ins also purge them, this catches quiet periods);
//! - remembered AuthnRequest ids and ForceAuthn sightings once they could
//!   not be answered anyway, and expired one-time form tokens.
//!
//! `lanyard serve` runs [`prune_store`] hourly (on a thread of its own at
//! the lowest CPU priority, with its own connection: `lanyard/src/
//! retention.rs`); each statement deletes at most [`BATCH`] rows, as many
//! as take about [`STATEMENT_TIME`] (sized by the previous statement), and
//! after each the run rests [`REST_FACTOR`] times as long as the statement
//! took (at least [`PAUSE`]): pruning takes at most about a tenth of one
//! core and of SQLite's write lock, a few milliseconds at a time, however
//! slow the machine. `bench/retention.sh` measures what sign-ins running
//! meanwhile feel (docs/BENCHMARKS.md). A million expired events take
//! several minutes; nothing waits for them.

use std::time::Duration;

use lanyard_core::store::Store;
use lanyard_core::Result;
use time::OffsetDateTime;

use crate::Lanyard;

/// The most rows one DELETE statement takes.
pub const BATCH: u32 = 1000;

/// The fewest rows a DELETE statement takes, however slow they are.
const MIN_BATCH: u32 = 20;

/// How long one DELETE statement should take: the batch size follows the
/// time the last statement took towards this, so SQLite's write lock and
/// the core that runs the statement are taken a few milliseconds at a time
/// on any machine (a batch of 1,000 audit events took 40-45 ms on SQLite
/// under SSO load, and the p99 of the SSO running meanwhile showed it).
const STATEMENT_TIME: Duration = Duration::from_millis(4);

/// Shortest pause between two batches: other writers get the lock in
/// between.
const PAUSE: Duration = Duration::from_millis(20);

/// The pause after a batch is this many times the batch's own time.
const REST_FACTOR: u32 = 9;

/// The next batch size after `limit` rows took `took`: scaled towards
/// [`STATEMENT_TIME`], at most doubling, within [`MIN_BATCH`]..=[`BATCH`].
fn next_limit(limit: u32, took: Duration) -> u32 {
    let scaled = u128::from(limit) * STATEMENT_TIME.as_micros() / took.as_micros().max(1);
    let capped = scaled.min(u128::from(limit) * 2);
    u32::try_from(capped)
        .unwrap_or(BATCH)
        .clamp(MIN_BATCH, BATCH)
}

/// Runs `batch(limit)` until it deletes fewer than `limit` rows, sizing
/// each batch by the last one's time and resting between batches (see the
/// module docs); returns the rows deleted.
async fn in_batches<F, Fut>(mut batch: F) -> Result<u64>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let mut total = 0;
    let mut limit = BATCH;
    loop {
        let started = std::time::Instant::now();
        let n = batch(limit).await?;
        let took = started.elapsed();
        total += n;
        if n < u64::from(limit) {
            return Ok(total);
        }
        limit = next_limit(limit, took);
        tokio::time::sleep(PAUSE.max(took * REST_FACTOR)).await;
    }
}

/// How long what is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Audit events older than this many days are deleted; 0 keeps all.
    pub audit_days: u32,
    /// Sessions that ended more than this many days ago leave the session
    /// history; 0 keeps all.
    pub ended_session_days: u32,
}

/// What one run deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub audit_events: u64,
    /// Sessions that ended (expired or idle) in this run.
    pub sessions: u64,
    /// Ended sessions forgotten from the history.
    pub ended_sessions: u64,
    pub expired: u64,
}

/// Deletes everything past its retention (see the module docs).
pub async fn prune(l: &Lanyard, retention: Retention) -> Result<Pruned> {
    let idle = l.settings().auth.session_idle;
    prune_store(l.store(), l.now(), idle, retention).await
}

/// [`prune`] through `store` (`lanyard serve` gives retention a database
/// connection of its own), at `now`, with sessions unused for
/// `session_idle` ended.
pub async fn prune_store(
    store: &dyn Store,
    now: OffsetDateTime,
    session_idle: time::Duration,
    retention: Retention,
) -> Result<Pruned> {
    let mut pruned = Pruned::default();
    if retention.audit_days > 0 {
        let before = now - time::Duration::days(i64::from(retention.audit_days));
        pruned.audit_events = in_batches(|n| store.prune_audit_events(before, n)).await?;
    }
    if retention.ended_session_days > 0 {
        let before = now - time::Duration::days(i64::from(retention.ended_session_days));
        pruned.ended_sessions = in_batches(|n| store.prune_ended_sessions(before, n)).await?;
    }
    pruned.expired = in_batches(|n| store.prune_expired(now, n)).await?;
    let idle_before = now - session_idle;
    pruned.sessions += store.purge_sessions(now, idle_before).await?;
    pruned.sessions += store.purge_admin_sessions(now, idle_before).await?;
    store.purge_sources(now).await?;
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_follow_the_statement_time() {
        let ms = Duration::from_millis;
        // 1,000 rows in 40 ms: a tenth as many next time.
        assert_eq!(next_limit(1000, ms(40)), 100);
        // Fast statements grow the batch, at most doubling, up to BATCH.
        assert_eq!(next_limit(100, ms(1)), 200);
        assert_eq!(next_limit(800, ms(1)), BATCH);
        assert_eq!(next_limit(100, ms(4)), 100);
        // However slow, never fewer than MIN_BATCH; a zero time is fine.
        assert_eq!(next_limit(100, Duration::from_secs(5)), MIN_BATCH);
        assert_eq!(next_limit(100, Duration::ZERO), 200);
    }
}
