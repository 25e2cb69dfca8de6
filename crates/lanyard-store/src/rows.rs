//! How domain values are stored and read back: the row structs (`FromRow`),
//! timestamps as unix milliseconds, attributes as JSON text, and the mapping
//! of sqlx errors to `lanyard_core::Error` (unique violations become
//! `Conflict`, everything else an opaque `Store` error for the logs). Flags
//! are stored as integers 0/1 ([`flag`]): see the 0002 migration for why.

use sqlx::FromRow;
use time::OffsetDateTime;

use lanyard_core::admin::{Admin, ApiKey, Role};
use lanyard_core::application::{AppConfig, AppKey, Application, Grant, ImageInfo, PrivateKeyPem};
use lanyard_core::apps::Entitlement;
use lanyard_core::audit::AuditEvent;
use lanyard_core::directory::{Attributes, Group, User, UserState};
use lanyard_core::session::{
    AdminSession, AuthMethods, EndedSession, Session, SessionEnd, SessionStage, SignInState,
};
use lanyard_core::{
    AdminId, AdminSessionId, ApiKeyId, AppId, AppKeyId, Error, GroupId, SessionId, UserId,
};

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
        "id, email, role, created_at, disabled, \
         CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS second_factor, locked_until"
    };
}
macro_rules! api_key_columns {
    () => {
        "id, name, role, prefix, created_at, last_used_at, revoked_at, created_by, expires_at"
    };
}
macro_rules! audit_columns {
    () => {
        "id, at, actor, action, target, source, summary, request_id"
    };
}
macro_rules! app_columns {
    () => {
        "id, slug, template, aws_rules, sso_active, label, description, show_in_portal, sso, \
         attributes, groups_attribute, sp_certificates, image_content_type, image_sha256, \
         image_size, created_at, updated_at"
    };
}
macro_rules! app_key_columns {
    () => {
        "id, app_id, active, certificate_pem, not_after, created_at"
    };
}
macro_rules! grant_columns {
    () => {
        "group_id, account_id, role_name, provider_name, account_label, max_session_duration, \
         deep_link"
    };
}
/// An account's sign-in state, on `users` and on `admins`.
macro_rules! sign_in_state_columns {
    () => {
        "login_failures, locked_until, lock_count, totp_secret, totp_pending, totp_last_step"
    };
}
macro_rules! session_columns {
    () => {
        "id, user_id, stage, csrf_secret, created_at, last_seen_at, expires_at, client, \
         user_agent, auth_methods, authenticated_at"
    };
}
/// Session columns prefixed `s.` (renamed where they clash) and its user's
/// prefixed `u.`, for the join of `find_session_with_user`.
macro_rules! session_user_columns {
    () => {
        "s.id AS session_id, s.user_id, s.stage, s.csrf_secret, \
         s.created_at AS session_created_at, s.last_seen_at, s.expires_at, s.client, \
         s.user_agent, s.auth_methods, s.authenticated_at, u.id, u.email, u.username, \
         u.first_name, u.last_name, u.state, u.attributes, u.created_at, u.updated_at"
    };
}
/// Admin session columns prefixed `s.` and its admin's prefixed `a.`, for
/// the join of `find_admin_session` (renamed where the two clash).
macro_rules! admin_session_columns {
    () => {
        "s.id, s.admin_id, s.stage, s.csrf_secret, s.created_at, s.last_seen_at, s.expires_at, \
         s.client, s.user_agent, s.auth_methods, s.authenticated_at, a.email AS admin_email, \
         a.role AS admin_role, a.created_at AS admin_created_at, a.disabled AS admin_disabled, \
         CASE WHEN a.totp_secret IS NULL THEN 0 ELSE 1 END AS admin_second_factor, \
         a.locked_until AS admin_locked_until"
    };
}
/// The columns of `ended_sessions`, in [`EndedSessionRow`]'s order.
macro_rules! ended_session_columns {
    () => {
        "id, user_id, stage, created_at, last_seen_at, ended_at, reason, auth_methods, client, \
         user_agent"
    };
}
pub(crate) use {
    admin_columns, admin_session_columns, api_key_columns, app_columns, app_key_columns,
    audit_columns, ended_session_columns, grant_columns, group_columns, session_columns,
    session_user_columns, sign_in_state_columns, user_columns,
};

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

/// A flag column's value.
pub(crate) fn flag(b: bool) -> i16 {
    i16::from(b)
}

/// Serialised settings for a JSON text column (`what` names it in the error).
pub(crate) fn to_json(r: serde_json::Result<String>, what: &str) -> Result<String, Error> {
    r.map_err(|e| Error::Store(format!("encoding {what} as JSON: {e}")))
}

fn from_json<T>(r: serde_json::Result<T>, what: &str) -> Result<T, Error> {
    r.map_err(|e| Error::Store(format!("bad {what} JSON: {e}")))
}

fn role(s: &str) -> Result<Role, Error> {
    Role::parse(s).ok_or_else(|| Error::Store(format!("unknown role {s:?}")))
}

/// Any sqlx failure that is not a known conflict. A database that cannot
/// serve right now (see [`unavailable_reason`]) is `Error::Unavailable`,
/// which the web edge answers with 503 and `Retry-After`; anything else is
/// `Error::Store`, a generic 500. Either way the text goes to the logs only.
pub(crate) fn db(e: sqlx::Error) -> Error {
    STATEMENT_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match unavailable_reason(&e) {
        Some(reason) => Error::Unavailable {
            reason,
            detail: e.to_string(),
        },
        None => Error::Store(e.to_string()),
    }
}

/// Why retrying later may succeed, when it may: the connection could not be
/// made or was lost (PostgreSQL restarting or away), the pool had no
/// connection in time, the server is shutting down or starting, out of disk
/// or other resources, read-only (a standby), or Lanyard's tables are gone
/// (a restore in progress); SQLite's disk full, busy past its timeout, or
/// I/O errors. `None`: a fault that a retry will not mend (a bug, a
/// constraint, bad data).
fn unavailable_reason(e: &sqlx::Error) -> Option<&'static str> {
    const UNREACHABLE: &str = "the database cannot be reached";
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(UNREACHABLE),
        sqlx::Error::Database(dbe) => {
            let code = dbe.code()?;
            // PostgreSQL's SQLSTATEs have five characters; SQLite's
            // (extended) result codes are numbers below 10,000.
            if code.len() == 5 {
                match code.as_ref() {
                    c if c.starts_with("08") => Some(UNREACHABLE),
                    "57P01" | "57P02" | "57P03" => Some("the database is restarting"),
                    "53100" => Some("the database's disk is full"),
                    c if c.starts_with("53") => Some("the database is out of resources"),
                    "25006" => Some("the database is read-only"),
                    "42P01" => Some("the database has no Lanyard tables (being restored?)"),
                    _ => None,
                }
            } else {
                // A SQLite (extended) result code: its low byte is the primary code.
                match code.parse::<i64>().ok()? & 0xff {
                    13 => Some("the database's disk is full"),
                    5 | 6 => Some("the database is busy"),
                    10 | 14 => Some("the database file cannot be read or written"),
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// Failed statements since the process started (every store error passes
/// through [`db`]; conflicts mapped before it are not failures).
pub(crate) static STATEMENT_ERRORS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

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
    disabled: i64,
    second_factor: i64,
    locked_until: Option<i64>,
}

impl TryFrom<AdminRow> for Admin {
    type Error = Error;
    fn try_from(r: AdminRow) -> Result<Admin, Error> {
        Ok(Admin {
            id: AdminId(r.id),
            role: role(&r.role)?,
            created_at: from_ms(r.created_at)?,
            email: r.email,
            disabled: r.disabled != 0,
            second_factor: r.second_factor != 0,
            locked_until: r.locked_until.map(from_ms).transpose()?,
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
    created_by: Option<String>,
    expires_at: Option<i64>,
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
            expires_at: r.expires_at.map(from_ms).transpose()?,
            created_by: r.created_by,
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
    request_id: Option<String>,
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
            request_id: r.request_id,
            summary: r.summary,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct AppRow {
    id: i64,
    slug: String,
    template: String,
    aws_rules: i64,
    sso_active: i64,
    label: String,
    description: String,
    show_in_portal: i64,
    sso: String,
    attributes: String,
    groups_attribute: Option<String>,
    sp_certificates: String,
    image_content_type: Option<String>,
    image_sha256: Option<String>,
    image_size: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

/// The image columns: all set or all NULL.
pub(crate) fn image_info(
    content_type: Option<String>,
    sha256: Option<String>,
    size: Option<i64>,
) -> Result<Option<ImageInfo>, Error> {
    match (content_type, sha256, size) {
        (Some(content_type), Some(sha256), Some(size)) => Ok(Some(ImageInfo {
            content_type,
            sha256,
            size,
        })),
        (None, None, None) => Ok(None),
        _ => Err(Error::Store("image columns partly NULL".into())),
    }
}

impl TryFrom<AppRow> for Application {
    type Error = Error;
    fn try_from(r: AppRow) -> Result<Application, Error> {
        Ok(Application {
            id: AppId(r.id),
            aws_rules: r.aws_rules != 0,
            sso_active: r.sso_active != 0,
            config: AppConfig {
                show_in_portal: r.show_in_portal != 0,
                sso: from_json(serde_json::from_str(&r.sso), "SSO settings")?,
                attributes: from_json(serde_json::from_str(&r.attributes), "attribute rules")?,
                sp_certificates: from_json(
                    serde_json::from_str(&r.sp_certificates),
                    "SP certificates",
                )?,
                groups_attribute: r.groups_attribute,
                label: r.label,
                description: r.description,
            },
            image: image_info(r.image_content_type, r.image_sha256, r.image_size)?,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
            slug: r.slug,
            template: r.template,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct AppKeyRow {
    id: i64,
    app_id: i64,
    active: i64,
    certificate_pem: String,
    not_after: i64,
    created_at: i64,
}

impl TryFrom<AppKeyRow> for AppKey {
    type Error = Error;
    fn try_from(r: AppKeyRow) -> Result<AppKey, Error> {
        Ok(AppKey {
            id: AppKeyId(r.id),
            app_id: AppId(r.app_id),
            active: r.active != 0,
            not_after: from_ms(r.not_after)?,
            created_at: from_ms(r.created_at)?,
            certificate_pem: r.certificate_pem,
        })
    }
}

/// A key row with its private key, for signing.
#[derive(FromRow)]
pub(crate) struct AppKeySigningRow {
    #[sqlx(flatten)]
    key: AppKeyRow,
    private_key_pem: String,
}

impl AppKeySigningRow {
    /// The key and its private half, decrypted with `keyring`.
    pub(crate) fn into_parts(
        self,
        keyring: &crate::secrets::Keyring,
    ) -> Result<(AppKey, PrivateKeyPem), Error> {
        let key: AppKey = self.key.try_into()?;
        let pem = keyring.decrypt(
            &crate::secrets::Aad::AppKey {
                certificate_pem: key.certificate_pem.clone(),
            },
            &self.private_key_pem,
        )?;
        Ok((key, PrivateKeyPem::new(pem)))
    }
}

#[derive(FromRow)]
pub(crate) struct GrantRow {
    group_id: i64,
    account_id: String,
    role_name: String,
    provider_name: String,
    account_label: Option<String>,
    max_session_duration: Option<i64>,
    deep_link: Option<String>,
}

impl TryFrom<GrantRow> for Grant {
    type Error = Error;
    fn try_from(r: GrantRow) -> Result<Grant, Error> {
        let max_session_duration = r
            .max_session_duration
            .map(u32::try_from)
            .transpose()
            .map_err(|e| Error::Store(format!("bad max_session_duration: {e}")))?;
        Ok(Grant {
            group_id: GroupId(r.group_id),
            entitlement: Entitlement {
                account_id: r.account_id,
                role_name: r.role_name,
                provider_name: r.provider_name,
                account_label: r.account_label,
                max_session_duration,
                deep_link: r.deep_link,
            },
        })
    }
}

#[derive(FromRow)]
pub(crate) struct SessionRow {
    id: i64,
    user_id: i64,
    stage: String,
    csrf_secret: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    client: Option<String>,
    user_agent: Option<String>,
    auth_methods: String,
    authenticated_at: i64,
}

fn stage(s: &str) -> Result<SessionStage, Error> {
    SessionStage::parse(s).ok_or_else(|| Error::Store(format!("unknown session stage {s:?}")))
}

fn methods(s: &str) -> Result<AuthMethods, Error> {
    AuthMethods::parse(s).ok_or_else(|| Error::Store(format!("unknown session auth methods {s:?}")))
}

impl TryFrom<SessionRow> for Session {
    type Error = Error;
    fn try_from(r: SessionRow) -> Result<Session, Error> {
        Ok(Session {
            id: SessionId(r.id),
            user_id: UserId(r.user_id),
            stage: stage(&r.stage)?,
            created_at: from_ms(r.created_at)?,
            last_seen_at: from_ms(r.last_seen_at)?,
            expires_at: from_ms(r.expires_at)?,
            methods: methods(&r.auth_methods)?,
            authenticated_at: from_ms(r.authenticated_at)?,
            csrf_secret: r.csrf_secret,
            client: r.client,
            user_agent: r.user_agent,
        })
    }
}

/// A row of `ended_sessions` (the session history).
#[derive(FromRow)]
pub(crate) struct EndedSessionRow {
    id: i64,
    user_id: i64,
    stage: String,
    created_at: i64,
    last_seen_at: i64,
    ended_at: i64,
    reason: String,
    auth_methods: String,
    client: Option<String>,
    user_agent: Option<String>,
}

impl TryFrom<EndedSessionRow> for EndedSession {
    type Error = Error;
    fn try_from(r: EndedSessionRow) -> Result<EndedSession, Error> {
        Ok(EndedSession {
            id: SessionId(r.id),
            user_id: UserId(r.user_id),
            stage: stage(&r.stage)?,
            created_at: from_ms(r.created_at)?,
            last_seen_at: from_ms(r.last_seen_at)?,
            ended_at: from_ms(r.ended_at)?,
            reason: SessionEnd::parse(&r.reason)
                .ok_or_else(|| Error::Store(format!("unknown session end {:?}", r.reason)))?,
            methods: methods(&r.auth_methods)?,
            client: r.client,
            user_agent: r.user_agent,
        })
    }
}

/// [`SessionUserRow`] with the id and SSO version of an app (NULL: none).
#[derive(FromRow)]
pub(crate) struct SessionAppRow {
    #[sqlx(flatten)]
    pub(crate) session: SessionUserRow,
    pub(crate) app_id: Option<i64>,
    pub(crate) app_version: Option<i64>,
}

impl SessionAppRow {
    /// The row of `Backend::session_app_query` from the inline reader.
    pub(crate) fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let n = crate::inline_read::SESSION_USER_COLUMNS.len();
        Ok(SessionAppRow {
            session: SessionUserRow::from_sqlite(row, 0)?,
            app_id: crate::inline_read::col(row, n)?,
            app_version: crate::inline_read::col(row, n + 1)?,
        })
    }
}

/// A session with its user (`session_user_columns!`).
#[derive(FromRow)]
pub(crate) struct SessionUserRow {
    session_id: i64,
    user_id: i64,
    stage: String,
    csrf_secret: String,
    session_created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    client: Option<String>,
    user_agent: Option<String>,
    auth_methods: String,
    authenticated_at: i64,
    #[sqlx(flatten)]
    user: UserRow,
    /// The user's groups as a JSON array of
    /// `[id, name, description, attributes, created_at, updated_at]`.
    groups_json: String,
}

impl SessionUserRow {
    /// The row of `Backend::session_user_query` from the inline reader,
    /// its columns from `first` on (`inline_read::SESSION_USER_COLUMNS`).
    pub(crate) fn from_sqlite(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Self> {
        use crate::inline_read::col;
        let c = |i: usize| first + i;
        Ok(SessionUserRow {
            session_id: col(row, c(0))?,
            user_id: col(row, c(1))?,
            stage: col(row, c(2))?,
            csrf_secret: col(row, c(3))?,
            session_created_at: col(row, c(4))?,
            last_seen_at: col(row, c(5))?,
            expires_at: col(row, c(6))?,
            client: col(row, c(7))?,
            user_agent: col(row, c(8))?,
            auth_methods: col(row, c(9))?,
            authenticated_at: col(row, c(10))?,
            user: UserRow {
                id: col(row, c(11))?,
                email: col(row, c(12))?,
                username: col(row, c(13))?,
                first_name: col(row, c(14))?,
                last_name: col(row, c(15))?,
                state: col(row, c(16))?,
                attributes: col(row, c(17))?,
                created_at: col(row, c(18))?,
                updated_at: col(row, c(19))?,
            },
            groups_json: col(row, c(20))?,
        })
    }

    pub(crate) fn into_parts(self) -> Result<(Session, User, Vec<Group>), Error> {
        type Row = (i64, String, String, String, i64, i64);
        let rows: Vec<Row> = serde_json::from_str(&self.groups_json)
            .map_err(|e| Error::Store(format!("bad groups JSON of a session's user: {e}")))?;
        let groups = rows
            .into_iter()
            .map(
                |(id, name, description, attributes, created_at, updated_at)| {
                    Group::try_from(GroupRow {
                        id,
                        name,
                        description,
                        attributes,
                        created_at,
                        updated_at,
                    })
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        let session = SessionRow {
            id: self.session_id,
            user_id: self.user_id,
            stage: self.stage,
            csrf_secret: self.csrf_secret,
            created_at: self.session_created_at,
            last_seen_at: self.last_seen_at,
            expires_at: self.expires_at,
            client: self.client,
            user_agent: self.user_agent,
            auth_methods: self.auth_methods,
            authenticated_at: self.authenticated_at,
        };
        Ok((session.try_into()?, self.user.try_into()?, groups))
    }
}

/// The sign-in columns of `users` (0003), which the `User` mapping leaves out.
#[derive(FromRow)]
pub(crate) struct SignInStateRow {
    login_failures: i64,
    locked_until: Option<i64>,
    lock_count: i64,
    totp_secret: Option<String>,
    totp_pending: Option<String>,
    totp_last_step: i64,
}

impl TryFrom<SignInStateRow> for SignInState {
    type Error = Error;
    fn try_from(r: SignInStateRow) -> Result<SignInState, Error> {
        Ok(SignInState {
            failures: u32::try_from(r.login_failures)
                .map_err(|e| Error::Store(format!("bad login_failures: {e}")))?,
            locked_until: r.locked_until.map(from_ms).transpose()?,
            lock_count: u32::try_from(r.lock_count)
                .map_err(|e| Error::Store(format!("bad lock_count: {e}")))?,
            totp_secret: r.totp_secret,
            totp_pending: r.totp_pending,
            totp_last_step: r.totp_last_step,
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

/// An admin session joined with its admin.
#[derive(FromRow)]
pub(crate) struct AdminSessionRow {
    id: i64,
    admin_id: i64,
    stage: String,
    csrf_secret: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    client: Option<String>,
    user_agent: Option<String>,
    auth_methods: String,
    authenticated_at: i64,
    admin_email: String,
    admin_role: String,
    admin_created_at: i64,
    admin_disabled: i64,
    admin_second_factor: i64,
    admin_locked_until: Option<i64>,
}

impl AdminSessionRow {
    pub(crate) fn into_parts(self) -> Result<(AdminSession, Admin), Error> {
        let admin = Admin {
            id: AdminId(self.admin_id),
            email: self.admin_email,
            role: role(&self.admin_role)?,
            created_at: from_ms(self.admin_created_at)?,
            disabled: self.admin_disabled != 0,
            second_factor: self.admin_second_factor != 0,
            locked_until: self.admin_locked_until.map(from_ms).transpose()?,
        };
        let session = AdminSession {
            id: AdminSessionId(self.id),
            admin_id: AdminId(self.admin_id),
            stage: stage(&self.stage)?,
            methods: methods(&self.auth_methods)?,
            authenticated_at: from_ms(self.authenticated_at)?,
            csrf_secret: self.csrf_secret,
            created_at: from_ms(self.created_at)?,
            last_seen_at: from_ms(self.last_seen_at)?,
            expires_at: from_ms(self.expires_at)?,
            client: self.client,
            user_agent: self.user_agent,
        };
        Ok((session, admin))
    }
}
