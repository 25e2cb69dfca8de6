//! A signed-in user's own things: the applications they may open (the
//! portal's tiles), TOTP enrollment and password change. The doors have
//! checked the session, its CSRF token and that the user is not suspended.
//!
//! TOTP enrollment: each visit while TOTP is off makes a new secret and
//! stores it as *pending*; the first correct code confirms it (its time
//! step counts as used). Once on, no new secret is offered: replacing a
//! second factor takes an admin's reset, so a stolen session cannot swap
//! it.
//!
//! Password change asks for the current password, which claims a sign-in
//! attempt slot like signing in does (a stolen session cannot guess it
//! without locking the account). Success ends every session of the user
//! and gives this browser a new one with the same absolute end, in one
//! unit of work with its `user.password.change` event.

use lanyard_core::application::Application;
use lanyard_core::audit::AuditEvent;
use lanyard_core::error::Error;
use lanyard_core::password::check_password;
use lanyard_core::session::{token_hash, NewSession, SessionStage};
use lanyard_core::store::UnitOfWork;
use lanyard_core::Result;
use serde_json::json;

use crate::secrets::new_token;
use crate::sessions::SignedIn;
use crate::{totp, Client, Lanyard};

/// The apps `me` may open: SSO active, shown in the portal, and bound to
/// one of their groups; by label.
pub async fn tiles(l: &Lanyard, me: &SignedIn) -> Result<Vec<Application>> {
    l.store().list_portal_apps(me.user.id).await
}

/// An enrollment in progress: the secret to show (as text and QR code)
/// and its `otpauth://` URI.
pub struct Enrollment {
    pub secret: String,
    pub uri: String,
}

fn enrollment(secret: String, email: &str) -> Result<Enrollment> {
    let uri = totp::otpauth_uri(&secret, email)?;
    Ok(Enrollment { secret, uri })
}

/// A new pending secret for `me`, or `None` when TOTP is already on.
pub async fn start_totp(l: &Lanyard, me: &SignedIn) -> Result<Option<Enrollment>> {
    let store = l.store();
    if store.sign_in_state(me.user.id).await?.totp_enabled() {
        return Ok(None);
    }
    let secret = totp::new_secret()?;
    store.set_totp_pending(me.user.id, Some(&secret)).await?;
    Ok(Some(enrollment(secret, &me.user.email)?))
}

/// What a confirmation code came to.
pub enum TotpConfirmation {
    /// TOTP is on now.
    Enabled,
    /// Nothing to confirm (already on, or no secret shown yet).
    NothingPending,
    /// A wrong code: try again with the same secret.
    WrongCode(Enrollment),
    /// The pending secret was replaced in another window: try again with
    /// the new one.
    Replaced(Enrollment),
}

/// Confirms `me`'s pending secret with `code`; records `user.totp.enroll`.
pub async fn confirm_totp(
    l: &Lanyard,
    me: &SignedIn,
    code: &str,
    client: &Client,
) -> Result<TotpConfirmation> {
    let store = l.store();
    let state = store.sign_in_state(me.user.id).await?;
    let pending = match (state.totp_enabled(), state.totp_pending) {
        (false, Some(pending)) => pending,
        _ => return Ok(TotpConfirmation::NothingPending),
    };
    let step = totp::check(&pending, code, l.now())?;
    let confirmed = match step {
        Some(step) => {
            let work = store.begin().await?;
            let confirmed = work.confirm_totp(me.user.id, &pending, step).await?;
            if confirmed {
                record(l, &*work, me, "user.totp.enroll", json!({}), client).await?;
                work.commit().await?;
            }
            confirmed
        }
        None => false,
    };
    if confirmed {
        return Ok(TotpConfirmation::Enabled);
    }
    // A confirmation lost to a race leaves no pending secret to show.
    let Some(again) = store.sign_in_state(me.user.id).await?.totp_pending else {
        return Ok(TotpConfirmation::NothingPending);
    };
    let again = enrollment(again, &me.user.email)?;
    Ok(if step.is_none() {
        TotpConfirmation::WrongCode(again)
    } else {
        TotpConfirmation::Replaced(again)
    })
}

/// What a password change came to.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordChange {
    /// The new password and its confirmation differ.
    Mismatch,
    /// The new password breaks the rules; the message says which.
    Refused(String),
    /// Too many failures: the account is locked.
    Locked,
    /// The current password is wrong.
    WrongCurrent,
    /// Changed; every other session ended; `token` names this browser's new
    /// session.
    Changed { token: String },
}

/// Changes `me`'s password after checking the current one.
pub async fn change_password(
    l: &Lanyard,
    me: &SignedIn,
    current: String,
    new: String,
    confirm: &str,
    client: &Client,
) -> Result<PasswordChange> {
    if new != confirm {
        return Ok(PasswordChange::Mismatch);
    }
    if let Err(Error::Invalid(fields)) = check_password(&new) {
        let message = fields
            .get("password")
            .map_or("The new password is not allowed.".to_owned(), |m| {
                format!("The new password {m}.")
            });
        return Ok(PasswordChange::Refused(message));
    }
    let store = l.store();
    let max = l.settings().auth.max_failures;
    let failed = |reason: &str| {
        l.audit().record(
            event(
                l,
                me,
                "user.password.change_failed",
                json!({ "reason": reason }),
            )
            .from_source(client.source()),
        )
    };
    if !store.claim_login_attempt(me.user.id, max).await? {
        failed("locked");
        return Ok(PasswordChange::Locked);
    }
    let hash = store
        .find_user_by_login(&me.user.email)
        .await?
        .and_then(|(_, hash)| hash);
    if !l.passwords().verify(current, hash).await? {
        failed("wrong_password");
        return Ok(PasswordChange::WrongCurrent);
    }
    store.reset_login_failures(me.user.id).await?;
    let hash = l.passwords().hash(new).await?;
    let now = l.now();
    let token = new_token()?;
    let work = store.begin().await?;
    work.set_password_hash(me.user.id, &hash, now).await?;
    // Every session ends (another one may be an intruder's); this browser
    // gets a new one with the same absolute end.
    let ended = work.revoke_user_sessions(me.user.id).await?;
    let session = work
        .create_session(&NewSession {
            token_hash: token_hash(&token),
            user_id: me.user.id,
            stage: SessionStage::Complete,
            csrf_secret: new_token()?,
            now,
            expires_at: me.session.expires_at,
            client: client.source(),
            user_agent: client.user_agent.clone(),
        })
        .await?;
    record(
        l,
        &*work,
        me,
        "user.password.change",
        json!({ "other_sessions_ended": ended.saturating_sub(1), "session": session.id }),
        client,
    )
    .await?;
    work.commit().await?;
    Ok(PasswordChange::Changed { token })
}

fn event(l: &Lanyard, me: &SignedIn, action: &str, summary: serde_json::Value) -> AuditEvent {
    AuditEvent::new(
        l.now(),
        &format!("user:{}", me.user.email),
        action,
        format!("user:{}", me.user.id),
        summary.to_string(),
    )
}

/// A user's own change, recorded in its unit of work.
async fn record(
    l: &Lanyard,
    work: &dyn UnitOfWork,
    me: &SignedIn,
    action: &str,
    summary: serde_json::Value,
    client: &Client,
) -> Result<()> {
    let event = event(l, me, action, summary).from_source(client.source());
    work.append_audit_events(&[event]).await
}
