//! Storage traits, one per aggregate. `lanyard-store` implements them with sqlx
//! for SQLite and PostgreSQL; use-cases and the web layer only see these.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::admin::{Admin, ApiKey, Role};
use crate::audit::{AuditEvent, AuditFilter};
use crate::directory::{
    Group, GroupPatch, ListQuery, NewGroup, NewUser, Page, User, UserPatch, UserState,
};
use crate::error::Result;
use crate::ids::{AdminId, ApiKeyId, GroupId, UserId};

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
    async fn list_admins(&self) -> Result<Vec<Admin>>;
    async fn delete_admin(&self, id: AdminId) -> Result<()>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn create_api_key(
        &self,
        name: &str,
        role: Role,
        prefix: &str,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<ApiKey>;
    /// A key that is not revoked, by its hash.
    async fn find_active_api_key(&self, hash: &str) -> Result<Option<ApiKey>>;
    async fn touch_api_key(&self, id: ApiKeyId, now: OffsetDateTime) -> Result<()>;
    async fn revoke_api_key(&self, id: ApiKeyId, now: OffsetDateTime) -> Result<ApiKey>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes a batch in one transaction.
    async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<()>;
    async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Page<AuditEvent>>;
}

/// Everything a Lanyard instance stores.
pub trait Store: UserStore + GroupStore + AdminStore + ApiKeyStore + AuditStore {}
impl<T: UserStore + GroupStore + AdminStore + ApiKeyStore + AuditStore> Store for T {}
