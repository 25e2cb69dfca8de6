//! A stand-in for AWS's sign-in page, for `lanyard demo` and local trials:
//! `POST /aws-standin/<slug>/saml` is an ACS URL that behaves like
//! `https://signin.aws.amazon.com/saml` for the application `<slug>`.
//!
//! It trusts exactly what AWS would: the IdP metadata the app exports (its
//! entity ID and every published certificate, as if uploaded to IAM). It
//! verifies the posted SAMLResponse strictly (`lanyard_saml::sp`: signature,
//! Destination, Recipient, audience `urn:amazon:webservices` or
//! `https://signin.aws.amazon.com/saml`, the 5-minute window) and then AWS's
//! attribute rules (`lanyard_core::aws_rules`). On success it shows AWS's
//! role chooser when there are several roles, or "signed in as
//! assumed-role/<role>/<session name>"; on failure, the message AWS itself
//! would show.
//!
//! It is not mounted by [`crate::app`]: the binary adds [`router`] only in
//! demo mode, so a production server has no such endpoint.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::{Form, Router};
use lanyard_core::aws_rules::{self, AssertionFacts};
use lanyard_saml::keys::{AlgorithmPolicy, Certificate};
use lanyard_saml::sp::{verify_response, Expectations};
use serde::Deserialize;
use time::Duration;

use crate::pages::{page, Message};
use crate::AppState;

/// The stand-in's routes, to merge into the app in demo mode.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/aws-standin/{slug}/saml", post(acs))
        .with_state(state)
}

/// The ACS URL of the stand-in for `slug`.
pub fn acs_url(base_url: &str, slug: &str) -> String {
    format!("{base_url}/aws-standin/{slug}/saml")
}

#[derive(Debug, Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
    /// The role picked in the chooser (a Role attribute value); AWS's own
    /// chooser names the field `roleIndex`.
    #[serde(rename = "roleIndex")]
    role_index: Option<String>,
}

#[derive(Template)]
#[template(path = "standin_chooser.html")]
struct Chooser {
    account_roles: Vec<(String, String)>,
    saml_response: String,
    relay_state: String,
    session_name: String,
}

#[derive(Template)]
#[template(path = "standin_console.html")]
struct Console {
    arn: String,
    account: String,
    role: String,
    session_name: String,
    relay_state: Option<String>,
    session_duration: Option<String>,
}

/// AWS's generic answer to a response it cannot use.
const INVALID: &str = "Your request included an invalid SAML response. To logout, click here.";

fn aws_error(message: impl Into<String>, detail: impl Into<String>) -> Response {
    let mut m = Message::new("Amazon Web Services Sign-In (Lanyard stand-in)", message);
    m.paragraphs
        .push(format!("Why (stand-in detail): {}", detail.into()));
    m.into_page(StatusCode::BAD_REQUEST)
}

async fn acs(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Form(form): Form<AcsForm>,
) -> Response {
    let public = state.lanyard.public();
    let Ok(app) = public.get_app_by_slug(&slug).await else {
        return aws_error(INVALID, format!("no SAML provider named {slug:?}"));
    };
    let keys = match public.list_app_keys(app.id).await {
        Ok(k) => k,
        Err(e) => return aws_error(INVALID, e.to_string()),
    };
    let certificates: Vec<Certificate> = keys
        .iter()
        .filter_map(|k| Certificate::from_pem(&k.certificate_pem).ok())
        .collect();
    let xml = match lanyard_saml::binding::decode_base64(
        "SAMLResponse",
        &form.saml_response,
        1024 * 1024,
    )
    .ok()
    .and_then(|b| String::from_utf8(b).ok())
    {
        Some(x) => x,
        None => return aws_error(INVALID, "SAMLResponse is not base64 of UTF-8 XML"),
    };
    let acs = acs_url(state.settings().base_url.as_str(), &slug);
    let now = state.lanyard.now();
    let mut verified = None;
    let mut last_err = String::new();
    // AWS accepts either audience.
    for audience in aws_rules::AUDIENCES {
        match verify_response(
            &xml,
            &Expectations {
                idp_entity_id: &app.config.sso.idp_entity_id,
                certificates: &certificates,
                audience,
                acs_url: &acs,
                in_response_to: None,
                now,
                clock_skew: Duration::seconds(60),
                max_age: Duration::minutes(5),
                algorithms: AlgorithmPolicy { allow_sha1: true },
            },
        ) {
            Ok(v) => {
                verified = Some(v);
                break;
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    let Some(v) = verified else {
        return aws_error(INVALID, last_err);
    };
    let violations = aws_rules::check(&AssertionFacts {
        name_id: &v.name_id,
        audience: aws_rules::AUDIENCES[1],
        recipient: &acs,
        attributes: &v.attributes,
    });
    if let Some(first) = violations.first() {
        return aws_error(
            first.aws_error,
            format!("[{}] {}", first.rule, first.message),
        );
    }
    let roles = v
        .attributes
        .get(aws_rules::ROLE)
        .cloned()
        .unwrap_or_default();
    let session_name = v
        .attributes
        .get(aws_rules::ROLE_SESSION_NAME)
        .and_then(|x| x.first().cloned())
        .unwrap_or_default();
    let role = match (&form.role_index, roles.as_slice()) {
        (Some(pick), _) if roles.contains(pick) => pick.clone(),
        (Some(_), _) => return aws_error(INVALID, "the chosen role is not in the assertion"),
        (None, [one]) => one.clone(),
        (None, _) => {
            let account_roles = roles
                .iter()
                .map(|r| (r.clone(), role_arn(r).to_owned()))
                .collect();
            return page(
                StatusCode::OK,
                &Chooser {
                    account_roles,
                    saml_response: form.saml_response,
                    relay_state: form.relay_state.unwrap_or_default(),
                    session_name,
                },
            );
        }
    };
    let arn = role_arn(&role);
    let (account, name) = split_role_arn(arn);
    page(
        StatusCode::OK,
        &Console {
            arn: format!("arn:aws:sts::{account}:assumed-role/{name}/{session_name}"),
            account: account.to_owned(),
            role: name.to_owned(),
            session_name,
            relay_state: form.relay_state.filter(|r| !r.is_empty()),
            session_duration: v
                .attributes
                .get(aws_rules::SESSION_DURATION)
                .and_then(|d| d.first().cloned()),
        },
    )
}

/// The role ARN of a Role value (`role_arn,provider_arn`; checked already).
fn role_arn(value: &str) -> &str {
    value.split(',').next().unwrap_or(value)
}

/// (account, role name without path) of `arn:aws:iam::<acct>:role/<path/name>`.
fn split_role_arn(arn: &str) -> (&str, &str) {
    let mut parts = arn.splitn(6, ':');
    let account = parts.nth(4).unwrap_or("");
    let resource = arn.rsplit(':').next().unwrap_or("");
    let name = resource.rsplit('/').next().unwrap_or(resource);
    (account, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_split_into_account_and_name() {
        let v = "arn:aws:iam::123456789012:role/path/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard";
        assert_eq!(role_arn(v), "arn:aws:iam::123456789012:role/path/Admin");
        assert_eq!(split_role_arn(role_arn(v)), ("123456789012", "Admin"));
    }
}
