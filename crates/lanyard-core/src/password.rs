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

/// The password rules of an account kind: at least `min` characters (and
/// 8 at the very least), at most 256, and not a common password.
pub fn check_new_password(password: &str, min: u32) -> Result<()> {
    let min = min.max(8) as usize;
    let n = password.chars().count();
    if n < min || n > 256 {
        return Err(Error::invalid(
            "password",
            format!("must be between {min} and 256 characters"),
        ));
    }
    if let Some(why) = common_password(password) {
        return Err(Error::invalid(
            "password",
            format!("is too easy to guess: {why} Choose a longer passphrase of unrelated words."),
        ));
    }
    Ok(())
}

/// Why `password` is easy to guess, if it is a common password (or a
/// variant of one: with digits, l33t, reversed) by the lists of zxcvbn
/// (30,000 common passwords, bundled in the binary; no online service).
/// A password zxcvbn rates safely unguessable (score 3 or 4) passes even
/// when it contains a common word.
pub fn common_password(password: &str) -> Option<String> {
    use zxcvbn::feedback::Warning;
    let estimate = zxcvbn::zxcvbn(password, &[]);
    if estimate.score() >= zxcvbn::Score::Three {
        return None;
    }
    match estimate.feedback()?.warning()? {
        w @ (Warning::ThisIsATop10Password
        | Warning::ThisIsATop100Password
        | Warning::ThisIsACommonPassword
        | Warning::ThisIsSimilarToACommonlyUsedPassword) => Some(w.to_string()),
        _ => None,
    }
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
    fn common_passwords_are_refused_with_the_reason() {
        let msg = |p: &str, min| match check_new_password(p, min) {
            Err(Error::Invalid(f)) => f["password"].clone(),
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(
            msg("password", 8),
            "is too easy to guess: This is a top-10 common password. Choose a longer passphrase of unrelated words."
        );
        assert!(
            msg("password1", 8).contains("common password"),
            "{}",
            msg("password1", 8)
        );
        assert!(msg("iloveyou", 8).contains("common password"));
        assert_eq!(
            msg("elevenchars", 12),
            "must be between 12 and 256 characters"
        );
        // A long passphrase with a common word in it is fine.
        for ok in [
            "correct horse battery",
            "admin passphrase 1",
            "a long passphrase",
            "alice-demo-password",
        ] {
            assert_eq!(
                check_new_password(ok, 8).ok(),
                Some(()),
                "{ok}: {:?}",
                common_password(ok)
            );
        }
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
