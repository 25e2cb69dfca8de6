//! The `lanyard` binary: parses the command line ([`cli`]), loads settings
//! ([`config`]) and runs the chosen subcommand ([`serve`], `check-config`).
//!
//! Exit status: 0 on success, 2 for invalid settings or usage, 1 for any other
//! failure (e.g. the listen address is taken).

mod cli;
mod config;
mod serve;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ConfigArgs};
use crate::config::Loaded;

const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match load(&args) {
            Ok(loaded) => finish(serve::run(loaded)),
            Err(code) => code,
        },
        Command::CheckConfig(args) => match load(&args) {
            Ok(loaded) => finish(check_config(&loaded)),
            Err(code) => code,
        },
    }
}

fn load(args: &ConfigArgs) -> Result<Loaded, ExitCode> {
    // Lossy, so a non-UTF-8 LANYARD_* value is reported as invalid rather
    // than silently ignored.
    let env = std::env::vars_os().map(|(name, value)| {
        (
            name.to_string_lossy().into_owned(),
            value.to_string_lossy().into_owned(),
        )
    });
    config::load(&args.flags(), env).map_err(|err| {
        eprintln!("error: {err}");
        ExitCode::from(EXIT_BAD_CONFIG)
    })
}

fn check_config(loaded: &Loaded) -> anyhow::Result<()> {
    print!("{}", loaded.to_annotated_toml()?);
    Ok(())
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
