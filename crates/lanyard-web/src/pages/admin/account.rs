//! The signed-in admin's own account, for every role (read-only admins
//! too: it changes only themselves):
//!
//! - `GET /admin/account`: password change form, second factor status,
//!   the admin's sessions;
//! - `POST /admin/account/password`: changes the password (current one
//!   checked as a sign-in guess; every session ends, this browser gets a
//!   new one);
//! - `POST /admin/account/sessions/{id}/revoke`,
//!   `POST /admin/account/sessions/revoke-others`: ends sessions;
//! - `GET/POST /admin/account/totp`, `POST /admin/account/totp/remove`,
//!   `POST /admin/account/reauth`: TOTP enrollment and removal, after
//!   confirming the password when the last authentication is not recent.
//!
//! The rules are `lanyard_app::admins` and `lanyard_app::factors`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use lanyard_app::access::AdminSignedIn as AppSignedIn;
use lanyard_app::admins::{
    self, PasswordChange, Reauthentication, TotpConfirmation, TotpPage as TotpStart, TotpRemoval,
};
use lanyard_app::factors;
use lanyard_core::{AdminSessionId, Error};

use super::apps::see_other;
use super::{AdminPost, AdminSignedIn, Nav};
use crate::pages::forms::{locked_message, throttled, PageResult};
use crate::pages::portal::{refusal_page, shown, Enrollment};
use crate::pages::{page, Message};
use crate::session::Cookie;
use crate::AppState;
use lanyard_app::sign_in::Refusal;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/account", get(account))
        .route("/admin/account/password", post(change_password))
        .route("/admin/account/sessions/{id}/revoke", post(revoke_one))
        .route("/admin/account/sessions/revoke-others", post(revoke_others))
        .route("/admin/account/totp", get(totp_page).post(totp_confirm))
        .route("/admin/account/totp/remove", post(totp_remove))
        .route("/admin/account/reauth", post(reauth))
}

struct SessionRow {
    id: i64,
    created: String,
    last_seen: String,
    client: String,
    user_agent: String,
    methods: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "admin/account.html")]
struct AccountPage {
    nav: Nav,
    second_factor: bool,
    second_factor_required: bool,
    sessions: Vec<SessionRow>,
    admin_min: u32,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/account_totp.html")]
struct TotpPage {
    nav: Nav,
    enrollment: Option<Enrollment>,
    /// TOTP may not be turned off (the instance requires it).
    required: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/reauth.html")]
struct ReauthPage {
    nav: Nav,
    next: String,
    error: Option<String>,
}

fn utc(at: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    at.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// The app layer's view of the signed-in admin.
fn me(signed: &AdminSignedIn) -> AppSignedIn {
    AppSignedIn {
        who: signed.who.clone(),
        session: signed.session.clone(),
        admin: signed.admin.clone(),
    }
}

#[derive(serde::Deserialize, Default)]
struct Saved {
    saved: Option<String>,
}

async fn account(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(q): Query<Saved>,
) -> PageResult {
    let notice = q.saved.map(|what| {
        match what.as_str() {
            "revoked" => "Session ended.",
            "revoked-others" => "Your other sessions ended.",
            "totp-on" => "Two-step sign-in is on.",
            "totp-off" => "Two-step sign-in is off.",
            _ => "Saved.",
        }
        .to_owned()
    });
    account_page(&state, &signed, notice, None, StatusCode::OK).await
}

async fn account_page(
    state: &AppState,
    signed: &AdminSignedIn,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let l = &state.lanyard;
    let sessions = admins::own_sessions(l, &me(signed))
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.0,
            created: utc(s.created_at),
            last_seen: utc(s.last_seen_at),
            client: s.client.unwrap_or_default(),
            user_agent: s.user_agent.unwrap_or_default(),
            methods: s.methods.as_str(),
            current: s.id == signed.session.id,
        })
        .collect();
    let second_factor = signed
        .reader(state)
        .admin_sign_in_state(signed.admin.id)
        .await?
        .totp_enabled();
    let auth = &state.settings().auth;
    Ok(page(
        status,
        &AccountPage {
            nav: signed.nav("account"),
            second_factor,
            second_factor_required: auth.require_admin_second_factor,
            sessions,
            admin_min: auth.admin_password_min,
            notice,
            error,
        },
    ))
}

async fn change_password(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let f = &post.fields;
    let changed = admins::change_own_password(
        &state.lanyard,
        &me(&post.signed),
        f.get("current").to_owned(),
        f.get("new").to_owned(),
        f.get("confirm"),
        &post.client.clone().into(),
    )
    .await?;
    let signed = &post.signed;
    let refuse = |status, message: &str| {
        account_page(&state, signed, None, Some(message.to_owned()), status)
    };
    let token = match changed {
        PasswordChange::Mismatch => {
            return refuse(StatusCode::OK, "The new passwords do not match.").await
        }
        PasswordChange::Refused(message) => return refuse(StatusCode::OK, &message).await,
        PasswordChange::WrongCurrent => {
            return refuse(StatusCode::OK, "The current password is wrong.").await
        }
        PasswordChange::Blocked(Refusal::Throttled { until }) => {
            return Ok(throttled(until, state.lanyard.now()))
        }
        PasswordChange::Blocked(Refusal::Locked { until }) => {
            return refuse(StatusCode::FORBIDDEN, &locked_message(until)).await
        }
        PasswordChange::Changed { token } => token,
    };
    let mut response = Message::new(
        "Password changed",
        "Your password is changed, and your other sessions ended.",
    )
    .with_link("/admin/account", "Back to your account")
    .into_page(StatusCode::OK);
    response
        .headers_mut()
        .append(SET_COOKIE, Cookie::Admin.set(state.settings(), &token).1);
    Ok(response)
}

async fn revoke_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = id
        .trim()
        .parse::<i64>()
        .map(AdminSessionId)
        .map_err(|_| Error::not_found("admin session", &id))?;
    let me = me(&post.signed);
    admins::end_own_sessions(&state.lanyard, &me, Some(id), &post.client.clone().into()).await?;
    if id == post.signed.session.id {
        let mut response = see_other("/admin/login");
        response
            .headers_mut()
            .append(SET_COOKIE, Cookie::Admin.clear(state.settings()).1);
        return Ok(response);
    }
    Ok(see_other("/admin/account?saved=revoked#sessions"))
}

async fn revoke_others(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let me = me(&post.signed);
    admins::end_own_sessions(&state.lanyard, &me, None, &post.client.clone().into()).await?;
    Ok(see_other("/admin/account?saved=revoked-others#sessions"))
}

fn reauth_form(signed: &AdminSignedIn, next: &str, error: Option<String>) -> Response {
    page(
        StatusCode::OK,
        &ReauthPage {
            nav: signed.nav("account"),
            next: next.to_owned(),
            error,
        },
    )
}

async fn reauth(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let next = match post.fields.get("next") {
        n if n.starts_with("/admin/account") => n.to_owned(),
        _ => "/admin/account".to_owned(),
    };
    let signed = &post.signed;
    Ok(
        match factors::confirm_password(
            &state.lanyard,
            &admins::owner(&me(signed)),
            post.fields.get("password").to_owned(),
            &post.client.clone().into(),
        )
        .await?
        {
            Reauthentication::Confirmed => see_other(&next),
            Reauthentication::WrongPassword => {
                reauth_form(signed, &next, Some("The password is wrong.".into()))
            }
            Reauthentication::Refused(refusal) => refusal_page(&state, refusal, |m| {
                reauth_form(signed, &next, Some(m.to_owned()))
            }),
        },
    )
}

fn totp_form(
    state: &AppState,
    signed: &AdminSignedIn,
    enrollment: Option<Enrollment>,
    error: Option<&str>,
) -> Response {
    page(
        StatusCode::OK,
        &TotpPage {
            nav: signed.nav("account"),
            enrollment,
            required: state.settings().auth.require_admin_second_factor,
            error: error.map(str::to_owned),
        },
    )
}

async fn totp_page(signed: AdminSignedIn, State(state): State<AppState>) -> PageResult {
    let enrollment = match factors::start_totp(&state.lanyard, &admins::owner(&me(&signed))).await?
    {
        TotpStart::NeedsPassword => return Ok(reauth_form(&signed, "/admin/account/totp", None)),
        TotpStart::Enrolling(e) => Some(shown(e)?),
        TotpStart::On => None,
    };
    Ok(totp_form(&state, &signed, enrollment, None))
}

async fn totp_confirm(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let signed = &post.signed;
    let confirmed = factors::confirm_totp(
        &state.lanyard,
        &admins::owner(&me(signed)),
        post.fields.get("code"),
        &post.client.clone().into(),
    )
    .await?;
    let (again, error) = match confirmed {
        TotpConfirmation::Enabled => return Ok(see_other("/admin/account?saved=totp-on")),
        TotpConfirmation::NothingPending | TotpConfirmation::NeedsPassword => {
            return Ok(see_other("/admin/account/totp"))
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
    Ok(totp_form(&state, signed, Some(shown(again)?), Some(error)))
}

async fn totp_remove(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let signed = &post.signed;
    let removed = factors::remove_totp(
        &state.lanyard,
        &admins::owner(&me(signed)),
        post.fields.get("code"),
        &post.client.clone().into(),
    )
    .await?;
    Ok(match removed {
        TotpRemoval::Removed => see_other("/admin/account?saved=totp-off"),
        TotpRemoval::NotOn | TotpRemoval::NeedsPassword => see_other("/admin/account/totp"),
        TotpRemoval::Required => {
            let mut r = totp_form(
                &state,
                signed,
                None,
                Some("This Lanyard requires a second factor for every admin, so it cannot be turned off. Another administrator can reset it if the device is lost."),
            );
            *r.status_mut() = StatusCode::CONFLICT;
            r
        }
        TotpRemoval::WrongCode => totp_form(
            &state,
            signed,
            None,
            Some("Wrong code, or a code used already. Wait for the app to show the next one and try again."),
        ),
    })
}
