//! Lanyard's HTTP/1.1 server: accepts TCP connections and serves the axum
//! [`Router`] on them under the limits of [`HttpSettings`].
//!
//! `axum::serve` sets no timer at all: a client that never finishes its
//! header, a kept-alive connection nobody uses any more and a request body
//! sent one byte a minute all hold a connection (and a task) forever, and
//! nothing caps how many connections are open. [`serve`] owns the accept
//! loop, the per-connection hyper state machine and the shutdown, and
//! enforces each limit:
//!
//! - **`max_connections`**: a permit of a [`Semaphore`] is taken *before*
//!   `accept` and held by the connection's task until it ends. With every
//!   permit taken the server stops calling `accept`: further clients
//!   complete their TCP handshake into the kernel's listen backlog and wait
//!   there (their request is answered once a connection closes), or are
//!   refused by the kernel once the backlog is full. Set the process's file
//!   descriptor limit (`ulimit -n`) above this number, or `accept` fails
//!   with "too many open files" first: such an error is logged at warn level
//!   and the loop sleeps briefly before accepting again.
//! - **`header_timeout`**: hyper's own `header_read_timeout`, driven by
//!   [`TokioTimer`]. It runs from the connection's start for the first
//!   request and, with hyper 1.x, from the end of the previous response for
//!   the next ones on a kept-alive connection; it is *not* restarted by
//!   bytes arriving, so a client trickling a header line by line is cut too.
//!   When it fires hyper closes the connection without an answer: the
//!   client reads end of file.
//! - **`idle_timeout`**: hyper has none, so the TCP stream is wrapped in
//!   `IdleTimeout`, which keeps a deadline moved forward by every read or
//!   write that moves bytes. A read (or write, or flush) still pending when
//!   the deadline passes fails with [`io::ErrorKind::TimedOut`] and hyper
//!   drops the connection: the client reads end of file. This closes
//!   kept-alive connections left silent between requests (whichever of
//!   this and `header_timeout` is shorter fires first) and clients that
//!   stop reading a response. Hyper also watches the socket for an early
//!   close while a handler runs, so a handler running longer than the idle
//!   timeout with no bytes moving would be cut as well: Lanyard's handlers
//!   are sub-second, far below any sensible idle timeout.
//! - **`body_timeout`**: the request body is wrapped in a `BodyDeadline`
//!   whose clock starts when the application first reads the body (the
//!   extractors do so as soon as the request arrives) and is *not* reset by
//!   data arriving: the whole body must arrive within the limit. (tower-http's
//!   `TimeoutBody` restarts its timer on every frame, so a trickling client
//!   would never be stopped; hence this small wrapper.) When it fires the
//!   extractor fails like on any broken body: axum's `Bytes` answers `400 Bad
//!   Request` ("Failed to buffer the request body: ..."), Lanyard's JSON and
//!   form extractors answer their own 400 (`"body"` error, or the "form
//!   could not be read" page). Hyper then closes the connection after the
//!   response, since the rest of the body was never read.
//!
//! Only HTTP/1.1 (and 1.0) is served, with keep-alive: hyper-util's `auto`
//! builder is not used because its HTTP/1-or-2 detection phase runs before
//! any of hyper's timers. Each request carries
//! [`ConnectInfo<SocketAddr>`](ConnectInfo), the TCP peer, exactly as
//! `into_make_service_with_connect_info::<SocketAddr>` did.
//!
//! Shutdown: once the `shutdown` future resolves, the listener is closed
//! (new clients are refused), every open connection is told to shut down
//! gracefully (a request in flight is answered, then the connection closes;
//! an idle kept-alive connection closes at once), and [`serve`] returns when
//! the last connection task has ended, or after `shutdown_timeout` (the
//! connections still busy are then dropped with the runtime). The caller
//! decides when `shutdown` resolves: `lanyard serve` first drains (see
//! `/readyz`) for `drain_delay`.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use lanyard_core::settings::HttpSettings;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long the accept loop pauses after an error that is not about one
/// client (out of file descriptors, of memory...), so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Longest timer honoured; longer settings are clamped to it (an `Instant`
/// plus an absurd duration would overflow).
const MAX_TIMER: Duration = Duration::from_secs(365 * 24 * 3600);

/// Serve `app` on `listener` under `limits` until `shutdown` resolves, then
/// shut down gracefully (see the module documentation). Errors of single
/// connections and of `accept` are logged, never returned: the server keeps
/// serving.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, app, limits, None, shutdown).await
}

/// [`serve`] over TLS: each connection's handshake must complete within
/// `tls_handshake_timeout`, with the configuration `tls` holds when the
/// connection is accepted (see [`crate::tls`]); then the same limits apply.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    limits: &HttpSettings,
    tls: crate::tls::Tls,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, app, limits, Some(tls), shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: &HttpSettings,
    tls: Option<crate::tls::Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let handshake_timeout = std_duration(limits.tls_handshake_timeout);
    let header_timeout = std_duration(limits.header_timeout);
    let body_timeout = std_duration(limits.body_timeout);
    let idle_timeout = std_duration(limits.idle_timeout);
    // Settings never hold 0 (at least one connection is served), nor more
    // than a semaphore can count on a 32-bit target.
    let most = u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX);
    let max_connections = limits.max_connections.clamp(1, most);

    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(max_connections as usize));
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut shutdown = pin!(shutdown);
    loop {
        let next = async {
            let permit = permits.clone().acquire_owned().await;
            (permit, listener.accept().await)
        };
        let (permit, accepted) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            next = next => next,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!("cannot accept a connection: {err}");
                if !is_per_connection(&err) {
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                    }
                }
                continue;
            }
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY for {peer}: {err}");
        }
        let builder = builder.clone();
        let app = app.clone();
        let stop = stop_rx.clone();
        let acceptor = tls.as_ref().map(crate::tls::Tls::acceptor);
        tokio::spawn(async move {
            // Released when the connection is done, whatever happened.
            let _permit = permit;
            let conn = Conn {
                builder,
                app,
                peer,
                body_timeout,
                idle_timeout,
                stop,
            };
            match acceptor {
                None => conn.serve(stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => conn.serve(stream).await,
                        Ok(Err(err)) => {
                            tracing::debug!("TLS handshake with {peer} failed: {err}");
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake with {peer} timed out");
                        }
                    }
                }
            }
        });
    }

    drop(listener);
    stop_tx.send_replace(true);
    // Every connection task holds a permit until it ends: having them all
    // back means every connection is closed. Past the shutdown timeout the
    // rest are left to be dropped with the runtime.
    let grace = std_duration(limits.shutdown_timeout);
    if tokio::time::timeout(grace, permits.acquire_many(max_connections))
        .await
        .is_err()
    {
        let open = max_connections as usize - permits.available_permits();
        tracing::warn!(
            "{open} connections still busy after the shutdown timeout ({} s): closing them",
            grace.as_secs()
        );
    }
    Ok(())
}

/// One accepted connection, served by hyper under the limits.
struct Conn {
    builder: Arc<http1::Builder>,
    app: Router,
    peer: std::net::SocketAddr,
    body_timeout: Duration,
    idle_timeout: Duration,
    stop: watch::Receiver<bool>,
}

impl Conn {
    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Conn {
            builder,
            app,
            peer,
            body_timeout,
            idle_timeout,
            mut stop,
        } = self;
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let req = req.map(|body| BodyDeadline::new(body, body_timeout));
            app.clone().oneshot(req)
        });
        let io = TokioIo::new(IdleTimeout::new(stream, idle_timeout));
        let mut conn = pin!(builder.serve_connection(io, service));
        let result = tokio::select! {
            result = conn.as_mut() => result,
            // Also when the sender is gone: `serve` was dropped.
            _ = async { stop.wait_for(|stop| *stop).await.map(|_| ()) } => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(err) = result {
            // Timeouts, resets, malformed requests: the client's doing.
            tracing::debug!("connection from {peer} ended: {err}");
        }
    }
}

/// A setting as a timer duration: negative counts as zero, huge ones are
/// clamped to [`MAX_TIMER`].
fn std_duration(duration: time::Duration) -> Duration {
    Duration::try_from(duration)
        .unwrap_or(Duration::ZERO)
        .min(MAX_TIMER)
}

/// Errors of `accept` about one client that gave up before being accepted:
/// accepting the next one at once is fine.
fn is_per_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A stream that fails once no byte has moved, in either direction, for
/// `timeout`: a read, write or flush still pending at the deadline returns
/// [`io::ErrorKind::TimedOut`].
///
/// Moving bytes only records the new deadline; the timer itself is reset
/// lazily when it fires early, so busy connections do not touch the timer
/// wheel on every read.
struct IdleTimeout<S> {
    io: S,
    timeout: Duration,
    /// The last moment bytes moved, plus `timeout`.
    deadline: Instant,
    /// Fires at or before `deadline`.
    sleep: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    fn new(io: S, timeout: Duration) -> Self {
        let deadline = Instant::now() + timeout;
        IdleTimeout {
            io,
            timeout,
            deadline,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    fn touch(&mut self) {
        self.deadline = Instant::now() + self.timeout;
    }

    /// The error once the deadline has passed; until then `Pending`, with a
    /// wake-up registered for the deadline.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            ready!(self.sleep.as_mut().poll(cx));
            if self.sleep.deadline() >= self.deadline {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ));
            }
            // Bytes moved since the timer was set: wait for the new deadline.
            let deadline = self.deadline;
            self.sleep.as_mut().reset(deadline);
        }
    }

    /// `Pending` from the stream becomes the timeout error once it is due.
    fn guard<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => self.poll_expired(cx).map(Err),
            ready => ready,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.touch();
        }
        this.guard(cx, poll)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        this.guard(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        this.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.guard(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.guard(cx, poll)
    }
}

/// A request body that fails with [`BodyTimedOut`] unless it has been
/// received whole within `timeout` of its first read. An empty body never
/// starts a timer.
struct BodyDeadline<B> {
    body: B,
    timeout: Duration,
    /// Started by the first read.
    sleep: Option<Pin<Box<Sleep>>>,
    /// The body has ended (or failed): no more timer.
    done: bool,
}

impl<B: Body> BodyDeadline<B> {
    fn new(body: B, timeout: Duration) -> Self {
        let done = body.is_end_stream();
        BodyDeadline {
            body,
            timeout,
            sleep: None,
            done,
        }
    }
}

impl<B> Body for BodyDeadline<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if !this.done {
            let timeout = this.timeout;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
            if sleep.as_mut().poll(cx).is_ready() {
                this.done = true;
                this.sleep = None;
                return Poll::Ready(Some(Err(Box::new(BodyTimedOut(timeout)))));
            }
        }
        let frame = ready!(Pin::new(&mut this.body).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            this.done = true;
            this.sleep = None;
        }
        Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The request body was not received within the body timeout.
#[derive(Debug)]
struct BodyTimedOut(Duration);

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request body was not received within {} ms",
            self.0.as_millis()
        )
    }
}

impl StdError for BodyTimedOut {}
