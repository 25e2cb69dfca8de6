//! The `lanyard` binary: parses the command line ([`cli`]), loads settings
//! ([`config`], [`database`]) and runs the chosen subcommand ([`serve`],
//! `check-config`, the database commands in [`commands`], and [`demo`]).
//!
//! Exit status: 0 on success, 2 for invalid settings, usage or input (e.g. a
//! bad email given to `admin create`), 1 for any other failure (e.g. the
//! listen address is taken, the database cannot be opened).

mod cli;
mod commands;
mod config;
mod database;
mod demo;
mod serve;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AdminCommand, ApiKeyCommand, Cli, Command, ConfigArgs};
use crate::commands::Failure;
use crate::config::Loaded;

/// jemalloc instead of glibc malloc: glibc keeps argon2id's 19 MiB working
/// blocks in per-thread arenas after the first sign-ins (measured: 188 MiB
/// idle after 10 sign-ins, 352-589 MiB after a login storm), and mimalloc
/// kept 99-108 MiB; jemalloc returns them (see docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => run(&args, |loaded| serve::run(loaded).map_err(Failure::Other)),
        Command::CheckConfig(args) => run(&args, |loaded| {
            check_config(&loaded).map_err(Failure::Other)
        }),
        Command::Migrate(args) => run(&args, |loaded| {
            commands::migrate(&loaded).map_err(Failure::Other)
        }),
        Command::Admin(AdminCommand::Create(args)) => run(&args.config, |loaded| {
            commands::admin_create(&args, &loaded)
        }),
        Command::Admin(AdminCommand::Update(args)) => run(&args.config, |loaded| {
            commands::admin_update(&args, &loaded)
        }),
        Command::Admin(AdminCommand::Delete(args)) => run(&args.config, |loaded| {
            commands::admin_delete(&args, &loaded)
        }),
        Command::Admin(AdminCommand::Reset2fa(args)) => run(&args.config, |loaded| {
            commands::admin_reset_2fa(&args, &loaded)
        }),
        Command::Admin(AdminCommand::Unlock(args)) => run(&args.config, |loaded| {
            commands::admin_unlock(&args, &loaded)
        }),
        Command::Apikey(ApiKeyCommand::Create(args)) => run(&args.config, |loaded| {
            commands::apikey_create(&args, &loaded)
        }),
        Command::Demo(args) => match demo::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
    }
}

/// Loads settings, runs `command` with them, and turns the outcome into the
/// exit status.
fn run(args: &ConfigArgs, command: impl FnOnce(Loaded) -> Result<(), Failure>) -> ExitCode {
    let loaded = match load(args) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    match command(loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Err(Failure::Other(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
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
