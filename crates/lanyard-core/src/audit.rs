//! Audit events: who did what to which thing, when, from where, and a summary
//! of the change (never a secret).
//!
//! What is done is an [`AuditAction`], to what an [`AuditTarget`]; both are
//! stored as the text they have always had (`user.create`, `user:12`), so
//! rows written by any version read the same. An event read back carries
//! that text.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AdminId, ApiKeyId, AppId, GroupId, UserId};

macro_rules! actions {
    ($($(#[$doc:meta])* $name:ident = $text:literal,)+) => {
        /// Every kind of event the audit log records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(#[$doc])* $name,)+
        }

        impl AuditAction {
            /// Every action, in the order they are declared.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$name,)+];

            /// The stored text, e.g. `user.create`. It never changes.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$name => $text,)+
                }
            }

            /// The action stored as `text`, if it is one.
            pub fn parse(text: &str) -> Option<AuditAction> {
                match text {
                    $($text => Some(AuditAction::$name),)+
                    _ => None,
                }
            }
        }
    };
}

actions! {
    UserCreate = "user.create",
    UserUpdate = "user.update",
    UserDelete = "user.delete",
    /// An admin set the user's password.
    UserPasswordSet = "user.password.set",
    UserAttributesSet = "user.attributes.set",
    UserSuspend = "user.suspend",
    UserUnsuspend = "user.unsuspend",
    /// An admin ended all of a user's sessions.
    UserSessionsRevoke = "user.sessions.revoke",
    /// An admin ended one session of a user.
    UserSessionRevoke = "user.session.revoke",
    UserUnlock = "user.unlock",
    /// An admin removed the user's second factor.
    UserTotpReset = "user.totp.reset",
    /// The user turned on TOTP.
    UserTotpEnroll = "user.totp.enroll",
    /// The user turned their TOTP off.
    UserTotpRemove = "user.totp.remove",
    /// The user confirmed their password again (for a change that wants a
    /// recent authentication).
    UserReauthenticate = "user.reauthenticate",
    UserSignIn = "user.sign_in",
    UserSignInFailed = "user.sign_in_failed",
    UserSignOut = "user.sign_out",
    /// The user changed their own password.
    UserPasswordChange = "user.password.change",
    UserPasswordChangeFailed = "user.password.change_failed",
    GroupCreate = "group.create",
    GroupUpdate = "group.update",
    GroupDelete = "group.delete",
    GroupAttributesSet = "group.attributes.set",
    GroupMemberAdd = "group.member.add",
    GroupMemberRemove = "group.member.remove",
    AdminCreate = "admin.create",
    AdminDelete = "admin.delete",
    AdminSignIn = "admin.sign_in",
    AdminSignInFailed = "admin.sign_in_failed",
    AdminSignOut = "admin.sign_out",
    /// An administrator changed an admin's role or disabled/enabled them.
    AdminUpdate = "admin.update",
    /// An administrator set another admin's password.
    AdminPasswordSet = "admin.password.set",
    /// The admin changed their own password.
    AdminPasswordChange = "admin.password.change",
    AdminPasswordChangeFailed = "admin.password.change_failed",
    /// The admin confirmed their password again.
    AdminReauthenticate = "admin.reauthenticate",
    /// The admin turned on TOTP.
    AdminTotpEnroll = "admin.totp.enroll",
    /// The admin turned their TOTP off.
    AdminTotpRemove = "admin.totp.remove",
    /// Another administrator, or the host operator (`lanyard admin
    /// reset-2fa`), removed the admin's second factor.
    AdminTotpReset = "admin.totp.reset",
    AdminUnlock = "admin.unlock",
    /// The admin (or an administrator) ended the admin's sessions.
    AdminSessionsRevoke = "admin.sessions.revoke",
    /// One admin session was ended from the account page.
    AdminSessionRevoke = "admin.session.revoke",
    ApiKeyCreate = "apikey.create",
    ApiKeyRevoke = "apikey.revoke",
    ApplicationCreate = "application.create",
    ApplicationUpdate = "application.update",
    ApplicationActivate = "application.activate",
    ApplicationDeactivate = "application.deactivate",
    ApplicationDelete = "application.delete",
    ApplicationBindGroup = "application.bind_group",
    ApplicationUnbindGroup = "application.unbind_group",
    ApplicationSetEntitlements = "application.set_entitlements",
    ApplicationKeyAdd = "application.key_add",
    ApplicationKeyActivate = "application.key_activate",
    ApplicationKeyDelete = "application.key_delete",
    ApplicationImportSpMetadata = "application.import_sp_metadata",
    ApplicationSetImage = "application.set_image",
    ApplicationDeleteImage = "application.delete_image",
    /// A SAML response was sent.
    SsoIssued = "sso.issued",
    /// A signed-in user was refused a response.
    SsoDenied = "sso.denied",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    User(UserId),
    Group(GroupId),
    Admin(AdminId),
    ApiKey(ApiKeyId),
    Application(AppId),
    /// A sign-in attempt for a login that names no account (yet): the text
    /// typed, as typed.
    Login(String),
}

impl fmt::Display for AuditTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditTarget::User(id) => write!(f, "user:{id}"),
            AuditTarget::Group(id) => write!(f, "group:{id}"),
            AuditTarget::Admin(id) => write!(f, "admin:{id}"),
            AuditTarget::ApiKey(id) => write!(f, "apikey:{id}"),
            AuditTarget::Application(id) => write!(f, "application:{id}"),
            AuditTarget::Login(login) => write!(f, "login:{login}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Set by the store; 0 before the event is written.
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `Actor::label`, e.g. `admin:ann@example.com`, `apikey:ci#3`, `cli`, `user:alice@example.com`.
    pub actor: String,
    /// Dotted kind, e.g. `user.create`, `group.member.add`, `apikey.revoke`,
    /// `sso.issued` ([`AuditAction::as_str`]; as stored).
    pub action: String,
    /// What was acted on, e.g. `user:12` ([`AuditTarget`]'s text; as stored).
    pub target: String,
    /// Client address, when known.
    pub source: Option<String>,
    /// The HTTP request that caused it (`X-Request-Id`), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What changed, as JSON text (field names and new non-secret values).
    pub summary: String,
}

impl AuditEvent {
    pub fn new(
        at: OffsetDateTime,
        actor: &str,
        action: AuditAction,
        target: &AuditTarget,
        summary: String,
    ) -> Self {
        AuditEvent {
            id: 0,
            at,
            actor: printable(actor),
            action: action.as_str().to_owned(),
            target: printable(&target.to_string()),
            source: None,
            request_id: None,
            summary: printable(&summary),
        }
    }

    /// With the request id, unless the event names one already.
    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        if self.request_id.is_none() {
            self.request_id = id.map(|s| printable(&s));
        }
        self
    }

    pub fn from_source(mut self, source: Option<String>) -> Self {
        self.source = source.map(|s| printable(&s));
        self
    }
}

/// Filter for listing audit events; newest first, keyset-paginated by id.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// Events with an id lower than this (the previous page's `next`).
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// Audit text without control characters (each becomes U+FFFD): a NUL byte
/// typed into a sign-in form must not make PostgreSQL refuse the batch, and
/// a newline must not forge a log line.
fn printable(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored text of every action, as it has always been: a rename here
    /// would make old rows mean something else.
    #[test]
    fn actions_keep_their_stored_text() {
        let texts: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            texts,
            [
                "user.create",
                "user.update",
                "user.delete",
                "user.password.set",
                "user.attributes.set",
                "user.suspend",
                "user.unsuspend",
                "user.sessions.revoke",
                "user.session.revoke",
                "user.unlock",
                "user.totp.reset",
                "user.totp.enroll",
                "user.totp.remove",
                "user.reauthenticate",
                "user.sign_in",
                "user.sign_in_failed",
                "user.sign_out",
                "user.password.change",
                "user.password.change_failed",
                "group.create",
                "group.update",
                "group.delete",
                "group.attributes.set",
                "group.member.add",
                "group.member.remove",
                "admin.create",
                "admin.delete",
                "admin.sign_in",
                "admin.sign_in_failed",
                "admin.sign_out",
                "admin.update",
                "admin.password.set",
                "admin.password.change",
                "admin.password.change_failed",
                "admin.reauthenticate",
                "admin.totp.enroll",
                "admin.totp.remove",
                "admin.totp.reset",
                "admin.unlock",
                "admin.sessions.revoke",
                "admin.session.revoke",
                "apikey.create",
                "apikey.revoke",
                "application.create",
                "application.update",
                "application.activate",
                "application.deactivate",
                "application.delete",
                "application.bind_group",
                "application.unbind_group",
                "application.set_entitlements",
                "application.key_add",
                "application.key_activate",
                "application.key_delete",
                "application.import_sp_metadata",
                "application.set_image",
                "application.delete_image",
                "sso.issued",
                "sso.denied",
            ]
        );
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
        }
        assert_eq!(AuditAction::parse("user.created"), None);
    }

    #[test]
    fn targets_keep_their_stored_text() {
        let targets = [
            (AuditTarget::User(UserId(12)), "user:12"),
            (AuditTarget::Group(GroupId(3)), "group:3"),
            (AuditTarget::Admin(AdminId(1)), "admin:1"),
            (AuditTarget::ApiKey(ApiKeyId(7)), "apikey:7"),
            (AuditTarget::Application(AppId(9)), "application:9"),
            (
                AuditTarget::Login("ann@example.com".into()),
                "login:ann@example.com",
            ),
        ];
        for (target, text) in targets {
            assert_eq!(target.to_string(), text);
        }
        // A control character typed into a login reaches the log as U+FFFD.
        let event = AuditEvent::new(
            OffsetDateTime::UNIX_EPOCH,
            "anonymous",
            AuditAction::UserSignInFailed,
            &AuditTarget::Login("a\nb".into()),
            "{}".into(),
        );
        assert_eq!(event.target, "login:a\u{FFFD}b");
    }
}
