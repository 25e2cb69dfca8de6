//! The audit log's batched writer, and its paging rules ([`AuditParams`]).
//!
//! Changes write their events in their own unit of work (see `work`);
//! sign-in and SSO events, which come by the thousand and change nothing
//! an admin made, go through the batched writer instead, so a sign-in does
//! not wait for an audit write. The log lists events in the order they were
//! written (by id), so a batched event may follow a change committed up to
//! one [`AuditConfig::interval`] after it; each event's `at` is its own
//! time.
//!
//! Flows call [`Audit::record`], which hands the event to a bounded channel
//! with `try_send` and returns at once. One background task (the
//! [`AuditWriter`]) collects events and writes them with
//! `AuditStore::append_audit_events`, one transaction per batch: when
//! [`AuditConfig::batch`] events are waiting, or every
//! [`AuditConfig::interval`] otherwise. [`AuditWriter::shutdown`] drains the
//! channel and writes what is left, so a clean stop loses nothing.
//!
//! Why bounded, and what happens when full: an unbounded channel would turn a
//! stalled database into unbounded memory growth inside the server. With
//! 10,000 slots (a few MiB of events) the queue absorbs any plausible burst;
//! past that (or once the writer has stopped), an event is not lost: it is
//! written to the server's log instead, whole, as one structured line at
//! `error` (target `lanyard::audit`, message "audit event written to the
//! log instead", every field of the event), and counted
//! ([`Audit::logged_instead`]; the audit page and API show the count). A
//! failed write keeps its events for the next attempt, up to the same cap,
//! so a short database outage loses nothing either; past the cap, and at a
//! stop that cannot write, the events go to the log the same way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lanyard_core::audit::{AuditEvent, AuditFilter};
use lanyard_core::directory::{DEFAULT_PAGE, MAX_PAGE};
use lanyard_core::store::AuditStore;
use lanyard_core::Error;
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use utoipa::IntoParams;

/// Tuning of the writer; [`Default`] is what `serve` uses.
#[derive(Debug, Clone, Copy)]
pub struct AuditConfig {
    /// Longest time an event waits before it is written.
    pub interval: Duration,
    /// Events per write; a full batch is written at once.
    pub batch: usize,
    /// Events that may wait (in the channel, and again in the retry buffer).
    pub capacity: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(200),
            batch: 500,
            capacity: 10_000,
        }
    }
}

enum Command {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

#[derive(Debug, Default)]
struct Counters {
    logged: AtomicU64,
    written: AtomicU64,
}

/// Writes `event` to the server's log, whole, as one structured line, and
/// counts it: the audit log could not take it (`why`).
fn log_instead(counters: &Counters, event: &AuditEvent, why: &str) {
    let total = counters.logged.fetch_add(1, Ordering::Relaxed) + 1;
    let at = event
        .at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    tracing::error!(
        target: "lanyard::audit",
        why,
        at = %at,
        actor = %event.actor,
        action = %event.action,
        target = %event.target,
        source = event.source.as_deref().unwrap_or(""),
        request_id = event.request_id.as_deref().unwrap_or(""),
        summary = %event.summary,
        logged_instead_total = total,
        "audit event written to the log instead"
    );
}

/// The cheap, cloneable handle handlers record events through.
#[derive(Clone)]
pub struct Audit {
    tx: mpsc::Sender<Command>,
    counters: Arc<Counters>,
}

/// The background task; whoever starts it shuts it down.
pub struct AuditWriter {
    handle: Audit,
    task: JoinHandle<()>,
}

impl AuditWriter {
    /// Starts the writer on the current tokio runtime.
    pub fn start<S: AuditStore + ?Sized + 'static>(store: Arc<S>) -> Self {
        Self::with_config(store, AuditConfig::default())
    }

    pub fn with_config<S: AuditStore + ?Sized + 'static>(
        store: Arc<S>,
        config: AuditConfig,
    ) -> Self {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run(store, rx, config, counters.clone()));
        Self {
            handle: Audit { tx, counters },
            task,
        }
    }

    pub fn handle(&self) -> Audit {
        self.handle.clone()
    }

    /// Stops accepting events, writes everything already recorded, and waits
    /// for the task to end.
    pub async fn shutdown(self) {
        let (ack, done) = oneshot::channel();
        if self.handle.tx.send(Command::Shutdown(ack)).await.is_ok() {
            let _ = done.await;
        }
        if let Err(err) = self.task.await {
            tracing::error!("audit writer task failed: {err}");
        }
    }
}

impl Audit {
    /// Queues an event; never waits. When the queue is full or the writer
    /// has stopped, the event is written to the log instead (see the module
    /// docs) and counted.
    pub fn record(&self, event: AuditEvent) {
        let event = event.with_request_id(crate::request::current());
        if let Err(err) = self.tx.try_send(Command::Event(Box::new(event))) {
            let (why, event) = match err {
                mpsc::error::TrySendError::Full(Command::Event(e)) => ("queue full", e),
                mpsc::error::TrySendError::Closed(Command::Event(e)) => ("writer stopped", e),
                _ => return,
            };
            log_instead(&self.counters, &event, why);
        }
    }

    /// Writes everything recorded so far (one attempt) before returning.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Command::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Events this node wrote to its log instead of the audit log since it
    /// started (queue full, writer stopped, write retries exhausted).
    pub fn logged_instead(&self) -> u64 {
        self.counters.logged.load(Ordering::Relaxed)
    }

    /// Events waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Events written since start.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }
}

async fn run<S: AuditStore + ?Sized>(
    store: Arc<S>,
    mut rx: mpsc::Receiver<Command>,
    config: AuditConfig,
    counters: Arc<Counters>,
) {
    let mut pending = Pending {
        events: Vec::with_capacity(config.batch),
        config,
        counters,
    };
    // `interval` would tick at once; the first write is due one interval in.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + config.interval,
        config.interval,
    );
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Event(event)) => {
                    pending.events.push(*event);
                    if pending.events.len() >= config.batch {
                        pending.write(&*store).await;
                    }
                }
                Some(Command::Flush(ack)) => {
                    pending.write(&*store).await;
                    let _ = ack.send(());
                }
                Some(Command::Shutdown(ack)) => {
                    // Late events (sent before the close) are still written.
                    rx.close();
                    let mut acks = vec![ack];
                    while let Ok(command) = rx.try_recv() {
                        match command {
                            Command::Event(event) => pending.events.push(*event),
                            Command::Flush(ack) | Command::Shutdown(ack) => acks.push(ack),
                        }
                    }
                    pending.write(&*store).await;
                    pending.give_up();
                    for ack in acks {
                        let _ = ack.send(());
                    }
                    return;
                }
                None => {
                    pending.write(&*store).await;
                    pending.give_up();
                    return;
                }
            },
            _ = tick.tick() => {
                if !pending.events.is_empty() {
                    pending.write(&*store).await;
                }
            }
        }
    }
}

struct Pending {
    events: Vec<AuditEvent>,
    config: AuditConfig,
    counters: Arc<Counters>,
}

impl Pending {
    /// Writes in batches; on failure keeps the unwritten events (up to the
    /// capacity) for the next attempt.
    async fn write<S: AuditStore + ?Sized>(&mut self, store: &S) {
        while !self.events.is_empty() {
            let n = self.events.len().min(self.config.batch.max(1));
            match store.append_audit_events(&self.events[..n]).await {
                Ok(()) => {
                    self.events.drain(..n);
                    self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(err) => {
                    tracing::error!(
                        pending = self.events.len(),
                        "cannot write audit events, will retry: {err}"
                    );
                    let excess = self.events.len().saturating_sub(self.config.capacity);
                    if excess > 0 {
                        for event in self.events.drain(..excess) {
                            log_instead(&self.counters, &event, "write failed, buffer full");
                        }
                    }
                    return;
                }
            }
        }
    }

    /// At shutdown, whatever could not be written goes to the log.
    fn give_up(&mut self) {
        for event in self.events.drain(..) {
            log_instead(&self.counters, &event, "write failed at shutdown");
        }
    }
}

/// A query of the audit log (the REST API's parameters, the admin portal's
/// filters): `actor`, `target` and `action` match exactly; `since`/`until`
/// are instants (inclusive/exclusive); pages go backwards by id.
#[derive(Debug, Default, Deserialize, IntoParams)]
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
    pub fn into_filter(self) -> Result<AuditFilter, Error> {
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

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
