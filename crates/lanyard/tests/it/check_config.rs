//! `lanyard check-config` and the top-level CLI, run as the built binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn lanyard(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args(args)
        // A clean environment, so LANYARD_* variables of whoever runs the
        // tests cannot leak in.
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Write `text` to a file unique to this test under cargo's test tmpdir.
fn config_file(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn version_and_help() {
    let output = lanyard(&["--version"], &[]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        format!("lanyard {}\n", env!("CARGO_PKG_VERSION"))
    );

    let output = lanyard(&["--help"], &[]);
    assert!(output.status.success());
    let help = stdout(&output);
    assert!(help.contains("serve"), "{help}");
    assert!(help.contains("check-config"), "{help}");
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let output = lanyard(&[], &[]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_config_prints_defaults() {
    let output = lanyard(&["check-config"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "listen = \"127.0.0.1:8080\"  # default\n\
         base_url = \"http://127.0.0.1:8080\"  # default\n\
         log = \"info\"  # default\n\
         database = \"sqlite://lanyard.db\"  # default\n\
         lockout_failures = 5  # default\n\
         session_idle_minutes = 60  # default\n\
         session_max_hours = 12  # default\n\
         login_attempts_per_minute = 30  # default\nlockout_minutes = 15  # default\nuser_password_min_length = 8  # default\nadmin_password_min_length = 12  # default\nrequire_admin_second_factor = false  # default\ntrusted_proxies = \"\"  # default\nhttp_header_timeout_seconds = 10  # default\nhttp_body_timeout_seconds = 30  # default\nhttp_idle_timeout_seconds = 60  # default\nhttp_max_connections = 10000  # default\ndrain_delay_seconds = 0  # default\nshutdown_timeout_seconds = 30  # default\ntls_handshake_timeout_seconds = 10  # default\nlog_format = \"text\"  # default\nmetrics_listen = \"\"  # default\ntls_cert = \"\"  # default\ntls_key = \"\"  # default\naudit_retention_days = 400  # default\nended_session_retention_days = 30  # default\nsecrets_key_file = \"\"  # default\nsecrets_old_key_files = \"\"  # default\n\
         # secrets key: lanyard.db.key (does not exist yet: created at the first start)\n"
    );
}

#[test]
fn check_config_layers_file_env_and_flags() {
    let file = config_file(
        "layers.toml",
        "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\nbase_url = \"https://file.example.com\"\n",
    );
    let output = lanyard(
        &["check-config", "--base-url", "https://flag.example.com/"],
        &[
            ("LANYARD_CONFIG", file.to_str().unwrap()),
            ("LANYARD_LOG", "warn"),
            ("LANYARD_BASE_URL", "https://env.example.com"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "listen = \"127.0.0.1:9000\"  # from {}\n\
             base_url = \"https://flag.example.com\"  # from --base-url\n\
             log = \"warn\"  # from LANYARD_LOG\n\
             database = \"sqlite://lanyard.db\"  # default\n\
             lockout_failures = 5  # default\n\
             session_idle_minutes = 60  # default\n\
             session_max_hours = 12  # default\n\
             login_attempts_per_minute = 30  # default\nlockout_minutes = 15  # default\nuser_password_min_length = 8  # default\nadmin_password_min_length = 12  # default\nrequire_admin_second_factor = false  # default\ntrusted_proxies = \"\"  # default\nhttp_header_timeout_seconds = 10  # default\nhttp_body_timeout_seconds = 30  # default\nhttp_idle_timeout_seconds = 60  # default\nhttp_max_connections = 10000  # default\ndrain_delay_seconds = 0  # default\nshutdown_timeout_seconds = 30  # default\ntls_handshake_timeout_seconds = 10  # default\nlog_format = \"text\"  # default\nmetrics_listen = \"\"  # default\ntls_cert = \"\"  # default\ntls_key = \"\"  # default\naudit_retention_days = 400  # default\nended_session_retention_days = 30  # default\nsecrets_key_file = \"\"  # default\nsecrets_old_key_files = \"\"  # default\n\
         # secrets key: lanyard.db.key (does not exist yet: created at the first start)\n",
            file.display()
        )
    );
}

#[test]
fn check_config_rejects_bad_env_value_with_exit_2() {
    let output = lanyard(&["check-config"], &[("LANYARD_BASE_URL", "ftp://x")]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: LANYARD_BASE_URL: \"ftp://x\" is not an http(s) URL\n"
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn check_config_rejects_unknown_file_key_with_exit_2() {
    let file = config_file("unknown-key.toml", "lisen = \"127.0.0.1:8080\"\n");
    let output = lanyard(&["check-config", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: unknown key `lisen` (known keys: listen, base_url, log, database, lockout_failures, session_idle_minutes, session_max_hours, login_attempts_per_minute, lockout_minutes, user_password_min_length, admin_password_min_length, require_admin_second_factor, trusted_proxies, http_header_timeout_seconds, http_body_timeout_seconds, http_idle_timeout_seconds, http_max_connections, drain_delay_seconds, shutdown_timeout_seconds, tls_handshake_timeout_seconds, log_format, metrics_listen, tls_cert, tls_key, audit_retention_days, ended_session_retention_days, secrets_key_file, secrets_old_key_files)\n",
            file.display()
        )
    );
}

#[test]
fn check_config_rejects_missing_file_with_exit_2() {
    let output = lanyard(
        &["check-config", "--config", "/nonexistent/lanyard.toml"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.starts_with(
            "error: cannot read config file /nonexistent/lanyard.toml (from --config): "
        ),
        "{err}"
    );
}

#[test]
fn serve_refuses_to_start_on_bad_config_with_exit_2() {
    let output = lanyard(&["serve", "--listen", "nowhere"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: --listen: \"nowhere\" is not a socket address (expected IP:PORT, e.g. 127.0.0.1:8080)\n"
    );
}
