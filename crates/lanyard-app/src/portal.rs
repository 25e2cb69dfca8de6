//! A signed-in user's own things: the applications they may open (the
//! portal's tiles), their second factor and password. The doors have
//! checked the session, its CSRF token and that the user is not suspended.
//! Their factors (TOTP, confirming the password) are [`crate::factors`]'s,
//! shared with admins, called with [`owner`].
//!
//! Password change asks for the current password, checked as a sign-in
//! guess. Success ends every session of the user and gives this browser a
//! new one with the same absolute end, in one unit of work with its
//! `user.password.change` event.

use lanyard_core::application::Application;
use lanyard_core::session::{token_hash, Account, NewSession, SessionEnd, SessionStage};
use lanyard_core::Result;
use serde_json::json;

use crate::factors::{self, OwnEvent, Owner, OwnerSession};
pub use crate::factors::{
    Enrollment, PasswordChange, Reauthentication, TotpConfirmation, TotpPage, TotpRemoval,
};
use crate::secrets::new_token;
use crate::sessions::SignedIn;
use crate::{Client, Lanyard};

/// The apps `me` may open: SSO active, shown in the portal, and bound to
/// one of their groups; by label.
pub async fn tiles(l: &Lanyard, me: &SignedIn) -> Result<Vec<Application>> {
    l.store().list_portal_apps(me.user.id).await
}

/// The signed-in user as the owner of their factors: the doors call
/// [`crate::factors`] with it (TOTP, confirming the password).
pub fn owner(me: &SignedIn) -> Owner {
    Owner {
        account: Account::User(me.user.id),
        email: me.user.email.clone(),
        session: OwnerSession::User(me.session.id),
        authenticated_at: me.session.authenticated_at,
    }
}

/// Changes `me`'s password after the checks of
/// [`factors::vet_password_change`].
pub async fn change_password(
    l: &Lanyard,
    me: &SignedIn,
    current: String,
    new: String,
    confirm: &str,
    client: &Client,
) -> Result<PasswordChange> {
    let me_owner = owner(me);
    let min = l.settings().auth.user_password_min;
    if let Some(stop) =
        factors::vet_password_change(l, &me_owner, current, &new, confirm, min, client).await?
    {
        return Ok(stop);
    }
    let store = l.store();
    let hash = l.passwords().hash(new).await?;
    let now = l.now();
    let token = new_token()?;
    let work = store.begin().await?;
    work.set_password_hash(me.user.id, &hash, now).await?;
    // Every session ends (another one may be an intruder's); this browser
    // gets a new one with the same absolute end.
    let ended = work
        .revoke_user_sessions(me.user.id, SessionEnd::PasswordChanged, now)
        .await?;
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
    me_owner
        .record(
            l,
            &*work,
            OwnEvent::PasswordChange,
            json!({ "other_sessions_ended": ended.saturating_sub(1), "session": session.id }),
            client,
        )
        .await?;
    work.commit().await?;
    Ok(PasswordChange::Changed { token })
}
