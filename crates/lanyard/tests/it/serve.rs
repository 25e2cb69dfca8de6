//! `lanyard serve` as a real process on a real socket: it binds port 0, logs
//! the address, answers /healthz and /readyz, and stops gracefully on
//! SIGTERM (readiness first, requests in flight completed, exit 0).

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Kills the server if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Server {
    fn start() -> (Self, mpsc::Receiver<String>) {
        // A database of its own under cargo's test tmpdir, never ./lanyard.db.
        let db = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-healthz.db");
        let _ = std::fs::remove_file(&db);
        Self::start_on(&db, &[])
    }

    fn start_on(db: &std::path::Path, env: &[(&str, &str)]) -> (Self, mpsc::Receiver<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lanyard"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database"])
            .arg(format!("sqlite://{}", db.display()))
            .env_clear()
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        (Self(child), rx)
    }

    fn signal_term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn terminate(&mut self) -> ExitStatus {
        self.signal_term();
        self.wait()
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Wait for a log line containing `needle`; return the text after it.
fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|err| panic!("no log line containing {needle:?}: {err}"));
        if let Some((_, rest)) = line.split_once(needle) {
            return rest.trim().to_owned();
        }
    }
}

fn http_get(authority: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serves_healthz_on_a_free_port_and_stops_on_sigterm() {
    let (mut server, logs) = Server::start();
    let authority = wait_for_line(&logs, "listening on http://");
    let port: u16 = authority
        .strip_prefix("127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0, "the real port is logged, not the requested 0");

    // The default base URL follows the real port, not ":0".
    let base_url = wait_for_line(&logs, "public base URL is ");
    assert_eq!(base_url, format!("http://{authority}"));

    let response = http_get(&authority, "/healthz");
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(
        body,
        format!(
            "{{\"status\":\"ok\",\"version\":\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )
    );

    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    wait_for_line(&logs, "stopped");
}

/// The status line and body of a response read to its end.
fn status_and_body(response: &str) -> (&str, &str) {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    (head.lines().next().unwrap_or(""), body)
}

#[test]
fn sigterm_drains_readiness_first_and_completes_requests_in_flight() {
    let db = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-drain.db");
    let _ = std::fs::remove_file(&db);
    let database = format!("sqlite://{}", db.display());
    let out = Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args([
            "apikey",
            "create",
            "--name",
            "drain",
            "--role",
            "administrator",
            "--database",
            &database,
        ])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let (mut server, logs) = Server::start_on(&db, &[("LANYARD_DRAIN_DELAY_SECONDS", "2")]);
    let authority = wait_for_line(&logs, "listening on http://");
    let ready = http_get(&authority, "/readyz");
    assert_eq!(
        status_and_body(&ready),
        (
            "HTTP/1.1 200 OK",
            format!(
                "{{\"status\":\"ok\",\"version\":\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
            .as_str()
        )
    );

    // A request in flight: its header and half its body sent.
    let body = r#"{"name":"drained-but-kept"}"#;
    let mut slow = TcpStream::connect(&authority).unwrap();
    slow.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        slow,
        "POST /api/v1/groups HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    slow.flush().unwrap();

    // (The connection is open: whenever the server reads it, during the
    // drain delay it still serves it.)
    server.signal_term();
    // Draining: not ready, but still serving.
    let deadline = Instant::now() + TIMEOUT;
    let draining = loop {
        let r = http_get(&authority, "/readyz");
        if r.starts_with("HTTP/1.1 503") {
            break r;
        }
        assert!(Instant::now() < deadline, "/readyz never turned 503: {r}");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status_and_body(&draining)
            .1
            .contains("\"reason\":\"draining\""),
        "{draining}"
    );
    assert!(
        http_get(&authority, "/healthz").starts_with("HTTP/1.1 200 OK"),
        "still alive"
    );

    // The request in flight completes and is answered.
    slow.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    slow.read_to_string(&mut response).unwrap();
    let (status, created) = status_and_body(&response);
    assert_eq!(status, "HTTP/1.1 201 Created", "{response}");
    assert!(
        created.contains("\"name\":\"drained-but-kept\""),
        "{response}"
    );

    let status = server.wait();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    wait_for_line(&logs, "stopped");
    // After the drain delay the listener is closed.
    assert!(
        TcpStream::connect(&authority).is_err(),
        "still accepting after the stop"
    );

    // What it acknowledged is stored, with its audit event.
    let (mut again, logs) = Server::start_on(&db, &[]);
    let authority = wait_for_line(&logs, "listening on http://");
    let mut stream = TcpStream::connect(&authority).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "GET /api/v1/audit-events?action=group.create HTTP/1.1\r\nHost: {authority}\r\n\
         Authorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut events = String::new();
    stream.read_to_string(&mut events).unwrap();
    assert!(events.contains("drained-but-kept"), "{events}");
    assert!(again.terminate().success());
}

#[test]
fn json_logs_are_one_object_per_line_with_the_request_id() {
    let db = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-json-logs.db");
    let _ = std::fs::remove_file(&db);
    let (mut server, logs) = Server::start_on(
        &db,
        &[
            ("LANYARD_LOG_FORMAT", "json"),
            ("LANYARD_LOG", "info,lanyard_web=debug"),
        ],
    );
    // Every line is a JSON object (the first ones too).
    let listening = wait_for_line(&logs, "listening on http://");
    let authority = listening
        .split('"')
        .next()
        .unwrap()
        .trim_end_matches('\\')
        .to_owned();
    let response = http_get(&authority, "/healthz");
    let id = response
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-request-id: ")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no X-Request-Id: {response}"));
    let deadline = Instant::now() + TIMEOUT;
    let line: serde_json::Value = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let text = logs.recv_timeout(left).expect("the access log line");
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a JSON line ({e}): {text}"));
        if v["message"] == "request served" {
            break v;
        }
    };
    assert_eq!(line["span"]["request_id"], id.trim(), "{line}");
    assert_eq!(line["level"], "DEBUG");
    assert_eq!(line["target"], "lanyard_web::request_id");
    assert_eq!(line["path"], "\"/healthz\"");
    assert_eq!(line["status"], 200);
    assert!(line["timestamp"].is_string(), "{line}");
    assert!(server.terminate().success());
}

#[test]
fn metrics_are_served_on_their_own_address_only() {
    let db = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-metrics.db");
    let _ = std::fs::remove_file(&db);
    let (mut server, logs) = Server::start_on(&db, &[("LANYARD_METRICS_LISTEN", "127.0.0.1:0")]);
    let authority = wait_for_line(&logs, "listening on http://");
    let metrics = wait_for_line(&logs, "metrics on http://");
    let metrics = metrics.strip_suffix("/metrics").unwrap().to_owned();
    assert_ne!(metrics, authority);
    http_get(&authority, "/healthz");
    let scraped = http_get(&metrics, "/metrics");
    let (status, body) = status_and_body(&scraped);
    assert_eq!(status, "HTTP/1.1 200 OK", "{scraped}");
    assert!(
        body.contains(&format!(
            "lanyard_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{body}"
    );
    assert!(
        body.contains(
            "lanyard_http_request_duration_seconds_count{group=\"health\",status=\"2xx\"} 1"
        ),
        "{body}"
    );
    // Not on the public listener.
    assert!(http_get(&authority, "/metrics").starts_with("HTTP/1.1 404"));
    assert!(server.terminate().success());
}

/// A throwaway CA, and certificates it signs for 127.0.0.1.
struct TestCa {
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
}

impl TestCa {
    fn new() -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        TestCa { key, cert }
    }

    /// A server certificate for 127.0.0.1: (certificate PEM, key PEM, DER).
    fn server(&self) -> (String, String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    fn client(&self) -> std::sync::Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        std::sync::Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls_connect(authority: &str, client: std::sync::Arc<rustls::ClientConfig>) -> TlsStream {
    let name =
        rustls_pki_types::ServerName::IpAddress(std::net::Ipv4Addr::new(127, 0, 0, 1).into());
    let conn = rustls::ClientConnection::new(client, name).unwrap();
    let tcp = TcpStream::connect(authority).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// One GET on a kept-alive connection: the head and the body.
fn tls_get(stream: &mut TlsStream, authority: &str, path: &str) -> (String, String) {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n").unwrap();
    stream.flush().unwrap();
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        raw.push(byte[0]);
    }
    let head = String::from_utf8(raw).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

fn peer_certificate(stream: &TlsStream) -> Vec<u8> {
    stream.conn.peer_certificates().unwrap()[0].to_vec()
}

#[test]
fn native_tls_serves_https_reloads_on_sighup_and_times_out_handshakes() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-tls");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ca = TestCa::new();
    let (cert, key, first) = ca.server();
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let db = dir.join("lanyard.db");
    let (mut server, logs) = Server::start_on(
        &db,
        &[
            ("LANYARD_TLS_CERT", cert_file.to_str().unwrap()),
            ("LANYARD_TLS_KEY", key_file.to_str().unwrap()),
            ("LANYARD_TLS_HANDSHAKE_TIMEOUT_SECONDS", "1"),
        ],
    );
    let authority = wait_for_line(&logs, "listening on https://");
    let base = wait_for_line(&logs, "public base URL is ");
    assert_eq!(base, format!("https://{authority}"));

    let mut kept = tls_connect(&authority, ca.client());
    let (head, body) = tls_get(&mut kept, &authority, "/healthz");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    // The base URL is https: browsers are told to stay on https.
    assert!(
        head.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=63072000"),
        "{head}"
    );
    assert_eq!(peer_certificate(&kept), first);

    // A new certificate in the same files, then SIGHUP: new connections get
    // it, the open one keeps working.
    let (cert, key, second) = ca.server();
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_line(&logs, "reloaded the TLS certificate");
    let mut fresh = tls_connect(&authority, ca.client());
    let (head, _) = tls_get(&mut fresh, &authority, "/healthz");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(peer_certificate(&fresh), second);
    let (head, _) = tls_get(&mut kept, &authority, "/readyz");
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n"),
        "the open connection: {head}"
    );
    assert_eq!(peer_certificate(&kept), first);

    // A reload with a broken file keeps the pair in use.
    std::fs::write(&key_file, "not a key").unwrap();
    Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .unwrap();
    wait_for_line(
        &logs,
        "cannot reload the TLS certificate, keeping the one in use",
    );
    let mut still = tls_connect(&authority, ca.client());
    tls_get(&mut still, &authority, "/healthz");
    assert_eq!(peer_certificate(&still), second);

    // A client that never completes its handshake is cut after 1 s.
    let mut silent = TcpStream::connect(&authority).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    drop((kept, fresh, still));
    assert!(server.terminate().success());
}

#[test]
fn unusable_tls_settings_stop_the_start_with_the_reason() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-tls-bad");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca = TestCa::new();
    let (cert, _, _) = ca.server();
    let (_, other_key, _) = ca.server();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, other_key).unwrap();
    let db = format!("sqlite://{}", dir.join("lanyard.db").display());
    let run = |env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lanyard"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[("LANYARD_TLS_CERT", cert_file.to_str().unwrap())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("needs tls_key too"), "{err}");
    let (code, err) = run(&[
        ("LANYARD_TLS_CERT", cert_file.to_str().unwrap()),
        ("LANYARD_TLS_KEY", key_file.to_str().unwrap()),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot use the TLS certificate"), "{err}");
    assert!(err.contains("do not make a usable pair"), "{err}");
}
