//! The command line: subcommands and their flags (clap derive).
//!
//! Each subcommand that needs settings flattens [`ConfigArgs`]; nested
//! commands (`admin create`, `apikey create`) have their own `Subcommand`
//! enum. Commands that only touch the database (`migrate`, `admin ...`,
//! `apikey ...`) still take every setting flag, so one config file serves
//! them all.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Flags;

/// Lanyard, a self-hosted SAML identity provider.
#[derive(Debug, Parser)]
#[command(name = "lanyard", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const SETTINGS_HELP: &str = "\
Each setting (listen, base_url, log, log_format, database) comes from, highest priority first: its flag, \
the LANYARD_<KEY> environment variable (e.g. LANYARD_BASE_URL), the TOML config file, \
the built-in default.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the identity provider's HTTP server.
    #[command(after_help = SETTINGS_HELP)]
    Serve(ConfigArgs),
    /// Print the effective settings and where each came from, then exit.
    ///
    /// Exits with status 2 if the settings are invalid.
    #[command(after_help = SETTINGS_HELP)]
    CheckConfig(ConfigArgs),
    /// Create the database schema or bring it up to date, then exit.
    #[command(after_help = SETTINGS_HELP)]
    Migrate(ConfigArgs),
    /// Manage admin accounts (works on the database directly).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage API keys (works on the database directly).
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// The key that encrypts signing keys and TOTP secrets in the database.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Write an online, consistent backup of the database to a file (SQLite:
    /// VACUUM INTO; PostgreSQL: pg_dump). The secrets key is not in it.
    #[command(after_help = SETTINGS_HELP)]
    Backup(BackupArgs),
    /// The audit log as JSON lines (the API's fields), oldest first.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Restore a backup into an empty database (checked first; never half
    /// done). The database's secrets key must be configured.
    #[command(after_help = SETTINGS_HELP)]
    Restore(RestoreArgs),
    /// Delete now what retention no longer keeps (old audit events, ended
    /// sessions, spent tokens), in small batches, as `serve` does hourly;
    /// safe while servers run.
    #[command(after_help = SETTINGS_HELP)]
    Prune(ConfigArgs),
    /// Run a seeded demo on a temporary SQLite database: users, a group, an
    /// Amazon AWS app and a built-in stand-in for AWS's sign-in page. Prints
    /// the URLs and credentials; everything is deleted on exit.
    Demo(DemoArgs),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write audit events to standard output, one JSON object per line.
    #[command(after_help = SETTINGS_HELP)]
    Export(AuditExportArgs),
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Only events at or after this RFC 3339 time, e.g. 2026-12-01T00:00:00Z
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep writing new events as they are recorded (until Ctrl-C)
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (replaced when complete)
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to read
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// A `tracing` filter, e.g. info or lanyard=debug
    #[arg(long, default_value = "info")]
    pub log: String,
    /// Seed only the administrator (and its API key): no users, groups or
    /// applications. The AWS stand-in is still mounted, so an application
    /// created in the admin portal can use it as its ACS.
    #[arg(long)]
    pub empty: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin account. The password is read from standard input
    /// when it is not a terminal (one line), else prompted for twice without
    /// echo. There is no default password.
    #[command(after_help = SETTINGS_HELP)]
    Create(AdminCreateArgs),
    /// Change an admin's role, or disable or enable them. The last active
    /// administrator cannot be demoted or disabled.
    #[command(after_help = SETTINGS_HELP)]
    Update(AdminUpdateArgs),
    /// Delete an admin account (not the last active administrator).
    #[command(after_help = SETTINGS_HELP)]
    Delete(AdminEmailArgs),
    /// Break-glass: remove an admin's second factor (a lost authenticator)
    /// and end their sessions. Audited as `admin.totp.reset` by `cli`.
    #[command(name = "reset-2fa", after_help = SETTINGS_HELP)]
    Reset2fa(AdminEmailArgs),
    /// End an admin's lock after failed sign-ins at once.
    #[command(after_help = SETTINGS_HELP)]
    Unlock(AdminEmailArgs),
}

#[derive(Debug, Args)]
pub struct AdminEmailArgs {
    /// The admin's email address
    #[arg(long)]
    pub email: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
pub struct AdminUpdateArgs {
    /// The admin's email address
    #[arg(long)]
    pub email: String,
    /// The new role
    #[arg(long, value_enum, group = "change")]
    pub role: Option<RoleArg>,
    /// Disable the admin (they cannot sign in; their sessions end)
    #[arg(long, group = "change", conflicts_with = "enable")]
    pub disable: bool,
    /// Enable a disabled admin
    #[arg(long, group = "change")]
    pub enable: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct AdminCreateArgs {
    /// The admin's email address (their sign-in name)
    #[arg(long)]
    pub email: String,
    /// What the admin may do
    #[arg(long, value_enum, default_value_t = RoleArg::Administrator)]
    pub role: RoleArg,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Write a new random secrets key to a file (readable by its owner
    /// only). It is used once configured as `secrets_key_file`.
    NewKey {
        /// The file to create (it must not exist)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Re-encrypt every secret with the current key (`secrets_key_file`
    /// or LANYARD_SECRETS_KEY), reading old ones with the keys in
    /// `secrets_old_key_files`, then say which keys are no longer needed.
    #[command(after_help = SETTINGS_HELP)]
    Rotate(ConfigArgs),
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print it (only the key) on standard output.
    /// It is shown this once; only its hash is stored.
    #[command(after_help = SETTINGS_HELP)]
    Create(ApiKeyCreateArgs),
}

#[derive(Debug, Args)]
pub struct ApiKeyCreateArgs {
    /// A name to tell the key apart, e.g. the system that uses it
    #[arg(long)]
    pub name: String,
    /// What the key may do (least privilege by default)
    #[arg(long, value_enum, default_value_t = RoleArg::ReadOnly)]
    pub role: RoleArg,
    /// The key stops working this many days from now (default: never)
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub expires_in_days: Option<u32>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// A role as written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Sees and changes everything
    Administrator,
    /// Sees everything, changes nothing
    ReadOnly,
}

impl From<RoleArg> for lanyard_core::admin::Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Administrator => Self::Administrator,
            RoleArg::ReadOnly => Self::ReadOnly,
        }
    }
}

/// Where settings come from, lowest priority first: built-in defaults, the
/// TOML file, `LANYARD_*` environment variables, these flags.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// TOML config file [env: LANYARD_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    // Help as an attribute, not a doc comment: rustdoc would read the URL
    // and `<listen>` as markup.
    #[arg(
        long,
        value_name = "URL",
        help = "Public base URL, e.g. https://idp.example.com [default: http://<listen>]"
    )]
    pub base_url: Option<String>,
    /// Log filter, e.g. info or lanyard=debug,warn
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// Log lines as text (default) or json (one object per line)
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; reloaded on SIGHUP)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
    #[arg(
        long,
        value_name = "URL",
        help = "Database: sqlite://<file> or postgres://user:pass@host/db [default: sqlite://lanyard.db]"
    )]
    pub database: Option<String>,
}

impl ConfigArgs {
    /// The flags as the top settings layer, keyed like the config file.
    pub fn flags(&self) -> Flags {
        let values = [
            ("listen", &self.listen),
            ("base_url", &self.base_url),
            ("log", &self.log),
            ("log_format", &self.log_format),
            ("tls_cert", &self.tls_cert),
            ("tls_key", &self.tls_key),
            ("database", &self.database),
        ];
        Flags {
            config: self.config.clone(),
            values: values
                .into_iter()
                .filter_map(|(key, value)| Some((key, value.clone()?)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_are_keyed_like_the_config_file() {
        let cli = Cli::try_parse_from([
            "lanyard",
            "serve",
            "--config",
            "x.toml",
            "--base-url",
            "https://idp.example.com",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve");
        };
        let flags = args.flags();
        assert_eq!(flags.config, Some(PathBuf::from("x.toml")));
        assert_eq!(
            flags.values,
            vec![("base_url", "https://idp.example.com".to_owned())]
        );
    }

    #[test]
    fn every_flag_reaches_its_setting() {
        let cli = Cli::try_parse_from([
            "lanyard",
            "check-config",
            "--listen",
            "127.0.0.1:1",
            "--base-url",
            "https://idp.example.com",
            "--log",
            "debug",
            "--database",
            "sqlite://x.db",
        ])
        .unwrap();
        let Command::CheckConfig(args) = cli.command else {
            panic!("expected check-config");
        };
        let loaded = crate::config::load(&args.flags(), std::iter::empty()).unwrap();
        // The four flag keys come from flags; the sign-in limits have no
        // flags (config file and environment only).
        let flagged: Vec<_> = loaded
            .origins
            .iter()
            .filter(|o| o.layer == crate::config::Layer::Flag)
            .map(|o| o.key)
            .collect();
        assert_eq!(flagged, ["listen", "base_url", "log", "database"]);
    }
}

#[cfg(test)]
mod command_tests {
    use super::*;

    #[test]
    fn admin_and_apikey_commands_parse() {
        let cli = Cli::try_parse_from([
            "lanyard",
            "admin",
            "create",
            "--email",
            "a@example.com",
            "--role",
            "read-only",
            "--database",
            "sqlite://x.db",
        ])
        .unwrap();
        let Command::Admin(AdminCommand::Create(args)) = cli.command else {
            panic!("expected admin create");
        };
        assert_eq!(args.role, RoleArg::ReadOnly);
        assert_eq!(args.config.database.as_deref(), Some("sqlite://x.db"));

        let cli = Cli::try_parse_from(["lanyard", "apikey", "create", "--name", "ci"]).unwrap();
        let Command::Apikey(ApiKeyCommand::Create(args)) = cli.command else {
            panic!("expected apikey create");
        };
        assert_eq!(
            args.role,
            RoleArg::ReadOnly,
            "keys default to least privilege"
        );
        assert!(
            Cli::try_parse_from(["lanyard", "admin", "create"]).is_err(),
            "email is required"
        );
        let cli = Cli::try_parse_from([
            "lanyard",
            "apikey",
            "create",
            "--name",
            "ci",
            "--expires-in-days",
            "30",
        ])
        .unwrap();
        let Command::Apikey(ApiKeyCommand::Create(args)) = cli.command else {
            panic!("expected apikey create");
        };
        assert_eq!(args.expires_in_days, Some(30));
        assert!(Cli::try_parse_from([
            "lanyard",
            "apikey",
            "create",
            "--name",
            "ci",
            "--expires-in-days",
            "0"
        ])
        .is_err());
    }

    #[test]
    fn admin_maintenance_commands_parse() {
        let cli =
            Cli::try_parse_from(["lanyard", "admin", "reset-2fa", "--email", "a@x.org"]).unwrap();
        let Command::Admin(AdminCommand::Reset2fa(args)) = cli.command else {
            panic!("expected admin reset-2fa");
        };
        assert_eq!(args.email, "a@x.org");
        let cli = Cli::try_parse_from([
            "lanyard",
            "admin",
            "update",
            "--email",
            "a@x.org",
            "--role",
            "read-only",
        ])
        .unwrap();
        let Command::Admin(AdminCommand::Update(args)) = cli.command else {
            panic!("expected admin update");
        };
        assert_eq!(args.role, Some(RoleArg::ReadOnly));
        assert!(!args.disable && !args.enable);
        let nothing = Cli::try_parse_from(["lanyard", "admin", "update", "--email", "a@x.org"]);
        assert!(nothing.is_err(), "an update must change something");
        let both = Cli::try_parse_from([
            "lanyard",
            "admin",
            "update",
            "--email",
            "a@x.org",
            "--disable",
            "--enable",
        ]);
        assert!(both.is_err(), "--disable and --enable exclude each other");
    }
}
