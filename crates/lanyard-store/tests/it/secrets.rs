//! Secrets at rest: signing keys and TOTP secrets are stored encrypted and
//! bound to their rows; a node with the wrong key is refused at start; a
//! rotation re-encrypts everything (two nodes on one PostgreSQL); a
//! database made before encryption is upgraded and keeps no cleartext in
//! its files (SQLite file and WAL, a `pg_dump`).

use std::path::PathBuf;
use std::sync::Arc;

use crate::common::apps::{create, key};
use crate::common::{at, new_user};
use lanyard_core::application::{NewAppKey, PrivateKeyPem};
use lanyard_core::session::Account;
use lanyard_core::store::{AppStore, SignInStore, UserStore};
use lanyard_store::secrets::{Keyring, Reencrypt, SecretsKey};
use lanyard_store::testing::{execute, query_strings};
use lanyard_store::{store_test, SqlStore};

fn ring(current: u8, old: &[u8]) -> Arc<Keyring> {
    let key = |n: u8| SecretsKey::from_bytes(&[n; 32]).unwrap();
    Arc::new(Keyring::new(
        key(current),
        old.iter().map(|n| key(*n)).collect(),
    ))
}

fn refusal(r: lanyard_core::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(lanyard_core::Error::Store(m)) => m,
        other => panic!("expected a store error, got {other:?}"),
    }
}

/// A private key no other value in a database could contain by chance.
fn distinctive_key(tag: &str) -> NewAppKey {
    NewAppKey {
        certificate_pem: format!("-----BEGIN CERTIFICATE-----\ncert-{tag}\n"),
        private_key: PrivateKeyPem::new(format!(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B{tag}QEFAASCBKcwggSjAgEAAoIB\n-----END PRIVATE KEY-----\n"
        )),
        not_after: at(86_400 * 365),
    }
}

store_test!(
    secrets_are_stored_encrypted_and_bound_to_their_rows,
    |store| {
        let app = create(&store, "aws", "AWS").await;
        let stored = query_strings(&store, "SELECT private_key_pem FROM app_keys").await;
        let id = lanyard_store::testing::test_keyring()
            .current_id()
            .to_owned();
        assert!(stored[0].starts_with(&format!("v1:{id}:")), "{}", stored[0]);
        assert!(!stored[0].contains("key0"), "no plaintext: {}", stored[0]);
        let (_, pem) = store.active_signing_key(app.id).await.unwrap();
        assert_eq!(pem.expose(), key(0).private_key.expose());

        let ann = store
            .create_user(&new_user("ann@example.com", "ann"), None, at(0))
            .await
            .unwrap();
        let bob = store
            .create_user(&new_user("bob@example.com", "bob"), None, at(0))
            .await
            .unwrap();
        for (user, secret) in [
            (ann.id, "ANNSECRETANNSECRET"),
            (bob.id, "BOBSECRETBOBSECRET"),
        ] {
            store
                .set_totp_pending(user.into(), Some(secret))
                .await
                .unwrap();
            assert!(store.confirm_totp(user.into(), secret, 1).await.unwrap());
        }
        store
            .set_totp_pending(ann.id.into(), Some("ANNPENDINGANNPENDING"))
            .await
            .unwrap();
        let raw = query_strings(
        &store,
        "SELECT totp_secret FROM users UNION ALL SELECT totp_pending FROM users WHERE totp_pending IS NOT NULL",
    )
    .await;
        assert_eq!(raw.len(), 3);
        for value in &raw {
            assert!(
                value.starts_with("v1:") && !value.contains("SECRET") && !value.contains("PENDING")
            );
        }
        let state = store.sign_in_state(ann.id.into()).await.unwrap();
        assert_eq!(state.totp_secret.as_deref(), Some("ANNSECRETANNSECRET"));
        assert_eq!(state.totp_pending.as_deref(), Some("ANNPENDINGANNPENDING"));
        // A confirmation compares with the decrypted pending secret.
        assert!(!store
            .confirm_totp(ann.id.into(), "NOTTHEPENDING", 2)
            .await
            .unwrap());

        // A ciphertext copied to another row (or column) no longer decrypts.
        execute(
        &store,
        &format!(
            "UPDATE users SET totp_secret = (SELECT totp_secret FROM users WHERE id = {}) WHERE id = {}",
            ann.id, bob.id
        ),
    )
    .await;
        let err = refusal(store.sign_in_state(bob.id.into()).await);
        assert!(err.contains("does not decrypt"), "{err}");
        assert!(
            !err.contains("ANNSECRET"),
            "the error never holds the secret: {err}"
        );
        execute(
            &store,
            &format!(
                "UPDATE users SET totp_pending = totp_secret WHERE id = {}",
                ann.id
            ),
        )
        .await;
        let err = refusal(store.sign_in_state(Account::User(ann.id)).await);
        assert!(err.contains("does not decrypt"), "{err}");
    }
);

store_test!(a_node_with_another_key_is_refused_at_start, |store| {
    // Registered by the first start, before any secret exists.
    store.check_keyring(at(0)).await.unwrap();
    let other = store.clone().with_keyring(ring(9, &[]));
    let err = refusal(other.verify_keyring().await);
    let id = lanyard_store::testing::test_keyring()
        .current_id()
        .to_owned();
    assert!(
        err.starts_with(&format!(
            "the secrets key does not match this database: its secrets need key {id}"
        )),
        "{err}"
    );
    // With secrets stored: the same, naming the key they need.
    create(&store, "aws", "AWS").await;
    let err = refusal(other.check_keyring(at(1)).await);
    assert!(
        err.contains("a database restored without its key cannot be read"),
        "{err}"
    );
    assert_eq!(
        query_strings(&store, "SELECT key_id FROM secrets_keys").await,
        [id],
        "a refused key is not registered"
    );
    // Without any key a secret can be neither stored nor read.
    let keyless = SqlStore::connect("sqlite::memory:").await.unwrap();
    keyless.migrate().await.unwrap();
    let err = refusal(
        keyless
            .create_app(&crate::common::apps::new_app("x", "X"), &key(0), at(0))
            .await,
    );
    assert!(err.starts_with("no secrets key"), "{err}");
});

store_test!(a_rotation_reencrypts_every_secret, |store| {
    let a = store.clone().with_keyring(ring(1, &[]));
    a.check_keyring(at(0)).await.unwrap();
    let app = a
        .create_app(&crate::common::apps::new_app("aws", "AWS"), &key(0), at(0))
        .await
        .unwrap();
    let ann = a
        .create_user(&new_user("ann@example.com", "ann"), None, at(0))
        .await
        .unwrap();
    a.set_totp_pending(ann.id.into(), Some("ANNSECRET"))
        .await
        .unwrap();
    assert!(a.confirm_totp(ann.id.into(), "ANNSECRET", 1).await.unwrap());

    // The new key is current, the old one still read.
    let b = store.clone().with_keyring(ring(2, &[1]));
    b.check_keyring(at(1)).await.unwrap();
    b.add_app_key(app.id, &key(1), false, at(1)).await.unwrap();
    let before = b.secrets_report().await.unwrap();
    assert_eq!(before.by_key.len(), 2, "both keys in use: {before:?}");
    assert_eq!(
        b.reencrypt(Reencrypt::Rotate).await.unwrap(),
        2,
        "the two under the old key"
    );
    let after = b.secrets_report().await.unwrap();
    let b_id = ring(2, &[]).current_id().to_owned();
    assert_eq!(
        after.by_key.into_iter().collect::<Vec<_>>(),
        [(Some(b_id), 3)]
    );
    // Only the new key is needed now; the old one alone is refused.
    let only_b = store.clone().with_keyring(ring(2, &[]));
    only_b.verify_keyring().await.unwrap();
    let (_, pem) = only_b.active_signing_key(app.id).await.unwrap();
    assert_eq!(pem.expose(), key(0).private_key.expose());
    let state = only_b.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(state.totp_secret.as_deref(), Some("ANNSECRET"));
    assert!(refusal(
        store
            .clone()
            .with_keyring(ring(1, &[]))
            .verify_keyring()
            .await
    )
    .contains("does not match"));
});

/// Two nodes on one PostgreSQL database through a rotation: each writes
/// under its own current key, each reads both, and after the rotation one
/// key is enough.
#[tokio::test]
async fn two_nodes_rotate_on_one_postgresql() {
    let Some((first, Some(name))) = lanyard_store::testing::fresh_store("postgres").await else {
        eprintln!("two_nodes_rotate_on_one_postgresql: PostgreSQL not available, skipped");
        return;
    };
    let url = lanyard_store::testing::postgres_url(&name);
    let node1 = first.with_keyring(ring(1, &[2]));
    node1.check_keyring(at(0)).await.unwrap();
    let node2 = SqlStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(ring(2, &[1]));
    node2.check_keyring(at(1)).await.unwrap();
    let app1 = node1
        .create_app(
            &crate::common::apps::new_app("one", "One"),
            &distinctive_key("one"),
            at(2),
        )
        .await
        .unwrap();
    let app2 = node2
        .create_app(
            &crate::common::apps::new_app("two", "Two"),
            &distinctive_key("two"),
            at(3),
        )
        .await
        .unwrap();
    for node in [&node1, &node2] {
        for (app, tag) in [(app1.id, "one"), (app2.id, "two")] {
            let (_, pem) = node.active_signing_key(app).await.unwrap();
            assert_eq!(pem.expose(), distinctive_key(tag).private_key.expose());
        }
    }
    node2.reencrypt(Reencrypt::Rotate).await.unwrap();
    let report = node1.secrets_report().await.unwrap();
    assert_eq!(report.by_key.len(), 1, "{report:?}");
    let only_2 = SqlStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(ring(2, &[]));
    only_2.verify_keyring().await.unwrap();
    only_2.active_signing_key(app1.id).await.unwrap();
    let only_1 = SqlStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(ring(1, &[]));
    assert!(refusal(only_1.verify_keyring().await).contains("need key"));
    for s in [node1, node2, only_1, only_2] {
        s.close().await;
    }
    lanyard_store::testing::drop_database(&name).await;
}

/// The lines of a secret worth searching for (a PEM's base64 lines; a TOTP
/// secret whole).
fn needles(secrets: &[String]) -> Vec<String> {
    secrets
        .iter()
        .flat_map(|s| s.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A database written by the code before encryption (made at commit
/// 220b3f6 with a real RSA signing key, a user and an admin with TOTP and a
/// pending secret; see tests/fixtures/README.md) is upgraded: its secrets
/// encrypted, still readable, and no cleartext left in the file or its WAL.
#[tokio::test]
async fn a_database_from_before_encryption_keeps_no_cleartext() {
    let dir = std::env::temp_dir().join(format!("lanyard-upgrade-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db: PathBuf = dir.join("old.db");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/before-encryption.db"
        ),
        &db,
    )
    .unwrap();
    let url = format!("sqlite://{}", db.display());
    let plain = SqlStore::connect(&url).await.unwrap();
    let secrets = [
        "SELECT private_key_pem FROM app_keys",
        "SELECT totp_secret FROM users WHERE totp_secret IS NOT NULL",
        "SELECT totp_pending FROM users WHERE totp_pending IS NOT NULL",
        "SELECT totp_secret FROM admins WHERE totp_secret IS NOT NULL",
    ];
    let mut before = Vec::new();
    for sql in secrets {
        before.extend(query_strings(&plain, sql).await);
    }
    plain.close().await;
    assert_eq!(
        before.len(),
        5,
        "two signing keys and three TOTP secrets: {before:?}"
    );
    let lines = needles(&before);
    let file = std::fs::read(&db).unwrap();
    assert!(
        lines.iter().all(|l| contains(&file, l)),
        "the fixture holds them in the clear"
    );

    let store = SqlStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(ring(7, &[]));
    store.migrate().await.unwrap();
    store.check_keyring(at(0)).await.unwrap();
    assert_eq!(store.reencrypt(Reencrypt::Cleartext).await.unwrap(), 5);
    assert_eq!(
        store.reencrypt(Reencrypt::Cleartext).await.unwrap(),
        0,
        "once"
    );
    let (_, pem) = store
        .active_signing_key(lanyard_core::AppId(1))
        .await
        .unwrap();
    assert!(
        before.contains(&pem.expose().to_owned()),
        "the same key, decrypted"
    );
    let ann = store.find_user_by_login("ann").await.unwrap().unwrap().0;
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(
        state.totp_secret.as_deref(),
        Some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    );
    store.close().await;

    let mut files = vec![std::fs::read(&db).unwrap()];
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    if wal.exists() {
        files.push(std::fs::read(&wal).unwrap());
    }
    for (f, bytes) in files.iter().enumerate() {
        for line in &lines {
            assert!(!contains(bytes, line), "file {f} still holds {line:?}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The same upgrade on PostgreSQL: rows written in the clear (as the code
/// before encryption wrote them) are encrypted, and a `pg_dump` of the
/// database holds none of them.
#[tokio::test]
async fn a_pg_dump_holds_no_secret() {
    let Some((store, Some(name))) = lanyard_store::testing::fresh_store("postgres").await else {
        eprintln!("a_pg_dump_holds_no_secret: PostgreSQL not available, skipped");
        return;
    };
    let store = store.with_keyring(ring(3, &[]));
    store.check_keyring(at(0)).await.unwrap();
    let app = store
        .create_app(
            &crate::common::apps::new_app("aws", "AWS"),
            &distinctive_key("pg"),
            at(0),
        )
        .await
        .unwrap();
    let ann = store
        .create_user(&new_user("ann@example.com", "ann"), None, at(0))
        .await
        .unwrap();
    let cleartext_key = distinctive_key("pgold").private_key.expose().to_owned();
    execute(
        &store,
        &format!(
            "UPDATE app_keys SET private_key_pem = '{cleartext_key}', certificate_pem = '{}' WHERE app_id = {}",
            distinctive_key("pgold").certificate_pem,
            app.id
        ),
    )
    .await;
    execute(
        &store,
        &format!(
            "UPDATE users SET totp_secret = 'PGCLEARTOTPSECRETXYZ' WHERE id = {}",
            ann.id
        ),
    )
    .await;
    assert_eq!(store.reencrypt(Reencrypt::Cleartext).await.unwrap(), 2);
    let (_, pem) = store.active_signing_key(app.id).await.unwrap();
    assert_eq!(pem.expose(), cleartext_key);

    let pg_bin = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    let out = std::process::Command::new(format!("{pg_bin}/pg_dump"))
        .arg("--data-only")
        .arg(lanyard_store::testing::postgres_url(&name))
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = out.stdout;
    assert!(contains(&dump, "v1:"), "the dump has the encrypted values");
    let mut all = needles(&[
        cleartext_key,
        distinctive_key("pg").private_key.expose().to_owned(),
    ]);
    all.push("PGCLEARTOTPSECRETXYZ".into());
    for needle in &all {
        assert!(!contains(&dump, needle), "pg_dump holds {needle:?}");
    }
    store.close().await;
    lanyard_store::testing::drop_database(&name).await;
}
