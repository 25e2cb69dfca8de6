//! `lanyard backup --to FILE` and `lanyard restore --from FILE`.
//!
//! A backup file is one header line, then the database:
//!
//! ```text
//! LANYARD-BACKUP 1 {"lanyard":"0.1.0","schema":12,"backend":"sqlite","created_at":"...","secrets_keys":["..."]}
//! <SQLite: the database file made by VACUUM INTO | PostgreSQL: pg_dump --format=custom>
//! ```
//!
//! Backups are taken online, consistent, while the server runs (SQLite's
//! `VACUUM INTO`; `pg_dump`, run with the configured connection). A restore
//! checks the header first (format, backend, a schema no newer than this
//! Lanyard knows), goes only into an empty database, and never leaves a
//! half-restored one: SQLite restores into a new file beside the target,
//! checks it (`integrity_check`), migrates it and checks the secrets key
//! against it, and only then renames it into place; PostgreSQL runs
//! `pg_restore --single-transaction`. The secrets key is not in the backup
//! (see docs/SECURITY.md): the restored database needs the key it was
//! encrypted with, and a restore without it fails with a clear message.
//! Every restore starts a new epoch of the apps' `sso_version`
//! (`SqlStore::start_new_epoch`), so nodes kept running never serve SSO
//! inputs they cached before it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use lanyard_store::SqlStore;
use serde::{Deserialize, Serialize};

use crate::commands::runtime;
use crate::config::Loaded;

const MAGIC: &str = "LANYARD-BACKUP 1 ";
/// Longest header line read.
const MAX_HEADER: usize = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    lanyard: String,
    schema: i64,
    backend: String,
    created_at: String,
    /// The secrets keys the database's secrets need (ids only).
    secrets_keys: Vec<String>,
}

/// `lanyard backup --to FILE`.
pub fn backup(loaded: &Loaded, to: &Path) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = crate::commands::open_store(loaded).await?;
        let result = write_backup(loaded, &store, to).await;
        store.close().await;
        let header = result?;
        eprintln!(
            "backed up the {} database (schema {}, secrets key {}) to {}; keep the secrets key \
             apart from it",
            header.backend,
            header.schema,
            header.secrets_keys.join(", "),
            to.display()
        );
        Ok(())
    })
}

async fn write_backup(loaded: &Loaded, store: &SqlStore, to: &Path) -> anyhow::Result<Header> {
    let header = Header {
        lanyard: env!("CARGO_PKG_VERSION").to_owned(),
        schema: store.schema_version().await?,
        backend: store.backend().to_owned(),
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        secrets_keys: store.secrets_report().await?.registered,
    };
    let partial = with_suffix(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let mut out = std::fs::File::create(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    writeln!(out, "{MAGIC}{}", serde_json::to_string(&header)?)?;
    match loaded.database.sqlite_path() {
        Some(_) => {
            let copy = with_suffix(to, ".sqlite-copy");
            let _ = std::fs::remove_file(&copy);
            store.sqlite_copy_into(&copy).await?;
            let copied =
                std::fs::File::open(&copy).and_then(|mut f| std::io::copy(&mut f, &mut out));
            let _ = std::fs::remove_file(&copy);
            copied.context("cannot copy the database into the backup")?;
        }
        None => {
            let status = Command::new(pg_tool("pg_dump")?)
                .args([
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    "--dbname",
                ])
                .arg(loaded.database.as_secret_str())
                .stdout(out.try_clone()?)
                .stderr(Stdio::inherit())
                .status()
                .context("cannot run pg_dump")?;
            if !status.success() {
                let _ = std::fs::remove_file(&partial);
                bail!("pg_dump failed ({status})");
            }
        }
    }
    out.sync_all()?;
    drop(out);
    std::fs::rename(&partial, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(header)
}

/// `lanyard restore --from FILE`.
pub fn restore(loaded: &Loaded, from: &Path) -> anyhow::Result<()> {
    let (header, offset) = read_header(from)?;
    let backend = if loaded.database.sqlite_path().is_some() {
        "sqlite"
    } else {
        "postgres"
    };
    if header.backend != backend {
        bail!(
            "{} is a {} backup; the configured database is {backend}",
            from.display(),
            header.backend
        );
    }
    runtime()?.block_on(async {
        let (keyring, source) = crate::secrets::load_existing_keyring(
            loaded,
            std::env::var(crate::secrets::KEY_ENV).ok(),
        )?;
        match loaded.database.sqlite_path() {
            Some(target) => restore_sqlite(loaded, &header, from, offset, &target, keyring).await,
            None => restore_postgres(loaded, &header, from, offset, keyring).await,
        }
        .with_context(|| {
            format!(
                "restore from {} (secrets key from {source})",
                from.display()
            )
        })
    })?;
    eprintln!(
        "restored {} (Lanyard {}, schema {}, taken {}) into {}",
        from.display(),
        header.lanyard,
        header.schema,
        header.created_at,
        loaded.database
    );
    Ok(())
}

/// The header and the offset of the database after it.
fn read_header(from: &Path) -> anyhow::Result<(Header, u64)> {
    let file =
        std::fs::File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut line = Vec::new();
    BufReader::new(file.take(MAX_HEADER as u64))
        .read_until(b'\n', &mut line)
        .with_context(|| format!("cannot read {}", from.display()))?;
    let text = std::str::from_utf8(&line).unwrap_or("");
    let Some(json) = text.strip_prefix(MAGIC).filter(|_| text.ends_with('\n')) else {
        bail!(
            "{} is not a Lanyard backup (no LANYARD-BACKUP header)",
            from.display()
        );
    };
    let header: Header = serde_json::from_str(json.trim_end())
        .with_context(|| format!("{}: the backup header is unreadable", from.display()))?;
    Ok((header, line.len() as u64))
}

/// Refuses a backup whose schema is newer than this Lanyard's.
fn check_schema(header: &Header, store: &SqlStore) -> anyhow::Result<()> {
    let latest = store.latest_schema();
    if header.schema > latest {
        bail!(
            "the backup was made by a newer Lanyard ({}, schema {}); this one ({}) knows schema \
             {latest}: restore it with that version or later",
            header.lanyard,
            header.schema,
            env!("CARGO_PKG_VERSION")
        );
    }
    Ok(())
}

async fn restore_sqlite(
    loaded: &Loaded,
    header: &Header,
    from: &Path,
    offset: u64,
    target: &Path,
    keyring: std::sync::Arc<lanyard_store::secrets::Keyring>,
) -> anyhow::Result<()> {
    if target.exists() {
        let existing = SqlStore::connect(loaded.database.as_secret_str()).await?;
        let empty = existing.is_empty().await;
        existing.close().await;
        if !empty? {
            bail!(
                "{} is not empty: restore into a new database (another file), then point \
                 Lanyard at it",
                target.display()
            );
        }
    }
    // Into a new file beside the target; it replaces the target only once
    // it is complete, checked and migrated.
    let staged = with_suffix(target, ".restoring");
    for path in [
        staged.clone(),
        with_suffix(&staged, "-wal"),
        with_suffix(&staged, "-shm"),
    ] {
        let _ = std::fs::remove_file(path);
    }
    let mut input = std::fs::File::open(from)?;
    std::io::Seek::seek(&mut input, std::io::SeekFrom::Start(offset))?;
    let mut out = std::fs::File::create(&staged)?;
    std::io::copy(&mut input, &mut out)?;
    out.sync_all()?;
    drop(out);
    let checked = async {
        let url = format!("sqlite://{}", staged.display());
        let store = SqlStore::connect(&url).await?.with_keyring(keyring);
        let result = async {
            store.sqlite_integrity_check().await?;
            check_schema(header, &store)?;
            store.migrate().await?;
            store.check_keyring(time::OffsetDateTime::now_utc()).await?;
            store.start_new_epoch().await?;
            anyhow::Ok(())
        }
        .await;
        store.close().await;
        result
    }
    .await;
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }
    for stale in [with_suffix(target, "-wal"), with_suffix(target, "-shm")] {
        let _ = std::fs::remove_file(stale);
    }
    std::fs::rename(&staged, target)
        .with_context(|| format!("cannot move the restored database to {}", target.display()))?;
    Ok(())
}

async fn restore_postgres(
    loaded: &Loaded,
    header: &Header,
    from: &Path,
    offset: u64,
    keyring: std::sync::Arc<lanyard_store::secrets::Keyring>,
) -> anyhow::Result<()> {
    let url = loaded.database.as_secret_str();
    let store = SqlStore::connect(url).await?.with_keyring(keyring);
    let ready = async {
        check_schema(header, &store)?;
        if !store.is_empty().await? {
            bail!("the database is not empty (it has tables): restore into a new, empty database");
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = ready {
        store.close().await;
        return Err(e);
    }
    let mut input = std::fs::File::open(from)?;
    std::io::Seek::seek(&mut input, std::io::SeekFrom::Start(offset))?;
    let mut child = Command::new(pg_tool("pg_restore")?)
        .args([
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            "--dbname",
        ])
        .arg(url)
        .stdin(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run pg_restore")?;
    let copied = std::io::copy(
        &mut input,
        child.stdin.as_mut().context("pg_restore's input")?,
    );
    drop(child.stdin.take());
    let status = child.wait()?;
    copied.context("cannot feed pg_restore")?;
    if !status.success() {
        store.close().await;
        bail!("pg_restore failed ({status}); nothing was restored (one transaction)");
    }
    let after = async {
        store.migrate().await?;
        store.check_keyring(time::OffsetDateTime::now_utc()).await?;
        // Nodes still running on this database drop their cached app inputs.
        store.start_new_epoch().await?;
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    after
}

/// `pg_dump` / `pg_restore`: from `PG_BIN`, else PostgreSQL 15's Debian
/// directory, else the `PATH`.
fn pg_tool(name: &str) -> anyhow::Result<PathBuf> {
    let dirs = std::env::var_os("PG_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/usr/lib/postgresql/15/bin")]);
    for dir in dirs {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    Ok(PathBuf::from(name))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
