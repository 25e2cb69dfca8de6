//! SSO Applications in the admin portal:
//!
//! - `GET /admin/applications?search=`: Configured Applications (search,
//!   status, checkboxes; "Export Metadata" and "Delete" act on the ticked
//!   rows through `GET /admin/applications/selection`).
//! - `GET /admin/applications/new?search=&template=`: catalog search, then
//!   the form for the selected template; `POST /admin/applications/new`
//!   creates (inline errors naming the rule) and answers with "Configure
//!   Application" / "Close".
//! - One application's page and tabs live in [`super::app_detail`]
//!   (General, SSO, User Groups), [`super::app_attributes`],
//!   [`super::app_preview`] and [`super::app_assets`] (keys, SP metadata,
//!   portal image). The form helpers they share ([`Errors`], [`invalid`],
//!   [`see_other`], [`parse_id`]) are here.
//! - `GET /admin/applications/selection?ids=..&action=export|delete`: the
//!   metadata (one app: its XML file; several: a zip), or the typed-count
//!   confirmation page, whose form posts to `POST /admin/applications/delete`;
//!   with no row ticked, back to the list, which says to select one.
//!
//! Every change goes through `lanyard_app::apps` (the same rules as the
//! REST API) with an [`AdminWriter`]; every POST is an [`AdminPost`] (session,
//! origin, CSRF).

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::directory::ListQuery;
use lanyard_core::{AppId, Error};

use super::{read_only_refused, AdminPost, AdminSignedIn, AdminWriter, Fields, Nav};
use crate::pages::forms::{PageError, PageResult};
use crate::pages::page;
use crate::AppState;
use lanyard_app::apps::{self, CreateAppForm};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/applications", get(list))
        .route("/admin/applications/new", get(new_page).post(create))
        .route("/admin/applications/selection", get(selection))
        .route("/admin/applications/delete", post(delete))
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
    /// A button pressed with no row ticked.
    error: Option<String>,
    more: bool,
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    search: Option<String>,
    deleted: Option<u32>,
    /// `export` or `delete`: that button was pressed with no row ticked.
    none_selected: Option<String>,
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
    let error = q.none_selected.as_deref().map(|action| {
        let what = if action == "delete" {
            "delete it"
        } else {
            "export its metadata"
        };
        format!("Select an application first (tick its row) to {what}.")
    });
    Ok(page(
        StatusCode::OK,
        &ListPage {
            nav: signed.nav("applications"),
            search,
            rows,
            notice,
            error,
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

pub(super) fn ids_of(values: &[&str]) -> BTreeSet<i64> {
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
    let action = if fields.get("action") == "delete" {
        "delete"
    } else {
        "export"
    };
    if ids.is_empty() {
        return Ok(see_other(&format!(
            "/admin/applications?none_selected={action}"
        )));
    }
    let read = signed.reader(&state);
    if action == "delete" {
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
    // One app: its XML file, which AWS's "Choose File" step takes as it
    // is; several: a zip of them.
    if let [id] = ids.iter().copied().collect::<Vec<_>>()[..] {
        let (app, xml) = apps::metadata::export(&read, AppId(id)).await?;
        return Ok(crate::public::xml_download(&app.slug, xml, true));
    }
    let bytes = apps::metadata::export_zip(&read, &ids).await?;
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

async fn rows_of(read: &lanyard_app::Reader, ids: &BTreeSet<i64>) -> Result<Vec<Row>, PageError> {
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
    let w = writer_or_refusal!(state, post);
    let ids: Vec<i64> = ids_of(&post.fields.all("ids")).into_iter().collect();
    let typed = post.fields.get("confirm_count").trim().to_owned();
    // A non-number is a mismatch like any other: nothing is deleted.
    let confirm = typed.parse::<u64>().unwrap_or(u64::MAX);
    match apps::delete(&w, &ids, confirm).await {
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
    /// The IdP URL slug as typed (empty: derived from the label).
    slug: String,
    /// `<base-url>/saml2/`, which the slug completes.
    idp_url_prefix: String,
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

async fn new_page(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(q): Query<NewParams>,
) -> PageResult {
    if !signed.can_write() {
        return Ok(read_only_refused(signed.who.actor()));
    }
    let search = q.search.unwrap_or_default();
    let read = signed.reader(&state);
    let catalog = read.catalog();
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
            slug: String::new(),
            idp_url_prefix: apps::metadata::idp_url(state.settings(), ""),
            description: String::new(),
            show_in_portal: true,
            errors: Errors::new(),
        },
    ))
}

async fn create(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let w = writer_or_refusal!(state, post);
    let f = &post.fields;
    let template = f.get("template").to_owned();
    let form = CreateAppForm {
        template: template.clone(),
        label: f.get("label").to_owned(),
        description: f.get("description").to_owned(),
        // Chosen by the admin ("a plaintext string unique to this
        // connector"), or derived from the label when left empty.
        slug: Some(f.get("slug").trim().to_owned()).filter(|s| !s.is_empty()),
        show_in_portal: Some(f.checked("show_in_portal")),
        sso: None,
        attributes: None,
        groups_attribute: None,
        sp_metadata: None,
        validity_days: None,
    };
    let image = post.file("image").map(|u| u.bytes.to_vec());
    match apps::create(&w, form, image).await {
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
            let selected = post
                .signed
                .reader(&state)
                .catalog()
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
                    slug: f.get("slug").trim().to_owned(),
                    idp_url_prefix: apps::metadata::idp_url(state.settings(), ""),
                    description: f.get("description").to_owned(),
                    show_in_portal: f.checked("show_in_portal"),
                    errors,
                },
            ))
        }
    }
}
