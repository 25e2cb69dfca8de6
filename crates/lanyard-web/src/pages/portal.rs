//! The user portal: `GET /` (a redirect), `GET /portal` (tiles for the
//! applications the user may use), TOTP enrollment (`GET/POST
//! /portal/totp`) and password change (`GET/POST /portal/password`).
//!
//! Every page needs a complete, live session ([`SignedIn`]); a suspended
//! user gets a page saying so and nothing else. Forms carry the session's
//! own CSRF secret and are refused cross-origin.
//!
//! Tiles are what `list_portal_apps` returns: apps with SSO active, shown
//! in the portal, and bound to one of the user's groups. Each links to the
//! app's IdP URL (`/saml2/<slug>`, IdP-initiated SSO); its image, if any,
//! comes from our own `/app-images/<id>` with a content version, so the
//! page's CSP stays `img-src 'self'`.
//!
//! TOTP enrollment: each visit to the page while TOTP is off makes a new
//! secret and stores it as *pending*; the first correct code confirms it
//! (and its time step counts as used). Once on, the page does not offer a
//! new secret: replacing a second factor takes an admin's reset, so a
//! stolen session cannot swap it.
//!
//! Password change asks for the current password, which claims a sign-in
//! attempt slot like `/login` does (a stolen session cannot guess it
//! without locking the account). Success ends every session of the user
//! and gives this browser a new one.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use lanyard_core::audit::AuditEvent;
use lanyard_core::directory::{User, UserState};
use lanyard_core::password::check_password;
use lanyard_core::session::{token_hash, NewSession, SessionStage};
use lanyard_core::Error;
use serde::Deserialize;
use serde_json::json;

use super::forms::{cross_origin, csrf_refused, Client, PageForm, PageResult};
use super::signin::LOCKED;
use super::{page, Message};
use crate::session::{new_token, same_origin, session_cookie, tokens_match, SignedIn};
use crate::{totp, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/portal") }))
        .route("/portal", get(portal))
        .route("/portal/totp", get(totp_page).post(totp_confirm))
        .route("/portal/password", get(password_page).post(password_change))
}

/// One application tile.
struct Tile {
    label: String,
    description: String,
    href: String,
    image: Option<String>,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage<'a> {
    email: &'a str,
    csrf: &'a str,
    tiles: Vec<Tile>,
}

struct Enrollment {
    secret: String,
    uri: String,
    qr_svg: String,
}

#[derive(Template)]
#[template(path = "portal_totp.html")]
struct TotpPage<'a> {
    email: &'a str,
    csrf: &'a str,
    /// `None` when TOTP is already on.
    enrollment: Option<Enrollment>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "portal_password.html")]
struct PasswordPage<'a> {
    email: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

// No `Debug`: it would print passwords.
#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

fn suspended() -> Response {
    Message::new(
        "Your account is suspended",
        "You cannot use Lanyard while your account is suspended. Ask an administrator if you think this is a mistake.",
    )
    .into_page(StatusCode::FORBIDDEN)
}

/// The checks every portal form shares: our origin, the session's token,
/// an active account. `Some(response)` is the refusal.
fn refuse_form(
    state: &AppState,
    headers: &HeaderMap,
    me: &SignedIn,
    csrf: &str,
    again: &str,
) -> Option<Response> {
    if !same_origin(headers, &state.settings) {
        return Some(cross_origin());
    }
    if !tokens_match(&me.session.csrf_secret, csrf) {
        return Some(csrf_refused(again));
    }
    if me.user.state == UserState::Suspended {
        return Some(suspended());
    }
    None
}

fn record(
    state: &AppState,
    client: &Client,
    user: &User,
    action: &str,
    summary: serde_json::Value,
) {
    state.audit.record(
        AuditEvent::new(
            state.clock.now(),
            &format!("user:{}", user.email),
            action,
            format!("user:{}", user.id),
            summary.to_string(),
        )
        .from_source(client.source()),
    );
}

async fn portal(State(state): State<AppState>, me: SignedIn) -> PageResult {
    if me.user.state == UserState::Suspended {
        return Ok(suspended());
    }
    let apps = state.access.flows().list_portal_apps(me.user.id).await?;
    let tiles = apps
        .into_iter()
        .map(|app| Tile {
            href: format!("/saml2/{}", app.slug),
            image: app.image.as_ref().map(|i| {
                format!(
                    "/app-images/{}?v={}",
                    app.id,
                    &i.sha256[..16.min(i.sha256.len())]
                )
            }),
            label: app.config.label,
            description: app.config.description,
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &PortalPage {
            email: &me.user.email,
            csrf: &me.session.csrf_secret,
            tiles,
        },
    ))
}

fn enrollment(secret: String, email: &str) -> lanyard_core::Result<Enrollment> {
    let uri = totp::otpauth_uri(&secret, email)?;
    let qr_svg = totp::qr_svg(&uri)?;
    Ok(Enrollment {
        secret,
        uri,
        qr_svg,
    })
}

async fn totp_page(State(state): State<AppState>, me: SignedIn) -> PageResult {
    if me.user.state == UserState::Suspended {
        return Ok(suspended());
    }
    let flows = state.access.flows();
    let enrollment = if flows.sign_in_state(me.user.id).await?.totp_enabled() {
        None
    } else {
        let secret = totp::new_secret()?;
        flows.set_totp_pending(me.user.id, Some(&secret)).await?;
        Some(enrollment(secret, &me.user.email)?)
    };
    Ok(page(
        StatusCode::OK,
        &TotpPage {
            email: &me.user.email,
            csrf: &me.session.csrf_secret,
            enrollment,
            error: None,
        },
    ))
}

async fn totp_confirm(
    State(state): State<AppState>,
    me: SignedIn,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> PageResult {
    if let Some(refusal) = refuse_form(&state, &headers, &me, &form.csrf, "/portal/totp") {
        return Ok(refusal);
    }
    let flows = state.access.flows();
    let sign_in = flows.sign_in_state(me.user.id).await?;
    let pending = match (sign_in.totp_enabled(), sign_in.totp_pending) {
        (false, Some(pending)) => pending,
        // Already on, or no secret shown yet: the page says what to do.
        _ => return Ok(Redirect::to("/portal/totp").into_response()),
    };
    let step = totp::check(&pending, &form.code, state.clock.now())?;
    let confirmed = match step {
        Some(step) => flows.confirm_totp(me.user.id, &pending, step).await?,
        None => false,
    };
    if !confirmed {
        let error = if step.is_none() {
            "Wrong code. Check that the app shows Lanyard's new entry and try again."
        } else {
            "The setup was replaced in another window. Start again with the new code below."
        };
        // A confirmation lost to a race leaves no pending secret to show.
        let again = match flows.sign_in_state(me.user.id).await?.totp_pending {
            Some(p) => Some(enrollment(p, &me.user.email)?),
            None => return Ok(Redirect::to("/portal/totp").into_response()),
        };
        return Ok(page(
            StatusCode::OK,
            &TotpPage {
                email: &me.user.email,
                csrf: &me.session.csrf_secret,
                enrollment: again,
                error: Some(error),
            },
        ));
    }
    record(&state, &client, &me.user, "user.totp.enroll", json!({}));
    Ok(Message::new(
        "Two-step sign-in is on",
        "From now on, signing in asks for a code from your authenticator app.",
    )
    .with_link("/portal", "Back to your applications")
    .into_page(StatusCode::OK))
}

async fn password_page(me: SignedIn) -> PageResult {
    if me.user.state == UserState::Suspended {
        return Ok(suspended());
    }
    Ok(password_form(&me, StatusCode::OK, None))
}

fn password_form(me: &SignedIn, status: StatusCode, error: Option<&str>) -> Response {
    page(
        status,
        &PasswordPage {
            email: &me.user.email,
            csrf: &me.session.csrf_secret,
            error,
        },
    )
}

async fn password_change(
    State(state): State<AppState>,
    me: SignedIn,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<PasswordForm>,
) -> PageResult {
    if let Some(refusal) = refuse_form(&state, &headers, &me, &form.csrf, "/portal/password") {
        return Ok(refusal);
    }
    if form.new != form.confirm {
        return Ok(password_form(
            &me,
            StatusCode::OK,
            Some("The new passwords do not match."),
        ));
    }
    if let Err(Error::Invalid(fields)) = check_password(&form.new) {
        let message = fields
            .get("password")
            .map_or("The new password is not allowed.".to_owned(), |m| {
                format!("The new password {m}.")
            });
        return Ok(password_form(&me, StatusCode::OK, Some(&message)));
    }
    let flows = state.access.flows();
    let max = state.settings.auth.max_failures;
    if !flows.claim_login_attempt(me.user.id, max).await? {
        record(
            &state,
            &client,
            &me.user,
            "user.password.change_failed",
            json!({ "reason": "locked" }),
        );
        return Ok(password_form(&me, StatusCode::FORBIDDEN, Some(LOCKED)));
    }
    let hash = flows
        .find_user_by_login(&me.user.email)
        .await?
        .and_then(|(_, hash)| hash);
    if !state.passwords.verify(form.current, hash).await? {
        record(
            &state,
            &client,
            &me.user,
            "user.password.change_failed",
            json!({ "reason": "wrong_password" }),
        );
        return Ok(password_form(
            &me,
            StatusCode::OK,
            Some("The current password is wrong."),
        ));
    }
    flows.reset_login_failures(me.user.id).await?;
    let hash = state.passwords.hash(form.new).await?;
    let now = state.clock.now();
    flows.set_password_hash(me.user.id, &hash, now).await?;
    // Every session ends (another one may be an intruder's); this browser
    // gets a new one with the same absolute end.
    let ended = flows.revoke_user_sessions(me.user.id).await?;
    let token = new_token()?;
    let session = flows
        .create_session(&NewSession {
            token_hash: token_hash(&token),
            user_id: me.user.id,
            stage: SessionStage::Complete,
            csrf_secret: new_token()?,
            now,
            expires_at: me.session.expires_at,
            client: client.source(),
            user_agent: client.user_agent.clone(),
        })
        .await?;
    record(
        &state,
        &client,
        &me.user,
        "user.password.change",
        json!({ "other_sessions_ended": ended.saturating_sub(1), "session": session.id }),
    );
    let mut response = Message::new(
        "Password changed",
        "Your password is changed, and you are signed out everywhere else.",
    )
    .with_link("/portal", "Back to your applications")
    .into_page(StatusCode::OK);
    let (name, value) = session_cookie(&state.settings, &token);
    response.headers_mut().append(name, value);
    Ok(response)
}
