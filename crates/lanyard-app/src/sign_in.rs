//! Signing in, as a state machine shared by users (`/login`) and admins
//! (`/admin/login`): [`user`] and [`admin`] take an [`Attempt`] and answer
//! an [`Outcome`]; [`second_factor`] finishes a user's sign-in with a TOTP
//! code. The doors only check `Origin` and the CSRF token first, and map
//! outcomes to pages and cookies.
//!
//! Order of the steps, and why:
//! 1. The per-address rate limit (`ratelimit`, per node): `RateLimited`.
//!    Only the first refusal of a window is audited, so a flood cannot
//!    flood the log.
//! 2. The account is looked up by its login. An unknown one still costs one
//!    argon2 verification (against a dummy hash) and is `WrongCredentials`,
//!    like a wrong password: a timing or a message cannot tell whether an
//!    account exists.
//! 3. A locked account (its failure counter at `max_failures`) is `Locked`;
//!    otherwise one attempt slot is claimed atomically *before* the
//!    password is checked, so parallel guesses check at most `max_failures`
//!    passwords. Lockout reveals that the account exists; that is inherent
//!    to lockout and accepted.
//! 4. The password is verified on the blocking pool: `WrongCredentials`.
//!    Right: the counter goes back to 0, unless a second factor follows, in
//!    which case it waits for the code (password and code attempts share one
//!    counter and only a whole sign-in resets it, so knowing the password
//!    buys no more than `max_failures` code guesses).
//! 5. Only now is a suspended account told it is `Suspended`, so suspension
//!    is never revealed to someone guessing passwords.
//! 6. The session the browser presented is ended (no fixation) and a new
//!    one made: `SignedIn`, or `NeedsSecondFactor` with a session that only
//!    reaches the second-factor step.
//!
//! The second factor claims an attempt slot the same way before checking a
//! code (wrong and replayed codes count as failures), must come within
//! [`TOTP_STAGE_LIMIT`] of the password, and a code is good once: the store
//! refuses a time step at or before the last one used.
//!
//! Admins have no failure counter or second factor yet (the `admins` table
//! has neither): their accounts claim every slot and are never suspended.
//!
//! Audit (batched, like SSO events): `user.sign_in` (with the method and
//! session id) and `user.sign_in_failed` with `reason` one of
//! `unknown_user`, `wrong_password`, `locked`, `suspended`, `wrong_totp`,
//! `replayed_totp`, `rate_limited`; for admins `admin.sign_in` and
//! `admin.sign_in_failed` (`unknown_admin`, `wrong_password`,
//! `rate_limited`). Never a password or code.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
use lanyard_core::directory::UserState;
use lanyard_core::session::{
    token_hash, AuthMethods, NewAdminSession, NewSession, Session, SessionStage, SignInState,
};
use lanyard_core::store::Store;
use lanyard_core::{AdminId, Result, UserId};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::ratelimit::{RateLimiter, Verdict};
use crate::secrets::new_token;
use crate::sessions::is_token;
use crate::{totp, Client, Lanyard};

/// How long the second factor may take after the password.
pub const TOTP_STAGE_LIMIT: Duration = Duration::minutes(5);

/// How often (at most, per node) a user's sign-in also deletes expired
/// sessions.
pub const PURGE_INTERVAL: Duration = Duration::minutes(10);

/// Longest login name looked up or recorded.
pub const MAX_LOGIN: usize = 320;

/// Per-node, in-memory sign-in state: the per-address rate limiter (users
/// and admins share it) and when expired sessions were last purged.
pub(crate) struct Throttle {
    limiter: RateLimiter,
    last_purge: Mutex<Option<OffsetDateTime>>,
}

impl Throttle {
    pub(crate) fn new(attempts_per_minute: u32) -> Self {
        Self {
            limiter: RateLimiter::new(attempts_per_minute),
            last_purge: Mutex::new(None),
        }
    }

    /// Whether a purge is due at `now`; if so, records it as done.
    fn purge_due(&self, now: OffsetDateTime) -> bool {
        let mut last = self
            .last_purge
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = last.is_none_or(|at| now - at >= PURGE_INTERVAL || now < at);
        if due {
            *last = Some(now);
        }
        due
    }
}

/// One sign-in attempt: what the form carried, where it came from, and the
/// session token the browser already had (ended on success).
// No `Debug`: it carries a password.
pub struct Attempt {
    pub login: String,
    pub password: String,
    pub client: Client,
    pub presented_token: Option<String>,
}

/// What an attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Too many attempts from this address this minute.
    RateLimited,
    /// An unknown login or a wrong password (one answer for both).
    WrongCredentials,
    /// Too many failures: an administrator must unlock the account.
    Locked,
    /// The password was right, but the account is suspended.
    Suspended,
    /// The password was right; the second factor is due. `token` names a
    /// session that reaches only [`second_factor`].
    NeedsSecondFactor { token: String },
    /// Signed in: `token` names the new session.
    SignedIn { token: String },
}

/// An account as the machine sees it.
struct Account {
    id: i64,
    email: String,
    hash: Option<String>,
    suspended: bool,
    /// The user's lockout counter and TOTP (admins: none yet).
    state: SignInState,
}

/// What differs between users and admins: where accounts, counters and
/// sessions live, and how events name them.
#[async_trait]
trait Accounts: Send + Sync {
    /// `user` or `admin`: actors are named after it.
    const KIND: &'static str;
    const SIGN_IN: AuditAction;
    const SIGN_IN_FAILED: AuditAction;
    /// The event target of an account.
    fn target(id: i64) -> AuditTarget;
    async fn find(&self, store: &dyn Store, login: &str) -> Result<Option<Account>>;
    async fn claim_attempt(&self, store: &dyn Store, id: i64, max: u32) -> Result<bool>;
    async fn reset_failures(&self, store: &dyn Store, id: i64) -> Result<()>;
    /// Ends the session named by the browser's token, if any.
    async fn end_presented(&self, store: &dyn Store, token: &str) -> Result<()>;
    /// A new session; its id.
    async fn open_session(&self, l: &Lanyard, new: NewAccountSession) -> Result<i64>;
    /// Deletes expired sessions (each kind has its own schedule).
    async fn purge(&self, l: &Lanyard, now: OffsetDateTime);
    /// What the success event says besides the session id.
    fn signed_in_summary(&self, session: i64, method: &str) -> serde_json::Value;
}

struct NewAccountSession {
    id: i64,
    token: String,
    stage: SessionStage,
    now: OffsetDateTime,
    client: Client,
}

struct Users;
struct Admins;

#[async_trait]
impl Accounts for Users {
    const KIND: &'static str = "user";
    const SIGN_IN: AuditAction = AuditAction::UserSignIn;
    const SIGN_IN_FAILED: AuditAction = AuditAction::UserSignInFailed;

    fn target(id: i64) -> AuditTarget {
        AuditTarget::User(UserId(id))
    }

    async fn find(&self, store: &dyn Store, login: &str) -> Result<Option<Account>> {
        let Some((user, hash)) = store.find_user_by_login(login).await? else {
            return Ok(None);
        };
        let state = store.sign_in_state(user.id).await?;
        Ok(Some(Account {
            id: user.id.0,
            email: user.email,
            hash,
            suspended: user.state == UserState::Suspended,
            state,
        }))
    }

    async fn claim_attempt(&self, store: &dyn Store, id: i64, max: u32) -> Result<bool> {
        store.claim_login_attempt(UserId(id), max).await
    }

    async fn reset_failures(&self, store: &dyn Store, id: i64) -> Result<()> {
        store.reset_login_failures(UserId(id)).await
    }

    async fn end_presented(&self, store: &dyn Store, token: &str) -> Result<()> {
        if let Some(session) = store.find_session(&token_hash(token)).await? {
            store.delete_session(session.id).await?;
        }
        Ok(())
    }

    async fn open_session(&self, l: &Lanyard, new: NewAccountSession) -> Result<i64> {
        let session = l
            .store()
            .create_session(&NewSession {
                token_hash: token_hash(&new.token),
                user_id: UserId(new.id),
                stage: new.stage,
                methods: AuthMethods::Password,
                csrf_secret: new_token()?,
                now: new.now,
                expires_at: new.now + l.settings().auth.session_max,
                client: new.client.source(),
                user_agent: new.client.user_agent,
            })
            .await?;
        Ok(session.id.0)
    }

    async fn purge(&self, l: &Lanyard, now: OffsetDateTime) {
        if !l.0.throttle.purge_due(now) {
            return;
        }
        let idle_before = now - l.settings().auth.session_idle;
        match l.store().purge_sessions(now, idle_before).await {
            Ok(n) if n > 0 => tracing::info!("purged {n} expired sessions"),
            Ok(_) => {}
            Err(err) => tracing::warn!("purging expired sessions failed: {err}"),
        }
    }

    fn signed_in_summary(&self, session: i64, method: &str) -> serde_json::Value {
        json!({ "method": method, "session": session })
    }
}

#[async_trait]
impl Accounts for Admins {
    const KIND: &'static str = "admin";
    const SIGN_IN: AuditAction = AuditAction::AdminSignIn;
    const SIGN_IN_FAILED: AuditAction = AuditAction::AdminSignInFailed;

    fn target(id: i64) -> AuditTarget {
        AuditTarget::Admin(AdminId(id))
    }

    async fn find(&self, store: &dyn Store, login: &str) -> Result<Option<Account>> {
        Ok(store
            .find_admin_by_email(login)
            .await?
            .map(|(admin, hash)| Account {
                id: admin.id.0,
                email: admin.email,
                hash: Some(hash),
                suspended: false,
                state: SignInState {
                    failures: 0,
                    totp_secret: None,
                    totp_pending: None,
                    totp_last_step: 0,
                },
            }))
    }

    async fn claim_attempt(&self, _: &dyn Store, _: i64, _: u32) -> Result<bool> {
        Ok(true)
    }

    async fn reset_failures(&self, _: &dyn Store, _: i64) -> Result<()> {
        Ok(())
    }

    async fn end_presented(&self, store: &dyn Store, token: &str) -> Result<()> {
        if let Some((old, _)) = store.find_admin_session(&token_hash(token)).await? {
            store.delete_admin_session(old.id).await?;
        }
        Ok(())
    }

    async fn open_session(&self, l: &Lanyard, new: NewAccountSession) -> Result<i64> {
        let session = l
            .store()
            .create_admin_session(&NewAdminSession {
                token_hash: token_hash(&new.token),
                admin_id: AdminId(new.id),
                csrf_secret: new_token()?,
                now: new.now,
                expires_at: new.now + l.settings().auth.session_max,
                client: new.client.source(),
                user_agent: new.client.user_agent,
            })
            .await?;
        Ok(session.id.0)
    }

    /// Admin sign-ins are rare: every one purges (one indexed DELETE).
    async fn purge(&self, l: &Lanyard, now: OffsetDateTime) {
        let idle_before = now - l.settings().auth.session_idle;
        if let Err(err) = l.store().purge_admin_sessions(now, idle_before).await {
            tracing::warn!("purging expired admin sessions failed: {err}");
        }
    }

    fn signed_in_summary(&self, session: i64, _method: &str) -> serde_json::Value {
        json!({ "session": session })
    }
}

/// Records one sign-in event (batched).
fn record(
    l: &Lanyard,
    client: &Client,
    actor: &str,
    action: AuditAction,
    target: AuditTarget,
    summary: serde_json::Value,
) {
    l.audit().record(
        AuditEvent::new(l.now(), actor, action, &target, summary.to_string())
            .from_source(client.source()),
    );
}

/// A user's sign-in at `/login`.
pub async fn user(l: &Lanyard, attempt: Attempt) -> Result<Outcome> {
    run(l, &Users, attempt).await
}

/// An admin's sign-in at `/admin/login` (the login is the email).
pub async fn admin(l: &Lanyard, attempt: Attempt) -> Result<Outcome> {
    run(l, &Admins, attempt).await
}

async fn run<A: Accounts>(l: &Lanyard, accounts: &A, attempt: Attempt) -> Result<Outcome> {
    let kind = A::KIND;
    let Attempt {
        login,
        password,
        client,
        presented_token,
    } = attempt;
    let login: String = login.trim().chars().take(MAX_LOGIN).collect();
    let now = l.now();
    let anonymous = |reason: &str| {
        record(
            l,
            &client,
            "anonymous",
            A::SIGN_IN_FAILED,
            AuditTarget::Login(login.clone()),
            json!({ "reason": reason }),
        )
    };
    if let Verdict::Limited { first } = l.0.throttle.limiter.check(client.addr, now) {
        if first {
            anonymous("rate_limited");
        }
        return Ok(Outcome::RateLimited);
    }

    let store = l.store();
    let found = if login.is_empty() {
        None
    } else {
        accounts.find(store, &login).await?
    };
    let Some(account) = found else {
        l.passwords().verify(password, None).await?;
        anonymous(&format!("unknown_{kind}"));
        return Ok(Outcome::WrongCredentials);
    };
    let actor = format!("{kind}:{}", account.email);
    let target = || A::target(account.id);
    let refused = |reason: &str| {
        record(
            l,
            &client,
            &actor,
            A::SIGN_IN_FAILED,
            target(),
            json!({ "reason": reason }),
        )
    };

    let max = l.settings().auth.max_failures;
    if account.state.is_locked(max) || !accounts.claim_attempt(store, account.id, max).await? {
        refused("locked");
        return Ok(Outcome::Locked);
    }
    if !l.passwords().verify(password, account.hash.clone()).await? {
        refused("wrong_password");
        return Ok(Outcome::WrongCredentials);
    }
    // With a second factor the counter waits for the code: resetting it
    // here would let someone who knows the password guess codes forever, a
    // few at a time.
    let second_factor = account.state.totp_enabled();
    if !second_factor {
        accounts.reset_failures(store, account.id).await?;
    }
    if account.suspended {
        refused("suspended");
        return Ok(Outcome::Suspended);
    }

    if let Some(old) = presented_token.as_deref().filter(|t| is_token(t)) {
        accounts.end_presented(store, old).await?;
    }
    let stage = if second_factor {
        SessionStage::AwaitingTotp
    } else {
        SessionStage::Complete
    };
    let token = new_token()?;
    let session = accounts
        .open_session(
            l,
            NewAccountSession {
                id: account.id,
                token: token.clone(),
                stage,
                now,
                client: client.clone(),
            },
        )
        .await?;
    accounts.purge(l, now).await;
    Ok(match stage {
        SessionStage::Complete => {
            record(
                l,
                &client,
                &actor,
                A::SIGN_IN,
                target(),
                accounts.signed_in_summary(session, "password"),
            );
            Outcome::SignedIn { token }
        }
        SessionStage::AwaitingTotp => Outcome::NeedsSecondFactor { token },
    })
}

/// The half-done sign-in named by `token`: `AwaitingTotp`, live, and within
/// [`TOTP_STAGE_LIMIT`] of the password. An ended one is deleted; anything
/// else is `None`.
pub async fn pending(l: &Lanyard, token: &str) -> Result<Option<Session>> {
    if !is_token(token) {
        return Ok(None);
    }
    let store = l.store();
    let Some(session) = store.find_session(&token_hash(token)).await? else {
        return Ok(None);
    };
    if session.stage != SessionStage::AwaitingTotp {
        return Ok(None);
    }
    let now = l.now();
    if !session.is_live(now, l.settings().auth.session_idle)
        || now - session.created_at > TOTP_STAGE_LIMIT
    {
        store.delete_session(session.id).await?;
        return Ok(None);
    }
    Ok(Some(session))
}

/// What a second-factor code came to.
#[derive(Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// Too many attempts from this address this minute.
    RateLimited,
    /// The second factor was removed meanwhile: the half-done session is
    /// ended; sign in again.
    Restart,
    /// Suspended meanwhile: the half-done session is ended.
    Suspended,
    /// Too many failures: the half-done session is ended.
    Locked,
    /// Not the code of now (or of one step either side).
    WrongCode,
    /// A code already used.
    ReplayedCode,
    /// Signed in: the same session, now complete, under a new token (the
    /// one handed out after the password alone no longer works).
    SignedIn { token: String },
}

/// Checks `code` for the half-done `session` (from [`pending`]; the door
/// has checked its CSRF token).
pub async fn second_factor(
    l: &Lanyard,
    session: &Session,
    code: &str,
    client: &Client,
) -> Result<SecondFactor> {
    let store = l.store();
    let now = l.now();
    let user = store.get_user(session.user_id).await?;
    let actor = format!("user:{}", user.email);
    let failed = |reason: &str| {
        record(
            l,
            client,
            &actor,
            AuditAction::UserSignInFailed,
            AuditTarget::User(user.id),
            json!({ "reason": reason }),
        )
    };
    if let Verdict::Limited { first } = l.0.throttle.limiter.check(client.addr, now) {
        if first {
            failed("rate_limited");
        }
        return Ok(SecondFactor::RateLimited);
    }
    if user.state == UserState::Suspended {
        failed("suspended");
        store.delete_session(session.id).await?;
        return Ok(SecondFactor::Suspended);
    }
    let state = store.sign_in_state(user.id).await?;
    let Some(secret) = state.totp_secret.as_deref() else {
        // Reset by an admin meanwhile: start again.
        store.delete_session(session.id).await?;
        return Ok(SecondFactor::Restart);
    };
    let max = l.settings().auth.max_failures;
    if state.is_locked(max) || !store.claim_login_attempt(user.id, max).await? {
        failed("locked");
        store.delete_session(session.id).await?;
        return Ok(SecondFactor::Locked);
    }
    let Some(step) = totp::check(secret, code, now)? else {
        failed("wrong_totp");
        return Ok(SecondFactor::WrongCode);
    };
    if !store.use_totp_step(user.id, step).await? {
        failed("replayed_totp");
        return Ok(SecondFactor::ReplayedCode);
    }
    store.reset_login_failures(user.id).await?;
    let token = new_token()?;
    let session = store
        .complete_session(session.id, &token_hash(&token), now)
        .await?;
    record(
        l,
        client,
        &actor,
        AuditAction::UserSignIn,
        AuditTarget::User(user.id),
        json!({ "method": "password+totp", "session": session.id }),
    );
    Ok(SecondFactor::SignedIn { token })
}

#[cfg(test)]
#[path = "sign_in_tests.rs"]
mod tests;
