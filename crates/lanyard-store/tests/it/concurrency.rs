//! Many writers at once: SQLite's single writer makes the others wait (busy
//! timeout) rather than fail; PostgreSQL takes them in parallel. Units of
//! work that read before they write wait their turn too.

use crate::common;
use crate::common::{all, at, new_user};
use lanyard_core::audit::{AuditAction, AuditEvent, AuditFilter, AuditTarget};
use lanyard_core::store::{AuditStore, GroupStore, Transactional, UserStore};
use lanyard_store::{store_test, SqlStore};

const TASKS: usize = 4;
const EACH: usize = 25;

/// TASKS tasks each create EACH users and add them to one group, while
/// listing; every write must land.
async fn hammer(store: &SqlStore) {
    let group = store
        .create_group(&common::new_group("all"), at(0))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..EACH {
                let u = new_user(&format!("t{t}u{i}@example.com"), &format!("t{t}u{i}"));
                let user = store.create_user(&u, None, at(0)).await.unwrap();
                store.add_member(group.id, user.id).await.unwrap();
                store.list_users(&all()).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let members = store.list_members(group.id, &all()).await.unwrap();
    assert_eq!(members.items.len(), TASKS * EACH);
}

/// TASKS tasks each make EACH units of work that read (the group), then
/// write (a user, a membership, an audit event): a use-case's shape. On a
/// SQLite file a deferred transaction that read first could not become a
/// writer after another one committed (SQLITE_BUSY at once, no waiting);
/// every unit must land.
async fn hammer_units(store: &SqlStore) {
    let group = store
        .create_group(&common::new_group("units"), at(0))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..EACH {
                let work = store.begin().await.unwrap();
                work.get_group(group.id).await.unwrap();
                let u = new_user(&format!("w{t}u{i}@example.com"), &format!("w{t}u{i}"));
                let user = work.create_user(&u, None, at(0)).await.unwrap();
                work.add_member(group.id, user.id).await.unwrap();
                let event = AuditEvent::new(
                    at(0),
                    "cli",
                    AuditAction::UserCreate,
                    &AuditTarget::User(user.id),
                    "{}".into(),
                );
                work.append_audit_events(&[event]).await.unwrap();
                work.commit().await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let members = store.list_members(group.id, &all()).await.unwrap();
    assert_eq!(members.items.len(), TASKS * EACH);
    let events = AuditFilter {
        limit: Some(500),
        ..AuditFilter::default()
    };
    let events = store.list_audit_events(&events).await.unwrap();
    assert_eq!(events.items.len(), TASKS * EACH);
}

async fn on_a_sqlite_file(name: &str, test: impl AsyncFnOnce(&SqlStore)) {
    let dir = std::env::temp_dir().join(format!("lanyard-store-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("c.db").display());
    let store = SqlStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(lanyard_store::testing::test_keyring());
    store.migrate().await.unwrap();
    test(&store).await;
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_on_a_sqlite_file_wait_their_turn() {
    on_a_sqlite_file("conc", hammer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_of_work_on_a_sqlite_file_wait_their_turn() {
    on_a_sqlite_file("units", hammer_units).await;
}

store_test!(units_of_work_in_parallel, |store| {
    hammer_units(&store).await;
});

store_test!(writers_in_parallel, |store| {
    hammer(&store).await;
});
