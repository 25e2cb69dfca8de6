//! What the IdP publishes and holds per application: its IdP URL, its signing
//! keys (made or loaded off the async runtime) and its SAML metadata, alone or
//! several in a zip.
//!
//! Metadata lists every key of the app (the active one first) so an SP can
//! trust a new key before it signs: rotation without downtime. The document
//! is UTF-8 without a BOM and carries 2048-bit or larger keys only, as AWS IAM
//! requires; it never contains a private key (it is built from certificates
//! alone).

use std::io::Write;

use lanyard_core::application::{AppKey, Application, NewAppKey, PrivateKeyPem};
use lanyard_core::{Error, Result, Settings};
use lanyard_saml::keys::{Certificate, CertificateRequest, RsaBits, SigningKey};
use lanyard_saml::metadata::IdpMetadata;
use time::{Duration, OffsetDateTime};

use crate::secrets::random_bytes;

/// Default certificate validity: five years.
pub const DEFAULT_VALIDITY_DAYS: u32 = 5 * 365;
/// Longest certificate validity we generate: twenty years.
pub const MAX_VALIDITY_DAYS: u32 = 20 * 365;

/// `<base-url>/saml2/<slug>`.
pub fn idp_url(settings: &Settings, slug: &str) -> String {
    format!("{}/saml2/{slug}", settings.base_url.as_str())
}

/// `<base-url>/saml2/<slug>/metadata`.
pub fn metadata_url(settings: &Settings, slug: &str) -> String {
    format!("{}/metadata", idp_url(settings, slug))
}

/// The download name AWS users expect: `Lanyard-<slug>-metadata.xml`.
pub fn metadata_filename(slug: &str) -> String {
    format!("Lanyard-{slug}-metadata.xml")
}

fn key_error(e: lanyard_saml::Error) -> Error {
    Error::Store(format!("key generation failed: {e}"))
}

/// Makes a new RSA-2048 key and a self-signed certificate valid for `days`
/// from `now` (on the blocking pool: RSA generation takes a while).
pub async fn generate_key(slug: &str, now: OffsetDateTime, days: u32) -> Result<NewAppKey> {
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

/// Checks an uploaded PEM key and certificate: they must parse, match, and
/// the key must be at least 2048 bits. The messages name the rule.
pub async fn load_key(key_pem: String, cert_pem: String) -> Result<NewAppKey> {
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
            // Stored re-encoded as PKCS#8, whatever form was uploaded.
            private_key: PrivateKeyPem::new(key.private_key_pem().map_err(key_error)?),
            not_after: key.certificate().not_after(),
        })
    })
    .await
    .map_err(|e| Error::Store(format!("key check task failed: {e}")))?
}

/// The app's IdP metadata, with every key's certificate (`keys` as the store
/// lists them: active first).
pub fn metadata_xml(settings: &Settings, app: &Application, keys: &[AppKey]) -> Result<String> {
    let certs = keys
        .iter()
        .map(|k| Certificate::from_pem(&k.certificate_pem))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Store(format!("stored certificate of app {}: {e}", app.id)))?;
    if certs.is_empty() {
        return Err(Error::Store(format!("app {} has no signing key", app.id)));
    }
    let sso_url = idp_url(settings, &app.slug);
    Ok(IdpMetadata {
        entity_id: &app.config.sso.idp_entity_id,
        sso_url: &sso_url,
        certificates: certs.iter().collect(),
        name_id_formats: vec![&app.config.sso.name_id_format],
        want_authn_requests_signed: app.config.sso.require_signed_requests,
        valid_until: None,
    }
    .to_xml())
}

/// A zip of `(file name, document)` pairs, entries stored uncompressed.
pub fn zip(files: &[(String, String)]) -> Result<Vec<u8>> {
    let zip_err = |e: zip::result::ZipError| Error::Store(format!("writing the zip: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, body) in files {
        zip.start_file(name.as_str(), options).map_err(zip_err)?;
        zip.write_all(body.as_bytes())
            .map_err(|e| Error::Store(format!("writing the zip: {e}")))?;
    }
    Ok(zip.finish().map_err(zip_err)?.into_inner())
}
