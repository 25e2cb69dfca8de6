//! The PostgreSQL pool's health checks: sqlx's ping before every use is off
//! (a round trip per statement), so a connection that sat idle is pinged
//! instead, and one the server dropped meanwhile is replaced, not handed to
//! a request. The test pings connections idle for any time at all (the
//! threshold is one second in production), so it needs no waiting.

use std::time::{Duration, Instant};

use lanyard_store::testing::{count_rows, drop_database, fresh_store, POSTGRES_ENV};
use lanyard_store::SqlStore;
use sqlx::{AnyConnection, Connection};

#[tokio::test]
async fn a_postgres_connection_dropped_while_idle_is_replaced_before_use() {
    let Some((setup, Some(name))) = fresh_store("postgres").await else {
        return;
    };
    setup.close().await;
    let server = std::env::var(POSTGRES_ENV).unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    let store = SqlStore::connect_pinging(&format!("{base}/{name}"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(count_rows(&store, "users").await, 0);

    // The server ends every session of the database (as a restart or a
    // failover would), from another connection, and they are gone.
    let mut admin = AnyConnection::connect(&server).await.unwrap();
    let others =
        format!("FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
    let ended: Vec<(bool,)> = sqlx::query_as(&format!("SELECT pg_terminate_backend(pid) {others}"))
        .fetch_all(&mut admin)
        .await
        .unwrap();
    assert!(
        !ended.is_empty(),
        "the pool's connection was found and ended"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (left,): (i64,) = sqlx::query_as(&format!("SELECT count(*) {others}"))
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the backend never ended");
        tokio::task::yield_now().await;
    }
    admin.close().await.ok();

    assert_eq!(
        count_rows(&store, "users").await,
        0,
        "the dead connection was noticed by the ping and replaced"
    );
    store.close().await;
    drop_database(&name).await;
}
