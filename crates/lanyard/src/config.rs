//! Loading [`Settings`]: defaults -> TOML file -> `LANYARD_*` environment ->
//! CLI flags, each layer overriding the one before, validated once.
//!
//! This module owns where values come from and how a bad one is reported: every
//! error names the key and the layer it came from (`LANYARD_BASE_URL: "ftp://x"
//! is not an http(s) URL`). The rules of each type live with the type
//! (`lanyard_core::BaseUrl`). Nothing here touches the process environment; the
//! caller passes it in, so tests never mutate it.
//!
//! Adding a key is one line in [`resolve`] (plus the field in `Settings`, and a
//! flag in `cli` if it deserves one): the environment variable name and the
//! flag name are derived from the key, and a TOML key nobody reads is rejected.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use lanyard_core::session::AuthSettings;
use lanyard_core::settings::{parse_trusted_proxies, HttpSettings};
use lanyard_core::{BaseUrl, Settings};
use tracing_subscriber::EnvFilter;

use crate::database::{DatabaseUrl, DEFAULT_DATABASE};

#[cfg(test)]
mod tests;

/// Environment variable naming the config file when `--config` is absent.
pub const CONFIG_ENV: &str = "LANYARD_CONFIG";

/// What the command line contributed: the config file path and the
/// highest-priority layer of values, keyed like the TOML file.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub values: Vec<(&'static str, String)>,
}

/// The layer a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    Default,
    File(PathBuf),
    Env,
    Flag,
}

/// A key and the layer its effective value came from; displays the way a user
/// would find it: `LANYARD_LISTEN`, `--listen`, `listen in lanyard.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub key: &'static str,
    pub layer: Layer,
}

/// Settings together with where each value came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    /// Where the store lives. Kept beside [`Settings`] rather than in it: only
    /// the binary opens the database, and the URL may hold a password that
    /// should not travel through every layer.
    pub database: DatabaseUrl,
    /// The secrets key file (see `crate::secrets`); `None`: the default
    /// (next to a SQLite database).
    pub secrets_key_file: Option<PathBuf>,
    /// Keys still accepted for decryption during a rotation.
    pub secrets_old_key_files: Vec<PathBuf>,
    /// How log lines are written (only the binary writes them).
    pub log_format: LogFormat,
    /// Where `/metrics` is served (off when `None`).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Native TLS: the certificate chain and key files (`None`: plain HTTP).
    pub tls: Option<lanyard_web::tls::TlsFiles>,
    /// Audit events older than this many days are deleted (0: never).
    pub audit_retention_days: u32,
    /// Ended user sessions are kept in the session history this many days
    /// (0: never deleted).
    pub ended_session_retention_days: u32,
    /// In the order [`resolve`] reads the keys.
    pub origins: Vec<Origin>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: {value:?} {problem}")]
    Invalid {
        origin: Origin,
        value: String,
        problem: String,
    },
    #[error("{origin}: expected a string, found {found}")]
    NotAString { origin: Origin, found: &'static str },
    #[error("{}: unknown key `{key}` (known keys: {known})", path.display())]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: String,
    },
    #[error("cannot read config file {} (from {from}): {source}", path.display())]
    Read {
        path: PathBuf,
        from: &'static str,
        source: io::Error,
    },
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
}

/// Load settings, reading the config file (if any) from disk.
pub fn load(
    flags: &Flags,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigError> {
    load_with(flags, env, |path| std::fs::read_to_string(path))
}

/// [`load`] with the file reader as a parameter, so tests need no disk.
pub fn load_with(
    flags: &Flags,
    env: impl IntoIterator<Item = (String, String)>,
    read_file: impl FnOnce(&Path) -> io::Result<String>,
) -> Result<Loaded, ConfigError> {
    let env: BTreeMap<String, String> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with("LANYARD_"))
        .collect();
    let file = match config_path(flags, &env) {
        None => None,
        Some((path, from)) => {
            let text = read_file(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                from,
                source,
            })?;
            let table = text
                .parse::<toml::Table>()
                .map_err(|err| ConfigError::Toml {
                    path: path.clone(),
                    message: err.to_string().trim_end().to_owned(),
                })?;
            Some((path, table))
        }
    };
    let mut layers = Layers {
        file,
        env,
        flags: flags.values.iter().cloned().collect(),
        origins: Vec::new(),
    };
    let (settings, database) = resolve(&mut layers)?;
    let log_format = layers.value("log_format", "text", |v| match v.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("must be text or json"),
    })?;
    let metrics_listen = layers.value("metrics_listen", "", |v| {
        if v.trim().is_empty() {
            Ok(None)
        } else {
            parse_listen(v).map(Some)
        }
    })?;
    let path = |v: &str| Ok::<_, String>((!v.trim().is_empty()).then(|| PathBuf::from(v.trim())));
    let tls_cert = layers.value("tls_cert", "", path)?;
    let tls_key = layers.value("tls_key", "", path)?;
    let tls = match (tls_cert, tls_key) {
        (Some(certificate), Some(key)) => Some(lanyard_web::tls::TlsFiles { certificate, key }),
        (None, None) => None,
        (cert, _) => {
            let (key, missing) = if cert.is_some() {
                ("tls_cert", "tls_key")
            } else {
                ("tls_key", "tls_cert")
            };
            return Err(ConfigError::Invalid {
                origin: layers.origin_of(key),
                value: String::new(),
                problem: format!("needs {missing} too (the certificate chain and its key)"),
            });
        }
    };
    let audit_retention_days = layers.value("audit_retention_days", "400", count(0, 36_500))?;
    let ended_session_retention_days =
        layers.value("ended_session_retention_days", "30", count(0, 36_500))?;
    // Secrets keys: file paths only (the key itself may come from
    // LANYARD_SECRETS_KEY, read where the keyring is made, never printed).
    let secrets_key_file = layers.value("secrets_key_file", "", |v| {
        Ok::<_, String>((!v.trim().is_empty()).then(|| PathBuf::from(v.trim())))
    })?;
    let secrets_old_key_files = layers.value("secrets_old_key_files", "", |v| {
        Ok::<_, String>(
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect::<Vec<_>>(),
        )
    })?;
    layers.reject_unknown_keys()?;
    Ok(Loaded {
        settings,
        database,
        secrets_key_file,
        secrets_old_key_files,
        log_format,
        metrics_listen,
        tls,
        audit_retention_days,
        ended_session_retention_days,
        origins: layers.origins,
    })
}

/// How log lines are written: readable text, or one JSON object per line
/// (time, level, target, message, the request id and the event's fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Every key, its default and its parser. Order matters only where a default
/// depends on an earlier key.
fn resolve(layers: &mut Layers) -> Result<(Settings, DatabaseUrl), ConfigError> {
    let listen = layers.value("listen", "127.0.0.1:8080", parse_listen)?;
    let base_url = layers.value("base_url", &format!("http://{listen}"), BaseUrl::parse)?;
    let log = layers.value("log", "info", parse_log_filter)?;
    let database = layers.value("database", DEFAULT_DATABASE, DatabaseUrl::parse)?;
    // Sign-in: config file and LANYARD_* only (no flags).
    let max_failures = layers.value("lockout_failures", "5", count(1, 100))?;
    let idle = layers.value("session_idle_minutes", "60", count(1, 7 * 24 * 60))?;
    let max = layers.value("session_max_hours", "12", count(1, 30 * 24))?;
    let rate = layers.value("login_attempts_per_minute", "30", count(1, 1_000_000))?;
    let lockout = layers.value("lockout_minutes", "15", count(1, 24 * 60))?;
    let user_min = layers.value("user_password_min_length", "8", count(8, 256))?;
    let admin_min = layers.value("admin_password_min_length", "12", count(8, 256))?;
    let require_2fa = layers.value("require_admin_second_factor", "false", parse_bool)?;
    // The HTTP edge.
    let trusted_proxies = layers.value("trusted_proxies", "", parse_trusted_proxies)?;
    let header_timeout = layers.value("http_header_timeout_seconds", "10", count(1, 3600))?;
    let body_timeout = layers.value("http_body_timeout_seconds", "30", count(1, 3600))?;
    let idle_timeout = layers.value("http_idle_timeout_seconds", "60", count(1, 24 * 3600))?;
    let max_connections = layers.value("http_max_connections", "10000", count(1, 1_000_000))?;
    // Stopping: see lanyard_web::server and docs/OPERATIONS.md.
    let drain_delay = layers.value("drain_delay_seconds", "0", count(0, 3600))?;
    let shutdown_timeout = layers.value("shutdown_timeout_seconds", "30", count(1, 3600))?;
    let handshake = layers.value("tls_handshake_timeout_seconds", "10", count(1, 300))?;
    let settings = Settings {
        listen,
        base_url,
        log,
        auth: AuthSettings {
            session_idle: time::Duration::minutes(i64::from(idle)),
            session_max: time::Duration::hours(i64::from(max)),
            max_failures,
            login_attempts_per_minute: rate,
            lockout_duration: time::Duration::minutes(i64::from(lockout)),
            user_password_min: user_min,
            admin_password_min: admin_min,
            require_admin_second_factor: require_2fa,
        },
        http: HttpSettings {
            trusted_proxies,
            header_timeout: time::Duration::seconds(header_timeout.into()),
            body_timeout: time::Duration::seconds(body_timeout.into()),
            idle_timeout: time::Duration::seconds(idle_timeout.into()),
            max_connections,
            drain_delay: time::Duration::seconds(drain_delay.into()),
            shutdown_timeout: time::Duration::seconds(shutdown_timeout.into()),
            tls_handshake_timeout: time::Duration::seconds(handshake.into()),
        },
    };
    Ok((settings, database))
}

/// Keys whose value is a whole number, and how they print.
const COUNT_KEYS: [&str; 14] = [
    "lockout_failures",
    "session_idle_minutes",
    "session_max_hours",
    "login_attempts_per_minute",
    "lockout_minutes",
    "user_password_min_length",
    "admin_password_min_length",
    "http_header_timeout_seconds",
    "http_body_timeout_seconds",
    "http_idle_timeout_seconds",
    "http_max_connections",
    "drain_delay_seconds",
    "shutdown_timeout_seconds",
    "tls_handshake_timeout_seconds",
];

/// `true` or `false` (as TOML writes them).
fn parse_bool(value: &str) -> Result<bool, &'static str> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false"),
    }
}

/// A parser for a whole number between `min` and `max`.
fn count(min: u32, max: u32) -> impl FnOnce(&str) -> Result<u32, String> {
    move |value| match value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number between {min} and {max}")),
    }
}

fn parse_listen(value: &str) -> Result<SocketAddr, &'static str> {
    value
        .parse()
        .map_err(|_| "is not a socket address (expected IP:PORT, e.g. 127.0.0.1:8080)")
}

fn parse_log_filter(value: &str) -> Result<String, String> {
    EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|err| format!("is not a valid log filter: {err}"))
}

fn config_path(flags: &Flags, env: &BTreeMap<String, String>) -> Option<(PathBuf, &'static str)> {
    match (&flags.config, env.get(CONFIG_ENV)) {
        (Some(path), _) => Some((path.clone(), "--config")),
        (None, Some(path)) => Some((PathBuf::from(path), CONFIG_ENV)),
        (None, None) => None,
    }
}

struct Layers {
    file: Option<(PathBuf, toml::Table)>,
    env: BTreeMap<String, String>,
    flags: BTreeMap<&'static str, String>,
    origins: Vec<Origin>,
}

impl Layers {
    /// Where the effective value of `key` (already read) came from.
    fn origin_of(&self, key: &'static str) -> Origin {
        self.origins
            .iter()
            .find(|o| o.key == key)
            .cloned()
            .unwrap_or(Origin {
                key,
                layer: Layer::Default,
            })
    }

    /// The effective value of `key`, parsed; `default` goes through the same
    /// parser, so a bad default fails loudly too.
    fn value<T, E: fmt::Display>(
        &mut self,
        key: &'static str,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        let (value, layer) = self
            .raw(key)?
            .unwrap_or_else(|| (default.to_owned(), Layer::Default));
        let origin = Origin { key, layer };
        match parse(&value) {
            Ok(parsed) => {
                self.origins.push(origin);
                Ok(parsed)
            }
            Err(problem) => Err(ConfigError::Invalid {
                origin,
                value,
                problem: problem.to_string(),
            }),
        }
    }

    /// The highest layer's raw text for `key`. The file entry is always taken
    /// out (and type-checked) so that whatever is left over is unknown.
    fn raw(&mut self, key: &'static str) -> Result<Option<(String, Layer)>, ConfigError> {
        let from_file = match &mut self.file {
            Some((path, table)) => match table.remove(key) {
                Some(value) => Some((scalar_text(value, key, path)?, Layer::File(path.clone()))),
                None => None,
            },
            None => None,
        };
        if let Some(value) = self.flags.get(key) {
            return Ok(Some((value.clone(), Layer::Flag)));
        }
        if let Some(value) = self.env.get(&env_name(key)) {
            return Ok(Some((value.clone(), Layer::Env)));
        }
        Ok(from_file)
    }

    fn reject_unknown_keys(&self) -> Result<(), ConfigError> {
        let Some((path, table)) = &self.file else {
            return Ok(());
        };
        match table.keys().next() {
            None => Ok(()),
            Some(key) => Err(ConfigError::UnknownKey {
                path: path.clone(),
                key: key.clone(),
                known: self
                    .origins
                    .iter()
                    .map(|o| o.key)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// Numbers and booleans are accepted as their text so later non-string keys
/// share one path; tables and arrays are not settings (yet).
fn scalar_text(value: toml::Value, key: &'static str, path: &Path) -> Result<String, ConfigError> {
    match value {
        toml::Value::String(text) => Ok(text),
        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
            Ok(value.to_string())
        }
        other => Err(ConfigError::NotAString {
            origin: Origin {
                key,
                layer: Layer::File(path.to_owned()),
            },
            found: other.type_str(),
        }),
    }
}

fn env_name(key: &str) -> String {
    format!("LANYARD_{}", key.to_ascii_uppercase())
}

fn flag_name(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.layer {
            Layer::Default => write!(f, "default {}", self.key),
            Layer::File(path) => write!(f, "{} in {}", self.key, path.display()),
            Layer::Env => f.write_str(&env_name(self.key)),
            Layer::Flag => f.write_str(&flag_name(self.key)),
        }
    }
}

impl Loaded {
    /// What retention keeps (`serve`'s hourly run and `lanyard prune`).
    pub fn retention(&self) -> lanyard_app::retention::Retention {
        lanyard_app::retention::Retention {
            audit_days: self.audit_retention_days,
            ended_session_days: self.ended_session_retention_days,
        }
    }

    /// The layer `key`'s effective value came from.
    pub fn layer_of(&self, key: &str) -> Option<&Layer> {
        self.origins.iter().find(|o| o.key == key).map(|o| &o.layer)
    }

    /// The effective settings as a TOML document, each line annotated with the
    /// layer it came from; the output is itself a valid config file.
    pub fn to_annotated_toml(&self) -> Result<String, toml::ser::Error> {
        let mut table = toml::Table::try_from(&self.settings)?;
        table.insert(
            "database".into(),
            toml::Value::String(self.database.redacted()),
        );
        let tls_path = |p: Option<&Path>| {
            toml::Value::String(p.map(|p| p.display().to_string()).unwrap_or_default())
        };
        table.insert(
            "tls_cert".into(),
            tls_path(self.tls.as_ref().map(|t| t.certificate.as_path())),
        );
        table.insert(
            "tls_key".into(),
            tls_path(self.tls.as_ref().map(|t| t.key.as_path())),
        );
        table.insert(
            "audit_retention_days".into(),
            toml::Value::Integer(i64::from(self.audit_retention_days)),
        );
        table.insert(
            "ended_session_retention_days".into(),
            toml::Value::Integer(i64::from(self.ended_session_retention_days)),
        );
        table.insert(
            "metrics_listen".into(),
            toml::Value::String(
                self.metrics_listen
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
            ),
        );
        table.insert(
            "log_format".into(),
            toml::Value::String(
                match self.log_format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .into(),
            ),
        );
        let auth = &self.settings.auth;
        let http = &self.settings.http;
        for (key, value) in COUNT_KEYS.into_iter().zip([
            i64::from(auth.max_failures),
            auth.session_idle.whole_minutes(),
            auth.session_max.whole_hours(),
            i64::from(auth.login_attempts_per_minute),
            auth.lockout_duration.whole_minutes(),
            i64::from(auth.user_password_min),
            i64::from(auth.admin_password_min),
            http.header_timeout.whole_seconds(),
            http.body_timeout.whole_seconds(),
            http.idle_timeout.whole_seconds(),
            i64::from(http.max_connections),
            http.drain_delay.whole_seconds(),
            http.shutdown_timeout.whole_seconds(),
            http.tls_handshake_timeout.whole_seconds(),
        ]) {
            table.insert(key.into(), toml::Value::Integer(value));
        }
        table.insert(
            "require_admin_second_factor".into(),
            toml::Value::Boolean(auth.require_admin_second_factor),
        );
        let path_text = |p: &Path| p.display().to_string();
        table.insert(
            "secrets_key_file".into(),
            toml::Value::String(
                self.secrets_key_file
                    .as_deref()
                    .map(path_text)
                    .unwrap_or_default(),
            ),
        );
        let old: Vec<String> = self
            .secrets_old_key_files
            .iter()
            .map(|p| path_text(p))
            .collect();
        table.insert(
            "secrets_old_key_files".into(),
            toml::Value::String(old.join(", ")),
        );
        let proxies: Vec<String> = http
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        table.insert(
            "trusted_proxies".into(),
            toml::Value::String(proxies.join(", ")),
        );
        let mut out = String::new();
        for origin in &self.origins {
            if let Some(value) = table.get(origin.key) {
                let from = match &origin.layer {
                    Layer::Default => "default".to_owned(),
                    Layer::File(path) => format!("from {}", path.display()),
                    Layer::Env | Layer::Flag => format!("from {origin}"),
                };
                out.push_str(&format!("{} = {value}  # {from}\n", origin.key));
            }
        }
        Ok(out)
    }
}
