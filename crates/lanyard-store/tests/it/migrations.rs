//! Migrations and connections: both databases get the same migrations,
//! migrating twice is harmless, SQLite files are created and set up.

use std::collections::BTreeSet;
use std::path::Path;

use lanyard_core::directory::ListQuery;
use lanyard_core::store::UserStore;
use lanyard_store::{store_test, SqlStore};

store_test!(migrating_again_changes_nothing, |store| {
    let user = common_user();
    let created = store.create_user(&user, None, now()).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.get_user(created.id).await.unwrap(), created);
    assert!(["sqlite", "postgres"].contains(&store.backend()));
});

fn common_user() -> lanyard_core::directory::NewUser {
    lanyard_core::directory::NewUser {
        email: "ann@example.com".into(),
        username: "ann".into(),
        ..Default::default()
    }
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_704_067_200).unwrap()
}

fn migration_names(dir: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_databases_have_the_same_migrations() {
    let sqlite = migration_names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, migration_names("postgresql"));
}

#[tokio::test]
async fn sqlite_files_are_created_in_wal_mode_and_survive_reconnects() {
    let dir = std::env::temp_dir().join(format!("lanyard-store-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("new.db");
    let _ = std::fs::remove_file(&file);
    let url = format!("sqlite://{}", file.display());

    let store = SqlStore::connect(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let ann = store
        .create_user(&common_user(), None, now())
        .await
        .unwrap();
    assert!(
        dir.join("new.db-wal").exists(),
        "journal_mode = WAL keeps a -wal file beside the database"
    );
    assert!(store.database_size().await.unwrap() > 0);
    store.close().await;
    assert!(file.exists());

    let again = SqlStore::connect(&url).await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(again.get_user(ann.id).await.unwrap(), ann);
    let all = ListQuery::new(None, None, None).unwrap();
    assert_eq!(again.list_users(&all).await.unwrap().items.len(), 1);
    again.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn bad_urls_are_refused_without_panicking() {
    assert!(SqlStore::connect("mysql://localhost/x").await.is_err());
    assert!(SqlStore::connect("sqlite:///nonexistent-dir/x/y.db")
        .await
        .is_err());
}

// Migration 0009's UPDATE, run again on apps saved without the setting.
store_test!(aws_iam_apps_stop_accepting_requests_on_upgrade, |store| {
    use crate::common::apps::new_app;
    use lanyard_core::store::AppStore;
    use lanyard_store::testing::execute;
    let mut made = Vec::new();
    for (slug, template) in [("aws", "aws-iam"), ("custom", "custom-saml")] {
        let mut new = new_app(slug, slug);
        new.template = template.into();
        new.config.sso.accept_authn_requests = template != "aws-iam";
        let app = store
            .create_app(&new, &crate::common::apps::key(0), now())
            .await
            .unwrap();
        made.push(app.id);
    }
    // As the rows were before the setting existed.
    let strip = match store.backend() {
        "sqlite" => "UPDATE apps SET sso = json_remove(sso, '$.accept_authn_requests')",
        _ => "UPDATE apps SET sso = (sso::jsonb - 'accept_authn_requests')::text",
    };
    execute(&store, strip).await;
    let dir = if store.backend() == "sqlite" {
        "sqlite"
    } else {
        "postgresql"
    };
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir)
        .join("0009_sso_requests.sql");
    let sql = std::fs::read_to_string(file).unwrap();
    let code: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    let update = code
        .split(';')
        .find(|s| s.trim_start().starts_with("UPDATE apps"))
        .unwrap()
        .to_owned();
    execute(&store, &update).await;
    let aws = store.get_app(made[0]).await.unwrap();
    let custom = store.get_app(made[1]).await.unwrap();
    assert!(!aws.config.sso.accept_authn_requests, "AWS IAM: off");
    assert!(
        custom.config.sso.accept_authn_requests,
        "others: on, as before"
    );
});
