//! The batched audit writer on real stores (every backend): batching,
//! flush, the timer, shutdown, retries, drops.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lanyard_core::audit::{AuditAction, AuditEvent, AuditFilter, AuditTarget};
use lanyard_core::directory::Page;
use lanyard_core::store::AuditStore;
use lanyard_core::{Error, Result, UserId};
use lanyard_store::{store_test, SqlStore};
use time::macros::datetime;
use tokio::sync::Notify;

use super::{AuditConfig, AuditWriter};

/// Wraps a real store, recording the size of each write; can be told to
/// fail the next writes, or to hold writes until released.
struct Counting {
    inner: SqlStore,
    batches: Mutex<Vec<usize>>,
    fail_next: AtomicUsize,
    gate: Option<(Notify, Notify)>,
}

impl Counting {
    fn new(inner: SqlStore) -> Arc<Self> {
        Arc::new(Self {
            inner,
            batches: Mutex::default(),
            fail_next: AtomicUsize::new(0),
            gate: None,
        })
    }
    fn gated(inner: SqlStore) -> Arc<Self> {
        Arc::new(Self {
            inner,
            batches: Mutex::default(),
            fail_next: AtomicUsize::new(0),
            gate: Some((Notify::new(), Notify::new())),
        })
    }
    fn batches(&self) -> Vec<usize> {
        self.batches.lock().unwrap().clone()
    }
}

#[async_trait]
impl AuditStore for Counting {
    async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<()> {
        if let Some((entered, release)) = &self.gate {
            entered.notify_one();
            release.notified().await;
        }
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::Store("injected failure".into()));
        }
        self.batches.lock().unwrap().push(events.len());
        self.inner.append_audit_events(events).await
    }
    async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Page<AuditEvent>> {
        self.inner.list_audit_events(filter).await
    }
    async fn audit_events_after(
        &self,
        after: i64,
        since: Option<time::OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        self.inner.audit_events_after(after, since, limit).await
    }
    async fn prune_audit_events(&self, before: time::OffsetDateTime, limit: u32) -> Result<u64> {
        self.inner.prune_audit_events(before, limit).await
    }
}

fn event(i: usize) -> AuditEvent {
    AuditEvent::new(
        datetime!(2025-01-01 00:00:00 UTC),
        "test",
        AuditAction::UserUpdate,
        &AuditTarget::User(UserId(i as i64)),
        "{}".into(),
    )
}

async fn stored(store: &SqlStore) -> usize {
    let filter = AuditFilter {
        limit: Some(500),
        ..Default::default()
    };
    let mut n = 0;
    let mut f = filter;
    loop {
        let page = store.list_audit_events(&f).await.unwrap();
        n += page.items.len();
        match page.next {
            Some(next) => f.before = Some(next),
            None => return n,
        }
    }
}

/// A config that never writes on its own timer during a test.
fn slow(batch: usize, capacity: usize) -> AuditConfig {
    AuditConfig {
        interval: Duration::from_secs(3600),
        batch,
        capacity,
    }
}

store_test!(events_land_after_flush_in_one_batch, |store| {
    let counting = Counting::new(store.clone());
    let writer = AuditWriter::with_config(counting.clone(), slow(500, 10_000));
    let audit = writer.handle();
    for i in 0..7 {
        audit.record(event(i));
    }
    assert_eq!(stored(&store).await, 0, "nothing written before the flush");
    audit.flush().await;
    assert_eq!(stored(&store).await, 7);
    assert_eq!(counting.batches(), [7], "seven events, one write");
    assert_eq!(audit.written(), 7);
    writer.shutdown().await;
});

store_test!(full_batches_are_written_without_waiting, |store| {
    let counting = Counting::new(store.clone());
    let writer = AuditWriter::with_config(counting.clone(), slow(500, 10_000));
    let audit = writer.handle();
    for i in 0..1200 {
        audit.record(event(i));
    }
    audit.flush().await;
    assert_eq!(counting.batches(), [500, 500, 200]);
    assert_eq!(stored(&store).await, 1200);
    writer.shutdown().await;
});

store_test!(the_timer_writes_without_a_flush, |store| {
    let counting = Counting::new(store.clone());
    let config = AuditConfig {
        interval: Duration::from_millis(50),
        batch: 500,
        capacity: 100,
    };
    let writer = AuditWriter::with_config(counting.clone(), config);
    writer.handle().record(event(1));
    writer.handle().record(event(2));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stored(&store).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the timer never wrote"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counting.batches(), [2]);
    writer.shutdown().await;
});

store_test!(shutdown_drains_everything, |store| {
    let counting = Counting::new(store.clone());
    let writer = AuditWriter::with_config(counting.clone(), slow(500, 10_000));
    let audit = writer.handle();
    for i in 0..42 {
        audit.record(event(i));
    }
    writer.shutdown().await;
    assert_eq!(stored(&store).await, 42);
    // After shutdown, an event goes to the log (counted), not a panic or a
    // hang.
    let log = Captured::default();
    {
        let _guard = log.install();
        audit.record(event(99));
    }
    audit.flush().await;
    assert_eq!(audit.logged_instead(), 1);
    assert_eq!(stored(&store).await, 42);
    assert!(
        log.text().contains("why=\"writer stopped\""),
        "{}",
        log.text()
    );
});

store_test!(failed_writes_are_retried, |store| {
    let counting = Counting::new(store.clone());
    counting.fail_next.store(2, Ordering::SeqCst);
    let writer = AuditWriter::with_config(counting.clone(), slow(500, 10_000));
    let audit = writer.handle();
    for i in 0..3 {
        audit.record(event(i));
    }
    audit.flush().await;
    audit.flush().await;
    assert_eq!(stored(&store).await, 0, "two injected failures");
    audit.flush().await;
    assert_eq!(stored(&store).await, 3);
    assert_eq!(audit.logged_instead(), 0);
    writer.shutdown().await;
});

store_test!(a_full_queue_writes_events_to_the_log_instead, |store| {
    let counting = Counting::gated(store.clone());
    let writer = AuditWriter::with_config(counting.clone(), slow(1, 1));
    let audit = writer.handle();
    audit.record(event(1)); // taken by the writer, which blocks in the store
    let (entered, release) = counting.gate.as_ref().unwrap();
    entered.notified().await;
    audit.record(event(2)); // fills the one slot
    let log = Captured::default();
    {
        let _guard = log.install();
        // No room: written to the log at once, whole, and counted.
        audit.record(event(3).from_source(Some("192.0.2.9".into())));
    }
    assert_eq!(audit.logged_instead(), 1);
    let line = log.text();
    for field in [
        "audit event written to the log instead",
        "why=\"queue full\"",
        "at=2025-01-01T00:00:00Z",
        "actor=test",
        "action=user.update",
        "target=user:3",
        "source=\"192.0.2.9\"",
        "summary={}",
        "logged_instead_total=1",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert_eq!(line.lines().count(), 1, "{line}");
    release.notify_one();
    // The next write (event 2) passes the gate too.
    entered.notified().await;
    release.notify_one();
    audit.flush().await;
    assert_eq!(stored(&store).await, 2);
    writer.shutdown().await;
});

/// Log lines written while [`Captured::install`]'s guard lives (this
/// thread only), without colours.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
