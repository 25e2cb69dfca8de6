//! Signing responses: parsed keys cached per app key, RSA work off the async
//! workers.
//!
//! Parsing a PEM key (and checking it against its certificate) costs more
//! than a signature, so parsed [`SigningKey`]s are kept, keyed by the
//! store's key id. The signer is always handed the app's *current* active
//! key (read from the store on every response), so activating another key
//! takes effect on the next response: the new id misses the cache and is
//! parsed; the app's previous entry is dropped then. An entry is reused
//! only while its certificate is the one the store returned, so even a
//! reused id could not sign with a stale key. At most [`MAX_CACHED_KEYS`]
//! entries are kept (one per app in practice).
//!
//! Measured on the project's 2-core machine (release build, load ~3; a
//! 1-attribute AWS response): signing the Assertion 0.69 ms, Response and
//! Assertion 1.36 ms, parsing a PEM key 0.19 ms. That is 7-14 times the
//! ~100 us an async worker should run between awaits, so parsing and
//! signing run on tokio's blocking pool (a hand-off costs microseconds),
//! and a semaphore keeps at most one job per core in flight: a burst of
//! sign-ins queues asynchronously instead of spawning hundreds of blocking
//! threads that would only share the same cores. The cache saves the
//! parse, about a fifth of each response's CPU.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lanyard_core::application::{AppKey, PrivateKeyPem};
use lanyard_core::{AppId, AppKeyId, Error, Result};
use lanyard_saml::response::{Response, SignedResponse, SigningOptions};
use lanyard_saml::SigningKey;
use tokio::sync::Semaphore;

/// Most parsed keys kept.
pub const MAX_CACHED_KEYS: usize = 1024;

struct Cached {
    app: AppId,
    certificate_pem: String,
    key: Arc<SigningKey>,
}

/// The response signer held in `AppState`. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Signer {
    keys: Arc<Mutex<HashMap<AppKeyId, Cached>>>,
    permits: Arc<Semaphore>,
}

impl Signer {
    pub(crate) fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Signer {
            keys: Arc::default(),
            permits: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// Signs `response` with `key` (the app's active key, with its private
    /// part) as `opts` says.
    pub(crate) async fn sign(
        &self,
        key: AppKey,
        private_key: PrivateKeyPem,
        response: Response,
        opts: SigningOptions,
    ) -> Result<SignedResponse> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Store("response signer closed".into()))?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let signing_key = this.key_for(&key, &private_key)?;
            response.sign(&signing_key, opts).map_err(|e| {
                Error::Store(format!("signing a response for app {}: {e}", key.app_id))
            })
        })
        .await
        .map_err(|e| Error::Store(format!("signing task failed: {e}")))?
    }

    /// The parsed key for `key`, from the cache or parsed now (on the
    /// blocking thread of the caller).
    fn key_for(&self, key: &AppKey, private_key: &PrivateKeyPem) -> Result<Arc<SigningKey>> {
        if let Some(hit) = self.lock().get(&key.id) {
            if hit.certificate_pem == key.certificate_pem {
                return Ok(hit.key.clone());
            }
        }
        let parsed = SigningKey::from_pem(private_key.expose(), &key.certificate_pem)
            .map_err(|e| Error::Store(format!("stored signing key {} is unusable: {e}", key.id)))?;
        let parsed = Arc::new(parsed);
        let mut keys = self.lock();
        // The app's other keys are no longer active: forget them.
        keys.retain(|id, c| c.app != key.app_id || *id == key.id);
        if keys.len() >= MAX_CACHED_KEYS {
            if let Some(victim) = keys.keys().next().copied() {
                keys.remove(&victim);
            }
        }
        keys.insert(
            key.id,
            Cached {
                app: key.app_id,
                certificate_pem: key.certificate_pem.clone(),
                key: parsed.clone(),
            },
        );
        Ok(parsed)
    }

    // Entries are whole values swapped under the lock; a panic elsewhere
    // cannot leave one half-written, so poisoning is ignored.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AppKeyId, Cached>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn cached(&self) -> Vec<AppKeyId> {
        let mut ids: Vec<_> = self.lock().keys().copied().collect();
        ids.sort_by_key(|id| id.0);
        ids
    }
}

#[cfg(test)]
mod tests {
    use lanyard_saml::{CertificateRequest, RsaBits};
    use time::macros::datetime;

    use super::*;

    fn key(app: i64, id: i64, serial: u8) -> (AppKey, PrivateKeyPem) {
        let k = SigningKey::generate(&CertificateRequest {
            common_name: "signer test".into(),
            bits: RsaBits::B2048,
            not_before: datetime!(2025-01-01 00:00:00 UTC),
            not_after: datetime!(2030-01-01 00:00:00 UTC),
            serial: [serial; 16],
        })
        .unwrap();
        (
            AppKey {
                id: AppKeyId(id),
                app_id: AppId(app),
                active: true,
                certificate_pem: k.certificate().to_pem(),
                not_after: datetime!(2030-01-01 00:00:00 UTC),
                created_at: datetime!(2025-01-01 00:00:00 UTC),
            },
            PrivateKeyPem::new(k.private_key_pem().unwrap()),
        )
    }

    #[test]
    fn one_entry_per_app_and_a_changed_certificate_is_reparsed() {
        let signer = Signer::new();
        let (a1, p1) = key(1, 10, 1);
        let (a2, p2) = key(1, 11, 2);
        let (b1, q1) = key(2, 20, 3);
        let first = signer.key_for(&a1, &p1).unwrap();
        assert!(
            Arc::ptr_eq(&first, &signer.key_for(&a1, &p1).unwrap()),
            "cached"
        );
        signer.key_for(&b1, &q1).unwrap();
        let rotated = signer.key_for(&a2, &p2).unwrap();
        assert_eq!(rotated.certificate().to_pem(), a2.certificate_pem);
        assert_eq!(signer.cached(), vec![AppKeyId(11), AppKeyId(20)]);
        // Same id, another key (as if the id had been reused): not the
        // cached one.
        let reused = AppKey {
            id: AppKeyId(11),
            ..a1.clone()
        };
        let k = signer.key_for(&reused, &p1).unwrap();
        assert_eq!(k.certificate().to_pem(), a1.certificate_pem);
    }
}
