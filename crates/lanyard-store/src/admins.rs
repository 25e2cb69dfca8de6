//! `AdminStore` and `ApiKeyStore`: the accounts that administer Lanyard.

use async_trait::async_trait;
use time::OffsetDateTime;

use lanyard_core::admin::{Admin, ApiKey, Role};
use lanyard_core::store::{AdminStore, ApiKeyStore, NewApiKey};
use lanyard_core::{AdminId, ApiKeyId, Error, Result};

use crate::rows::{
    admin_columns, api_key_columns, convert, db, flag, to_ms, write_err, AdminLoginRow, AdminRow,
    ApiKeyRow, Unique,
};
use crate::users::unmatchable;
use crate::SqlStore;

#[async_trait]
impl AdminStore for SqlStore {
    async fn create_admin(
        &self,
        email: &str,
        role: Role,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Admin> {
        let email = email.to_lowercase();
        let row: AdminRow = sqlx::query_as(concat!(
            "INSERT INTO admins (email, role, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING ",
            admin_columns!()
        ))
        .bind(&email)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(to_ms(now))
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(|e| {
            let uniques = [Unique {
                field: "email",
                column: "email",
                value: &email,
            }];
            write_err(e, &uniques)
        })?;
        row.try_into()
    }

    async fn find_admin_by_email(&self, email: &str) -> Result<Option<(Admin, String)>> {
        let email = email.trim().to_lowercase();
        if unmatchable(&email) {
            return Ok(None);
        }
        let row: Option<AdminLoginRow> = sqlx::query_as(concat!(
            "SELECT ",
            admin_columns!(),
            ", password_hash FROM admins WHERE email = $1"
        ))
        .bind(&email)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.map(AdminLoginRow::into_parts).transpose()
    }

    async fn get_admin(&self, id: AdminId) -> Result<Admin> {
        let row: Option<AdminRow> = sqlx::query_as(concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("admin", id))?.try_into()
    }

    async fn update_admin(&self, id: AdminId, role: Role, disabled: bool) -> Result<Admin> {
        let row: Option<AdminRow> = sqlx::query_as(concat!(
            "UPDATE admins SET role = $2, disabled = $3 WHERE id = $1 RETURNING ",
            admin_columns!()
        ))
        .bind(id.0)
        .bind(role.as_str())
        .bind(flag(disabled))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("admin", id))?.try_into()
    }

    async fn set_admin_password_hash(&self, id: AdminId, hash: &str) -> Result<()> {
        let done = sqlx::query("UPDATE admins SET password_hash = $2 WHERE id = $1")
            .bind(id.0)
            .bind(hash)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("admin", id));
        }
        Ok(())
    }

    async fn list_admins(&self) -> Result<Vec<Admin>> {
        let rows: Vec<AdminRow> = sqlx::query_as(concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins ORDER BY id"
        ))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        convert(rows)
    }

    async fn delete_admin(&self, id: AdminId) -> Result<()> {
        let done = sqlx::query("DELETE FROM admins WHERE id = $1")
            .bind(id.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("admin", id));
        }
        Ok(())
    }
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn create_api_key(&self, new: &NewApiKey<'_>, now: OffsetDateTime) -> Result<ApiKey> {
        let prefix = new.prefix;
        let row: ApiKeyRow = sqlx::query_as(concat!(
            "INSERT INTO api_keys (name, role, prefix, hash, created_at, created_by, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
            api_key_columns!()
        ))
        .bind(new.name)
        .bind(new.role.as_str())
        .bind(prefix)
        .bind(new.hash)
        .bind(to_ms(now))
        .bind(new.created_by)
        .bind(new.expires_at.map(to_ms))
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(|e| {
            // Keys are 256 random bits, so this is a caller reusing one; name
            // it by its visible prefix, never by the hash.
            let uniques = [Unique {
                field: "key",
                column: "hash",
                value: prefix,
            }];
            write_err(e, &uniques)
        })?;
        row.try_into()
    }

    async fn find_active_api_key(&self, hash: &str) -> Result<Option<ApiKey>> {
        if unmatchable(hash) {
            return Ok(None);
        }
        let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE hash = $1 AND revoked_at IS NULL"
        ))
        .bind(hash)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.map(ApiKey::try_from).transpose()
    }

    async fn touch_api_key(&self, id: ApiKeyId, now: OffsetDateTime) -> Result<()> {
        let done = sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(to_ms(now))
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("api key", id));
        }
        Ok(())
    }

    /// Revoking twice keeps the first revocation time.
    async fn revoke_api_key(&self, id: ApiKeyId, now: OffsetDateTime) -> Result<ApiKey> {
        let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ",
            api_key_columns!()
        ))
        .bind(id.0)
        .bind(to_ms(now))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("api key", id))?
            .try_into()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys ORDER BY id"
        ))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        convert(rows)
    }
}
