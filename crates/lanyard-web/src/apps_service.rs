//! The rules of changing applications, shared by the REST API
//! (`api::applications`) and the admin portal (`pages::admin::apps`), so a
//! form and a JSON request go through the same code: creation from a
//! catalog template, partial updates merged onto the stored config and
//! validated whole, activation (no placeholder may remain, and an active app
//! may not gain one), deletion with the typed count, metadata export (one
//! document or a zip), signing keys (generate, upload, activate, delete),
//! SP metadata import, the portal image, the AWS entitlement table, and the
//! per-user Preview (the same inputs and decision as a real sign-in).
//!
//! Writers reach the store through a [`Change`] (the API's `Writer`, the
//! portal's admin writer): both hold a `WriteAccess`, which exists only for a
//! role that may write, and record an audit event per change.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use lanyard_core::application::{
    check_activation, validate_grants, AppConfig, AppKey, Application, Grant, NewApplication,
};
use lanyard_core::apps::{
    check_slug, slug_from_label, AcsUrl, AttributeRule, NameIdSource, SignatureAlgorithm,
    SsoSettings,
};
use lanyard_core::aws_rules::{self, AssertionFacts, Violation};
use lanyard_core::catalog::{Catalog, Template};
use lanyard_core::directory::{Group, User};
use lanyard_core::sso::{self, AppFacts, AssertionContent, Denial};
use lanyard_core::{AppId, AppKeyId, Error, GroupId, Result, Settings, UserId};
use lanyard_saml::metadata::SpMetadata;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::access::{ReadAccess, WriteAccess};
use crate::idp;
use crate::images::check_image;

static CATALOG: LazyLock<std::result::Result<Catalog, String>> = LazyLock::new(Catalog::embedded);

/// The embedded catalog (a parse failure is a build defect, reported as a
/// store error rather than a panic).
pub fn catalog() -> Result<&'static Catalog> {
    CATALOG.as_ref().map_err(|e| Error::Store(e.clone()))
}

/// A caller that may change the directory or applications (the API's
/// `Writer`, the portal's `AdminWriter`): a write handle, the request's
/// "now", and the audit trail.
pub trait Change {
    fn store(&self) -> &WriteAccess;
    fn now(&self) -> OffsetDateTime;
    /// Records an audit event; `summary` never holds a secret.
    fn record(&self, action: &str, target: String, summary: &serde_json::Value);
}

/// The audit target of an application.
pub fn target(id: AppId) -> String {
    format!("application:{id}")
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
    #[schema(value_type = Option<Vec<crate::api::AcsUrlSchema>>)]
    pub acs_urls: Option<Vec<AcsUrl>>,
    /// An empty string removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_relay_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::api::NameIdSourceSchema>)]
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
    #[schema(value_type = Option<Vec<crate::api::AttributeRuleSchema>>)]
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
    #[schema(value_type = Option<Vec<crate::api::AttributeRuleSchema>>)]
    pub attributes: Option<Vec<AttributeRule>>,
    /// An empty string removes the groups attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_attribute: Option<String>,
    /// Replaces the SP's request-signing certificates (base64 DER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_certificates: Option<Vec<String>>,
}

/// The catalog template named `key`.
pub fn template_of(key: &str) -> Result<&'static Template> {
    catalog()?.get(key).ok_or_else(|| {
        Error::invalid(
            "template",
            format!("unknown template {key:?}: see GET /api/v1/catalog"),
        )
    })
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

/// `base`, or `base-2`, `base-3`, ... when taken: a default slug the admin
/// did not type should not fail as a conflict. (A race with another create
/// can still end in a 409, which names the slug.)
async fn free_slug(store: &WriteAccess, base: &str) -> Result<String> {
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
/// key. SSO starts active unless a placeholder remains.
pub async fn create_app(
    w: &impl Change,
    settings: &Settings,
    form: CreateAppForm,
) -> Result<Application> {
    let template = template_of(&form.template)?;
    let slug = match &form.slug {
        Some(s) => {
            check_slug(s).map_err(|m| Error::invalid("slug", m))?;
            s.clone()
        }
        None => free_slug(w.store(), &slug_from_label(&form.label)).await?,
    };
    let mut config = AppConfig {
        label: form.label.clone(),
        description: form.description.clone(),
        show_in_portal: form.show_in_portal.unwrap_or(true),
        sso: template.sso_settings(settings.base_url.as_str(), &slug),
        attributes: template.attribute_rules(),
        groups_attribute: form.groups_attribute.clone().filter(|g| !g.is_empty()),
        sp_certificates: Vec::new(),
    };
    if let Some(xml) = &form.sp_metadata {
        apply_sp_metadata(xml, &mut config)?;
    }
    if let Some(sso) = form.sso {
        sso.apply(&mut config.sso);
    }
    if let Some(rules) = form.attributes {
        config.attributes = rules;
    }
    let config = config.validate(template.aws_rules)?;
    let key = idp::generate_key(
        &slug,
        w.now(),
        form.validity_days.unwrap_or(idp::DEFAULT_VALIDITY_DAYS),
    )
    .await?;
    let new = NewApplication {
        slug,
        template: template.key.clone(),
        aws_rules: template.aws_rules,
        sso_active: config.sso.placeholder_fields().is_empty(),
        config,
    };
    let app = w.store().create_app(&new, &key, w.now()).await?;
    w.record(
        "application.create",
        target(app.id),
        &serde_json::json!({"template": app.template, "slug": app.slug, "label": app.config.label}),
    );
    Ok(app)
}

/// Merges `form` onto the stored config and saves it if the whole result is
/// valid (and, for an active app, holds no placeholder).
pub async fn update_app(w: &impl Change, id: AppId, form: UpdateAppForm) -> Result<Application> {
    let current = w.store().get_app(id).await?;
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
    let app = w.store().update_app(id, &config, w.now()).await?;
    w.record("application.update", target(id), &summary);
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
pub async fn activate_app(w: &impl Change, id: AppId) -> Result<Application> {
    check_activation(&w.store().get_app(id).await?)?;
    let app = w.store().set_app_sso_active(id, true, w.now()).await?;
    w.record("application.activate", target(id), &serde_json::json!({}));
    Ok(app)
}

/// Turns SSO off (the app and its settings stay).
pub async fn deactivate_app(w: &impl Change, id: AppId) -> Result<Application> {
    let app = w.store().set_app_sso_active(id, false, w.now()).await?;
    w.record("application.deactivate", target(id), &serde_json::json!({}));
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
pub async fn delete_apps(
    w: &impl Change,
    ids: &[i64],
    confirm_count: u64,
) -> Result<Vec<Application>> {
    let ids = check_delete(ids, confirm_count)?;
    let deleted = w.store().delete_apps(&ids).await?;
    for app in &deleted {
        w.record(
            "application.delete",
            target(app.id),
            &serde_json::json!({"slug": app.slug, "label": app.config.label}),
        );
    }
    Ok(deleted)
}

/// One app's IdP metadata: the app (for the file name) and the document.
pub async fn metadata(
    read: &ReadAccess,
    settings: &Settings,
    id: AppId,
) -> Result<(Application, String)> {
    let app = read.get_app(id).await?;
    let keys = read.list_app_keys(app.id).await?;
    let xml = idp::metadata_xml(settings, &app, &keys)?;
    Ok((app, xml))
}

/// Most apps one zip may hold.
pub const MAX_ZIP_APPS: usize = 500;

/// A zip of `Lanyard-<slug>-metadata.xml` for each of `ids` (1 to
/// [`MAX_ZIP_APPS`], distinct); an unknown id is `NotFound`.
pub async fn metadata_zip(
    read: &ReadAccess,
    settings: &Settings,
    ids: &BTreeSet<i64>,
) -> Result<Vec<u8>> {
    if ids.is_empty() || ids.len() > MAX_ZIP_APPS {
        return Err(Error::invalid(
            "ids",
            format!("name 1-{MAX_ZIP_APPS} application ids, comma-separated"),
        ));
    }
    let mut files = Vec::with_capacity(ids.len());
    for &id in ids {
        let (app, xml) = metadata(read, settings, AppId(id)).await?;
        files.push((idp::metadata_filename(&app.slug), xml));
    }
    idp::zip(&files)
}

/// Replaces the whole entitlement table of `id` (every row checked, no row
/// twice; a row naming an unknown group is `NotFound`).
pub async fn set_entitlements(w: &impl Change, id: AppId, grants: &[Grant]) -> Result<Vec<Grant>> {
    validate_grants(grants)?;
    let stored = w.store().set_entitlements(id, grants, w.now()).await?;
    w.record(
        "application.set_entitlements",
        target(id),
        &serde_json::json!({"rows": stored.len(), "roles": stored.iter().map(|g| (g.group_id, g.entitlement.role_value())).collect::<Vec<_>>()}),
    );
    Ok(stored)
}

/// What one user would get from one application.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub user_id: i64,
    /// `issue` when a response would be sent, else the denial's code
    /// (`sso_inactive`, `placeholders`, `user_suspended`, `not_authorized`,
    /// `no_name_id`, `breaks_aws_rules`).
    pub decision: String,
    /// The denial's details, when denied.
    #[schema(value_type = Option<Object>)]
    pub denial: Option<Denial>,
    /// The assertion content the user's values produce (shown even when the
    /// user is denied, so the admin can see what is wrong).
    #[schema(value_type = Option<crate::api::AssertionContentSchema>)]
    pub content: Option<AssertionContent>,
    /// Every AWS rule the content breaks (AWS apps only).
    #[schema(value_type = Vec<crate::api::ViolationSchema>)]
    pub violations: Vec<Violation>,
}

/// By email or username first (usernames may be all digits), then by id.
pub async fn find_user(read: &ReadAccess, who: &str) -> Result<User> {
    if let Some(user) = read.find_user_by_login(who).await? {
        return Ok(user);
    }
    match who.parse::<i64>() {
        Ok(id) => read.get_user(UserId(id)).await,
        Err(_) => Err(Error::not_found("user", who)),
    }
}

/// The Preview of app `id` for the user named by `who` (id, email or
/// username), sent to `acs_url` (one of the app's; default: the default
/// one): the same facts and decision as a sign-in, plus the content and
/// the AWS rules it breaks even when the user is denied.
pub async fn preview(
    read: &ReadAccess,
    id: AppId,
    who: &str,
    acs_url: Option<String>,
) -> Result<Preview> {
    let app = read.get_app(id).await?;
    let user = find_user(read, who).await?;
    let groups: Vec<Group> = read.list_groups_of_user(user.id).await?;
    let grants = read.app_grants(app.id).await?;
    let facts = AppFacts::new(&app, &grants);
    let acs = match acs_url {
        Some(url) => {
            if !app.config.sso.acs_urls.iter().any(|a| a.url == url) {
                return Err(Error::invalid(
                    "acs_url",
                    "is not one of the app's ACS URLs",
                ));
            }
            url
        }
        None => app.config.sso.default_acs().unwrap_or_default().to_owned(),
    };
    let bound_groups: Vec<&Group> = groups
        .iter()
        .filter(|g| grants.bound_groups.contains(&g.id))
        .collect();
    let content = sso::content(&facts, &user, &bound_groups, &acs).ok();
    let violations = match (&content, app.aws_rules) {
        (Some(c), true) => aws_rules::check(&AssertionFacts {
            name_id: &c.name_id,
            audience: &c.audience,
            recipient: &c.acs_url,
            attributes: &c.attributes,
        }),
        _ => Vec::new(),
    };
    let denial = sso::decide(&facts, &user, &groups, &acs).err();
    Ok(Preview {
        user_id: user.id.0,
        decision: denial.as_ref().map_or("issue", Denial::code).to_owned(),
        denial,
        content,
        violations,
    })
}

/// Binds (`on`) or unbinds `app` and `group` (idempotent; `NotFound` when
/// either is missing), from either door: the app's User Groups tab and
/// `/applications/{id}/groups/{gid}`, or the group's Applications card and
/// `/groups/{id}/applications/{app_id}`.
pub async fn set_binding(w: &impl Change, app: AppId, group: GroupId, on: bool) -> Result<()> {
    if on {
        w.store().bind_group(app, group).await?;
    } else {
        w.store().unbind_group(app, group).await?;
    }
    let action = if on {
        "application.bind_group"
    } else {
        "application.unbind_group"
    };
    w.record(action, target(app), &serde_json::json!({"group": group}));
    Ok(())
}

/// Applies binding changes (app, group, bind?) made on one form, after
/// checking that every app and group to bind still exists, so a stale page
/// changes nothing rather than half.
pub async fn apply_bindings(w: &impl Change, changes: &[(AppId, GroupId, bool)]) -> Result<()> {
    for (app, group, on) in changes {
        if *on {
            w.store().get_app(*app).await?;
            w.store().get_group(*group).await?;
        }
    }
    for (app, group, on) in changes {
        set_binding(w, *app, *group, *on).await?;
    }
    Ok(())
}

/// Where a new signing key comes from.
// No `Debug`: an upload carries a private key.
pub enum KeySource {
    /// A fresh RSA key and self-signed certificate (default validity:
    /// [`idp::DEFAULT_VALIDITY_DAYS`]).
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
pub async fn add_key(
    w: &impl Change,
    id: AppId,
    source: KeySource,
    activate: bool,
) -> Result<AppKey> {
    let app = w.store().get_app(id).await?;
    let (key, how) = match source {
        KeySource::Generate { validity_days } => (
            idp::generate_key(
                &app.slug,
                w.now(),
                validity_days.unwrap_or(idp::DEFAULT_VALIDITY_DAYS),
            )
            .await?,
            "generated",
        ),
        KeySource::Upload {
            private_key_pem,
            certificate_pem,
        } => (
            idp::load_key(private_key_pem, certificate_pem).await?,
            "uploaded",
        ),
    };
    let stored = w
        .store()
        .add_app_key(app.id, &key, activate, w.now())
        .await?;
    w.record(
        "application.key_add",
        target(app.id),
        &serde_json::json!({"key": stored.id, "how": how, "active": stored.active}),
    );
    Ok(stored)
}

/// Makes `key` the signing key of `id`.
pub async fn activate_key(w: &impl Change, id: AppId, key: AppKeyId) -> Result<AppKey> {
    let stored = w.store().activate_app_key(id, key).await?;
    w.record(
        "application.key_activate",
        target(id),
        &serde_json::json!({"key": key.0}),
    );
    Ok(stored)
}

/// Deletes a key of `id` that is not the signing key.
pub async fn delete_key(w: &impl Change, id: AppId, key: AppKeyId) -> Result<()> {
    w.store().delete_app_key(id, key).await?;
    w.record(
        "application.key_delete",
        target(id),
        &serde_json::json!({"key": key.0}),
    );
    Ok(())
}

/// Fills `id`'s SP entity ID and ACS URLs from the SP's metadata XML, then
/// validates the whole config as any other update.
pub async fn import_sp_metadata(w: &impl Change, id: AppId, xml: &str) -> Result<Application> {
    let current = w.store().get_app(id).await?;
    let mut config = current.config.clone();
    apply_sp_metadata(xml, &mut config)?;
    let config = checked_config(&current, config)?;
    let app = w.store().update_app(id, &config, w.now()).await?;
    w.record(
        "application.import_sp_metadata",
        target(id),
        &serde_json::json!({"sp_entity_id": app.config.sso.sp_entity_id, "acs_urls": app.config.sso.acs_urls.len()}),
    );
    Ok(app)
}

/// Sets `id`'s user portal image after checking it (format sniffed from
/// the bytes, fully decoded, size and dimension limits), off the async
/// threads.
pub async fn set_image(
    w: &impl Change,
    id: AppId,
    bytes: axum::body::Bytes,
) -> Result<Application> {
    let checked = bytes.clone();
    let info = tokio::task::spawn_blocking(move || check_image(&checked))
        .await
        .map_err(|e| Error::Store(format!("image check task failed: {e}")))??;
    let app = w
        .store()
        .set_app_image(id, Some((&info, &bytes)), w.now())
        .await?;
    w.record(
        "application.set_image",
        target(id),
        &serde_json::json!(info),
    );
    Ok(app)
}

/// Removes `id`'s user portal image.
pub async fn remove_image(w: &impl Change, id: AppId) -> Result<Application> {
    let app = w.store().set_app_image(id, None, w.now()).await?;
    w.record(
        "application.delete_image",
        target(id),
        &serde_json::json!({}),
    );
    Ok(app)
}
