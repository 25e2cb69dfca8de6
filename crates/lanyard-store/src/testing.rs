//! Test support (cargo feature `testing`): fresh, migrated stores on every
//! available backend, and [`store_test!`](crate::store_test) to run one test
//! body on each, as ripgrep's `tests/macros.rs` runs each test under both
//! regex engines.
//!
//! SQLite is always available (a private in-memory database per store).
//! PostgreSQL is used when `LANYARD_TEST_POSTGRES` holds a server URL
//! (`scripts/with-postgres.sh` starts a throwaway server and sets it): each
//! store gets a new database with a random name. Without it the PostgreSQL
//! half is skipped, and says so once on stderr.

use std::future::Future;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{AnyConnection, Connection, Executor};

use crate::SqlStore;

/// The environment variable naming a PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "LANYARD_TEST_POSTGRES";

/// The backends a store test runs on, in order.
pub const BACKENDS: [&str; 2] = ["sqlite", "postgres"];

/// Runs `body` once per backend as its own `#[test]`, named
/// `<test>::sqlite` and `<test>::postgres`, so a failure names its backend.
///
/// ```no_run
/// use lanyard_core::directory::ListQuery;
/// use lanyard_core::store::UserStore;
///
/// lanyard_store::store_test!(starts_empty, |store| {
///     let all = ListQuery::new(None, None, None).unwrap();
///     assert!(store.list_users(&all).await.unwrap().items.is_empty());
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! store_test {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                $crate::testing::run("sqlite", |$store: $crate::SqlStore| async move $body);
            }

            #[test]
            fn postgres() {
                $crate::testing::run("postgres", |$store: $crate::SqlStore| async move $body);
            }
        }
    };
}

/// A fresh, migrated store on every available backend, named. PostgreSQL
/// databases made here are left for the throwaway server to take with it
/// ([`run`] drops its own).
pub async fn test_stores() -> Vec<(&'static str, SqlStore)> {
    let mut stores = Vec::new();
    for backend in BACKENDS {
        if let Some((store, _)) = fresh_store(backend).await {
            stores.push((backend, store));
        }
    }
    stores
}

/// A fresh, migrated store on `backend`, with the PostgreSQL database's name;
/// `None` when that backend is not available. Panics on failure: it is for tests.
pub async fn fresh_store(backend: &str) -> Option<(SqlStore, Option<String>)> {
    sqlx::any::install_default_drivers();
    match backend {
        "sqlite" => Some((migrated("sqlite::memory:").await, None)),
        "postgres" => {
            let Some(name) = empty_postgres_database().await else {
                note_postgres_skipped();
                return None;
            };
            Some((migrated(&postgres_url(&name)).await, Some(name)))
        }
        other => panic!("unknown backend {other:?}"),
    }
}

/// A new PostgreSQL database without any table (none without
/// `LANYARD_TEST_POSTGRES`); drop it with [`drop_database`].
pub async fn empty_postgres_database() -> Option<String> {
    sqlx::any::install_default_drivers();
    let server = std::env::var(POSTGRES_ENV).ok()?;
    let name = unique_name();
    let mut admin = AnyConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_ENV} ({server}): {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    admin.close().await.ok();
    Some(name)
}

/// [`test_keyring`]'s key as `LANYARD_SECRETS_KEY` holds it.
pub const TEST_KEY_TEXT: &str = "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=";

/// The secrets key of test stores (fixed: tests need no secrecy).
pub fn test_keyring() -> std::sync::Arc<crate::secrets::Keyring> {
    let key = crate::secrets::SecretsKey::from_bytes(&[0x5a; 32]).expect("a valid key");
    std::sync::Arc::new(crate::secrets::Keyring::new(key, Vec::new()))
}

async fn migrated(url: &str) -> SqlStore {
    let store = SqlStore::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
        .with_keyring(test_keyring());
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate {url}: {e}"));
    store
}

/// Drops a database made by [`fresh_store`], so a long-lived server does not
/// fill up with test databases.
pub async fn drop_database(name: &str) {
    let Ok(server) = std::env::var(POSTGRES_ENV) else {
        return;
    };
    if let Ok(mut admin) = AnyConnection::connect(&server).await {
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
        admin.close().await.ok();
    }
}

/// How many rows `table` (as named in the migrations) holds: lets a test
/// check that a cascade left nothing behind, which no store method shows.
pub async fn count_rows(store: &SqlStore, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("counting {table}: {e}"))
}

/// Runs a statement on the store's database directly: for tests that need
/// rows no store method writes (e.g. ones an older version wrote).
pub async fn execute(store: &SqlStore, sql: &str) {
    sqlx::query(sql)
        .execute(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The text values a query returns (its first column), for tests that
/// look at what is stored.
pub async fn query_strings(store: &SqlStore, sql: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_all(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The URL of the PostgreSQL database `name` made by [`fresh_store`].
pub fn postgres_url(name: &str) -> String {
    let server = std::env::var(POSTGRES_ENV).expect("LANYARD_TEST_POSTGRES is set");
    let mut url = url::Url::parse(&server).expect("LANYARD_TEST_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Runs one store test on one backend, on its own runtime, with a fresh
/// store; returns quietly when the backend is not available. A failure says
/// which backend it happened on.
pub fn run<F, Fut>(backend: &'static str, test: F)
where
    F: FnOnce(SqlStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let Some((store, database)) = rt.block_on(fresh_store(backend)) else {
        return;
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(test(store))));
    if let Some(name) = database {
        rt.block_on(drop_database(&name));
    }
    if let Err(panic) = outcome {
        eprintln!("store test failed on the {backend} backend");
        std::panic::resume_unwind(panic);
    }
}

fn note_postgres_skipped() {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        // Straight to the stream: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL half skipped: set {POSTGRES_ENV} (scripts/with-postgres.sh does)"
        );
    }
}

/// A database name no other test run picks: process id, a counter and the clock.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("lanyard_test_{}_{n}_{nanos}", std::process::id())
}
