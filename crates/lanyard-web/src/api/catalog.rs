//! `/api/v1/catalog`: the connector templates an application is created from
//! ("Amazon AWS IAM", "AWS IAM Identity Center", "Custom SAML App"), searchable
//! by name and keyword, with their default SSO settings and help text.
//!
//! The catalog is data compiled into the binary (`lanyard-core/catalog`),
//! parsed once when the server starts (a parse failure is a build defect,
//! caught by lanyard-core's unit tests, and stops the start).

use axum::Json;
use lanyard_core::catalog::Template;
use lanyard_core::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::ApiResult;
use super::input::ApiQuery;
use super::TAG_CATALOG;
use crate::error::ErrorBody;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_catalog))
}

/// A constant attribute a template pre-fills.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConstantView {
    pub name: String,
    pub value: String,
}

/// An attribute a template maps from a user field.
#[derive(Debug, Serialize, ToSchema)]
pub struct MappingView {
    pub name: String,
    pub user_field: String,
}

/// A connector template.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CatalogTemplate)]
pub struct TemplateView {
    pub key: String,
    pub name: String,
    pub description: String,
    pub help: String,
    pub sp_entity_id: String,
    pub acs_urls: Vec<String>,
    /// ACS URLs the SSO tab offers; `YOUR_*` values are placeholders to replace.
    pub acs_url_options: Vec<String>,
    /// Sign-in endpoints offered as a choice (for Amazon AWS IAM: the global
    /// one, which is us-east-1's, and each region's); empty for others.
    pub sign_in_endpoints: Vec<String>,
    pub default_relay_state: Option<String>,
    pub name_id: String,
    pub name_id_format: String,
    pub sign_assertion: bool,
    pub sign_response: bool,
    /// Whether AWS's assertion rules are checked for apps of this template.
    pub aws_rules: bool,
    pub constants: Vec<ConstantView>,
    pub mappings: Vec<MappingView>,
}

impl From<&Template> for TemplateView {
    fn from(t: &Template) -> Self {
        TemplateView {
            key: t.key.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            help: t.help.clone(),
            sp_entity_id: t.sp_entity_id.clone(),
            acs_urls: t.acs_urls.clone(),
            acs_url_options: t.acs_url_options.clone(),
            sign_in_endpoints: t.sign_in_endpoints.clone(),
            default_relay_state: t.default_relay_state.clone(),
            name_id: t.name_id.clone(),
            name_id_format: t.name_id_format.clone(),
            sign_assertion: t.sign_assertion,
            sign_response: t.sign_response,
            aws_rules: t.aws_rules,
            constants: t
                .constants
                .iter()
                .map(|c| ConstantView {
                    name: c.name.clone(),
                    value: c.value.clone(),
                })
                .collect(),
            mappings: t
                .mappings
                .iter()
                .map(|m| MappingView {
                    name: m.name.clone(),
                    user_field: m.user_field.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CatalogParams {
    /// Words that must all appear in the name, keywords or description
    /// (case-insensitive); empty lists every template.
    pub search: Option<String>,
}

#[utoipa::path(get, path = "/catalog", tag = TAG_CATALOG, params(CatalogParams),
    responses((status = 200, body = Vec<TemplateView>), (status = 400, body = ErrorBody)))]
async fn search_catalog(
    caller: Caller,
    ApiQuery(params): ApiQuery<CatalogParams>,
) -> ApiResult<Json<Vec<TemplateView>>> {
    let catalog = caller.read.catalog();
    let query = params.search.unwrap_or_default();
    if query.chars().count() > 200 {
        return Err(Error::invalid("search", "must be at most 200 characters").into());
    }
    Ok(Json(
        catalog
            .search(&query)
            .into_iter()
            .map(TemplateView::from)
            .collect(),
    ))
}
