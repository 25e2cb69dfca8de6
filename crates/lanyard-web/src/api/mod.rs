//! The REST API under `/api/v1`: JSON in and out, `Authorization: Bearer
//! <api key>` on every route except the OpenAPI document.
//!
//! Each area owns its `router()` ([`users`], [`user_sessions`] (a user's
//! sessions, lockout and TOTP), [`groups`], [`keys`],
//! [`admins`], [`audit`], [`catalog`], [`applications`], [`app_access`]); handlers are registered through utoipa-axum's
//! `routes!`, so the axum router and the OpenAPI document are built from the
//! same list and cannot drift apart. [`openapi`] adds what every operation
//! shares (bearer security, 401/403/500 responses) and `GET
//! /api/v1/openapi.json` serves the result; `docs/openapi.json` is a
//! committed copy, checked by the `openapi` test.
//!
//! Cross-cutting pieces: [`error`] (the error enum and its HTTP mapping),
//! [`auth`] (the `Caller` / `ApiWriter` extractors), [`input`] (JSON, query and
//! path extractors answering in our error shape).

use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use lanyard_core::admin::Role;
use lanyard_core::directory::ListQuery;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub(crate) use error::ApiError;
pub(crate) use lanyard_app::directory::AttributesSchema;

mod admins;
mod app_access;
mod applications;
pub(crate) mod audit;
mod auth;
mod catalog;
mod error;
mod groups;
mod input;
mod keys;
mod user_sessions;
mod users;

const TAG_USERS: &str = "users";
const TAG_GROUPS: &str = "groups";
const TAG_KEYS: &str = "api-keys";
const TAG_ADMINS: &str = "admins";
const TAG_AUDIT: &str = "audit";
const TAG_CATALOG: &str = "catalog";
const TAG_APPS: &str = "applications";

/// Where the API lives.
pub const PREFIX: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lanyard REST API",
        description = "Manage Lanyard's directory (users, groups, attributes), applications (SAML service providers such as AWS), admins, API keys, \
            and read the audit log. Authenticate with `Authorization: Bearer <api key>`; \
            read-only keys may call every GET, administrator keys everything. \
            Errors are `{\"error\": code, \"message\": text, \"fields\": {field: message}}`."
    ),
    tags(
        (name = "users", description = "Directory users"),
        (name = "groups", description = "Groups and their members"),
        (name = "api-keys", description = "API keys"),
        (name = "admins", description = "Admin accounts"),
        (name = "audit", description = "The audit log"),
        (name = "catalog", description = "Connector templates applications are created from"),
        (name = "applications", description = "Configured applications: SSO settings, keys, metadata, group bindings, AWS entitlements"),
    )
)]
struct ApiDoc;

/// The API's routes (already under [`PREFIX`]), plus the document itself.
pub fn router() -> Router<AppState> {
    let (router, _) = documented_router().split_for_parts();
    let json: Arc<str> = openapi_json().into();
    router.route(
        &format!("{PREFIX}/openapi.json"),
        get(move || {
            let json = json.clone();
            async move { ([(CONTENT_TYPE, "application/json")], json.to_string()) }
        }),
    )
}

fn documented_router() -> OpenApiRouter<AppState> {
    let areas = OpenApiRouter::new()
        .merge(users::router())
        .merge(user_sessions::router())
        .merge(groups::router())
        .merge(keys::router())
        .merge(admins::router())
        .merge(audit::router())
        .merge(catalog::router())
        .merge(applications::router())
        .merge(app_access::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest(PREFIX, areas)
}

/// The OpenAPI document, generated from the handlers' annotations.
pub fn openapi() -> OpenApiDoc {
    let mut doc = documented_router().into_openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "api_key".into(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key made with `lanyard apikey create` or POST /api/v1/api-keys",
                ))
                .build(),
        ),
    );
    for (name, description) in [
        ("Unauthorized", "No API key, or an unknown or revoked one"),
        ("Forbidden", "The key's role may not do this"),
        (
            "Internal",
            "A server-side failure; the server log has the details",
        ),
    ] {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Error")))
                    .build(),
            )
            .build();
        components.responses.insert(name.into(), RefOr::T(response));
    }
    doc.security = Some(vec![SecurityRequirement::new(
        "api_key",
        Vec::<String>::new(),
    )]);
    for item in doc.paths.paths.values_mut() {
        let reads = [&mut item.get].into_iter().flatten();
        for op in reads {
            add_shared_responses(op, false);
        }
        let writes = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in writes.into_iter().flatten() {
            add_shared_responses(op, true);
        }
    }
    doc
}

fn add_shared_responses(op: &mut Operation, write: bool) {
    let responses = &mut op.responses.responses;
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response {
            if response.description.is_empty() {
                response.description = default_description(status).to_owned();
            }
        }
    }
    responses.insert(
        "401".into(),
        RefOr::Ref(Ref::from_response_name("Unauthorized")),
    );
    if write {
        responses.insert(
            "403".into(),
            RefOr::Ref(Ref::from_response_name("Forbidden")),
        );
    }
    responses.insert(
        "500".into(),
        RefOr::Ref(Ref::from_response_name("Internal")),
    );
}

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "Success",
        "201" => "Created",
        "204" => "Done; no content",
        "400" => "Invalid input: `fields` says what is wrong with each named field",
        "404" => "No such object",
        "409" => "A unique value is already in use: `fields` names it",
        _ => "See the error code",
    }
}

/// [`openapi`] as pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut json = serde_json::to_string_pretty(&openapi()).unwrap_or_else(|err| {
        tracing::error!("cannot serialize the OpenAPI document: {err}");
        "{}".to_owned()
    });
    json.push('\n');
    json
}

/// Pagination and search for list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Case-insensitive prefix of email, username, first or last name
    /// (users) or of the name (groups).
    pub search: Option<String>,
    /// Items with an id greater than this (a previous page's `next`).
    pub after: Option<i64>,
    /// 1-500, default 50.
    pub limit: Option<u32>,
}

impl ListParams {
    fn into_query(self) -> Result<ListQuery, lanyard_core::Error> {
        ListQuery::new(self.search, self.after, self.limit)
    }
}

/// What an admin or API key may do: `read_only` sees everything and changes
/// nothing; `administrator` may do everything.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Role)]
pub enum RoleView {
    ReadOnly,
    Administrator,
}

impl From<RoleView> for Role {
    fn from(r: RoleView) -> Self {
        match r {
            RoleView::ReadOnly => Role::ReadOnly,
            RoleView::Administrator => Role::Administrator,
        }
    }
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        match r {
            Role::ReadOnly => RoleView::ReadOnly,
            Role::Administrator => RoleView::Administrator,
        }
    }
}
