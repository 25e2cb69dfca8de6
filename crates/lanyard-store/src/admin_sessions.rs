//! `AdminSessionStore`: admin portal sessions (the rules are those of user
//! sessions in `lanyard_core::session`; the use-cases check liveness), and
//! the one-time tokens of admin forms that must not act twice.
//!
//! A session is looked up together with its admin in one join, so every
//! admin page costs one query for "who is this and what may they do".

use async_trait::async_trait;
use time::OffsetDateTime;

use lanyard_core::admin::Admin;
use lanyard_core::session::{AdminSession, AuthMethods, NewAdminSession, SessionStage};
use lanyard_core::store::{AdminSessionStore, AdminStore};
use lanyard_core::{AdminId, AdminSessionId, Error, Result};

use crate::rows::{admin_session_columns, db, to_ms, AdminSessionRow};
use crate::SqlStore;

impl SqlStore {
    async fn admin_session_by_id(&self, id: AdminSessionId) -> Result<AdminSession> {
        let row: Option<AdminSessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            admin_session_columns!(),
            " FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        Ok(row
            .ok_or_else(|| Error::not_found("admin session", id))?
            .into_parts()?
            .0)
    }

    /// Runs an UPDATE of one admin session (`$1` is its id) and reads it
    /// back; `NotFound` when there is no such session.
    async fn update_admin_session<'q>(
        &self,
        id: AdminSessionId,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<AdminSession> {
        let done = query.execute(&mut *self.conn().await?).await.map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("admin session", id));
        }
        self.admin_session_by_id(id).await
    }
}

#[async_trait]
impl AdminSessionStore for SqlStore {
    async fn create_admin_session(&self, new: &NewAdminSession) -> Result<AdminSession> {
        // Inserting from the admin's row adds nothing when the admin is
        // missing, instead of tripping the foreign key.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO admin_sessions (token_hash, admin_id, csrf_secret, created_at, \
             last_seen_at, expires_at, client, user_agent, stage, auth_methods, \
             authenticated_at) \
             SELECT $1, id, $3, $4, $4, $5, $6, $7, $8, $9, $4 FROM admins WHERE id = $2 \
             RETURNING id",
        )
        .bind(new.token_hash.as_str())
        .bind(new.admin_id.0)
        .bind(new.csrf_secret.as_str())
        .bind(to_ms(new.now))
        .bind(to_ms(new.expires_at))
        .bind(new.client.as_deref())
        .bind(new.user_agent.as_deref())
        .bind(new.stage.as_str())
        .bind(new.methods.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        let Some(id) = id else {
            return Err(Error::not_found("admin", new.admin_id));
        };
        self.admin_session_by_id(AdminSessionId(id)).await
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

    async fn advance_admin_session(
        &self,
        id: AdminSessionId,
        stage: SessionStage,
        methods: AuthMethods,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<AdminSession> {
        let query = sqlx::query(
            "UPDATE admin_sessions SET stage = $2, auth_methods = $3, token_hash = $4, \
             authenticated_at = $5, last_seen_at = $5 WHERE id = $1",
        )
        .bind(id.0)
        .bind(stage.as_str())
        .bind(methods.as_str())
        .bind(token_hash.to_owned())
        .bind(to_ms(now));
        self.update_admin_session(id, query).await
    }

    async fn reauthenticate_admin_session(
        &self,
        id: AdminSessionId,
        now: OffsetDateTime,
    ) -> Result<AdminSession> {
        let query = sqlx::query(
            "UPDATE admin_sessions SET authenticated_at = $2, last_seen_at = $2 WHERE id = $1",
        )
        .bind(id.0)
        .bind(to_ms(now));
        self.update_admin_session(id, query).await
    }

    async fn list_admin_sessions(&self, admin: AdminId) -> Result<Vec<AdminSession>> {
        let rows: Vec<AdminSessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            admin_session_columns!(),
            " FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.admin_id = $1 \
             ORDER BY s.id DESC"
        ))
        .bind(admin.0)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if rows.is_empty() {
            // Fails with `NotFound` when the admin is missing.
            self.get_admin(admin).await?;
        }
        rows.into_iter()
            .map(|row| Ok(row.into_parts()?.0))
            .collect()
    }

    async fn revoke_admin_session(&self, admin: AdminId, id: AdminSessionId) -> Result<()> {
        let done = sqlx::query("DELETE FROM admin_sessions WHERE id = $1 AND admin_id = $2")
            .bind(id.0)
            .bind(admin.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("admin session", id));
        }
        Ok(())
    }

    async fn revoke_admin_sessions(
        &self,
        admin: AdminId,
        keep: Option<AdminSessionId>,
    ) -> Result<u64> {
        let done = sqlx::query("DELETE FROM admin_sessions WHERE admin_id = $1 AND id <> $2")
            .bind(admin.0)
            .bind(keep.map_or(0, |k| k.0))
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
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
