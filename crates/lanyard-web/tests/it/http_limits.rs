//! `lanyard_web::server::serve` on a real socket: the header, idle and body
//! timeouts, the connection cap, the peer address handed to handlers and the
//! graceful shutdown. A tiny router stands in for the app; each test sets
//! the one limit it exercises short (hundreds of milliseconds) and the
//! others long, so whatever closes the connection is the limit under test.
//! No database.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::settings::HttpSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

/// How long anything expected may take before a test fails: generous, the
/// limits under test are a few hundred milliseconds.
const DEADLINE: Duration = Duration::from_secs(5);

const LONG: time::Duration = time::Duration::seconds(30);

fn ms(n: i64) -> time::Duration {
    time::Duration::milliseconds(n)
}

/// Every limit long; a test shortens the one it exercises.
fn limits() -> HttpSettings {
    HttpSettings {
        header_timeout: LONG,
        body_timeout: LONG,
        idle_timeout: LONG,
        max_connections: 100,
        ..HttpSettings::default()
    }
}

/// `/` answers "ok", `/echo` the length of the body it read, `/peer` the
/// client address it was given.
fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/echo",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

async fn start(app: Router, limits: HttpSettings) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        lanyard_web::server::serve(listener, app, &limits, shutdown).await
    });
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    /// Header lines, lowercased.
    head: String,
    body: String,
}

/// A raw HTTP/1.1 client on one TCP connection.
struct Client {
    stream: TcpStream,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: lanyard.test\r\n\r\n").as_bytes())
            .await;
        self.response().await
    }

    /// Reads more bytes into `buf`; `Ok(0)` at end of file.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next response (with a Content-Length body), within [`DEADLINE`].
    async fn response(&mut self) -> Response {
        timeout(DEADLINE, async {
            loop {
                if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                    let head = String::from_utf8(self.buf[..end].to_vec())
                        .unwrap()
                        .to_ascii_lowercase();
                    let status = head[9..12].parse().unwrap();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    let total = end + 4 + length;
                    if self.buf.len() >= total {
                        let body = String::from_utf8(self.buf[end + 4..total].to_vec()).unwrap();
                        self.buf.drain(..total);
                        return Response { status, head, body };
                    }
                }
                let n = self.fill().await.expect("reading a response");
                assert!(n > 0, "connection closed mid-response: {:?}", self.buf);
            }
        })
        .await
        .expect("no response in time")
    }

    /// Waits (within [`DEADLINE`]) for the server to close the connection;
    /// returns what was received and not consumed before that.
    async fn closed(&mut self) -> Vec<u8> {
        timeout(DEADLINE, async {
            loop {
                match self.fill().await {
                    Ok(0) => break,
                    Ok(_) => {}
                    // Closing with unread data is a reset: still closed.
                    Err(err) if err.kind() == io::ErrorKind::ConnectionReset => break,
                    Err(err) => panic!("unexpected read error: {err}"),
                }
            }
        })
        .await
        .expect("the server kept the connection open");
        std::mem::take(&mut self.buf)
    }

    /// Asserts that nothing arrives (and the connection stays open) for
    /// `wait`.
    async fn silent_for(&mut self, wait: Duration) {
        if let Ok(read) = timeout(wait, self.fill()).await {
            panic!("expected silence, got {read:?} after {:?}", self.buf);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn header_timeout_disconnects_silent_and_slow_clients() {
    let server = start(
        router(),
        HttpSettings {
            header_timeout: ms(300),
            ..limits()
        },
    )
    .await;

    // Sends nothing at all.
    let began = Instant::now();
    let mut silent = Client::connect(server.addr).await;
    assert_eq!(silent.closed().await, b"", "no answer, just a close");
    // Timers never fire early: it was the header timer, not an accident.
    assert!(began.elapsed() >= Duration::from_millis(300));

    // Sends half a header, then nothing.
    let mut partial = Client::connect(server.addr).await;
    partial.send(b"GET / HTTP/1.1\r\nHost: lanyard.te").await;
    assert_eq!(partial.closed().await, b"");

    // Sends a header line every 100 ms: bytes keep arriving, but the header
    // is never complete, and the header timer is not reset by them.
    let mut trickle = Client::connect(server.addr).await;
    trickle.send(b"GET / HTTP/1.1\r\n").await;
    let cut = timeout(DEADLINE, async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let line = format!("X-Slow-{i}: yes\r\n");
            if trickle.stream.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "the trickling client was never disconnected");
    assert_eq!(trickle.closed().await, b"");

    // A client that sends its header in time is answered.
    let mut prompt = Client::connect(server.addr).await;
    let response = prompt.get("/").await;
    assert_eq!((response.status, response.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn idle_timeout_closes_silent_kept_alive_connections_only() {
    let server = start(
        router(),
        HttpSettings {
            idle_timeout: ms(500),
            ..limits()
        },
    )
    .await;

    // One request, then silence on a kept-alive connection.
    let mut idle = Client::connect(server.addr).await;
    // Before the server's last write, which restarted its idle timer.
    let began = Instant::now();
    let response = idle.get("/").await;
    assert_eq!((response.status, response.body.as_str()), (200, "ok"));
    assert!(!response.head.contains("connection: close"), "{response:?}");
    assert_eq!(idle.closed().await, b"", "closed without a word");
    assert!(began.elapsed() >= Duration::from_millis(500));

    // Requests every 100 ms for more than twice the idle timeout: the
    // connection is busy, so it stays open.
    let mut busy = Client::connect(server.addr).await;
    let began = Instant::now();
    let mut served = 0;
    while began.elapsed() < Duration::from_millis(1200) {
        let response = busy.get("/").await;
        assert_eq!((response.status, response.body.as_str()), (200, "ok"));
        served += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served >= 5, "{served} requests");
    let response = busy.get("/").await;
    assert_eq!((response.status, response.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn body_timeout_answers_400_and_closes() {
    let server = start(
        router(),
        HttpSettings {
            body_timeout: ms(400),
            ..limits()
        },
    )
    .await;
    let head = b"POST /echo HTTP/1.1\r\nHost: lanyard.test\r\nContent-Length: 100\r\n\r\n";

    // The whole body, in time.
    let mut whole = Client::connect(server.addr).await;
    whole.send(head).await;
    whole.send(&[b'x'; 100]).await;
    let response = whole.response().await;
    assert_eq!((response.status, response.body.as_str()), (200, "100"));

    // 10 bytes of 100, then silence: the extractor fails, axum answers 400,
    // and the connection is closed after it (the body was never finished).
    let mut stalled = Client::connect(server.addr).await;
    stalled.send(head).await;
    stalled.send(&[b'x'; 10]).await;
    let response = stalled.response().await;
    assert_eq!(response.status, 400, "{response:?}");
    assert!(
        response
            .body
            .starts_with("Failed to buffer the request body"),
        "{response:?}"
    );
    assert!(
        response
            .body
            .contains("the request body was not received within 400 ms"),
        "{response:?}"
    );
    assert_eq!(stalled.closed().await, b"");

    // One byte every 50 ms: data keeps coming (a per-chunk timer would be
    // reset each time), but the whole body does not arrive within 400 ms.
    let mut trickle = Client::connect(server.addr).await;
    trickle.send(head).await;
    let sent = timeout(DEADLINE, async {
        for _ in 0..100 {
            if trickle.stream.write_all(b"x").await.is_err() {
                return false;
            }
            // Wait 50 ms, and stop trickling once the server has answered.
            let mut probe = [0u8; 1];
            if timeout(Duration::from_millis(50), trickle.stream.peek(&mut probe))
                .await
                .is_ok()
            {
                return false;
            }
        }
        true
    })
    .await
    .expect("trickling took too long");
    assert!(!sent, "all 100 bytes were accepted over ~5 s");
    let response = trickle.response().await;
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(trickle.closed().await, b"");
}

#[tokio::test]
async fn max_connections_holds_further_clients_in_the_backlog() {
    let server = start(
        router(),
        HttpSettings {
            max_connections: 2,
            ..limits()
        },
    )
    .await;

    let mut first = Client::connect(server.addr).await;
    let mut second = Client::connect(server.addr).await;
    assert_eq!(first.get("/").await.body, "ok");
    assert_eq!(second.get("/").await.body, "ok");

    // The kernel completes the handshake, but the server does not accept.
    let mut third = Client::connect(server.addr).await;
    third
        .send(b"GET / HTTP/1.1\r\nHost: lanyard.test\r\n\r\n")
        .await;
    third.silent_for(Duration::from_millis(400)).await;

    // The two served connections are still served meanwhile.
    assert_eq!(second.get("/").await.body, "ok");

    drop(first);
    let response = third.response().await;
    assert_eq!((response.status, response.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn handlers_see_the_tcp_peer_as_connect_info() {
    let server = start(router(), limits()).await;
    for _ in 0..2 {
        let mut client = Client::connect(server.addr).await;
        let local = client.stream.local_addr().unwrap();
        let response = client.get("/peer").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.body, local.to_string());
        // Same connection, same peer, on the next request too.
        assert_eq!(client.get("/peer").await.body, local.to_string());
    }
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_then_returns() {
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let app = router().route(
        "/slow",
        get({
            let (started, release) = (started.clone(), release.clone());
            || async move {
                started.notify_one();
                release.notified().await;
                "done"
            }
        }),
    );
    let mut server = start(app, limits()).await;

    // An idle kept-alive connection and a request in flight.
    let mut idle = Client::connect(server.addr).await;
    assert_eq!(idle.get("/").await.body, "ok");
    let mut busy = Client::connect(server.addr).await;
    busy.send(b"GET /slow HTTP/1.1\r\nHost: lanyard.test\r\n\r\n")
        .await;
    timeout(DEADLINE, started.notified())
        .await
        .expect("the slow handler never started");

    server.stop.take().unwrap().send(()).unwrap();

    // The idle connection is closed, new clients are refused...
    assert_eq!(idle.closed().await, b"");
    let until = Instant::now() + DEADLINE;
    loop {
        match TcpStream::connect(server.addr).await {
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => break,
            other => {
                assert!(Instant::now() < until, "still accepting: {other:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    // ... and the server waits for the request in flight.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !server.task.is_finished(),
        "returned before the in-flight request"
    );

    release.notify_one();
    let response = busy.response().await;
    assert_eq!((response.status, response.body.as_str()), (200, "done"));
    assert!(response.head.contains("connection: close"), "{response:?}");
    assert_eq!(busy.closed().await, b"");
    let served = timeout(DEADLINE, server.task)
        .await
        .expect("serve did not return after the last connection")
        .unwrap();
    assert!(served.is_ok(), "{served:?}");
}
