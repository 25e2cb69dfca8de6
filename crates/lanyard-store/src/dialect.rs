//! Every difference between SQLite and PostgreSQL that the Rust code has to know
//! about, in one place: how a URL picks a backend, how connections are set up,
//! which migrations apply, how many values one statement should bind, how a
//! unique violation names its column, and how big the database is.
//!
//! The store's queries themselves are shared text: `$1`-style placeholders
//! (SQLite accepts `$NNN`), `RETURNING`, `ON CONFLICT` (upserts included)
//! and integer timestamps mean the same on both. Schema differences (identity columns,
//! `COLLATE "C"`) live in the twin migration files.

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Connection, Executor};

use lanyard_core::Error;

use crate::rows::session_user_columns;

/// The user's (`u`) groups as a JSON array of
/// `[id, name, description, attributes, created_at, updated_at]`, ordered by
/// name like `list_groups_of_user`.
macro_rules! sqlite_groups_json {
    () => {
        "(SELECT json_group_array(json_array(g.id, g.name, g.description, g.attributes, \
         g.created_at, g.updated_at) ORDER BY g.name_lc) \
         FROM group_members m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = u.id) AS groups_json"
    };
}
macro_rules! postgres_groups_json {
    () => {
        "(SELECT coalesce(json_agg(json_build_array(g.id, g.name, g.description, g.attributes, \
         g.created_at, g.updated_at) ORDER BY g.name_lc), '[]')::text \
         FROM group_members m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = u.id) AS groups_json"
    };
}
/// The id and SSO version of the app with slug `$2`, joined as `a` by
/// `session_app_from!` (one index lookup; two scalar subqueries cost
/// PostgreSQL a second scan and executor set-up per response).
macro_rules! app_version_columns {
    () => {
        "a.id AS app_id, a.sso_version AS app_version"
    };
}

/// The FROM and WHERE of [`Backend::session_app_query`].
macro_rules! session_app_from {
    () => {
        " FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN apps a ON a.slug = $2 WHERE s.token_hash = $1"
    };
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgresql");

/// A pooled PostgreSQL connection idle this long is pinged before use.
pub(crate) const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Whether a pooled connection may be handed out: not one that sqlx still
/// counts as inside a transaction. That happens after a failed COMMIT that
/// the database rolled back itself (SQLite on a full disk): sqlx's own
/// ROLLBACK then fails and leaves its count at 1, so every later `BEGIN` on
/// that connection would fail. Such a connection is closed (the pool opens
/// a fresh one).
fn usable(conn: &sqlx::AnyConnection) -> bool {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        tracing::warn!("closing a pooled connection left inside a failed transaction");
        return false;
    }
    true
}

/// Longest wait for a pooled PostgreSQL connection (see `Backend::connect`).
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Sent on every new SQLite connection. WAL lets readers run beside the one
/// writer; `synchronous = NORMAL` is the usual WAL pairing (a power cut may
/// lose the last commits, never consistency); foreign keys are off by default
/// in SQLite and the cascades need them. Each connection's page cache is
/// bounded at 512 KiB (SQLite's default is 2 MiB): 8 pooled connections and
/// the retention thread's held up to 18 MiB, filling slowly as the database
/// grew; the operating system's page cache below keeps the rest of the file
/// close (docs/RELIABILITY.md, "Soak").
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA foreign_keys = ON; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA cache_size = -512;";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    pub(crate) fn of_url(url: &str) -> Result<Backend, Error> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::invalid(
                "database_url",
                "must start with sqlite:// or postgres://",
            ))
        }
    }

    pub(crate) fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// The session with its user and the user's groups (a JSON array,
    /// ordered by name like `list_groups_of_user`), by token hash (`$1`):
    /// `SessionUserRow`. The dialects differ only in the JSON aggregate.
    pub(crate) fn session_user_query(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "SELECT ",
                session_user_columns!(),
                ", ",
                sqlite_groups_json!(),
                " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"
            ),
            Backend::Postgres => concat!(
                "SELECT ",
                session_user_columns!(),
                ", ",
                postgres_groups_json!(),
                " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"
            ),
        }
    }

    /// [`Self::session_user_query`] plus the id and `sso_version` of the
    /// app with slug `$2` (NULL when there is none).
    pub(crate) fn session_app_query(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "SELECT ",
                session_user_columns!(),
                ", ",
                sqlite_groups_json!(),
                ", ",
                app_version_columns!(),
                session_app_from!()
            ),
            Backend::Postgres => concat!(
                "SELECT ",
                session_user_columns!(),
                ", ",
                postgres_groups_json!(),
                ", ",
                app_version_columns!(),
                session_app_from!()
            ),
        }
    }

    /// How many values one statement should bind, for multi-row INSERTs.
    /// SQLite looks every `$n` up in a list while parsing, so preparing a
    /// statement with v values costs O(v^2): a few hundred keep that small.
    /// PostgreSQL's hard limit is 65,535; round trips are what cost there.
    pub(crate) fn max_binds(self) -> usize {
        match self {
            Backend::Sqlite => 500,
            Backend::Postgres => 10_000,
        }
    }

    /// Opens a pool. SQLite files are created if missing; an in-memory SQLite
    /// database lives exactly as long as its one connection, so the pool keeps
    /// that single connection forever.
    /// `ping_if_idle_for`: a pooled PostgreSQL connection idle this long is
    /// pinged before use ([`PING_IF_IDLE_FOR`] but in tests).
    pub(crate) async fn connect(
        self,
        url: &str,
        ping_if_idle_for: Duration,
    ) -> Result<AnyPool, sqlx::Error> {
        sqlx::any::install_default_drivers();
        match self {
            Backend::Postgres => {
                let options: AnyConnectOptions = url.parse()?;
                AnyPoolOptions::new()
                    .max_connections(10)
                    // While PostgreSQL is away, sqlx keeps retrying a
                    // refused connection until this deadline: short, so a
                    // request gets its 503 (`Error::Unavailable`) within 2 s
                    // rather than hanging. A busy pool hands a connection
                    // over in well under a millisecond, so only an outage
                    // (or a pool starved for 1.5 s) reaches it.
                    .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                    // sqlx pings every connection it hands out by default:
                    // a second round trip per statement. Only one that sat
                    // idle (a server restart or a dropped link shows there)
                    // is pinged; a busy one was just used.
                    .test_before_acquire(false)
                    .before_acquire(move |conn, meta| {
                        Box::pin(async move {
                            if !usable(conn) {
                                return Ok(false);
                            }
                            if meta.idle_for >= ping_if_idle_for {
                                conn.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(options)
                    .await
            }
            Backend::Sqlite => {
                let in_memory = is_sqlite_memory(url);
                let url = if in_memory || url.contains("mode=") {
                    url.to_owned()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                let options: AnyConnectOptions = url.parse()?;
                let pool = AnyPoolOptions::new()
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .acquire_timeout(Duration::from_secs(10))
                    // The connection is in this process and cannot hang
                    // up; sqlx's default ping before each use would be one
                    // more hand-off to the connection's thread per
                    // statement.
                    .test_before_acquire(false)
                    .before_acquire(|conn, _meta| Box::pin(async move { Ok(usable(conn)) }));
                let pool = if in_memory {
                    pool.max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    pool.max_connections(8)
                };
                pool.connect_with(options).await
            }
        }
    }

    /// The database's size on disk in bytes. SQLite: the main file plus the
    /// WAL after a checkpoint (the WAL is truncated by it, so this is the
    /// settled size).
    pub(crate) async fn database_size(self, pool: &AnyPool) -> Result<i64, sqlx::Error> {
        match self {
            Backend::Postgres => {
                sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(pool)
                    .await
            }
            Backend::Sqlite => {
                pool.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                    .fetch_one(pool)
                    .await?;
                let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
                    .fetch_one(pool)
                    .await?;
                Ok(pages * page_size)
            }
        }
    }
}

impl Backend {
    /// After secrets in the clear were encrypted: leaves no copy of the old
    /// values in the database files. SQLite: the WAL is checkpointed into
    /// the main file and truncated, the file is rebuilt without its free
    /// pages (`VACUUM`), and the WAL is truncated again. PostgreSQL: a
    /// `VACUUM` of the tables that held them lets the old row versions be
    /// reused (their bytes may stay on disk until overwritten, and in WAL
    /// archives and backups: see docs/SECURITY.md).
    pub(crate) async fn scrub(self, pool: &AnyPool) -> Result<(), sqlx::Error> {
        match self {
            Backend::Sqlite => {
                pool.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
                pool.execute("VACUUM").await?;
                pool.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
            }
            Backend::Postgres => {
                pool.execute("VACUUM app_keys, users, admins").await?;
            }
        }
        Ok(())
    }
}

/// True for the URLs that name a private in-memory SQLite database.
pub(crate) fn is_sqlite_memory(url: &str) -> bool {
    url == "sqlite::memory:"
        || url.starts_with("sqlite::memory:?")
        || url == "sqlite://:memory:"
        || url.contains("mode=memory")
}

/// Whether a unique violation is about `column` (as named in the migrations).
///
/// SQLite says `UNIQUE constraint failed: users.email` (for a unique index on
/// plain columns it names the columns, not the index). PostgreSQL names the
/// violated index, and the migrations name every unique index
/// `<table>_<column>_key`.
pub(crate) fn unique_violation_is_on(err: &dyn DatabaseError, column: &str) -> bool {
    if let Some(constraint) = err.constraint() {
        return constraint
            .strip_suffix("_key")
            .is_some_and(|rest| rest.ends_with(&format!("_{column}")));
    }
    err.message()
        .strip_prefix("UNIQUE constraint failed: ")
        .is_some_and(|cols| {
            cols.split(", ")
                .any(|c| c.rsplit('.').next() == Some(column))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_a_backend() {
        assert_eq!(Backend::of_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::of_url("mysql://u@h/db").is_err());
        assert!(is_sqlite_memory("sqlite::memory:"));
        assert!(!is_sqlite_memory("sqlite://memory.db"));
    }
}
