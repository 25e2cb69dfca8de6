//! TOTP second factors (RFC 6238 through totp-rs): new secrets, code
//! checks and the `otpauth://` URI (the portal draws it as a QR code).
//!
//! Parameters are the ones every authenticator app supports: HMAC-SHA1,
//! 6 digits, 30 s steps, and one step of skew either way (a code from the
//! previous or next 30 s still counts). A check answers the *time step* the
//! code belongs to, never just yes/no, because single use is the store's job
//! (`use_totp_step` refuses a step at or before the last one used), which
//! makes a code good once even inside its window.

use lanyard_core::{Error, Result};
use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::secrets::random_bytes;

/// Shown in authenticator apps next to the account.
pub const ISSUER: &str = "Lanyard";

/// A fresh secret: 20 random bytes (RFC 4226's recommended 160 bits), as
/// unpadded base32, the form stored and shown.
pub fn new_secret() -> Result<String> {
    Ok(Secret::from(random_bytes::<20>()?.to_vec()).to_base32())
}

fn totp(secret_base32: &str, account: &str) -> Result<Totp> {
    let bytes = Secret::try_from_base32(secret_base32)
        .map_err(|_| Error::Store("a stored TOTP secret is not base32".into()))?;
    // The label may not hold ':' (it separates issuer and account).
    let account = account.replace(':', "_");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(bytes)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| Error::Store(format!("TOTP parameters: {e}")))
}

/// The time step `code` is valid for at `now` (within one step of skew),
/// or `None` for a wrong or malformed code. Spaces in the code are ignored
/// (apps show "123 456").
pub fn check(secret_base32: &str, code: &str, now: OffsetDateTime) -> Result<Option<i64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(time) = u64::try_from(now.unix_timestamp()) else {
        return Ok(None);
    };
    let step = totp(secret_base32, "")?.check(&code, time);
    Ok(step.and_then(|s| i64::try_from(s).ok()))
}

/// The code for `now` (what an authenticator app would show).
#[cfg(test)]
pub fn code_at(secret_base32: &str, now: OffsetDateTime) -> Result<String> {
    let time = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    Ok(totp(secret_base32, "")?.generate(time).to_string())
}

/// `otpauth://totp/Lanyard:<account>?secret=...&issuer=Lanyard`.
pub fn otpauth_uri(secret_base32: &str, account: &str) -> Result<String> {
    totp(secret_base32, account)?
        .to_url()
        .map_err(|e| Error::Store(format!("otpauth URI: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    // RFC 6238 appendix B's SHA1 key ("12345678901234567890"), 6 digits.
    const RFC_KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn codes_match_the_rfc_vectors() {
        let t = OffsetDateTime::from_unix_timestamp(59).unwrap();
        assert_eq!(code_at(RFC_KEY, t).unwrap(), "287082");
        assert_eq!(check(RFC_KEY, "287082", t).unwrap(), Some(1));
        assert_eq!(check(RFC_KEY, "287 082", t).unwrap(), Some(1));
        let t = OffsetDateTime::from_unix_timestamp(1_111_111_109).unwrap();
        assert_eq!(code_at(RFC_KEY, t).unwrap(), "081804");
    }

    #[test]
    fn one_step_of_skew_and_no_more() {
        let secret = new_secret().unwrap();
        assert_eq!(secret.len(), 32, "20 bytes of base32");
        let now = datetime!(2025-03-01 12:00:00 UTC);
        let step = now.unix_timestamp() / 30;
        let code = code_at(&secret, now).unwrap();
        assert_eq!(check(&secret, &code, now).unwrap(), Some(step));
        assert_eq!(
            check(&secret, &code, now + Duration::seconds(30)).unwrap(),
            Some(step)
        );
        assert_eq!(
            check(&secret, &code, now - Duration::seconds(30)).unwrap(),
            Some(step)
        );
        assert_eq!(
            check(&secret, &code, now + Duration::seconds(60)).unwrap(),
            None
        );
        for bad in ["", "12345", "1234567", "abcdef", "+12345"] {
            assert_eq!(check(&secret, bad, now).unwrap(), None, "{bad}");
        }
    }

    #[test]
    fn otpauth_uris_name_the_issuer_and_account() {
        let uri = otpauth_uri(RFC_KEY, "ann@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Lanyard:ann%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={RFC_KEY}")), "{uri}");
        assert!(uri.contains("issuer=Lanyard"), "{uri}");
        assert!(otpauth_uri(RFC_KEY, "a:b").is_ok());
    }
}
