//! What `lanyard backup` and `lanyard restore` need from a database: its
//! schema version, whether it is empty, a consistent online copy of a
//! SQLite database (`VACUUM INTO`), and SQLite's integrity check. The file
//! format and `pg_dump` / `pg_restore` are the binary's business.

use std::path::Path;

use lanyard_core::Error;
use sqlx::Row;

use crate::dialect::Backend;
use crate::rows::db;
use crate::SqlStore;

impl SqlStore {
    /// The highest migration applied to this database (0: none).
    pub async fn schema_version(&self) -> Result<i64, Error> {
        if !self.has_table("_sqlx_migrations").await? {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(db)
    }

    /// The highest migration this build of Lanyard knows.
    pub fn latest_schema(&self) -> i64 {
        self.backend
            .migrator()
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0)
    }

    /// Whether the database has no table at all (what a restore needs).
    pub async fn is_empty(&self) -> Result<bool, Error> {
        let mut conn = self.conn().await?;
        let tables: i64 = match self.backend {
            Backend::Sqlite => sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            ),
            Backend::Postgres => sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            ),
        }
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        Ok(tables == 0)
    }

    async fn has_table(&self, name: &str) -> Result<bool, Error> {
        let mut conn = self.conn().await?;
        let n: i64 = match self.backend {
            Backend::Sqlite => sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            ),
            Backend::Postgres => sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1",
            ),
        }
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        Ok(n > 0)
    }

    /// SQLite: a consistent copy of the whole database, taken while others
    /// keep writing (`VACUUM INTO`), at `path` (which must not exist).
    pub async fn sqlite_copy_into(&self, path: &Path) -> Result<(), Error> {
        if self.backend != Backend::Sqlite {
            return Err(Error::Store("VACUUM INTO is SQLite's".into()));
        }
        let target = path
            .to_str()
            .ok_or_else(|| Error::Store(format!("{} is not UTF-8", path.display())))?;
        let mut conn = self.conn().await?;
        sqlx::query(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// After a restore: adds a new random epoch (a multiple of 2^32) to
    /// every app's `sso_version`, so no node that kept running can match
    /// a version it cached before with the restored (other) contents: each
    /// reads the app afresh on its next response. Returns the epoch added.
    pub async fn start_new_epoch(&self) -> Result<i64, Error> {
        let mut bytes = [0u8; 4];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| Error::Store("the system RNG failed".into()))?;
        // 1..=2^20 epochs of 2^32 versions: never 0, never near i64::MAX.
        let epoch = (i64::from(u32::from_le_bytes(bytes) >> 12) + 1) << 32;
        let mut conn = self.conn().await?;
        sqlx::query("UPDATE apps SET sso_version = sso_version + $1")
            .bind(epoch)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        Ok(epoch)
    }

    /// SQLite: `PRAGMA integrity_check` says "ok" (else its findings).
    pub async fn sqlite_integrity_check(&self) -> Result<(), Error> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query("PRAGMA integrity_check")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
        let found: Vec<String> = rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>(0).ok())
            .collect();
        if found == ["ok"] {
            Ok(())
        } else {
            Err(Error::Store(format!(
                "the integrity check failed: {}",
                found.join("; ")
            )))
        }
    }
}
