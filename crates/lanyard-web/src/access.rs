//! Capability-typed access to the store: the only way a handler reaches it.
//!
//! [`StoreAccess`] holds the store privately. A handler first proves who is
//! calling ([`StoreAccess::authenticate_api_key`] yields an [`Authenticated`],
//! which nothing outside this module can construct), then asks for a
//! capability: [`ReadAccess`] (read methods only) for any authenticated
//! caller, [`WriteAccess`] (the whole store) only when the caller's role may
//! write. So a write cannot be reached without the role check, and the check
//! lives in exactly one place ([`StoreAccess::writer`]). The pattern follows
//! lldap's access-control crate (readonly vs admin backend handlers).
//!
//! The admin portal authenticates with [`StoreAccess::authenticate_admin_session`]
//! (the `lanyard_admin` cookie) and gets the same capabilities, so a
//! read-only admin's pages cannot write either; signing in goes through
//! [`AdminSignInAccess`], which can look up admins and make sessions only.

use std::ops::Deref;
use std::sync::Arc;

use lanyard_core::admin::{hash_api_key, Actor, Admin, ApiKey};
use lanyard_core::application::{AppImage, AppKey, Application, Grant, PrivateKeyPem};
use lanyard_core::audit::{AuditEvent, AuditFilter};
use lanyard_core::directory::{Group, GroupCounts, ListQuery, Page, User};
use lanyard_core::session::{
    token_hash, AdminSession, NewAdminSession, NewSession, Session, SignInState,
};
use lanyard_core::sso::AppGrants;
use lanyard_core::store::Store;
use lanyard_core::{ApiKeyId, AppId, GroupId, Result, UserId};
use time::{Duration, OffsetDateTime};

/// How stale `last_used_at` may get before a request refreshes it. Without
/// this every API request would also be a database write.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// The gate in front of the store. Cheap to clone.
#[derive(Clone)]
pub struct StoreAccess {
    store: Arc<dyn Store>,
}

/// Proof that a caller was authenticated, with who they are.
#[derive(Debug, Clone)]
pub struct Authenticated {
    actor: Actor,
    api_key: Option<ApiKeyId>,
}

impl Authenticated {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The API key used, when the caller came with one.
    pub fn api_key(&self) -> Option<ApiKeyId> {
        self.api_key
    }
}

impl StoreAccess {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The caller holding `secret`, if it is a live (unrevoked) API key.
    /// Refreshes the key's `last_used_at` at most once per [`TOUCH_INTERVAL`];
    /// a failed refresh is logged, not fatal.
    pub async fn authenticate_api_key(
        &self,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>> {
        let Some(key) = self
            .store
            .find_active_api_key(&hash_api_key(secret))
            .await?
        else {
            return Ok(None);
        };
        if key.last_used_at.is_none_or(|at| now - at >= TOUCH_INTERVAL) {
            if let Err(err) = self.store.touch_api_key(key.id, now).await {
                tracing::warn!(key = %key.id, "cannot record API key use: {err}");
            }
        }
        Ok(Some(Authenticated {
            actor: Actor {
                label: format!("apikey:{}#{}", key.name, key.id),
                role: key.role,
            },
            api_key: Some(key.id),
        }))
    }

    /// The admin holding the admin portal session token `token`, if the
    /// session is live at `now` (`idle`: the idle limit). An ended session is
    /// deleted on sight; `last_seen_at` is refreshed at most once per
    /// [`TOUCH_INTERVAL`]. Returns the session too (its CSRF secret guards
    /// the admin's forms).
    pub async fn authenticate_admin_session(
        &self,
        token: &str,
        now: OffsetDateTime,
        idle: Duration,
    ) -> Result<Option<(Authenticated, AdminSession, Admin)>> {
        let Some((session, admin)) = self.store.find_admin_session(&token_hash(token)).await?
        else {
            return Ok(None);
        };
        if !session.is_live(now, idle) {
            self.store.delete_admin_session(session.id).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_INTERVAL {
            self.store.touch_admin_session(session.id, now).await?;
        }
        let who = Authenticated {
            actor: Actor {
                label: format!("admin:{}", admin.email),
                role: admin.role,
            },
            api_key: None,
        };
        Ok(Some((who, session, admin)))
    }

    /// What the admin sign-in and sign-out pages may do: find an admin by
    /// email (with the hash) and make or end admin sessions.
    pub fn admin_sign_in(&self) -> AdminSignInAccess {
        AdminSignInAccess {
            store: self.store.clone(),
        }
    }

    /// Every authenticated caller may read.
    pub fn reader(&self, _who: &Authenticated) -> ReadAccess {
        ReadAccess {
            store: self.store.clone(),
        }
    }

    /// What anyone may read without credentials: published metadata and
    /// portal images (neither is secret; SPs and browsers fetch them).
    pub fn public(&self) -> PublicAccess {
        PublicAccess {
            store: self.store.clone(),
        }
    }

    /// What the user-facing flows (sign-in, portal, SSO) may do. They act
    /// for one directory user at a time and never reach admin writes; which
    /// user is the flow's business (a password check, a session).
    pub fn flows(&self) -> FlowAccess {
        FlowAccess {
            store: self.store.clone(),
        }
    }

    /// A write handle, only for roles that may write.
    pub fn writer(&self, who: &Authenticated) -> Option<WriteAccess> {
        who.actor.role.can_write().then(|| WriteAccess {
            store: self.store.clone(),
        })
    }
}

/// The store's read methods, and nothing else.
#[derive(Clone)]
pub struct ReadAccess {
    store: Arc<dyn Store>,
}

impl ReadAccess {
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        self.store.get_user(id).await
    }
    pub async fn list_users(&self, q: &ListQuery) -> Result<Page<User>> {
        self.store.list_users(q).await
    }
    pub async fn list_groups_of_user(&self, id: UserId) -> Result<Vec<Group>> {
        self.store.list_groups_of_user(id).await
    }
    pub async fn get_group(&self, id: GroupId) -> Result<Group> {
        self.store.get_group(id).await
    }
    pub async fn list_groups(&self, q: &ListQuery) -> Result<Page<Group>> {
        self.store.list_groups(q).await
    }
    pub async fn list_members(&self, group: GroupId, q: &ListQuery) -> Result<Page<User>> {
        self.store.list_members(group, q).await
    }
    /// Member and bound-application counts of `groups` (one statement).
    pub async fn count_group_relations(
        &self,
        groups: &[GroupId],
    ) -> Result<Vec<(GroupId, GroupCounts)>> {
        self.store.count_group_relations(groups).await
    }
    /// `"sqlite"` or `"postgres"` (the kind only, never the URL).
    pub fn database_kind(&self) -> &'static str {
        self.store.backend_name()
    }
    pub async fn list_admins(&self) -> Result<Vec<Admin>> {
        self.store.list_admins().await
    }
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        self.store.list_api_keys().await
    }
    pub async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Page<AuditEvent>> {
        self.store.list_audit_events(filter).await
    }
    pub async fn get_app(&self, id: AppId) -> Result<Application> {
        self.store.get_app(id).await
    }
    pub async fn list_apps(&self, q: &ListQuery) -> Result<Page<Application>> {
        self.store.list_apps(q).await
    }
    pub async fn list_app_keys(&self, app: AppId) -> Result<Vec<AppKey>> {
        self.store.list_app_keys(app).await
    }
    pub async fn list_app_groups(&self, app: AppId) -> Result<Vec<Group>> {
        self.store.list_app_groups(app).await
    }
    pub async fn list_group_apps(&self, group: GroupId) -> Result<Vec<Application>> {
        self.store.list_group_apps(group).await
    }
    pub async fn list_entitlements(&self, app: AppId) -> Result<Vec<Grant>> {
        self.store.list_entitlements(app).await
    }
    /// The app's bound groups and entitlements (for the Preview).
    pub async fn app_grants(&self, app: AppId) -> Result<AppGrants> {
        load_app_grants(&*self.store, app).await
    }
    pub async fn find_user_by_login(&self, login: &str) -> Result<Option<User>> {
        Ok(self.store.find_user_by_login(login).await?.map(|(u, _)| u))
    }
    pub async fn list_user_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        self.store.list_user_sessions(user).await
    }
    /// The lockout counter and TOTP state (the secrets stay in the value,
    /// which does not serialize them; views must not copy them out).
    pub async fn sign_in_state(&self, user: UserId) -> Result<SignInState> {
        self.store.sign_in_state(user).await
    }
    pub async fn sign_in_states(&self, users: &[UserId]) -> Result<Vec<(UserId, SignInState)>> {
        self.store.sign_in_states(users).await
    }
}

/// The store methods the sign-in, portal and SSO flows use, and no others.
#[derive(Clone)]
pub struct FlowAccess {
    store: Arc<dyn Store>,
}

impl FlowAccess {
    /// By email (case-insensitive) or username, with the password hash.
    pub async fn find_user_by_login(&self, login: &str) -> Result<Option<(User, Option<String>)>> {
        self.store.find_user_by_login(login).await
    }
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        self.store.get_user(id).await
    }
    pub async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.store.set_password_hash(id, hash, now).await
    }
    pub async fn list_groups_of_user(&self, id: UserId) -> Result<Vec<Group>> {
        self.store.list_groups_of_user(id).await
    }
    pub async fn sign_in_state(&self, user: UserId) -> Result<SignInState> {
        self.store.sign_in_state(user).await
    }
    pub async fn claim_login_attempt(&self, user: UserId, max_failures: u32) -> Result<bool> {
        self.store.claim_login_attempt(user, max_failures).await
    }
    pub async fn reset_login_failures(&self, user: UserId) -> Result<()> {
        self.store.reset_login_failures(user).await
    }
    pub async fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        self.store.use_totp_step(user, step).await
    }
    pub async fn set_totp_pending(&self, user: UserId, secret: Option<&str>) -> Result<()> {
        self.store.set_totp_pending(user, secret).await
    }
    pub async fn confirm_totp(&self, user: UserId, secret: &str, step: i64) -> Result<bool> {
        self.store.confirm_totp(user, secret, step).await
    }
    pub async fn create_session(&self, new: &NewSession) -> Result<Session> {
        self.store.create_session(new).await
    }
    pub async fn find_session(&self, token_hash: &str) -> Result<Option<Session>> {
        self.store.find_session(token_hash).await
    }
    pub async fn find_session_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Session, User, Vec<Group>)>> {
        self.store.find_session_with_user(token_hash).await
    }
    #[allow(clippy::type_complexity)]
    pub async fn find_session_for_app(
        &self,
        token_hash: &str,
        slug: &str,
    ) -> Result<(Option<(Session, User, Vec<Group>)>, Option<(AppId, i64)>)> {
        self.store.find_session_for_app(token_hash, slug).await
    }
    pub async fn touch_sessions(&self, ids: &[i64], now: OffsetDateTime) -> Result<u64> {
        self.store.touch_sessions(ids, now).await
    }
    pub async fn complete_session(&self, id: i64, now: OffsetDateTime) -> Result<Session> {
        self.store.complete_session(id, now).await
    }
    pub async fn delete_session(&self, id: i64) -> Result<()> {
        self.store.delete_session(id).await
    }
    /// Ends all of the user's sessions (after a password change).
    pub async fn revoke_user_sessions(&self, user: UserId) -> Result<u64> {
        self.store.revoke_user_sessions(user).await
    }
    pub async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        self.store.purge_sessions(now, idle_before).await
    }
    pub async fn list_portal_apps(&self, user: UserId) -> Result<Vec<Application>> {
        self.store.list_portal_apps(user).await
    }
    pub async fn get_app_by_slug(&self, slug: &str) -> Result<Application> {
        self.store.get_app_by_slug(slug).await
    }
    pub async fn app_sso_version(&self, slug: &str) -> Result<Option<(AppId, i64)>> {
        self.store.app_sso_version(slug).await
    }
    pub async fn list_app_groups(&self, app: AppId) -> Result<Vec<Group>> {
        self.store.list_app_groups(app).await
    }
    pub async fn list_entitlements(&self, app: AppId) -> Result<Vec<Grant>> {
        self.store.list_entitlements(app).await
    }
    /// The app's bound groups and entitlements (for the SSO decision).
    pub async fn app_grants(&self, app: AppId) -> Result<AppGrants> {
        load_app_grants(&*self.store, app).await
    }
    /// The active key with its private key: for the signer only.
    pub async fn active_signing_key(&self, app: AppId) -> Result<(AppKey, PrivateKeyPem)> {
        self.store.active_signing_key(app).await
    }
    pub async fn remember_request_id(
        &self,
        app: AppId,
        request_id: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        self.store
            .remember_request_id(app, request_id, now, expires_at)
            .await
    }
}

/// What [`lanyard_core::sso::AppFacts::new`] needs besides the app: one
/// loader for the SSO endpoint and the admin's Preview, so both decide from
/// the same inputs.
async fn load_app_grants(store: &dyn Store, app: AppId) -> Result<AppGrants> {
    let (groups, grants) =
        tokio::try_join!(store.list_app_groups(app), store.list_entitlements(app))?;
    Ok(AppGrants {
        bound_groups: groups.into_iter().map(|g| g.id).collect(),
        entitlements: grants
            .into_iter()
            .map(|g| (g.group_id, g.entitlement))
            .collect(),
    })
}

/// The admin portal's sign-in and sign-out: nothing else.
#[derive(Clone)]
pub struct AdminSignInAccess {
    store: Arc<dyn Store>,
}

impl AdminSignInAccess {
    /// By email (case-insensitive), with the password hash.
    pub async fn find_admin_by_email(&self, email: &str) -> Result<Option<(Admin, String)>> {
        self.store.find_admin_by_email(email).await
    }
    pub async fn create_admin_session(&self, new: &NewAdminSession) -> Result<AdminSession> {
        self.store.create_admin_session(new).await
    }
    /// The session with this token hash (any liveness), for sign-out.
    pub async fn find_admin_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<(AdminSession, Admin)>> {
        self.store.find_admin_session(token_hash).await
    }
    pub async fn delete_admin_session(&self, id: i64) -> Result<()> {
        self.store.delete_admin_session(id).await
    }
    pub async fn purge_admin_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        self.store.purge_admin_sessions(now, idle_before).await
    }
}

/// Unauthenticated reads of what the IdP publishes.
#[derive(Clone)]
pub struct PublicAccess {
    store: Arc<dyn Store>,
}

impl PublicAccess {
    pub async fn get_app_by_slug(&self, slug: &str) -> Result<Application> {
        self.store.get_app_by_slug(slug).await
    }
    pub async fn list_app_keys(&self, app: AppId) -> Result<Vec<AppKey>> {
        self.store.list_app_keys(app).await
    }
    pub async fn get_app_image(&self, app: AppId) -> Result<Option<AppImage>> {
        self.store.get_app_image(app).await
    }
}

/// The whole store, for a caller whose role may write.
pub struct WriteAccess {
    store: Arc<dyn Store>,
}

impl Deref for WriteAccess {
    type Target = dyn Store;

    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}
