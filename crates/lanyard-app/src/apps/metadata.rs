//! What the IdP publishes per application: its IdP URL and its SAML
//! metadata, alone or several in a zip; and what it learns from an SP's
//! metadata (import).
//!
//! Metadata lists every key of the app (the active one first) so an SP can
//! trust a new key before it signs: rotation without downtime. The document
//! is UTF-8 without a BOM and carries 2048-bit or larger keys only, as AWS IAM
//! requires; it never contains a private key (it is built from certificates
//! alone).

use std::io::Write;

use std::collections::BTreeSet;

use lanyard_core::application::{AppConfig, AppKey, Application};
use lanyard_core::apps::AcsUrl;
use lanyard_core::{AppId, Error, Result, Settings};
use lanyard_saml::keys::Certificate;
use lanyard_saml::metadata::{IdpMetadata, SpMetadata};

use lanyard_core::audit::AuditAction;

use super::{checked_config, target};
use crate::{Public, Reader, Writer};

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

/// The app's IdP metadata, with every key's certificate (`keys` as the store
/// lists them: active first).
fn metadata_xml(settings: &Settings, app: &Application, keys: &[AppKey]) -> Result<String> {
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
fn zip(files: &[(String, String)]) -> Result<Vec<u8>> {
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

/// One app's IdP metadata: the app (for the file name) and the document.
pub async fn export(read: &Reader, id: AppId) -> Result<(Application, String)> {
    let app = read.get_app(id).await?;
    let keys = read.list_app_keys(app.id).await?;
    let xml = metadata_xml(read.settings(), &app, &keys)?;
    Ok((app, xml))
}

/// The metadata anyone may fetch at `<base-url>/saml2/<slug>/metadata`.
pub async fn published(public: &Public, slug: &str) -> Result<(Application, String)> {
    let app = public.get_app_by_slug(slug).await?;
    let keys = public.list_app_keys(app.id).await?;
    let xml = metadata_xml(public.lanyard().settings(), &app, &keys)?;
    Ok((app, xml))
}

/// Most apps one zip may hold.
pub const MAX_ZIP_APPS: usize = 500;

/// A zip of `Lanyard-<slug>-metadata.xml` for each of `ids` (1 to
/// [`MAX_ZIP_APPS`], distinct); an unknown id is `NotFound`.
pub async fn export_zip(read: &Reader, ids: &BTreeSet<i64>) -> Result<Vec<u8>> {
    if ids.is_empty() || ids.len() > MAX_ZIP_APPS {
        return Err(Error::invalid(
            "ids",
            format!("name 1-{MAX_ZIP_APPS} application ids, comma-separated"),
        ));
    }
    let mut files = Vec::with_capacity(ids.len());
    for &id in ids {
        let (app, xml) = export(read, AppId(id)).await?;
        files.push((metadata_filename(&app.slug), xml));
    }
    zip(&files)
}

/// Fills SP entity ID, ACS URLs (POST binding), the SP's certificates and
/// the signed-requests flag from an SP's metadata.
pub fn apply_sp_metadata(xml: &str, config: &mut AppConfig) -> Result<()> {
    let md = SpMetadata::parse(xml)
        .map_err(|e| Error::invalid("sp_metadata", format!("is not usable SP metadata: {e}")))?;
    let post: Vec<_> = md
        .acs
        .iter()
        .filter(|a| a.binding == lanyard_saml::ns::BINDING_POST)
        .collect();
    if post.is_empty() {
        return Err(Error::invalid(
            "sp_metadata",
            "has no AssertionConsumerService with the HTTP-POST binding",
        ));
    }
    // SAML metadata 2.2.3: the first endpoint marked isDefault="true", else
    // the first in document order.
    let default = post.iter().position(|a| a.is_default).unwrap_or(0);
    config.sso.sp_entity_id = md.entity_id.clone();
    config.sso.acs_urls = post
        .iter()
        .enumerate()
        .map(|(i, a)| AcsUrl {
            url: a.location.clone(),
            is_default: i == default,
            // Kept: an AuthnRequest's AssertionConsumerServiceIndex names it.
            index: a.index,
        })
        .collect();
    // The certificates are the new SP's (possibly none): an old SP's key
    // must not stay trusted. Signed requests are only ever turned on here,
    // never off: metadata that omits the flag does not weaken a setting.
    config.sp_certificates = md
        .signing_certificates
        .iter()
        .map(|c| c.to_base64())
        .collect();
    config.sso.require_signed_requests |= md.authn_requests_signed;
    Ok(())
}

/// Fills `id`'s SP entity ID and ACS URLs from the SP's metadata XML, then
/// validates the whole config as any other update.
pub async fn import_sp_metadata(w: &Writer, id: AppId, xml: &str) -> Result<Application> {
    let mut work = w.begin().await?;
    let current = work.get_app(id).await?;
    let mut config = current.config.clone();
    apply_sp_metadata(xml, &mut config)?;
    let config = checked_config(&current, config)?;
    let app = work.update_app(id, &config, w.now()).await?;
    work.record(
        AuditAction::ApplicationImportSpMetadata,
        target(id),
        &serde_json::json!({"sp_entity_id": app.config.sso.sp_entity_id, "acs_urls": app.config.sso.acs_urls.len()}),
    );
    work.commit().await?;
    Ok(app)
}
