//! PostgreSQL over TLS, through sqlx's rustls on aws-lc-rs, with the
//! certificate checked as the database URL asks
//! (`?sslmode=verify-full&sslrootcert=ca.pem`).
//!
//! `scripts/with-postgres.sh` starts its server with TLS on, with a
//! throwaway certificate for `localhost` and `127.0.0.1` signed by a test CA
//! (`crates/lanyard-saml/examples/test_tls_certs.rs`), and names that CA in
//! `LANYARD_TEST_POSTGRES_CA` and an unrelated one in
//! `LANYARD_TEST_POSTGRES_OTHER_CA`. Without them these tests say so on
//! stderr and pass without checking anything.
//!
//! To reach the server under a name its certificate does not carry, a test
//! relays TCP through 127.0.0.2 (a loopback address the certificate does not
//! name): the bytes are the server's own, only the name the client checks
//! differs.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lanyard_store::testing::{count_rows, drop_database, POSTGRES_ENV};
use lanyard_store::SqlStore;
use sqlx::{AnyConnection, Connection, Executor};

/// The test CA that signed the server's certificate (a PEM file).
const CA_ENV: &str = "LANYARD_TEST_POSTGRES_CA";
/// A CA that did not sign it.
const OTHER_CA_ENV: &str = "LANYARD_TEST_POSTGRES_OTHER_CA";

/// What the pool's own connection says of itself: 1 when it is TLS.
const THIS_SESSION_ENCRYPTED: &str = "pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl";

struct TlsServer {
    /// The plain admin URL (`LANYARD_TEST_POSTGRES`).
    admin: String,
    port: u16,
    ca: String,
    other_ca: String,
}

impl TlsServer {
    /// The test server's TLS setup, or `None` (said on stderr) when the
    /// environment has none.
    fn from_env() -> Option<TlsServer> {
        let Ok(ca) = std::env::var(CA_ENV) else {
            static SAID: AtomicBool = AtomicBool::new(false);
            if !SAID.swap(true, Ordering::Relaxed) {
                // Straight to the stream: the test harness captures `eprintln!`.
                let _ = writeln!(
                    std::io::stderr(),
                    "PostgreSQL TLS tests skipped: set {CA_ENV} (scripts/with-postgres.sh does)"
                );
            }
            return None;
        };
        let admin = std::env::var(POSTGRES_ENV)
            .unwrap_or_else(|_| panic!("{CA_ENV} is set but {POSTGRES_ENV} is not"));
        let other_ca = std::env::var(OTHER_CA_ENV)
            .unwrap_or_else(|_| panic!("{CA_ENV} is set but {OTHER_CA_ENV} is not"));
        let port = url::Url::parse(&admin)
            .ok()
            .and_then(|u| u.port())
            .unwrap_or_else(|| panic!("{POSTGRES_ENV} ({admin}) names a port"));
        Some(TlsServer {
            admin,
            port,
            ca,
            other_ca,
        })
    }

    /// The URL of `database` on this server reached at `host:port`, with `query`.
    fn url(&self, host: &str, port: u16, database: &str, query: &str) -> String {
        let mut url = url::Url::parse(&self.admin).expect("LANYARD_TEST_POSTGRES is a URL");
        url.set_host(Some(host)).expect("a host name");
        url.set_port(Some(port)).expect("a port");
        url.set_path(&format!("/{database}"));
        url.set_query(Some(query));
        url.to_string()
    }

    fn verify_full_with(&self, ca: &str) -> String {
        let ca: String = url::form_urlencoded::byte_serialize(ca.as_bytes()).collect();
        format!("sslmode=verify-full&sslrootcert={ca}")
    }

    /// A new empty database, made over the plain admin connection.
    async fn create_database(&self) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "lanyard_tls_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::any::install_default_drivers();
        let mut admin = AnyConnection::connect(&self.admin)
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.admin));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        admin.close().await.ok();
        name
    }

    /// Connects to a fresh database as `host` with verify-full and the test
    /// CA, migrates it, and checks that the store's connection is encrypted.
    async fn verify_full_migrates_over_tls(&self, host: &str) {
        let name = self.create_database().await;
        let url = self.url(host, self.port, &name, &self.verify_full_with(&self.ca));
        let store = SqlStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrate {url}: {e}"));
        assert_eq!(count_rows(&store, "users").await, 0, "migrated over TLS");
        assert_eq!(
            count_rows(&store, THIS_SESSION_ENCRYPTED).await,
            1,
            "the store's connection is TLS"
        );
        store.close().await;
        drop_database(&name).await;
    }
}

/// The message of the error `SqlStore::connect` refuses `url` with.
async fn refused(url: &str) -> String {
    match SqlStore::connect(url).await {
        Ok(store) => {
            store.close().await;
            panic!("{url} connected, but should have been refused");
        }
        Err(e) => {
            let error = e.to_string();
            println!("{url} refused: {error}");
            error
        }
    }
}

#[tokio::test]
async fn verify_full_by_host_name_connects_and_migrates_over_tls() {
    let Some(server) = TlsServer::from_env() else {
        return;
    };
    server.verify_full_migrates_over_tls("localhost").await;
}

#[tokio::test]
async fn verify_full_by_ip_address_connects_and_migrates_over_tls() {
    let Some(server) = TlsServer::from_env() else {
        return;
    };
    // The certificate carries 127.0.0.1 as an IP address SAN.
    server.verify_full_migrates_over_tls("127.0.0.1").await;
}

#[tokio::test]
async fn verify_full_refuses_a_server_certificate_from_another_ca() {
    let Some(server) = TlsServer::from_env() else {
        return;
    };
    for host in ["localhost", "127.0.0.1"] {
        let url = server.url(
            host,
            server.port,
            "postgres",
            &server.verify_full_with(&server.other_ca),
        );
        let error = refused(&url).await;
        assert!(
            error.contains("invalid peer certificate: UnknownIssuer"),
            "{host}: refused for its issuer: {error}"
        );
    }
}

#[tokio::test]
async fn verify_full_refuses_a_host_name_the_certificate_does_not_carry() {
    let Some(server) = TlsServer::from_env() else {
        return;
    };
    let Some(relay) = relay_via_127_0_0_2(server.port) else {
        return;
    };
    // The relay itself carries TLS: without verification the server is
    // reached through it, encrypted.
    let url = server.url("127.0.0.2", relay.port(), "postgres", "sslmode=require");
    let store = SqlStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    assert_eq!(count_rows(&store, THIS_SESSION_ENCRYPTED).await, 1);
    store.close().await;

    // The same server, certificate and CA, but the name the client asked for
    // (127.0.0.2) is not in the certificate: refused for the name alone.
    let url = server.url(
        "127.0.0.2",
        relay.port(),
        "postgres",
        &server.verify_full_with(&server.ca),
    );
    let error = refused(&url).await;
    assert!(
        error.contains("invalid peer certificate: certificate not valid for name \"127.0.0.2\""),
        "refused for the name: {error}"
    );
    assert!(!error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test]
async fn sslmode_disable_stays_plain_on_the_tls_server() {
    let Some(server) = TlsServer::from_env() else {
        return;
    };
    let url = server.url("127.0.0.1", server.port, "postgres", "sslmode=disable");
    let store = SqlStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    assert_eq!(count_rows(&store, THIS_SESSION_ENCRYPTED).await, 0);
    store.close().await;
}

#[tokio::test]
async fn without_sslmode_a_tls_server_is_used_encrypted_but_unverified() {
    let Some(server) = TlsServer::from_env() else {
        return;
    };
    // sqlx's default is `prefer`, as libpq's: TLS when the server offers it,
    // with no certificate check, so a URL without sslmode is encrypted here
    // (and proves nothing about the server it reached).
    let store = SqlStore::connect(&server.admin)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", server.admin));
    assert_eq!(count_rows(&store, THIS_SESSION_ENCRYPTED).await, 1);
    store.close().await;
}

/// A TCP relay from 127.0.0.2 (a free port) to the test server on
/// 127.0.0.1:`port`, for a few connections; `None`, said on stderr, where
/// 127.0.0.2 cannot be bound.
fn relay_via_127_0_0_2(port: u16) -> Option<SocketAddr> {
    let listener = match TcpListener::bind(("127.0.0.2", 0)) {
        Ok(listener) => listener,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "PostgreSQL TLS host-name test skipped: cannot listen on 127.0.0.2: {e}"
            );
            return None;
        }
    };
    let addr = listener.local_addr().expect("a bound address");
    let target = ("127.0.0.1", port)
        .to_socket_addrs()
        .expect("an address")
        .next()
        .expect("an address");
    std::thread::spawn(move || {
        // The test makes two connections (one per pool); a few more at
        // most, then the relay stops accepting.
        for client in listener.incoming().take(8) {
            let Ok(client) = client else { return };
            let Ok(upstream) = TcpStream::connect(target) else {
                return;
            };
            pipe(&client, &upstream);
            pipe(&upstream, &client);
        }
    });
    Some(addr)
}

/// Copies `from` to `to` on a thread until `from` ends, then ends `to`'s
/// sending side.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}
