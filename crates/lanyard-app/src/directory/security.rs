//! What an admin does about a user's signing in: end their sessions (one or
//! all; sessions live in the database, so every node sees it at the next
//! request), unlock (the failure counter, the lock and every source's
//! count back to 0), and remove their TOTP
//! second factor (enrolled and pending, ending their sessions), so the next
//! sign-in needs only the password and the user can enroll again.

use lanyard_core::audit::AuditAction;
use lanyard_core::session::{Account, SessionEnd, SignInState};
use lanyard_core::{Result, SessionId, UserId};

use super::users::target;
use crate::Writer;

/// Ends all of the user's sessions and records `user.sessions.revoke`;
/// returns how many ended.
pub async fn revoke_all(w: &Writer, id: UserId) -> Result<u64> {
    let mut work = w.begin().await?;
    let revoked = work
        .revoke_user_sessions(id, SessionEnd::Revoked, w.now())
        .await?;
    work.record(
        AuditAction::UserSessionsRevoke,
        target(id),
        &serde_json::json!({ "revoked": revoked }),
    );
    work.commit().await?;
    Ok(revoked)
}

/// Ends one session of the user (`NotFound` when it is not theirs) and
/// records `user.session.revoke`.
pub async fn revoke_one(w: &Writer, id: UserId, session: SessionId) -> Result<()> {
    let mut work = w.begin().await?;
    work.revoke_user_session(id, session, w.now()).await?;
    work.record(
        AuditAction::UserSessionRevoke,
        target(id),
        &serde_json::json!({ "session": session }),
    );
    work.commit().await
}

/// Sets the failure counter back to 0, ends the lock and forgets every
/// source's count, and records `user.unlock` with what it had; returns the
/// state afterwards.
pub async fn unlock(w: &Writer, id: UserId) -> Result<SignInState> {
    let account = Account::User(id);
    let mut work = w.begin().await?;
    let before = work.sign_in_state(account).await?;
    work.reset_login_failures(account).await?;
    work.forget_sources(account, None).await?;
    work.record(
        AuditAction::UserUnlock,
        target(id),
        &unlock_summary(&before, w.now()),
    );
    let after = work.sign_in_state(account).await?;
    work.commit().await?;
    Ok(after)
}

/// Removes the user's TOTP (enrolled and pending), ends every session of
/// the user (one may be the reason for the reset), and records
/// `user.totp.reset`; returns the state afterwards.
pub async fn reset_totp(w: &Writer, id: UserId) -> Result<SignInState> {
    let mut work = w.begin().await?;
    let before = work.sign_in_state(Account::User(id)).await?;
    work.reset_totp(Account::User(id)).await?;
    let ended = work
        .revoke_user_sessions(id, SessionEnd::TotpReset, w.now())
        .await?;
    work.record(
        AuditAction::UserTotpReset,
        target(id),
        &serde_json::json!({ "was_enabled": before.totp_enabled(), "sessions_ended": ended }),
    );
    let after = work.sign_in_state(Account::User(id)).await?;
    work.commit().await?;
    Ok(after)
}

/// What an unlock event says: the failures and the lock it ended.
pub(crate) fn unlock_summary(before: &SignInState, now: time::OffsetDateTime) -> serde_json::Value {
    serde_json::json!({
        "failures_before": before.failures,
        "was_locked": before.is_locked(now),
    })
}
