//! The commands that work on the database directly, without a server:
//! `migrate`, `admin create|update|delete|reset-2fa|unlock`, `apikey
//! create`.
//!
//! They are for the operator at the machine (bootstrap, recovery), so they
//! act as the `cli` actor with full rights, through the same use-cases as
//! the REST API (`lanyard_app::admins`): the same rules, and each change
//! written with its audit event in one transaction. Invalid input (bad
//! email, short password, bad key name) exits with status 2 and a message
//! naming the field; anything else that fails exits with 1.

use std::io::{BufRead, IsTerminal, Write};

use std::sync::Arc;

use anyhow::Context;
use lanyard_app::{admins, AuditWriter, Authenticated, Lanyard, Writer};
use lanyard_core::admin::{check_admin_email, check_key_name, Admin, Role};
use lanyard_core::password::check_new_password;
use lanyard_core::store::Store;
use lanyard_core::{Error, SystemClock};
use lanyard_store::secrets::Reencrypt;
use lanyard_store::SqlStore;

use crate::cli::{AdminCreateArgs, AdminEmailArgs, AdminUpdateArgs, ApiKeyCreateArgs};
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

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Connects to the configured database, brings its schema up to date,
/// and opens its secrets: the keyring must match the database (a clear
/// error otherwise, before anything is served), and secrets still stored
/// in the clear (a database from before encryption) are encrypted.
pub async fn open_store(loaded: &Loaded) -> anyhow::Result<SqlStore> {
    let (keyring, source) =
        crate::secrets::load_keyring(loaded, std::env::var(crate::secrets::KEY_ENV).ok())?;
    let store = SqlStore::connect(loaded.database.as_secret_str())
        .await
        .with_context(|| format!("cannot open the database {}", loaded.database))?
        .with_keyring(keyring.clone());
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the database {}", loaded.database))?;
    let report = store
        .check_keyring(time::OffsetDateTime::now_utc())
        .await
        .with_context(|| format!("secrets key from {source}"))?;
    // Reading every secret again only when some are in the clear: at a
    // million users each read is a scan of `users`.
    let upgraded = if report.by_key.get(&None).is_some_and(|n| *n > 0) {
        store
            .reencrypt(Reencrypt::Cleartext)
            .await
            .context("cannot encrypt the secrets stored in the clear")?
    } else {
        0
    };
    if upgraded > 0 {
        tracing::warn!(
            "encrypted {upgraded} secrets stored in the clear with key {}; copies made before \
             (backups, WAL archives) still hold them: rotate the signing keys",
            keyring.current_id()
        );
    }
    tracing::info!("secrets key {} from {source}", keyring.current_id());
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

/// The operator's session with the database: the use-case layer on the
/// configured store, acting as the `cli` actor.
struct Operator {
    store: SqlStore,
    audit: AuditWriter,
    lanyard: Lanyard,
}

impl Operator {
    async fn open(loaded: &Loaded) -> anyhow::Result<Operator> {
        let store = open_store(loaded).await?;
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let audit = AuditWriter::start(shared.clone());
        let lanyard = Lanyard::new(
            loaded.settings.clone(),
            Arc::new(SystemClock),
            shared,
            audit.handle(),
        )?;
        Ok(Operator {
            store,
            audit,
            lanyard,
        })
    }

    fn writer(&self) -> anyhow::Result<Writer> {
        self.lanyard
            .writer(&Authenticated::host_operator(), None)
            .context("the host operator may always write")
    }

    async fn close(self) {
        self.audit.shutdown().await;
        self.store.close().await;
    }
}

pub fn admin_create(args: &AdminCreateArgs, loaded: &Loaded) -> Result<(), Failure> {
    // Check what can be checked before asking for a password.
    let email = check_admin_email(&args.email)?;
    let password = read_password(&email)?;
    check_new_password(&password, loaded.settings.auth.admin_password_min)?;
    let role: Role = args.role.into();
    runtime()?.block_on(async {
        let operator = Operator::open(loaded).await?;
        let created = admins::create_admin(&operator.writer()?, &email, role, password).await;
        operator.close().await;
        let admin = created?;
        eprintln!("created admin {} ({})", admin.email, role.as_str());
        Ok(())
    })
}

pub fn apikey_create(args: &ApiKeyCreateArgs, loaded: &Loaded) -> Result<(), Failure> {
    check_key_name(&args.name)?;
    let role: Role = args.role.into();
    runtime()?.block_on(async {
        let operator = Operator::open(loaded).await?;
        let w = operator.writer()?;
        let expires_at = args
            .expires_in_days
            .map(|days| w.now() + time::Duration::days(days.into()));
        let created = admins::create_key(&w, &args.name, role, expires_at).await;
        operator.close().await;
        let (key, secret) = created?;
        // The key alone on stdout, so `KEY=$(lanyard apikey create ...)` works.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{secret}").context("cannot write the key")?;
        out.flush().context("cannot write the key")?;
        eprintln!(
            "created API key {:?} ({}); it is shown only this once",
            key.name,
            role.as_str()
        );
        Ok(())
    })
}

/// Runs `change` on the admin with `email` as the host operator; the
/// admin is looked up first (`admin ... not found` when missing).
fn on_admin<T>(
    loaded: &Loaded,
    email: &str,
    change: impl AsyncFnOnce(&Writer, Admin) -> Result<T, Error>,
) -> Result<T, Failure> {
    let email = email.trim().to_lowercase();
    runtime()?.block_on(async {
        let operator = Operator::open(loaded).await?;
        let done = async {
            let w = operator.writer()?;
            let admin = w
                .reader()
                .list_admins()
                .await?
                .into_iter()
                .find(|a| a.email == email)
                .ok_or_else(|| Error::not_found("admin", &email))?;
            Ok::<_, Failure>(change(&w, admin).await?)
        }
        .await;
        operator.close().await;
        done
    })
}

pub fn admin_update(args: &AdminUpdateArgs, loaded: &Loaded) -> Result<(), Failure> {
    let change = admins::AdminChange {
        role: args.role.map(Role::from),
        disabled: (args.disable || args.enable).then_some(args.disable),
    };
    let admin = on_admin(loaded, &args.email, async |w, admin| {
        admins::update_admin(w, admin.id, change).await
    })?;
    eprintln!(
        "admin {} is now {}{}",
        admin.email,
        admin.role.as_str(),
        if admin.disabled { " (disabled)" } else { "" }
    );
    Ok(())
}

pub fn admin_delete(args: &AdminEmailArgs, loaded: &Loaded) -> Result<(), Failure> {
    let admin = on_admin(loaded, &args.email, async |w, admin| {
        admins::delete_admin(w, admin.id).await
    })?;
    eprintln!("deleted admin {}", admin.email);
    Ok(())
}

pub fn admin_reset_2fa(args: &AdminEmailArgs, loaded: &Loaded) -> Result<(), Failure> {
    let admin = on_admin(loaded, &args.email, async |w, admin| {
        admins::reset_admin_totp(w, admin.id).await
    })?;
    eprintln!(
        "removed the second factor of admin {} and ended their sessions{}",
        admin.email,
        if loaded.settings.auth.require_admin_second_factor {
            "; they enroll again at their next sign-in"
        } else {
            ""
        }
    );
    Ok(())
}

pub fn admin_unlock(args: &AdminEmailArgs, loaded: &Loaded) -> Result<(), Failure> {
    on_admin(loaded, &args.email, async |w, admin| {
        admins::unlock_admin(w, admin.id).await?;
        Ok(admin)
    })
    .map(|admin| eprintln!("unlocked admin {}", admin.email))
}

/// `lanyard prune`: the hourly retention run of `serve`, now.
pub fn prune(loaded: &Loaded) -> Result<(), Failure> {
    // As in `serve`: the lowest CPU priority, before the runtime and the
    // database connections start their threads (they inherit it).
    crate::retention::lowest_priority();
    runtime()?.block_on(async {
        let op = Operator::open(loaded).await?;
        let started = std::time::Instant::now();
        let pruned = lanyard_app::retention::prune(&op.lanyard, loaded.retention()).await;
        op.close().await;
        let p = pruned?;
        eprintln!(
            "deleted {} audit events, {} sessions (ended now), {} ended sessions from the \
             history and {} expired rows in {:.1} s",
            p.audit_events,
            p.sessions,
            p.ended_sessions,
            p.expired,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })
}

/// `lanyard secrets rotate`: every secret re-encrypted with the current
/// key; then which keys still hold any secret.
pub fn secrets_rotate(loaded: &Loaded) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = open_store(loaded).await?;
        let done = async {
            let rewritten = store
                .reencrypt(Reencrypt::Rotate)
                .await
                .context("cannot re-encrypt the secrets")?;
            let report = store.secrets_report().await?;
            anyhow::Ok((rewritten, report))
        }
        .await;
        store.close().await;
        let (rewritten, report) = done?;
        let (keyring, _) =
            crate::secrets::load_keyring(loaded, std::env::var(crate::secrets::KEY_ENV).ok())?;
        eprintln!(
            "re-encrypted {rewritten} secrets with key {}",
            keyring.current_id()
        );
        for (key, count) in &report.by_key {
            let key = key.as_deref().unwrap_or("(in the clear)");
            eprintln!("  key {key}: {count} secrets");
        }
        let others: Vec<&str> = report
            .by_key
            .keys()
            .flatten()
            .map(String::as_str)
            .filter(|id| *id != keyring.current_id())
            .collect();
        if others.is_empty() {
            eprintln!(
                "every secret uses the current key: the old keys can be removed from \
                 secrets_old_key_files on every node"
            );
        } else {
            eprintln!(
                "still in use: {} (run again once every node has the current key)",
                others.join(", ")
            );
        }
        Ok(())
    })
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
