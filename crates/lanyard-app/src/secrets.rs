//! Things made from secrets and randomness: random bytes, tokens, fresh API
//! keys, and argon2id password hashes computed and verified off the async
//! runtime.
//!
//! Hashing costs ~19 MiB and tens of milliseconds of CPU per password, so it
//! runs on tokio's blocking pool, and a semaphore caps how many run at once:
//! a burst of user creations must not stall the runtime's worker threads or
//! allocate hundreds of megabytes at once.
//!
//! Verifications reuse their 19 MiB of working memory while sign-ins keep
//! coming ([`MemoryPool`]): allocated afresh each time, the memory was a
//! fresh mapping each time (jemalloc hands allocations that large back to
//! the system at once), and page-faulting it in cost more CPU than half
//! the hash (issue #28). When the last verification in flight ends, the
//! kept memory is freed, so an idle server holds none of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use lanyard_core::admin::{generate_api_key, GeneratedKey};
use lanyard_core::password::{check_password, hash_password, verify_password_in, Memory};
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
    memory: Arc<MemoryPool>,
}

/// The working memory of verifications, kept only while verifications are
/// in flight or waiting: at most one per permit.
#[derive(Default)]
struct MemoryPool {
    idle: Mutex<Vec<Memory>>,
    /// Verifications asked for and not yet ended (waiting or running).
    wanted: AtomicUsize,
    /// Verifications that ran in kept memory (for tests).
    #[cfg(test)]
    reused: AtomicUsize,
}

/// One verification's claim on the pool, from the ask to its end.
struct Wanted(Arc<MemoryPool>);

impl MemoryPool {
    fn want(self: &Arc<Self>) -> Wanted {
        self.wanted.fetch_add(1, Ordering::AcqRel);
        Wanted(self.clone())
    }

    fn take(&self) -> Memory {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        #[cfg(test)]
        if kept.is_some() {
            self.reused.fetch_add(1, Ordering::Relaxed);
        }
        kept.unwrap_or_default()
    }

    /// Keeps `memory` for the next verification if another one is in
    /// flight or waiting; otherwise lets it go.
    fn give(&self, memory: Memory) {
        if self.wanted.load(Ordering::Acquire) > 1 {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(memory);
        }
    }
}

impl Drop for Wanted {
    fn drop(&mut self) {
        if self.0.wanted.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last one: free what is kept (outside the lock).
            let kept =
                std::mem::take(&mut *self.0.idle.lock().unwrap_or_else(PoisonError::into_inner));
            drop(kept);
        }
    }
}

impl PasswordHasher {
    pub(crate) fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cpus)),
            memory: Arc::default(),
        }
    }

    /// Working memory kept for verifications now (for tests).
    #[cfg(test)]
    fn kept_memories(&self) -> usize {
        self.memory
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
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
        let wanted = self.memory.want();
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Store("password hasher closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut memory = wanted.0.take();
            let verified = match hash {
                Some(hash) => Ok(verify_password_in(&password, &hash, &mut memory)),
                None => dummy_hash().map(|dummy| {
                    let _ = verify_password_in(&password, dummy, &mut memory);
                    false
                }),
            };
            wanted.0.give(memory);
            drop(wanted);
            verified
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
        assert_eq!(p.kept_memories(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_verifications_reuses_memory_and_frees_it_after() {
        let p = PasswordHasher::new();
        let hash = p.hash("correct horse".into()).await.unwrap();
        let permits = p.permits.available_permits();
        // Spawned at once: each asks long before the first (~20 ms) ends.
        let burst: Vec<_> = (0..permits + 4)
            .map(|i| {
                let (p, hash) = (p.clone(), hash.clone());
                let password = if i % 2 == 0 { "correct horse" } else { "wrong" };
                tokio::spawn(async move { p.verify(password.into(), Some(hash)).await })
            })
            .collect();
        let mut answers = Vec::new();
        for task in burst {
            answers.push(task.await.unwrap().unwrap());
        }
        assert_eq!(
            answers,
            (0..permits + 4).map(|i| i % 2 == 0).collect::<Vec<_>>()
        );
        // More verifications than permits: the later ones ran in memory an
        // earlier one left; none is kept once the burst is over.
        assert!(p.memory.reused.load(Ordering::Relaxed) >= 4);
        assert_eq!(p.kept_memories(), 0);
        assert_eq!(p.memory.wanted.load(Ordering::Relaxed), 0);
    }
}
