//! An application's signing keys: generated or uploaded (made or checked
//! off the async runtime, before the unit of work begins), activated,
//! deleted.
//!
//! Every key is published in the metadata at once; it signs only once
//! activated, so adding the next key first and activating it when the SP
//! has the new metadata rotates without downtime. Private keys live only in
//! the store and in `PrivateKeyPem` (no `Serialize`, redacted `Debug`); the
//! audit events name the key by id.

use lanyard_core::application::{AppKey, NewAppKey, PrivateKeyPem};
use lanyard_core::{AppId, AppKeyId, Error, Result};
use lanyard_saml::keys::{CertificateRequest, RsaBits, SigningKey};
use time::{Duration, OffsetDateTime};

use lanyard_core::audit::AuditAction;

use super::target;
use crate::secrets::random_bytes;
use crate::Writer;

/// Default certificate validity: five years.
pub const DEFAULT_VALIDITY_DAYS: u32 = 5 * 365;
/// Longest certificate validity we generate: twenty years.
pub const MAX_VALIDITY_DAYS: u32 = 20 * 365;

fn key_error(e: lanyard_saml::Error) -> Error {
    Error::Store(format!("key generation failed: {e}"))
}

/// A fresh RSA-2048 key and self-signed certificate valid for `days` from
/// `now` (backdated five minutes for clock skew), named after the app.
pub async fn generate(slug: &str, now: OffsetDateTime, days: u32) -> Result<NewAppKey> {
    if days == 0 || days > MAX_VALIDITY_DAYS {
        return Err(Error::invalid(
            "validity_days",
            format!("must be between 1 and {MAX_VALIDITY_DAYS} days"),
        ));
    }
    let req = CertificateRequest {
        common_name: format!("Lanyard SAML IdP ({slug})"),
        bits: RsaBits::B2048,
        not_before: now - Duration::minutes(5),
        not_after: now + Duration::days(i64::from(days)),
        serial: random_bytes()?,
    };
    tokio::task::spawn_blocking(move || {
        let key = SigningKey::generate(&req).map_err(key_error)?;
        Ok(NewAppKey {
            certificate_pem: key.certificate().to_pem(),
            private_key: PrivateKeyPem::new(key.private_key_pem().map_err(key_error)?),
            not_after: key.certificate().not_after(),
        })
    })
    .await
    .map_err(|e| Error::Store(format!("key generation task failed: {e}")))?
}

/// An uploaded key pair, checked: they must match, the key at least 2048
/// bits. Errors name the field at fault.
pub async fn load(key_pem: String, cert_pem: String) -> Result<NewAppKey> {
    tokio::task::spawn_blocking(move || {
        let key = SigningKey::from_pem(&key_pem, &cert_pem).map_err(|e| {
            let (field, message) = match e {
                lanyard_saml::Error::KeyTooSmall { bits, min } => (
                    "private_key_pem",
                    format!("is a {bits}-bit key; at least {min} bits are required"),
                ),
                lanyard_saml::Error::KeyCertificateMismatch => (
                    "certificate_pem",
                    "does not match the private key (their public keys differ)".to_owned(),
                ),
                lanyard_saml::Error::InvalidKey(m) => (
                    "private_key_pem",
                    format!("is not a PEM RSA private key (PKCS#8 or PKCS#1): {m}"),
                ),
                other => (
                    "certificate_pem",
                    format!("is not a PEM X.509 RSA certificate: {other}"),
                ),
            };
            Error::invalid(field, message)
        })?;
        Ok(NewAppKey {
            certificate_pem: key.certificate().to_pem(),
            private_key: PrivateKeyPem::new(key.private_key_pem().map_err(key_error)?),
            not_after: key.certificate().not_after(),
        })
    })
    .await
    .map_err(|e| Error::Store(format!("key check task failed: {e}")))?
}

/// Where a new signing key comes from.
// No `Debug`: an upload carries a private key.
pub enum KeySource {
    /// A fresh RSA key and self-signed certificate (default validity:
    /// [`DEFAULT_VALIDITY_DAYS`]).
    Generate { validity_days: Option<u32> },
    /// The admin's own key and certificate (they must match; at least 2048
    /// bits).
    Upload {
        private_key_pem: String,
        certificate_pem: String,
    },
}

/// Adds a signing key to `id`, published in the metadata at once and the
/// signing key only when `activate` (publish first, activate once the SP
/// has the new metadata: rotation without downtime).
pub async fn add(w: &Writer, id: AppId, source: KeySource, activate: bool) -> Result<AppKey> {
    let app = w.reader().get_app(id).await?;
    let (key, how) = match source {
        KeySource::Generate { validity_days } => (
            generate(
                &app.slug,
                w.now(),
                validity_days.unwrap_or(DEFAULT_VALIDITY_DAYS),
            )
            .await?,
            "generated",
        ),
        KeySource::Upload {
            private_key_pem,
            certificate_pem,
        } => (load(private_key_pem, certificate_pem).await?, "uploaded"),
    };
    let mut work = w.begin().await?;
    let stored = work.add_app_key(app.id, &key, activate, w.now()).await?;
    work.record(
        AuditAction::ApplicationKeyAdd,
        target(app.id),
        &serde_json::json!({"key": stored.id, "how": how, "active": stored.active}),
    );
    work.commit().await?;
    Ok(stored)
}

/// Makes `key` the signing key of `id`.
pub async fn activate(w: &Writer, id: AppId, key: AppKeyId) -> Result<AppKey> {
    let mut work = w.begin().await?;
    let stored = work.activate_app_key(id, key).await?;
    work.record(
        AuditAction::ApplicationKeyActivate,
        target(id),
        &serde_json::json!({"key": key.0}),
    );
    work.commit().await?;
    Ok(stored)
}

/// Deletes a key of `id` that is not the signing key.
pub async fn delete(w: &Writer, id: AppId, key: AppKeyId) -> Result<()> {
    let mut work = w.begin().await?;
    work.delete_app_key(id, key).await?;
    work.record(
        AuditAction::ApplicationKeyDelete,
        target(id),
        &serde_json::json!({"key": key.0}),
    );
    work.commit().await
}
