//! Single sign-on at `/saml2/<slug>`: the bindings and the pages. The
//! use-case itself (request checks, decision, replay memory, signing,
//! audit events) is `lanyard_app::sso`; this door reads what arrived and
//! maps the outcome to a page.
//!
//! Routes:
//! - `GET /saml2/<slug>` without `SAMLRequest`: IdP-initiated (a portal
//!   tile, or AWS's "SP-initiated" which is just opening the IdP URL), to
//!   the app's default ACS with its default RelayState;
//! - `GET /saml2/<slug>?SAMLRequest=...[&RelayState][&SigAlg&Signature]`:
//!   HTTP-Redirect, verified over the raw query string;
//! - `POST /saml2/<slug>` (form `SAMLRequest`, `RelayState`): HTTP-POST. An
//!   SP's page posts it cross-site, so the browser sends no `SameSite=Lax`
//!   session cookie with it. It is answered by a 303 to
//!   `GET /saml2/<slug>/post?SAMLRequest=<the same XML, DEFLATEd, base64>&RelayState=`,
//!   a top-level GET that carries the cookie; that GET verifies the exact
//!   XML bytes as a POST-binding message (enveloped XML signature).
//!   DEFLATE (the Redirect binding's encoding) keeps the URL about a third
//!   of the base64 form's size: a signed request with its certificate stays
//!   a few KiB even after the sign-in page wraps it into `next=`, under the
//!   8 KiB request-line limit of common proxies. Nothing is trusted at the
//!   303: it only checks sizes and encodings.
//!
//! - `POST /saml2/<slug>/role` (form `csrf`, `role`, `request`): the role
//!   chooser's answer. Same origin and the session's CSRF token, then the
//!   request it was shown for (`request`: the path and query of one of the
//!   GETs above, of this app only) is answered again with the role.
//!
//! `?role=<account id>:<role name>` on the GETs picks a role directly
//! (bookmarkable); a role the user is not granted is a 403 either way.
//!
//! Without a session the browser goes to `/login?next=<this exact path and
//! query>`, so the same request is verified again on return; a request
//! with `ForceAuthn` that finds a session authenticated before it goes to
//! `/login?force=1&next=...`, the whole sign-in again.

mod pages;

use crate::client::ClientAddr;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use lanyard_app::sso::{self, Intake, SsoOutcome, SsoRequest};
use lanyard_core::Error;
use lanyard_saml::binding::{
    decode_base64, deflate, inflate_bounded, percent_encode, RedirectParams,
};
use lanyard_saml::{RequestLimits, UnverifiedAuthnRequest};

use crate::session::{to_login, Cookie};
use crate::AppState;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml2/{slug}", get(redirect_binding).post(post_binding))
        .route("/saml2/{slug}/post", get(post_binding_resumed))
        .route("/saml2/{slug}/role", axum::routing::post(choose_role))
}

/// What arrived at `GET /saml2/<slug>` (`resumed`: `.../post`) with `query`.
fn intake_of(query: &str, resumed: bool) -> Intake {
    if resumed {
        Intake::Request(post_message(query))
    } else if has_param(query, "SAMLRequest") {
        Intake::Request(UnverifiedAuthnRequest::from_redirect_query(
            query,
            RequestLimits::default(),
        ))
    } else {
        Intake::IdpInitiated
    }
}

/// The `role` parameter of a query, decoded.
fn role_param(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "role")
        .map(|(_, value)| value.into_owned())
}

#[derive(serde::Deserialize)]
struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    request: String,
}

/// `POST /saml2/<slug>/role`: the chooser's answer (see the module docs).
async fn choose_role(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    client: Client,
    crate::pages::forms::PageForm(form): crate::pages::forms::PageForm<RoleForm>,
) -> Response {
    // Only this app's own SSO paths, as the chooser was given them.
    let idp_path = format!("/saml2/{slug}");
    let uri: Uri = match form.request.parse() {
        Ok(uri) if form.request.starts_with('/') => uri,
        _ => return pages::bad_role_form(),
    };
    let resumed = match uri.path() {
        p if p == idp_path => false,
        p if p.strip_prefix(idp_path.as_str()) == Some("/post") => true,
        _ => return pages::bad_role_form(),
    };
    if !crate::session::same_origin(&headers, state.settings()) {
        return crate::pages::forms::cross_origin();
    }
    let me = match crate::session::current(&state, &headers).await {
        Ok(Some(me)) => me,
        Ok(None) => return to_login(&form.request),
        Err(e) => return pages::internal(&e),
    };
    if !crate::session::tokens_match(&me.session.csrf_secret, &form.csrf) {
        return crate::pages::forms::csrf_refused(&form.request);
    }
    let intake = intake_of(uri.query().unwrap_or(""), resumed);
    run(
        &state,
        &slug,
        &uri,
        &headers,
        client_of(&client),
        intake,
        Some(&form.role),
    )
    .await
}

/// The request's client address, when the server knows it.
type Client = Option<Extension<ClientAddr>>;

fn client_of(client: &Client) -> lanyard_app::Client {
    lanyard_app::Client {
        addr: client.as_ref().map(|Extension(ClientAddr(addr))| *addr),
        user_agent: None,
    }
}

/// `GET /saml2/<slug>`: IdP-initiated, or an HTTP-Redirect AuthnRequest.
async fn redirect_binding(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    client: Client,
) -> Response {
    answer_get(&state, &slug, &uri, &headers, &client, false).await
}

/// `GET /saml2/<slug>/post?SAMLRequest=&RelayState=`: an HTTP-POST message
/// carried over from [`post_binding`]'s 303.
async fn post_binding_resumed(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    client: Client,
) -> Response {
    answer_get(&state, &slug, &uri, &headers, &client, true).await
}

/// One of the GETs (`resumed`: `.../post`), with the `role` it may name.
async fn answer_get(
    state: &AppState,
    slug: &str,
    uri: &Uri,
    headers: &HeaderMap,
    client: &Client,
    resumed: bool,
) -> Response {
    let query = uri.query().unwrap_or("");
    let role = role_param(query);
    let intake = intake_of(query, resumed);
    run(
        state,
        slug,
        uri,
        headers,
        client_of(client),
        intake,
        role.as_deref(),
    )
    .await
}

/// `POST /saml2/<slug>`: checks sizes and encodings only, then a 303 to the
/// same-site GET that carries the session cookie.
async fn post_binding(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let label = match sso::app_label(&state.lanyard, &slug).await {
        Ok(Some(label)) => label,
        Ok(None) => return pages::unknown_app(),
        Err(e) => return pages::internal(&e),
    };
    let mut saml_request = None;
    let mut relay_state = None;
    for (name, value) in form_urlencoded::parse(&body) {
        let slot = match &*name {
            "SAMLRequest" => &mut saml_request,
            "RelayState" => &mut relay_state,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            let param = if name == "SAMLRequest" {
                "SAMLRequest"
            } else {
                "RelayState"
            };
            return pages::bad_request(&label, &lanyard_saml::Error::DuplicateParameter(param));
        }
    }
    let Some(saml_request) = saml_request else {
        return pages::bad_request(
            &label,
            &lanyard_saml::Error::MissingParameter("SAMLRequest"),
        );
    };
    let limits = RequestLimits::default();
    let xml = UnverifiedAuthnRequest::from_post(&saml_request, relay_state.as_deref(), limits)
        .and_then(|_| decode_base64("SAMLRequest", &saml_request, limits.max_xml));
    let xml = match xml {
        Ok(xml) => xml,
        Err(e) => {
            tracing::info!(
                app = ?slug,
                error = %e.to_string().escape_debug(),
                "refused a POST AuthnRequest"
            );
            return pages::bad_request(&label, &e);
        }
    };
    let mut target = format!(
        "/saml2/{slug}/post?SAMLRequest={}",
        percent_encode(&B64.encode(deflate(&xml)))
    );
    if let Some(rs) = &relay_state {
        target.push_str("&RelayState=");
        target.push_str(&percent_encode(rs));
    }
    match HeaderValue::from_str(&target) {
        Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
        // Percent-encoded text is always a valid header value.
        Err(_) => pages::internal(&Error::Store("unencodable redirect".into())),
    }
}

/// Whether the raw query has a parameter `name` (with or without a value).
fn has_param(query: &str, name: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some(name))
}

/// The POST-binding message carried in a query string by [`post_binding`]
/// (its XML DEFLATEd), read back as the POST message it was.
fn post_message(query: &str) -> lanyard_saml::Result<UnverifiedAuthnRequest> {
    let limits = RequestLimits::default();
    let params = RedirectParams::parse(query)?;
    let request = params
        .saml_request
        .ok_or(lanyard_saml::Error::MissingParameter("SAMLRequest"))?;
    let deflated = decode_base64("SAMLRequest", &request.value, limits.max_encoded)?;
    let xml = inflate_bounded(&deflated, limits.max_xml)?;
    UnverifiedAuthnRequest::from_post(
        &B64.encode(xml),
        params.relay_state.as_ref().map(|r| r.value.as_str()),
        limits,
    )
}

async fn run(
    state: &AppState,
    slug: &str,
    uri: &Uri,
    headers: &HeaderMap,
    client: lanyard_app::Client,
    intake: Intake,
    role: Option<&str>,
) -> Response {
    let request = SsoRequest {
        slug,
        intake,
        session_token: Cookie::Session.read(headers, state.settings()),
        client,
        role,
    };
    match sso::respond(&state.lanyard, request).await {
        Ok(SsoOutcome::Post(post)) => pages::SamlPostPage {
            label: &post.label,
            acs_url: &post.acs_url,
            saml_response: &post.saml_response,
            relay_state: post.relay_state.as_deref(),
        }
        .into_page(),
        Ok(SsoOutcome::UnknownApp) => pages::unknown_app(),
        Ok(SsoOutcome::RequestsNotAccepted { label }) => pages::requests_not_accepted(&label),
        Ok(SsoOutcome::RelayStateRefused { label }) => pages::relay_state_refused(&label),
        Ok(SsoOutcome::Reauthenticate) => {
            let next = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
            crate::session::to_reauthenticate(next)
        }
        Ok(SsoOutcome::BadRequest { label, error }) => pages::bad_request(&label, &error),
        Ok(SsoOutcome::Denied { label, denial }) => pages::denied(&label, &denial),
        Ok(SsoOutcome::ChooseRole(chooser)) => {
            // The chooser's form comes back with this request (its path and
            // query, without a role it may carry).
            let query = uri
                .query()
                .map(|q| {
                    q.split('&')
                        .filter(|pair| pair.split('=').next() != Some("role"))
                        .collect::<Vec<_>>()
                        .join("&")
                })
                .filter(|q| !q.is_empty());
            let request = match query {
                Some(q) => format!("{}?{q}", uri.path()),
                None => uri.path().to_owned(),
            };
            pages::RoleChooserPage {
                chooser: &chooser,
                slug,
                csrf: &chooser.csrf,
                request: &request,
            }
            .into_page()
        }
        Ok(SsoOutcome::SignIn) => {
            let next = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
            to_login(next)
        }
        Err(e) => pages::internal(&e),
    }
}

#[cfg(test)]
mod tests {
    use lanyard_saml::Binding;

    use super::*;

    #[test]
    fn saml_request_is_found_by_exact_name() {
        assert!(has_param("SAMLRequest=abc&RelayState=x", "SAMLRequest"));
        assert!(has_param("a=1&SAMLRequest", "SAMLRequest"));
        assert!(!has_param("SAMLRequestX=1&xSAMLRequest=2", "SAMLRequest"));
        assert!(!has_param("", "SAMLRequest"));
    }

    #[test]
    fn post_messages_in_a_query_refuse_duplicates_and_need_a_request() {
        assert_eq!(
            post_message("RelayState=x").unwrap_err(),
            lanyard_saml::Error::MissingParameter("SAMLRequest")
        );
        assert_eq!(
            post_message("SAMLRequest=a&SAMLRequest=b").unwrap_err(),
            lanyard_saml::Error::DuplicateParameter("SAMLRequest")
        );
        assert!(matches!(
            post_message("SAMLRequest=%21%21").unwrap_err(),
            lanyard_saml::Error::InvalidBase64 { .. }
        ));
        let carried =
            |xml: &[u8]| format!("SAMLRequest={}", percent_encode(&B64.encode(deflate(xml))));
        assert_eq!(
            post_message(&carried(&vec![b' '; 1 << 20])).unwrap_err(),
            lanyard_saml::Error::InflateTooLarge { limit: 64 * 1024 }
        );
        let xml = "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>";
        let read = post_message(&format!("{}&RelayState=a%20b", carried(xml.as_bytes()))).unwrap();
        assert_eq!(read.xml(), xml, "the exact bytes that were posted");
        assert_eq!(read.binding(), Binding::Post);
    }
}
