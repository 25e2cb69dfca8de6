//! Admin accounts (who may sign in to the admin portal; separate from
//! directory users) and API keys (who may call the REST API).
//!
//! Neither can be given more rights than its creator has: a new admin's or
//! key's role is at most the caller's (`Forbidden` otherwise). Passwords are
//! hashed with argon2id before the unit of work begins and never returned
//! or recorded; they follow the admin password rules (`admin_password_min`
//! characters, not a common password). An API key's secret exists only in
//! the value [`create_key`] returns: the store keeps its SHA-256, lists
//! show its prefix; a key records who made it and may expire.
//!
//! **The last active administrator** (an enabled admin with the
//! administrator role) cannot be deleted, disabled or demoted: the check
//! runs inside the change's unit of work, so two administrators demoting
//! each other at once cannot both succeed on SQLite (one writer at a time)
//! and, on PostgreSQL, the count is read after the change is written and
//! the change rolls back when it would leave none (`Refused`).
//!
//! An admin's own account ([`AdminSignedIn`]): password change (ends the
//! admin's other sessions), sessions, TOTP (the rules of
//! [`crate::factors`]); an enrolling session (the instance requires a
//! second factor) completes when TOTP is confirmed ([`finish_enrollment`]).

use lanyard_core::admin::{check_admin_email, check_key_name, Admin, ApiKey, Role};
use lanyard_core::audit::{AuditAction, AuditTarget};
use lanyard_core::error::FieldErrors;
use lanyard_core::password::check_new_password;
use lanyard_core::session::{
    token_hash, Account, AdminSession, AuthMethods, NewAdminSession, SessionStage, SignInState,
};
use lanyard_core::store::{NewApiKey, Store};
use lanyard_core::{AdminId, AdminSessionId, ApiKeyId, Error, Result};
use serde_json::json;
use time::OffsetDateTime;

use crate::access::AdminSignedIn;
use crate::factors::{self, OwnEvent, Owner, OwnerSession};
pub use crate::factors::{
    PasswordChange, Reauthentication, TotpConfirmation, TotpPage, TotpRemoval,
};
use crate::secrets::{new_api_key, new_token};
use crate::{Client, Lanyard, Writer};

/// The refusal when a change would leave no active administrator.
pub const LAST_ADMINISTRATOR: &str =
    "this is the last active administrator: make another admin an administrator first";

/// `Refused` when the store (as the unit of work sees it) has no active
/// administrator left. Asked only after a change that took one away: an
/// instance run by API keys alone may have none, and changing its
/// read-only admins is fine.
async fn keep_an_administrator(store: &dyn Store) -> Result<()> {
    let admins = store.list_admins().await?;
    if admins.iter().any(Admin::is_active_administrator) {
        Ok(())
    } else {
        Err(Error::Refused(LAST_ADMINISTRATOR.into()))
    }
}

/// The admin password rules of this instance.
fn check_admin_password(w: &Writer, password: &str) -> Result<()> {
    check_new_password(password, w.settings().auth.admin_password_min)
}

fn admin_target(id: AdminId) -> AuditTarget {
    AuditTarget::Admin(id)
}

fn key_target(id: ApiKeyId) -> AuditTarget {
    AuditTarget::ApiKey(id)
}

fn at_most_callers(w: &Writer, role: Role, what: &str) -> Result<()> {
    if role > w.role() {
        return Err(Error::Forbidden(format!(
            "{what} role can be at most its creator's ({})",
            w.role().as_str()
        )));
    }
    Ok(())
}

/// Creates an admin account: email and password rules checked at once, the
/// role at most the caller's, the password hashed; records `admin.create`.
pub async fn create_admin(w: &Writer, email: &str, role: Role, password: String) -> Result<Admin> {
    let mut errors = FieldErrors::new();
    let email = match check_admin_email(email) {
        Ok(email) => email,
        Err(Error::Invalid(fields)) => {
            errors.extend(fields);
            String::new()
        }
        Err(other) => return Err(other),
    };
    if let Err(Error::Invalid(fields)) = check_admin_password(w, &password) {
        errors.extend(fields);
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    at_most_callers(w, role, "an admin's")?;
    let hash = w.lanyard().passwords().hash(password).await?;
    let mut work = w.begin().await?;
    let admin = work.create_admin(&email, role, &hash, w.now()).await?;
    work.record(
        AuditAction::AdminCreate,
        admin_target(admin.id),
        &serde_json::json!({
            "email": admin.email, "role": admin.role.as_str(),
        }),
    );
    work.commit().await?;
    Ok(admin)
}

/// Deletes an admin account (its sessions end with it), unless it is the
/// last active administrator; records `admin.delete`.
pub async fn delete_admin(w: &Writer, id: AdminId) -> Result<Admin> {
    let mut work = w.begin().await?;
    let admin = work.get_admin(id).await?;
    work.delete_admin(id).await?;
    if admin.is_active_administrator() {
        keep_an_administrator(&*work).await?;
    }
    work.record(
        AuditAction::AdminDelete,
        admin_target(id),
        &serde_json::json!({ "email": admin.email }),
    );
    work.commit().await?;
    Ok(admin)
}

/// Mints a key named `name` with `role` (at most the caller's); returns it
/// with its secret, which exists nowhere else afterwards. Records
/// `apikey.create` with the prefix, never the secret.
pub async fn create_key(
    w: &Writer,
    name: &str,
    role: Role,
    expires_at: Option<OffsetDateTime>,
) -> Result<(ApiKey, String)> {
    let name = check_key_name(name)?;
    at_most_callers(w, role, "a key's")?;
    check_expiry(w, expires_at)?;
    let generated = new_api_key()?;
    let mut work = w.begin().await?;
    let key = work
        .create_api_key(&new_key(w, &name, role, &generated, expires_at), w.now())
        .await?;
    record_key_created(&mut work, &key);
    work.commit().await?;
    Ok((key, generated.secret))
}

/// [`create_key`] from a form that must not act twice (the admin portal's:
/// its answer shows the secret once, so a reload that re-POSTs must not
/// make a second key unseen). `once` is the form's one-time token; it is
/// recorded in the same unit of work as the key, so a refused form (a bad
/// name) can be sent again, and every node knows a used one. `None`: the
/// token was used already (or is malformed), and nothing was made.
pub async fn create_key_once(
    w: &Writer,
    once: &str,
    name: &str,
    role: Role,
    expires_at: Option<OffsetDateTime>,
) -> Result<Option<(ApiKey, String)>> {
    if once.len() != 32 || !once.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let name = check_key_name(name)?;
    at_most_callers(w, role, "a key's")?;
    check_expiry(w, expires_at)?;
    let generated = new_api_key()?;
    let mut work = w.begin().await?;
    // Kept as long as the form's session can live: afterwards its CSRF
    // token refuses it anyway.
    let keep_until = w.now() + w.settings().auth.session_max;
    if !work.use_form_token(once, w.now(), keep_until).await? {
        return Ok(None);
    }
    let key = work
        .create_api_key(&new_key(w, &name, role, &generated, expires_at), w.now())
        .await?;
    record_key_created(&mut work, &key);
    work.commit().await?;
    Ok(Some((key, generated.secret)))
}

/// A fresh one-time token for a form (see [`create_key_once`]).
pub fn form_token() -> Result<String> {
    let bytes = crate::secrets::random_bytes::<16>()?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn new_key<'a>(
    w: &'a Writer,
    name: &'a str,
    role: Role,
    generated: &'a lanyard_core::admin::GeneratedKey,
    expires_at: Option<OffsetDateTime>,
) -> NewApiKey<'a> {
    NewApiKey {
        name,
        role,
        prefix: &generated.prefix,
        hash: &generated.hash,
        created_by: &w.actor().label,
        expires_at,
    }
}

/// An expiry must lie ahead.
fn check_expiry(w: &Writer, expires_at: Option<OffsetDateTime>) -> Result<()> {
    match expires_at {
        Some(at) if at <= w.now() => Err(Error::invalid("expires_at", "must be in the future")),
        _ => Ok(()),
    }
}

fn record_key_created(work: &mut crate::work::Work<'_>, key: &ApiKey) {
    let mut summary = json!({
        "name": key.name, "role": key.role.as_str(), "prefix": key.prefix,
    });
    if let Some(at) = key.expires_at {
        summary["expires_at"] = json!(crate::sign_in::rfc3339(at));
    }
    work.record(AuditAction::ApiKeyCreate, key_target(key.id), &summary);
}

/// Revokes the key (it stays listed, with `revoked_at`, so the audit trail
/// still names it); records `apikey.revoke`.
pub async fn revoke_key(w: &Writer, id: ApiKeyId) -> Result<ApiKey> {
    let mut work = w.begin().await?;
    let key = work.revoke_api_key(id, w.now()).await?;
    work.record(
        AuditAction::ApiKeyRevoke,
        key_target(key.id),
        &serde_json::json!({
            "name": key.name, "prefix": key.prefix,
        }),
    );
    work.commit().await?;
    Ok(key)
}

/// What an administrator changes about an admin account.
#[derive(Debug, Clone, Default)]
pub struct AdminChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

impl AdminChange {
    /// Only the role.
    pub fn role(role: Role) -> Self {
        AdminChange {
            role: Some(role),
            disabled: None,
        }
    }

    /// Only disabled or enabled.
    pub fn disabled(disabled: bool) -> Self {
        AdminChange {
            role: None,
            disabled: Some(disabled),
        }
    }
}

/// Changes an admin's role and whether they are disabled, unless that
/// leaves no active administrator (`Refused`); disabling ends the admin's
/// sessions. Records `admin.update` with what changed.
pub async fn update_admin(w: &Writer, id: AdminId, change: AdminChange) -> Result<Admin> {
    let role = change.role;
    if let Some(role) = role {
        at_most_callers(w, role, "an admin's")?;
    }
    let mut work = w.begin().await?;
    let before = work.get_admin(id).await?;
    let role = role.unwrap_or(before.role);
    let disabled = change.disabled.unwrap_or(before.disabled);
    let admin = work.update_admin(id, role, disabled).await?;
    if before.is_active_administrator() && !admin.is_active_administrator() {
        keep_an_administrator(&*work).await?;
    }
    let ended = if disabled && !before.disabled {
        work.revoke_admin_sessions(id, None).await?
    } else {
        0
    };
    work.record(
        AuditAction::AdminUpdate,
        admin_target(id),
        &json!({
            "email": admin.email,
            "role": (role != before.role).then_some(role.as_str()),
            "disabled": (disabled != before.disabled).then_some(disabled),
            "sessions_ended": ended,
        }),
    );
    work.commit().await?;
    Ok(admin)
}

/// An administrator sets another admin's password (the rules of admin
/// passwords); the admin's sessions end. Records `admin.password.set`.
pub async fn set_admin_password(w: &Writer, id: AdminId, password: String) -> Result<()> {
    check_admin_password(w, &password)?;
    let admin = w.reader().get_admin(id).await?;
    let hash = w.lanyard().passwords().hash(password).await?;
    let mut work = w.begin().await?;
    work.set_admin_password_hash(admin.id, &hash).await?;
    let ended = work.revoke_admin_sessions(admin.id, None).await?;
    work.record(
        AuditAction::AdminPasswordSet,
        admin_target(id),
        &json!({ "email": admin.email, "sessions_ended": ended }),
    );
    work.commit().await
}

/// Removes an admin's second factor (enrolled and pending) and ends their
/// sessions: the break-glass for a lost authenticator (`lanyard admin
/// reset-2fa` on the host, or another administrator). When the instance
/// requires a second factor, the admin enrolls again at their next
/// sign-in. Records `admin.totp.reset`.
pub async fn reset_admin_totp(w: &Writer, id: AdminId) -> Result<Admin> {
    let mut work = w.begin().await?;
    let admin = work.get_admin(id).await?;
    work.reset_totp(Account::Admin(id)).await?;
    let ended = work.revoke_admin_sessions(id, None).await?;
    work.record(
        AuditAction::AdminTotpReset,
        admin_target(id),
        &json!({
            "email": admin.email, "was_enabled": admin.second_factor, "sessions_ended": ended,
        }),
    );
    let admin = work.get_admin(id).await?;
    work.commit().await?;
    Ok(admin)
}

/// Ends an admin's lock and failure counts at once; records `admin.unlock`.
pub async fn unlock_admin(w: &Writer, id: AdminId) -> Result<SignInState> {
    let account = Account::Admin(id);
    let mut work = w.begin().await?;
    let before = work.sign_in_state(account).await?;
    work.reset_login_failures(account).await?;
    work.forget_sources(account, None).await?;
    work.record(
        AuditAction::AdminUnlock,
        admin_target(id),
        &crate::directory::security::unlock_summary(&before, w.now()),
    );
    let after = work.sign_in_state(account).await?;
    work.commit().await?;
    Ok(after)
}

/// The signed-in admin as the owner of their factors: the doors call
/// [`crate::factors`] with it (TOTP, confirming the password).
pub fn owner(me: &AdminSignedIn) -> Owner {
    Owner {
        account: Account::Admin(me.admin.id),
        email: me.admin.email.clone(),
        session: OwnerSession::Admin(me.session.id),
        authenticated_at: me.session.authenticated_at,
    }
}

/// An enrolling session (see [`crate::sign_in::admin_pending`]) as the
/// owner of the admin's factors: it was made by the password just now.
pub async fn enrolling_owner(l: &Lanyard, session: &AdminSession) -> Result<Owner> {
    let admin = l.store().get_admin(session.admin_id).await?;
    Ok(Owner {
        account: Account::Admin(admin.id),
        email: admin.email,
        session: OwnerSession::Admin(session.id),
        authenticated_at: session.authenticated_at,
    })
}

/// Completes an enrolling session once the admin's TOTP is on: the
/// session moves to `Complete` (password and TOTP) under a new token, and
/// `admin.sign_in` is recorded. `None` when TOTP is not on yet.
pub async fn finish_enrollment(
    l: &Lanyard,
    session: &AdminSession,
    client: &Client,
) -> Result<Option<String>> {
    let store = l.store();
    let account = Account::Admin(session.admin_id);
    if !store.sign_in_state(account).await?.totp_enabled() {
        return Ok(None);
    }
    let admin = store.get_admin(session.admin_id).await?;
    let token = new_token()?;
    store
        .advance_admin_session(
            session.id,
            SessionStage::Complete,
            AuthMethods::PasswordTotp,
            &token_hash(&token),
            l.now(),
        )
        .await?;
    l.audit().record(
        lanyard_core::audit::AuditEvent::new(
            l.now(),
            &format!("admin:{}", admin.email),
            AuditAction::AdminSignIn,
            &admin_target(admin.id),
            json!({ "method": "password+totp", "session": session.id, "enrolled": true })
                .to_string(),
        )
        .from_source(client.source()),
    );
    Ok(Some(token))
}

/// Changes the signed-in admin's password after the checks of
/// [`factors::vet_password_change`] (the admin rules); every session of
/// the admin ends and this browser gets a new one with the same absolute
/// end. Records `admin.password.change`.
pub async fn change_own_password(
    l: &Lanyard,
    me: &AdminSignedIn,
    current: String,
    new: String,
    confirm: &str,
    client: &Client,
) -> Result<PasswordChange> {
    let me_owner = owner(me);
    let min = l.settings().auth.admin_password_min;
    if let Some(stop) =
        factors::vet_password_change(l, &me_owner, current, &new, confirm, min, client).await?
    {
        return Ok(stop);
    }
    let hash = l.passwords().hash(new).await?;
    let now = l.now();
    let token = new_token()?;
    let store = l.store();
    let work = store.begin().await?;
    work.set_admin_password_hash(me.admin.id, &hash).await?;
    let ended = work.revoke_admin_sessions(me.admin.id, None).await?;
    let session = work
        .create_admin_session(&NewAdminSession {
            token_hash: token_hash(&token),
            admin_id: me.admin.id,
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

/// The signed-in admin's sessions, newest first.
pub async fn own_sessions(l: &Lanyard, me: &AdminSignedIn) -> Result<Vec<AdminSession>> {
    l.store().list_admin_sessions(me.admin.id).await
}

/// Ends one of the signed-in admin's sessions (`NotFound` when it is not
/// theirs), or, with `None`, all but the current one. Records
/// `admin.session.revoke` / `admin.sessions.revoke`; returns how many ended.
pub async fn end_own_sessions(
    l: &Lanyard,
    me: &AdminSignedIn,
    which: Option<AdminSessionId>,
    client: &Client,
) -> Result<u64> {
    let store = l.store();
    let work = store.begin().await?;
    let (ended, action, summary) = match which {
        Some(id) => {
            work.revoke_admin_session(me.admin.id, id).await?;
            (1, AuditAction::AdminSessionRevoke, json!({ "session": id }))
        }
        None => {
            let n = work
                .revoke_admin_sessions(me.admin.id, Some(me.session.id))
                .await?;
            (
                n,
                AuditAction::AdminSessionsRevoke,
                json!({ "revoked": n, "kept": me.session.id }),
            )
        }
    };
    let event = lanyard_core::audit::AuditEvent::new(
        l.now(),
        &me.who.actor().label,
        action,
        &admin_target(me.admin.id),
        summary.to_string(),
    )
    .from_source(client.source());
    work.append_audit_events(&[event]).await?;
    work.commit().await?;
    Ok(ended)
}
