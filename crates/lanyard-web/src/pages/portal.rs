//! The user portal: `GET /` (a redirect), `GET /portal` (tiles for the
//! applications the user may use), TOTP enrollment and removal (`GET/POST
//! /portal/totp`, `POST /portal/totp/remove`), confirming the password
//! again for them (`POST /portal/reauth`) and password change (`GET/POST
//! /portal/password`).
//!
//! Every page needs a complete, live session ([`Me`]); a suspended user
//! (whose sessions the suspension ended; one made otherwise) gets a page
//! saying so and nothing else. Forms carry the session's
//! own CSRF secret and are refused cross-origin.
//!
//! Tiles are what `list_portal_apps` returns: apps with SSO active, shown
//! in the portal, and bound to one of the user's groups. Each links to the
//! app's IdP URL (`/saml2/<slug>`, IdP-initiated SSO); its image, if any,
//! comes from our own `/app-images/<id>` with a content version, so the
//! page's CSP stays `img-src 'self'`.
//!
//! TOTP enrollment and removal, re-authentication and password change are
//! `lanyard_app::portal`'s use-cases (with the rule that changing the second
//! factor wants a sign-in of the last five minutes); this door checks the
//! session's CSRF token and shows the result.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_app::factors;
use lanyard_app::portal::{
    self, PasswordChange, Reauthentication, TotpConfirmation, TotpPage as TotpStart, TotpRemoval,
};
use lanyard_core::directory::UserState;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde::Deserialize;

use super::forms::{cross_origin, csrf_refused, Client, PageForm, PageResult};
use super::{page, Message};
use crate::session::{safe_next, same_origin, tokens_match, Cookie, Me, SignedIn};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/portal") }))
        .route("/portal", get(portal))
        .route("/portal/totp", get(totp_page).post(totp_confirm))
        .route("/portal/totp/remove", post(totp_remove))
        .route("/portal/reauth", post(reauth))
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

/// A TOTP enrollment as pages show it (the user portal's and the admin
/// portal's): the secret, its URI, and the URI as a QR code.
pub(crate) struct Enrollment {
    pub(crate) secret: String,
    pub(crate) uri: String,
    pub(crate) qr_svg: String,
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
    if !same_origin(headers, state.settings()) {
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

async fn portal(State(state): State<AppState>, me: Me) -> PageResult {
    if me.user.state == UserState::Suspended {
        return Ok(suspended());
    }
    let apps = portal::tiles(&state.lanyard, &me).await?;
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

/// An enrollment as the page shows it: the secret, its URI, a QR code.
pub(crate) fn shown(e: portal::Enrollment) -> lanyard_core::Result<Enrollment> {
    let qr_svg = qr_svg(&e.uri)?;
    Ok(Enrollment {
        secret: e.secret,
        uri: e.uri,
        qr_svg,
    })
}

/// The URI as a QR code in an `<svg>` element (no XML declaration, so it
/// can sit inline in a page; it has no script or style, so the page's CSP
/// needs no exception).
fn qr_svg(uri: &str) -> lanyard_core::Result<String> {
    let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
        .map_err(|e| lanyard_core::Error::Store(format!("QR code: {e}")))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let start = image.find("<svg").unwrap_or(0);
    Ok(image[start..].to_owned())
}

async fn totp_page(State(state): State<AppState>, me: Me) -> PageResult {
    if me.user.state == UserState::Suspended {
        return Ok(suspended());
    }
    let enrollment = match factors::start_totp(&state.lanyard, &portal::owner(&me)).await? {
        TotpStart::NeedsPassword => return Ok(reauth_form(&me, "/portal/totp", None)),
        TotpStart::Enrolling(e) => Some(shown(e)?),
        TotpStart::On => None,
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
    me: Me,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> PageResult {
    if let Some(refusal) = refuse_form(&state, &headers, &me, &form.csrf, "/portal/totp") {
        return Ok(refusal);
    }
    let (again, error) = match factors::confirm_totp(
        &state.lanyard,
        &portal::owner(&me),
        &form.code,
        &client.into(),
    )
    .await?
    {
        TotpConfirmation::Enabled => {
            return Ok(Message::new(
                "Two-step sign-in is on",
                "From now on, signing in asks for a code from your authenticator app.",
            )
            .with_link("/portal", "Back to your applications")
            .into_page(StatusCode::OK))
        }
        // Already on, no secret shown yet, or the password to confirm
        // first: the page says what to do.
        TotpConfirmation::NothingPending | TotpConfirmation::NeedsPassword => {
            return Ok(Redirect::to("/portal/totp").into_response())
        }
        TotpConfirmation::WrongCode(again) => (
            again,
            "Wrong code. Check that the app shows Lanyard's new entry and try again.",
        ),
        TotpConfirmation::Replaced(again) => (
            again,
            "The setup was replaced in another window. Start again with the new code below.",
        ),
    };
    Ok(page(
        StatusCode::OK,
        &TotpPage {
            email: &me.user.email,
            csrf: &me.session.csrf_secret,
            enrollment: Some(shown(again)?),
            error: Some(error),
        },
    ))
}

async fn totp_remove(
    State(state): State<AppState>,
    me: Me,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> PageResult {
    if let Some(refusal) = refuse_form(&state, &headers, &me, &form.csrf, "/portal/totp") {
        return Ok(refusal);
    }
    match factors::remove_totp(&state.lanyard, &portal::owner(&me), &form.code, &client.into()).await? {
        TotpRemoval::Removed => Ok(Message::new(
            "Two-step sign-in is off",
            "Signing in asks for your password only. You can turn two-step sign-in on again at any time.",
        )
        .with_link("/portal", "Back to your applications")
        .into_page(StatusCode::OK)),
        TotpRemoval::NotOn | TotpRemoval::NeedsPassword | TotpRemoval::Required => {
            Ok(Redirect::to("/portal/totp").into_response())
        }
        TotpRemoval::WrongCode => Ok(page(
            StatusCode::OK,
            &TotpPage {
                email: &me.user.email,
                csrf: &me.session.csrf_secret,
                enrollment: None,
                error: Some("Wrong code, or a code used already. Wait for the app to show the next one and try again."),
            },
        )),
    }
}

#[derive(Template)]
#[template(path = "portal_reauth.html")]
struct ReauthPage<'a> {
    email: &'a str,
    csrf: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

/// The "confirm your password" form, coming back to `next` (a portal page).
fn reauth_form(me: &SignedIn, next: &str, error: Option<&str>) -> Response {
    page(
        StatusCode::OK,
        &ReauthPage {
            email: &me.user.email,
            csrf: &me.session.csrf_secret,
            next,
            error,
        },
    )
}

// No `Debug`: it would print the password.
#[derive(Deserialize)]
struct ReauthForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn reauth(
    State(state): State<AppState>,
    me: Me,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<ReauthForm>,
) -> PageResult {
    if let Some(refusal) = refuse_form(&state, &headers, &me, &form.csrf, "/portal") {
        return Ok(refusal);
    }
    let next = match safe_next(Some(&form.next)) {
        n if n.starts_with("/portal") => n,
        _ => "/portal".to_owned(),
    };
    Ok(
        match factors::confirm_password(
            &state.lanyard,
            &portal::owner(&me),
            form.password,
            &client.into(),
        )
        .await?
        {
            Reauthentication::Confirmed => Redirect::to(&next).into_response(),
            Reauthentication::WrongPassword => {
                reauth_form(&me, &next, Some("The password is wrong."))
            }
            Reauthentication::Refused(refusal) => {
                refusal_page(&state, refusal, |m| reauth_form(&me, &next, Some(m)))
            }
        },
    )
}

async fn password_page(me: Me) -> PageResult {
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
    me: Me,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<PasswordForm>,
) -> PageResult {
    if let Some(refusal) = refuse_form(&state, &headers, &me, &form.csrf, "/portal/password") {
        return Ok(refusal);
    }
    let changed = portal::change_password(
        &state.lanyard,
        &me,
        form.current,
        form.new,
        &form.confirm,
        &client.into(),
    )
    .await?;
    let refuse = |status, message: &str| Ok(password_form(&me, status, Some(message)));
    let token = match changed {
        PasswordChange::Mismatch => {
            return refuse(StatusCode::OK, "The new passwords do not match.")
        }
        PasswordChange::Refused(message) => return refuse(StatusCode::OK, &message),
        PasswordChange::Blocked(refusal) => {
            return Ok(refusal_page(&state, refusal, |m| {
                password_form(&me, StatusCode::OK, Some(m))
            }))
        }
        PasswordChange::WrongCurrent => {
            return refuse(StatusCode::OK, "The current password is wrong.")
        }
        PasswordChange::Changed { token } => token,
    };
    let mut response = Message::new(
        "Password changed",
        "Your password is changed, and you are signed out everywhere else.",
    )
    .with_link("/portal", "Back to your applications")
    .into_page(StatusCode::OK);
    let (name, value) = Cookie::Session.set(state.settings(), &token);
    response.headers_mut().append(name, value);
    Ok(response)
}

/// A guess refused before it was checked: a throttled source gets the 429
/// page, a locked account `form` again with the lock's message, as 403.
pub(crate) fn refusal_page(
    state: &AppState,
    refusal: lanyard_app::sign_in::Refusal,
    form: impl FnOnce(&str) -> Response,
) -> Response {
    match refusal {
        lanyard_app::sign_in::Refusal::Throttled { until } => {
            super::forms::throttled(until, state.lanyard.now())
        }
        lanyard_app::sign_in::Refusal::Locked { until } => {
            let mut r = form(&super::forms::locked_message(until));
            *r.status_mut() = StatusCode::FORBIDDEN;
            r
        }
    }
}
