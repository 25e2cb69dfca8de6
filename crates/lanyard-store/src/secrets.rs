//! Secrets at rest: signing keys' private halves and TOTP secrets are
//! stored encrypted, with a key that is not in the database.
//!
//! A [`Keyring`] holds the *current* key (what new secrets are encrypted
//! with) and any *old* keys (still accepted for decryption during a
//! rotation). Each key has an id: 16 hex digits of the SHA-256 of the key,
//! so two nodes with the same key agree on it and a wrong key cannot claim
//! another's id. A stored secret is text:
//!
//! ```text
//! v1:<key id>:<base64 of 12-byte nonce || AES-256-GCM ciphertext and tag>
//! ```
//!
//! with the secret's identity as associated data ([`Aad`]): an app key's
//! certificate fingerprint, or the account and column of a TOTP secret, so
//! a ciphertext moved to another row (or from `totp_pending` to
//! `totp_secret`) no longer decrypts. Nonces are random (96 bits; a key
//! encrypts at most a few thousand secrets in its life).
//!
//! The store encrypts on write and decrypts on read; the rest of Lanyard
//! only ever sees plaintext. Which keys a database needs is recorded in the
//! `secrets_keys` table and checked when the store opens
//! ([`crate::SqlStore::check_keyring`]), so a node with the wrong key
//! refuses to start rather than failing inside a request.

use std::fmt;

use aws_lc_rs::aead::{Aad as AeadAad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest::{digest, SHA256};
use base64::Engine as _;
use lanyard_core::{Error, Result};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const PREFIX: &str = "v1:";

/// A 256-bit secrets key and its id.
pub struct SecretsKey {
    id: String,
    key: LessSafeKey,
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SecretsKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        let id: String = digest(&SHA256, bytes).as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| Error::Store("cannot use the secrets key".into()))?;
        Ok(SecretsKey {
            id,
            key: LessSafeKey::new(key),
        })
    }

    /// A key written as text: 32 bytes in base64 (what
    /// [`SecretsKey::generate_text`] makes; surrounding whitespace is
    /// ignored).
    pub fn from_text(text: &str) -> Result<Self> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| Error::Store("a secrets key must be 32 bytes in base64".into()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::Store("a secrets key must be 32 bytes in base64".into()))?;
        Self::from_bytes(&bytes)
    }

    /// A new random key, as the text [`SecretsKey::from_text`] reads.
    pub fn generate_text() -> Result<String> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| Error::Store("the system RNG failed".into()))?;
        Ok(B64.encode(bytes))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// What a secret is, bound into its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aad {
    /// An application signing key's private half, by its certificate.
    AppKey { certificate_pem: String },
    /// A TOTP secret of an account (`user:12`, `admin:3`), `pending` for
    /// one still being enrolled.
    Totp { account: String, pending: bool },
}

impl Aad {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Aad::AppKey { certificate_pem } => {
                let fingerprint: String = digest(&SHA256, certificate_pem.trim().as_bytes())
                    .as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("lanyard:app_keys:{fingerprint}").into_bytes()
            }
            Aad::Totp { account, pending } => {
                let column = if *pending {
                    "totp_pending"
                } else {
                    "totp_secret"
                };
                format!("lanyard:{column}:{account}").into_bytes()
            }
        }
    }
}

/// The keys a node holds: the current one, and old ones accepted for
/// decryption while a rotation is under way.
#[derive(Debug)]
pub struct Keyring {
    current: SecretsKey,
    old: Vec<SecretsKey>,
}

impl Keyring {
    pub fn new(current: SecretsKey, old: Vec<SecretsKey>) -> Self {
        let old = old.into_iter().filter(|k| k.id != current.id).collect();
        Keyring { current, old }
    }

    /// The current key's id.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Every key id this keyring can decrypt with.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(self.current.id.as_str())
            .chain(self.old.iter().map(|k| k.id.as_str()))
            .collect()
    }

    /// Encrypts `plaintext` with the current key.
    pub fn encrypt(&self, aad: &Aad, plaintext: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| Error::Store("the system RNG failed".into()))?;
        let mut sealed = plaintext.as_bytes().to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                AeadAad::from(aad.bytes()),
                &mut sealed,
            )
            .map_err(|_| Error::Store("encrypting a secret failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}:{}", self.current.id, B64.encode(out)))
    }

    /// Decrypts a stored secret. An unknown key id or a failed
    /// authentication (the wrong key, a swapped row, tampering) is a
    /// `Store` error naming the key id, never the secret.
    pub fn decrypt(&self, aad: &Aad, stored: &str) -> Result<String> {
        let Some((id, body)) = stored.strip_prefix(PREFIX).and_then(|r| r.split_once(':')) else {
            return Err(Error::Store(
                "a secret is stored in the clear (the database was not migrated with a secrets key)"
                    .into(),
            ));
        };
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| {
                Error::Store(format!(
                    "a secret is encrypted with key {id}, which this node does not have (it has {})",
                    self.ids().join(", ")
                ))
            })?;
        let raw = B64
            .decode(body)
            .map_err(|_| Error::Store(format!("a secret encrypted with key {id} is not base64")))?;
        if raw.len() < NONCE_LEN {
            return Err(Error::Store(format!(
                "a secret encrypted with key {id} is truncated"
            )));
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| Error::Store("a secret's nonce is malformed".into()))?;
        let mut in_out = sealed.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, AeadAad::from(aad.bytes()), &mut in_out)
            .map_err(|_| {
                Error::Store(format!(
                    "a secret encrypted with key {id} does not decrypt (wrong key, or moved or changed in the database)"
                ))
            })?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| Error::Store("a decrypted secret is not UTF-8".into()))
    }

    /// Whether `stored` is an encrypted secret (any key).
    pub fn is_encrypted(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// The key id of an encrypted secret.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        stored.strip_prefix(PREFIX)?.split(':').next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretsKey {
        SecretsKey::from_bytes(&[n; 32]).unwrap()
    }

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";

    #[test]
    fn secrets_round_trip_and_are_bound_to_their_row() {
        let ring = Keyring::new(key(1), vec![]);
        let aad = Aad::Totp {
            account: "user:1".into(),
            pending: false,
        };
        let stored = ring.encrypt(&aad, "JBSWY3DPEHPK3PXP").unwrap();
        assert!(stored.starts_with(&format!("v1:{}:", ring.current_id())));
        assert!(!stored.contains("JBSWY3DP"));
        assert_eq!(ring.decrypt(&aad, &stored).unwrap(), "JBSWY3DPEHPK3PXP");
        assert_ne!(
            stored,
            ring.encrypt(&aad, "JBSWY3DPEHPK3PXP").unwrap(),
            "random nonces"
        );
        for other in [
            Aad::Totp {
                account: "user:2".into(),
                pending: false,
            },
            Aad::Totp {
                account: "user:1".into(),
                pending: true,
            },
            Aad::AppKey {
                certificate_pem: CERT.into(),
            },
        ] {
            let err = ring.decrypt(&other, &stored).unwrap_err().to_string();
            assert!(err.contains("does not decrypt"), "{err}");
        }
        // A flipped bit anywhere fails.
        let mut tampered = stored.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(ring.decrypt(&aad, &tampered).is_err());
    }

    #[test]
    fn old_keys_decrypt_and_unknown_keys_are_named() {
        let a = Keyring::new(key(1), vec![]);
        let aad = Aad::AppKey {
            certificate_pem: CERT.into(),
        };
        let by_a = a.encrypt(&aad, "private").unwrap();
        let b_with_a = Keyring::new(key(2), vec![key(1)]);
        assert_eq!(b_with_a.decrypt(&aad, &by_a).unwrap(), "private");
        let by_b = b_with_a.encrypt(&aad, "private").unwrap();
        assert_eq!(Keyring::key_id_of(&by_b), Some(b_with_a.current_id()));
        let err = a.decrypt(&aad, &by_b).unwrap_err().to_string();
        assert!(
            err.contains(&format!("encrypted with key {}", b_with_a.current_id()))
                && err.contains("does not have"),
            "{err}"
        );
        assert!(a
            .decrypt(&aad, "-----BEGIN PRIVATE KEY-----")
            .unwrap_err()
            .to_string()
            .contains("in the clear"));
        assert_eq!(b_with_a.ids().len(), 2);
        assert_eq!(
            Keyring::new(key(1), vec![key(1)]).ids().len(),
            1,
            "the current key once"
        );
    }

    #[test]
    fn keys_read_from_text() {
        let text = SecretsKey::generate_text().unwrap();
        let k = SecretsKey::from_text(&format!("{text}\n")).unwrap();
        assert_eq!(k.id().len(), 16);
        assert_eq!(
            SecretsKey::from_text(&text).unwrap().id(),
            k.id(),
            "same key, same id"
        );
        for bad in ["", "not base64!", "AAAA"] {
            assert_eq!(
                SecretsKey::from_text(bad).unwrap_err().to_string(),
                "storage error: a secrets key must be 32 bytes in base64"
            );
        }
    }
}

/// Every column that holds a secret, by table: (table, secret column, a
/// second secret column). Each table is read in one statement (one scan of
/// `users` at start, not one per column: issue #28's start-up time at
/// 1,000,000 users).
const SECRET_COLUMNS: [(&str, &str, Option<&str>); 3] = [
    ("app_keys", "private_key_pem", None),
    ("users", "totp_secret", Some("totp_pending")),
    ("admins", "totp_secret", Some("totp_pending")),
];

/// A row of a table with secrets: id, certificate (app keys), and up to
/// two secret columns.
type SecretRow = (i64, Option<String>, Option<String>, Option<String>);

/// One stored secret, as the maintenance operations see it.
struct StoredSecret {
    table: &'static str,
    column: &'static str,
    id: i64,
    /// The certificate, for app keys (their associated data).
    certificate_pem: Option<String>,
    value: String,
}

impl StoredSecret {
    fn aad(&self) -> Aad {
        match (self.table, &self.certificate_pem) {
            ("app_keys", Some(cert)) => Aad::AppKey {
                certificate_pem: cert.clone(),
            },
            (table, _) => Aad::Totp {
                account: format!("{}:{}", table.trim_end_matches('s'), self.id),
                pending: self.column == "totp_pending",
            },
        }
    }
}

/// What the store's secrets look like: how many are stored under each
/// key id (`None`: in the clear), and the ids of keys ever current.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretsReport {
    pub by_key: std::collections::BTreeMap<Option<String>, u64>,
    pub registered: Vec<String>,
}

impl crate::SqlStore {
    /// Every stored secret (a few per app and account that has them).
    async fn stored_secrets(&self) -> Result<Vec<StoredSecret>> {
        let mut out = Vec::new();
        for (table, first, second_column) in SECRET_COLUMNS {
            let cert = if table == "app_keys" {
                "certificate_pem"
            } else {
                "NULL"
            };
            let second = second_column.unwrap_or("NULL");
            let rows: Vec<SecretRow> = sqlx::query_as(&format!(
                "SELECT id, {cert}, {first}, {second} FROM {table} \
                     WHERE {first} IS NOT NULL OR {second} IS NOT NULL"
            ))
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(crate::rows::db)?;
            for (id, certificate_pem, a, b) in rows {
                for (column, value) in [(Some(first), a), (second_column, b)] {
                    if let (Some(column), Some(value)) = (column, value) {
                        out.push(StoredSecret {
                            table,
                            column,
                            id,
                            certificate_pem: certificate_pem.clone(),
                            value,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// How many secrets each key protects, and the registered key ids.
    pub async fn secrets_report(&self) -> Result<SecretsReport> {
        let mut report = SecretsReport::default();
        for s in self.stored_secrets().await? {
            let key = Keyring::key_id_of(&s.value).map(str::to_owned);
            *report.by_key.entry(key).or_default() += 1;
        }
        report.registered = self.registered_keys().await?;
        Ok(report)
    }

    /// The ids of the keys ever current, oldest first.
    async fn registered_keys(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT key_id FROM secrets_keys ORDER BY first_used")
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(crate::rows::db)
    }

    /// Whether this node's keyring can read the database's secrets:
    /// refused, with a message that says what to do, when a secret is under
    /// a key this node does not hold, or (before any secret is stored) when
    /// keys were registered and this node holds none of them. Changes
    /// nothing.
    pub async fn verify_keyring(&self) -> Result<SecretsReport> {
        let keyring = self.keyring()?;
        let report = self.secrets_report().await?;
        let held = keyring.ids();
        let missing: Vec<&str> = report
            .by_key
            .keys()
            .flatten()
            .map(String::as_str)
            .filter(|id| !held.contains(id))
            .collect();
        let unknown_registry = !report.registered.is_empty()
            && !report
                .registered
                .iter()
                .any(|id| held.contains(&id.as_str()));
        if !missing.is_empty() || unknown_registry {
            let needed = if missing.is_empty() {
                report.registered.join(", ")
            } else {
                missing.join(", ")
            };
            return Err(Error::Store(format!(
                "the secrets key does not match this database: its secrets need key {needed}, \
                 this node has {} (set secrets_key_file or LANYARD_SECRETS_KEY to the key this \
                 database was made with; a database restored without its key cannot be read)",
                held.join(", ")
            )));
        }
        Ok(report)
    }

    /// [`Self::verify_keyring`] at start, then records the current key as
    /// used by this database.
    pub async fn check_keyring(&self, now: time::OffsetDateTime) -> Result<SecretsReport> {
        let mut report = self.verify_keyring().await?;
        sqlx::query(
            "INSERT INTO secrets_keys (key_id, first_used) VALUES ($1, $2) \
             ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(self.keyring()?.current_id())
        .bind(crate::rows::to_ms(now))
        .execute(&mut *self.conn().await?)
        .await
        .map_err(crate::rows::db)?;
        report.registered = self.registered_keys().await?;
        Ok(report)
    }

    /// Re-encrypts, with the current key, every secret stored in the clear
    /// (`cleartext`: a database from before encryption) or under another
    /// key (`rotate`). Each row is updated only if it still holds the value
    /// read. On SQLite, when anything was in the clear, the WAL is
    /// checkpointed and the file vacuumed afterwards, so no cleartext stays
    /// in free pages or the WAL. Returns how many secrets were rewritten.
    pub async fn reencrypt(&self, which: Reencrypt) -> Result<u64> {
        let keyring = self.keyring()?;
        let mut rewritten = 0;
        let mut cleartext = 0;
        for s in self.stored_secrets().await? {
            let plain = match Keyring::key_id_of(&s.value) {
                None => {
                    cleartext += 1;
                    s.value.clone()
                }
                Some(id) if which == Reencrypt::Rotate && id != keyring.current_id() => {
                    keyring.decrypt(&s.aad(), &s.value)?
                }
                Some(_) => continue,
            };
            let sealed = keyring.encrypt(&s.aad(), &plain)?;
            let done = sqlx::query(&format!(
                "UPDATE {} SET {col} = $1 WHERE id = $2 AND {col} = $3",
                s.table,
                col = s.column
            ))
            .bind(sealed)
            .bind(s.id)
            .bind(&s.value)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(crate::rows::db)?;
            rewritten += done.rows_affected();
        }
        if cleartext > 0 {
            self.backend
                .scrub(&self.pool)
                .await
                .map_err(crate::rows::db)?;
        }
        Ok(rewritten)
    }
}

/// What [`crate::SqlStore::reencrypt`] rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reencrypt {
    /// Only secrets stored in the clear (the upgrade; every start).
    Cleartext,
    /// Those and every secret under a key other than the current one.
    Rotate,
}
