//! SSO Applications in the admin portal:
//!
//! - `GET /admin/applications?search=`: Configured Applications (search,
//!   status, checkboxes; "Export Metadata" and "Delete" act on the ticked
//!   rows through `GET /admin/applications/selection`).
//! - `GET /admin/applications/new?search=&template=`: catalog search, then
//!   the form for the selected template; `POST /admin/applications/new`
//!   creates (inline errors naming the rule) and answers with "Configure
//!   Application" / "Close".
//! - `GET /admin/applications/{id}?tab=general|sso|attributes|groups|preview`,
//!   and the saves `POST .../general`, `.../sso`, `.../groups`,
//!   `.../activate`, `.../deactivate`; `GET .../metadata` downloads the
//!   metadata. The Attributes tab and its saves live in
//!   [`super::app_attributes`], the Preview tab in [`super::app_preview`].
//!   Every tab shares the header and tab bar of `admin/app_head.html`
//!   ([`AppHead`]).
//! - `GET /admin/applications/selection?ids=..&action=export|delete`: the
//!   zip, or the typed-count confirmation page, whose form posts to
//!   `POST /admin/applications/delete`.
//!
//! Every change goes through `apps_service` (the same rules as the REST
//! API) with an [`AdminWriter`]; every POST is an [`AdminPost`] (session,
//! origin, CSRF).

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::application::Application;
use lanyard_core::apps::{AcsUrl, NameIdSource, SignatureAlgorithm};
use lanyard_core::directory::ListQuery;
use lanyard_core::{AppId, Error, GroupId};

use super::{read_only_refused, AdminPost, AdminSignedIn, AdminWriter, Fields, Nav};
use crate::apps_service::{self, catalog, CreateAppForm, SsoForm, UpdateAppForm};
use crate::pages::forms::{PageError, PageResult};
use crate::pages::page;
use crate::{idp, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/applications", get(list))
        .route("/admin/applications/new", get(new_page).post(create))
        .route("/admin/applications/selection", get(selection))
        .route("/admin/applications/delete", post(delete))
        .route("/admin/applications/{id}", get(detail))
        .route("/admin/applications/{id}/general", post(save_general))
        .route("/admin/applications/{id}/sso", post(save_sso))
        .route("/admin/applications/{id}/groups", post(save_groups))
        .route("/admin/applications/{id}/activate", post(activate))
        .route("/admin/applications/{id}/deactivate", post(deactivate))
        .route("/admin/applications/{id}/metadata", get(export_one))
}

/// Field errors as the service reports them (`sso.acs_urls[0]` ...).
pub(super) type Errors = BTreeMap<String, String>;

/// Messages for a form field: its own key and any indexed or nested key
/// under it (`sso.acs_urls` covers `sso.acs_urls[1]`).
pub(super) fn errors_for<'a>(errors: &'a Errors, field: &str) -> Vec<&'a str> {
    errors
        .iter()
        .filter(|(k, _)| {
            k.as_str() == field
                || k.strip_prefix(field)
                    .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
        })
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A validation failure becomes inline errors; anything else is a page error.
pub(super) fn invalid(err: Error) -> Result<Errors, PageError> {
    match err {
        Error::Invalid(fields) => Ok(fields),
        Error::Conflict { field, value } => Ok(BTreeMap::from([(
            field.to_owned(),
            format!("{value:?} is already in use"),
        )])),
        other => Err(other.into()),
    }
}

pub(super) fn see_other(location: &str) -> Response {
    let value =
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/admin/applications"));
    (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response()
}

pub(super) fn parse_id(raw: &str) -> Result<AppId, PageError> {
    raw.parse::<i64>()
        .map(AppId)
        .map_err(|_| Error::not_found("application", raw).into())
}

// ---- list ----

struct Row {
    id: i64,
    label: String,
    slug: String,
    template: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin/apps.html")]
struct ListPage {
    nav: Nav,
    search: String,
    rows: Vec<Row>,
    notice: Option<String>,
    more: bool,
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    search: Option<String>,
    deleted: Option<u32>,
}

async fn list(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(q): Query<ListParams>,
) -> PageResult {
    let search = q.search.unwrap_or_default();
    let query = ListQuery::new(Some(search.clone()), None, Some(500))?;
    let apps = signed.reader(&state).list_apps(&query).await?;
    let rows = apps
        .items
        .into_iter()
        .map(|a| Row {
            id: a.id.0,
            label: a.config.label,
            slug: a.slug,
            template: a.template,
            active: a.sso_active,
        })
        .collect();
    let notice = q
        .deleted
        .map(|n| format!("Deleted {n} application{}.", if n == 1 { "" } else { "s" }));
    Ok(page(
        StatusCode::OK,
        &ListPage {
            nav: signed.nav("applications"),
            search,
            rows,
            notice,
            more: apps.next.is_some(),
        },
    ))
}

// ---- selection: export / delete ----

#[derive(Template)]
#[template(path = "admin/apps_delete.html")]
struct DeletePage {
    nav: Nav,
    apps: Vec<Row>,
    count: usize,
    typed: String,
    error: Option<String>,
}

fn ids_of(values: &[&str]) -> BTreeSet<i64> {
    values
        .iter()
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

async fn selection(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs);
    let ids = ids_of(&fields.all("ids"));
    if ids.is_empty() {
        return Ok(see_other("/admin/applications"));
    }
    let read = signed.reader(&state);
    if fields.get("action") == "delete" {
        if !signed.can_write() {
            return Ok(read_only_refused(signed.who.actor()));
        }
        let apps = rows_of(&read, &ids).await?;
        return Ok(delete_page(
            &signed,
            apps,
            String::new(),
            None,
            StatusCode::OK,
        ));
    }
    let bytes = apps_service::metadata_zip(&read, &state.settings, &ids).await?;
    Ok((
        [
            (CONTENT_TYPE, "application/zip"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"Lanyard-metadata.zip\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn rows_of(
    read: &crate::access::ReadAccess,
    ids: &BTreeSet<i64>,
) -> Result<Vec<Row>, PageError> {
    let mut apps = Vec::with_capacity(ids.len());
    for &id in ids {
        let a = read.get_app(AppId(id)).await?;
        apps.push(Row {
            id: a.id.0,
            label: a.config.label,
            slug: a.slug,
            template: a.template,
            active: a.sso_active,
        });
    }
    Ok(apps)
}

fn delete_page(
    signed: &AdminSignedIn,
    apps: Vec<Row>,
    typed: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    page(
        status,
        &DeletePage {
            nav: signed.nav("applications"),
            count: apps.len(),
            apps,
            typed,
            error,
        },
    )
}

async fn delete(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let w = match AdminWriter::new(&state, &post) {
        Ok(w) => w,
        Err(r) => return Ok(r),
    };
    let ids: Vec<i64> = ids_of(&post.fields.all("ids")).into_iter().collect();
    let typed = post.fields.get("confirm_count").trim().to_owned();
    // A non-number is a mismatch like any other: nothing is deleted.
    let confirm = typed.parse::<u64>().unwrap_or(u64::MAX);
    match apps_service::delete_apps(&w, &ids, confirm).await {
        Ok(deleted) => Ok(see_other(&format!(
            "/admin/applications?deleted={}",
            deleted.len()
        ))),
        Err(Error::Invalid(fields)) => {
            let message = fields
                .get("confirm_count")
                .or_else(|| fields.values().next())
                .cloned()
                .unwrap_or_default();
            let read = post.signed.reader(&state);
            let set: BTreeSet<i64> = ids.iter().copied().collect();
            let apps = rows_of(&read, &set).await?;
            Ok(delete_page(
                &post.signed,
                apps,
                typed,
                Some(message),
                StatusCode::BAD_REQUEST,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- new ----

struct TemplateRow {
    key: String,
    name: String,
    description: String,
}

#[derive(Template)]
#[template(path = "admin/app_new.html")]
struct NewPage {
    nav: Nav,
    search: String,
    templates: Vec<TemplateRow>,
    /// The selected template: (key, name).
    selected: Option<(String, String)>,
    label: String,
    description: String,
    show_in_portal: bool,
    errors: Errors,
}

impl NewPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }
}

#[derive(Template)]
#[template(path = "admin/app_created.html")]
struct CreatedPage {
    nav: Nav,
    id: i64,
    label: String,
    active: bool,
}

#[derive(serde::Deserialize, Default)]
struct NewParams {
    search: Option<String>,
    template: Option<String>,
}

async fn new_page(signed: AdminSignedIn, Query(q): Query<NewParams>) -> PageResult {
    if !signed.can_write() {
        return Ok(read_only_refused(signed.who.actor()));
    }
    let search = q.search.unwrap_or_default();
    let catalog = catalog()?;
    let selected = q
        .template
        .as_deref()
        .and_then(|k| catalog.get(k))
        .map(|t| (t.key.clone(), t.name.clone()));
    let templates = if selected.is_some() {
        Vec::new()
    } else {
        catalog
            .search(search.chars().take(200).collect::<String>().as_str())
            .into_iter()
            .map(|t| TemplateRow {
                key: t.key.clone(),
                name: t.name.clone(),
                description: t.description.clone(),
            })
            .collect()
    };
    Ok(page(
        StatusCode::OK,
        &NewPage {
            nav: signed.nav("applications"),
            search,
            templates,
            selected,
            label: String::new(),
            description: String::new(),
            show_in_portal: true,
            errors: Errors::new(),
        },
    ))
}

async fn create(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let w = match AdminWriter::new(&state, &post) {
        Ok(w) => w,
        Err(r) => return Ok(r),
    };
    let f = &post.fields;
    let template = f.get("template").to_owned();
    let form = CreateAppForm {
        template: template.clone(),
        label: f.get("label").to_owned(),
        description: f.get("description").to_owned(),
        slug: None,
        show_in_portal: Some(f.checked("show_in_portal")),
        sso: None,
        attributes: None,
        groups_attribute: None,
        sp_metadata: None,
        validity_days: None,
    };
    match apps_service::create_app(&w, &state.settings, form).await {
        Ok(app) => Ok(page(
            StatusCode::OK,
            &CreatedPage {
                nav: post.signed.nav("applications"),
                id: app.id.0,
                label: app.config.label,
                active: app.sso_active,
            },
        )),
        Err(e) => {
            let errors = invalid(e)?;
            let selected = catalog()?
                .get(&template)
                .map(|t| (t.key.clone(), t.name.clone()));
            Ok(page(
                StatusCode::BAD_REQUEST,
                &NewPage {
                    nav: post.signed.nav("applications"),
                    search: String::new(),
                    templates: Vec::new(),
                    selected,
                    label: f.get("label").to_owned(),
                    description: f.get("description").to_owned(),
                    show_in_portal: f.checked("show_in_portal"),
                    errors,
                },
            ))
        }
    }
}

// ---- detail ----

/// The General tab's values (stored or as submitted).
struct GeneralValues {
    label: String,
    description: String,
    show_in_portal: bool,
}

/// The SSO tab's values (stored or as submitted).
struct SsoValues {
    idp_entity_id: String,
    sp_entity_id: String,
    /// One URL per line; the first is the default.
    acs_urls: String,
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
}

impl SsoValues {
    fn of(app: &Application) -> Self {
        let sso = &app.config.sso;
        let mut acs: Vec<&AcsUrl> = sso.acs_urls.iter().collect();
        // The default first: the form's rule is "the first line is the default".
        acs.sort_by_key(|a| !a.is_default);
        let (kind, attr) = match &sso.name_id {
            NameIdSource::Email => ("email", String::new()),
            NameIdSource::Username => ("username", String::new()),
            NameIdSource::Attribute(a) => ("attribute", a.clone()),
        };
        SsoValues {
            idp_entity_id: sso.idp_entity_id.clone(),
            sp_entity_id: sso.sp_entity_id.clone(),
            acs_urls: acs
                .iter()
                .map(|a| a.url.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
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
        }
    }

    fn from_fields(f: &Fields) -> Self {
        SsoValues {
            idp_entity_id: f.get("idp_entity_id").to_owned(),
            sp_entity_id: f.get("sp_entity_id").to_owned(),
            acs_urls: f.get("acs_urls").to_owned(),
            default_relay_state: f.get("default_relay_state").to_owned(),
            name_id_kind: f.get("name_id").to_owned(),
            name_id_attribute: f.get("name_id_attribute").to_owned(),
            name_id_format: f.get("name_id_format").to_owned(),
            sign_assertion: f.checked("sign_assertion"),
            sign_response: f.checked("sign_response"),
            algorithm: f.get("algorithm").to_owned(),
            require_signed_requests: f.checked("require_signed_requests"),
        }
    }

    /// The whole SSO tab as an update (every field set), or the form's own
    /// errors (fields the service cannot name because they did not parse).
    fn to_form(&self) -> Result<SsoForm, Errors> {
        let mut errors = Errors::new();
        let acs_urls: Vec<AcsUrl> = self
            .acs_urls
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, url)| AcsUrl {
                url: url.to_owned(),
                is_default: i == 0,
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
        })
    }
}

struct KeyRow {
    active: bool,
    not_after: String,
    expired: bool,
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
            idp_url: idp::idp_url(&state.settings, &app.slug),
            active: app.sso_active,
            notice,
        }
    }
}

/// A rejected form's values and errors (`None`: show the stored values).
#[derive(Default)]
struct Submitted {
    general: Option<GeneralValues>,
    sso: Option<SsoValues>,
    errors: Errors,
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
    let now = state.clock.now();
    let keys = read
        .list_app_keys(app.id)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            active: k.active,
            not_after: k
                .not_after
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            expired: k.not_after <= now,
        })
        .collect();
    let (groups, groups_more) = if tab == "groups" {
        let bound: BTreeSet<GroupId> = read
            .list_app_groups(app.id)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        let all = read
            .list_groups(&ListQuery::new(None, None, Some(500))?)
            .await?;
        (
            all.items
                .into_iter()
                .map(|g| GroupRow {
                    id: g.id.0,
                    bound: bound.contains(&g.id),
                    name: g.name,
                })
                .collect(),
            all.next.is_some(),
        )
    } else {
        (Vec::new(), false)
    };
    Ok(DetailPage {
        nav: signed.nav("applications"),
        head: AppHead::new(state, &app, tab, notice),
        placeholders: app.config.sso.placeholder_fields(),
        metadata_url: idp::metadata_url(&state.settings, &app.slug),
        sso: sso.unwrap_or_else(|| SsoValues::of(&app)),
        general: general.unwrap_or_else(|| GeneralValues {
            label: app.config.label.clone(),
            description: app.config.description.clone(),
            show_in_portal: app.config.show_in_portal,
        }),
        keys,
        groups,
        groups_more,
        errors,
        name_id_formats: NAME_ID_FORMATS,
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
    let notice = q.saved.map(|what| match what.as_str() {
        "activated" => "SSO activated.".to_owned(),
        "deactivated" => "SSO deactivated.".to_owned(),
        _ => "Saved.".to_owned(),
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
async fn rejected(
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
    let w = match AdminWriter::new(&state, &post) {
        Ok(w) => w,
        Err(r) => return Ok(r),
    };
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
    match apps_service::update_app(&w, id, form).await {
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
    let w = match AdminWriter::new(&state, &post) {
        Ok(w) => w,
        Err(r) => return Ok(r),
    };
    let values = SsoValues::from_fields(&post.fields);
    let sso = match values.to_form() {
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
    match apps_service::update_app(&w, id, form).await {
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
    let w = match AdminWriter::new(&state, &post) {
        Ok(w) => w,
        Err(r) => return Ok(r),
    };
    let wanted: BTreeSet<GroupId> = ids_of(&post.fields.all("groups"))
        .into_iter()
        .map(GroupId)
        .collect();
    let bound: BTreeSet<GroupId> = post
        .signed
        .reader(&state)
        .list_app_groups(id)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    use crate::apps_service::Change;
    for g in wanted.difference(&bound) {
        w.store().bind_group(id, *g).await?;
        w.record(
            "application.bind_group",
            apps_service::target(id),
            &serde_json::json!({"group_id": g.0}),
        );
    }
    for g in bound.difference(&wanted) {
        w.store().unbind_group(id, *g).await?;
        w.record(
            "application.unbind_group",
            apps_service::target(id),
            &serde_json::json!({"group_id": g.0}),
        );
    }
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
    let w = match AdminWriter::new(&state, &post) {
        Ok(w) => w,
        Err(r) => return Ok(r),
    };
    match apps_service::activate_app(&w, id).await {
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

async fn deactivate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = match AdminWriter::new(&state, &post) {
        Ok(w) => w,
        Err(r) => return Ok(r),
    };
    apps_service::deactivate_app(&w, id).await?;
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
    let (app, xml) = apps_service::metadata(&signed.reader(&state), &state.settings, id).await?;
    Ok(crate::public::xml_download(&app.slug, xml, true))
}
