//! `SignInStore`: server-side sessions and the history of ended ones, the
//! lockout counter and lock, the per-source throttle, TOTP secrets and used
//! steps, and the memory of seen AuthnRequest IDs (the rules are in
//! `lanyard_core::session`).
//!
//! Users and admins keep the same sign-in columns on their own rows
//! (`users`, `admins`); an [`Account`] names the table and id.
//!
//! The checks that guard against parallel guessing, taking a login attempt
//! slot, locking when the slots are used up, taking a source's slot and
//! using a TOTP step, are each one conditional statement (`UPDATE ... WHERE
//! login_failures < max AND not locked`, `... WHERE login_failures >= max`,
//! an upsert `... DO UPDATE ... WHERE failures < 3`, `... WHERE
//! totp_last_step < step`): the database decides which of several
//! concurrent callers wins, on both backends, with no read-then-write
//! window. When such a statement changes nothing, a second query tells a
//! missing account (`NotFound`) from a refusal; that query only runs on the
//! refusing path and decides nothing the statement did not.

use async_trait::async_trait;
use sqlx::Connection;
use time::OffsetDateTime;

use lanyard_core::directory::{Group, User};
use lanyard_core::session::{
    doublings_to_max, Account, AuthMethods, EndedSession, NewSession, Session, SessionEnd,
    SessionStage, SignInState, MAX_LOCKOUT, SOURCE_BLOCK, SOURCE_FAILURES, SOURCE_WINDOW,
};
use lanyard_core::store::{AppStore, SignInStore};
use lanyard_core::{AppId, Error, Result, SessionId, UserId};
use time::Duration;

use crate::rows::{
    convert, db, ended_session_columns, from_ms, session_columns, sign_in_state_columns, to_ms,
    EndedSessionRow, SessionAppRow, SessionRow, SessionUserRow, SignInStateRow,
};

/// A user's id with their sign-in state.
#[derive(sqlx::FromRow)]
struct IdSignInStateRow {
    id: i64,
    #[sqlx(flatten)]
    state: SignInStateRow,
}
use crate::secrets::Aad;
use crate::sql::{Arg, Sql};
use crate::users::unmatchable;
use crate::SqlStore;

/// The table holding an account's row, and its id.
fn account_row(account: Account) -> (&'static str, i64) {
    match account {
        Account::User(id) => ("users", id.0),
        Account::Admin(id) => ("admins", id.0),
    }
}

fn missing(account: Account) -> Error {
    match account {
        Account::User(id) => Error::not_found("user", id),
        Account::Admin(id) => Error::not_found("admin", id),
    }
}

impl SqlStore {
    async fn account_exists(&self, account: Account) -> Result<bool> {
        let (table, id) = account_row(account);
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    /// The answer of a conditional UPDATE of one account's row: `true`
    /// when it changed the row, `false` when the condition refused,
    /// `NotFound` when there is no such account.
    async fn account_update_applied(&self, rows_affected: u64, account: Account) -> Result<bool> {
        if rows_affected > 0 {
            Ok(true)
        } else if self.account_exists(account).await? {
            Ok(false)
        } else {
            Err(missing(account))
        }
    }

    /// Runs `UPDATE <table> SET <set> WHERE id = $1` on the account's row
    /// (`set` may use `$2` and on, bound by `bind`); `NotFound` when there
    /// is no such account.
    async fn update_account_row(&self, account: Account, set: &str) -> Result<()> {
        let (table, id) = account_row(account);
        let done = sqlx::query(&format!("UPDATE {table} SET {set} WHERE id = $1"))
            .bind(id)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(missing(account));
        }
        Ok(())
    }
}

/// What a TOTP secret of `account` is bound to (see `secrets`).
fn totp_aad(account: Account, pending: bool) -> Aad {
    Aad::Totp {
        account: account.to_string(),
        pending,
    }
}

impl SqlStore {
    /// `state` with its TOTP secrets decrypted.
    fn open_totp(&self, account: Account, mut state: SignInState) -> Result<SignInState> {
        if state.totp_secret.is_none() && state.totp_pending.is_none() {
            return Ok(state);
        }
        let keyring = self.keyring()?;
        if let Some(sealed) = state.totp_secret.take() {
            state.totp_secret = Some(keyring.decrypt(&totp_aad(account, false), &sealed)?);
        }
        if let Some(sealed) = state.totp_pending.take() {
            state.totp_pending = Some(keyring.decrypt(&totp_aad(account, true), &sealed)?);
        }
        Ok(state)
    }
}

/// Milliseconds, as timestamps and durations are stored.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX)
}

/// Columns of `ended_sessions` a session fills when it ends.
const ENDED_WIDTH: usize = 10;

impl SqlStore {
    /// Ends the sessions `cond` picks (placeholders `$1`... for `binds`):
    /// deletes them and records each in `ended_sessions` with
    /// `reason(session)` at `now`, in one transaction (a savepoint inside
    /// a unit of work), so no session ends without its history nor is
    /// recorded while it still works. The rows recorded are exactly those
    /// `DELETE ... RETURNING` removed, so a concurrent end is recorded once.
    /// How many ended.
    async fn end_sessions(
        &self,
        cond: &str,
        binds: &[i64],
        now: OffsetDateTime,
        reason: impl Fn(&Session) -> SessionEnd,
    ) -> Result<u64> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        let sql = format!(
            "DELETE FROM sessions WHERE {cond} RETURNING {}",
            session_columns!()
        );
        let mut q = sqlx::query_as::<_, SessionRow>(&sql);
        for b in binds {
            q = q.bind(*b);
        }
        let ended: Vec<Session> = convert(q.fetch_all(&mut *tx).await.map_err(db)?)?;
        for chunk in ended.chunks(self.backend.max_binds() / ENDED_WIDTH) {
            let mut sql = Sql::new(concat!(
                "INSERT INTO ended_sessions (",
                ended_session_columns!(),
                ") VALUES "
            ));
            for (i, s) in chunk.iter().enumerate() {
                let cells = [
                    sql.int(s.id.0),
                    sql.int(s.user_id.0),
                    sql.text(s.stage.as_str()),
                    sql.int(to_ms(s.created_at)),
                    sql.int(to_ms(s.last_seen_at)),
                    sql.int(to_ms(now)),
                    sql.text(reason(s).as_str()),
                    sql.text(s.methods.as_str()),
                    sql.arg(Arg::OptText(s.client.clone())),
                    sql.arg(Arg::OptText(s.user_agent.clone())),
                ];
                debug_assert_eq!(cells.len(), ENDED_WIDTH);
                sql.push(if i == 0 { "(" } else { ", (" })
                    .push(&cells.join(", "))
                    .push(")");
            }
            sql.execute(&mut tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(ended.len() as u64)
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
        let inline = self
            .inline
            .as_deref()
            .and_then(|r| r.session_user(token_hash));
        let row: Option<SessionUserRow> = match inline {
            Some(row) => row,
            None => sqlx::query_as(self.backend.session_user_query())
                .bind(token_hash)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(db)?,
        };
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
        let inline = self
            .inline
            .as_deref()
            .and_then(|r| r.session_app(token_hash, slug));
        let row: Option<SessionAppRow> = match inline {
            Some(row) => row,
            None => sqlx::query_as(self.backend.session_app_query())
                .bind(token_hash)
                .bind(slug)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(db)?,
        };
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

    async fn end_session(
        &self,
        id: SessionId,
        reason: SessionEnd,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.end_sessions("id = $1", &[id.0], now, |_| reason)
            .await?;
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

    async fn revoke_user_session(
        &self,
        user: UserId,
        id: SessionId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let ended = self
            .end_sessions("id = $1 AND user_id = $2", &[id.0, user.0], now, |_| {
                SessionEnd::Revoked
            })
            .await?;
        if ended == 0 {
            return Err(Error::not_found("session", id));
        }
        Ok(())
    }

    /// `NotFound` when the user is missing, as `list_user_sessions`.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        reason: SessionEnd,
        now: OffsetDateTime,
    ) -> Result<u64> {
        let ended = self
            .end_sessions("user_id = $1", &[user.0], now, |_| reason)
            .await?;
        if ended == 0 && !self.user_exists(user).await? {
            return Err(Error::not_found("user", user));
        }
        Ok(ended)
    }

    async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        self.end_sessions(
            "expires_at <= $1 OR last_seen_at < $2",
            &[to_ms(now), to_ms(idle_before)],
            now,
            |s| {
                if s.expires_at <= now {
                    SessionEnd::Expired
                } else {
                    SessionEnd::Idle
                }
            },
        )
        .await
    }

    async fn list_ended_sessions(&self, user: UserId, limit: u32) -> Result<Vec<EndedSession>> {
        let rows: Vec<EndedSessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            ended_session_columns!(),
            " FROM ended_sessions WHERE user_id = $1 ORDER BY ended_at DESC, id DESC LIMIT $2"
        ))
        .bind(user.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if rows.is_empty() && !self.user_exists(user).await? {
            return Err(Error::not_found("user", user));
        }
        convert(rows)
    }

    async fn prune_ended_sessions(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        self.delete_oldest(
            "DELETE FROM ended_sessions WHERE id IN \
             (SELECT id FROM ended_sessions WHERE ended_at < $1 ORDER BY ended_at LIMIT $2)",
            before,
            limit,
        )
        .await
    }

    async fn sign_in_state(&self, account: Account) -> Result<SignInState> {
        let (table, id) = account_row(account);
        let row: Option<SignInStateRow> = sqlx::query_as(&format!(
            "SELECT {} FROM {table} WHERE id = $1",
            sign_in_state_columns!()
        ))
        .bind(id)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        let state = row.ok_or_else(|| missing(account))?.try_into()?;
        self.open_totp(account, state)
    }

    async fn sign_in_states(&self, users: &[UserId]) -> Result<Vec<(UserId, SignInState)>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(concat!(
            "SELECT id, ",
            sign_in_state_columns!(),
            " FROM users WHERE id IN ("
        ));
        for (i, id) in users.iter().enumerate() {
            let p = sql.int(id.0);
            sql.push(if i == 0 { "" } else { ", " }).push(&p);
        }
        sql.push(")");
        let rows: Vec<IdSignInStateRow> =
            sql.fetch_all(&mut *self.conn().await?).await.map_err(db)?;
        rows.into_iter()
            .map(|r| {
                let id = UserId(r.id);
                Ok((id, self.open_totp(Account::User(id), r.state.try_into()?)?))
            })
            .collect()
    }

    async fn claim_login_attempt(
        &self,
        account: Account,
        max_failures: u32,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let (table, id) = account_row(account);
        let done = sqlx::query(&format!(
            "UPDATE {table} SET login_failures = login_failures + 1 \
             WHERE id = $1 AND login_failures < $2 \
             AND (locked_until IS NULL OR locked_until <= $3)"
        ))
        .bind(id)
        .bind(i64::from(max_failures))
        .bind(to_ms(now))
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        self.account_update_applied(done.rows_affected(), account)
            .await
    }

    /// The lock's length is computed by the UPDATE from the row's own
    /// `lock_count`: `first_lock` shifted left once per earlier lock, or
    /// the cap once the shifts would reach it.
    async fn lock_if_exhausted(
        &self,
        account: Account,
        max_failures: u32,
        first_lock: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>> {
        let (table, id) = account_row(account);
        let first = first_lock.clamp(Duration::SECOND, MAX_LOCKOUT);
        let until: Option<i64> = sqlx::query_scalar(&format!(
            "UPDATE {table} SET login_failures = 0, lock_count = lock_count + 1, \
             locked_until = $3 + CASE WHEN lock_count >= $4 THEN $5 \
             ELSE $6 << CAST(lock_count AS INTEGER) END \
             WHERE id = $1 AND login_failures >= $2 RETURNING locked_until"
        ))
        .bind(id)
        .bind(i64::from(max_failures))
        .bind(to_ms(now))
        .bind(i64::from(doublings_to_max(first)))
        .bind(ms(MAX_LOCKOUT))
        .bind(ms(first))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        match until {
            Some(ms) => Ok(Some(from_ms(ms)?)),
            None if self.account_exists(account).await? => Ok(None),
            None => Err(missing(account)),
        }
    }

    async fn reset_login_failures(&self, account: Account) -> Result<()> {
        self.update_account_row(
            account,
            "login_failures = 0, locked_until = NULL, lock_count = 0",
        )
        .await
    }

    /// One upsert: a new row takes the first slot; an existing one takes a
    /// slot when it is not blocked and its window is over (a new window
    /// starts) or has slots left. When it changes nothing, a read says
    /// until when the source is refused.
    async fn claim_source_attempt(
        &self,
        account: Account,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>> {
        let account = account.to_string();
        let window_over = to_ms(now - SOURCE_WINDOW);
        let done = sqlx::query(
            "INSERT INTO sign_in_sources (account, source, failures, window_start) \
             VALUES ($1, $2, 1, $3) \
             ON CONFLICT (account, source) DO UPDATE SET \
             failures = CASE WHEN sign_in_sources.window_start <= $4 THEN 1 \
             ELSE sign_in_sources.failures + 1 END, \
             window_start = CASE WHEN sign_in_sources.window_start <= $4 THEN $3 \
             ELSE sign_in_sources.window_start END, \
             blocked_until = NULL \
             WHERE (sign_in_sources.blocked_until IS NULL OR sign_in_sources.blocked_until <= $3) \
             AND (sign_in_sources.window_start <= $4 OR sign_in_sources.failures < $5)",
        )
        .bind(&account)
        .bind(source)
        .bind(to_ms(now))
        .bind(window_over)
        .bind(i64::from(SOURCE_FAILURES))
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if done.rows_affected() > 0 {
            return Ok(None);
        }
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT window_start, blocked_until FROM sign_in_sources \
             WHERE account = $1 AND source = $2",
        )
        .bind(&account)
        .bind(source)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        // Refused without a block yet: the slots are taken by attempts
        // still being checked; the window's end is the honest answer.
        let until = match row {
            Some((_, Some(blocked))) if blocked > to_ms(now) => blocked,
            Some((window_start, _)) => window_start.saturating_add(ms(SOURCE_WINDOW)),
            None => to_ms(now + SOURCE_BLOCK),
        };
        Ok(Some(from_ms(until)?))
    }

    async fn block_source_if_exhausted(
        &self,
        account: Account,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE sign_in_sources SET blocked_until = $3, failures = 0, window_start = $4 \
             WHERE account = $1 AND source = $2 AND failures >= $5",
        )
        .bind(account.to_string())
        .bind(source)
        .bind(to_ms(now + SOURCE_BLOCK))
        .bind(to_ms(now))
        .bind(i64::from(SOURCE_FAILURES))
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn forget_sources(&self, account: Account, source: Option<&str>) -> Result<()> {
        let query = match source {
            Some(source) => {
                sqlx::query("DELETE FROM sign_in_sources WHERE account = $1 AND source = $2")
                    .bind(account.to_string())
                    .bind(source.to_owned())
            }
            None => sqlx::query("DELETE FROM sign_in_sources WHERE account = $1")
                .bind(account.to_string()),
        };
        query.execute(&mut *self.conn().await?).await.map_err(db)?;
        Ok(())
    }

    async fn purge_sources(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM sign_in_sources WHERE window_start <= $1 \
             AND (blocked_until IS NULL OR blocked_until <= $2)",
        )
        .bind(to_ms(now - SOURCE_WINDOW))
        .bind(to_ms(now))
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn set_totp_pending(&self, account: Account, secret: Option<&str>) -> Result<()> {
        let (table, id) = account_row(account);
        let sealed = match secret {
            Some(secret) => Some(self.keyring()?.encrypt(&totp_aad(account, true), secret)?),
            None => None,
        };
        let done = sqlx::query(&format!(
            "UPDATE {table} SET totp_pending = $2 WHERE id = $1"
        ))
        .bind(id)
        .bind(sealed)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(missing(account));
        }
        Ok(())
    }

    /// The pending secret is stored encrypted (bound to the pending
    /// column), so it is read, decrypted and compared here, re-encrypted
    /// for the enrolled column, and the UPDATE applies only if the pending
    /// ciphertext is still the one read: a concurrent re-enrollment makes
    /// it change nothing.
    async fn confirm_totp(&self, account: Account, secret: &str, step: i64) -> Result<bool> {
        let (table, id) = account_row(account);
        let keyring = self.keyring()?;
        let pending: Option<Option<String>> =
            sqlx::query_scalar(&format!("SELECT totp_pending FROM {table} WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(db)?;
        let Some(pending) = pending else {
            return Err(missing(account));
        };
        let Some(sealed) = pending else {
            return Ok(false);
        };
        if keyring.decrypt(&totp_aad(account, true), &sealed)? != secret {
            return Ok(false);
        }
        let enrolled = keyring.encrypt(&totp_aad(account, false), secret)?;
        let done = sqlx::query(&format!(
            "UPDATE {table} SET totp_secret = $3, totp_pending = NULL, \
             totp_last_step = $2 WHERE id = $1 AND totp_pending = $4"
        ))
        .bind(id)
        .bind(step)
        .bind(enrolled)
        .bind(sealed)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        self.account_update_applied(done.rows_affected(), account)
            .await
    }

    async fn reset_totp(&self, account: Account) -> Result<()> {
        self.update_account_row(account, "totp_secret = NULL, totp_pending = NULL")
            .await
    }

    async fn use_totp_step(&self, account: Account, step: i64) -> Result<bool> {
        let (table, id) = account_row(account);
        let done = sqlx::query(&format!(
            "UPDATE {table} SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2"
        ))
        .bind(id)
        .bind(step)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        self.account_update_applied(done.rows_affected(), account)
            .await
    }

    /// Like `remember_request_id`: one transaction that starts with the
    /// DELETE (SQLite's write lock first; on PostgreSQL a concurrent insert
    /// of the same ID waits and then does nothing), then the instant that
    /// is stored, whoever stored it.
    async fn note_forced_authn(
        &self,
        app: AppId,
        request_id: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<OffsetDateTime> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM sso_force_authn WHERE app_id = $1 AND expires_at <= $2")
            .bind(app.0)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO sso_force_authn (app_id, request_id, since, expires_at) \
             SELECT id, $2, $3, $4 FROM apps WHERE id = $1 ON CONFLICT DO NOTHING",
        )
        .bind(app.0)
        .bind(request_id)
        .bind(to_ms(now))
        .bind(to_ms(expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let since: Option<i64> = sqlx::query_scalar(
            "SELECT since FROM sso_force_authn WHERE app_id = $1 AND request_id = $2",
        )
        .bind(app.0)
        .bind(request_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        match since {
            Some(ms) => from_ms(ms),
            None => Err(Error::not_found("application", app)),
        }
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

    async fn prune_expired(&self, now: OffsetDateTime, limit: u32) -> Result<u64> {
        let mut deleted = 0;
        for statement in [
            "DELETE FROM seen_requests WHERE (app_id, request_id) IN (SELECT app_id, request_id \
             FROM seen_requests WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM sso_force_authn WHERE (app_id, request_id) IN (SELECT app_id, \
             request_id FROM sso_force_authn WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM form_tokens WHERE token IN (SELECT token FROM form_tokens \
             WHERE expires_at <= $1 LIMIT $2)",
        ] {
            let done = sqlx::query(statement)
                .bind(to_ms(now))
                .bind(i64::from(limit))
                .execute(&mut *self.conn().await?)
                .await
                .map_err(db)?;
            deleted += done.rows_affected();
        }
        Ok(deleted)
    }

    async fn last_role_choice(&self, user: UserId, app: AppId) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        sqlx::query_scalar("SELECT role FROM role_choices WHERE user_id = $1 AND app_id = $2")
            .bind(user.0)
            .bind(app.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)
    }

    async fn remember_role_choice(
        &self,
        user: UserId,
        app: AppId,
        role: &str,
        at: OffsetDateTime,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        // From the user's and the app's rows: nothing (rather than a
        // foreign-key error) when either was deleted meanwhile.
        sqlx::query(
            "INSERT INTO role_choices (user_id, app_id, role, chosen_at) \
             SELECT u.id, a.id, $3, $4 FROM users u, apps a WHERE u.id = $1 AND a.id = $2 \
             ON CONFLICT (user_id, app_id) DO UPDATE SET role = excluded.role, \
             chosen_at = excluded.chosen_at",
        )
        .bind(user.0)
        .bind(app.0)
        .bind(role)
        .bind(to_ms(at))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        Ok(())
    }
}
