//! Sign-in state: server-side sessions, the lockout counter, TOTP second
//! factors, and the replay memory for AuthnRequest IDs.
//!
//! Sessions live in the database (not in a signed cookie) so that several
//! nodes share them and a sign-out or an admin's revocation ends a session
//! everywhere at once. The cookie holds a random token; the store keeps only
//! its SHA-256 ([`token_hash`]), so a database dump does not yield sessions.
//!
//! Lockout is enforced by the store atomically *before* a password is
//! checked ([`crate::store::SignInStore::claim_login_attempt`]): each attempt
//! takes one of `max_failures` slots with a conditional UPDATE, so any number
//! of parallel wrong attempts check at most `max_failures` passwords. When
//! they are used up by wrong attempts the account locks for
//! `lockout_duration`, doubling with each lock after it up to
//! [`MAX_LOCKOUT`]; a success gives the slots back and ends the doubling.
//! A stranger cannot lock an account from one place: a source (address)
//! with [`SOURCE_FAILURES`] failures for an account within [`SOURCE_WINDOW`]
//! is refused for that account for [`SOURCE_BLOCK`] before its attempts
//! reach the account's counter. Users and admins ([`Account`]) follow the
//! same rules.
//!
//! Decision: a lockout stops sign-ins, not sessions already open. It guards
//! the password against guessing; someone who already proved it keeps their
//! session until it ends or an admin revokes it (`DELETE
//! /api/v1/users/{id}/sessions`). Suspension, by contrast, is checked on
//! every request and denies SSO at once.
//!
//! TOTP codes are single-use: the store advances the user's last used time
//! step only forward ([`crate::store::SignInStore::use_totp_step`]), so a code
//! seen once (or an older one) is refused even within its 30 s window.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::ids::{AdminId, AdminSessionId, SessionId, UserId};

/// How long sessions live and when sign-in is refused. Validated defaults;
/// the binary may override them from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthSettings {
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub session_max: Duration,
    /// Consecutive failures (password or TOTP, from sources not refused
    /// already) after which the account locks.
    pub max_failures: u32,
    /// How long the first lock lasts; each further lock doubles it, up to
    /// [`MAX_LOCKOUT`]. An admin can unlock at once.
    pub lockout_duration: Duration,
    /// Sign-in attempts allowed per client address per minute (per node).
    pub login_attempts_per_minute: u32,
    /// Shortest password a user may set.
    pub user_password_min: u32,
    /// Shortest password an admin may set.
    pub admin_password_min: u32,
    /// Every admin must have a second factor: one without enrolls at their
    /// next sign-in before reaching anything else.
    pub require_admin_second_factor: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_idle: Duration::hours(1),
            session_max: Duration::hours(12),
            max_failures: 5,
            lockout_duration: Duration::minutes(15),
            login_attempts_per_minute: 30,
            user_password_min: 8,
            admin_password_min: 12,
            require_admin_second_factor: false,
        }
    }
}

/// The longest a lock lasts, however often it doubled.
pub const MAX_LOCKOUT: Duration = Duration::hours(24);
/// How long a lock lasts after `earlier` locks since the last success or
/// unlock: `first` doubled `earlier` times, at most [`MAX_LOCKOUT`].
pub fn lock_duration(first: Duration, earlier: u32) -> Duration {
    let first = first.clamp(Duration::SECOND, MAX_LOCKOUT);
    if earlier >= doublings_to_max(first) {
        MAX_LOCKOUT
    } else {
        first * (1_i32 << earlier)
    }
}

/// The number of earlier locks from which a lock lasts [`MAX_LOCKOUT`]
/// (`first` is at least a second, so this is at most 17).
pub fn doublings_to_max(first: Duration) -> u32 {
    let first = first.clamp(Duration::SECOND, MAX_LOCKOUT);
    let mut n = 0;
    while first * (1_i32 << n) < MAX_LOCKOUT {
        n += 1;
    }
    n
}

/// Failures from one source (address) for one account within
/// [`SOURCE_WINDOW`] after which that source is refused for that account.
pub const SOURCE_FAILURES: u32 = 3;
/// The window [`SOURCE_FAILURES`] are counted in.
pub const SOURCE_WINDOW: Duration = Duration::minutes(15);
/// How long a source is refused for an account.
pub const SOURCE_BLOCK: Duration = Duration::minutes(15);

/// Who signs in: a directory user or an admin. Both have a failure
/// counter, a lock and a TOTP second factor kept the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Account {
    User(UserId),
    Admin(AdminId),
}

impl From<UserId> for Account {
    fn from(id: UserId) -> Self {
        Account::User(id)
    }
}

impl From<AdminId> for Account {
    fn from(id: AdminId) -> Self {
        Account::Admin(id)
    }
}

impl std::fmt::Display for Account {
    /// `user:12`, `admin:3`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Account::User(id) => write!(f, "user:{id}"),
            Account::Admin(id) => write!(f, "admin:{id}"),
        }
    }
}

/// How far a session has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStage {
    /// The password was right; the TOTP code is still to come.
    AwaitingTotp,
    /// The password was right, and a second factor must be enrolled before
    /// anything else (admins, when the instance requires one).
    Enrolling,
    /// Signed in.
    Complete,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::AwaitingTotp => "awaiting_totp",
            SessionStage::Enrolling => "enrolling",
            SessionStage::Complete => "complete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "awaiting_totp" => Some(SessionStage::AwaitingTotp),
            "enrolling" => Some(SessionStage::Enrolling),
            "complete" => Some(SessionStage::Complete),
            _ => None,
        }
    }
}

/// How the user proved who they are, last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethods {
    /// The password only (the user has no second factor, or has not given
    /// it yet).
    Password,
    /// The password, then a TOTP code.
    PasswordTotp,
}

impl AuthMethods {
    /// What is stored: `password` or `password+totp`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethods::Password => "password",
            AuthMethods::PasswordTotp => "password+totp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(AuthMethods::Password),
            "password+totp" => Some(AuthMethods::PasswordTotp),
            _ => None,
        }
    }
}

/// How long ago the last authentication of a session may be for a change
/// that asks for it to be recent (password, second factor): older, the
/// password is asked for again.
pub const RECENT_AUTHENTICATION: Duration = Duration::minutes(5);

/// A server-side session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// A plain number for admins to address it by (the token never leaves
    /// the cookie).
    pub id: SessionId,
    pub user_id: UserId,
    pub stage: SessionStage,
    /// A per-session secret for CSRF tokens on forms.
    #[serde(skip)]
    pub csrf_secret: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// The absolute end (`created_at + session_max`).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// How the user authenticated, last.
    pub methods: AuthMethods,
    /// When the user last authenticated (signing in, the second factor, or
    /// confirming the password again).
    #[serde(with = "time::serde::rfc3339")]
    pub authenticated_at: OffsetDateTime,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

impl Session {
    /// Whether the last authentication is recent enough for a change that
    /// asks for it ([`RECENT_AUTHENTICATION`]).
    pub fn authenticated_recently(&self, now: OffsetDateTime) -> bool {
        now - self.authenticated_at <= RECENT_AUTHENTICATION
    }

    /// Whether the session still counts at `now` (idle and absolute limits).
    pub fn is_live(&self, now: OffsetDateTime, idle: Duration) -> bool {
        self.lapsed(now, idle).is_none()
    }

    /// Why the session no longer counts at `now`: past its absolute end
    /// ([`SessionEnd::Expired`]) or idle too long ([`SessionEnd::Idle`]);
    /// `None` while it is live.
    pub fn lapsed(&self, now: OffsetDateTime, idle: Duration) -> Option<SessionEnd> {
        if now >= self.expires_at {
            Some(SessionEnd::Expired)
        } else if now - self.last_seen_at >= idle {
            Some(SessionEnd::Idle)
        } else {
            None
        }
    }
}

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 hex of the cookie token ([`token_hash`]).
    pub token_hash: String,
    pub user_id: UserId,
    pub stage: SessionStage,
    /// How the user authenticated; `now` is when.
    pub methods: AuthMethods,
    pub csrf_secret: String,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

/// Why a user's session ended: kept with the session in its history (see
/// [`EndedSession`]) so an admin can tell a sign-out from a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    /// The user signed out.
    SignedOut,
    /// The user signed in again in the same browser.
    Replaced,
    /// The absolute limit (`session_max`) passed.
    Expired,
    /// Unused for longer than `session_idle`.
    Idle,
    /// An admin ended it (one session, or all of the user's).
    Revoked,
    /// The password changed (by the user or an admin).
    PasswordChanged,
    /// The user was suspended.
    Suspended,
    /// An admin reset the user's second factor.
    TotpReset,
    /// A half-done sign-in was refused at the second factor (account
    /// suspended or locked meanwhile).
    Refused,
}

impl SessionEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::SignedOut => "signed_out",
            SessionEnd::Replaced => "replaced",
            SessionEnd::Expired => "expired",
            SessionEnd::Idle => "idle",
            SessionEnd::Revoked => "revoked",
            SessionEnd::PasswordChanged => "password_changed",
            SessionEnd::Suspended => "suspended",
            SessionEnd::TotpReset => "totp_reset",
            SessionEnd::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            SessionEnd::SignedOut,
            SessionEnd::Replaced,
            SessionEnd::Expired,
            SessionEnd::Idle,
            SessionEnd::Revoked,
            SessionEnd::PasswordChanged,
            SessionEnd::Suspended,
            SessionEnd::TotpReset,
            SessionEnd::Refused,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }

    /// Words for the admin pages.
    pub fn label(self) -> &'static str {
        match self {
            SessionEnd::SignedOut => "Signed out",
            SessionEnd::Replaced => "Signed in again",
            SessionEnd::Expired => "Expired",
            SessionEnd::Idle => "Idle",
            SessionEnd::Revoked => "Revoked by an admin",
            SessionEnd::PasswordChanged => "Password changed",
            SessionEnd::Suspended => "User suspended",
            SessionEnd::TotpReset => "Second factor reset",
            SessionEnd::Refused => "Refused at the second factor",
        }
    }
}

/// A user's session after it ended: the session history, kept for
/// `ended_session_retention_days` (default 30) and then pruned. The token
/// and CSRF secret are not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndedSession {
    /// The id the session had (as in the audit log and the live list).
    pub id: SessionId,
    pub user_id: UserId,
    pub stage: SessionStage,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ended_at: OffsetDateTime,
    pub reason: SessionEnd,
    pub methods: AuthMethods,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

/// A server-side session of an admin account in the admin portal (cookie
/// `lanyard_admin`). Separate from user sessions: admins are not directory
/// users, and an admin session grants the admin's role, nothing of a user's.
/// No second stage: admin TOTP does not exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub id: AdminSessionId,
    pub admin_id: AdminId,
    /// How far the sign-in has got.
    pub stage: SessionStage,
    /// A per-session secret for CSRF tokens on admin forms.
    pub csrf_secret: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// The absolute end (`created_at + session_max`).
    pub expires_at: OffsetDateTime,
    /// How the admin authenticated, last.
    pub methods: AuthMethods,
    /// When the admin last authenticated.
    pub authenticated_at: OffsetDateTime,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

impl AdminSession {
    /// Whether the last authentication is recent enough for a change that
    /// asks for it ([`RECENT_AUTHENTICATION`]).
    pub fn authenticated_recently(&self, now: OffsetDateTime) -> bool {
        now - self.authenticated_at <= RECENT_AUTHENTICATION
    }

    /// Whether the session still counts at `now` (idle and absolute limits).
    pub fn is_live(&self, now: OffsetDateTime, idle: Duration) -> bool {
        now < self.expires_at && now - self.last_seen_at < idle
    }
}

/// An admin session to store.
#[derive(Debug, Clone)]
pub struct NewAdminSession {
    /// SHA-256 hex of the cookie token ([`token_hash`]).
    pub token_hash: String,
    pub admin_id: AdminId,
    pub stage: SessionStage,
    /// How the admin authenticated; `now` is when.
    pub methods: AuthMethods,
    pub csrf_secret: String,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

/// What the store holds per account about signing in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignInState {
    /// Consecutive failures since the last success, unlock or lock.
    pub failures: u32,
    /// Locked until then (a past time: not locked).
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
    /// Locks since the last success or unlock (each doubles the next).
    pub lock_count: u32,
    /// The enrolled TOTP secret (base32), if the user has one.
    #[serde(skip)]
    pub totp_secret: Option<String>,
    /// A secret being enrolled, not yet confirmed by a first code.
    #[serde(skip)]
    pub totp_pending: Option<String>,
    /// The last time step a code was accepted for (codes at or before it are
    /// refused).
    pub totp_last_step: i64,
}

impl SignInState {
    pub fn totp_enabled(&self) -> bool {
        self.totp_secret.is_some()
    }

    /// Whether sign-in is refused at `now` because of a lock.
    pub fn is_locked(&self, now: OffsetDateTime) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// The lock in force at `now`, if any.
    pub fn locked_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.locked_until.filter(|until| *until > now)
    }
}

/// Hex SHA-256 of a session token.
pub fn token_hash(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_up_to_a_day() {
        let fifteen = Duration::minutes(15);
        let lasts: Vec<i64> = (0..9)
            .map(|n| lock_duration(fifteen, n).whole_minutes())
            .collect();
        assert_eq!(lasts, [15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
        assert_eq!(doublings_to_max(fifteen), 7);
        assert_eq!(lock_duration(Duration::hours(30), 0), MAX_LOCKOUT);
        assert_eq!(doublings_to_max(Duration::hours(24)), 0);
        assert_eq!(lock_duration(Duration::ZERO, 0), Duration::SECOND);
        assert_eq!(lock_duration(Duration::minutes(1), u32::MAX), MAX_LOCKOUT);
    }

    #[test]
    fn liveness_has_two_limits() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let s = Session {
            id: SessionId(1),
            user_id: UserId(1),
            stage: SessionStage::Complete,
            csrf_secret: String::new(),
            created_at: t,
            last_seen_at: t + Duration::minutes(50),
            expires_at: t + Duration::hours(2),
            methods: AuthMethods::Password,
            authenticated_at: t,
            client: None,
            user_agent: None,
        };
        let idle = Duration::hours(1);
        assert!(s.is_live(t + Duration::minutes(100), idle));
        assert!(!s.is_live(t + Duration::minutes(111), idle), "idle");
        let busy = Session {
            last_seen_at: t + Duration::minutes(119),
            ..s
        };
        assert!(!busy.is_live(t + Duration::hours(2), idle), "absolute");
        // Recent authentication: five minutes, on the dot included.
        assert!(busy.authenticated_recently(t + RECENT_AUTHENTICATION));
        assert!(!busy.authenticated_recently(t + RECENT_AUTHENTICATION + Duration::seconds(1)));
        assert_eq!(
            AuthMethods::parse(AuthMethods::PasswordTotp.as_str()),
            Some(AuthMethods::PasswordTotp)
        );
    }

    #[test]
    fn stages_round_trip_and_hashes_are_hex() {
        for s in [
            SessionStage::AwaitingTotp,
            SessionStage::Enrolling,
            SessionStage::Complete,
        ] {
            assert_eq!(SessionStage::parse(s.as_str()), Some(s));
        }
        assert_eq!(SessionStage::parse("x"), None);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
