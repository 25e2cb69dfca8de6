//! Signing responses: parsed keys cached per app key; RSA-2048 signatures
//! on the async worker that asked, larger keys on the blocking pool.
//!
//! Parsing a PEM key (and checking it against its certificate) costs more
//! than a signature, so parsed [`SigningKey`]s are kept, keyed by the
//! store's key id. The signer is always handed the app's *current* active
//! key (from the per-node SSO cache, which follows the store's
//! `sso_version`), so activating another key takes effect on the next
//! response: the new id misses the cache and is parsed; the app's previous
//! entry is dropped then. An entry is reused only while its certificate is
//! the one the store returned, so even a reused id could not sign with a
//! stale key. At most [`MAX_CACHED_KEYS`] entries are kept (one per app in
//! practice).
//!
//! Where the RSA work runs was measured (issue #7, `bench/sso_throughput.sh`
//! and `bench/sso_breakdown.sh`, 2-core machine, 2026-11-29): handing each
//! RSA-2048 signature (0.65-0.8 ms) to tokio's blocking pool cost 3-4
//! context switches and about 0.2 ms of CPU per response, a fifth of the
//! response; signing on the async worker raised SSO throughput from
//! 0.52-0.56 to 0.72 of the raw RSA rate with the same p99 at half load.
//! The async workers are one per core, so an inline signature occupies a
//! core exactly as a blocking thread would, and the other worker steals
//! queued tasks meanwhile. Keys above [`INLINE_MAX_BITS`] (3072-bit: ~2 ms,
//! 4096-bit: ~5 ms per signature) would hold a worker too long, so they
//! still go to the blocking pool, at most one job per core in flight (a
//! semaphore), so a burst queues asynchronously instead of spawning
//! hundreds of blocking threads that would only share the same cores.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lanyard_core::application::{AppKey, PrivateKeyPem};
use lanyard_core::{AppId, AppKeyId, Error, Result};
use lanyard_saml::response::{Outgoing, SignedResponse, SigningOptions};
use lanyard_saml::SigningKey;
use tokio::sync::Semaphore;

/// Most parsed keys kept.
pub const MAX_CACHED_KEYS: usize = 1024;

/// Largest RSA modulus signed on the async worker.
pub const INLINE_MAX_BITS: usize = 2048;

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
        response: Outgoing,
        opts: SigningOptions,
    ) -> Result<SignedResponse> {
        if let Some(parsed) = self.cached(&key) {
            if parsed.certificate().bits() <= INLINE_MAX_BITS {
                return sign_with(&parsed, &key, response, opts);
            }
        }
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
            sign_with(&signing_key, &key, response, opts)
        })
        .await
        .map_err(|e| Error::Store(format!("signing task failed: {e}")))?
    }

    /// The cached parsed key for `key`, if its certificate is still the
    /// store's.
    fn cached(&self, key: &AppKey) -> Option<Arc<SigningKey>> {
        self.lock()
            .get(&key.id)
            .filter(|hit| hit.certificate_pem == key.certificate_pem)
            .map(|hit| hit.key.clone())
    }

    /// The parsed key for `key`, from the cache or parsed now (on the
    /// blocking thread of the caller).
    fn key_for(&self, key: &AppKey, private_key: &PrivateKeyPem) -> Result<Arc<SigningKey>> {
        if let Some(hit) = self.cached(key) {
            return Ok(hit);
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
    fn cached_ids(&self) -> Vec<AppKeyId> {
        let mut ids: Vec<_> = self.lock().keys().copied().collect();
        ids.sort_by_key(|id| id.0);
        ids
    }
}

fn sign_with(
    signing_key: &SigningKey,
    key: &AppKey,
    response: Outgoing,
    opts: SigningOptions,
) -> Result<SignedResponse> {
    response
        .sign(signing_key, opts)
        .map_err(|e| Error::Store(format!("signing a response for app {}: {e}", key.app_id)))
}

#[cfg(test)]
mod tests {
    use lanyard_saml::{CertificateRequest, RsaBits};
    use time::macros::datetime;

    use super::*;

    fn key(app: i64, id: i64, serial: u8) -> (AppKey, PrivateKeyPem) {
        key_of(RsaBits::B2048, app, id, serial)
    }

    fn key_of(bits: RsaBits, app: i64, id: i64, serial: u8) -> (AppKey, PrivateKeyPem) {
        let k = SigningKey::generate(&CertificateRequest {
            common_name: "signer test".into(),
            bits,
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
        assert_eq!(signer.cached_ids(), vec![AppKeyId(11), AppKeyId(20)]);
        // Same id, another key (as if the id had been reused): not the
        // cached one.
        let reused = AppKey {
            id: AppKeyId(11),
            ..a1.clone()
        };
        let k = signer.key_for(&reused, &p1).unwrap();
        assert_eq!(k.certificate().to_pem(), a1.certificate_pem);
    }

    fn response() -> Outgoing {
        let now = datetime!(2026-01-01 00:00:00 UTC);
        Outgoing::Assertion(Box::new(lanyard_saml::Response::for_sso(
            lanyard_saml::response::SsoParams {
                now,
                response_id: "_r".into(),
                assertion_id: "_a".into(),
                session_index: "_s".into(),
                idp_entity_id: "https://idp.example/saml2/aws".into(),
                acs_url: "https://signin.aws.amazon.com/saml".into(),
                audience: "urn:amazon:webservices".into(),
                name_id: lanyard_saml::response::NameId {
                    value: "alice@example.com".into(),
                    format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
                },
                in_response_to: None,
                authn_instant: now,
                session_not_on_or_after: None,
                attributes: vec![],
            },
        )))
    }

    /// A cached RSA-2048 key signs on the calling task; a first use (the
    /// parse) and larger keys go through the blocking pool, so with the
    /// pool's permits closed only the cached 2048-bit key still signs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cached_2048_bit_keys_sign_inline_and_larger_keys_on_the_pool() {
        let signer = Signer::new();
        let (small, small_pem) = key(1, 10, 1);
        let (large, large_pem) = key_of(RsaBits::B3072, 2, 20, 2);
        let sign = |k: &AppKey, pem: &PrivateKeyPem| {
            signer.sign(
                k.clone(),
                pem.clone(),
                response(),
                SigningOptions::default(),
            )
        };
        let first = sign(&small, &small_pem).await.unwrap();
        let cert_b64 = |k: &AppKey| {
            lanyard_saml::Certificate::from_pem(&k.certificate_pem)
                .unwrap()
                .to_base64()
        };
        assert!(first.xml.contains(&cert_b64(&small)), "{}", first.xml);
        sign(&large, &large_pem).await.unwrap();
        assert_eq!(signer.cached_ids(), vec![AppKeyId(10), AppKeyId(20)]);

        signer.permits.close();
        let inline = sign(&small, &small_pem).await.unwrap();
        assert!(inline.xml.contains("<ds:SignatureValue>"), "{}", inline.xml);
        assert!(inline.xml.contains(&cert_b64(&small)));
        let refused = sign(&large, &large_pem).await.unwrap_err();
        assert_eq!(refused.to_string(), "storage error: response signer closed");
    }
}
