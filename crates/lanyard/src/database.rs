//! The `database` setting: which store to open, and how to show it safely.
//!
//! The URL may carry a PostgreSQL password, so [`DatabaseUrl`] displays (and
//! debug-prints) a redacted form; only [`DatabaseUrl::as_secret_str`] yields
//! the real text, for connecting.

use std::fmt;

/// `sqlite://<path>` (file created if missing) or
/// `postgres://user:password@host/db` (also `postgresql://`).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

pub const DEFAULT_DATABASE: &str = "sqlite://lanyard.db";

impl DatabaseUrl {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value = value.trim();
        let rest = ["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .find_map(|scheme| value.strip_prefix(scheme));
        match rest {
            None => Err("is not a database URL (expected sqlite://<file> or postgres://...)"),
            Some("") => Err("names no database (expected e.g. sqlite://lanyard.db)"),
            Some(_) if value.starts_with("postgres") && url::Url::parse(value).is_err() => {
                Err("is not a valid PostgreSQL URL")
            }
            Some(_) => Ok(Self(value.to_owned())),
        }
    }

    /// The URL with its password, for connecting only.
    pub fn as_secret_str(&self) -> &str {
        &self.0
    }

    /// The file of a `sqlite://` URL (without `?options`); `None` for
    /// PostgreSQL and in-memory SQLite.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        let rest = self.0.strip_prefix("sqlite://")?;
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() || path == ":memory:" || self.0.contains("mode=memory") {
            return None;
        }
        Some(std::path::PathBuf::from(path))
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            _ => self.0.clone(),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_sqlite_and_postgres() {
        for ok in [
            "sqlite://lanyard.db",
            "sqlite:///var/lib/lanyard/db.sqlite",
            "postgres://lanyard@localhost/lanyard",
            "postgresql://u:p@db:5432/lanyard?sslmode=require",
        ] {
            assert_eq!(DatabaseUrl::parse(ok).unwrap().as_secret_str(), ok);
        }
    }

    #[test]
    fn rejects_other_schemes_and_empty_names() {
        for bad in [
            "",
            "lanyard.db",
            "mysql://x/y",
            "sqlite:",
            "sqlite://",
            "http://x",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::parse("postgres://lanyard:s3cret@db/lanyard").unwrap();
        assert_eq!(url.to_string(), "postgres://lanyard:***@db/lanyard");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(url.as_secret_str(), "postgres://lanyard:s3cret@db/lanyard");
        let plain = DatabaseUrl::parse("sqlite://x.db").unwrap();
        assert_eq!(plain.to_string(), "sqlite://x.db");
    }
}
