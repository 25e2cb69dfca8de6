//! `lanyard serve`: logging, binding, wiring the app and shutting down cleanly.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use lanyard_core::{BaseUrl, SystemClock};
use lanyard_web::AppState;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{Layer, Loaded};

/// Run the server until SIGTERM or Ctrl-C, then drain in-flight requests.
pub fn run(loaded: Loaded) -> anyhow::Result<()> {
    init_logging(&loaded.settings.log)?;
    tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(serve(loaded))
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter)?)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init()
        .map_err(|err| anyhow::anyhow!("cannot set up logging: {err}"))
}

async fn serve(loaded: Loaded) -> anyhow::Result<()> {
    let mut settings = loaded.settings.clone();
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // The default base URL is "wherever we listen"; with port 0 that is only
    // known now, and a base URL ending in :0 would be useless to clients.
    if loaded.layer_of("base_url") == Some(&Layer::Default) {
        settings.base_url = BaseUrl::parse(&format!("http://{bound}"))
            .context("cannot derive the base URL from the bound address")?;
    }
    tracing::info!("listening on http://{bound}");
    tracing::info!("public base URL is {}", settings.base_url);

    let app = lanyard_web::app(AppState::new(settings, Arc::new(SystemClock)));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot watch for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::warn!("cannot watch for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
