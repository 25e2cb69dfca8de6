//! A signed-in user's own things: the applications they may open (the
//! portal's tiles), TOTP enrollment and password change. The doors have
//! checked the session, its CSRF token and that the user is not suspended.
//!
//! A change to how the user signs in wants a recent authentication
//! (`RECENT_AUTHENTICATION`, five minutes): older, the user confirms their
//! password again first ([`confirm_password`]), so a session left open, or
//! stolen, cannot turn the second factor on or off.
//!
//! TOTP enrollment: each visit while TOTP is off makes a new secret and
//! stores it as *pending*; the first correct code confirms it (its time
//! step counts as used). Once on, no new secret is offered; turning it off
//! takes a current code as well ([`remove_totp`]), or an admin's reset.
//!
//! Password change asks for the current password, which claims a sign-in
//! attempt slot like signing in does (a stolen session cannot guess it
//! without locking the account). Success ends every session of the user
//! and gives this browser a new one with the same absolute end, in one
//! unit of work with its `user.password.change` event.

use lanyard_core::application::Application;
use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
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

/// What the TOTP page shows.
pub enum TotpPage {
    /// The last authentication is not recent: confirm the password first.
    NeedsPassword,
    /// TOTP is on.
    On,
    /// A new pending secret to scan and confirm.
    Enrolling(Enrollment),
}

/// The TOTP page for `me`, which changes the second factor: the password
/// first unless the authentication is recent; then, when TOTP is off, a new
/// pending secret (stored).
pub async fn start_totp(l: &Lanyard, me: &SignedIn) -> Result<TotpPage> {
    if !me.session.authenticated_recently(l.now()) {
        return Ok(TotpPage::NeedsPassword);
    }
    let store = l.store();
    if store.sign_in_state(me.user.id).await?.totp_enabled() {
        return Ok(TotpPage::On);
    }
    let secret = totp::new_secret()?;
    store.set_totp_pending(me.user.id, Some(&secret)).await?;
    Ok(TotpPage::Enrolling(enrollment(secret, &me.user.email)?))
}

/// What a confirmation code came to.
pub enum TotpConfirmation {
    /// TOTP is on now.
    Enabled,
    /// Nothing to confirm (already on, or no secret shown yet).
    NothingPending,
    /// The last authentication is not recent: confirm the password first.
    NeedsPassword,
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
    if !me.session.authenticated_recently(l.now()) {
        return Ok(TotpConfirmation::NeedsPassword);
    }
    let step = totp::check(&pending, code, l.now())?;
    let confirmed = match step {
        Some(step) => {
            let work = store.begin().await?;
            let confirmed = work.confirm_totp(me.user.id, &pending, step).await?;
            if confirmed {
                record(
                    l,
                    &*work,
                    me,
                    AuditAction::UserTotpEnroll,
                    json!({}),
                    client,
                )
                .await?;
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

/// What turning TOTP off came to.
#[derive(Debug, PartialEq, Eq)]
pub enum TotpRemoval {
    /// Off now.
    Removed,
    /// It was not on.
    NotOn,
    /// The last authentication is not recent: confirm the password first.
    NeedsPassword,
    /// Not a current code (or one used already).
    WrongCode,
}

/// Turns `me`'s TOTP off, given a recent authentication and a current
/// code (a code is good once); records `user.totp.remove`.
pub async fn remove_totp(
    l: &Lanyard,
    me: &SignedIn,
    code: &str,
    client: &Client,
) -> Result<TotpRemoval> {
    let store = l.store();
    let state = store.sign_in_state(me.user.id).await?;
    let Some(secret) = state.totp_secret.as_deref() else {
        return Ok(TotpRemoval::NotOn);
    };
    if !me.session.authenticated_recently(l.now()) {
        return Ok(TotpRemoval::NeedsPassword);
    }
    let Some(step) = totp::check(secret, code, l.now())? else {
        return Ok(TotpRemoval::WrongCode);
    };
    let work = store.begin().await?;
    if !work.use_totp_step(me.user.id, step).await? {
        return Ok(TotpRemoval::WrongCode);
    }
    work.reset_totp(me.user.id).await?;
    record(
        l,
        &*work,
        me,
        AuditAction::UserTotpRemove,
        json!({}),
        client,
    )
    .await?;
    work.commit().await?;
    Ok(TotpRemoval::Removed)
}

/// What confirming the password again came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Reauthentication {
    /// Confirmed: the session's authentication is recent again.
    Confirmed,
    /// Not the password.
    WrongPassword,
    /// Too many failures: the account is locked.
    Locked,
}

/// Confirms `me`'s password again, for a change that wants a recent
/// authentication. It claims a sign-in attempt slot like signing in (a
/// stolen session cannot guess without locking the account); events are
/// `user.reauthenticate` and `user.sign_in_failed` (batched).
pub async fn confirm_password(
    l: &Lanyard,
    me: &SignedIn,
    password: String,
    client: &Client,
) -> Result<Reauthentication> {
    let store = l.store();
    let failed = |reason: &str| {
        l.audit().record(
            event(
                l,
                me,
                AuditAction::UserSignInFailed,
                json!({ "reason": reason, "step": "reauthenticate" }),
            )
            .from_source(client.source()),
        )
    };
    match current_password(l, me, password).await? {
        PasswordCheck::Locked => {
            failed("locked");
            return Ok(Reauthentication::Locked);
        }
        PasswordCheck::Wrong => {
            failed("wrong_password");
            return Ok(Reauthentication::WrongPassword);
        }
        PasswordCheck::Right => {}
    }
    store.reauthenticate_session(me.session.id, l.now()).await?;
    l.audit().record(
        event(
            l,
            me,
            AuditAction::UserReauthenticate,
            json!({ "session": me.session.id }),
        )
        .from_source(client.source()),
    );
    Ok(Reauthentication::Confirmed)
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
    let failed = |reason: &str| {
        l.audit().record(
            event(
                l,
                me,
                AuditAction::UserPasswordChangeFailed,
                json!({ "reason": reason }),
            )
            .from_source(client.source()),
        )
    };
    match current_password(l, me, current).await? {
        PasswordCheck::Locked => {
            failed("locked");
            return Ok(PasswordChange::Locked);
        }
        PasswordCheck::Wrong => {
            failed("wrong_password");
            return Ok(PasswordChange::WrongCurrent);
        }
        PasswordCheck::Right => {}
    }
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
            methods: me.session.methods,
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
        AuditAction::UserPasswordChange,
        json!({ "other_sessions_ended": ended.saturating_sub(1), "session": session.id }),
        client,
    )
    .await?;
    work.commit().await?;
    Ok(PasswordChange::Changed { token })
}

enum PasswordCheck {
    Right,
    Wrong,
    Locked,
}

/// Checks `me`'s current password the way signing in does: an attempt
/// slot is claimed first (a stolen session cannot guess without locking
/// the account), and a right password sets the failure counter back to 0.
async fn current_password(l: &Lanyard, me: &SignedIn, password: String) -> Result<PasswordCheck> {
    let store = l.store();
    if !store
        .claim_login_attempt(me.user.id, l.settings().auth.max_failures)
        .await?
    {
        return Ok(PasswordCheck::Locked);
    }
    let hash = store
        .find_user_by_login(&me.user.email)
        .await?
        .and_then(|(_, hash)| hash);
    if !l.passwords().verify(password, hash).await? {
        return Ok(PasswordCheck::Wrong);
    }
    store.reset_login_failures(me.user.id).await?;
    Ok(PasswordCheck::Right)
}

fn event(
    l: &Lanyard,
    me: &SignedIn,
    action: AuditAction,
    summary: serde_json::Value,
) -> AuditEvent {
    AuditEvent::new(
        l.now(),
        &format!("user:{}", me.user.email),
        action,
        &AuditTarget::User(me.user.id),
        summary.to_string(),
    )
}

/// A user's own change, recorded in its unit of work.
async fn record(
    l: &Lanyard,
    work: &dyn UnitOfWork,
    me: &SignedIn,
    action: AuditAction,
    summary: serde_json::Value,
    client: &Client,
) -> Result<()> {
    let event = event(l, me, action, summary).from_source(client.source());
    work.append_audit_events(&[event]).await
}
