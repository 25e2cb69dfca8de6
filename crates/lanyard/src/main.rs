//! The `lanyard` binary: parses the command line ([`cli`]), loads settings
//! ([`config`], [`database`]) and runs the chosen subcommand ([`serve`],
//! `check-config`, the database commands in [`commands`], and [`demo`]).
//!
//! Exit status: 0 on success, 2 for invalid settings, usage or input (e.g. a
//! bad email given to `admin create`), 1 for any other failure (e.g. the
//! listen address is taken, the database cannot be opened).

mod audit_export;
mod backup;
mod cli;
mod commands;
mod config;
mod database;
mod demo;
mod retention;
mod secrets;
mod serve;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{
    AdminCommand, ApiKeyCommand, AuditCommand, Cli, Command, ConfigArgs, SecretsCommand,
};
use crate::commands::Failure;
use crate::config::Loaded;

/// jemalloc instead of glibc malloc: glibc keeps argon2id's 19 MiB working
/// blocks in per-thread arenas after the first sign-ins (measured: 188 MiB
/// idle after 10 sign-ins, 352-589 MiB after a login storm), and mimalloc
/// kept 99-108 MiB; jemalloc returns them (see docs/BENCHMARKS.md).
/// Built unprefixed (`unprefixed_malloc_on_supported_platforms`), so the C
/// code's `malloc` (SQLite, aws-lc) is jemalloc's too: SQLite's memory had
/// sat in glibc's per-thread arenas, one per connection thread, where
/// nothing returns it (docs/RELIABILITY.md, "Soak"). Its tuning variable is
/// then `MALLOC_CONF`.
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
        Command::Audit(AuditCommand::Export(args)) => run(&args.config, |loaded| {
            audit_export::export(&loaded, args.since.as_deref(), args.follow)
                .map_err(Failure::Other)
        }),
        Command::Backup(args) => run(&args.config, |loaded| {
            backup::backup(&loaded, &args.to).map_err(Failure::Other)
        }),
        Command::Prune(args) => run(&args, |loaded| commands::prune(&loaded)),
        Command::Restore(args) => run(&args.config, |loaded| {
            backup::restore(&loaded, &args.from).map_err(Failure::Other)
        }),
        Command::Secrets(SecretsCommand::Rotate(args)) => run(&args, |loaded| {
            commands::secrets_rotate(&loaded).map_err(Failure::Other)
        }),
        Command::Secrets(SecretsCommand::NewKey { out }) => match secrets::write_new_key(&out) {
            Ok(()) => {
                eprintln!(
                    "wrote a new secrets key to {}: configure it as secrets_key_file (see \
                     docs/SECURITY.md for a rotation without downtime)",
                    out.display()
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
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
    // As TOML comments, so the output stays a valid config file.
    for line in secrets_status(loaded) {
        println!("# {line}");
    }
    Ok(())
}

/// Where the secrets key is and whether it matches the database; changes
/// nothing (no key file is created, the database is not migrated).
fn secrets_status(loaded: &Loaded) -> Vec<String> {
    let env_key = std::env::var(secrets::KEY_ENV).ok();
    let mut lines = Vec::new();
    let file = secrets::key_file(loaded);
    match (&env_key, &file) {
        (Some(_), _) => lines.push(format!("secrets key: from {}", secrets::KEY_ENV)),
        (None, Some(path)) if !path.exists() => {
            lines.push(format!(
                "secrets key: {} (does not exist yet: created at the first start)",
                path.display()
            ));
            return lines;
        }
        (None, Some(path)) => lines.push(format!("secrets key: {}", path.display())),
        (None, None)
            if loaded.database.sqlite_path().is_none()
                && loaded.database.as_secret_str().starts_with("sqlite") =>
        {
            lines.push("secrets key: a random one, with the in-memory database".into());
            return lines;
        }
        (None, None) => {
            lines.push(format!(
                "secrets key: none (a PostgreSQL database needs secrets_key_file or {})",
                secrets::KEY_ENV
            ));
            return lines;
        }
    }
    let (keyring, _) = match secrets::load_keyring(loaded, env_key) {
        Ok(k) => k,
        Err(err) => {
            lines.push(format!("secrets key: unusable: {err:#}"));
            return lines;
        }
    };
    lines.push(format!("secrets key id: {}", keyring.current_id()));
    if loaded.database.sqlite_path().is_some_and(|p| !p.exists()) {
        lines.push("the database: does not exist yet".into());
        return lines;
    }
    let checked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                let store = lanyard_store::SqlStore::connect(loaded.database.as_secret_str())
                    .await?
                    .with_keyring(keyring);
                let report = store.verify_keyring().await;
                store.close().await;
                Ok(report?)
            })
        });
    lines.push(match checked {
        Ok(report) => {
            let n: u64 = report.by_key.values().sum();
            format!("the database: matches the secrets key ({n} secrets stored)")
        }
        Err(err) => format!("the database: {err:#}"),
    });
    lines
}
