//! `AdminSessionStore`: admin portal sessions (the rules are those of user
//! sessions in `lanyard_core::session`; the use-cases check liveness), and
//! the one-time tokens of admin forms that must not act twice.
//!
//! A session is looked up together with its admin in one join, so every
//! admin page costs one query for "who is this and what may they do".

use async_trait::async_trait;
use time::OffsetDateTime;

use lanyard_core::admin::Admin;
use lanyard_core::session::{AdminSession, NewAdminSession};
use lanyard_core::store::AdminSessionStore;
use lanyard_core::{AdminSessionId, Error, Result};

use crate::rows::{admin_session_columns, db, to_ms, AdminSessionRow};
use crate::SqlStore;

#[async_trait]
impl AdminSessionStore for SqlStore {
    async fn create_admin_session(&self, new: &NewAdminSession) -> Result<AdminSession> {
        // Inserting from the admin's row adds nothing when the admin is
        // missing, instead of tripping the foreign key.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO admin_sessions (token_hash, admin_id, csrf_secret, created_at, \
             last_seen_at, expires_at, client, user_agent) \
             SELECT $1, id, $3, $4, $4, $5, $6, $7 FROM admins WHERE id = $2 RETURNING id",
        )
        .bind(new.token_hash.as_str())
        .bind(new.admin_id.0)
        .bind(new.csrf_secret.as_str())
        .bind(to_ms(new.now))
        .bind(to_ms(new.expires_at))
        .bind(new.client.as_deref())
        .bind(new.user_agent.as_deref())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        let Some(id) = id else {
            return Err(Error::not_found("admin", new.admin_id));
        };
        let row: AdminSessionRow = sqlx::query_as(concat!(
            "SELECT ",
            admin_session_columns!(),
            " FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        Ok(row.into_parts()?.0)
    }

    async fn find_admin_session(&self, token_hash: &str) -> Result<Option<(AdminSession, Admin)>> {
        let row: Option<AdminSessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            admin_session_columns!(),
            " FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.map(AdminSessionRow::into_parts).transpose()
    }

    async fn touch_admin_session(&self, id: AdminSessionId, now: OffsetDateTime) -> Result<()> {
        let done = sqlx::query("UPDATE admin_sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(to_ms(now))
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("admin session", id));
        }
        Ok(())
    }

    async fn delete_admin_session(&self, id: AdminSessionId) -> Result<()> {
        sqlx::query("DELETE FROM admin_sessions WHERE id = $1")
            .bind(id.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn purge_admin_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen_at < $2")
                .bind(to_ms(now))
                .bind(to_ms(idle_before))
                .execute(&mut *self.conn().await?)
                .await
                .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn use_form_token(
        &self,
        token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        sqlx::query("DELETE FROM form_tokens WHERE expires_at <= $1")
            .bind(to_ms(now))
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let done = sqlx::query(
            "INSERT INTO form_tokens (token, expires_at) VALUES ($1, $2) \
             ON CONFLICT (token) DO NOTHING",
        )
        .bind(token)
        .bind(to_ms(expires_at))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}
