//! `AuditStore`: the append-only audit log, written in batches and listed
//! newest first.

use async_trait::async_trait;
use sqlx::Connection;
use time::OffsetDateTime;

use lanyard_core::audit::{AuditEvent, AuditFilter};
use lanyard_core::directory::{Page, DEFAULT_PAGE, MAX_PAGE};
use lanyard_core::store::AuditStore;
use lanyard_core::{Error, Result};

use crate::rows::{audit_columns, convert, db, to_ms, AuditRow};
use crate::sql::{fetch_limit, page, power_of_two_runs, value_rows, Sql};
use crate::SqlStore;

/// Values bound per event row.
const WIDTH: usize = 7;

#[async_trait]
impl AuditStore for SqlStore {
    /// All or nothing, in one transaction, as multi-row INSERTs. The events'
    /// `id`s are ignored: the database numbers them in order.
    async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        let rows_per_insert = (self.backend.max_binds() / WIDTH).max(1);
        for chunk in power_of_two_runs(events, rows_per_insert) {
            let text = format!(
                "INSERT INTO audit_events (at, actor, action, target, source, summary, request_id) \
                 VALUES {}",
                value_rows(chunk.len(), WIDTH, 1, "")
            );
            let mut q = sqlx::query(&text);
            for e in chunk {
                q = q
                    .bind(to_ms(e.at))
                    .bind(e.actor.as_str())
                    .bind(e.action.as_str())
                    .bind(e.target.as_str())
                    .bind(e.source.as_deref())
                    .bind(e.summary.as_str())
                    .bind(e.request_id.as_deref());
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// Newest first. `actor`, `target` and `action` match exactly; `since` is
    /// inclusive and `until` exclusive; `before` is the previous page's `next`.
    async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Page<AuditEvent>> {
        let limit = filter.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        let exact = [
            ("actor", &filter.actor),
            ("target", &filter.target),
            ("action", &filter.action),
        ];
        // PostgreSQL refuses NUL in text, and no stored value contains one.
        if exact
            .iter()
            .any(|(_, v)| v.as_deref().is_some_and(|v| v.contains('\0')))
        {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let mut sql = Sql::new(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE 1 = 1"
        ));
        for (column, value) in exact {
            if let Some(v) = value {
                let p = sql.text(v.as_str());
                sql.push(&format!(" AND {column} = {p}"));
            }
        }
        if let Some(since) = filter.since {
            let p = sql.int(to_ms(since));
            sql.push(&format!(" AND at >= {p}"));
        }
        if let Some(until) = filter.until {
            let p = sql.int(to_ms(until));
            sql.push(&format!(" AND at < {p}"));
        }
        if let Some(before) = filter.before {
            let p = sql.int(before);
            sql.push(&format!(" AND id < {p}"));
        }
        let l = sql.int(fetch_limit(limit));
        sql.push(&format!(" ORDER BY id DESC LIMIT {l}"));
        let rows: Vec<AuditRow> = sql.fetch_all(&mut *self.conn().await?).await.map_err(db)?;
        Ok(page(convert(rows)?, limit, |e: &AuditEvent| e.id))
    }

    async fn audit_events_after(
        &self,
        after: i64,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let rows: Vec<AuditRow> = sqlx::query_as(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE id > $1 AND at >= $2 ORDER BY id LIMIT $3"
        ))
        .bind(after)
        .bind(since.map_or(i64::MIN, to_ms))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        convert(rows)
    }

    async fn prune_audit_events(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        // The oldest first, in the order of the `at` index: it finds a
        // batch and stops (ORDER BY id walked past every newer event with a
        // lower id than the expired ones, 36-45 ms per batch under SSO
        // load).
        self.delete_oldest(
            "DELETE FROM audit_events WHERE id IN \
             (SELECT id FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)",
            before,
            limit,
        )
        .await
    }
}

impl SqlStore {
    /// Runs a retention `delete` (`$1`: the cut-off, `$2`: the batch size):
    /// a small batch per statement, so the write lock (SQLite) or the rows'
    /// locks (PostgreSQL) are held briefly and sign-ins do not wait; how
    /// many rows it deleted.
    pub(crate) async fn delete_oldest(
        &self,
        delete: &'static str,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64> {
        let done = sqlx::query(delete)
            .bind(to_ms(before))
            .bind(i64::from(limit))
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
