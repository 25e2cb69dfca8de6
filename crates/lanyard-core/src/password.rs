//! Password hashing: argon2id, PHC strings (so parameters can be raised later
//! and old hashes still verify). These functions are CPU-heavy on purpose:
//! callers on an async runtime must run them on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};

/// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Password rules: 8-256 characters.
pub fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(8..=256).contains(&n) {
        return Err(Error::invalid(
            "password",
            "must be between 8 and 256 characters",
        ));
    }
    Ok(())
}

/// Hashes a password with a salt made from 16 caller-supplied random bytes.
pub fn hash_password(password: &str, salt: [u8; 16]) -> Result<String> {
    check_password(password)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Store(format!("salt: {e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Store(format!("argon2: {e}")))
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let h = hash_password("correct horse", [1; 16]).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        match hash_password("short", [1; 16]) {
            Err(Error::Invalid(f)) => {
                assert_eq!(f["password"], "must be between 8 and 256 characters")
            }
            other => panic!("{other:?}"),
        }
    }
}
