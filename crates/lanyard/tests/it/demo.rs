//! `lanyard demo` as a real process: with `--listen 127.0.0.1:0` it prints
//! the base URL with the real port first, seeds alice, bob and the AWS app,
//! and with `--empty` only the administrator; the AWS stand-in is mounted
//! either way. The browser suite (tests/browser) relies on all of this.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Kills the demo when the test ends (its database is a temp dir it removes
/// on a clean stop; SIGKILL leaves it, so stop it with SIGTERM first).
struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Demo {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lanyard"))
            .args(["demo", "--listen", "127.0.0.1:0", "--log", "warn"])
            .args(extra)
            .env_clear()
            .env("TMPDIR", env!("CARGO_TARGET_TMPDIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The first line containing `needle`; the text after it.
    fn line_after(&self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|err| panic!("no output line containing {needle:?}: {err}"));
            if let Some((_, rest)) = line.split_once(needle) {
                return rest.to_owned();
            }
        }
    }

    /// (authority, API key) read from the welcome text.
    fn welcome(&self) -> (String, String) {
        let rest = self.line_after("Lanyard demo is running on http://");
        let authority = rest.split_whitespace().next().unwrap().to_owned();
        let port: u16 = authority
            .strip_prefix("127.0.0.1:")
            .unwrap_or_else(|| panic!("not a loopback authority: {authority}"))
            .parse()
            .unwrap();
        assert_ne!(port, 0, "the printed base URL carries the bound port");
        let rest = self.line_after("Authorization: Bearer ");
        let key = rest.split('\'').next().unwrap().to_owned();
        assert!(!key.is_empty());
        (authority, key)
    }
}

/// (status line, body) of a request with `Connection: close`.
fn request(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> (String, String) {
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

fn api_get(authority: &str, key: &str, path: &str) -> String {
    let auth = format!("Authorization: Bearer {key}");
    let (status, body) = request(authority, "GET", path, &[&auth], "");
    assert_eq!(status, "HTTP/1.1 200 OK", "GET {path}: {body}");
    body
}

/// The stand-in answers a post for an unknown app with AWS's error page (so
/// it is mounted); without the route it would be a 404/405.
fn assert_standin_mounted(authority: &str) {
    let (status, body) = request(
        authority,
        "POST",
        "/aws-standin/no-such-app/saml",
        &["Content-Type: application/x-www-form-urlencoded"],
        "SAMLResponse=eA%3D%3D",
    );
    assert_eq!(status, "HTTP/1.1 400 Bad Request", "{body}");
    assert!(body.contains("no SAML provider named"), "{body}");
}

#[test]
fn seeded_demo_has_alice_bob_and_the_aws_app_on_a_free_port() {
    let demo = Demo::start(&[]);
    let (authority, key) = demo.welcome();
    let users = api_get(&authority, &key, "/api/v1/users");
    assert!(users.contains("\"alice@example.com\""), "{users}");
    assert!(users.contains("\"bob@example.com\""), "{users}");
    let groups = api_get(&authority, &key, "/api/v1/groups");
    assert!(groups.contains("\"aws-admins\""), "{groups}");
    let apps = api_get(&authority, &key, "/api/v1/applications");
    assert!(apps.contains("\"slug\":\"aws\""), "{apps}");
    assert!(
        apps.contains(&format!("http://{authority}/aws-standin/aws/saml")),
        "the app's ACS is the stand-in on the bound port: {apps}"
    );
    assert_standin_mounted(&authority);
    // Seeded through the API's use-cases: their audit events, by `cli`.
    let events = api_get(&authority, &key, "/api/v1/audit-events?actor=cli&limit=100");
    let actions = actions_of(&events);
    assert_eq!(
        actions,
        [
            "application.set_entitlements",
            "application.bind_group",
            "application.create",
            "group.member.add",
            "group.create",
            "user.create",
            "user.create",
            "apikey.create",
            "admin.create",
        ],
        "{events}"
    );
}

/// The `action` of each event of an audit-events page, newest first.
fn actions_of(page: &str) -> Vec<String> {
    page.split("\"action\":\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn empty_demo_seeds_only_the_administrator_and_keeps_the_standin() {
    let demo = Demo::start(&["--empty"]);
    let (authority, key) = demo.welcome();
    for path in ["/api/v1/users", "/api/v1/groups", "/api/v1/applications"] {
        let body = api_get(&authority, &key, path);
        assert!(body.starts_with("{\"items\":[]"), "{path}: {body}");
    }
    let admins = api_get(&authority, &key, "/api/v1/admins");
    assert!(admins.contains("\"admin@example.com\""), "{admins}");
    let events = api_get(&authority, &key, "/api/v1/audit-events?actor=cli");
    assert_eq!(
        actions_of(&events),
        ["apikey.create", "admin.create"],
        "{events}"
    );
    // The admin sign-in page is served (the admin signs in there).
    let (status, body) = request(&authority, "GET", "/admin/login", &[], "");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert_standin_mounted(&authority);
}
