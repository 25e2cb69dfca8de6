//! `lanyard migrate`, `admin create` and `apikey create` run as the built
//! binary against a temporary SQLite file; then a served instance accepts the
//! printed key, and flushes its audit log on SIGTERM.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lanyard_core::admin::{hash_api_key, Role};
use lanyard_core::audit::AuditFilter;
use lanyard_core::password::verify_password;
use lanyard_core::store::{AdminStore, ApiKeyStore, AuditStore};
use lanyard_store::SqlStore;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh database path under cargo's test tmpdir.
fn db_path(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn lanyard(args: &[&str], stdin: &str) -> Output {
    lanyard_env(args, stdin, &[])
}

/// [`lanyard`] with environment variables.
fn lanyard_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits without reading stdin; the
    // pipe is then closed under us, which is fine.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn open(path: &Path) -> SqlStore {
    SqlStore::connect(&url(path)).await.unwrap()
}

#[test]
fn migrate_creates_the_schema() {
    let db = db_path("migrate");
    let out = lanyard(&["migrate", "--database", &url(&db)], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(db.exists());
    assert!(
        text(&out.stderr).contains("up to date"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "");
    // Again: a no-op.
    let out = lanyard(&["migrate", "--database", &url(&db)], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin() {
    let db = db_path("admin-create");
    let out = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "Root@Example.com",
            "--database",
            &url(&db),
        ],
        "a long password\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(!text(&out.stderr).contains("a long password"));

    let store = open(&db).await;
    let (admin, hash) = store
        .find_admin_by_email("root@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.role, Role::Administrator);
    assert!(verify_password("a long password", &hash));
    let events = store
        .list_audit_events(&AuditFilter {
            action: Some("admin.create".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 1);
    assert_eq!(events.items[0].actor, "cli");
    assert!(!events.items[0].summary.contains("long password"));

    // A second admin with the same email: a conflict, exit 1.
    let out = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--role",
            "read-only",
            "--database",
            &url(&db),
        ],
        "another password\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already in use"),
        "{}",
        text(&out.stderr)
    );
    store.close().await;
}

#[test]
fn admin_create_refuses_bad_input_with_exit_2() {
    let db = db_path("admin-bad");
    let out = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "not-an-email",
            "--database",
            &url(&db),
        ],
        "a long password\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: email: must be an email address like name@example.com\n"
    );
    assert!(!db.exists(), "the database is not touched for bad input");

    for stdin in ["short\n", ""] {
        let out = lanyard(
            &[
                "admin",
                "create",
                "--email",
                "a@example.com",
                "--database",
                &url(&db),
            ],
            stdin,
        );
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            text(&out.stderr),
            "error: password: must be between 12 and 256 characters\n"
        );
    }

    let out = lanyard(
        &["apikey", "create", "--name", " ", "--database", &url(&db)],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: name: "),
        "{}",
        text(&out.stderr)
    );

    let out = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "a@example.com",
            "--database",
            "mysql://x",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: --database: "),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn admin_maintenance_keeps_an_administrator_and_is_audited() {
    let db = db_path("admin-maintenance");
    let db_url = url(&db);
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database", &db_url]);
        lanyard(&all, "")
    };
    let out = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--database",
            &db_url,
        ],
        "a long passphrase\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let last = "error: refused: this is the last active administrator: make another admin an \
                administrator first\n";
    for args in [
        &[
            "admin",
            "update",
            "--email",
            "root@example.com",
            "--role",
            "read-only",
        ][..],
        &[
            "admin",
            "update",
            "--email",
            "root@example.com",
            "--disable",
        ],
        &["admin", "delete", "--email", "root@example.com"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out.stderr), last, "{args:?}");
    }
    let out = run(&["admin", "reset-2fa", "--email", "Root@Example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("removed the second factor of admin root@example.com"));
    let out = run(&["admin", "unlock", "--email", "root@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(&["admin", "reset-2fa", "--email", "nobody@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: admin nobody@example.com not found\n"
    );
    let out = run(&[
        "apikey",
        "create",
        "--name",
        "ci",
        "--expires-in-days",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let store = open(&db).await;
    let root = store.list_admins().await.unwrap().remove(0);
    assert!(
        root.is_active_administrator(),
        "the refusals changed nothing"
    );
    for action in ["admin.totp.reset", "admin.unlock"] {
        let events = store
            .list_audit_events(&AuditFilter {
                action: Some(action.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(events.items.len(), 1, "{action}");
        assert_eq!(events.items[0].actor, "cli");
        assert_eq!(events.items[0].target, format!("admin:{}", root.id));
    }
    let key = store.list_api_keys().await.unwrap().remove(0);
    assert_eq!(key.created_by.as_deref(), Some("cli"));
    let days = (key.expires_at.unwrap() - key.created_at).whole_days();
    assert_eq!(days, 30);
    store.close().await;
}

/// A served instance on a free port.
struct Server {
    child: Child,
    authority: String,
}

impl Server {
    fn start(db: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lanyard"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &url(db)])
            .env_clear()
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let authority = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("the server never said where it listens");
            if let Some((_, rest)) = line.split_once("listening on http://") {
                break rest.trim().to_owned();
            }
        };
        thread::spawn(move || while rx.recv().is_ok() {});
        Server { child, authority }
    }

    /// (status, body) of one request.
    fn request(&self, method: &str, path: &str, key: &str, body: Option<&str>) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.authority).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.authority,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status after SIGTERM: {status}");
                return;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn apikey_create_prints_a_key_that_authenticates() {
    let db = db_path("apikey");
    let out = lanyard(
        &[
            "apikey",
            "create",
            "--name",
            "ci",
            "--role",
            "administrator",
            "--database",
            &url(&db),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let key = stdout.strip_suffix('\n').expect("one line");
    assert!(
        !key.contains('\n') && key.starts_with("lyk_") && key.len() == 68,
        "{stdout:?}"
    );
    assert!(!text(&out.stderr).contains(key));

    let out = lanyard(
        &[
            "apikey",
            "create",
            "--name",
            "viewer",
            "--database",
            &url(&db),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let viewer = text(&out.stdout).trim().to_owned();

    {
        let store = open(&db).await;
        let found = store
            .find_active_api_key(&hash_api_key(key))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.name.as_str(), found.role),
            ("ci", Role::Administrator)
        );
        let found = store
            .find_active_api_key(&hash_api_key(&viewer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.role, Role::ReadOnly, "keys default to read-only");
        // The API's event, by the `cli` actor: name, role and prefix, never
        // the key.
        let events = store
            .list_audit_events(&AuditFilter {
                action: Some("apikey.create".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(events.items.len(), 2, "{events:?}");
        let ci = &events.items[1];
        assert_eq!(ci.actor, "cli");
        assert!(
            ci.summary.starts_with(r#"{"name":"ci","prefix":"lyk_"#)
                && ci.summary.ends_with(r#"","role":"administrator"}"#),
            "{}",
            ci.summary
        );
        assert!(!ci.summary.contains(&key[12..]));
        store.close().await;
    }

    let server = Server::start(&db);
    assert_eq!(server.request("GET", "/api/v1/users", key, None).0, 200);
    assert_eq!(
        server.request("GET", "/api/v1/users", "lyk_wrong", None).0,
        401
    );
    let (status, body) = server.request("POST", "/api/v1/groups", &viewer, Some(r#"{"name":"x"}"#));
    assert_eq!(status, 403, "{body}");
    let (status, body) = server.request("POST", "/api/v1/groups", key, Some(r#"{"name":"Ops"}"#));
    assert_eq!(status, 201, "{body}");
    server.stop();

    // The change's event, written with it, with the client's address.
    let store = open(&db).await;
    let events = store
        .list_audit_events(&AuditFilter {
            action: Some("group.create".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 1, "{events:?}");
    assert_eq!(events.items[0].source.as_deref(), Some("127.0.0.1"));
    assert!(events.items[0].actor.starts_with("apikey:ci#"));
    store.close().await;
}

/// The key file made next to a SQLite database, a node with another key
/// refused with a clear message, and a rotation from the command line.
#[tokio::test]
async fn the_secrets_key_lives_beside_the_database_and_rotates() {
    let db = db_path("secrets");
    let key_file = PathBuf::from(format!("{}.key", db.display()));
    let _ = std::fs::remove_file(&key_file);
    let db_url = url(&db);
    // The first start makes the key (owner-only).
    let out = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--database",
            &db_url,
        ],
        "a long passphrase\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let meta = std::fs::metadata(&key_file).expect("a key file next to the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert!(
        text(&out.stderr).contains("created the secrets key file"),
        "{}",
        text(&out.stderr)
    );
    // A secret stored with that key (the admin's TOTP).
    let ring = std::sync::Arc::new(lanyard_store::secrets::Keyring::new(
        lanyard_store::secrets::SecretsKey::from_text(&std::fs::read_to_string(&key_file).unwrap())
            .unwrap(),
        vec![],
    ));
    let store = open(&db).await.with_keyring(ring.clone());
    let (root, _) = store
        .find_admin_by_email("root@example.com")
        .await
        .unwrap()
        .unwrap();
    let account = lanyard_core::session::Account::Admin(root.id);
    lanyard_core::store::SignInStore::set_totp_pending(&store, account, Some("ROOTTOTPSECRET"))
        .await
        .unwrap();
    assert!(
        lanyard_core::store::SignInStore::confirm_totp(&store, account, "ROOTTOTPSECRET", 1)
            .await
            .unwrap()
    );
    store.close().await;

    // Another key (e.g. a node configured wrong): refused before anything.
    let other = lanyard_store::secrets::SecretsKey::generate_text().unwrap();
    let out = lanyard_env(
        &["apikey", "create", "--name", "k2", "--database", &db_url],
        "",
        &[("LANYARD_SECRETS_KEY", &other)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "the secrets key does not match this database: its secrets need key {}",
            ring.current_id()
        )),
        "{}",
        text(&out.stderr)
    );

    // check-config says where the key is and that it matches.
    let out = lanyard(&["check-config", "--database", &db_url], "");
    let shown = text(&out.stdout);
    assert!(
        shown.contains(&format!("# secrets key: {}", key_file.display())),
        "{shown}"
    );
    assert!(
        shown.contains("# the database: matches the secrets key"),
        "{shown}"
    );

    // Rotation: a new key current, the old one still read; rotate; then
    // the new key alone is enough.
    let new_key = PathBuf::from(format!("{}.new-key", db.display()));
    let _ = std::fs::remove_file(&new_key);
    let out = lanyard(
        &[
            "secrets",
            "new-key",
            "--out",
            &new_key.display().to_string(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let config = db.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "database = {:?}\nsecrets_key_file = {:?}\nsecrets_old_key_files = {:?}\n",
            db_url,
            new_key.display().to_string(),
            key_file.display().to_string()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let out = lanyard(&["secrets", "rotate", "--config", &config_arg], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("re-encrypted 1 secrets"), "{said}");
    assert!(
        said.contains("every secret uses the current key: the old keys can be removed"),
        "{said}"
    );
    std::fs::write(
        &config,
        format!(
            "database = {db_url:?}\nsecrets_key_file = {:?}\n",
            new_key.display().to_string()
        ),
    )
    .unwrap();
    let out = lanyard(
        &["apikey", "create", "--name", "k3", "--config", &config_arg],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = lanyard(
        &["apikey", "create", "--name", "k4", "--database", &db_url],
        "",
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "the old key alone no longer opens it"
    );
}

/// A SQLite backup round trip from the command line: the backup holds the
/// data and a header; a restore needs the database's own secrets key, goes
/// only into an empty database, refuses a newer schema and anything that
/// is not a backup, and leaves nothing behind when it fails.
#[test]
fn a_sqlite_backup_restores_into_an_empty_database_with_its_key() {
    let source = db_path("backup-source");
    let _ = std::fs::remove_file(format!("{}.key", source.display()));
    let out = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--database",
            &url(&source),
        ],
        "a long passphrase\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("backup-source.lanyard-backup");
    let out = lanyard(
        &[
            "backup",
            "--to",
            file.to_str().unwrap(),
            "--database",
            &url(&source),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let bytes = std::fs::read(&file).unwrap();
    let header = String::from_utf8_lossy(&bytes[..bytes.iter().position(|b| *b == b'\n').unwrap()])
        .into_owned();
    assert!(
        header.starts_with("LANYARD-BACKUP 1 {\"lanyard\":\""),
        "{header}"
    );
    assert!(header.contains("\"backend\":\"sqlite\""), "{header}");
    assert!(header.contains("\"schema\":"), "{header}");

    // Without the source's secrets key: refused, nothing left behind.
    let target = db_path("backup-target");
    let key = PathBuf::from(format!("{}.key", target.display()));
    let _ = std::fs::remove_file(&key);
    let restore = |target: &Path, file: &Path| {
        lanyard(
            &[
                "restore",
                "--from",
                file.to_str().unwrap(),
                "--database",
                &url(target),
            ],
            "",
        )
    };
    let out = restore(&target, &file);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "no secrets key for this database: put the backed-up database's key at {}",
            key.display()
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(!target.exists() && !key.exists());
    // Another key: its secrets cannot be read, so nothing is restored.
    let other = lanyard(&["secrets", "new-key", "--out", key.to_str().unwrap()], "");
    assert_eq!(other.status.code(), Some(0), "{}", text(&other.stderr));
    let out = restore(&target, &file);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the secrets key does not match this database"),
        "{}",
        text(&out.stderr)
    );
    assert!(!target.exists(), "no half-restored database");
    // With the source's key: restored, with its data.
    std::fs::copy(format!("{}.key", source.display()), &key).unwrap();
    let out = restore(&target, &file);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let again = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--database",
            &url(&target),
        ],
        "a long passphrase\n",
    );
    assert!(
        text(&again.stderr).contains("already in use"),
        "the restored database has the admin: {}",
        text(&again.stderr)
    );
    // Not into a database that holds something.
    let out = restore(&target, &file);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not empty"),
        "{}",
        text(&out.stderr)
    );

    // A newer Lanyard's backup, and a file that is no backup.
    let newer = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("backup-newer.lanyard-backup");
    let schema_at = header.find("\"schema\":").unwrap() + 9;
    let schema_len = header[schema_at..].find(',').unwrap();
    let mut tampered = bytes.clone();
    let replaced = format!(
        "{}{}{}",
        &header[..schema_at],
        "9999",
        &header[schema_at + schema_len..]
    );
    tampered.splice(..header.len(), replaced.bytes());
    std::fs::write(&newer, &tampered).unwrap();
    let fresh = db_path("backup-fresh");
    std::fs::copy(
        format!("{}.key", source.display()),
        format!("{}.key", fresh.display()),
    )
    .unwrap();
    let out = restore(&fresh, &newer);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the backup was made by a newer Lanyard"),
        "{}",
        text(&out.stderr)
    );
    let out = restore(&fresh, &source);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not a Lanyard backup"),
        "{}",
        text(&out.stderr)
    );
    assert!(!fresh.exists());
}

/// The PostgreSQL round trip: `pg_dump` into the backup, `pg_restore
/// --single-transaction` into an empty database, a non-empty one refused.
#[test]
fn a_postgres_backup_restores_into_an_empty_database() {
    use lanyard_store::testing::{
        drop_database, empty_postgres_database, fresh_store, postgres_url, TEST_KEY_TEXT,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some((store, Some(source))) = rt.block_on(fresh_store("postgres")) else {
        return;
    };
    rt.block_on(store.close());
    let target = rt.block_on(empty_postgres_database()).unwrap();
    let env = [
        ("LANYARD_SECRETS_KEY", TEST_KEY_TEXT),
        ("PATH", "/usr/bin:/bin"),
    ];
    let (from, to) = (postgres_url(&source), postgres_url(&target));
    let out = lanyard_env(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--database",
            &from,
        ],
        "a long passphrase\n",
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("backup-pg.lanyard-backup");
    let out = lanyard_env(
        &[
            "backup",
            "--to",
            file.to_str().unwrap(),
            "--database",
            &from,
        ],
        "",
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"LANYARD-BACKUP 1 {"));
    let body = &bytes[bytes.iter().position(|b| *b == b'\n').unwrap() + 1..];
    assert!(body.starts_with(b"PGDMP"), "pg_dump's custom format");

    let restore = |db: &str| {
        lanyard_env(
            &[
                "restore",
                "--from",
                file.to_str().unwrap(),
                "--database",
                db,
            ],
            "",
            &env,
        )
    };
    let out = restore(&to);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let again = lanyard_env(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--database",
            &to,
        ],
        "a long passphrase\n",
        &env,
    );
    assert!(
        text(&again.stderr).contains("already in use"),
        "{}",
        text(&again.stderr)
    );
    let out = restore(&to);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the database is not empty (it has tables)"),
        "{}",
        text(&out.stderr)
    );
    rt.block_on(drop_database(&source));
    rt.block_on(drop_database(&target));
}

/// `lanyard audit export`: JSON lines with the API's fields, `--since`,
/// and `--follow` writing new events as they are recorded.
#[test]
fn audit_export_writes_json_lines_and_follows_new_events() {
    use std::io::{BufRead, BufReader};
    let db = db_path("audit-export");
    let _ = std::fs::remove_file(format!("{}.key", db.display()));
    let out = lanyard(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--database",
            &url(&db),
        ],
        "a long passphrase\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = lanyard(&["audit", "export", "--database", &url(&db)], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let event = lines[0].as_object().unwrap();
    let mut fields: Vec<&str> = event.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "action",
            "actor",
            "at",
            "id",
            "request_id",
            "source",
            "summary",
            "target"
        ]
    );
    assert_eq!(event["action"], "admin.create");
    assert_eq!(event["actor"], "cli");

    let later = lanyard(
        &[
            "audit",
            "export",
            "--since",
            "2999-01-01T00:00:00Z",
            "--database",
            &url(&db),
        ],
        "",
    );
    assert_eq!(later.status.code(), Some(0));
    assert!(later.stdout.is_empty());
    let bad = lanyard(
        &[
            "audit",
            "export",
            "--since",
            "yesterday",
            "--database",
            &url(&db),
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("--since \"yesterday\" is not an RFC 3339 time"));

    // Following: the next event appears without restarting the export.
    let mut follow = std::process::Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args(["audit", "export", "--follow", "--database", &url(&db)])
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("\"admin.create\""));
    let out = lanyard(
        &[
            "apikey",
            "create",
            "--name",
            "siem",
            "--database",
            &url(&db),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let next = lines.next().unwrap().unwrap();
    assert!(next.contains("\"apikey.create\""), "{next}");
    std::process::Command::new("kill")
        .args(["-TERM", &follow.id().to_string()])
        .status()
        .unwrap();
    assert!(follow.wait().unwrap().success());
}

/// `lanyard prune` deletes what retention no longer keeps, now, and says
/// how much: audit events past `audit_retention_days`, not the recent ones.
#[test]
fn prune_deletes_audit_events_past_their_retention_now() {
    use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
    let db = db_path("prune");
    let _ = std::fs::remove_file(format!("{}.key", db.display()));
    let out = lanyard(&["migrate", "--database", &url(&db)], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let event = |days: i64, group: i64| {
        AuditEvent::new(
            now - time::Duration::days(days),
            "cli",
            AuditAction::GroupCreate,
            &AuditTarget::Group(lanyard_core::GroupId(group)),
            "{}".into(),
        )
    };
    // Two and a half batches past 30 days, and three recent events.
    let mut events: Vec<AuditEvent> = (0..2_500).map(|i| event(31, i)).collect();
    events.extend((0..3).map(|i| event(29, 10_000 + i)));
    let store = rt.block_on(open(&db));
    rt.block_on(store.append_audit_events(&events)).unwrap();
    rt.block_on(store.close());

    let out = lanyard_env(
        &["prune", "--database", &url(&db)],
        "",
        &[("LANYARD_AUDIT_RETENTION_DAYS", "30")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with(
            "deleted 2500 audit events, 0 sessions (ended now), 0 ended sessions from the \
                 history and 0 expired rows in "
        ),
        "{}",
        text(&out.stderr)
    );
    let store = rt.block_on(open(&db));
    let left = rt
        .block_on(store.list_audit_events(&AuditFilter::default()))
        .unwrap();
    let mut targets: Vec<String> = left.items.iter().map(|e| e.target.clone()).collect();
    targets.sort();
    assert_eq!(targets, ["group:10000", "group:10001", "group:10002"]);
    rt.block_on(store.close());
}
