//! `lanyard serve`: logging, opening (and migrating) the database, binding,
//! wiring the app, and stopping cleanly on SIGTERM ([`stop_gracefully`]):
//! `/readyz` answers 503 for `drain_delay_seconds` while requests are still
//! served, then the listener closes, requests in flight finish (up to
//! `shutdown_timeout_seconds`), the sessions' last uses and the audit queue
//! are written, the database pool closes, and the process exits 0.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use lanyard_app::{AuditWriter, Lanyard};
use lanyard_core::store::Store;
use lanyard_core::{BaseUrl, SystemClock};
use lanyard_web::AppState;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{Layer, Loaded, LogFormat};

/// Run the server until SIGTERM or Ctrl-C, then drain in-flight requests.
pub fn run(loaded: Loaded) -> anyhow::Result<()> {
    init_logging(&loaded.settings.log, loaded.log_format)?;
    tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(serve(loaded))
}

pub(crate) fn init_logging(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let builder = tracing_subscriber::fmt().with_env_filter(EnvFilter::try_new(filter)?);
    let done = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        // One object per line: timestamp, level, target, the event's fields
        // (message included) at the top level, and, while a request is
        // served, `"span":{"name":"request","request_id":"..."}`.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    done.map_err(|err| anyhow::anyhow!("cannot set up logging: {err}"))
}

async fn serve(loaded: Loaded) -> anyhow::Result<()> {
    let store = crate::commands::open_store(&loaded).await?;
    tracing::info!(
        "database {} ({}) is ready",
        loaded.database,
        store.backend()
    );
    let mut settings = loaded.settings.clone();
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // The default base URL is "wherever we listen"; with port 0 that is only
    // known now, and a base URL ending in :0 would be useless to clients.
    let tls = match &loaded.tls {
        Some(files) => Some(
            lanyard_web::tls::Tls::new(files.clone())
                .map_err(|e| anyhow::anyhow!("cannot use the TLS certificate: {e}"))?,
        ),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    if loaded.layer_of("base_url") == Some(&Layer::Default) {
        settings.base_url = BaseUrl::parse(&format!("{scheme}://{bound}"))
            .context("cannot derive the base URL from the bound address")?;
    }
    let shutdown = shutdown_signal();
    if let Some(tls) = &tls {
        reload_on_sighup(tls.clone());
    }
    tracing::info!("listening on {scheme}://{bound}");
    tracing::info!("public base URL is {}", settings.base_url);

    let http = settings.http.clone();
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let audit = AuditWriter::start(shared.clone());
    let lanyard = Lanyard::new(settings, Arc::new(SystemClock), shared, audit.handle())?;
    crate::retention::spawn(&loaded, lanyard.clone());
    // Certificate expiry warnings in the log: at start, then hourly.
    let watched = lanyard.clone();
    tokio::spawn(async move {
        loop {
            lanyard_app::apps::expiry::warn_in_log(&watched).await;
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
    let state = AppState::new(lanyard);
    // The server gives each request the client address (connect info) for
    // audit events, and enforces the connection limits of `http`.
    let app = lanyard_web::app(state.clone());
    let metrics = match loaded.metrics_listen {
        Some(addr) => Some(serve_metrics(addr, state.clone(), &http).await?),
        None => None,
    };
    let stop = draining(shutdown, state.clone(), http.drain_delay);
    let served = match tls {
        Some(tls) => lanyard_web::server::serve_tls(listener, app, &http, tls, stop).await,
        None => lanyard_web::server::serve(listener, app, &http, stop).await,
    }
    .context("server failed");
    if let Some((stop, task)) = metrics {
        let _ = stop.send(());
        let _ = task.await;
    }
    // Whatever happened to the server, what was recorded gets written.
    state.lanyard.flush_session_uses().await;
    audit.shutdown().await;
    store.close().await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Reads the TLS certificate and key again on every SIGHUP: new
/// connections use them, open ones keep theirs; a failed reload keeps the
/// pair in use (and says why).
fn reload_on_sighup(tls: lanyard_web::tls::Tls) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        match tls.reload() {
                            Ok(()) => tracing::info!("reloaded the TLS certificate"),
                            Err(e) => tracing::error!(
                                "cannot reload the TLS certificate, keeping the one in use: {e}"
                            ),
                        }
                    }
                });
            }
            Err(e) => tracing::warn!("cannot watch for SIGHUP (no TLS reload): {e}"),
        }
    }
    #[cfg(not(unix))]
    let _ = tls;
}

/// Serves `/metrics` on `addr` (same limits as the main listener) until
/// the returned sender fires.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    state: AppState,
    http: &lanyard_core::settings::HttpSettings,
) -> anyhow::Result<(
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (metrics_listen)"))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    tracing::info!("metrics on http://{bound}/metrics");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let http = http.clone();
    let task = tokio::spawn(async move {
        lanyard_web::server::serve(listener, lanyard_web::metrics::app(state), &http, async {
            let _ = stopped.await;
        })
        .await
    });
    Ok((stop, task))
}

/// Resolves `delay` after `signal`: from the signal on, `/readyz` answers
/// 503 (requests are still served), so a load balancer stops sending new
/// work before the listener closes.
pub(crate) async fn draining(
    signal: impl std::future::Future<Output = ()>,
    state: AppState,
    delay: time::Duration,
) {
    signal.await;
    state.start_draining();
    let delay = std::time::Duration::try_from(delay).unwrap_or_default();
    if !delay.is_zero() {
        tracing::info!(
            "draining: /readyz answers 503; the listener closes in {} s",
            delay.as_secs()
        );
        tokio::time::sleep(delay).await;
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, not when the future is first polled (the server polls it only
/// once it runs, maybe later): a SIGTERM right after "listening on" must stop
/// the server gracefully, not kill it. Call it inside the runtime, before
/// announcing the server.
pub(crate) fn shutdown_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => Box::pin(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                tracing::info!("shutting down");
            }),
            (term, int) => {
                let err = term.err().or(int.err()).map(|e| e.to_string());
                tracing::warn!("cannot watch for SIGTERM or Ctrl-C: {err:?}");
                Box::pin(std::future::pending())
            }
        }
    }
    #[cfg(not(unix))]
    {
        Box::pin(async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::warn!("cannot watch for Ctrl-C: {err}");
                std::future::pending::<()>().await;
            }
            tracing::info!("shutting down");
        })
    }
}
