//! Password hashing: argon2id, PHC strings (so parameters can be raised later
//! and old hashes still verify). These functions are CPU-heavy on purpose:
//! callers on an async runtime must run them on a blocking thread.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// Working memory for argon2id verifications, kept between them
/// ([`verify_password_in`]): 19 MiB with Lanyard's parameters, more for a
/// stored hash made with more.
///
/// Why it exists (issue #28, bench/login_storm.sh): a fresh 19 MiB
/// allocation per verification is, under jemalloc, a fresh mapping (it
/// returns allocations above its `oversize_threshold`, 8 MiB, to the
/// system at once), so every verification page-faulted its 4,864 pages in
/// again: ~5,000 faults and about 60% more CPU than the hash itself.
#[derive(Default)]
pub struct Memory(Vec<Block>);

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memory({} blocks)", self.0.len())
    }
}

/// [`verify_password`] computed in `memory` (grown if the stored hash's
/// parameters need more): the same algorithm, version, parameters, salt
/// and output length as the PHC string `hash` names, and the same
/// constant-time comparison of the outputs (`Output`'s equality).
pub fn verify_password_in(password: &str, hash: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, Block::default());
    }
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        Ok(argon2.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            out,
            &mut memory.0[..blocks],
        )?)
    });
    computed.is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifying_in_kept_memory_agrees_with_the_crates_verifier() {
        let mine = hash_password("correct horse", [7; 16]).unwrap();
        // Other parameters, version and variants than Lanyard's own.
        let other = |alg, ver, m, t, p| {
            Argon2::new(alg, ver, Params::new(m, t, p, Some(24)).unwrap())
                .hash_password(b"correct horse", &SaltString::encode_b64(&[3; 12]).unwrap())
                .unwrap()
                .to_string()
        };
        let hashes = [
            mine.clone(),
            other(Algorithm::Argon2id, Version::V0x13, 8 * 1024, 1, 2),
            other(Algorithm::Argon2i, Version::V0x10, 4 * 1024, 3, 1),
            other(Algorithm::Argon2d, Version::V0x13, 64 * 1024, 1, 1),
            format!("{}x", &mine[..mine.len() - 1]),
            mine.replace("m=19456", "m=19457"),
            "not a hash".into(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ".into(),
        ];
        let mut memory = Memory::default();
        for hash in &hashes {
            for password in ["correct horse", "correct horsE", ""] {
                let crate_says = PasswordHash::new(hash).is_ok_and(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                });
                assert_eq!(
                    verify_password_in(password, hash, &mut memory),
                    crate_says,
                    "{password:?} against {hash}"
                );
            }
        }
        assert!(verify_password_in("correct horse", &mine, &mut memory));
        // Grown once to the largest hash's 64 MiB, and reused.
        assert_eq!(memory.0.len(), 64 * 1024);
    }

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
