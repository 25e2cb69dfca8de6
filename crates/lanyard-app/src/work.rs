//! The unit of work a [`Writer`] opens for one use-case: its changes and
//! their audit events, committed in one transaction.
//!
//! A use-case checks its input, does any slow work (password hashing, key
//! generation, image decoding) first, then begins, reads and writes through
//! the [`Work`] (it derefs to the store), records its events, and commits.
//! Returning early (an error, a refused rule) drops the work, which rolls
//! back whatever it had changed, so a refused change never leaves half of
//! itself behind, and an acknowledged one is never without its event.

use std::ops::Deref;

use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
use lanyard_core::store::UnitOfWork;
use lanyard_core::Result;
use serde::Serialize;

use crate::Writer;

pub(crate) struct Work<'w> {
    tx: Box<dyn UnitOfWork>,
    writer: &'w Writer,
    events: Vec<AuditEvent>,
}

impl<'w> Work<'w> {
    pub(crate) async fn begin(writer: &'w Writer) -> Result<Work<'w>> {
        Ok(Work {
            tx: writer.lanyard().store().begin().await?,
            writer,
            events: Vec::new(),
        })
    }

    /// Records an audit event, written with the change at [`Work::commit`].
    /// `summary` lists what changed with non-secret values; it must never
    /// hold a password or key.
    pub(crate) fn record(
        &mut self,
        action: AuditAction,
        target: AuditTarget,
        summary: &impl Serialize,
    ) {
        let summary = serde_json::to_string(summary).unwrap_or_else(|_| "{}".to_owned());
        let w = self.writer;
        self.events.push(
            AuditEvent::new(w.now(), &w.actor().label, action, &target, summary)
                .from_source(w.source().map(str::to_owned))
                .with_request_id(crate::request::current()),
        );
    }

    /// Writes the recorded events and commits everything at once.
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.append_audit_events(&self.events).await?;
        self.tx.commit().await?;
        // A key or an app may have changed: this node reads expiries afresh.
        self.writer.lanyard().0.expiry.forget();
        Ok(())
    }
}

impl Deref for Work<'_> {
    type Target = dyn UnitOfWork;

    fn deref(&self) -> &Self::Target {
        &*self.tx
    }
}
