//! The admin's Preview: what one user would get from one application, from
//! the same inputs and decision as a real sign-in (`lanyard_core::sso`),
//! plus the assertion content and every AWS rule it breaks even when the
//! user is denied, so the admin can see what is wrong.

use lanyard_core::aws_rules::{self, AssertionFacts, Violation};
use lanyard_core::directory::{Group, User};
use lanyard_core::sso::{self, AppFacts, AssertionContent, Denial};
use lanyard_core::{AppId, Error, Result, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use super::schema::{AssertionContentSchema, ViolationSchema};
use crate::Reader;

/// What one user would get from one application.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub user_id: i64,
    /// `issue` when a response would be sent, else the denial's code
    /// (`sso_inactive`, `placeholders`, `user_suspended`, `not_authorized`,
    /// `no_name_id`, `breaks_aws_rules`).
    pub decision: String,
    /// The denial's details, when denied.
    #[schema(value_type = Option<Object>)]
    pub denial: Option<Denial>,
    /// The assertion content the user's values produce (shown even when the
    /// user is denied, so the admin can see what is wrong).
    #[schema(value_type = Option<AssertionContentSchema>)]
    pub content: Option<AssertionContent>,
    /// Every AWS rule the content breaks (AWS apps only).
    #[schema(value_type = Vec<ViolationSchema>)]
    pub violations: Vec<Violation>,
    /// How the user's roles are sent when they may assume several: chosen
    /// one at a time (the role chooser, each with its own session length),
    /// or all in one response with the smallest session cap.
    pub roles_note: Option<String>,
}

/// By email or username first (usernames may be all digits), then by id.
pub async fn find_user(read: &Reader, who: &str) -> Result<User> {
    if let Some(user) = read.find_user_by_login(who).await? {
        return Ok(user);
    }
    match who.parse::<i64>() {
        Ok(id) => read.get_user(UserId(id)).await,
        Err(_) => Err(Error::not_found("user", who)),
    }
}

/// The Preview of app `id` for the user named by `who` (id, email or
/// username), sent to `acs_url` (one of the app's; default: the default
/// one).
pub async fn preview(
    read: &Reader,
    id: AppId,
    who: &str,
    acs_url: Option<String>,
) -> Result<Preview> {
    let app = read.get_app(id).await?;
    let user = find_user(read, who).await?;
    let groups: Vec<Group> = read.list_groups_of_user(user.id).await?;
    let grants = read.app_grants(app.id).await?;
    let facts = AppFacts::new(&app, &grants);
    let acs = match acs_url {
        Some(url) => {
            if !app.config.sso.acs_urls.iter().any(|a| a.url == url) {
                return Err(Error::invalid(
                    "acs_url",
                    "is not one of the app's ACS URLs",
                ));
            }
            url
        }
        None => app.config.sso.default_acs().unwrap_or_default().to_owned(),
    };
    let bound_groups: Vec<&Group> = groups
        .iter()
        .filter(|g| grants.bound_groups.contains(&g.id))
        .collect();
    let content = sso::content(&facts, &user, &bound_groups, &acs, None).ok();
    let violations = match (&content, app.aws_rules) {
        (Some(c), true) => aws_rules::check(&AssertionFacts {
            name_id: &c.name_id,
            audience: &c.audience,
            recipient: &c.acs_url,
            attributes: &c.attributes,
        }),
        _ => Vec::new(),
    };
    let denial = sso::decide(&facts, &user, &groups, &acs, None).err();
    let roles = sso::granted_roles(&facts, &groups);
    let roles_note = roles_note(&roles, app.config.sso.role_chooser);
    Ok(Preview {
        user_id: user.id.0,
        decision: denial.as_ref().map_or("issue", Denial::code).to_owned(),
        denial,
        content,
        violations,
        roles_note,
    })
}

/// What the Preview says about sending several roles (see
/// [`Preview::roles_note`]).
fn roles_note(roles: &[lanyard_core::apps::Entitlement], chooser: bool) -> Option<String> {
    if roles.len() < 2 {
        return None;
    }
    let n = roles.len();
    if chooser {
        return Some(format!(
            "The user chooses one of {n} roles at sign-in (Lanyard's role chooser): the response \
             then carries that role alone, with SessionDuration capped by its own maximum. \
             Shown here: every role, as without a choice."
        ));
    }
    let cap = roles.iter().filter_map(|e| e.max_session_duration).min();
    Some(match cap {
        Some(cap) => format!(
            "The role chooser is off, so all {n} roles go in one response and SessionDuration is \
             capped at {cap} s, the smallest maximum among them: turn the chooser on to let each \
             role keep its own."
        ),
        None => format!(
            "The role chooser is off, so all {n} roles go in one response (AWS asks which)."
        ),
    })
}
