//! Many writers at once: SQLite's single writer makes the others wait (busy
//! timeout) rather than fail; PostgreSQL takes them in parallel.

mod common;

use common::{all, at, new_user};
use lanyard_core::store::{GroupStore, UserStore};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_on_a_sqlite_file_wait_their_turn() {
    let dir = std::env::temp_dir().join(format!("lanyard-store-conc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("c.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    hammer(&store).await;
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

store_test!(writers_in_parallel, |store| {
    hammer(&store).await;
});
