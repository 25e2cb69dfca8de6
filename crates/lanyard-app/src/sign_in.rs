//! Signing in, as a state machine shared by users (`/login`) and admins
//! (`/admin/login`): [`user`] and [`admin`] take an [`Attempt`] and answer
//! an [`Outcome`]; [`second_factor`] and [`admin_second_factor`] finish a
//! sign-in with a TOTP code. The doors only check `Origin` and the CSRF
//! token first, and map outcomes to pages and cookies.
//!
//! Order of the steps, and why:
//! 1. The per-address rate limit (`ratelimit`, per node): `RateLimited`.
//!    Only the first refusal of a window is audited, so a flood cannot
//!    flood the log.
//! 2. The account is looked up by its login. An unknown one still costs one
//!    argon2 verification (against a dummy hash) and is `WrongCredentials`,
//!    like a wrong password: a timing or a message cannot tell whether an
//!    account exists.
//! 3. A guess is guarded ([`Guard`]): first the source (the client's
//!    address) takes one of its `SOURCE_FAILURES` slots for this account
//!    (`Throttled` when they are used up: the source is refused for this
//!    account for [`lanyard_core::session::SOURCE_BLOCK`]); only then does
//!    the account take one of its `max_failures` slots (`Locked` when it is
//!    locked or they are used up). Both are taken atomically *before* the
//!    password is checked, so parallel guesses check at most that many
//!    passwords, and a throttled source never reaches the account's
//!    counter: one address cannot lock anyone out. A failure that uses up
//!    the account's slots locks it for `lockout_duration`, doubling with
//!    each further lock up to a day; a success ends the doubling. Lockout
//!    reveals that the account exists; that is inherent to it and accepted.
//! 4. The password is verified on the blocking pool: `WrongCredentials`.
//!    Right: the counter goes back to 0, unless a second factor follows, in
//!    which case it waits for the code (password and code attempts share one
//!    counter and only a whole sign-in resets it, so knowing the password
//!    buys no more than `max_failures` code guesses).
//! 5. Only now is a suspended user (or a disabled admin) told it is
//!    `Suspended`, so that is never revealed to someone guessing passwords.
//! 6. The session the browser presented is ended (no fixation) and a new
//!    one made: `SignedIn`; `NeedsSecondFactor` with a session that only
//!    reaches the second-factor step; or, for an admin without a second
//!    factor when the instance requires one, `MustEnroll` with a session
//!    that only reaches TOTP enrollment.
//!
//! The second factor is guarded the same way before a code is checked
//! (wrong and replayed codes are failures), must come within
//! [`TOTP_STAGE_LIMIT`] of the password, and a code is good once: the store
//! refuses a time step at or before the last one used.
//!
//! Audit (batched, like SSO events): `user.sign_in` (with the method and
//! session id) and `user.sign_in_failed` with `reason` one of
//! `unknown_user`, `wrong_password`, `locked`, `throttled`, `suspended`,
//! `wrong_totp`, `replayed_totp`, `rate_limited` (and `locked_until` on the
//! failure that locked the account); for admins `admin.sign_in` and
//! `admin.sign_in_failed` with the same reasons (`unknown_admin`,
//! `disabled`). Never a password or code.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
use lanyard_core::directory::UserState;
use lanyard_core::session::{
    token_hash, Account, AdminSession, AuthMethods, NewAdminSession, NewSession, Session,
    SessionEnd, SessionStage, SignInState,
};
use lanyard_core::store::Store;
use lanyard_core::{AdminId, AdminSessionId, Result, SessionId, UserId};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::ratelimit::{RateLimiter, Verdict};
use crate::secrets::new_token;
use crate::sessions::is_token;
use crate::{totp, Client, Lanyard};

/// How long the second factor (or a required enrollment) may take after
/// the password.
pub const TOTP_STAGE_LIMIT: Duration = Duration::minutes(5);

/// How often (at most, per node) a user's sign-in also deletes expired
/// sessions and forgotten source counts.
pub const PURGE_INTERVAL: Duration = Duration::minutes(10);

/// Longest login name looked up or recorded.
pub const MAX_LOGIN: usize = 320;

/// The source of a client without a known address: such clients share one
/// source, so a missing address cannot dodge the source rule.
const UNKNOWN_SOURCE: &str = "unknown";

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
    /// Too many failures from this address for this account: refused until
    /// `until`.
    Throttled { until: OffsetDateTime },
    /// An unknown login or a wrong password (one answer for both).
    WrongCredentials,
    /// Too many failures: locked until `until` (when known), or until an
    /// administrator unlocks the account.
    Locked { until: Option<OffsetDateTime> },
    /// The password was right, but the user is suspended (the admin
    /// disabled).
    Suspended,
    /// The password was right; the second factor is due. `token` names a
    /// session that reaches only the second-factor step.
    NeedsSecondFactor { token: String },
    /// An admin's password was right, and the instance requires a second
    /// factor this admin has not set up: `token` names a session that
    /// reaches only TOTP enrollment (and sign-out).
    MustEnroll { token: String },
    /// Signed in: `token` names the new session.
    SignedIn { token: String },
}

/// Why a guess was not even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The source used up its slots for this account.
    Throttled { until: OffsetDateTime },
    /// The account is locked (or its slots are taken by guesses still
    /// being checked).
    Locked { until: Option<OffsetDateTime> },
}

impl Refusal {
    /// The audit reason.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Throttled { .. } => "throttled",
            Refusal::Locked { .. } => "locked",
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Refusal::Throttled { until } => Outcome::Throttled { until },
            Refusal::Locked { until } => Outcome::Locked { until },
        }
    }
}

/// One guess (a password or a code) at an account, with both of its slots
/// taken: [`Guard::claim`] first, then [`Guard::failed`],
/// [`Guard::password_right`] or [`Guard::succeeded`] once the guess is
/// checked. The rules are in the module docs; the portal's password checks
/// (confirming it again, changing it) use the same guard.
pub(crate) struct Guard {
    account: Account,
    source: String,
}

impl Guard {
    /// Takes the source's slot, then the account's.
    pub(crate) async fn claim(
        l: &Lanyard,
        account: Account,
        client: &Client,
    ) -> Result<std::result::Result<Guard, Refusal>> {
        let store = l.store();
        let now = l.now();
        let source = client.source().unwrap_or_else(|| UNKNOWN_SOURCE.to_owned());
        if let Some(until) = store.claim_source_attempt(account, &source, now).await? {
            return Ok(Err(Refusal::Throttled { until }));
        }
        let auth = &l.settings().auth;
        if !store
            .claim_login_attempt(account, auth.max_failures, now)
            .await?
        {
            // A counter left at the limit (by a lock this guard missed, or
            // by the rule before timed locks) becomes a timed lock here.
            store
                .lock_if_exhausted(account, auth.max_failures, auth.lockout_duration, now)
                .await?;
            let until = store.sign_in_state(account).await?.locked_at(now);
            return Ok(Err(Refusal::Locked { until }));
        }
        Ok(Ok(Guard { account, source }))
    }

    /// A wrong guess: the source is blocked when its slots are used up,
    /// the account locked when its are. The lock's end when this failure
    /// locked the account.
    pub(crate) async fn failed(self, l: &Lanyard) -> Result<Option<OffsetDateTime>> {
        let store = l.store();
        let now = l.now();
        let auth = &l.settings().auth;
        store
            .block_source_if_exhausted(self.account, &self.source, now)
            .await?;
        store
            .lock_if_exhausted(self.account, auth.max_failures, auth.lockout_duration, now)
            .await
    }

    /// A right password with a second factor to follow: the source's
    /// count is forgotten, the account's counter waits for the code.
    async fn password_right(self, l: &Lanyard) -> Result<()> {
        l.store()
            .forget_sources(self.account, Some(&self.source))
            .await
    }

    /// A whole success: counter, lock and this source's count back to 0.
    pub(crate) async fn succeeded(self, l: &Lanyard) -> Result<()> {
        let store = l.store();
        store.reset_login_failures(self.account).await?;
        store.forget_sources(self.account, Some(&self.source)).await
    }
}

/// An account as the machine sees it.
struct Found {
    id: i64,
    email: String,
    hash: Option<String>,
    /// A suspended user or a disabled admin.
    barred: bool,
    state: SignInState,
}

/// What differs between users and admins: where accounts and sessions
/// live, and how events name them.
#[async_trait]
trait Accounts: Send + Sync {
    /// `user` or `admin`: actors are named after it.
    const KIND: &'static str;
    const SIGN_IN: AuditAction;
    const SIGN_IN_FAILED: AuditAction;
    /// Why a barred account is refused (`suspended`, `disabled`).
    const BARRED: &'static str;
    fn account(id: i64) -> Account;
    /// The event target of an account.
    fn target(id: i64) -> AuditTarget;
    async fn find(&self, store: &dyn Store, login: &str) -> Result<Option<Found>>;
    /// The account of a half-done sign-in, by id.
    async fn load(&self, store: &dyn Store, id: i64) -> Result<Found>;
    /// The stage a session starts at once the password was right.
    fn first_stage(&self, l: &Lanyard, found: &Found) -> SessionStage;
    /// Ends the session named by the browser's token, if any (the same
    /// browser signs in again).
    async fn end_presented(
        &self,
        store: &dyn Store,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// A new session; its id.
    async fn open_session(&self, l: &Lanyard, new: NewAccountSession) -> Result<i64>;
    /// Ends a half-done session at `now` (`reason` goes into a user
    /// session's history).
    async fn end_session(
        &self,
        store: &dyn Store,
        session: i64,
        reason: SessionEnd,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// A half-done session passed the second factor at `now`: complete,
    /// under a new token (its hash `token_hash`).
    async fn complete_session(
        &self,
        store: &dyn Store,
        session: i64,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
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
    const BARRED: &'static str = "suspended";

    fn account(id: i64) -> Account {
        Account::User(UserId(id))
    }

    fn target(id: i64) -> AuditTarget {
        AuditTarget::User(UserId(id))
    }

    async fn find(&self, store: &dyn Store, login: &str) -> Result<Option<Found>> {
        let Some((user, hash)) = store.find_user_by_login(login).await? else {
            return Ok(None);
        };
        let state = store.sign_in_state(Account::User(user.id)).await?;
        Ok(Some(Found {
            id: user.id.0,
            email: user.email,
            hash,
            barred: user.state == UserState::Suspended,
            state,
        }))
    }

    async fn load(&self, store: &dyn Store, id: i64) -> Result<Found> {
        let user = store.get_user(UserId(id)).await?;
        let state = store.sign_in_state(Account::User(user.id)).await?;
        Ok(Found {
            id,
            email: user.email,
            hash: None,
            barred: user.state == UserState::Suspended,
            state,
        })
    }

    fn first_stage(&self, _: &Lanyard, found: &Found) -> SessionStage {
        if found.state.totp_enabled() {
            SessionStage::AwaitingTotp
        } else {
            SessionStage::Complete
        }
    }

    async fn end_presented(
        &self,
        store: &dyn Store,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        if let Some(session) = store.find_session(&token_hash(token)).await? {
            store
                .end_session(session.id, SessionEnd::Replaced, now)
                .await?;
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

    async fn end_session(
        &self,
        store: &dyn Store,
        session: i64,
        reason: SessionEnd,
        now: OffsetDateTime,
    ) -> Result<()> {
        store.end_session(SessionId(session), reason, now).await
    }

    async fn complete_session(
        &self,
        store: &dyn Store,
        session: i64,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        store
            .complete_session(SessionId(session), token_hash, now)
            .await?;
        Ok(())
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
        if let Err(err) = l.store().purge_sources(now).await {
            tracing::warn!("purging sign-in source counts failed: {err}");
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
    const BARRED: &'static str = "disabled";

    fn account(id: i64) -> Account {
        Account::Admin(AdminId(id))
    }

    fn target(id: i64) -> AuditTarget {
        AuditTarget::Admin(AdminId(id))
    }

    async fn find(&self, store: &dyn Store, login: &str) -> Result<Option<Found>> {
        let Some((admin, hash)) = store.find_admin_by_email(login).await? else {
            return Ok(None);
        };
        let state = store.sign_in_state(Account::Admin(admin.id)).await?;
        Ok(Some(Found {
            id: admin.id.0,
            email: admin.email,
            hash: Some(hash),
            barred: admin.disabled,
            state,
        }))
    }

    async fn load(&self, store: &dyn Store, id: i64) -> Result<Found> {
        let admin = store.get_admin(AdminId(id)).await?;
        let state = store.sign_in_state(Account::Admin(admin.id)).await?;
        Ok(Found {
            id,
            email: admin.email,
            hash: None,
            barred: admin.disabled,
            state,
        })
    }

    fn first_stage(&self, l: &Lanyard, found: &Found) -> SessionStage {
        if found.state.totp_enabled() {
            SessionStage::AwaitingTotp
        } else if l.settings().auth.require_admin_second_factor {
            SessionStage::Enrolling
        } else {
            SessionStage::Complete
        }
    }

    async fn end_presented(&self, store: &dyn Store, token: &str, _: OffsetDateTime) -> Result<()> {
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

    async fn end_session(
        &self,
        store: &dyn Store,
        session: i64,
        _: SessionEnd,
        _: OffsetDateTime,
    ) -> Result<()> {
        store.delete_admin_session(AdminSessionId(session)).await
    }

    async fn complete_session(
        &self,
        store: &dyn Store,
        session: i64,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        store
            .advance_admin_session(
                AdminSessionId(session),
                SessionStage::Complete,
                AuthMethods::PasswordTotp,
                token_hash,
                now,
            )
            .await?;
        Ok(())
    }

    /// Admin sign-ins are rare: every one purges (one indexed DELETE).
    async fn purge(&self, l: &Lanyard, now: OffsetDateTime) {
        let idle_before = now - l.settings().auth.session_idle;
        if let Err(err) = l.store().purge_admin_sessions(now, idle_before).await {
            tracing::warn!("purging expired admin sessions failed: {err}");
        }
    }

    fn signed_in_summary(&self, session: i64, method: &str) -> serde_json::Value {
        json!({ "method": method, "session": session })
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
    let account = match action {
        AuditAction::AdminSignIn | AuditAction::AdminSignInFailed => Some("admin"),
        AuditAction::UserSignIn | AuditAction::UserSignInFailed => Some("user"),
        _ => None,
    };
    if let Some(account) = account {
        let outcome = match action {
            AuditAction::AdminSignIn | AuditAction::UserSignIn => "success",
            _ => summary["reason"].as_str().unwrap_or("failed"),
        };
        l.metrics().sign_in(account, outcome);
    }
    l.audit().record(
        AuditEvent::new(l.now(), actor, action, &target, summary.to_string())
            .from_source(client.source()),
    );
}

/// The summary of a failure event: the reason, and the lock's end when
/// this failure locked the account.
fn failure(reason: &str, locked_until: Option<OffsetDateTime>) -> serde_json::Value {
    match locked_until {
        Some(until) => json!({ "reason": reason, "locked_until": rfc3339(until) }),
        None => json!({ "reason": reason }),
    }
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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
    let Some(found) = found else {
        l.passwords().verify(password, None).await?;
        anonymous(&format!("unknown_{kind}"));
        return Ok(Outcome::WrongCredentials);
    };
    let actor = format!("{kind}:{}", found.email);
    let target = || A::target(found.id);
    let refused = |summary: serde_json::Value| {
        record(l, &client, &actor, A::SIGN_IN_FAILED, target(), summary)
    };

    let guard = match Guard::claim(l, A::account(found.id), &client).await? {
        Ok(guard) => guard,
        Err(refusal) => {
            refused(failure(refusal.reason(), None));
            return Ok(refusal.outcome());
        }
    };
    if !l.passwords().verify(password, found.hash.clone()).await? {
        let locked = guard.failed(l).await?;
        refused(failure("wrong_password", locked));
        return Ok(Outcome::WrongCredentials);
    }
    // With a second factor the counter waits for the code: resetting it
    // here would let someone who knows the password guess codes forever, a
    // few at a time.
    let stage = accounts.first_stage(l, &found);
    if stage == SessionStage::AwaitingTotp {
        guard.password_right(l).await?;
    } else {
        guard.succeeded(l).await?;
    }
    if found.barred {
        refused(failure(A::BARRED, None));
        return Ok(Outcome::Suspended);
    }

    if let Some(old) = presented_token.as_deref().filter(|t| is_token(t)) {
        accounts.end_presented(store, old, l.now()).await?;
    }
    let token = new_token()?;
    let session = accounts
        .open_session(
            l,
            NewAccountSession {
                id: found.id,
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
        SessionStage::Enrolling => Outcome::MustEnroll { token },
    })
}

/// Whether a half-done session made at `created_at` may still go on.
fn stage_open(
    l: &Lanyard,
    created_at: OffsetDateTime,
    live: impl Fn(OffsetDateTime, Duration) -> bool,
) -> bool {
    let now = l.now();
    live(now, l.settings().auth.session_idle) && now - created_at <= TOTP_STAGE_LIMIT
}

/// The user's half-done sign-in named by `token`: `AwaitingTotp`, live,
/// and within [`TOTP_STAGE_LIMIT`] of the password. An ended one is
/// deleted; anything else is `None`.
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
    if !stage_open(l, session.created_at, |now, idle| {
        session.is_live(now, idle)
    }) {
        store
            .end_session(session.id, SessionEnd::Expired, l.now())
            .await?;
        return Ok(None);
    }
    Ok(Some(session))
}

/// The admin's half-done sign-in named by `token` at `stage`
/// (`AwaitingTotp` or `Enrolling`), as [`pending`] for users.
pub async fn admin_pending(
    l: &Lanyard,
    token: &str,
    stage: SessionStage,
) -> Result<Option<AdminSession>> {
    if !is_token(token) {
        return Ok(None);
    }
    let store = l.store();
    let Some((session, _)) = store.find_admin_session(&token_hash(token)).await? else {
        return Ok(None);
    };
    if session.stage != stage {
        return Ok(None);
    }
    if !stage_open(l, session.created_at, |now, idle| {
        session.is_live(now, idle)
    }) {
        store.delete_admin_session(session.id).await?;
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
    /// Suspended (disabled) meanwhile: the half-done session is ended.
    Suspended,
    /// Too many failures from this address for this account.
    Throttled { until: OffsetDateTime },
    /// Too many failures: the half-done session is ended.
    Locked { until: Option<OffsetDateTime> },
    /// Not the code of now (or of one step either side).
    WrongCode,
    /// A code already used.
    ReplayedCode,
    /// Signed in: the same session, now complete, under a new token (the
    /// one handed out after the password alone no longer works).
    SignedIn { token: String },
}

/// Checks `code` for the user's half-done `session` (from [`pending`]; the
/// door has checked its CSRF token).
pub async fn second_factor(
    l: &Lanyard,
    session: &Session,
    code: &str,
    client: &Client,
) -> Result<SecondFactor> {
    check_code(l, &Users, session.user_id.0, session.id.0, code, client).await
}

/// Checks `code` for the admin's half-done `session` (from
/// [`admin_pending`] at `AwaitingTotp`).
pub async fn admin_second_factor(
    l: &Lanyard,
    session: &AdminSession,
    code: &str,
    client: &Client,
) -> Result<SecondFactor> {
    check_code(l, &Admins, session.admin_id.0, session.id.0, code, client).await
}

async fn check_code<A: Accounts>(
    l: &Lanyard,
    accounts: &A,
    id: i64,
    session: i64,
    code: &str,
    client: &Client,
) -> Result<SecondFactor> {
    let store = l.store();
    let now = l.now();
    let found = accounts.load(store, id).await?;
    let actor = format!("{}:{}", A::KIND, found.email);
    let failed = |summary: serde_json::Value| {
        record(l, client, &actor, A::SIGN_IN_FAILED, A::target(id), summary)
    };
    if let Verdict::Limited { first } = l.0.throttle.limiter.check(client.addr, now) {
        if first {
            failed(failure("rate_limited", None));
        }
        return Ok(SecondFactor::RateLimited);
    }
    if found.barred {
        failed(failure(A::BARRED, None));
        accounts
            .end_session(store, session, SessionEnd::Refused, now)
            .await?;
        return Ok(SecondFactor::Suspended);
    }
    let Some(secret) = found.state.totp_secret.as_deref() else {
        // Reset by an admin meanwhile: start again.
        accounts
            .end_session(store, session, SessionEnd::TotpReset, now)
            .await?;
        return Ok(SecondFactor::Restart);
    };
    let guard = match Guard::claim(l, A::account(id), client).await? {
        Ok(guard) => guard,
        Err(Refusal::Throttled { until }) => {
            failed(failure("throttled", None));
            return Ok(SecondFactor::Throttled { until });
        }
        Err(Refusal::Locked { until }) => {
            failed(failure("locked", None));
            accounts
                .end_session(store, session, SessionEnd::Refused, now)
                .await?;
            return Ok(SecondFactor::Locked { until });
        }
    };
    let Some(step) = totp::check(secret, code, now)? else {
        let locked = guard.failed(l).await?;
        failed(failure("wrong_totp", locked));
        return Ok(SecondFactor::WrongCode);
    };
    if !store.use_totp_step(A::account(id), step).await? {
        let locked = guard.failed(l).await?;
        failed(failure("replayed_totp", locked));
        return Ok(SecondFactor::ReplayedCode);
    }
    guard.succeeded(l).await?;
    let token = new_token()?;
    accounts
        .complete_session(store, session, &token_hash(&token), now)
        .await?;
    record(
        l,
        client,
        &actor,
        A::SIGN_IN,
        A::target(id),
        accounts.signed_in_summary(session, "password+totp"),
    );
    Ok(SecondFactor::SignedIn { token })
}

#[cfg(test)]
#[path = "sign_in_tests.rs"]
mod tests;
