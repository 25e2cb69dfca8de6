//! Applications: the rules of creating and changing them, for every door
//! (the REST API's `/applications`, the admin portal's SSO Applications
//! pages, the demo's seeding).
//!
//! This module: creation from a catalog template, partial updates merged
//! onto the stored config and validated whole, activation (no placeholder
//! may remain, and an active app may not gain one), deactivation, deletion
//! with the typed count. The rest, by concern: [`keys`] (signing keys),
//! [`metadata`] (IdP metadata export, SP metadata import, IdP URLs),
//! [`grants`] (group bindings from either side, the AWS entitlement
//! table), [`images`] (portal images), [`preview`] (what one user would
//! get), [`schema`] (OpenAPI shapes of the core types the forms carry).
//!
//! Every change runs in one unit of work with its `application.*` audit
//! event (target `application:<id>`).

use std::collections::BTreeSet;

use lanyard_core::application::{check_activation, AppConfig, Application, NewApplication};
use lanyard_core::apps::{
    check_slug, slug_from_label, AcsUrl, AttributeRule, NameIdSource, SignatureAlgorithm,
    SsoSettings,
};
use lanyard_core::audit::{AuditAction, AuditTarget};
use lanyard_core::catalog::Template;
use lanyard_core::store::Store;
use lanyard_core::{AppId, Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Writer;

pub mod expiry;
pub mod grants;
pub mod images;
pub mod keys;
pub mod metadata;
pub mod preview;
pub mod schema;

/// The audit target of an application.
pub fn target(id: AppId) -> AuditTarget {
    AuditTarget::Application(id)
}

/// Changes to the SSO tab; absent fields stay as they are (on creation: the
/// template's defaults).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoForm {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<schema::AcsUrlSchema>>)]
    pub acs_urls: Option<Vec<AcsUrl>>,
    /// An empty string removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_relay_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<schema::NameIdSourceSchema>)]
    pub name_id: Option<NameIdSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_assertion: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_response: Option<bool>,
    /// `rsa_sha256` or `rsa_sha1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub algorithm: Option<SignatureAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_signed_requests: Option<bool>,
    /// Whether the SP may send AuthnRequests (off for Amazon AWS IAM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_authn_requests: Option<bool>,
    /// Allowed RelayState values of AuthnRequests (exact, or an http(s)
    /// URL prefix ending in `*`); empty allows any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_state_allowlist: Option<Vec<String>>,
    /// The IAM SAML provider name entitlements take when a row names none
    /// (empty: the app's slug).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_provider_name: Option<String>,
    /// Lanyard's role chooser for users with several roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_chooser: Option<bool>,
}

impl SsoForm {
    fn apply(self, sso: &mut SsoSettings) {
        let SsoForm {
            idp_entity_id,
            sp_entity_id,
            acs_urls,
            default_relay_state,
            name_id,
            name_id_format,
            sign_assertion,
            sign_response,
            algorithm,
            require_signed_requests,
            accept_authn_requests,
            relay_state_allowlist,
            aws_provider_name,
            role_chooser,
        } = self;
        set(&mut sso.idp_entity_id, idp_entity_id);
        set(&mut sso.sp_entity_id, sp_entity_id);
        set(&mut sso.acs_urls, acs_urls);
        if let Some(rs) = default_relay_state {
            sso.default_relay_state = (!rs.is_empty()).then_some(rs);
        }
        set(&mut sso.name_id, name_id);
        set(&mut sso.name_id_format, name_id_format);
        set(&mut sso.sign_assertion, sign_assertion);
        set(&mut sso.sign_response, sign_response);
        set(&mut sso.algorithm, algorithm);
        set(&mut sso.require_signed_requests, require_signed_requests);
        set(&mut sso.accept_authn_requests, accept_authn_requests);
        set(&mut sso.relay_state_allowlist, relay_state_allowlist);
        set(&mut sso.role_chooser, role_chooser);
        if let Some(name) = aws_provider_name {
            let name = name.trim();
            sso.aws_provider_name = (!name.is_empty()).then(|| name.to_owned());
        }
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// A new application from a catalog template.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppForm {
    /// The catalog template's key, e.g. `aws-iam`.
    #[schema(example = "aws-iam")]
    pub template: String,
    /// Display Label (required).
    pub label: String,
    #[serde(default)]
    pub description: String,
    /// IdP URL slug: lowercase letters, digits and hyphens; default from the
    /// label. Cannot be changed later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Show in the User Portal (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_in_portal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoForm>,
    /// Replaces the template's attribute rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<schema::AttributeRuleSchema>>)]
    pub attributes: Option<Vec<AttributeRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_attribute: Option<String>,
    /// The SP's metadata XML: fills the SP entity ID, ACS URLs and the SP's
    /// signing certificate (after the template, before `sso`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_metadata: Option<String>,
    /// Validity of the generated signing certificate (default 1825 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<u32>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppForm {
    /// The slug cannot change; sending a different one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_in_portal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoForm>,
    /// Replaces every attribute row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<schema::AttributeRuleSchema>>)]
    pub attributes: Option<Vec<AttributeRule>>,
    /// An empty string removes the groups attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_attribute: Option<String>,
    /// Replaces the SP's request-signing certificates (base64 DER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_certificates: Option<Vec<String>>,
}

/// The catalog template named `key`, from the catalog `w` works with.
pub fn template_of<'a>(w: &'a Writer, key: &str) -> Result<&'a Template> {
    w.lanyard().catalog().get(key).ok_or_else(|| {
        Error::invalid(
            "template",
            format!("unknown template {key:?}: see GET /api/v1/catalog"),
        )
    })
}

/// `base`, or `base-2`, `base-3`, ... when taken: a default slug the admin
/// did not type should not fail as a conflict. (A race with another create
/// can still end in a 409, which names the slug.)
async fn free_slug(store: &dyn Store, base: &str) -> Result<String> {
    for n in 1..=100u32 {
        let candidate = if n == 1 {
            base.to_owned()
        } else {
            let suffix = format!("-{n}");
            let keep = base.len().min(63 - suffix.len());
            format!("{}{suffix}", base[..keep].trim_end_matches('-'))
        };
        match store.get_app_by_slug(&candidate).await {
            Err(Error::NotFound { .. }) => return Ok(candidate),
            Ok(_) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::invalid(
        "slug",
        "no free slug for this label: choose one",
    ))
}

/// Creates an app from its template (defaults, then SP metadata, then the
/// form's SSO fields and attributes), validated whole, with a new signing
/// key and, when given, a portal image. SSO starts active unless a
/// placeholder remains. The image is checked and the key made before the
/// unit of work begins (decoding and RSA key generation take a while), so
/// a bad image leaves no half-made application behind.
pub async fn create(
    w: &Writer,
    form: CreateAppForm,
    image: Option<Vec<u8>>,
) -> Result<Application> {
    let template = template_of(w, &form.template)?;
    let image = match image {
        Some(bytes) => Some(images::checked(bytes).await?),
        None => None,
    };
    let slug = match &form.slug {
        Some(s) => {
            check_slug(s).map_err(|m| Error::invalid("slug", m))?;
            s.clone()
        }
        None => free_slug(w.lanyard().store(), &slug_from_label(&form.label)).await?,
    };
    let mut config = AppConfig {
        label: form.label.clone(),
        description: form.description.clone(),
        show_in_portal: form.show_in_portal.unwrap_or(true),
        sso: template.sso_settings(w.settings().base_url.as_str(), &slug),
        attributes: template.attribute_rules(),
        groups_attribute: form.groups_attribute.clone().filter(|g| !g.is_empty()),
        sp_certificates: Vec::new(),
    };
    if let Some(xml) = &form.sp_metadata {
        metadata::apply_sp_metadata(xml, &mut config)?;
    }
    if let Some(sso) = form.sso {
        sso.apply(&mut config.sso);
    }
    if let Some(rules) = form.attributes {
        config.attributes = rules;
    }
    let config = config.validate(template.aws_rules)?;
    let key = keys::generate(
        &slug,
        w.now(),
        form.validity_days.unwrap_or(keys::DEFAULT_VALIDITY_DAYS),
    )
    .await?;
    let new = NewApplication {
        slug,
        template: template.key.clone(),
        aws_rules: template.aws_rules,
        sso_active: config.sso.placeholder_fields().is_empty(),
        config,
    };
    let mut work = w.begin().await?;
    let mut app = work.create_app(&new, &key, w.now()).await?;
    work.record(
        AuditAction::ApplicationCreate,
        target(app.id),
        &serde_json::json!({"template": app.template, "slug": app.slug, "label": app.config.label}),
    );
    if let Some((info, bytes)) = image {
        app = work
            .set_app_image(app.id, Some((&info, &bytes)), w.now())
            .await?;
        work.record(AuditAction::ApplicationSetImage, target(app.id), &info);
    }
    work.commit().await?;
    Ok(app)
}

/// Merges `form` onto the stored config and saves it if the whole result is
/// valid (and, for an active app, holds no placeholder).
pub async fn update(w: &Writer, id: AppId, form: UpdateAppForm) -> Result<Application> {
    let mut work = w.begin().await?;
    let current = work.get_app(id).await?;
    if form.slug.as_ref().is_some_and(|s| *s != current.slug) {
        return Err(Error::invalid(
            "slug",
            format!(
                "is immutable: the IdP URL and metadata of this app use {:?}; create a new app for a new slug",
                current.slug
            ),
        ));
    }
    let summary = serde_json::to_value(&form).unwrap_or_default();
    let mut config = current.config.clone();
    set(&mut config.label, form.label);
    set(&mut config.description, form.description);
    set(&mut config.show_in_portal, form.show_in_portal);
    if let Some(sso) = form.sso {
        sso.apply(&mut config.sso);
    }
    set(&mut config.attributes, form.attributes);
    if let Some(g) = form.groups_attribute {
        config.groups_attribute = (!g.is_empty()).then_some(g);
    }
    set(&mut config.sp_certificates, form.sp_certificates);
    let config = checked_config(&current, config)?;
    let app = work.update_app(id, &config, w.now()).await?;
    work.record(AuditAction::ApplicationUpdate, target(id), &summary);
    work.commit().await?;
    Ok(app)
}

/// `config` validated whole as `current`'s next settings: the settings
/// rules, and "cannot be activated while a placeholder remains", which
/// holds for an active app too (it may not gain one).
fn checked_config(current: &Application, config: AppConfig) -> Result<AppConfig> {
    let config = config.validate(current.aws_rules)?;
    if current.sso_active {
        check_activation(&Application {
            config: config.clone(),
            ..current.clone()
        })
        .map_err(|e| match e {
            Error::Invalid(fields) => Error::Invalid(
                fields
                    .into_keys()
                    .map(|f| {
                        (
                            f,
                            "would hold a template placeholder while SSO is active: deactivate SSO first, or enter your AWS value".to_owned(),
                        )
                    })
                    .collect(),
            ),
            other => other,
        })?;
    }
    Ok(config)
}

/// Turns SSO on; refused (naming each field) while a placeholder remains.
pub async fn activate(w: &Writer, id: AppId) -> Result<Application> {
    let mut work = w.begin().await?;
    check_activation(&work.get_app(id).await?)?;
    let app = work.set_app_sso_active(id, true, w.now()).await?;
    work.record(
        AuditAction::ApplicationActivate,
        target(id),
        &serde_json::json!({}),
    );
    work.commit().await?;
    Ok(app)
}

/// Turns SSO off (the app and its settings stay).
pub async fn deactivate(w: &Writer, id: AppId) -> Result<Application> {
    let mut work = w.begin().await?;
    let app = work.set_app_sso_active(id, false, w.now()).await?;
    work.record(
        AuditAction::ApplicationDeactivate,
        target(id),
        &serde_json::json!({}),
    );
    work.commit().await?;
    Ok(app)
}

/// The typed-count rule: `ids` (distinct) must be non-empty and
/// `confirm_count` their number. The message says nothing was deleted.
pub fn check_delete(ids: &[i64], confirm_count: u64) -> Result<Vec<AppId>> {
    let ids: BTreeSet<i64> = ids.iter().copied().collect();
    if ids.is_empty() {
        return Err(Error::invalid("ids", "name at least one application"));
    }
    if confirm_count != ids.len() as u64 {
        return Err(Error::invalid(
            "confirm_count",
            format!(
                "you are deleting {n} application{s}: type {n} to confirm (got {c}); nothing was deleted",
                n = ids.len(),
                s = if ids.len() == 1 { "" } else { "s" },
                c = confirm_count
            ),
        ));
    }
    Ok(ids.into_iter().map(AppId).collect())
}

/// Deletes all of `ids` or none (see [`check_delete`]).
pub async fn delete(w: &Writer, ids: &[i64], confirm_count: u64) -> Result<Vec<Application>> {
    let ids = check_delete(ids, confirm_count)?;
    let mut work = w.begin().await?;
    let deleted = work.delete_apps(&ids).await?;
    for app in &deleted {
        work.record(
            AuditAction::ApplicationDelete,
            target(app.id),
            &serde_json::json!({"slug": app.slug, "label": app.config.label}),
        );
    }
    work.commit().await?;
    Ok(deleted)
}
