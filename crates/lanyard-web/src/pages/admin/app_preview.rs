//! The Preview tab of an application
//! (`GET /admin/applications/{id}?tab=preview&user=<id, email or username>`
//! `[&acs_url=]`): pick a user (a GET form), then see the decision a sign-in
//! would get (issue, or the denial and why), the exact assertion content
//! (NameID, audience, ACS URL, every attribute with its values) and every
//! AWS rule it breaks with what AWS would answer.
//!
//! The page and `GET /api/v1/applications/{id}/preview` call one function,
//! `lanyard_app::apps::preview`, which feeds `sso::decide` the same facts as a
//! real sign-in. Reading only: read-only admins use it too.

use std::collections::BTreeMap;

use askama::Template;
use axum::http::StatusCode;
use lanyard_core::application::Application;
use lanyard_core::aws_rules::Violation;
use lanyard_core::sso::{AssertionContent, Denial};
use lanyard_core::Error;

use super::app_detail::AppHead;
use super::apps::Errors;
use super::{AdminSignedIn, Nav};
use crate::pages::forms::PageResult;
use crate::pages::page;
use crate::AppState;
use lanyard_app::apps;

/// The outcome for the chosen user.
struct Outcome {
    user_id: i64,
    /// `issue` or the denial's code.
    decision: String,
    issue: bool,
    /// The decision in words.
    explanation: String,
    content: Option<AssertionContent>,
    violations: Vec<Violation>,
    /// How several roles are sent (chooser, or one response with the
    /// smallest session cap).
    roles_note: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/app_preview.html")]
struct PreviewPage {
    nav: Nav,
    head: AppHead,
    /// Always empty (the shared header shows save errors).
    errors: Errors,
    user: String,
    acs_urls: Vec<String>,
    acs_url: String,
    /// Whether AWS's rules apply to this application.
    aws_rules: bool,
    /// Why no preview could be made (unknown user, foreign ACS URL).
    problem: Option<String>,
    outcome: Option<Outcome>,
}

fn explain(denial: Option<&Denial>) -> String {
    match denial {
        None => "Lanyard would send this user a signed response to the ACS URL.".into(),
        Some(Denial::SsoInactive) => {
            "SSO is deactivated for this application: nobody can sign in (SSO tab).".into()
        }
        Some(Denial::Placeholders { fields }) => format!(
            "Template placeholders remain in {}: SSO cannot be used until they are replaced (SSO tab).",
            fields.join(", ")
        ),
        Some(Denial::UserSuspended) => "The user is suspended.".into(),
        Some(Denial::NotAuthorized) => {
            "None of the user's groups is bound to this application (User Groups tab): users are implicitly denied.".into()
        }
        Some(Denial::NoNameId { source }) => {
            format!("The NameID source {source} yields no value for this user.")
        }
        Some(Denial::RoleNotGranted { role }) => {
            format!("The role {role} is not granted to the user.")
        }
        Some(Denial::BreaksRules { .. }) => {
            "The assertion would break AWS's rules (listed below), so Lanyard refuses to send it.".into()
        }
    }
}

/// `GET /admin/applications/{id}?tab=preview`.
pub(super) async fn show(
    state: &AppState,
    signed: &AdminSignedIn,
    app: Application,
    user: &str,
    acs_url: Option<String>,
) -> PageResult {
    let user = user.trim().chars().take(320).collect::<String>();
    let acs_url = acs_url.filter(|u| !u.is_empty());
    let mut problem = None;
    let mut outcome = None;
    if !user.is_empty() {
        let read = signed.reader(state);
        match apps::preview::preview(&read, app.id, &user, acs_url.clone()).await {
            Ok(p) => {
                outcome = Some(Outcome {
                    user_id: p.user_id,
                    issue: p.denial.is_none(),
                    explanation: explain(p.denial.as_ref()),
                    decision: p.decision,
                    content: p.content,
                    violations: p.violations,
                    roles_note: p.roles_note,
                })
            }
            Err(Error::NotFound { kind: "user", .. }) => {
                problem = Some(format!("No user has the id, email or username {user:?}."));
            }
            Err(Error::Invalid(fields)) => {
                problem = Some(
                    fields
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    let acs_urls: Vec<String> = app
        .config
        .sso
        .acs_urls
        .iter()
        .map(|a| a.url.clone())
        .collect();
    let view = PreviewPage {
        nav: signed.nav("applications"),
        head: AppHead::new(state, &app, "preview", None),
        errors: BTreeMap::new(),
        acs_url: acs_url
            .or_else(|| app.config.sso.default_acs().map(str::to_owned))
            .unwrap_or_default(),
        acs_urls,
        aws_rules: app.aws_rules,
        user,
        problem,
        outcome,
    };
    Ok(page(StatusCode::OK, &view))
}
