//! Admin accounts and API keys, and the roles that decide what they may do.
//!
//! Admins are separate from directory users. An API key carries a role of its
//! own (never more than its creator's) and is stored only as a SHA-256 hash:
//! keys are 256 random bits, so a fast hash is as safe as a slow one here and
//! keeps the per-request lookup cheap.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::directory::normalize_email;
use crate::error::{Error, Result};
use crate::ids::{AdminId, ApiKeyId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees everything, changes nothing.
    ReadOnly,
    /// Sees and changes everything.
    Administrator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read_only",
            Role::Administrator => "administrator",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read_only" => Some(Role::ReadOnly),
            "administrator" => Some(Role::Administrator),
            _ => None,
        }
    }

    pub fn can_write(self) -> bool {
        self == Role::Administrator
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Admin {
    pub id: AdminId,
    pub email: String,
    pub role: Role,
    /// A disabled admin cannot sign in (their sessions ended when disabled).
    pub disabled: bool,
    /// The admin has a confirmed TOTP second factor.
    pub second_factor: bool,
    /// Locked after failed sign-ins until then (a past time: not locked).
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Admin {
    /// An enabled administrator: the accounts the last of which may not be
    /// removed, disabled or demoted.
    pub fn is_active_administrator(&self) -> bool {
        !self.disabled && self.role == Role::Administrator
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role: Role,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Who made it (an actor's label, e.g. `admin:ann@example.com`, `cli`);
    /// `None` for keys made before this was recorded.
    pub created_by: Option<String>,
    /// After this instant the key authenticates nobody.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// Whether the key has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Who is acting: an admin (portal) or an API key (REST), with its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// `admin:<email>`, `apikey:<name>#<id>` or `cli`.
    pub label: String,
    pub role: Role,
}

impl Actor {
    pub fn cli() -> Self {
        Actor {
            label: "cli".into(),
            role: Role::Administrator,
        }
    }
}

/// A freshly generated API key: the secret is shown once and never stored.
#[derive(Debug)]
pub struct GeneratedKey {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

const KEY_PREFIX: &str = "lyk_";

/// Makes an API key from 32 random bytes (the caller supplies the randomness).
pub fn generate_api_key(random: [u8; 32]) -> GeneratedKey {
    let body: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let secret = format!("{KEY_PREFIX}{body}");
    GeneratedKey {
        prefix: secret.chars().take(12).collect(),
        hash: hash_api_key(&secret),
        secret,
    }
}

/// The stored form of an API key.
pub fn hash_api_key(secret: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn check_key_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must be 1-100 characters without control characters",
        ));
    }
    Ok(n.to_owned())
}

pub fn check_admin_email(email: &str) -> Result<String> {
    normalize_email(email).map_err(|m| Error::invalid("email", m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let k = generate_api_key([0xab; 32]);
        assert_eq!(k.secret.len(), 4 + 64);
        assert!(k.secret.starts_with("lyk_abab"));
        assert_eq!(k.prefix, "lyk_abababab");
        assert_eq!(k.hash, hash_api_key(&k.secret));
        assert_ne!(k.hash, hash_api_key("lyk_other"));
        assert!(!k.hash.contains(&k.secret));
    }

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Administrator.can_write());
        assert!(!Role::ReadOnly.can_write());
        assert!(Role::ReadOnly < Role::Administrator);
        assert_eq!(Role::parse("read_only"), Some(Role::ReadOnly));
        assert_eq!(Role::parse("root"), None);
    }
}
