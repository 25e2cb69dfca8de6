//! Things made from secrets and randomness: random bytes, tokens, fresh API
//! keys, and argon2id password hashes computed and verified off the async
//! runtime.
//!
//! Hashing costs ~19 MiB and tens of milliseconds of CPU per password, so it
//! runs on tokio's blocking pool, and a semaphore caps how many run at once:
//! a burst of user creations must not stall the runtime's worker threads or
//! allocate hundreds of megabytes at once.

use std::sync::Arc;

use lanyard_core::admin::{generate_api_key, GeneratedKey};
use lanyard_core::password::{check_password, hash_password, verify_password};
use lanyard_core::{Error, Result};
use tokio::sync::Semaphore;

/// `N` bytes from the operating system's CSPRNG (via aws-lc).
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| Error::Store("the system RNG failed".into()))?;
    Ok(out)
}

/// 32 random bytes as hex: session tokens, CSRF secrets, one-time form
/// tokens.
pub fn new_token() -> Result<String> {
    Ok(random_bytes::<32>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A new API key; its secret must be shown once and never stored.
pub(crate) fn new_api_key() -> Result<GeneratedKey> {
    Ok(generate_api_key(random_bytes()?))
}

/// Hashes passwords on blocking threads, at most a few at a time.
#[derive(Clone)]
pub(crate) struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl PasswordHasher {
    pub(crate) fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// Checks the password rules at once (cheap), then hashes with a fresh salt.
    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        check_password(&password)?;
        let salt = random_bytes::<16>()?;
        // The permit moves into the blocking job: if the client goes away and
        // this future is dropped, the hash still holds its slot until it ends,
        // so aborted requests cannot push more hashes than cores at once.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Store("password hasher closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_password(&password, salt)
        })
        .await
        .map_err(|e| Error::Store(format!("password hashing task failed: {e}")))?
    }

    /// Checks `password` against a stored hash, under the same permits as
    /// [`hash`](Self::hash). With no hash (an unknown user, or one without a
    /// password) it verifies against a dummy hash with the same parameters
    /// and answers `false`, so the answer takes as long either way and a
    /// timing cannot tell whether an account exists.
    pub(crate) async fn verify(&self, password: String, hash: Option<String>) -> Result<bool> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Store("password hasher closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            match hash {
                Some(hash) => Ok(verify_password(&password, &hash)),
                None => {
                    let _ = verify_password(&password, dummy_hash()?);
                    Ok(false)
                }
            }
        })
        .await
        .map_err(|e| Error::Store(format!("password verification task failed: {e}")))?
    }
}

/// A hash of a random password, made once (on a blocking thread) with the
/// current parameters, for [`PasswordHasher::verify`] to spend the same time
/// on when there is no real hash.
fn dummy_hash() -> Result<&'static str> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let secret: String = random_bytes::<16>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let hash = hash_password(&secret, random_bytes()?)?;
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verification_runs_off_the_runtime_and_fails_without_a_hash() {
        let p = PasswordHasher::new();
        let hash = p.hash("correct horse".into()).await.unwrap();
        assert!(p
            .verify("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!p.verify("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!p.verify("correct horse".into(), None).await.unwrap());
        assert!(dummy_hash().unwrap().starts_with("$argon2id$"));
    }
}
