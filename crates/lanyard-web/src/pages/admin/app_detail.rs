//! One configured application in the admin portal:
//! `GET /admin/applications/{id}?tab=general|sso|attributes|groups|preview`
//! and the saves of the General, SSO and User Groups tabs (`POST
//! .../general`, `.../sso`, `.../groups`), `.../activate`,
//! `.../deactivate` (asked first by `GET .../deactivate`), and `GET
//! .../metadata` (the download). The Attributes
//! tab lives in [`super::app_attributes`], the Preview tab in
//! [`super::app_preview`], the SSO tab's keys and SP metadata import and the
//! General tab's image in [`super::app_assets`]. Every tab shares the header
//! and tab bar of `admin/app_head.html` ([`AppHead`]).

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::application::Application;
use lanyard_core::apps::{AcsUrl, NameIdSource, SignatureAlgorithm};
use lanyard_core::catalog::SignInEndpoint;
use lanyard_core::directory::ListQuery;
use lanyard_core::{AppId, Error, GroupId};
use lanyard_saml::keys::Certificate;

use super::apps::{errors_for, invalid, parse_id, see_other, Errors};
use super::{AdminPost, AdminSignedIn, AdminWriter, Fields, Nav};
use crate::pages::forms::{PageError, PageResult};
use crate::pages::page;
use crate::AppState;
use lanyard_app::apps::{self, SsoForm, UpdateAppForm};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/applications/{id}", get(detail))
        .route("/admin/applications/{id}/general", post(save_general))
        .route("/admin/applications/{id}/sso", post(save_sso))
        .route("/admin/applications/{id}/groups", post(save_groups))
        .route("/admin/applications/{id}/activate", post(activate))
        .route(
            "/admin/applications/{id}/deactivate",
            get(deactivate_page).post(deactivate),
        )
        .route("/admin/applications/{id}/metadata", get(export_one))
}

/// The General tab's values (stored or as submitted).
struct GeneralValues {
    label: String,
    description: String,
    show_in_portal: bool,
}

/// One sign-in endpoint offered on the SSO tab (the catalog's, e.g. AWS's
/// global and regional endpoints): registered as an ACS URL or not, and
/// whether it is the default.
struct EndpointRow {
    url: String,
    label: String,
    registered: bool,
    default: bool,
}

/// The SSO tab's values (stored or as submitted).
struct SsoValues {
    idp_entity_id: String,
    sp_entity_id: String,
    /// The template's sign-in endpoints (empty for most templates).
    endpoints: Vec<EndpointRow>,
    /// One URL per line. Without endpoints: every ACS URL, the first is the
    /// default. With endpoints: the registered URLs that are not one of
    /// them (e.g. AWS's per-provider `/saml/acs/<id>`).
    acs_urls: String,
    /// With endpoints: the default is the first of `acs_urls`.
    default_other: bool,
    default_relay_state: String,
    /// `email`, `username` or `attribute`.
    name_id_kind: String,
    name_id_attribute: String,
    name_id_format: String,
    sign_assertion: bool,
    sign_response: bool,
    /// `rsa_sha256` or `rsa_sha1`.
    algorithm: String,
    require_signed_requests: bool,
    accept_authn_requests: bool,
    /// One rule per line.
    relay_state_allowlist: String,
    role_chooser: bool,
}

impl SsoValues {
    fn of(app: &Application, offered: &[SignInEndpoint]) -> Self {
        let sso = &app.config.sso;
        let mut acs: Vec<&AcsUrl> = sso.acs_urls.iter().collect();
        // The default first: the form's rule is "the first line is the default".
        acs.sort_by_key(|a| !a.is_default);
        let endpoints: Vec<EndpointRow> = offered
            .iter()
            .map(|e| {
                let stored = acs.iter().find(|a| a.url == e.url);
                EndpointRow {
                    url: e.url.clone(),
                    label: e.label.clone(),
                    registered: stored.is_some(),
                    default: stored.is_some_and(|a| a.is_default),
                }
            })
            .collect();
        let default_other = !endpoints.is_empty() && !endpoints.iter().any(|e| e.default);
        acs.retain(|a| !offered.iter().any(|e| e.url == a.url));
        let (kind, attr) = match &sso.name_id {
            NameIdSource::Email => ("email", String::new()),
            NameIdSource::Username => ("username", String::new()),
            NameIdSource::Attribute(a) => ("attribute", a.clone()),
        };
        SsoValues {
            idp_entity_id: sso.idp_entity_id.clone(),
            sp_entity_id: sso.sp_entity_id.clone(),
            endpoints,
            acs_urls: acs
                .iter()
                .map(|a| a.url.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            default_other,
            default_relay_state: sso.default_relay_state.clone().unwrap_or_default(),
            name_id_kind: kind.to_owned(),
            name_id_attribute: attr,
            name_id_format: sso.name_id_format.clone(),
            sign_assertion: sso.sign_assertion,
            sign_response: sso.sign_response,
            algorithm: match sso.algorithm {
                SignatureAlgorithm::RsaSha256 => "rsa_sha256",
                SignatureAlgorithm::RsaSha1 => "rsa_sha1",
            }
            .to_owned(),
            require_signed_requests: sso.require_signed_requests,
            accept_authn_requests: sso.accept_authn_requests,
            relay_state_allowlist: sso.relay_state_allowlist.join("\n"),
            role_chooser: sso.role_chooser,
        }
    }

    fn from_fields(f: &Fields, offered: &[SignInEndpoint]) -> Self {
        let ticked = f.all("acs_endpoint");
        let default = f.get("acs_default");
        SsoValues {
            idp_entity_id: f.get("idp_entity_id").to_owned(),
            sp_entity_id: f.get("sp_entity_id").to_owned(),
            endpoints: offered
                .iter()
                .map(|e| EndpointRow {
                    url: e.url.clone(),
                    label: e.label.clone(),
                    // The default is registered, ticked or not.
                    registered: ticked.contains(&e.url.as_str()) || default == e.url,
                    default: default == e.url,
                })
                .collect(),
            acs_urls: f.get("acs_urls").to_owned(),
            default_other: !offered.is_empty() && !offered.iter().any(|e| e.url == default),
            default_relay_state: f.get("default_relay_state").to_owned(),
            name_id_kind: f.get("name_id").to_owned(),
            name_id_attribute: f.get("name_id_attribute").to_owned(),
            name_id_format: f.get("name_id_format").to_owned(),
            sign_assertion: f.checked("sign_assertion"),
            sign_response: f.checked("sign_response"),
            algorithm: f.get("algorithm").to_owned(),
            require_signed_requests: f.checked("require_signed_requests"),
            accept_authn_requests: f.checked("accept_authn_requests"),
            relay_state_allowlist: f.get("relay_state_allowlist").to_owned(),
            role_chooser: f.checked("role_chooser"),
        }
    }

    /// The whole SSO tab as an update (every field set), or the form's own
    /// errors (fields the service cannot name because they did not parse).
    /// An ACS URL the app had keeps its metadata index (`current`).
    fn to_form(&self, current: &[AcsUrl]) -> Result<SsoForm, Errors> {
        let mut errors = Errors::new();
        let others = self
            .acs_urls
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            // An endpoint typed here as well as registered above is kept once.
            .filter(|l| !self.endpoints.iter().any(|e| e.registered && e.url == *l));
        // The chosen endpoints in the catalog's order, then the other URLs.
        let mut urls: Vec<(&str, bool)> = self
            .endpoints
            .iter()
            .filter(|e| e.registered)
            .map(|e| (e.url.as_str(), e.default))
            .collect();
        for (i, url) in others.enumerate() {
            // Without endpoints the first line is the default; with them,
            // when "the first other URL" is chosen.
            let first_other = i == 0 && (self.endpoints.is_empty() || self.default_other);
            urls.push((url, first_other));
        }
        if !urls.is_empty() && !urls.iter().any(|(_, d)| *d) {
            // "The first other URL" chosen with none typed: the first
            // registered endpoint is the default.
            urls[0].1 = true;
        }
        let acs_urls: Vec<AcsUrl> = urls
            .into_iter()
            .map(|(url, is_default)| AcsUrl {
                url: url.to_owned(),
                is_default,
                index: current.iter().find(|a| a.url == url).and_then(|a| a.index),
            })
            .collect();
        let name_id = match self.name_id_kind.as_str() {
            "email" => NameIdSource::Email,
            "username" => NameIdSource::Username,
            "attribute" => NameIdSource::Attribute(self.name_id_attribute.trim().to_owned()),
            _ => {
                errors.insert(
                    "sso.name_id".into(),
                    "choose email, username or a user attribute".into(),
                );
                NameIdSource::Email
            }
        };
        let algorithm = match self.algorithm.as_str() {
            "rsa_sha256" => SignatureAlgorithm::RsaSha256,
            "rsa_sha1" => SignatureAlgorithm::RsaSha1,
            _ => {
                errors.insert(
                    "sso.algorithm".into(),
                    "choose RSA-SHA256 or RSA-SHA1".into(),
                );
                SignatureAlgorithm::RsaSha256
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SsoForm {
            idp_entity_id: Some(self.idp_entity_id.trim().to_owned()),
            sp_entity_id: Some(self.sp_entity_id.trim().to_owned()),
            acs_urls: Some(acs_urls),
            default_relay_state: Some(self.default_relay_state.trim().to_owned()),
            name_id: Some(name_id),
            name_id_format: Some(self.name_id_format.trim().to_owned()),
            sign_assertion: Some(self.sign_assertion),
            sign_response: Some(self.sign_response),
            algorithm: Some(algorithm),
            require_signed_requests: Some(self.require_signed_requests),
            accept_authn_requests: Some(self.accept_authn_requests),
            // Edited with the entitlements (Attributes tab).
            aws_provider_name: None,
            role_chooser: Some(self.role_chooser),
            relay_state_allowlist: Some(
                self.relay_state_allowlist
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        })
    }
}

/// The sign-in endpoints the app's catalog template offers (none when the
/// template is unknown).
fn sign_in_endpoints(state: &AppState, app: &Application) -> Vec<SignInEndpoint> {
    state
        .lanyard
        .catalog()
        .get(&app.template)
        .map(|t| t.sign_in_endpoints())
        .unwrap_or_default()
}

/// A signing key as the SSO tab shows it: its certificate's details.
struct KeyRow {
    id: i64,
    active: bool,
    subject: String,
    bits: usize,
    sha256_fingerprint: String,
    not_before: String,
    not_after: String,
    expired: bool,
    /// Days until expiry (negative once expired).
    days_left: i64,
}

struct GroupRow {
    id: i64,
    name: String,
    bound: bool,
}

#[derive(Template)]
#[template(path = "admin/app_detail.html")]
struct DetailPage {
    nav: Nav,
    head: AppHead,
    placeholders: Vec<String>,
    metadata_url: String,
    general: GeneralValues,
    sso: SsoValues,
    keys: Vec<KeyRow>,
    groups: Vec<GroupRow>,
    groups_more: bool,
    errors: Errors,
    name_id_formats: [&'static str; 4],
    /// The stored portal image's URL (versioned), if any.
    image_url: Option<String>,
    /// The active certificate expires within 30 days (or has expired).
    expiry_warning: Option<String>,
}

impl DetailPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }
}

const NAME_ID_FORMATS: [&str; 4] = [
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
];

#[derive(serde::Deserialize, Default)]
struct DetailParams {
    tab: Option<String>,
    saved: Option<String>,
    /// Preview: the user's id, email or username.
    user: Option<String>,
    /// Preview: the ACS URL to address (default: the app's default).
    acs_url: Option<String>,
}

fn tab_of(raw: Option<&str>) -> &'static str {
    match raw {
        Some("sso") => "sso",
        Some("attributes") => "attributes",
        Some("groups") => "groups",
        Some("preview") => "preview",
        _ => "general",
    }
}

/// The header and tab bar every tab of the detail page shows
/// (`templates/admin/app_head.html`).
pub(super) struct AppHead {
    pub id: i64,
    /// `general`, `sso`, `attributes`, `groups` or `preview`.
    pub tab: &'static str,
    pub label: String,
    pub template: String,
    pub slug: String,
    pub idp_url: String,
    pub active: bool,
    pub notice: Option<String>,
}

impl AppHead {
    pub(super) fn new(
        state: &AppState,
        app: &Application,
        tab: &'static str,
        notice: Option<String>,
    ) -> Self {
        AppHead {
            id: app.id.0,
            tab,
            label: app.config.label.clone(),
            template: app.template.clone(),
            slug: app.slug.clone(),
            idp_url: lanyard_app::apps::metadata::idp_url(state.settings(), &app.slug),
            active: app.sso_active,
            notice,
        }
    }
}

/// A rejected form's values and errors (`None`: show the stored values).
#[derive(Default)]
pub(super) struct Submitted {
    general: Option<GeneralValues>,
    sso: Option<SsoValues>,
    errors: Errors,
}

impl Submitted {
    /// Only errors: the tab shows the stored values.
    pub(super) fn errors(errors: Errors) -> Self {
        Submitted {
            errors,
            ..Default::default()
        }
    }
}

/// The detail page of `app` on `tab`.
async fn detail_page(
    state: &AppState,
    signed: &AdminSignedIn,
    app: Application,
    tab: &'static str,
    submitted: Submitted,
    notice: Option<String>,
) -> Result<DetailPage, PageError> {
    let Submitted {
        general,
        sso,
        errors,
    } = submitted;
    let read = signed.reader(state);
    let now = state.lanyard.now();
    let rfc3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let mut keys = Vec::new();
    let mut expiry_warning = None;
    for k in read.list_app_keys(app.id).await? {
        let cert = Certificate::from_pem(&k.certificate_pem)
            .map_err(|e| Error::Store(format!("stored certificate of key {}: {e}", k.id)))?;
        if k.active {
            let expiry = lanyard_core::application::KeyExpiry {
                app_id: app.id,
                slug: app.slug.clone(),
                label: app.config.label.clone(),
                not_after: cert.not_after(),
            };
            expiry_warning = lanyard_app::apps::expiry::warning(expiry, now).map(|w| w.message());
        }
        keys.push(KeyRow {
            id: k.id.0,
            active: k.active,
            subject: cert.subject().to_owned(),
            bits: cert.bits(),
            sha256_fingerprint: cert.sha256_fingerprint(),
            not_before: rfc3339(cert.not_before()),
            not_after: rfc3339(cert.not_after()),
            expired: cert.not_after() <= now,
            days_left: (cert.not_after() - now).whole_days(),
        });
    }
    let (groups, groups_more) = if tab == "groups" {
        // Every bound group is listed, with the first 500 of all groups.
        let bound = read.list_app_groups(app.id).await?;
        let bound_ids: BTreeSet<GroupId> = bound.iter().map(|g| g.id).collect();
        let all = read
            .list_groups(&ListQuery::new(None, None, Some(500))?)
            .await?;
        let mut rows: Vec<GroupRow> = all
            .items
            .into_iter()
            .filter(|g| !bound_ids.contains(&g.id))
            .chain(bound)
            .map(|g| GroupRow {
                id: g.id.0,
                bound: bound_ids.contains(&g.id),
                name: g.name,
            })
            .collect();
        rows.sort_by_key(|g| g.id);
        (rows, all.next.is_some())
    } else {
        (Vec::new(), false)
    };
    Ok(DetailPage {
        nav: signed.nav("applications"),
        head: AppHead::new(state, &app, tab, notice),
        placeholders: app.config.sso.placeholder_fields(),
        metadata_url: lanyard_app::apps::metadata::metadata_url(state.settings(), &app.slug),
        sso: sso.unwrap_or_else(|| SsoValues::of(&app, &sign_in_endpoints(state, &app))),
        general: general.unwrap_or_else(|| GeneralValues {
            label: app.config.label.clone(),
            description: app.config.description.clone(),
            show_in_portal: app.config.show_in_portal,
        }),
        image_url: app
            .image
            .as_ref()
            .map(|i| format!("/app-images/{}?v={}", app.id, i.sha256)),
        keys,
        groups,
        groups_more,
        errors,
        name_id_formats: NAME_ID_FORMATS,
        expiry_warning,
    })
}

async fn detail(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DetailParams>,
) -> PageResult {
    let id = parse_id(&id)?;
    let app = signed.reader(&state).get_app(id).await?;
    let notice = q.saved.map(|what| {
        match what.as_str() {
            "activated" => "SSO activated.",
            "deactivated" => "SSO deactivated.",
            "key_added" => "New signing key published in the metadata. Upload the new metadata to the SP, then make it the signing key.",
            "key_rotated" => "New signing key created and signing now. Upload the new metadata to the SP.",
            "key_activated" => "Signing key changed.",
            "key_deleted" => "Key deleted; it is no longer in the metadata.",
            "metadata_imported" => "SP metadata imported: SP Entity ID and ACS URLs updated.",
            "image_set" => "Portal image saved.",
            "image_removed" => "Portal image removed.",
            _ => "Saved.",
        }
        .to_owned()
    });
    let tab = tab_of(q.tab.as_deref());
    match tab {
        "attributes" => return super::app_attributes::show(&state, &signed, app, notice).await,
        "preview" => {
            let user = q.user.unwrap_or_default();
            return super::app_preview::show(&state, &signed, app, &user, q.acs_url).await;
        }
        _ => {}
    }
    let view = detail_page(&state, &signed, app, tab, Submitted::default(), notice).await?;
    Ok(page(StatusCode::OK, &view))
}

/// Re-renders the detail page of `id` with the submitted values and errors.
pub(super) async fn rejected(
    state: &AppState,
    post: &AdminPost,
    id: AppId,
    tab: &'static str,
    submitted: Submitted,
) -> PageResult {
    let app = post.signed.reader(state).get_app(id).await?;
    let view = detail_page(state, &post.signed, app, tab, submitted, None).await?;
    Ok(page(StatusCode::BAD_REQUEST, &view))
}

async fn save_general(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let values = GeneralValues {
        label: post.fields.get("label").to_owned(),
        description: post.fields.get("description").to_owned(),
        show_in_portal: post.fields.checked("show_in_portal"),
    };
    let form = UpdateAppForm {
        label: Some(values.label.clone()),
        description: Some(values.description.clone()),
        show_in_portal: Some(values.show_in_portal),
        ..Default::default()
    };
    match apps::update(&w, id, form).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/applications/{id}?tab=general&saved=1"
        ))),
        Err(e) => {
            let errors = invalid(e)?;
            rejected(
                &state,
                &post,
                id,
                "general",
                Submitted {
                    general: Some(values),
                    sso: None,
                    errors,
                },
            )
            .await
        }
    }
}

async fn save_sso(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let current = w.reader().get_app(id).await?;
    let values = SsoValues::from_fields(&post.fields, &sign_in_endpoints(&state, &current));
    let sso = match values.to_form(&current.config.sso.acs_urls) {
        Ok(sso) => sso,
        Err(errors) => {
            let submitted = Submitted {
                general: None,
                sso: Some(values),
                errors,
            };
            return rejected(&state, &post, id, "sso", submitted).await;
        }
    };
    let form = UpdateAppForm {
        sso: Some(sso),
        ..Default::default()
    };
    match apps::update(&w, id, form).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/applications/{id}?tab=sso&saved=1"
        ))),
        Err(e) => {
            let errors = invalid(e)?;
            rejected(
                &state,
                &post,
                id,
                "sso",
                Submitted {
                    general: None,
                    sso: Some(values),
                    errors,
                },
            )
            .await
        }
    }
}

async fn save_groups(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let changes: Vec<_> = match post.fields.checkbox_changes("groups") {
        Ok(c) => c.into_iter().map(|(g, on)| (id, GroupId(g), on)).collect(),
        Err(e) => {
            return rejected(&state, &post, id, "groups", Submitted::errors(invalid(e)?)).await
        }
    };
    apps::grants::apply_bindings(&w, &changes).await?;
    Ok(see_other(&format!(
        "/admin/applications/{id}?tab=groups&saved=1"
    )))
}

async fn activate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    match apps::activate(&w, id).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/applications/{id}?tab=sso&saved=activated"
        ))),
        Err(e) => {
            let errors = invalid(e)?
                .into_iter()
                .map(|(k, v)| (k, format!("SSO cannot be activated: {v}")))
                .collect();
            rejected(
                &state,
                &post,
                id,
                "sso",
                Submitted {
                    errors,
                    ..Default::default()
                },
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/app_deactivate.html")]
struct DeactivatePage {
    nav: Nav,
    id: i64,
    label: String,
    active: bool,
}

/// Deactivate SSO asks first: this page, whose button posts the change
/// (Cancel goes back to the SSO tab, and nothing changes).
async fn deactivate_page(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = parse_id(&id)?;
    if !signed.can_write() {
        return Ok(super::read_only_refused(signed.who.actor()));
    }
    let app = signed.reader(&state).get_app(id).await?;
    Ok(page(
        StatusCode::OK,
        &DeactivatePage {
            nav: signed.nav("applications"),
            id: app.id.0,
            label: app.config.label,
            active: app.sso_active,
        },
    ))
}

async fn deactivate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    apps::deactivate(&w, id).await?;
    Ok(see_other(&format!(
        "/admin/applications/{id}?tab=sso&saved=deactivated"
    )))
}

async fn export_one(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = parse_id(&id)?;
    let (app, xml) = apps::metadata::export(&signed.reader(&state), id).await?;
    Ok(crate::public::xml_download(&app.slug, xml, true))
}
