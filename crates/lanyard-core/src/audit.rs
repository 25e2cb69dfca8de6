//! Audit events: who did what to which thing, when, from where, and a summary
//! of the change (never a secret).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Set by the store; 0 before the event is written.
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `Actor::label`, e.g. `admin:ann@example.com`, `apikey:ci#3`, `cli`, `user:alice@example.com`.
    pub actor: String,
    /// Dotted kind, e.g. `user.create`, `group.member.add`, `apikey.revoke`, `sso.issue`.
    pub action: String,
    /// What was acted on, e.g. `user:12`.
    pub target: String,
    /// Client address, when known.
    pub source: Option<String>,
    /// What changed, as JSON text (field names and new non-secret values).
    pub summary: String,
}

impl AuditEvent {
    pub fn new(
        at: OffsetDateTime,
        actor: &str,
        action: &str,
        target: impl Into<String>,
        summary: String,
    ) -> Self {
        AuditEvent {
            id: 0,
            at,
            actor: printable(actor),
            action: printable(action),
            target: printable(&target.into()),
            source: None,
            summary: printable(&summary),
        }
    }

    pub fn from_source(mut self, source: Option<String>) -> Self {
        self.source = source.map(|s| printable(&s));
        self
    }
}

/// Filter for listing audit events; newest first, keyset-paginated by id.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// Events with an id lower than this (the previous page's `next`).
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// Audit text without control characters (each becomes U+FFFD): a NUL byte
/// typed into a sign-in form must not make PostgreSQL refuse the batch, and
/// a newline must not forge a log line.
fn printable(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect()
    } else {
        s.to_owned()
    }
}
