//! Retention in `lanyard serve`: the hourly run of
//! [`lanyard_app::retention::prune`] (the first a minute after start), on a
//! thread of its own at the lowest CPU priority, with a database
//! connection of its own made on that thread.
//!
//! Why: on SQLite the deletes run on the connection's worker thread, in the
//! server's process, and compete for the cores with sign-ins. Each
//! statement is a few milliseconds, but while it runs a request that needed
//! that core waits: the SSO p99 at half load rose by half while a million
//! expired events were pruned at normal priority (`bench/retention.sh`,
//! docs/BENCHMARKS.md). At nice 19 the kernel runs the pruning only when a
//! core would otherwise idle. SQLite's worker thread is started by the
//! thread that opens the connection and inherits its priority, hence the
//! connection of its own. On PostgreSQL the work happens in the database
//! server, where this changes nothing and costs nothing.
//!
//! A private in-memory SQLite database cannot be reached by a second
//! connection: there retention runs on the server's own store, as before.

use std::time::Duration;

use lanyard_app::retention::{prune_store, Pruned, Retention};
use lanyard_app::Lanyard;
use lanyard_core::store::Store;
use lanyard_store::SqlStore;

use crate::config::Loaded;

/// The first run's delay after start.
const FIRST: Duration = Duration::from_secs(60);
/// Between runs.
const EVERY: Duration = Duration::from_secs(3600);

/// Starts hourly retention (see the module docs).
pub fn spawn(loaded: &Loaded, lanyard: Lanyard) {
    let retention = loaded.retention();
    let url = loaded.database.as_secret_str().to_owned();
    if SqlStore::is_private_memory(&url) {
        tokio::spawn(async move {
            tokio::time::sleep(FIRST).await;
            loop {
                report(lanyard_app::retention::prune(&lanyard, retention).await);
                tokio::time::sleep(EVERY).await;
            }
        });
        return;
    }
    let started = std::thread::Builder::new()
        .name("lanyard-retention".into())
        .spawn(move || {
            lowest_priority();
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::warn!("retention is off: cannot start its runtime: {e}");
                    return;
                }
            };
            runtime.block_on(hourly(&url, &lanyard, retention));
        });
    if let Err(e) = started {
        tracing::warn!("retention is off: cannot start its thread: {e}");
    }
}

/// The loop on retention's thread: connects when a run is due (again the
/// next hour if the database cannot be reached), then prunes.
async fn hourly(url: &str, lanyard: &Lanyard, retention: Retention) {
    let mut store: Option<SqlStore> = None;
    tokio::time::sleep(FIRST).await;
    loop {
        if store.is_none() {
            match SqlStore::connect(url).await {
                Ok(s) => store = Some(s),
                Err(e) => tracing::warn!("retention failed (tried again in an hour): {e}"),
            }
        }
        if let Some(s) = &store {
            let idle = lanyard.settings().auth.session_idle;
            let store: &dyn Store = s;
            report(prune_store(store, lanyard.now(), idle, retention).await);
        }
        tokio::time::sleep(EVERY).await;
    }
}

fn report(result: lanyard_core::Result<Pruned>) {
    match result {
        Ok(p) if p != Pruned::default() => tracing::info!(
            audit_events = p.audit_events,
            sessions = p.sessions,
            ended_sessions = p.ended_sessions,
            expired = p.expired,
            "retention: deleted what is no longer kept"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("retention failed (tried again in an hour): {e}"),
    }
}

/// Nice 19 for the calling thread (and the threads it starts). On Linux a
/// thread id is a valid `setpriority` target and affects only that thread.
/// Lowering one's own priority needs no privilege; if it fails anyway,
/// retention runs at normal priority, as before.
pub fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(me), 19) {
            tracing::debug!("retention stays at normal priority: {e}");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use rustix::process::getpriority_process;
    use rustix::thread::gettid;

    fn mine() -> i32 {
        getpriority_process(Some(gettid())).unwrap()
    }

    #[test]
    fn the_lowest_priority_is_the_threads_and_its_childrens_only() {
        let before = mine();
        let (own, child) = std::thread::spawn(|| {
            super::lowest_priority();
            let child = std::thread::spawn(mine).join().unwrap();
            (mine(), child)
        })
        .join()
        .unwrap();
        assert_eq!((own, child), (19, 19));
        assert_eq!(mine(), before, "the calling test's thread is untouched");
    }
}
