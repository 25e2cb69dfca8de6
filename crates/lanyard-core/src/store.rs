//! Storage traits, one per aggregate. `lanyard-store` implements them with sqlx
//! for SQLite and PostgreSQL; the use-cases (`lanyard-app`) only see these.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::admin::{Admin, ApiKey, Role};
use crate::application::{
    AppConfig, AppImage, AppKey, Application, Grant, ImageInfo, NewAppKey, NewApplication,
    PrivateKeyPem,
};
use crate::audit::{AuditEvent, AuditFilter};
use crate::directory::{
    Group, GroupCounts, GroupPatch, ListQuery, NewGroup, NewUser, Page, User, UserPatch, UserState,
};
use crate::error::Result;
use crate::ids::{AdminId, AdminSessionId, ApiKeyId, AppId, AppKeyId, GroupId, SessionId, UserId};
use crate::session::{
    Account, AdminSession, AuthMethods, EndedSession, NewAdminSession, NewSession, Session,
    SessionEnd, SessionStage, SignInState,
};

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(
        &self,
        new: &NewUser,
        password_hash: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<User>;
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// By email (case-insensitive) or username; with the password hash.
    async fn find_user_by_login(&self, login: &str) -> Result<Option<(User, Option<String>)>>;
    async fn update_user(&self, id: UserId, patch: &UserPatch, now: OffsetDateTime)
        -> Result<User>;
    async fn set_user_state(
        &self,
        id: UserId,
        state: UserState,
        now: OffsetDateTime,
    ) -> Result<User>;
    async fn set_password_hash(&self, id: UserId, hash: &str, now: OffsetDateTime) -> Result<()>;
    async fn delete_user(&self, id: UserId) -> Result<()>;
    async fn list_users(&self, q: &ListQuery) -> Result<Page<User>>;
    /// The groups a user belongs to, by name.
    async fn list_groups_of_user(&self, id: UserId) -> Result<Vec<Group>>;
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn create_group(&self, new: &NewGroup, now: OffsetDateTime) -> Result<Group>;
    async fn get_group(&self, id: GroupId) -> Result<Group>;
    async fn update_group(
        &self,
        id: GroupId,
        patch: &GroupPatch,
        now: OffsetDateTime,
    ) -> Result<Group>;
    async fn delete_group(&self, id: GroupId) -> Result<()>;
    async fn list_groups(&self, q: &ListQuery) -> Result<Page<Group>>;
    /// Idempotent: adding an existing member succeeds.
    async fn add_member(&self, group: GroupId, user: UserId) -> Result<()>;
    /// Idempotent: removing a non-member succeeds.
    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<()>;
    async fn list_members(&self, group: GroupId, q: &ListQuery) -> Result<Page<User>>;
    /// Members and bound applications of each of `groups`, counted in one
    /// statement (groups that do not exist are left out): for listings.
    async fn count_group_relations(
        &self,
        groups: &[GroupId],
    ) -> Result<Vec<(GroupId, GroupCounts)>>;
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    async fn create_admin(
        &self,
        email: &str,
        role: Role,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Admin>;
    async fn find_admin_by_email(&self, email: &str) -> Result<Option<(Admin, String)>>;
    async fn get_admin(&self, id: AdminId) -> Result<Admin>;
    async fn list_admins(&self) -> Result<Vec<Admin>>;
    /// Sets the role and whether the admin is disabled.
    async fn update_admin(&self, id: AdminId, role: Role, disabled: bool) -> Result<Admin>;
    async fn set_admin_password_hash(&self, id: AdminId, hash: &str) -> Result<()>;
    async fn delete_admin(&self, id: AdminId) -> Result<()>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn create_api_key(&self, new: &NewApiKey<'_>, now: OffsetDateTime) -> Result<ApiKey>;
    /// A key that is not revoked, by its hash (expired or not).
    async fn find_active_api_key(&self, hash: &str) -> Result<Option<ApiKey>>;
    async fn touch_api_key(&self, id: ApiKeyId, now: OffsetDateTime) -> Result<()>;
    async fn revoke_api_key(&self, id: ApiKeyId, now: OffsetDateTime) -> Result<ApiKey>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;
}

/// An API key to store: its hash, never the key.
#[derive(Debug, Clone, Copy)]
pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub role: Role,
    pub prefix: &'a str,
    pub hash: &'a str,
    pub created_by: &'a str,
    pub expires_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes a batch in one transaction.
    async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<()>;
    async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Page<AuditEvent>>;
    /// Oldest first: up to `limit` events with an id above `after`, at or
    /// after `since` (an export, which follows the log as it grows).
    async fn audit_events_after(
        &self,
        after: i64,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>>;
    /// Deletes up to `limit` events older than `before` (retention); how
    /// many it deleted.
    async fn prune_audit_events(&self, before: OffsetDateTime, limit: u32) -> Result<u64>;
}

/// Applications, their keys, group bindings, entitlements and images.
///
/// Bindings are one relation (`app_groups`) with two doors: the app's
/// `bind_group` and the group's view through `list_group_apps`. Deleting an
/// app, a group or a user removes their rows in every relation.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Every app's active signing certificate's expiry, by slug.
    async fn active_key_expiries(&self) -> Result<Vec<crate::application::KeyExpiry>>;
    /// Creates the app with its first (active) signing key, in one
    /// transaction. A taken slug is a `Conflict` on `slug`.
    async fn create_app(
        &self,
        new: &NewApplication,
        key: &NewAppKey,
        now: OffsetDateTime,
    ) -> Result<Application>;
    async fn get_app(&self, id: AppId) -> Result<Application>;
    async fn get_app_by_slug(&self, slug: &str) -> Result<Application>;
    /// The id and SSO inputs' version of the app with this slug: the
    /// version changes with the app row, its bindings, entitlements and
    /// keys, so a node may reuse what it loaded at (id, version).
    async fn app_sso_version(&self, slug: &str) -> Result<Option<(AppId, i64)>>;
    /// Search is a case-insensitive prefix of the label or the slug.
    async fn list_apps(&self, q: &ListQuery) -> Result<Page<Application>>;
    /// Replaces the whole (already validated) config.
    async fn update_app(
        &self,
        id: AppId,
        config: &AppConfig,
        now: OffsetDateTime,
    ) -> Result<Application>;
    async fn set_app_sso_active(
        &self,
        id: AppId,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<Application>;
    /// Deletes all of `ids` or none: an unknown id is `NotFound` and nothing
    /// is deleted. Returns the deleted apps.
    async fn delete_apps(&self, ids: &[AppId]) -> Result<Vec<Application>>;

    /// Every key of the app, active first, then newest first.
    async fn list_app_keys(&self, app: AppId) -> Result<Vec<AppKey>>;
    /// Adds a key; `activate` makes it the signing key (the others stay
    /// published until deleted).
    async fn add_app_key(
        &self,
        app: AppId,
        key: &NewAppKey,
        activate: bool,
        now: OffsetDateTime,
    ) -> Result<AppKey>;
    async fn activate_app_key(&self, app: AppId, key: AppKeyId) -> Result<AppKey>;
    /// Deletes a key that is not the active one (the active one is `Invalid`).
    async fn delete_app_key(&self, app: AppId, key: AppKeyId) -> Result<()>;
    /// The active key with its private key, for signing only.
    async fn active_signing_key(&self, app: AppId) -> Result<(AppKey, PrivateKeyPem)>;

    /// Idempotent; `NotFound` when the app or the group does not exist.
    async fn bind_group(&self, app: AppId, group: GroupId) -> Result<()>;
    /// Idempotent; `NotFound` when the app or the group does not exist.
    async fn unbind_group(&self, app: AppId, group: GroupId) -> Result<()>;
    /// The groups bound to an app, by name.
    async fn list_app_groups(&self, app: AppId) -> Result<Vec<Group>>;
    /// The apps a group is bound to, by label.
    async fn list_group_apps(&self, group: GroupId) -> Result<Vec<Application>>;
    /// Apps the user may see in the portal: SSO active, shown, and bound to
    /// one of the user's groups; by label.
    async fn list_portal_apps(&self, user: UserId) -> Result<Vec<Application>>;

    /// Replaces the app's entitlement table; an unknown group is `NotFound`.
    async fn set_entitlements(
        &self,
        app: AppId,
        grants: &[Grant],
        now: OffsetDateTime,
    ) -> Result<Vec<Grant>>;
    async fn list_entitlements(&self, app: AppId) -> Result<Vec<Grant>>;

    /// Sets (or with `None` removes) the portal image.
    async fn set_app_image(
        &self,
        app: AppId,
        image: Option<(&ImageInfo, &[u8])>,
        now: OffsetDateTime,
    ) -> Result<Application>;
    async fn get_app_image(&self, app: AppId) -> Result<Option<AppImage>>;
}

/// Sessions, the lockout counter, TOTP, and AuthnRequest replay memory (see
/// [`crate::session`] for the rules).
#[async_trait]
pub trait SignInStore: Send + Sync {
    async fn create_session(&self, new: &NewSession) -> Result<Session>;
    /// The session with this token hash, live or not (the caller checks
    /// [`Session::is_live`]); `None` when there is none.
    async fn find_session(&self, token_hash: &str) -> Result<Option<Session>>;
    /// [`Self::find_session`] with the session's user and the user's
    /// groups (ordered as [`UserStore::list_groups_of_user`] orders them),
    /// in one statement: this runs on every signed-in request.
    async fn find_session_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Session, User, Vec<Group>)>>;
    /// For an SSO request: [`Self::find_session_with_user`] and
    /// [`AppStore::app_sso_version`] of `slug`, in one statement when the
    /// session exists.
    async fn find_session_for_app(
        &self,
        token_hash: &str,
        slug: &str,
    ) -> Result<(Option<(Session, User, Vec<Group>)>, Option<(AppId, i64)>)>;
    /// Records use at `now` for each of `ids` that still exists and was
    /// last seen earlier (never moves a last use back); how many changed.
    /// Callers throttle and batch this.
    async fn touch_sessions(&self, ids: &[SessionId], now: OffsetDateTime) -> Result<u64>;
    /// `AwaitingTotp` -> `Complete` with the second factor given at `now`:
    /// the session gets a new token (its hash `token_hash`), so the token
    /// handed out after the password alone stops working.
    async fn complete_session(
        &self,
        id: SessionId,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Session>;
    /// Records that the user confirmed their password again at `now`.
    async fn reauthenticate_session(&self, id: SessionId, now: OffsetDateTime) -> Result<Session>;
    /// Ends the session at `now` for `reason`: it stops working and moves
    /// to the user's session history ([`EndedSession`]). Idempotent.
    async fn end_session(
        &self,
        id: SessionId,
        reason: SessionEnd,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// A user's sessions, newest first; `NotFound` when the user is missing.
    async fn list_user_sessions(&self, user: UserId) -> Result<Vec<Session>>;
    /// Ends one of the user's sessions ([`SessionEnd::Revoked`]);
    /// `NotFound` when it is not theirs.
    async fn revoke_user_session(
        &self,
        user: UserId,
        id: SessionId,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Ends all of a user's sessions for `reason`; returns how many.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        reason: SessionEnd,
        now: OffsetDateTime,
    ) -> Result<u64>;
    /// Ends sessions past their absolute end ([`SessionEnd::Expired`]) or
    /// idle since `idle_before` ([`SessionEnd::Idle`]).
    async fn purge_sessions(&self, now: OffsetDateTime, idle_before: OffsetDateTime)
        -> Result<u64>;
    /// The user's ended sessions, the latest end first, at most `limit`;
    /// `NotFound` when the user is missing.
    async fn list_ended_sessions(&self, user: UserId, limit: u32) -> Result<Vec<EndedSession>>;
    /// Forgets up to `limit` ended sessions that ended before `before`
    /// (retention); how many.
    async fn prune_ended_sessions(&self, before: OffsetDateTime, limit: u32) -> Result<u64>;

    /// Failures, lock, TOTP secrets and last step; `NotFound` when the
    /// account is missing.
    async fn sign_in_state(&self, account: Account) -> Result<SignInState>;
    /// [`Self::sign_in_state`] of several users in one statement (users
    /// that do not exist are left out): for listings.
    async fn sign_in_states(&self, users: &[UserId]) -> Result<Vec<(UserId, SignInState)>>;
    /// Atomically takes one attempt slot: `true` when the account is not
    /// locked at `now` and fewer than `max_failures` were taken (the
    /// failure counter went up by one), `false` otherwise (nothing changed).
    async fn claim_login_attempt(
        &self,
        account: Account,
        max_failures: u32,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// After a failed or refused attempt: when the counter has reached
    /// `max_failures`, atomically locks the account until `now` plus
    /// `first_lock` doubled once per earlier lock (at most
    /// [`crate::session::MAX_LOCKOUT`]), sets the counter back to 0 and
    /// counts the lock. The lock's end when this call locked, else `None`
    /// (of concurrent callers exactly one locks).
    async fn lock_if_exhausted(
        &self,
        account: Account,
        max_failures: u32,
        first_lock: time::Duration,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>>;
    /// A success or an admin's unlock: counter, lock and lock count back to
    /// 0.
    async fn reset_login_failures(&self, account: Account) -> Result<()>;
    /// Atomically takes one attempt slot of `source` (an address) for
    /// `account`: `Ok(None)` when taken (fewer than
    /// [`crate::session::SOURCE_FAILURES`] in the current window and no
    /// block), `Ok(Some(until))` when the source is refused until then.
    async fn claim_source_attempt(
        &self,
        account: Account,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>>;
    /// After a failed attempt from `source`: when its slots are used up,
    /// blocks it for [`crate::session::SOURCE_BLOCK`] from `now`.
    async fn block_source_if_exhausted(
        &self,
        account: Account,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Forgets the failures and blocks of `source` for `account` (a
    /// success), or of every source (`None`: an admin's unlock).
    async fn forget_sources(&self, account: Account, source: Option<&str>) -> Result<()>;
    /// Deletes source rows whose window and block are over at `now`.
    async fn purge_sources(&self, now: OffsetDateTime) -> Result<u64>;
    /// Deletes up to `limit` rows per table of what has expired at `now`:
    /// remembered AuthnRequest ids and ForceAuthn sightings, one-time form
    /// tokens (retention); how many it deleted.
    async fn prune_expired(&self, now: OffsetDateTime, limit: u32) -> Result<u64>;
    /// Stores (or with `None` clears) a TOTP secret awaiting confirmation.
    async fn set_totp_pending(&self, account: Account, secret: Option<&str>) -> Result<()>;
    /// Makes the pending secret the account's TOTP secret, recording `step`
    /// as used, only if the pending secret is still `secret` (the one the
    /// code was checked against: a concurrent re-enrollment must not swap
    /// it); `false` otherwise.
    async fn confirm_totp(&self, account: Account, secret: &str, step: i64) -> Result<bool>;
    /// Removes TOTP (enrolled and pending) from the account.
    async fn reset_totp(&self, account: Account) -> Result<()>;
    /// Atomically records `step` as used if it is later than the last used
    /// one: `true` when it was, `false` for a replayed or older step.
    async fn use_totp_step(&self, account: Account, step: i64) -> Result<bool>;

    /// When the ForceAuthn request `request_id` of `app` was first seen:
    /// `now` the first time (remembered until `expires_at`), the remembered
    /// instant afterwards. Expired entries are forgotten; `NotFound` when
    /// the app is missing.
    async fn note_forced_authn(
        &self,
        app: AppId,
        request_id: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<OffsetDateTime>;
    /// Remembers an AuthnRequest ID of an app until `expires_at`: `true` when
    /// it was new, `false` when it was seen before (a replay). Expired entries
    /// are forgotten.
    async fn remember_request_id(
        &self,
        app: AppId,
        request_id: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool>;

    /// The role (its Role attribute value) `user` last chose for `app`.
    async fn last_role_choice(&self, user: UserId, app: AppId) -> Result<Option<String>>;
    /// Remembers `role` as `user`'s last choice for `app`, replacing the
    /// one before; nothing when the user or the app is gone.
    async fn remember_role_choice(
        &self,
        user: UserId,
        app: AppId,
        role: &str,
        at: OffsetDateTime,
    ) -> Result<()>;
}

/// Admin portal sessions (same rules as user sessions: stored by token
/// hash, idle and absolute limits checked by the caller).
#[async_trait]
pub trait AdminSessionStore: Send + Sync {
    /// `NotFound` when the admin is missing.
    async fn create_admin_session(&self, new: &NewAdminSession) -> Result<AdminSession>;
    /// The session with this token hash and its admin, live or not (the
    /// caller checks [`AdminSession::is_live`]).
    async fn find_admin_session(&self, token_hash: &str) -> Result<Option<(AdminSession, Admin)>>;
    /// Records use at `now` (callers throttle this).
    async fn touch_admin_session(&self, id: AdminSessionId, now: OffsetDateTime) -> Result<()>;
    /// Idempotent.
    async fn delete_admin_session(&self, id: AdminSessionId) -> Result<()>;
    /// Moves a session to `stage` after the admin authenticated with
    /// `methods` at `now`, under a new token (its hash `token_hash`): the
    /// token of the earlier stage stops working.
    async fn advance_admin_session(
        &self,
        id: AdminSessionId,
        stage: SessionStage,
        methods: AuthMethods,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<AdminSession>;
    /// Records that the admin confirmed their password again at `now`.
    async fn reauthenticate_admin_session(
        &self,
        id: AdminSessionId,
        now: OffsetDateTime,
    ) -> Result<AdminSession>;
    /// An admin's sessions, newest first; `NotFound` when the admin is missing.
    async fn list_admin_sessions(&self, admin: AdminId) -> Result<Vec<AdminSession>>;
    /// Ends one of the admin's sessions; `NotFound` when it is not theirs.
    async fn revoke_admin_session(&self, admin: AdminId, id: AdminSessionId) -> Result<()>;
    /// Ends the admin's sessions except `keep`; returns how many ended.
    async fn revoke_admin_sessions(
        &self,
        admin: AdminId,
        keep: Option<AdminSessionId>,
    ) -> Result<u64>;
    /// Deletes sessions past their absolute end or idle since `idle_before`.
    async fn purge_admin_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64>;
    /// Records a one-time form token until `expires_at`: `true` the first
    /// time, `false` when it is recorded already (a second submission).
    /// Expired tokens are forgotten.
    async fn use_form_token(
        &self,
        token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool>;
}

/// What kind of database a store keeps its data in.
#[async_trait]
pub trait StoreInfo: Send + Sync {
    /// `"sqlite"` or `"postgres"` (never a URL: it may hold a password).
    fn backend_name(&self) -> &'static str;
    /// Checks that the database answers: one trivial statement on a pooled
    /// connection (readiness).
    async fn ping(&self) -> Result<()>;
    /// The connection pool's state now (metrics).
    fn pool_stats(&self) -> PoolStats;
    /// Statements that failed since the process started (metrics).
    fn statement_errors(&self) -> u64;
}

/// A connection pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    pub in_use: u32,
    pub idle: u32,
}

/// Several changes as one: a use-case makes its change and writes its audit
/// event through one [`UnitOfWork`], so both are stored or neither is.
#[async_trait]
pub trait Transactional: Send + Sync {
    /// Starts a unit of work: a store whose every method runs in one
    /// database transaction until [`UnitOfWork::commit`]. Dropping it
    /// without committing rolls everything back. A unit of work cannot
    /// begin another (`Store` error).
    ///
    /// While one is open it holds a database connection (on SQLite, the
    /// write lock from the start): do slow work (password hashing, key
    /// generation) before beginning, and reach the store only through it.
    async fn begin(&self) -> Result<Box<dyn UnitOfWork>>;
}

/// An open transaction with the whole store's methods (see
/// [`Transactional::begin`]).
#[async_trait]
pub trait UnitOfWork: Store {
    /// Makes every change made through this unit of work durable, at once.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Everything a Lanyard instance stores.
pub trait Store:
    StoreInfo
    + UserStore
    + GroupStore
    + AdminStore
    + ApiKeyStore
    + AuditStore
    + AppStore
    + SignInStore
    + AdminSessionStore
    + Transactional
{
}
impl<
        T: StoreInfo
            + UserStore
            + GroupStore
            + AdminStore
            + ApiKeyStore
            + AuditStore
            + AppStore
            + SignInStore
            + AdminSessionStore
            + Transactional,
    > Store for T
{
}
