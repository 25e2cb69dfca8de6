//! The error type of the domain layer, mapped to HTTP only at the web edge.

use std::collections::BTreeMap;

/// Field name -> what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke one or more rules; each field says which.
    #[error("invalid input: {}", summary(.0))]
    Invalid(FieldErrors),
    /// A unique value is already taken.
    #[error("{field} {value:?} is already in use")]
    Conflict { field: &'static str, value: String },
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// The caller is who they say, but their role may not do this; the text
    /// says why, for them.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The change would break a rule about what is stored now (e.g. it
    /// would leave no active administrator); the text says why, for the
    /// caller.
    #[error("refused: {0}")]
    Refused(String),
    /// A storage failure. The text is for logs only, never for clients.
    #[error("storage error: {0}")]
    Store(String),
    /// The database cannot serve the request right now: unreachable or
    /// restarting, out of disk, too busy, or being restored. Retrying later
    /// may succeed (the web edge answers 503 with `Retry-After`). `reason`
    /// may be shown to clients; `detail` is for logs only.
    #[error("database unavailable ({reason}): {detail}")]
    Unavailable {
        reason: &'static str,
        detail: String,
    },
}

fn summary(fields: &FieldErrors) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// One invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid(BTreeMap::from([(field.to_owned(), message.into())]))
    }

    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
