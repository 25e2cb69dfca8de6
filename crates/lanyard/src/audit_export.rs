//! `lanyard audit export [--since TIME] [--follow]`: the audit log as JSON
//! lines on standard output, oldest first, one event per line with the
//! same fields as `GET /api/v1/audit-events` (`lanyard_web::audit_event_json`),
//! for a SIEM or a file. With `--follow` it keeps reading new events (once
//! a second) until SIGTERM or Ctrl-C.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use lanyard_core::store::AuditStore;
use time::OffsetDateTime;

use crate::commands::runtime;
use crate::config::Loaded;

/// Events read per statement.
const PAGE: u32 = 500;
/// How often `--follow` looks for new events.
const POLL: Duration = Duration::from_secs(1);

pub fn export(loaded: &Loaded, since: Option<&str>, follow: bool) -> anyhow::Result<()> {
    let since = since
        .map(|s| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).with_context(
                || format!("--since {s:?} is not an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"),
            )
        })
        .transpose()?;
    runtime()?.block_on(async {
        let store = crate::commands::open_store(loaded).await?;
        let stop = crate::serve::shutdown_signal();
        tokio::pin!(stop);
        let mut after = 0;
        let mut out = std::io::stdout().lock();
        let result = async {
            loop {
                let events = store.audit_events_after(after, since, PAGE).await?;
                let full = events.len() == PAGE as usize;
                for event in events {
                    after = event.id;
                    serde_json::to_writer(&mut out, &lanyard_web::audit_event_json(event))?;
                    out.write_all(b"\n")?;
                }
                out.flush()?;
                if full {
                    continue;
                }
                if !follow {
                    return anyhow::Ok(());
                }
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
        .await;
        store.close().await;
        result
    })
}
