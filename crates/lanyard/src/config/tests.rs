//! Layering and error reporting of [`super::load_with`], with no disk and no
//! process environment.

use std::io;
use std::path::{Path, PathBuf};

use super::*;

/// A test world: an optional config file (path, text), env vars and flags.
#[derive(Default)]
struct World {
    file: Option<(&'static str, &'static str)>,
    env: Vec<(&'static str, &'static str)>,
    flags: Flags,
}

impl World {
    fn file(mut self, path: &'static str, text: &'static str) -> Self {
        self.file = Some((path, text));
        self.flags.config = Some(PathBuf::from(path));
        self
    }
    fn env(mut self, name: &'static str, value: &'static str) -> Self {
        self.env.push((name, value));
        self
    }
    fn flag(mut self, key: &'static str, value: &str) -> Self {
        self.flags.values.push((key, value.to_owned()));
        self
    }
    fn load(&self) -> Result<Loaded, ConfigError> {
        let env = self.env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let file = self.file;
        load_with(&self.flags, env, |path: &Path| match file {
            Some((name, text)) if path == Path::new(name) => Ok(text.to_owned()),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "No such file")),
        })
    }
    fn ok(&self) -> Loaded {
        self.load().unwrap()
    }
    fn err(&self) -> String {
        self.load().unwrap_err().to_string()
    }
}

fn file_layer(path: &str) -> Layer {
    Layer::File(PathBuf::from(path))
}

#[test]
fn defaults_alone() {
    let loaded = World::default().ok();
    assert_eq!(loaded.settings.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(loaded.settings.base_url.as_str(), "http://127.0.0.1:8080");
    assert_eq!(loaded.settings.log, "info");
    for key in ["listen", "base_url", "log"] {
        assert_eq!(loaded.layer_of(key), Some(&Layer::Default), "{key}");
    }
}

#[test]
fn file_overrides_defaults() {
    let loaded = World::default()
        .file(
            "lanyard.toml",
            "listen = \"0.0.0.0:9000\"\nbase_url = \"https://idp.example.com/\"\nlog = \"debug\"\n",
        )
        .ok();
    assert_eq!(loaded.settings.listen, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(loaded.settings.base_url.as_str(), "https://idp.example.com");
    assert_eq!(loaded.settings.log, "debug");
    for key in ["listen", "base_url", "log"] {
        assert_eq!(
            loaded.layer_of(key),
            Some(&file_layer("lanyard.toml")),
            "{key}"
        );
    }
}

#[test]
fn env_overrides_file() {
    let loaded = World::default()
        .file(
            "lanyard.toml",
            "listen = \"0.0.0.0:9000\"\nbase_url = \"https://file.example.com\"\nlog = \"debug\"\n",
        )
        .env("LANYARD_LISTEN", "127.0.0.2:9001")
        .env("LANYARD_BASE_URL", "https://env.example.com")
        .env("LANYARD_LOG", "warn")
        .ok();
    assert_eq!(loaded.settings.listen, "127.0.0.2:9001".parse().unwrap());
    assert_eq!(loaded.settings.base_url.as_str(), "https://env.example.com");
    assert_eq!(loaded.settings.log, "warn");
    for key in ["listen", "base_url", "log"] {
        assert_eq!(loaded.layer_of(key), Some(&Layer::Env), "{key}");
    }
}

#[test]
fn flags_override_env() {
    let loaded = World::default()
        .file("lanyard.toml", "log = \"debug\"\n")
        .env("LANYARD_LISTEN", "127.0.0.2:9001")
        .env("LANYARD_BASE_URL", "https://env.example.com")
        .env("LANYARD_LOG", "warn")
        .flag("listen", "127.0.0.3:9002")
        .flag("base_url", "https://flag.example.com")
        .flag("log", "error")
        .ok();
    assert_eq!(loaded.settings.listen, "127.0.0.3:9002".parse().unwrap());
    assert_eq!(
        loaded.settings.base_url.as_str(),
        "https://flag.example.com"
    );
    assert_eq!(loaded.settings.log, "error");
    for key in ["listen", "base_url", "log"] {
        assert_eq!(loaded.layer_of(key), Some(&Layer::Flag), "{key}");
    }
}

#[test]
fn default_base_url_follows_the_effective_listen_address() {
    let loaded = World::default().env("LANYARD_LISTEN", "[::1]:9443").ok();
    assert_eq!(loaded.settings.base_url.as_str(), "http://[::1]:9443");
    assert_eq!(loaded.layer_of("base_url"), Some(&Layer::Default));
}

#[test]
fn config_path_comes_from_env_when_no_flag() {
    let world = World {
        file: Some(("/etc/lanyard.toml", "log = \"trace\"")),
        env: vec![("LANYARD_CONFIG", "/etc/lanyard.toml")],
        flags: Flags::default(),
    };
    assert_eq!(world.ok().settings.log, "trace");
}

#[test]
fn config_flag_wins_over_config_env() {
    let loaded = World::default()
        .file("flag.toml", "log = \"trace\"")
        .env("LANYARD_CONFIG", "env.toml")
        .ok();
    assert_eq!(loaded.settings.log, "trace");
    assert_eq!(loaded.layer_of("log"), Some(&file_layer("flag.toml")));
}

#[test]
fn unrelated_env_vars_are_ignored() {
    let loaded = World::default()
        .env("LOG", "debug")
        .env("LISTEN", "nonsense")
        .env("LANYARD_SOMETHING_ELSE", "x")
        .ok();
    assert_eq!(loaded.settings.log, "info");
}

#[test]
fn integer_values_in_the_file_are_read_as_text() {
    // Not a valid address, but it proves the value reached the parser.
    let err = World::default().file("l.toml", "listen = 8080").err();
    assert_eq!(
        err,
        "listen in l.toml: \"8080\" is not a socket address (expected IP:PORT, e.g. 127.0.0.1:8080)"
    );
}

#[test]
fn unknown_toml_key_is_rejected_by_name() {
    let err = World::default()
        .file(
            "lanyard.toml",
            "listen = \"127.0.0.1:8080\"\nbase-url = \"https://x\"\n",
        )
        .err();
    assert_eq!(
        err,
        "lanyard.toml: unknown key `base-url` (known keys: listen, base_url, log, database, lockout_failures, session_idle_minutes, session_max_hours, login_attempts_per_minute, lockout_minutes, user_password_min_length, admin_password_min_length, require_admin_second_factor, trusted_proxies, http_header_timeout_seconds, http_body_timeout_seconds, http_idle_timeout_seconds, http_max_connections, drain_delay_seconds, shutdown_timeout_seconds, tls_handshake_timeout_seconds, log_format, metrics_listen, tls_cert, tls_key, audit_retention_days, ended_session_retention_days, secrets_key_file, secrets_old_key_files)"
    );
}

#[test]
fn unknown_toml_table_is_rejected_by_name() {
    let err = World::default()
        .file("lanyard.toml", "[server]\nlisten = \"127.0.0.1:8080\"\n")
        .err();
    assert_eq!(
        err,
        "lanyard.toml: unknown key `server` (known keys: listen, base_url, log, database, lockout_failures, session_idle_minutes, session_max_hours, login_attempts_per_minute, lockout_minutes, user_password_min_length, admin_password_min_length, require_admin_second_factor, trusted_proxies, http_header_timeout_seconds, http_body_timeout_seconds, http_idle_timeout_seconds, http_max_connections, drain_delay_seconds, shutdown_timeout_seconds, tls_handshake_timeout_seconds, log_format, metrics_listen, tls_cert, tls_key, audit_retention_days, ended_session_retention_days, secrets_key_file, secrets_old_key_files)"
    );
}

#[test]
fn bad_base_url_names_key_and_source() {
    assert_eq!(
        World::default().env("LANYARD_BASE_URL", "ftp://x").err(),
        "LANYARD_BASE_URL: \"ftp://x\" is not an http(s) URL"
    );
    assert_eq!(
        World::default()
            .flag("base_url", "https://idp.example.com/?a=b")
            .err(),
        "--base-url: \"https://idp.example.com/?a=b\" must not have a query string"
    );
    assert_eq!(
        World::default()
            .file(
                "conf/lanyard.toml",
                "base_url = \"https://idp.example.com/#x\""
            )
            .err(),
        "base_url in conf/lanyard.toml: \"https://idp.example.com/#x\" must not have a fragment"
    );
}

#[test]
fn bad_listen_names_key_and_source() {
    assert_eq!(
        World::default().env("LANYARD_LISTEN", "localhost:8080").err(),
        "LANYARD_LISTEN: \"localhost:8080\" is not a socket address (expected IP:PORT, e.g. 127.0.0.1:8080)"
    );
    assert_eq!(
        World::default().flag("listen", "127.0.0.1").err(),
        "--listen: \"127.0.0.1\" is not a socket address (expected IP:PORT, e.g. 127.0.0.1:8080)"
    );
    assert_eq!(
        World::default()
            .file("l.toml", "listen = [\"127.0.0.1:1\"]")
            .err(),
        "listen in l.toml: expected a string, found array"
    );
}

#[test]
fn a_bad_value_is_reported_even_when_a_higher_layer_is_fine() {
    // The file is wrong regardless of the override; say so rather than
    // leaving a trap for the day the flag is removed.
    let err = World::default()
        .file("l.toml", "listen = [1]")
        .flag("listen", "127.0.0.1:1")
        .err();
    assert_eq!(err, "listen in l.toml: expected a string, found array");
}

#[test]
fn bad_log_filter_names_key_and_source() {
    let err = World::default().env("LANYARD_LOG", "lanyard=loud").err();
    assert!(
        err.starts_with("LANYARD_LOG: \"lanyard=loud\" is not a valid log filter: "),
        "{err}"
    );
}

#[test]
fn unreadable_config_file_names_path_and_source() {
    let err = World::default().env("LANYARD_CONFIG", "/nope.toml").err();
    assert_eq!(
        err,
        "cannot read config file /nope.toml (from LANYARD_CONFIG): No such file"
    );
}

#[test]
fn invalid_toml_names_the_file_and_line() {
    let err = World::default().file("bad.toml", "listen = ").err();
    assert!(
        err.starts_with("bad.toml: TOML parse error at line 1"),
        "{err}"
    );
}

#[test]
fn annotated_toml_shows_each_value_and_its_layer() {
    let loaded = World::default()
        .file("lanyard.toml", "log = \"debug\"")
        .env("LANYARD_LISTEN", "127.0.0.1:9000")
        .flag("base_url", "https://idp.example.com/")
        .ok();
    assert_eq!(
        loaded.to_annotated_toml().unwrap(),
        "listen = \"127.0.0.1:9000\"  # from LANYARD_LISTEN\n\
         base_url = \"https://idp.example.com\"  # from --base-url\n\
         log = \"debug\"  # from lanyard.toml\n\
         database = \"sqlite://lanyard.db\"  # default\n\
         lockout_failures = 5  # default\n\
         session_idle_minutes = 60  # default\n\
         session_max_hours = 12  # default\n\
         login_attempts_per_minute = 30  # default\nlockout_minutes = 15  # default\nuser_password_min_length = 8  # default\nadmin_password_min_length = 12  # default\nrequire_admin_second_factor = false  # default\ntrusted_proxies = \"\"  # default\nhttp_header_timeout_seconds = 10  # default\nhttp_body_timeout_seconds = 30  # default\nhttp_idle_timeout_seconds = 60  # default\nhttp_max_connections = 10000  # default\ndrain_delay_seconds = 0  # default\nshutdown_timeout_seconds = 30  # default\ntls_handshake_timeout_seconds = 10  # default\nlog_format = \"text\"  # default\nmetrics_listen = \"\"  # default\ntls_cert = \"\"  # default\ntls_key = \"\"  # default\naudit_retention_days = 400  # default\nended_session_retention_days = 30  # default\nsecrets_key_file = \"\"  # default\nsecrets_old_key_files = \"\"  # default\n"
    );
}

#[test]
fn database_defaults_to_a_local_sqlite_file_and_layers_like_the_rest() {
    let loaded = World::default().ok();
    assert_eq!(loaded.database.as_secret_str(), "sqlite://lanyard.db");
    assert_eq!(loaded.layer_of("database"), Some(&Layer::Default));

    let loaded = World::default()
        .file("l.toml", "database = \"sqlite:///var/lib/lanyard.db\"")
        .env("LANYARD_DATABASE", "postgres://u:pw@db/lanyard")
        .ok();
    assert_eq!(
        loaded.database.as_secret_str(),
        "postgres://u:pw@db/lanyard"
    );
    assert_eq!(loaded.layer_of("database"), Some(&Layer::Env));
    let shown = loaded.to_annotated_toml().unwrap();
    assert!(
        shown.contains("database = \"postgres://u:***@db/lanyard\"  # from LANYARD_DATABASE"),
        "{shown}"
    );
    assert!(!shown.contains("pw@"), "{shown}");

    let loaded = World::default()
        .env("LANYARD_DATABASE", "postgres://db/x")
        .flag("database", "postgresql://db/y")
        .ok();
    assert_eq!(loaded.database.as_secret_str(), "postgresql://db/y");
}

#[test]
fn bad_database_names_key_and_source() {
    assert_eq!(
        World::default().env("LANYARD_DATABASE", "mysql://db/x").err(),
        "LANYARD_DATABASE: \"mysql://db/x\" is not a database URL (expected sqlite://<file> or postgres://...)"
    );
    assert_eq!(
        World::default().flag("database", "sqlite://").err(),
        "--database: \"sqlite://\" names no database (expected e.g. sqlite://lanyard.db)"
    );
}

#[test]
fn sign_in_limits_come_from_file_and_env() {
    let loaded = World::default()
        .file(
            "l.toml",
            "lockout_failures = 3\nsession_idle_minutes = 15\nsession_max_hours = 8\n",
        )
        .env("LANYARD_LOGIN_ATTEMPTS_PER_MINUTE", "100")
        .ok();
    let auth = &loaded.settings.auth;
    assert_eq!(auth.max_failures, 3);
    assert_eq!(auth.session_idle, time::Duration::minutes(15));
    assert_eq!(auth.session_max, time::Duration::hours(8));
    assert_eq!(auth.login_attempts_per_minute, 100);
    let printed = loaded.to_annotated_toml().unwrap();
    assert!(
        printed.contains("lockout_failures = 3  # from l.toml"),
        "{printed}"
    );
    assert!(
        printed
            .contains("login_attempts_per_minute = 100  # from LANYARD_LOGIN_ATTEMPTS_PER_MINUTE"),
        "{printed}"
    );
    assert_eq!(World::default().ok().settings.auth, AuthSettings::default());
    let e = World::default().env("LANYARD_LOCKOUT_FAILURES", "0").err();
    assert!(e.contains("LANYARD_LOCKOUT_FAILURES"), "{e}");
    assert!(
        e.contains("must be a whole number between 1 and 100"),
        "{e}"
    );
}

#[test]
fn account_rules_come_from_file_and_env() {
    let loaded = World::default()
        .file(
            "l.toml",
            "lockout_minutes = 30\nadmin_password_min_length = 16\n\
             require_admin_second_factor = true\n",
        )
        .env("LANYARD_USER_PASSWORD_MIN_LENGTH", "10")
        .ok();
    let auth = &loaded.settings.auth;
    assert_eq!(auth.lockout_duration, time::Duration::minutes(30));
    assert_eq!((auth.user_password_min, auth.admin_password_min), (10, 16));
    assert!(auth.require_admin_second_factor);
    let printed = loaded.to_annotated_toml().unwrap();
    assert!(
        printed.contains("require_admin_second_factor = true  # from l.toml"),
        "{printed}"
    );
    assert!(
        printed.contains("user_password_min_length = 10  # from LANYARD_USER_PASSWORD_MIN_LENGTH"),
        "{printed}"
    );
    assert_eq!(
        World::default()
            .env("LANYARD_REQUIRE_ADMIN_SECOND_FACTOR", "yes")
            .err(),
        "LANYARD_REQUIRE_ADMIN_SECOND_FACTOR: \"yes\" must be true or false"
    );
    let e = World::default()
        .env("LANYARD_ADMIN_PASSWORD_MIN_LENGTH", "6")
        .err();
    assert!(
        e.contains("must be a whole number between 8 and 256"),
        "{e}"
    );
}

#[test]
fn the_http_edge_comes_from_file_and_env() {
    let loaded = World::default()
        .file(
            "l.toml",
            "trusted_proxies = \"10.0.0.0/8, 192.0.2.7\"\nhttp_header_timeout_seconds = 5\n",
        )
        .env("LANYARD_HTTP_MAX_CONNECTIONS", "200")
        .ok();
    let http = &loaded.settings.http;
    assert_eq!(http.trusted_proxies.len(), 2);
    assert!(http.is_trusted("192.0.2.7".parse().unwrap()));
    assert_eq!(http.header_timeout, time::Duration::seconds(5));
    assert_eq!(http.max_connections, 200);
    let printed = loaded.to_annotated_toml().unwrap();
    assert!(
        printed.contains("trusted_proxies = \"10.0.0.0/8, 192.0.2.7/32\"  # from l.toml"),
        "{printed}"
    );
    assert_eq!(
        World::default()
            .env("LANYARD_TRUSTED_PROXIES", "10.0.0.0/8 proxy")
            .err(),
        "LANYARD_TRUSTED_PROXIES: \"10.0.0.0/8 proxy\" contains \"proxy\", which is not an IP address or CIDR block"
    );
}
