//! Where the secrets key comes from, for the store's keyring
//! (`lanyard_store::secrets`): the binary's business, since only the binary
//! reads files and the environment.
//!
//! In order:
//! 1. `LANYARD_SECRETS_KEY` (32 bytes in base64), when set;
//! 2. else the file `secrets_key_file`;
//! 3. else, for a SQLite database, the file next to it (`lanyard.db` ->
//!    `lanyard.db.key`). A PostgreSQL database has no such place: every
//!    node must hold the same key, so one of the two above is required.
//!
//! A key file that does not exist yet is created with a new random key,
//! readable by its owner only (`0600`), and the log says so: it must be
//! backed up with the database. (A node that makes its own key for a
//! database that already has one is refused at start by the store's key
//! check, before it writes anything.) `secrets_old_key_files` lists keys
//! still accepted for decryption while a rotation is under way.
//! An in-memory SQLite database gets a random key that lives and dies with
//! it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use lanyard_store::secrets::{Keyring, SecretsKey};

use crate::config::Loaded;

/// The environment variable that may hold the key itself.
pub const KEY_ENV: &str = "LANYARD_SECRETS_KEY";

/// Where this node's current key came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File { path: PathBuf, created: bool },
    Ephemeral,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str(KEY_ENV),
            KeySource::File { path, created } => {
                write!(f, "{}", path.display())?;
                if *created {
                    f.write_str(" (created now: back it up with the database)")?;
                }
                Ok(())
            }
            KeySource::Ephemeral => f.write_str("a random key for this in-memory database"),
        }
    }
}

/// The key file this configuration uses, if any (without creating it).
pub fn key_file(loaded: &Loaded) -> Option<PathBuf> {
    loaded.secrets_key_file.clone().or_else(|| {
        loaded.database.sqlite_path().map(|db| {
            let mut name = db.into_os_string();
            name.push(".key");
            PathBuf::from(name)
        })
    })
}

/// The keyring of this node: the current key (from `env_key`, the key file
/// or a new key file) and the old keys.
pub fn load_keyring(
    loaded: &Loaded,
    env_key: Option<String>,
) -> anyhow::Result<(Arc<Keyring>, KeySource)> {
    keyring(loaded, env_key, true)
}

/// [`load_keyring`] without making a key file: a restore must use the key
/// of the database it restores, never a new one.
pub fn load_existing_keyring(
    loaded: &Loaded,
    env_key: Option<String>,
) -> anyhow::Result<(Arc<Keyring>, KeySource)> {
    keyring(loaded, env_key, false)
}

fn keyring(
    loaded: &Loaded,
    env_key: Option<String>,
    create: bool,
) -> anyhow::Result<(Arc<Keyring>, KeySource)> {
    let (current, source) = match (env_key, key_file(loaded)) {
        (Some(text), _) => (
            SecretsKey::from_text(&text)
                .with_context(|| format!("{KEY_ENV} is not a secrets key"))?,
            KeySource::Env,
        ),
        (None, Some(path)) if !create && !path.exists() => bail!(
            "no secrets key for this database: put the backed-up database's key at {} \
             (or set {KEY_ENV}); without it its signing keys and TOTP secrets cannot be read",
            path.display()
        ),
        (None, Some(path)) => {
            let created = create_if_missing(&path)?;
            (read_key(&path)?, KeySource::File { path, created })
        }
        (None, None) if loaded.database.as_secret_str().starts_with("sqlite") => (
            SecretsKey::from_text(&SecretsKey::generate_text()?)?,
            KeySource::Ephemeral,
        ),
        (None, None) => bail!(
            "a PostgreSQL database needs a secrets key that every node shares: set \
             secrets_key_file (created on first start if missing) or {KEY_ENV}"
        ),
    };
    let old = loaded
        .secrets_old_key_files
        .iter()
        .map(|p| read_key(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((Arc::new(Keyring::new(current, old)), source))
}

fn read_key(path: &Path) -> anyhow::Result<SecretsKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the secrets key file {}", path.display()))?;
    SecretsKey::from_text(&text)
        .with_context(|| format!("{} does not hold a secrets key", path.display()))
}

/// Writes a new key to `path` (owner-only) unless it exists; whether it did.
fn create_if_missing(path: &Path) -> anyhow::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    write_new_key(path)?;
    // On stderr, not only in the log: the CLI commands that open the store
    // log nothing, and whoever ran this must know to keep the file.
    eprintln!(
        "created the secrets key file {}: back it up with the database (without it, a copy \
         of the database cannot be read)",
        path.display()
    );
    Ok(true)
}

/// Writes a new random key to `path`, which must not exist, readable by
/// its owner only.
pub fn write_new_key(path: &Path) -> anyhow::Result<()> {
    let text = SecretsKey::generate_text()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the secrets key file {}", path.display()))?;
    writeln!(file, "{text}")
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the secrets key file {}", path.display()))?;
    Ok(())
}
