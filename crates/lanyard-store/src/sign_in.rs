//! `SignInStore`: server-side sessions, the lockout counter, TOTP secrets and
//! used steps, and the memory of seen AuthnRequest IDs (the rules are in
//! `lanyard_core::session`).
//!
//! The two checks that guard against parallel guessing, taking a login
//! attempt slot and using a TOTP step, are each one conditional UPDATE of the
//! user's row (`... WHERE login_failures < max`, `... WHERE totp_last_step <
//! step`): the database decides which of several concurrent callers wins,
//! on both backends, with no read-then-write window. When such an UPDATE
//! changes nothing, a second query tells a missing user (`NotFound`) from a
//! refusal (`false`); that query only runs on the refusing path and decides
//! nothing the UPDATE did not.

use async_trait::async_trait;
use sqlx::Connection;
use time::OffsetDateTime;

use lanyard_core::directory::{Group, User};
use lanyard_core::session::{AuthMethods, NewSession, Session, SessionStage, SignInState};
use lanyard_core::store::{AppStore, SignInStore};
use lanyard_core::{AppId, Error, Result, SessionId, UserId};

use crate::rows::{
    convert, db, session_columns, to_ms, SessionAppRow, SessionRow, SessionUserRow, SignInStateRow,
};

/// A user's id with their sign-in state.
#[derive(sqlx::FromRow)]
struct IdSignInStateRow {
    id: i64,
    #[sqlx(flatten)]
    state: SignInStateRow,
}
use crate::sql::Sql;
use crate::users::unmatchable;
use crate::SqlStore;

impl SqlStore {
    /// The answer of a conditional UPDATE of one user's row: `true` when it
    /// changed the row, `false` when the condition refused, `NotFound` when
    /// there is no such user.
    async fn user_update_applied(&self, rows_affected: u64, user: UserId) -> Result<bool> {
        if rows_affected > 0 {
            Ok(true)
        } else if self.user_exists(user).await? {
            Ok(false)
        } else {
            Err(Error::not_found("user", user))
        }
    }

    /// Runs an unconditional UPDATE of one user's row (`$1` is the id);
    /// `NotFound` when there is no such user.
    async fn update_user_row(&self, sql: &str, user: UserId) -> Result<()> {
        let done = sqlx::query(sql)
            .bind(user.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("user", user));
        }
        Ok(())
    }
}

#[async_trait]
impl SignInStore for SqlStore {
    async fn create_session(&self, new: &NewSession) -> Result<Session> {
        // Inserting from the user's row adds nothing when the user is
        // missing, instead of tripping the foreign key.
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "INSERT INTO sessions (token_hash, user_id, stage, csrf_secret, created_at, \
             last_seen_at, expires_at, client, user_agent, auth_methods, authenticated_at) \
             SELECT $1, id, $3, $4, $5, $5, $6, $7, $8, $9, $5 FROM users WHERE id = $2 \
             RETURNING ",
            session_columns!()
        ))
        .bind(new.token_hash.as_str())
        .bind(new.user_id.0)
        .bind(new.stage.as_str())
        .bind(new.csrf_secret.as_str())
        .bind(to_ms(new.now))
        .bind(to_ms(new.expires_at))
        .bind(new.client.as_deref())
        .bind(new.user_agent.as_deref())
        .bind(new.methods.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        // A token hash stored twice means a broken token generator: a
        // `Store` error, not a conflict for the user to resolve.
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("user", new.user_id))?
            .try_into()
    }

    async fn find_session(&self, token_hash: &str) -> Result<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.map(Session::try_from).transpose()
    }

    async fn find_session_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Session, User, Vec<Group>)>> {
        let row: Option<SessionUserRow> = sqlx::query_as(self.backend.session_user_query())
            .bind(token_hash)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        row.map(SessionUserRow::into_parts).transpose()
    }

    async fn find_session_for_app(
        &self,
        token_hash: &str,
        slug: &str,
    ) -> Result<(Option<(Session, User, Vec<Group>)>, Option<(AppId, i64)>)> {
        if unmatchable(slug) {
            // No app has such a slug, and PostgreSQL refuses a NUL in text.
            return Ok((self.find_session_with_user(token_hash).await?, None));
        }
        let row: Option<SessionAppRow> = sqlx::query_as(self.backend.session_app_query())
            .bind(token_hash)
            .bind(slug)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        match row {
            Some(row) => {
                let app = row
                    .app_id
                    .zip(row.app_version)
                    .map(|(id, v)| (AppId(id), v));
                Ok((Some(row.session.into_parts()?), app))
            }
            None => Ok((None, self.app_sso_version(slug).await?)),
        }
    }

    async fn touch_sessions(&self, ids: &[SessionId], now: OffsetDateTime) -> Result<u64> {
        let mut touched = 0;
        for chunk in ids.chunks(self.backend.max_binds() - 1) {
            let mut sql = Sql::new("UPDATE sessions SET last_seen_at = ");
            let at = sql.int(to_ms(now));
            sql.push(&at)
                .push(" WHERE last_seen_at < ")
                .push(&at)
                .push(" AND id IN (");
            for (i, id) in chunk.iter().enumerate() {
                let p = sql.int(id.0);
                sql.push(if i == 0 { "" } else { ", " }).push(&p);
            }
            sql.push(")");
            touched += sql.execute(&mut *self.conn().await?).await.map_err(db)?;
        }
        Ok(touched)
    }

    /// Completing the second factor is use of the session, so it also
    /// records `now` as last seen.
    async fn complete_session(
        &self,
        id: SessionId,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Session> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "UPDATE sessions SET stage = $2, last_seen_at = $3, token_hash = $4, \
             auth_methods = $5, authenticated_at = $3 WHERE id = $1 RETURNING ",
            session_columns!()
        ))
        .bind(id.0)
        .bind(SessionStage::Complete.as_str())
        .bind(to_ms(now))
        .bind(token_hash)
        .bind(AuthMethods::PasswordTotp.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("session", id))?
            .try_into()
    }

    async fn reauthenticate_session(&self, id: SessionId, now: OffsetDateTime) -> Result<Session> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "UPDATE sessions SET authenticated_at = $2, last_seen_at = $2 WHERE id = $1 RETURNING ",
            session_columns!()
        ))
        .bind(id.0)
        .bind(to_ms(now))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("session", id))?
            .try_into()
    }

    async fn delete_session(&self, id: SessionId) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn list_user_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 ORDER BY id DESC"
        ))
        .bind(user.0)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if rows.is_empty() && !self.user_exists(user).await? {
            return Err(Error::not_found("user", user));
        }
        convert(rows)
    }

    async fn revoke_user_session(&self, user: UserId, id: SessionId) -> Result<()> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("session", id));
        }
        Ok(())
    }

    /// `NotFound` when the user is missing, as `list_user_sessions`.
    async fn revoke_user_sessions(&self, user: UserId) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 && !self.user_exists(user).await? {
            return Err(Error::not_found("user", user));
        }
        Ok(done.rows_affected())
    }

    async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
            .bind(to_ms(now))
            .bind(to_ms(idle_before))
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn sign_in_state(&self, user: UserId) -> Result<SignInState> {
        let row: Option<SignInStateRow> = sqlx::query_as(
            "SELECT login_failures, totp_secret, totp_pending, totp_last_step \
             FROM users WHERE id = $1",
        )
        .bind(user.0)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("user", user))?
            .try_into()
    }

    async fn sign_in_states(&self, users: &[UserId]) -> Result<Vec<(UserId, SignInState)>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(
            "SELECT id, login_failures, totp_secret, totp_pending, totp_last_step \
             FROM users WHERE id IN (",
        );
        for (i, id) in users.iter().enumerate() {
            let p = sql.int(id.0);
            sql.push(if i == 0 { "" } else { ", " }).push(&p);
        }
        sql.push(")");
        let rows: Vec<IdSignInStateRow> =
            sql.fetch_all(&mut *self.conn().await?).await.map_err(db)?;
        rows.into_iter()
            .map(|r| Ok((UserId(r.id), r.state.try_into()?)))
            .collect()
    }

    async fn claim_login_attempt(&self, user: UserId, max_failures: u32) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET login_failures = login_failures + 1 \
             WHERE id = $1 AND login_failures < $2",
        )
        .bind(user.0)
        .bind(i64::from(max_failures))
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        self.user_update_applied(done.rows_affected(), user).await
    }

    async fn reset_login_failures(&self, user: UserId) -> Result<()> {
        self.update_user_row("UPDATE users SET login_failures = 0 WHERE id = $1", user)
            .await
    }

    async fn set_totp_pending(&self, user: UserId, secret: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE users SET totp_pending = $2 WHERE id = $1")
            .bind(user.0)
            .bind(secret)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("user", user));
        }
        Ok(())
    }

    async fn confirm_totp(&self, user: UserId, secret: &str, step: i64) -> Result<bool> {
        // SET expressions read the row as it was, on both databases.
        let done = sqlx::query(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, \
             totp_last_step = $2 WHERE id = $1 AND totp_pending = $3",
        )
        .bind(user.0)
        .bind(step)
        .bind(secret)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        self.user_update_applied(done.rows_affected(), user).await
    }

    async fn reset_totp(&self, user: UserId) -> Result<()> {
        self.update_user_row(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL WHERE id = $1",
            user,
        )
        .await
    }

    async fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
        )
        .bind(user.0)
        .bind(step)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        self.user_update_applied(done.rows_affected(), user).await
    }

    /// `NotFound` when the app is missing. Forgetting the app's expired IDs
    /// and inserting run in one transaction that starts with the DELETE, a
    /// write: SQLite takes its write lock there (a transaction that read
    /// first could fail with SQLITE_BUSY at its first write), and on
    /// PostgreSQL a concurrent insert of the same ID waits for ours and then
    /// does nothing.
    async fn remember_request_id(
        &self,
        app: AppId,
        request_id: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM seen_requests WHERE app_id = $1 AND expires_at <= $2")
            .bind(app.0)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Inserting from the app's row adds nothing when the app is missing,
        // instead of tripping the foreign key.
        let done = sqlx::query(
            "INSERT INTO seen_requests (app_id, request_id, expires_at) \
             SELECT id, $2, $3 FROM apps WHERE id = $1 ON CONFLICT DO NOTHING",
        )
        .bind(app.0)
        .bind(request_id)
        .bind(to_ms(expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            let apps: i64 = sqlx::query_scalar("SELECT count(*) FROM apps WHERE id = $1")
                .bind(app.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if apps == 0 {
                return Err(Error::not_found("application", app));
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}
