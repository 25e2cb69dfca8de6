//! The session reads of every signed-in request on SQLite, run on the
//! calling thread instead of sqlx's per-connection worker thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a statement is
//! a message to that thread and its rows come back as messages, two thread
//! hand-offs (and a wake-up of an async worker) per statement. For the
//! statement every SSO response and portal page starts with (the session,
//! its user and groups, and for SSO the app's version: one indexed lookup,
//! ~20 µs in SQLite) the hand-offs cost more than SQLite does: issue #28's
//! profile put the kernel's scheduling at 45% of the non-RSA time of an SSO
//! response, half of it that hand-off. Here the same statement (the same
//! text, from `dialect`) runs through rusqlite on a connection of a small
//! pool, on the async worker that asked, as the RSA-2048 signature already
//! does (`lanyard-app`'s `sso::signer`).
//!
//! What keeps it safe:
//! * **It never waits.** Its connections have no busy timeout, so a read
//!   that meets a lock (in WAL mode only a checkpoint's brief reset of the
//!   log can cause one) fails at once; so does anything else that goes
//!   wrong (the file cannot be opened, the pool is exhausted). A failed
//!   inline read is not an answer: the caller runs the same statement
//!   through sqlx, which waits as every other statement does and reports
//!   the real error, if any. The first failure is logged as a warning.
//! * **It sees what sqlx sees.** The statement runs in its own read
//!   transaction, started when it steps and ended when its rows are
//!   dropped (before the connection is returned), so it sees every commit
//!   made before it, like a pooled sqlx connection: suspension, revocation
//!   and unbinding take effect on the next response, and a restore (SQL
//!   statements, with its new epoch in `sso_version`) is seen at once.
//! * **It cannot write**: `PRAGMA query_only`.
//! * Only a SQLite file database outside a unit of work uses it: a unit of
//!   work must read its own transaction, and a private in-memory database
//!   cannot be opened twice.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use crate::dialect::Backend;
use crate::rows::{SessionAppRow, SessionUserRow};

/// Statements kept prepared per connection (two are used).
const STATEMENT_CACHE: usize = 4;

/// The pool of inline read connections of one database file.
pub(crate) struct InlineReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Connections open (idle or lent).
    open: AtomicUsize,
    max: usize,
    warned: AtomicBool,
    /// Set when the store closes: every read goes to the (closed) pool.
    closed: AtomicBool,
    /// Reads answered inline, and reads handed back to the pool.
    served: AtomicU64,
    fell_back: AtomicU64,
}

impl std::fmt::Debug for InlineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReader")
            .field("path", &self.path)
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl InlineReader {
    /// A reader of the SQLite database at `url` (as given to
    /// `SqlStore::connect`), or `None` where it does not apply (PostgreSQL,
    /// an in-memory database, a URL sqlx would not parse). Connections
    /// open on first use; at most two per core, the async workers being
    /// one per core.
    pub(crate) fn for_url(backend: Backend, url: &str) -> Option<InlineReader> {
        use std::str::FromStr;
        if backend != Backend::Sqlite || crate::dialect::is_sqlite_memory(url) {
            return None;
        }
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Some(InlineReader {
            path: options.get_filename().to_owned(),
            idle: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            max: 2 * cores,
            warned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            served: AtomicU64::new(0),
            fell_back: AtomicU64::new(0),
        })
    }

    /// `Backend::session_user_query` for token hash `token_hash`;
    /// `None` if the read could not be made inline (ask sqlx).
    pub(crate) fn session_user(&self, token_hash: &str) -> Option<Option<SessionUserRow>> {
        self.read(Backend::Sqlite.session_user_query(), |stmt| {
            stmt.query_row(&[("$1", &token_hash)], |row| {
                SessionUserRow::from_sqlite(row, 0)
            })
            .optional()
        })
    }

    /// `Backend::session_app_query` for `token_hash` and the app `slug`;
    /// `None` if the read could not be made inline (ask sqlx).
    pub(crate) fn session_app(
        &self,
        token_hash: &str,
        slug: &str,
    ) -> Option<Option<SessionAppRow>> {
        self.read(Backend::Sqlite.session_app_query(), |stmt| {
            stmt.query_row(&[("$1", &token_hash), ("$2", &slug)], |row| {
                SessionAppRow::from_sqlite(row)
            })
            .optional()
        })
    }

    /// Runs `f` on statement `sql` (prepared once per connection).
    fn read<T>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut rusqlite::CachedStatement<'_>) -> rusqlite::Result<T>,
    ) -> Option<T> {
        // The field sqlx logs its statements with, so a log of both counts
        // every statement (bench/sso_breakdown.sh does).
        tracing::debug!(db.statement = sql, "inline read");
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let conn = match self.take() {
            Ok(Some(conn)) => conn,
            Ok(None) => {
                self.fell_back.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Err(e) => return self.failed(&e),
        };
        match conn.prepare_cached(sql).and_then(|mut stmt| f(&mut stmt)) {
            Ok(value) => {
                self.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conn);
                self.served.fetch_add(1, Ordering::Relaxed);
                Some(value)
            }
            Err(e) => {
                // Not returned: a connection in an unknown state is closed.
                self.open.fetch_sub(1, Ordering::Relaxed);
                self.failed(&e)
            }
        }
    }

    /// An idle connection, a new one, or `Ok(None)` when `max` are lent.
    fn take(&self) -> rusqlite::Result<Option<Connection>> {
        if let Some(conn) = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(Some(conn));
        }
        if self.open.fetch_add(1, Ordering::Relaxed) >= self.max {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return Ok(None);
        }
        self.connect().map(Some).inspect_err(|_| {
            self.open.fetch_sub(1, Ordering::Relaxed);
        })
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        // Read-write but never created (the pool made the file, and WAL
        // readers need the shared-memory file writable); `query_only`
        // refuses writes.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -512;")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    fn failed<T>(&self, error: &rusqlite::Error) -> Option<T> {
        self.fell_back.fetch_add(1, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = %error.to_string().escape_debug(),
                "an inline SQLite read failed; such reads go through the pool (logged once)"
            );
        } else {
            tracing::debug!(error = %error.to_string().escape_debug(), "an inline SQLite read failed");
        }
        None
    }

    /// Reads answered inline and reads handed back to the pool so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.served.load(Ordering::Relaxed),
            self.fell_back.load(Ordering::Relaxed),
        )
    }

    /// Closes the idle connections (the store is closing).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        self.open.fetch_sub(idle.len(), Ordering::Relaxed);
    }
}

/// The columns of `Backend::session_user_query`, in order: the inline
/// decoders read by position (a test checks the statement's own names).
pub(crate) const SESSION_USER_COLUMNS: [&str; 21] = [
    "session_id",
    "user_id",
    "stage",
    "csrf_secret",
    "session_created_at",
    "last_seen_at",
    "expires_at",
    "client",
    "user_agent",
    "auth_methods",
    "authenticated_at",
    "id",
    "email",
    "username",
    "first_name",
    "last_name",
    "state",
    "attributes",
    "created_at",
    "updated_at",
    "groups_json",
];

/// Column `i` of `row` (a shorthand for the decoders in `rows`).
pub(crate) fn col<T: rusqlite::types::FromSql>(row: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    row.get(i)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lanyard_core::directory::{Attributes, NewUser};
    use lanyard_core::session::{token_hash, AuthMethods, NewSession, SessionStage};
    use lanyard_core::store::{SignInStore, UserStore};
    use time::OffsetDateTime;

    use super::*;
    use crate::SqlStore;

    /// A migrated store on a new SQLite file with one signed-in user
    /// (token `tok`), and its directory.
    async fn store_with_session(name: &str) -> (SqlStore, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("lanyard-inline-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("s.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_704_067_200).unwrap();
        let new = NewUser {
            email: "ann@example.com".into(),
            username: "ann".into(),
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            attributes: Attributes::new(),
        };
        let user = store
            .create_user(&new.validate().unwrap(), None, now)
            .await
            .unwrap();
        store
            .create_session(&NewSession {
                token_hash: token_hash("tok"),
                user_id: user.id,
                stage: SessionStage::Complete,
                methods: AuthMethods::Password,
                csrf_secret: "csrf".into(),
                now,
                expires_at: now + time::Duration::hours(1),
                client: None,
                user_agent: None,
            })
            .await
            .unwrap();
        (store, dir)
    }

    #[tokio::test]
    async fn the_decoders_read_the_columns_the_statements_name() {
        let (store, dir) = store_with_session("columns").await;
        let conn = Connection::open(dir.join("s.db")).unwrap();
        let names = |sql: &str| -> Vec<String> {
            let stmt = conn.prepare(sql).unwrap();
            stmt.column_names().into_iter().map(str::to_owned).collect()
        };
        let mut expected: Vec<String> = SESSION_USER_COLUMNS.map(str::to_owned).to_vec();
        assert_eq!(names(Backend::Sqlite.session_user_query()), expected);
        expected.extend(["app_id".to_owned(), "app_version".to_owned()]);
        assert_eq!(names(Backend::Sqlite.session_app_query()), expected);
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_read_that_cannot_be_made_inline_goes_through_the_pool() {
        let (mut store, dir) = store_with_session("fallback").await;
        // A reader of a file that does not exist: it may not create one, so
        // every inline read fails and the pool answers instead.
        let url = format!("sqlite://{}", dir.join("missing.db").display());
        store.inline = InlineReader::for_url(Backend::Sqlite, &url).map(Arc::new);
        let (session, user, groups) = store
            .find_session_with_user(&token_hash("tok"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (session.csrf_secret.as_str(), user.username.as_str()),
            ("csrf", "ann")
        );
        assert!(groups.is_empty());
        let (found, app) = store
            .find_session_for_app(&token_hash("tok"), "none")
            .await
            .unwrap();
        assert_eq!(found.map(|(s, _, _)| s.id), Some(session.id));
        assert_eq!(app, None);
        assert_eq!(store.inline_read_counts(), Some((0, 2)));
        assert!(!dir.join("missing.db").exists());
        assert_eq!(
            store.inline.as_ref().unwrap().open.load(Ordering::Relaxed),
            0
        );
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_locked_database_is_not_waited_for_inline() {
        let (store, dir) = store_with_session("locked").await;
        let reader = InlineReader::for_url(
            Backend::Sqlite,
            &format!("sqlite://{}", dir.join("s.db").display()),
        )
        .unwrap();
        // The pool's connections let go of the file once the store is gone
        // (the holder's busy timeout, 5 s, waits for their threads).
        store.close().await;
        drop(store);
        // A connection in exclusive locking mode holds the file once it has
        // written: no other connection may read until it lets go.
        let holder = Connection::open(dir.join("s.db")).unwrap();
        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN IMMEDIATE; DELETE FROM seen_requests; COMMIT;")
            .unwrap();
        let started = std::time::Instant::now();
        assert!(reader.session_user(&token_hash("tok")).is_none());
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(reader.counts(), (0, 1));
        drop(holder);
        let row = reader.session_user(&token_hash("tok")).unwrap().unwrap();
        assert_eq!(row.into_parts().unwrap().1.username, "ann");
        assert_eq!(reader.counts(), (1, 1));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
