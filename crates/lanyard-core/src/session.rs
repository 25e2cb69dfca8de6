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
//! of parallel wrong attempts check at most `max_failures` passwords. A
//! success gives the slots back.
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
    /// Consecutive failures (password or TOTP) after which the account locks
    /// until an admin unlocks it.
    pub max_failures: u32,
    /// Sign-in attempts allowed per client address per minute (per node).
    pub login_attempts_per_minute: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_idle: Duration::hours(1),
            session_max: Duration::hours(12),
            max_failures: 5,
            login_attempts_per_minute: 30,
        }
    }
}

/// How far a session has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStage {
    /// The password was right; the TOTP code is still to come.
    AwaitingTotp,
    /// Signed in.
    Complete,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::AwaitingTotp => "awaiting_totp",
            SessionStage::Complete => "complete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "awaiting_totp" => Some(SessionStage::AwaitingTotp),
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
        now < self.expires_at && now - self.last_seen_at < idle
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

/// A server-side session of an admin account in the admin portal (cookie
/// `lanyard_admin`). Separate from user sessions: admins are not directory
/// users, and an admin session grants the admin's role, nothing of a user's.
/// No second stage: admin TOTP does not exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub id: AdminSessionId,
    pub admin_id: AdminId,
    /// A per-session secret for CSRF tokens on admin forms.
    pub csrf_secret: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// The absolute end (`created_at + session_max`).
    pub expires_at: OffsetDateTime,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

impl AdminSession {
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
    pub csrf_secret: String,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

/// What the store holds per user about signing in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignInState {
    /// Consecutive failures since the last success or unlock.
    pub failures: u32,
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

    pub fn is_locked(&self, max_failures: u32) -> bool {
        self.failures >= max_failures
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
        for s in [SessionStage::AwaitingTotp, SessionStage::Complete] {
            assert_eq!(SessionStage::parse(s.as_str()), Some(s));
        }
        assert_eq!(SessionStage::parse("x"), None);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
