//! An account's own sign-in factors, the same rules for users (the portal)
//! and admins (the admin portal's account page): TOTP enrollment,
//! confirmation and removal, confirming the password again, and checking
//! the current password before a change. [`crate::portal`] and
//! [`crate::admins`] call these with the signed-in [`Owner`].
//!
//! A change to how the account signs in wants a recent authentication
//! (`RECENT_AUTHENTICATION`, five minutes): older, the owner confirms their
//! password again first ([`confirm_password`]), so a session left open, or
//! stolen, cannot turn the second factor on or off.
//!
//! TOTP enrollment: each visit while TOTP is off makes a new secret and
//! stores it as *pending*; the first correct code confirms it (its time
//! step counts as used). Once on, no new secret is offered; turning it off
//! takes a current code as well ([`remove_totp`]), or an administrator's
//! reset.
//!
//! Every password or code checked here is a guess like a sign-in's: it
//! takes the source's and the account's slots first (`sign_in::Guard`), so
//! a stolen session cannot guess without being throttled and locking the
//! account.

use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
use lanyard_core::session::{Account, RECENT_AUTHENTICATION};
use lanyard_core::store::UnitOfWork;
use lanyard_core::{AdminSessionId, Result, SessionId};
use serde_json::json;
use time::OffsetDateTime;

use crate::sign_in::{Guard, Refusal};
use crate::{totp, Client, Lanyard};

/// The session a change comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerSession {
    User(SessionId),
    Admin(AdminSessionId),
}

/// A signed-in account changing its own factors.
#[derive(Debug, Clone)]
pub struct Owner {
    pub account: Account,
    pub email: String,
    pub session: OwnerSession,
    /// When the session last authenticated.
    pub authenticated_at: OffsetDateTime,
}

impl Owner {
    fn recent(&self, now: OffsetDateTime) -> bool {
        now - self.authenticated_at <= RECENT_AUTHENTICATION
    }

    fn actor(&self) -> String {
        match self.account {
            Account::User(_) => format!("user:{}", self.email),
            Account::Admin(_) => format!("admin:{}", self.email),
        }
    }

    fn target(&self) -> AuditTarget {
        match self.account {
            Account::User(id) => AuditTarget::User(id),
            Account::Admin(id) => AuditTarget::Admin(id),
        }
    }

    /// The event of `what` for this account's kind.
    fn action(&self, what: OwnEvent) -> AuditAction {
        let user = matches!(self.account, Account::User(_));
        match (what, user) {
            (OwnEvent::TotpEnroll, true) => AuditAction::UserTotpEnroll,
            (OwnEvent::TotpEnroll, false) => AuditAction::AdminTotpEnroll,
            (OwnEvent::TotpRemove, true) => AuditAction::UserTotpRemove,
            (OwnEvent::TotpRemove, false) => AuditAction::AdminTotpRemove,
            (OwnEvent::Reauthenticate, true) => AuditAction::UserReauthenticate,
            (OwnEvent::Reauthenticate, false) => AuditAction::AdminReauthenticate,
            (OwnEvent::SignInFailed, true) => AuditAction::UserSignInFailed,
            (OwnEvent::SignInFailed, false) => AuditAction::AdminSignInFailed,
            (OwnEvent::PasswordChange, true) => AuditAction::UserPasswordChange,
            (OwnEvent::PasswordChange, false) => AuditAction::AdminPasswordChange,
            (OwnEvent::PasswordChangeFailed, true) => AuditAction::UserPasswordChangeFailed,
            (OwnEvent::PasswordChangeFailed, false) => AuditAction::AdminPasswordChangeFailed,
        }
    }

    pub(crate) fn event(
        &self,
        l: &Lanyard,
        what: OwnEvent,
        summary: serde_json::Value,
        client: &Client,
    ) -> AuditEvent {
        AuditEvent::new(
            l.now(),
            &self.actor(),
            self.action(what),
            &self.target(),
            summary.to_string(),
        )
        .from_source(client.source())
    }

    /// Records `what` in the unit of work of the change.
    pub(crate) async fn record(
        &self,
        l: &Lanyard,
        work: &dyn UnitOfWork,
        what: OwnEvent,
        summary: serde_json::Value,
        client: &Client,
    ) -> Result<()> {
        work.append_audit_events(&[self.event(l, what, summary, client)])
            .await
    }
}

/// What an owner changes, for its event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OwnEvent {
    TotpEnroll,
    TotpRemove,
    Reauthenticate,
    SignInFailed,
    PasswordChange,
    PasswordChangeFailed,
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

/// The TOTP page: the password first unless the authentication is recent;
/// then, when TOTP is off, a new pending secret (stored).
pub async fn start_totp(l: &Lanyard, owner: &Owner) -> Result<TotpPage> {
    if !owner.recent(l.now()) {
        return Ok(TotpPage::NeedsPassword);
    }
    let store = l.store();
    if store.sign_in_state(owner.account).await?.totp_enabled() {
        return Ok(TotpPage::On);
    }
    let secret = totp::new_secret()?;
    store.set_totp_pending(owner.account, Some(&secret)).await?;
    Ok(TotpPage::Enrolling(enrollment(secret, &owner.email)?))
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

/// Confirms the pending secret with `code`; records `*.totp.enroll`.
pub async fn confirm_totp(
    l: &Lanyard,
    owner: &Owner,
    code: &str,
    client: &Client,
) -> Result<TotpConfirmation> {
    let store = l.store();
    let state = store.sign_in_state(owner.account).await?;
    let pending = match (state.totp_enabled(), state.totp_pending) {
        (false, Some(pending)) => pending,
        _ => return Ok(TotpConfirmation::NothingPending),
    };
    if !owner.recent(l.now()) {
        return Ok(TotpConfirmation::NeedsPassword);
    }
    let step = totp::check(&pending, code, l.now())?;
    let confirmed = match step {
        Some(step) => {
            let work = store.begin().await?;
            let confirmed = work.confirm_totp(owner.account, &pending, step).await?;
            if confirmed {
                owner
                    .record(l, &*work, OwnEvent::TotpEnroll, json!({}), client)
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
    let Some(again) = store.sign_in_state(owner.account).await?.totp_pending else {
        return Ok(TotpConfirmation::NothingPending);
    };
    let again = enrollment(again, &owner.email)?;
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
    /// The instance requires a second factor for admins.
    Required,
    /// Not a current code (or one used already).
    WrongCode,
}

/// Turns TOTP off, given a recent authentication and a current code (a
/// code is good once); records `*.totp.remove`. An admin may not while the
/// instance requires a second factor for admins.
pub async fn remove_totp(
    l: &Lanyard,
    owner: &Owner,
    code: &str,
    client: &Client,
) -> Result<TotpRemoval> {
    let store = l.store();
    let state = store.sign_in_state(owner.account).await?;
    let Some(secret) = state.totp_secret.as_deref() else {
        return Ok(TotpRemoval::NotOn);
    };
    if matches!(owner.account, Account::Admin(_)) && l.settings().auth.require_admin_second_factor {
        return Ok(TotpRemoval::Required);
    }
    if !owner.recent(l.now()) {
        return Ok(TotpRemoval::NeedsPassword);
    }
    let Some(step) = totp::check(secret, code, l.now())? else {
        return Ok(TotpRemoval::WrongCode);
    };
    let work = store.begin().await?;
    if !work.use_totp_step(owner.account, step).await? {
        return Ok(TotpRemoval::WrongCode);
    }
    work.reset_totp(owner.account).await?;
    owner
        .record(l, &*work, OwnEvent::TotpRemove, json!({}), client)
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
    /// Refused before the password was checked.
    Refused(Refusal),
}

/// Confirms the owner's password again, for a change that wants a recent
/// authentication. Events: `*.reauthenticate` and `*.sign_in_failed`
/// (batched).
pub async fn confirm_password(
    l: &Lanyard,
    owner: &Owner,
    password: String,
    client: &Client,
) -> Result<Reauthentication> {
    let failed = |reason: &str, locked: Option<OffsetDateTime>| {
        let mut summary = json!({ "reason": reason, "step": "reauthenticate" });
        if let Some(until) = locked {
            summary["locked_until"] = json!(crate::sign_in::rfc3339(until));
        }
        l.audit()
            .record(owner.event(l, OwnEvent::SignInFailed, summary, client))
    };
    match current_password(l, owner, password, client).await? {
        PasswordCheck::Refused(refusal) => {
            failed(refusal.reason(), None);
            return Ok(Reauthentication::Refused(refusal));
        }
        PasswordCheck::Wrong(locked) => {
            failed("wrong_password", locked);
            return Ok(Reauthentication::WrongPassword);
        }
        PasswordCheck::Right => {}
    }
    let store = l.store();
    let session = match owner.session {
        OwnerSession::User(id) => store.reauthenticate_session(id, l.now()).await?.id.0,
        OwnerSession::Admin(id) => store.reauthenticate_admin_session(id, l.now()).await?.id.0,
    };
    l.audit().record(owner.event(
        l,
        OwnEvent::Reauthenticate,
        json!({ "session": session }),
        client,
    ));
    Ok(Reauthentication::Confirmed)
}

/// What checking the current password came to.
pub(crate) enum PasswordCheck {
    Right,
    /// Wrong; the lock's end when this failure locked the account.
    Wrong(Option<OffsetDateTime>),
    Refused(Refusal),
}

/// Checks the owner's current password the way signing in does (the
/// guard's slots first; a right password gives them back).
pub(crate) async fn current_password(
    l: &Lanyard,
    owner: &Owner,
    password: String,
    client: &Client,
) -> Result<PasswordCheck> {
    let guard = match Guard::claim(l, owner.account, client).await? {
        Ok(guard) => guard,
        Err(refusal) => return Ok(PasswordCheck::Refused(refusal)),
    };
    let store = l.store();
    let hash = match owner.account {
        Account::User(_) => store
            .find_user_by_login(&owner.email)
            .await?
            .and_then(|(_, hash)| hash),
        Account::Admin(_) => store
            .find_admin_by_email(&owner.email)
            .await?
            .map(|(_, hash)| hash),
    };
    if !l.passwords().verify(password, hash).await? {
        return Ok(PasswordCheck::Wrong(guard.failed(l).await?));
    }
    guard.succeeded(l).await?;
    Ok(PasswordCheck::Right)
}

/// What a password change came to (users' and admins' own).
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordChange {
    /// The new password and its confirmation differ.
    Mismatch,
    /// The new password breaks the rules; the message says which.
    Refused(String),
    /// Refused before the current password was checked.
    Blocked(Refusal),
    /// The current password is wrong.
    WrongCurrent,
    /// Changed; every other session of the account ended; `token` names
    /// this browser's new session.
    Changed { token: String },
}

/// The checks before an owner's password change, in order: the
/// confirmation matches, the new password follows the rules of its kind
/// (at least `min` characters, not common), and the current password is
/// right (a guess, with its `*.password.change_failed` event). `None`: go
/// ahead (the new password is hashed by the caller).
pub(crate) async fn vet_password_change(
    l: &Lanyard,
    owner: &Owner,
    current: String,
    new: &str,
    confirm: &str,
    min: u32,
    client: &Client,
) -> Result<Option<PasswordChange>> {
    if new != confirm {
        return Ok(Some(PasswordChange::Mismatch));
    }
    if let Err(lanyard_core::Error::Invalid(fields)) =
        lanyard_core::password::check_new_password(new, min)
    {
        let message = fields
            .get("password")
            .map_or("The new password is not allowed.".to_owned(), |m| {
                format!("The new password {}.", m.trim_end_matches('.'))
            });
        return Ok(Some(PasswordChange::Refused(message)));
    }
    let failed = |reason: &str| {
        l.audit().record(owner.event(
            l,
            OwnEvent::PasswordChangeFailed,
            json!({ "reason": reason }),
            client,
        ))
    };
    Ok(match current_password(l, owner, current, client).await? {
        PasswordCheck::Refused(refusal) => {
            failed(refusal.reason());
            Some(PasswordChange::Blocked(refusal))
        }
        PasswordCheck::Wrong(_) => {
            failed("wrong_password");
            Some(PasswordChange::WrongCurrent)
        }
        PasswordCheck::Right => None,
    })
}
