//! How domain values are stored and read back: the row structs (`FromRow`),
//! timestamps as unix milliseconds, attributes as JSON text, and the mapping
//! of sqlx errors to `lanyard_core::Error` (unique violations become
//! `Conflict`, everything else an opaque `Store` error for the logs).

use sqlx::FromRow;
use time::OffsetDateTime;

use lanyard_core::admin::{Admin, ApiKey, Role};
use lanyard_core::audit::AuditEvent;
use lanyard_core::directory::{Attributes, Group, User, UserState};
use lanyard_core::{AdminId, ApiKeyId, Error, GroupId, UserId};

use crate::dialect::unique_violation_is_on;

/// Column lists matching the row structs, in one place so SELECTs and
/// RETURNING clauses agree.
macro_rules! user_columns {
    () => {
        "id, email, username, first_name, last_name, state, attributes, created_at, updated_at"
    };
}
macro_rules! group_columns {
    () => {
        "id, name, description, attributes, created_at, updated_at"
    };
}
macro_rules! admin_columns {
    () => {
        "id, email, role, created_at"
    };
}
macro_rules! api_key_columns {
    () => {
        "id, name, role, prefix, created_at, last_used_at, revoked_at"
    };
}
macro_rules! audit_columns {
    () => {
        "id, at, actor, action, target, source, summary"
    };
}
pub(crate) use {admin_columns, api_key_columns, audit_columns, group_columns, user_columns};

/// Unix milliseconds: what every timestamp column holds.
pub(crate) fn to_ms(t: OffsetDateTime) -> i64 {
    // i128 -> i64 cannot overflow for any representable OffsetDateTime.
    t.unix_timestamp_nanos().div_euclid(1_000_000) as i64
}

pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| Error::Store(format!("timestamp {ms} out of range: {e}")))
}

pub(crate) fn attributes_to_json(a: &Attributes) -> String {
    // A map of strings to lists of strings always serialises.
    serde_json::to_string(a).unwrap_or_else(|_| "{}".to_owned())
}

fn attributes_from_json(s: &str) -> Result<Attributes, Error> {
    serde_json::from_str(s).map_err(|e| Error::Store(format!("bad attributes JSON: {e}")))
}

fn role(s: &str) -> Result<Role, Error> {
    Role::parse(s).ok_or_else(|| Error::Store(format!("unknown role {s:?}")))
}

/// Any sqlx failure that is not a known conflict: the text goes to the logs
/// through `Error::Store`, which the web edge shows as a generic 500.
pub(crate) fn db(e: sqlx::Error) -> Error {
    Error::Store(e.to_string())
}

/// A unique column a write may collide on: the field name clients know, the
/// column as named in the migrations, and the value written.
pub(crate) struct Unique<'a> {
    pub field: &'static str,
    pub column: &'static str,
    pub value: &'a str,
}

/// Maps a failed write: a unique violation on one of `uniques` becomes
/// `Conflict { field, value }`.
pub(crate) fn write_err(e: sqlx::Error, uniques: &[Unique<'_>]) -> Error {
    if let sqlx::Error::Database(dbe) = &e {
        if dbe.is_unique_violation() {
            if let Some(u) = uniques
                .iter()
                .find(|u| unique_violation_is_on(dbe.as_ref(), u.column))
            {
                return Error::Conflict {
                    field: u.field,
                    value: u.value.to_owned(),
                };
            }
        }
    }
    db(e)
}

#[derive(FromRow)]
pub(crate) struct UserRow {
    id: i64,
    email: String,
    username: String,
    first_name: String,
    last_name: String,
    state: String,
    attributes: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(r: UserRow) -> Result<User, Error> {
        Ok(User {
            id: UserId(r.id),
            state: UserState::parse(&r.state)
                .ok_or_else(|| Error::Store(format!("unknown user state {:?}", r.state)))?,
            attributes: attributes_from_json(&r.attributes)?,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
            email: r.email,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
        })
    }
}

/// A user row with the password hash, for logins.
#[derive(FromRow)]
pub(crate) struct UserLoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
}

impl UserLoginRow {
    pub(crate) fn into_parts(self) -> Result<(User, Option<String>), Error> {
        Ok((self.user.try_into()?, self.password_hash))
    }
}

#[derive(FromRow)]
pub(crate) struct GroupRow {
    id: i64,
    name: String,
    description: String,
    attributes: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<GroupRow> for Group {
    type Error = Error;
    fn try_from(r: GroupRow) -> Result<Group, Error> {
        Ok(Group {
            id: GroupId(r.id),
            attributes: attributes_from_json(&r.attributes)?,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
            name: r.name,
            description: r.description,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct AdminRow {
    id: i64,
    email: String,
    role: String,
    created_at: i64,
}

impl TryFrom<AdminRow> for Admin {
    type Error = Error;
    fn try_from(r: AdminRow) -> Result<Admin, Error> {
        Ok(Admin {
            id: AdminId(r.id),
            role: role(&r.role)?,
            created_at: from_ms(r.created_at)?,
            email: r.email,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct AdminLoginRow {
    #[sqlx(flatten)]
    admin: AdminRow,
    password_hash: String,
}

impl AdminLoginRow {
    pub(crate) fn into_parts(self) -> Result<(Admin, String), Error> {
        Ok((self.admin.try_into()?, self.password_hash))
    }
}

#[derive(FromRow)]
pub(crate) struct ApiKeyRow {
    id: i64,
    name: String,
    role: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = Error;
    fn try_from(r: ApiKeyRow) -> Result<ApiKey, Error> {
        Ok(ApiKey {
            id: ApiKeyId(r.id),
            role: role(&r.role)?,
            created_at: from_ms(r.created_at)?,
            last_used_at: r.last_used_at.map(from_ms).transpose()?,
            revoked_at: r.revoked_at.map(from_ms).transpose()?,
            name: r.name,
            prefix: r.prefix,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    target: String,
    source: Option<String>,
    summary: String,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = Error;
    fn try_from(r: AuditRow) -> Result<AuditEvent, Error> {
        Ok(AuditEvent {
            id: r.id,
            at: from_ms(r.at)?,
            actor: r.actor,
            action: r.action,
            target: r.target,
            source: r.source,
            summary: r.summary,
        })
    }
}

/// Converts a list of rows, failing on the first bad one.
pub(crate) fn convert<R, T>(rows: Vec<R>) -> Result<Vec<T>, Error>
where
    T: TryFrom<R, Error = Error>,
{
    rows.into_iter().map(T::try_from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_at_millisecond_precision() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        let back = from_ms(to_ms(t)).unwrap();
        assert_eq!(to_ms(back), 1_700_000_000_123);
        assert_eq!(back.nanosecond(), 123_000_000);
        let before_1970 = OffsetDateTime::from_unix_timestamp(-86_400).unwrap();
        assert_eq!(from_ms(to_ms(before_1970)).unwrap(), before_1970);
        assert!(from_ms(i64::MAX).is_err());
    }
}
