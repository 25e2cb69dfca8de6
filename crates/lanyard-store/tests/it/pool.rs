//! The PostgreSQL pool's health checks: sqlx's ping before every use is off
//! (a round trip per statement), so a connection that sat idle is pinged
//! instead, and one the server dropped meanwhile is replaced, not handed to
//! a request.

use std::time::Duration;

use lanyard_store::testing::{count_rows, drop_database, fresh_store, POSTGRES_ENV};
use sqlx::{AnyConnection, Connection};

#[tokio::test]
async fn a_postgres_connection_dropped_while_idle_is_replaced_before_use() {
    let Some((store, Some(name))) = fresh_store("postgres").await else {
        return;
    };
    assert_eq!(count_rows(&store, "users").await, 0);

    // The server ends every session of the database (as a restart or a
    // failover would), from another connection.
    let server = std::env::var(POSTGRES_ENV).unwrap();
    let mut admin = AnyConnection::connect(&server).await.unwrap();
    let ended: Vec<(bool,)> = sqlx::query_as(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        !ended.is_empty(),
        "the pool's connection was found and ended"
    );
    admin.close().await.ok();

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        count_rows(&store, "users").await,
        0,
        "the dead connection was noticed by the idle ping and replaced"
    );
    store.close().await;
    drop_database(&name).await;
}
