//! The command line: subcommands and their flags (clap derive).
//!
//! Each subcommand that needs settings flattens [`ConfigArgs`], so `migrate`,
//! `demo`, `admin ...` and `apikey ...` slot in as new [`Command`] variants
//! (nested ones with their own `Subcommand` enum) without touching the others.

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
Each setting (listen, base_url, log) comes from, highest priority first: its flag, \
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
}

impl ConfigArgs {
    /// The flags as the top settings layer, keyed like the config file.
    pub fn flags(&self) -> Flags {
        let values = [
            ("listen", &self.listen),
            ("base_url", &self.base_url),
            ("log", &self.log),
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
        ])
        .unwrap();
        let Command::CheckConfig(args) = cli.command else {
            panic!("expected check-config");
        };
        let loaded = crate::config::load(&args.flags(), std::iter::empty()).unwrap();
        assert!(!loaded.origins.is_empty());
        for origin in &loaded.origins {
            assert_eq!(origin.layer, crate::config::Layer::Flag, "{}", origin.key);
        }
    }
}
