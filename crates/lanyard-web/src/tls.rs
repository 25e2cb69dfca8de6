//! Native TLS, for installations without a reverse proxy: rustls on
//! aws-lc-rs (TLS 1.2 and 1.3, HTTP/1.1 by ALPN), with the certificate
//! chain and key read from PEM files and reloadable while serving.
//!
//! [`TlsFiles::load`] reads and checks the pair (a key that does not match
//! the certificate is refused before anything is served). [`Tls`] holds the
//! current configuration: [`Tls::reload`] (`lanyard serve` calls it on
//! SIGHUP) swaps in a new pair for the connections accepted from then on;
//! connections already open keep the one they started with, so nothing is
//! dropped. A reload that fails keeps the pair in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate chain and its key are read from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads and checks the pair; the error says which file and why.
    pub fn load(&self) -> Result<Arc<ServerConfig>, String> {
        let chain = read_chain(&self.certificate)?;
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("{}: no private key: {e}", self.key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                format!(
                    "{} and {} do not make a usable pair: {e}",
                    self.certificate.display(),
                    self.key.display()
                )
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(chain)
}

/// The TLS configuration new connections get, swappable at run time.
#[derive(Clone)]
pub struct Tls {
    files: TlsFiles,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl Tls {
    /// Loads `files` (an error when they are unusable).
    pub fn new(files: TlsFiles) -> Result<Self, String> {
        let config = files.load()?;
        Ok(Tls {
            files,
            current: Arc::new(RwLock::new(config)),
        })
    }

    /// Reads the files again; on success new connections use them.
    pub fn reload(&self) -> Result<(), String> {
        let config = self.files.load()?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }

    /// The acceptor for the next connection.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        tokio_rustls::TlsAcceptor::from(config)
    }
}
