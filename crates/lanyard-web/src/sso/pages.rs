//! The pages the SSO endpoint answers with: the form that posts a response
//! to the ACS, and one page per way of not getting one.
//!
//! Statuses: an unknown or deleted app is 404; an AuthnRequest we cannot
//! accept is 400 (with the protocol crate's message, which names the rule
//! and quotes at most IDs and URLs from the request); every decision that
//! refuses a signed-in user (not authorized, SSO off, placeholders,
//! suspended, no NameID, AWS rules) is 403; storage or signing trouble is
//! 500 with a generic text (the details go to the log). None of these
//! pages carries a SAMLResponse.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use lanyard_core::sso::Denial;

use crate::pages::{page_posting_to, Message};

/// The auto-posting form (`static/autosubmit.js` submits it; the button
/// does without JavaScript).
#[derive(Template)]
#[template(path = "saml_post.html")]
pub(super) struct SamlPostPage<'a> {
    pub label: &'a str,
    pub acs_url: &'a str,
    pub saml_response: &'a str,
    pub relay_state: Option<&'a str>,
}

impl SamlPostPage<'_> {
    /// With `form-action` widened to exactly the ACS URL's origin.
    pub fn into_page(self) -> Response {
        page_posting_to(StatusCode::OK, &self, self.acs_url)
    }
}

/// Lanyard's role chooser: one button per role, grouped by account; the
/// form posts to `/saml2/<slug>/role` with the original request.
#[derive(Template)]
#[template(path = "role_chooser.html")]
pub(super) struct RoleChooserPage<'a> {
    pub chooser: &'a lanyard_app::sso::RoleChooser,
    pub slug: &'a str,
    pub csrf: &'a str,
    /// The path and query of the request being answered ("" for none).
    pub request: &'a str,
}

impl RoleChooserPage<'_> {
    pub fn into_page(self) -> Response {
        crate::pages::page(StatusCode::OK, &self)
    }
}

/// The chooser's form named a request that is not this app's.
pub(super) fn bad_role_form() -> Response {
    Message::new(
        "The form could not be read",
        "Open the application again from your applications.",
    )
    .with_link(BACK.0, BACK.1)
    .into_page(StatusCode::BAD_REQUEST)
}

const BACK: (&str, &str) = ("/portal", "Back to your applications");

pub(super) fn unknown_app() -> Response {
    Message::new(
        "Application not found",
        "There is no application at this address. It may have been removed.",
    )
    .with_link(BACK.0, BACK.1)
    .into_page(StatusCode::NOT_FOUND)
}

/// An AuthnRequest that failed a check: the protocol error names the rule.
pub(super) fn bad_request(label: &str, error: &lanyard_saml::Error) -> Response {
    Message {
        heading: "This sign-in request cannot be used".into(),
        paragraphs: vec![
            format!("The request to sign in to {label} was refused: {error}."),
            format!("Start the sign-in again from {label}; if this keeps happening, tell your administrator."),
        ],
        link: Some((BACK.0.into(), BACK.1.into())),
    }
    .into_page(StatusCode::BAD_REQUEST)
}

/// A request to an app that accepts none (an Amazon AWS IAM app).
pub(super) fn requests_not_accepted(label: &str) -> Response {
    Message {
        heading: "This application does not take sign-in requests".into(),
        paragraphs: vec![
            format!("{label} is opened from Lanyard, not by a request from the application, so this request was not answered."),
            "Open it from your applications in Lanyard.".into(),
        ],
        link: Some((BACK.0.into(), BACK.1.into())),
    }
    .into_page(StatusCode::BAD_REQUEST)
}

/// A request whose RelayState is not on the app's allowlist.
pub(super) fn relay_state_refused(label: &str) -> Response {
    Message {
        heading: "This sign-in request cannot be used".into(),
        paragraphs: vec![
            format!("The request to sign in to {label} names a place to return to (RelayState) that {label} does not allow, so it was not answered."),
            format!("Start the sign-in again from {label}; if this keeps happening, tell your administrator."),
        ],
        link: Some((BACK.0.into(), BACK.1.into())),
    }
    .into_page(StatusCode::BAD_REQUEST)
}

/// The page for a decision that refuses the user.
pub(super) fn denied(label: &str, denial: &Denial) -> Response {
    let (heading, paragraphs): (String, Vec<String>) = match denial {
        Denial::NotAuthorized => (
            "Access denied".into(),
            vec![
                format!("You are not authorized to use {label}."),
                "Ask your administrator for access if you need it.".into(),
            ],
        ),
        Denial::SsoInactive => (
            "Single sign-on is deactivated".into(),
            vec![format!(
                "Single sign-on for {label} is deactivated, so nobody can sign in to it from here right now."
            )],
        ),
        Denial::Placeholders { fields } => (
            format!("{label} is not set up yet"),
            vec![
                format!("Single sign-on for {label} cannot be used until an administrator replaces the template placeholders in these settings:"),
                fields.join(", "),
            ],
        ),
        Denial::UserSuspended => (
            "Account suspended".into(),
            vec![format!(
                "Your account is suspended, so you cannot sign in to {label}. Ask your administrator."
            )],
        ),
        Denial::NoNameId { .. } => (
            format!("{label} cannot identify you"),
            vec![format!(
                "Your account has no value for the name identifier {label} uses. Ask your administrator to fill it in."
            )],
        ),
        Denial::RoleNotGranted { role } => (
            "Role not available".into(),
            vec![
                format!("You may not sign in to {label} with the role {role}."),
                format!("Open {label} again from your applications to choose one of your roles, or ask your administrator for this one."),
            ],
        ),
        Denial::BreaksRules { violations, .. } => {
            let mut p = vec![format!(
                "Lanyard did not send a sign-in to {label}, because AWS would refuse it. Your administrator has been notified; these rules are broken:"
            )];
            p.extend(violations.iter().map(|v| format!("[{}] {}", v.rule, v.message)));
            ("AWS would refuse this sign-in".into(), p)
        }
    };
    Message {
        heading,
        paragraphs,
        link: Some((BACK.0.into(), BACK.1.into())),
    }
    .into_page(StatusCode::FORBIDDEN)
}

/// Storage or signing trouble: logged, never shown.
pub(super) fn internal(err: &lanyard_core::Error) -> Response {
    crate::pages::failure_page(
        err,
        "single sign-on",
        "Lanyard could not complete the sign-in. Please try again in a moment.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_every_input_and_escapes_values() {
        let html = SamlPostPage {
            label: "AWS <prod>",
            acs_url: "https://signin.aws.amazon.com/saml",
            saml_response: "PHNhbWxwOlJlc3BvbnNlLz4=",
            relay_state: Some("https://console.aws.amazon.com/?a=1&b=\"2\""),
        }
        .render()
        .unwrap();
        assert!(
            html.contains(r#"<form id="saml-post" method="post" action="#),
            "{html}"
        );
        assert!(html.contains(r#"name="SAMLResponse" value="PHNhbWxwOlJlc3BvbnNlLz4=""#));
        assert!(html.contains(r#"name="RelayState""#));
        assert!(!html.contains("a=1&b"), "escaped: {html}");
        assert!(html.contains("AWS &#60;prod&#62;"), "{html}");
        assert_eq!(
            html.matches("<input").count(),
            html.matches("<input type=\"hidden\" name=\"").count()
        );
        assert!(html.contains(r#"<script src="/static/autosubmit.js"></script>"#));
        assert!(html.contains("<button type=\"submit\">Continue</button>"));
        let without = SamlPostPage {
            relay_state: None,
            label: "x",
            acs_url: "https://a",
            saml_response: "x",
        }
        .render()
        .unwrap();
        assert!(!without.contains("RelayState"));
    }
}
