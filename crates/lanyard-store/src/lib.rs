//! Lanyard's storage: one SQL implementation of the `lanyard-core` store
//! traits, for SQLite (the default, one file) and PostgreSQL.
//!
//! # Choices
//!
//! * **One `sqlx::AnyPool`, not a pool per database.** Every query is written
//!   once, in the portable subset both databases share (`$n` placeholders,
//!   `RETURNING`, `ON CONFLICT`, integers, text and bytes only), and runs
//!   unchanged on either. Two concrete pools would need each query either
//!   written twice or made generic over `sqlx::Database` with a wall of trait
//!   bounds. What does differ (URL handling, connection pragmas, migrations,
//!   how a unique violation names its column, database size) lives in
//!   `dialect`; nothing else asks which database it is talking to. The
//!   price is that Any decodes only integers, floats, text, bytes and bools,
//!   and bools only from PostgreSQL: flags are therefore integer 0/1 columns
//!   on both databases.
//! * **Timestamps are BIGINT unix milliseconds** on both databases: Any has no
//!   date types, integers compare and index the same everywhere, and audit
//!   `since`/`until` filters become integer ranges. Values read back are
//!   truncated to the millisecond, and the `User` a write returns is the
//!   stored one, so `create` and `get` agree.
//! * **Attributes are a JSON text column** on their user or group, not an
//!   attribute table: they are always read and written whole with their owner
//!   (a patch replaces the map), no query filters on them, so a page of users
//!   needs no extra query at all and an update is one statement.
//! * **Case-insensitive uniqueness and search use lower-cased copies made in
//!   Rust** (`username_lc`, `first_name_lc`, ...; emails are stored
//!   lower-cased): SQLite's `lower()` folds only ASCII while PostgreSQL's
//!   follows the locale, so folding in the database would make the two
//!   disagree. Prefix search is a range (`col >= 'ann' AND col < 'ano'`), which
//!   a plain index serves on both (PostgreSQL columns are `COLLATE "C"` so
//!   ranges are code-point order), needs no LIKE escaping, and is exact.
//! * **Units of work share the methods.** Every method runs its statements
//!   on `SqlStore::conn`: a pooled connection, or, in a store made by
//!   `begin`, the unit of work's one transaction (a method's own
//!   transaction becomes a savepoint in it). So each query is still written
//!   once, and a use-case can make several changes and write its audit
//!   event atomically.
//! * **Keyset pagination** by id everywhere, fetching one row more than the
//!   page to know whether `next` exists. Listing and search queries are sent
//!   as one-off statements so PostgreSQL plans them with the actual values
//!   (a cached generic plan guesses a prefix range's selectivity badly).
//!
//! # Modules
//!
//! | module | owns |
//! | --- | --- |
//! | `dialect` | every SQLite/PostgreSQL difference the Rust code knows of |
//! | `rows` | row structs, timestamp and JSON codecs, sqlx error -> `Error` |
//! | `sql` | the dynamic WHERE builder, prefix ranges, keyset pages, placeholder lists |
//! | `users`, `groups`, `admins` (admins and API keys), `audit` | one store trait implementation each |
//! | `apps` | `AppStore`: applications, signing keys, group bindings, entitlements, portal images |
//! | `admin_sessions` | `AdminSessionStore`: admin portal sessions, joined with their admin; one-time form tokens |
//! | `sign_in` | `SignInStore`: sessions and the history of ended ones, the lockout counter, TOTP secrets and used steps, seen AuthnRequest IDs |
//! | [`secrets`] | the keyring secrets are encrypted with at rest; the key check at start, the upgrade of cleartext secrets, rotation |
//! | `lib.rs` | `SqlStore`, its connections and units of work (`Transactional`) |
//! | `inline_read` | SQLite: the session reads of signed-in requests on the calling thread (rusqlite), falling back to the pool |
//! | `bulk` | batch loading for imports and the benchmark |
//! | `testing` (feature `testing`) | fresh stores on every backend, `store_test!` |

mod admin_sessions;
mod admins;
mod apps;
mod audit;
mod backup;
mod bulk;
mod dialect;
mod groups;
mod inline_read;
mod rows;
pub mod secrets;
mod sign_in;
mod sql;
mod users;

#[cfg(feature = "testing")]
pub mod testing;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use lanyard_core::store::{Transactional, UnitOfWork};
use lanyard_core::Error;

use crate::dialect::Backend;

/// The SQL store. Cheap to clone: clones share one connection pool.
///
/// A store made by [`Transactional::begin`] is a *unit of work*: it holds
/// one transaction and runs every statement on it (methods that need a
/// transaction of their own get a savepoint inside it) until
/// [`UnitOfWork::commit`].
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// Set in a unit of work; `None` inside once it has ended.
    tx: Option<Arc<Mutex<Option<Transaction<'static, Any>>>>>,
    /// The keys secrets are encrypted with ([`secrets`]); without one, a
    /// method that stores or reads a secret fails.
    keyring: Option<Arc<secrets::Keyring>>,
    /// SQLite file databases: the session reads made on the calling
    /// thread ([`inline_read`]); never set in a unit of work.
    inline: Option<Arc<inline_read::InlineReader>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .field("unit_of_work", &self.tx.is_some())
            .finish_non_exhaustive()
    }
}

/// A connection for one statement (or one method's own transaction): from
/// the pool, or the unit of work's transaction, held until dropped.
pub(crate) enum Conn<'a> {
    Pool(PoolConnection<Any>),
    Work(MappedMutexGuard<'a, Transaction<'static, Any>>),
}

impl Deref for Conn<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Conn::Pool(c) => c,
            Conn::Work(t) => t,
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Conn::Pool(c) => c,
            Conn::Work(t) => t,
        }
    }
}

#[async_trait]
impl lanyard_core::store::StoreInfo for SqlStore {
    fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    async fn ping(&self) -> lanyard_core::Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query("SELECT 1")
            .execute(&mut *conn)
            .await
            .map_err(crate::rows::db)?;
        Ok(())
    }

    fn pool_stats(&self) -> lanyard_core::store::PoolStats {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        lanyard_core::store::PoolStats {
            in_use: size.saturating_sub(idle),
            idle,
        }
    }

    fn statement_errors(&self) -> u64 {
        crate::rows::STATEMENT_ERRORS.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait]
impl Transactional for SqlStore {
    /// PostgreSQL: `BEGIN` (read committed). SQLite: `BEGIN IMMEDIATE`, so
    /// the write lock is taken (waiting up to the busy timeout) before the
    /// first read: a deferred transaction that read first could not
    /// upgrade to a writer after another connection's commit, and would
    /// fail at once instead of waiting.
    async fn begin(&self) -> lanyard_core::Result<Box<dyn UnitOfWork>> {
        if self.tx.is_some() {
            return Err(Error::Store(
                "a unit of work cannot begin another one".into(),
            ));
        }
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(rows::db)?;
        Ok(Box::new(SqlStore {
            pool: self.pool.clone(),
            backend: self.backend,
            tx: Some(Arc::new(Mutex::new(Some(tx)))),
            keyring: self.keyring.clone(),
            inline: None,
        }))
    }
}

#[async_trait]
impl UnitOfWork for SqlStore {
    async fn commit(self: Box<Self>) -> lanyard_core::Result<()> {
        let tx = match &self.tx {
            Some(slot) => slot.lock().await.take(),
            None => None,
        };
        match tx {
            Some(tx) => tx.commit().await.map_err(rows::db),
            None => Err(Error::Store("commit outside a unit of work".into())),
        }
    }
}

impl SqlStore {
    /// Where this store's next statement runs: a pooled connection, or the
    /// unit of work's transaction (waiting while another of its statements
    /// runs). Hold it for one statement or one method's own transaction,
    /// never across a call to another store method.
    pub(crate) async fn conn(&self) -> lanyard_core::Result<Conn<'_>> {
        match &self.tx {
            None => self.pool.acquire().await.map(Conn::Pool).map_err(rows::db),
            Some(slot) => MutexGuard::try_map(slot.lock().await, Option::as_mut)
                .map(Conn::Work)
                .map_err(|_| Error::Store("the unit of work has ended".into())),
        }
    }

    /// Whether `url` names a private in-memory SQLite database, which a
    /// second connection cannot reach (it would open another, empty one).
    pub fn is_private_memory(url: &str) -> bool {
        dialect::is_sqlite_memory(url)
    }

    /// Connects to `sqlite://path.db` (created if missing; WAL, foreign keys
    /// on, 5 s busy timeout), `sqlite::memory:` (private, one connection) or
    /// `postgres://...`. Does not migrate: call [`SqlStore::migrate`].
    pub async fn connect(url: &str) -> Result<SqlStore, Error> {
        Self::connect_pinging(url, dialect::PING_IF_IDLE_FOR).await
    }

    /// [`SqlStore::connect`], with PostgreSQL connections idle for
    /// `ping_if_idle_for` pinged before use (the default is one second;
    /// tests use zero to see a dropped connection replaced at once).
    pub async fn connect_pinging(
        url: &str,
        ping_if_idle_for: std::time::Duration,
    ) -> Result<SqlStore, Error> {
        let backend = Backend::of_url(url)?;
        let pool = backend.connect(url, ping_if_idle_for).await.map_err(|e| {
            Error::Store(format!(
                "connecting to the {} database: {e}",
                backend.name()
            ))
        })?;
        Ok(SqlStore {
            pool,
            backend,
            tx: None,
            keyring: None,
            inline: inline_read::InlineReader::for_url(backend, url).map(Arc::new),
        })
    }

    /// This store with `keyring` for its secrets (see [`secrets`]; then
    /// call [`SqlStore::check_keyring`]).
    pub fn with_keyring(mut self, keyring: Arc<secrets::Keyring>) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// The keyring, or the error a secret cannot be stored or read without.
    pub(crate) fn keyring(&self) -> Result<&secrets::Keyring, Error> {
        self.keyring.as_deref().ok_or_else(|| {
            Error::Store(
                "no secrets key: signing keys and TOTP secrets cannot be stored or read".into(),
            )
        })
    }

    /// Applies the migrations not yet applied; running it again is a no-op.
    pub async fn migrate(&self) -> Result<(), Error> {
        self.backend.migrator().run(&self.pool).await.map_err(|e| {
            Error::Store(format!(
                "migrating the {} database: {e}",
                self.backend.name()
            ))
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    /// The database's size in bytes (SQLite: after a WAL checkpoint).
    pub async fn database_size(&self) -> Result<i64, Error> {
        self.backend
            .database_size(&self.pool)
            .await
            .map_err(rows::db)
    }

    /// Refreshes the query planner's statistics (`ANALYZE`). Worth calling
    /// after a bulk load: PostgreSQL's autovacuum would get there within a
    /// minute or so, SQLite never does by itself.
    pub async fn analyze(&self) -> Result<(), Error> {
        sqlx::query("ANALYZE")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(rows::db)
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        if let Some(inline) = &self.inline {
            inline.close();
        }
        self.pool.close().await;
    }

    /// SQLite file databases: how many session reads were answered on the
    /// calling thread, and how many were handed to the pool instead
    /// (`None` on PostgreSQL and in-memory SQLite). For tests and
    /// diagnostics.
    pub fn inline_read_counts(&self) -> Option<(u64, u64)> {
        self.inline
            .as_deref()
            .map(inline_read::InlineReader::counts)
    }
}
