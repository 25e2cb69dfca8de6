//! `GET /api/v1/audit-events`: the audit log, newest first.
//!
//! Paginated backwards by id: pass a page's `next` as `before` for older
//! events. `since`/`until` are RFC 3339 instants (inclusive/exclusive as the
//! store defines them); `actor`, `target` and `action` match exactly.
//! [`AuditParams::into_filter`] (the paging rules) is shared with the admin
//! portal's Audit log page (`pages::admin::system`).

use axum::Json;
use lanyard_core::audit::{AuditEvent, AuditFilter};
use lanyard_core::directory::{DEFAULT_PAGE, MAX_PAGE};
use lanyard_core::Error;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::ApiResult;
use super::input::ApiQuery;
use super::TAG_AUDIT;
use crate::error::ErrorBody;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// One recorded action.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// e.g. `apikey:ci#3`, `admin:ann@example.com`, `cli`.
    pub actor: String,
    /// Dotted kind, e.g. `user.create`, `group.member.add`.
    pub action: String,
    /// What was acted on, e.g. `user:12`.
    pub target: String,
    /// Client address, when known.
    pub source: Option<String>,
    /// The changed fields and their new non-secret values.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        let summary =
            serde_json::from_str(&e.summary).unwrap_or(serde_json::Value::String(e.summary));
        AuditEventView {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            source: e.source,
            summary,
        }
    }
}

/// One page of events; pass `next` as `before` for older ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEventView>,
    pub next: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
    /// Events at or after this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    /// Events before this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
    /// Events with an id lower than this (a previous page's `next`).
    pub before: Option<i64>,
    /// 1-500, default 50.
    pub limit: Option<u32>,
}

impl AuditParams {
    /// The store's filter, once `limit` and `before` are in range.
    pub(crate) fn into_filter(self) -> Result<AuditFilter, Error> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        if self.before.is_some_and(|b| b < 0) {
            return Err(Error::invalid("before", "must not be negative"));
        }
        Ok(AuditFilter {
            actor: self.actor,
            target: self.target,
            action: self.action,
            since: self.since,
            until: self.until,
            before: self.before,
            limit: Some(limit),
        })
    }
}

#[utoipa::path(get, path = "/audit-events", tag = TAG_AUDIT, params(AuditParams),
    responses((status = 200, body = AuditEventPage), (status = 400, body = ErrorBody)))]
async fn list_events(
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditEventPage>> {
    let page = caller
        .read
        .list_audit_events(&params.into_filter()?)
        .await?;
    Ok(Json(AuditEventPage {
        items: page.items.into_iter().map(AuditEventView::from).collect(),
        next: page.next,
    }))
}
