//! What a user's session token means for a request, signing out, and the
//! batched writes of each session's last use ([`Touches`]).
//!
//! Sessions live in the database (nodes that share a PostgreSQL share
//! them, and a sign-out ends a session everywhere); the browser holds a
//! random token, the store its SHA-256. A session counts while it is
//! neither idle past `session_idle` nor past its absolute end; an ended one
//! is deleted when a request presents it, and all of them now and then by
//! a sign-in (`sign_in`'s purge). Only a `Complete` session signs a user
//! in; one awaiting its second factor only reaches the TOTP step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lanyard_core::admin::Admin;
use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
use lanyard_core::directory::{Group, User};
use lanyard_core::session::{token_hash, AdminSession, Session, SessionEnd, SessionStage};
use lanyard_core::store::Store;
use lanyard_core::{Result, SessionId};
use time::{Duration, OffsetDateTime};

use crate::{Client, Lanyard};

/// How stale `last_seen_at` may get before a request refreshes it.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// A signed-in user: a live, complete session and its user (who may be
/// suspended: each flow decides what that means for it).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
    /// The user's groups, read with the session.
    pub groups: Vec<Group>,
}

/// Whether `t` is shaped like a token we hand out (64 hex digits): anything
/// else is not looked up.
pub fn is_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The signed-in user holding session token `token`: `None` when the
/// session is unknown, ended (deleted now) or only half done.
pub async fn current(l: &Lanyard, token: &str) -> Result<Option<SignedIn>> {
    if token.len() != 64 {
        return Ok(None);
    }
    // One statement for the session, its user and their groups: this runs
    // on every signed-in request.
    let found = l.store().find_session_with_user(&token_hash(token)).await?;
    resolve(l, found).await
}

/// What a looked-up session means now: `None` when it is unknown, ended
/// (deleted now) or only half done; otherwise the signed-in user, with the
/// session's last use noted now and then (written by [`Touches`], off the
/// request path).
pub(crate) async fn resolve(
    l: &Lanyard,
    found: Option<(Session, User, Vec<Group>)>,
) -> Result<Option<SignedIn>> {
    let Some((mut session, user, groups)) = found else {
        return Ok(None);
    };
    let now = l.now();
    let touches = &l.0.touches;
    if let Some(noted) = touches.pending(session.id) {
        session.last_seen_at = session.last_seen_at.max(noted);
    }
    if let Some(why) = session.lapsed(now, l.settings().auth.session_idle) {
        // Gone for good: end it now rather than at the next purge.
        l.store().end_session(session.id, why, now).await?;
        return Ok(None);
    }
    if session.stage != SessionStage::Complete {
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_INTERVAL {
        touches.note(&l.0.store, session.id, now);
    }
    Ok(Some(SignedIn {
        session,
        user,
        groups,
    }))
}

/// The session named by token `token`, whatever its stage or age (for
/// sign-out, and to end it before a new sign-in).
pub async fn presented(l: &Lanyard, token: &str) -> Result<Option<Session>> {
    if !is_token(token) {
        return Ok(None);
    }
    l.store().find_session(&token_hash(token)).await
}

/// Ends `session` (any stage) and records `user.sign_out` (batched, like
/// the sign-in events). The door has checked the form's CSRF token against
/// the session's.
pub async fn sign_out(l: &Lanyard, session: &Session, client: &Client) -> Result<()> {
    let store = l.store();
    store
        .end_session(session.id, SessionEnd::SignedOut, l.now())
        .await?;
    if let Ok(user) = store.get_user(session.user_id).await {
        l.audit().record(
            AuditEvent::new(
                l.now(),
                &format!("user:{}", user.email),
                AuditAction::UserSignOut,
                &AuditTarget::User(user.id),
                serde_json::json!({ "session": session.id }).to_string(),
            )
            .from_source(client.source()),
        );
    }
    Ok(())
}

/// The admin session named by token `token`, live or not, with its admin
/// (for sign-out).
pub async fn presented_admin(l: &Lanyard, token: &str) -> Result<Option<(AdminSession, Admin)>> {
    if !is_token(token) {
        return Ok(None);
    }
    l.store().find_admin_session(&token_hash(token)).await
}

/// Ends an admin's session and records `admin.sign_out` (batched). The door
/// has checked the form's CSRF token against the session's.
pub async fn sign_out_admin(
    l: &Lanyard,
    session: &AdminSession,
    admin: &Admin,
    client: &Client,
) -> Result<()> {
    l.store().delete_admin_session(session.id).await?;
    l.audit().record(
        AuditEvent::new(
            l.now(),
            &format!("admin:{}", admin.email),
            AuditAction::AdminSignOut,
            &AuditTarget::Admin(session.admin_id),
            serde_json::json!({ "session": session.id }).to_string(),
        )
        .from_source(client.source()),
    );
    Ok(())
}

/// Sessions' last use, written in batches off the request path.
///
/// A refresh is a write: on PostgreSQL with synchronous commit, a WAL
/// flush, and on SQLite the single write lock. Awaited in the request (as
/// it was), the first request of every session each [`TOUCH_INTERVAL`]
/// waited for that write, and on a busy node the writes came one per
/// session. Now a request notes the session here and goes on; one task
/// writes everything noted within [`TOUCH_DELAY`] in one statement
/// (`touch_sessions`), then stops when nothing more comes.
///
/// This node sees a noted use at once ([`Touches::pending`] feeds the
/// idle check); other nodes see it within [`TOUCH_DELAY`], which is far
/// inside the minute a stored last use may lag anyway. A use noted just
/// before the node stops may be lost: the session then looks idle at most
/// [`TOUCH_INTERVAL`] longer than it is. A session ended meanwhile (a
/// sign-out on another node) is skipped by the statement.
#[derive(Clone, Default)]
pub(crate) struct Touches(Arc<Mutex<TouchQueue>>);

#[derive(Default)]
struct TouchQueue {
    /// Session id to the latest use noted.
    noted: HashMap<SessionId, OffsetDateTime>,
    /// Whether a task is writing (or about to).
    writing: bool,
}

/// How long uses are gathered before one write.
pub(crate) const TOUCH_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// Most uses waiting; more are not noted (their sessions are refreshed at
/// their next request after the queue drains).
const MAX_NOTED: usize = 100_000;

impl Touches {
    /// Notes that session `id` was used at `now`; starts the writer task if
    /// it is not running.
    fn note(&self, store: &Arc<dyn Store>, id: SessionId, now: OffsetDateTime) {
        let mut queue = self.lock();
        if queue.noted.len() >= MAX_NOTED && !queue.noted.contains_key(&id) {
            return;
        }
        let at = queue.noted.entry(id).or_insert(now);
        *at = (*at).max(now);
        if queue.writing {
            return;
        }
        queue.writing = true;
        drop(queue);
        let (this, store) = (self.clone(), store.clone());
        tokio::spawn(async move { this.write_until_idle(store).await });
    }

    /// Writes every use noted now (the writer task may still run; what it
    /// takes later is simply less).
    pub(crate) async fn flush(&self, store: &Arc<dyn Store>) {
        let noted = std::mem::take(&mut self.lock().noted);
        let Some(latest) = noted.values().max().copied() else {
            return;
        };
        let ids: Vec<SessionId> = noted.into_keys().collect();
        if let Err(e) = store.touch_sessions(&ids, latest).await {
            tracing::warn!(
                "could not record the last use of {} sessions: {e}",
                ids.len()
            );
        }
    }

    /// The latest use of session `id` noted and not yet written.
    fn pending(&self, id: SessionId) -> Option<OffsetDateTime> {
        self.lock().noted.get(&id).copied()
    }

    async fn write_until_idle(self, store: Arc<dyn Store>) {
        loop {
            tokio::time::sleep(TOUCH_DELAY).await;
            let noted = {
                let mut queue = self.lock();
                if queue.noted.is_empty() {
                    queue.writing = false;
                    return;
                }
                std::mem::take(&mut queue.noted)
            };
            // All at the latest use noted, within TOUCH_DELAY of each.
            let Some(latest) = noted.values().max().copied() else {
                continue;
            };
            let ids: Vec<SessionId> = noted.into_keys().collect();
            if let Err(e) = store.touch_sessions(&ids, latest).await {
                tracing::warn!(
                    "could not record the last use of {} sessions: {e}",
                    ids.len()
                );
            }
        }
    }

    // The queue is a plain map swapped whole; a panic elsewhere cannot leave
    // it half-written, so poisoning is ignored.
    fn lock(&self) -> std::sync::MutexGuard<'_, TouchQueue> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
