//! The commands that work on the database directly, without a server:
//! `migrate`, `admin create`, `apikey create`.
//!
//! They are for the operator at the machine (bootstrap, recovery), so they
//! act as the `cli` actor with full rights, and each change is written to the
//! audit log like any other. Invalid input (bad email, short password, bad
//! key name) exits with status 2 and a message naming the field; anything
//! else that fails exits with 1.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use lanyard_core::admin::{check_admin_email, check_key_name, generate_api_key, Actor, Role};
use lanyard_core::audit::AuditEvent;
use lanyard_core::password::{check_password, hash_password};
use lanyard_core::store::{AdminStore, ApiKeyStore, AuditStore};
use lanyard_core::{Clock, Error, SystemClock};
use lanyard_store::SqlStore;

use crate::cli::{AdminCreateArgs, ApiKeyCreateArgs};
use crate::config::Loaded;

/// How a command failed, which decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// The input broke a rule (exit 2); the text names the field.
    Invalid(String),
    /// Anything else (exit 1).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Other(err)
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(fields) => Failure::Invalid(
                fields
                    .iter()
                    .map(|(field, message)| format!("{field}: {message}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => Failure::Other(other.into()),
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Connects to the configured database and brings its schema up to date.
pub async fn open_store(loaded: &Loaded) -> anyhow::Result<SqlStore> {
    let store = SqlStore::connect(loaded.database.as_secret_str())
        .await
        .with_context(|| format!("cannot open the database {}", loaded.database))?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the database {}", loaded.database))?;
    Ok(store)
}

pub fn migrate(loaded: &Loaded) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = open_store(loaded).await?;
        eprintln!(
            "the {} database {} is up to date",
            store.backend(),
            loaded.database
        );
        store.close().await;
        Ok(())
    })
}

pub fn admin_create(args: &AdminCreateArgs, loaded: &Loaded) -> Result<(), Failure> {
    // Check what can be checked before asking for a password.
    let email = check_admin_email(&args.email)?;
    let password = read_password(&email)?;
    check_password(&password)?;
    let hash = hash_password(&password, random()?)?;
    let role: Role = args.role.into();
    runtime()?.block_on(async {
        let store = open_store(loaded).await?;
        let now = SystemClock.now();
        let admin = store.create_admin(&email, role, &hash, now).await?;
        let summary = serde_json::json!({ "email": admin.email, "role": role.as_str() });
        audit(
            &store,
            "admin.create",
            format!("admin:{}", admin.id),
            summary,
        )
        .await?;
        eprintln!("created admin {} ({})", admin.email, role.as_str());
        store.close().await;
        Ok(())
    })
}

pub fn apikey_create(args: &ApiKeyCreateArgs, loaded: &Loaded) -> Result<(), Failure> {
    let name = check_key_name(&args.name)?;
    let role: Role = args.role.into();
    let key = generate_api_key(random()?);
    runtime()?.block_on(async {
        let store = open_store(loaded).await?;
        let now = SystemClock.now();
        let created = store
            .create_api_key(&name, role, &key.prefix, &key.hash, now)
            .await?;
        let summary = serde_json::json!({
            "name": created.name, "role": role.as_str(), "prefix": created.prefix,
        });
        audit(
            &store,
            "apikey.create",
            format!("apikey:{}", created.id),
            summary,
        )
        .await?;
        store.close().await;
        // The key alone on stdout, so `KEY=$(lanyard apikey create ...)` works.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", key.secret).context("cannot write the key")?;
        out.flush().context("cannot write the key")?;
        eprintln!(
            "created API key {:?} ({}); it is shown only this once",
            created.name,
            role.as_str()
        );
        Ok(())
    })
}

/// Written at once, not through the batching writer: a command makes one
/// change and exits.
async fn audit(
    store: &SqlStore,
    action: &str,
    target: String,
    summary: serde_json::Value,
) -> Result<(), Failure> {
    let event = AuditEvent::new(
        SystemClock.now(),
        &Actor::cli().label,
        action,
        target,
        summary.to_string(),
    );
    store.append_audit_events(&[event]).await.map_err(|err| {
        Failure::Other(anyhow::Error::from(err).context("cannot write the audit event"))
    })
}

fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| anyhow::anyhow!("the system RNG failed"))?;
    Ok(out)
}

/// One line from a pipe, or a no-echo prompt (twice) on a terminal.
fn read_password(email: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {email}: "))
            .context("cannot read the password")?;
        let again = rpassword::prompt_password("Repeat the password: ")
            .context("cannot read the password")?;
        if first != again {
            return Err(Failure::Invalid("password: the two entries differ".into()));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    }
}
