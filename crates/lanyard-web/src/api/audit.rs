//! `GET /api/v1/audit-events`: the audit log, newest first.
//!
//! Paginated backwards by id: pass a page's `next` as `before` for older
//! events. `since`/`until` are RFC 3339 instants (inclusive/exclusive as the
//! store defines them); `actor`, `target` and `action` match exactly.
//! The paging rules (`lanyard_app::audit::AuditParams`) are shared with the
//! admin portal's Audit log page.

use axum::Json;
use lanyard_app::audit::AuditParams;
use lanyard_core::audit::AuditEvent;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
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
    /// The id of the HTTP request that caused it (its `X-Request-Id`, also
    /// in the server's log lines); null for the command line.
    pub request_id: Option<String>,
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
            request_id: e.request_id,
            summary,
        }
    }
}

/// One page of events; pass `next` as `before` for older ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEventView>,
    pub next: Option<i64>,
    /// Sign-in and SSO events this server wrote to its log instead of the
    /// audit log since it started, because their queue was full (or the
    /// writer had stopped): 0 normally. The log lines carry every field.
    pub logged_instead: u64,
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
        logged_instead: caller.read.audit_logged_instead(),
    }))
}
