//! Capability-typed access: who is calling, and what they may do.
//!
//! A door first proves who is calling: [`Lanyard::authenticate_api_key`]
//! (the REST API's bearer key) or [`Lanyard::authenticate_admin_session`]
//! (the admin portal's cookie) yields an [`Authenticated`], which nothing
//! outside this crate can construct. Then it asks for a capability:
//! a [`Reader`] (read methods and read models only) for any authenticated
//! caller, a [`Writer`] only when the caller's role may write. Every
//! state-changing use-case takes a `&Writer`, so a write cannot be reached
//! without the role check, and the check lives in exactly one place
//! ([`Lanyard::writer`]). The pattern follows lldap's access-control crate
//! (read-only vs admin backend handlers).
//!
//! [`Public`] reads what anyone may fetch without credentials: published
//! metadata and portal images.

use lanyard_core::admin::{hash_api_key, Actor, Admin, ApiKey, Role};
use lanyard_core::application::{AppImage, AppKey, Application, Grant};
use lanyard_core::audit::{AuditEvent, AuditFilter};
use lanyard_core::catalog::Catalog;
use lanyard_core::directory::{Group, GroupCounts, ListQuery, Page, User};
use lanyard_core::session::{
    token_hash, Account, AdminSession, EndedSession, Session, SessionStage, SignInState,
};
use lanyard_core::sso::AppGrants;
use lanyard_core::store::Store;
use lanyard_core::{AdminId, ApiKeyId, AppId, GroupId, Result, Settings, UserId};
use time::{Duration, OffsetDateTime};

use crate::work::Work;
use crate::Lanyard;

/// How stale a key's `last_used_at` or an admin session's `last_seen_at`
/// may get before a request refreshes it. Without this every request would
/// also be a database write.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// How many ended sessions of a user the API and the admin page show
/// (the latest; retention decides how long they are kept).
pub const ENDED_SESSIONS_SHOWN: u32 = 100;

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

    /// The operator at the host, for the CLI: whoever can run `lanyard`
    /// commands there can open the database anyway, so the commands act as
    /// the `cli` actor with full rights (and are audited as such). Only the
    /// binary's commands use this.
    pub fn host_operator() -> Self {
        Authenticated {
            actor: Actor::cli(),
            api_key: None,
        }
    }
}

/// A signed-in admin: a live admin session, the admin, and the proof of
/// authentication capabilities are asked with.
#[derive(Debug, Clone)]
pub struct AdminSignedIn {
    pub who: Authenticated,
    pub session: AdminSession,
    pub admin: Admin,
}

/// What an API key presented with a request is.
#[derive(Debug)]
pub enum KeyCheck {
    /// A live key: its caller.
    Valid(Authenticated),
    /// Unknown or revoked.
    Unknown,
    /// A key past its expiry.
    Expired,
}

impl Lanyard {
    /// The caller holding `secret`, if it is a live (unrevoked, unexpired)
    /// API key. Refreshes the key's `last_used_at` at most once per
    /// [`TOUCH_INTERVAL`]; a failed refresh is logged, not fatal.
    pub async fn authenticate_api_key(&self, secret: &str) -> Result<KeyCheck> {
        let store = self.store();
        let Some(key) = store.find_active_api_key(&hash_api_key(secret)).await? else {
            return Ok(KeyCheck::Unknown);
        };
        let now = self.now();
        if key.is_expired(now) {
            return Ok(KeyCheck::Expired);
        }
        if key.last_used_at.is_none_or(|at| now - at >= TOUCH_INTERVAL) {
            if let Err(err) = store.touch_api_key(key.id, now).await {
                tracing::warn!(key = %key.id, "cannot record API key use: {err}");
            }
        }
        Ok(KeyCheck::Valid(Authenticated {
            actor: Actor {
                label: format!("apikey:{}#{}", key.name, key.id),
                role: key.role,
            },
            api_key: Some(key.id),
        }))
    }

    /// The admin holding the admin portal session token `token`, if the
    /// session is live and complete now (a session awaiting the second
    /// factor or enrollment reaches only those steps) and the admin is not
    /// disabled. An ended session is deleted on sight;
    /// `last_seen_at` is refreshed at most once per [`TOUCH_INTERVAL`]. The
    /// session comes too: its CSRF secret guards the admin's forms.
    pub async fn authenticate_admin_session(&self, token: &str) -> Result<Option<AdminSignedIn>> {
        let store = self.store();
        let Some((session, admin)) = store.find_admin_session(&token_hash(token)).await? else {
            return Ok(None);
        };
        let now = self.now();
        if !session.is_live(now, self.settings().auth.session_idle) || admin.disabled {
            store.delete_admin_session(session.id).await?;
            return Ok(None);
        }
        if session.stage != SessionStage::Complete {
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_INTERVAL {
            store.touch_admin_session(session.id, now).await?;
        }
        let who = Authenticated {
            actor: Actor {
                label: format!("admin:{}", admin.email),
                role: admin.role,
            },
            api_key: None,
        };
        Ok(Some(AdminSignedIn {
            who,
            session,
            admin,
        }))
    }

    /// Every authenticated caller may read.
    pub fn reader(&self, _who: &Authenticated) -> Reader {
        Reader {
            lanyard: self.clone(),
        }
    }

    /// A write handle for one request (its "now" read once here; `source`:
    /// the client's address, for the audit log), only for roles that may
    /// write.
    pub fn writer(&self, who: &Authenticated, source: Option<String>) -> Option<Writer> {
        who.actor.role.can_write().then(|| Writer {
            lanyard: self.clone(),
            actor: who.actor.clone(),
            now: self.now(),
            source,
        })
    }

    /// What anyone may read without credentials.
    pub fn public(&self) -> Public {
        Public {
            lanyard: self.clone(),
        }
    }
}

/// The store's read methods and the read models, and nothing else.
#[derive(Clone)]
pub struct Reader {
    lanyard: Lanyard,
}

impl Reader {
    fn store(&self) -> &dyn Store {
        self.lanyard.store()
    }
    pub fn settings(&self) -> &Settings {
        self.lanyard.settings()
    }
    /// The connector templates applications are created from.
    pub fn catalog(&self) -> &Catalog {
        self.lanyard.catalog()
    }
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        self.store().get_user(id).await
    }
    pub async fn list_users(&self, q: &ListQuery) -> Result<Page<User>> {
        self.store().list_users(q).await
    }
    pub async fn list_groups_of_user(&self, id: UserId) -> Result<Vec<Group>> {
        self.store().list_groups_of_user(id).await
    }
    pub async fn get_group(&self, id: GroupId) -> Result<Group> {
        self.store().get_group(id).await
    }
    pub async fn list_groups(&self, q: &ListQuery) -> Result<Page<Group>> {
        self.store().list_groups(q).await
    }
    pub async fn list_members(&self, group: GroupId, q: &ListQuery) -> Result<Page<User>> {
        self.store().list_members(group, q).await
    }
    /// Member and bound-application counts of `groups` (one statement).
    pub async fn count_group_relations(
        &self,
        groups: &[GroupId],
    ) -> Result<Vec<(GroupId, GroupCounts)>> {
        self.store().count_group_relations(groups).await
    }
    /// `"sqlite"` or `"postgres"` (the kind only, never the URL).
    pub fn database_kind(&self) -> &'static str {
        self.lanyard.database_kind()
    }
    pub async fn list_admins(&self) -> Result<Vec<Admin>> {
        self.store().list_admins().await
    }
    pub async fn get_admin(&self, id: AdminId) -> Result<Admin> {
        self.store().get_admin(id).await
    }
    /// An admin's lockout counter, lock and TOTP state (secrets stay in
    /// the value, which does not serialize them).
    pub async fn admin_sign_in_state(&self, id: AdminId) -> Result<SignInState> {
        self.store().sign_in_state(Account::Admin(id)).await
    }
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        self.store().list_api_keys().await
    }
    pub async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Page<AuditEvent>> {
        self.store().list_audit_events(filter).await
    }
    /// Sign-in and SSO events this node wrote to its log instead of the
    /// audit log since it started (the queue was full).
    pub fn audit_logged_instead(&self) -> u64 {
        self.lanyard.audit().logged_instead()
    }
    pub async fn get_app(&self, id: AppId) -> Result<Application> {
        self.store().get_app(id).await
    }
    pub async fn list_apps(&self, q: &ListQuery) -> Result<Page<Application>> {
        self.store().list_apps(q).await
    }
    pub async fn list_app_keys(&self, app: AppId) -> Result<Vec<AppKey>> {
        self.store().list_app_keys(app).await
    }
    pub async fn list_app_groups(&self, app: AppId) -> Result<Vec<Group>> {
        self.store().list_app_groups(app).await
    }
    pub async fn list_group_apps(&self, group: GroupId) -> Result<Vec<Application>> {
        self.store().list_group_apps(group).await
    }
    pub async fn list_entitlements(&self, app: AppId) -> Result<Vec<Grant>> {
        self.store().list_entitlements(app).await
    }
    /// The app's bound groups and entitlements (for the Preview).
    pub async fn app_grants(&self, app: AppId) -> Result<AppGrants> {
        load_app_grants(self.store(), app).await
    }
    pub async fn find_user_by_login(&self, login: &str) -> Result<Option<User>> {
        Ok(self
            .store()
            .find_user_by_login(login)
            .await?
            .map(|(u, _)| u))
    }
    pub async fn list_user_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        self.store().list_user_sessions(user).await
    }
    /// The user's session history: the latest [`ENDED_SESSIONS_SHOWN`]
    /// ended sessions, the latest end first.
    pub async fn list_ended_sessions(&self, user: UserId) -> Result<Vec<EndedSession>> {
        self.store()
            .list_ended_sessions(user, ENDED_SESSIONS_SHOWN)
            .await
    }
    /// The lockout counter and TOTP state (the secrets stay in the value,
    /// which does not serialize them; views must not copy them out).
    pub async fn sign_in_state(&self, user: UserId) -> Result<SignInState> {
        self.store().sign_in_state(Account::User(user)).await
    }
    pub async fn sign_in_states(&self, users: &[UserId]) -> Result<Vec<(UserId, SignInState)>> {
        self.store().sign_in_states(users).await
    }
}

/// A caller whose role may write, for one request: the changes, their
/// "now", and who and where they come from for the audit log.
pub struct Writer {
    lanyard: Lanyard,
    actor: Actor,
    now: OffsetDateTime,
    source: Option<String>,
}

impl Writer {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The caller's role (an API key or admin it makes may have at most this).
    pub fn role(&self) -> Role {
        self.actor.role
    }

    /// The request's "now", read once when the writer was made.
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    pub(crate) fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    pub(crate) fn lanyard(&self) -> &Lanyard {
        &self.lanyard
    }

    pub(crate) fn settings(&self) -> &Settings {
        self.lanyard.settings()
    }

    /// Reads outside a unit of work (e.g. what to show after a change).
    pub fn reader(&self) -> Reader {
        Reader {
            lanyard: self.lanyard.clone(),
        }
    }

    /// Opens a unit of work: every change of one use-case and its audit
    /// events, committed together.
    pub(crate) async fn begin(&self) -> Result<Work<'_>> {
        Work::begin(self).await
    }
}

/// Unauthenticated reads of what the IdP publishes.
#[derive(Clone)]
pub struct Public {
    lanyard: Lanyard,
}

impl Public {
    pub(crate) fn lanyard(&self) -> &Lanyard {
        &self.lanyard
    }
    pub async fn get_app_by_slug(&self, slug: &str) -> Result<Application> {
        self.lanyard.store().get_app_by_slug(slug).await
    }
    pub async fn list_app_keys(&self, app: AppId) -> Result<Vec<AppKey>> {
        self.lanyard.store().list_app_keys(app).await
    }
    pub async fn get_app_image(&self, app: AppId) -> Result<Option<AppImage>> {
        self.lanyard.store().get_app_image(app).await
    }
}

/// What [`lanyard_core::sso::AppFacts::new`] needs besides the app: one
/// loader for the SSO endpoint and the admin's Preview, so both decide from
/// the same inputs.
pub(crate) async fn load_app_grants(store: &dyn Store, app: AppId) -> Result<AppGrants> {
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
