//! Admin accounts (who may sign in to the admin portal; separate from
//! directory users) and API keys (who may call the REST API).
//!
//! Neither can be given more rights than its creator has: a new admin's or
//! key's role is at most the caller's (`Forbidden` otherwise). Passwords are
//! hashed with argon2id before the unit of work begins and never returned
//! or recorded. An API key's secret exists only in the value [`create_key`]
//! returns: the store keeps its SHA-256, lists show its prefix.

use lanyard_core::admin::{check_admin_email, check_key_name, Admin, ApiKey, Role};
use lanyard_core::audit::{AuditAction, AuditTarget};
use lanyard_core::error::FieldErrors;
use lanyard_core::password::check_password;
use lanyard_core::{AdminId, ApiKeyId, Error, Result};

use crate::secrets::new_api_key;
use crate::Writer;

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
    if let Err(Error::Invalid(fields)) = check_password(&password) {
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

/// Deletes an admin account; records `admin.delete`.
pub async fn delete_admin(w: &Writer, id: AdminId) -> Result<Admin> {
    let mut work = w.begin().await?;
    let admin = work
        .list_admins()
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| Error::not_found("admin", id))?;
    work.delete_admin(id).await?;
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
pub async fn create_key(w: &Writer, name: &str, role: Role) -> Result<(ApiKey, String)> {
    let name = check_key_name(name)?;
    at_most_callers(w, role, "a key's")?;
    let generated = new_api_key()?;
    let mut work = w.begin().await?;
    let key = work
        .create_api_key(&name, role, &generated.prefix, &generated.hash, w.now())
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
) -> Result<Option<(ApiKey, String)>> {
    if once.len() != 32 || !once.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let name = check_key_name(name)?;
    at_most_callers(w, role, "a key's")?;
    let generated = new_api_key()?;
    let mut work = w.begin().await?;
    // Kept as long as the form's session can live: afterwards its CSRF
    // token refuses it anyway.
    let keep_until = w.now() + w.settings().auth.session_max;
    if !work.use_form_token(once, w.now(), keep_until).await? {
        return Ok(None);
    }
    let key = work
        .create_api_key(&name, role, &generated.prefix, &generated.hash, w.now())
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

fn record_key_created(work: &mut crate::work::Work<'_>, key: &ApiKey) {
    work.record(
        AuditAction::ApiKeyCreate,
        key_target(key.id),
        &serde_json::json!({
            "name": key.name, "role": key.role.as_str(), "prefix": key.prefix,
        }),
    );
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
