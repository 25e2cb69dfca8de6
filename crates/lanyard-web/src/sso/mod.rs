//! Single sign-on at `/saml2/<slug>`: IdP-initiated (a portal tile, or AWS's
//! "SP-initiated" which is just opening the IdP URL) and SP-initiated with an
//! AuthnRequest on the HTTP-Redirect or HTTP-POST binding.
//!
//! Routes:
//! - `GET /saml2/<slug>` without `SAMLRequest`: IdP-initiated, to the app's
//!   default ACS with its default RelayState;
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
//! One flow serves them all, in this order: the app by slug, with its
//! grants and signing key from the per-node cache ([`cache`]: one version
//! check per request; 404 page when unknown or deleted); the AuthnRequest's checks (400 page with the
//! protocol error: signature with the SP's certificates when the app
//! requires signed requests or the request is signed, Issuer = the SP
//! entity ID, Destination = this IdP URL, IssueInstant within
//! [`REQUEST_MAX_AGE`] / [`REQUEST_CLOCK_SKEW`], the requested ACS URL or
//! index registered); the session (none: 303 to `/login?next=<this exact
//! path and query>`, so the same request is verified again on return);
//! the decision (`lanyard_core::sso::decide`, 403 page per denial); replay
//! (the request ID is remembered in the store only now, when a response is
//! about to be issued, so the sign-in detour does not burn it; a second use
//! gets the 400 page); signing; the form page posting to the ACS.
//!
//! Audit: `sso.issued` for every response, `sso.denied` (with the reason
//! code) for every refusal of a signed-in user. A request that fails its
//! checks before anyone is signed in is only logged: it names nobody, and
//! anyone could otherwise fill the audit log from outside.
//!
//! Not handled yet: `ForceAuthn` (an existing session is used as is),
//! `IsPassive` (a user without a session is sent to the sign-in page rather
//! than answered with a `NoPassive` status), the requested
//! `NameIDPolicy/@Format` (the app's configured format is always used), and
//! error Responses to the SP in general (refusals are pages). An
//! `AssertionConsumerServiceIndex` is the position in the app's ACS list
//! (0-based), which is the SP metadata's order when it was imported.
//!
//! Timing follows AWS (shared/AWS_SAML.md section 2) through
//! `Response::for_sso`: IssueInstant = now, NotBefore = now - 60 s,
//! NotOnOrAfter = now + 5 min, all from the injected clock.

mod cache;
mod pages;
mod signer;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use lanyard_core::application::Application;
use lanyard_core::apps::SignatureAlgorithm as AppAlgorithm;
use lanyard_core::audit::AuditEvent;
use lanyard_core::directory::User;
use lanyard_core::session::Session;
use lanyard_core::sso::{self, AppFacts, AssertionContent, Denial};
use lanyard_core::Error;
use lanyard_saml::binding::{
    decode_base64, deflate, inflate_bounded, percent_encode, RedirectParams,
};
use lanyard_saml::response::{new_id, Attribute, NameId, SsoParams};
use lanyard_saml::{
    AcsEndpoint, AlgorithmPolicy, Binding, Certificate, RequestLimits, SignatureAlgorithm,
    SigningOptions, SpPolicy, UnverifiedAuthnRequest, VerifiedAuthnRequest, VerifyContext,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

pub(crate) use cache::AppCache;
use cache::SsoInputs;
pub(crate) use signer::Signer;

use crate::idp::idp_url;
use crate::secrets::random_bytes;
use crate::session::{
    session_token_hash, signed_in, to_login, unavailable as session_unavailable, SignedIn,
};
use crate::AppState;

/// How old an AuthnRequest may be when it is answered. Longer than the
/// 5 minutes a response lives: the user may have to sign in (password and
/// TOTP) between the SP's redirect and the answer, and the same request is
/// verified again when they come back. Replays are refused by ID memory,
/// not by this window.
pub const REQUEST_MAX_AGE: Duration = Duration::minutes(10);
/// How far ahead of our clock an SP's IssueInstant may be (Shibboleth's
/// default skew).
pub const REQUEST_CLOCK_SKEW: Duration = Duration::minutes(3);

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Longest protocol error text kept in an audit event (it may quote the
/// request).
const MAX_AUDITED_ERROR: usize = 300;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml2/{slug}", get(redirect_binding).post(post_binding))
        .route("/saml2/{slug}/post", get(post_binding_resumed))
}

/// What arrived: nothing (IdP-initiated) or an AuthnRequest, read but not
/// yet checked (a read error is kept to be shown once the app is known).
enum Intake {
    IdpInitiated,
    Request(lanyard_saml::Result<UnverifiedAuthnRequest>),
}

/// The request's client address, when the server knows it.
type Client = Option<Extension<ConnectInfo<SocketAddr>>>;

fn client_addr(client: &Client) -> Option<String> {
    client
        .as_ref()
        .map(|Extension(ConnectInfo(addr))| addr.ip().to_string())
}

/// `GET /saml2/<slug>`: IdP-initiated, or an HTTP-Redirect AuthnRequest.
async fn redirect_binding(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    client: Client,
) -> Response {
    let query = uri.query().unwrap_or("");
    let intake = if has_param(query, "SAMLRequest") {
        Intake::Request(UnverifiedAuthnRequest::from_redirect_query(
            query,
            RequestLimits::default(),
        ))
    } else {
        Intake::IdpInitiated
    };
    run(&state, &slug, &uri, &headers, client_addr(&client), intake).await
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
    let intake = Intake::Request(post_message(uri.query().unwrap_or("")));
    run(&state, &slug, &uri, &headers, client_addr(&client), intake).await
}

/// `POST /saml2/<slug>`: checks sizes and encodings only, then a 303 to the
/// same-site GET that carries the session cookie.
async fn post_binding(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let inputs = match find_app(&state, &slug).await {
        Ok(inputs) => inputs,
        Err(page) => return page,
    };
    let app = &inputs.app;
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
            return pages::bad_request(
                &app.config.label,
                &lanyard_saml::Error::DuplicateParameter(param),
            );
        }
    }
    let Some(saml_request) = saml_request else {
        return pages::bad_request(
            &app.config.label,
            &lanyard_saml::Error::MissingParameter("SAMLRequest"),
        );
    };
    let limits = RequestLimits::default();
    let xml = UnverifiedAuthnRequest::from_post(&saml_request, relay_state.as_deref(), limits)
        .and_then(|_| decode_base64("SAMLRequest", &saml_request, limits.max_xml));
    let xml = match xml {
        Ok(xml) => xml,
        Err(e) => {
            tracing::info!(app = %app.slug, "refused a POST AuthnRequest: {e}");
            return pages::bad_request(&app.config.label, &e);
        }
    };
    let mut target = format!(
        "/saml2/{}/post?SAMLRequest={}",
        app.slug,
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

/// The app's SSO inputs, from the per-node cache (one version check).
async fn find_app(state: &AppState, slug: &str) -> Result<Arc<SsoInputs>, Response> {
    inputs_or_page(state.sso_apps.get(&state.access.flows(), slug).await)
}

/// The cache's answer, or the page for an unknown app or a storage error.
#[allow(clippy::result_large_err)] // the page is returned as is, at once
fn inputs_or_page(
    found: lanyard_core::Result<Option<Arc<SsoInputs>>>,
) -> Result<Arc<SsoInputs>, Response> {
    match found {
        Ok(Some(inputs)) => Ok(inputs),
        Ok(None) => Err(pages::unknown_app()),
        Err(e) => Err(pages::internal(&e)),
    }
}

/// One request's context, for audit events.
struct Ctx<'a> {
    state: &'a AppState,
    app: &'a Application,
    /// The app's grants and signing key (`app` is `inputs.app`).
    inputs: &'a SsoInputs,
    now: OffsetDateTime,
    client: Option<String>,
}

impl Ctx<'_> {
    fn record(&self, user: &User, action: &str, summary: serde_json::Value) {
        self.state.audit.record(
            AuditEvent::new(
                self.now,
                &format!("user:{}", user.email),
                action,
                format!("application:{}", self.app.id),
                summary.to_string(),
            )
            .from_source(self.client.clone()),
        );
    }

    fn deny(&self, user: &User, request: Option<&str>, reason: &str, detail: serde_json::Value) {
        let mut summary = json!({
            "app": self.app.slug,
            "user": user.id,
            "flow": flow_name(request.is_some()),
            "request_id": request,
            "reason": reason,
        });
        if let (Some(s), serde_json::Value::Object(extra)) = (summary.as_object_mut(), detail) {
            s.extend(extra);
        }
        self.record(user, "sso.denied", summary);
    }
}

fn flow_name(sp_initiated: bool) -> &'static str {
    if sp_initiated {
        "sp_initiated"
    } else {
        "idp_initiated"
    }
}

/// The request's session and the app's SSO inputs: with a session cookie,
/// the session, its user and groups, and the app's version come in one
/// statement; the inputs then usually from the per-node cache.
async fn session_and_app(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
) -> Result<(Option<SignedIn>, Arc<SsoInputs>), Response> {
    let flows = state.access.flows();
    let (found, version) = match session_token_hash(headers) {
        Some(hash) => flows.find_session_for_app(&hash, slug).await,
        None => flows.app_sso_version(slug).await.map(|v| (None, v)),
    }
    .map_err(|e| pages::internal(&e))?;
    let who = signed_in(state, found)
        .await
        .map_err(|e| session_unavailable(&e))?;
    let inputs = inputs_or_page(state.sso_apps.at(&flows, slug, version).await)?;
    Ok((who, inputs))
}

async fn run(
    state: &AppState,
    slug: &str,
    uri: &Uri,
    headers: &HeaderMap,
    client: Option<String>,
    intake: Intake,
) -> Response {
    let (who, inputs) = match session_and_app(state, headers, slug).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let app = &inputs.app;
    let ctx = Ctx {
        state,
        app,
        inputs: &inputs,
        now: state.clock.now(),
        client,
    };
    let request = match intake {
        Intake::IdpInitiated => None,
        Intake::Request(read) => match read.and_then(|r| {
            let binding = r.binding();
            verify(&ctx, r).map(|v| (v, binding))
        }) {
            Ok(verified) => Some(verified),
            Err(e) => {
                tracing::info!(app = %app.slug, "refused an AuthnRequest: {e}");
                if let Some(who) = &who {
                    ctx.deny(
                        &who.user,
                        None,
                        "invalid_request",
                        json!({
                            "flow": "sp_initiated",
                            "error": e.to_string().chars().take(MAX_AUDITED_ERROR).collect::<String>(),
                        }),
                    );
                }
                return pages::bad_request(&app.config.label, &e);
            }
        },
    };
    let Some(who) = who else {
        let next = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
        return to_login(next);
    };
    match issue(&ctx, &who, request.as_ref().map(|(r, b)| (r, *b))).await {
        Ok(page) => page,
        Err(e) => pages::internal(&e),
    }
}

/// The AuthnRequest's checks against the app's settings.
fn verify(
    ctx: &Ctx<'_>,
    request: UnverifiedAuthnRequest,
) -> lanyard_saml::Result<VerifiedAuthnRequest> {
    let sso = &ctx.app.config.sso;
    let acs: Vec<AcsEndpoint> = sso
        .acs_urls
        .iter()
        .enumerate()
        .map(|(i, a)| AcsEndpoint {
            binding: lanyard_saml::ns::BINDING_POST.to_owned(),
            location: a.url.clone(),
            // The position in the app's list: what an index from metadata
            // we exported (or imported in order) refers to.
            index: u16::try_from(i).ok(),
            is_default: a.is_default,
        })
        .collect();
    let certificates: Vec<Certificate> = ctx
        .app
        .config
        .sp_certificates
        .iter()
        .filter_map(|c| match Certificate::from_base64(c) {
            Ok(cert) => Some(cert),
            Err(e) => {
                tracing::warn!(app = %ctx.app.slug, "unusable SP certificate: {e}");
                None
            }
        })
        .collect();
    let sso_url = idp_url(&ctx.state.settings, &ctx.app.slug);
    let sso_urls = [sso_url.as_str()];
    request.verify(&VerifyContext {
        sp: SpPolicy {
            entity_id: &sso.sp_entity_id,
            acs: &acs,
            certificates: &certificates,
            require_signed_requests: sso.require_signed_requests,
            // SHA-1 request signatures only from an SP the admin marked
            // as legacy (the app answers with RSA-SHA1 too).
            algorithms: AlgorithmPolicy {
                allow_sha1: sso.algorithm == AppAlgorithm::RsaSha1,
            },
        },
        sso_urls: &sso_urls,
        now: ctx.now,
        max_age: REQUEST_MAX_AGE,
        clock_skew: REQUEST_CLOCK_SKEW,
        // Replay is checked against the store once a response is about to
        // be issued (see the module docs).
        seen_before: &|_| false,
    })
}

/// Decides for the signed-in user and, if allowed, signs and renders the
/// form page.
async fn issue(
    ctx: &Ctx<'_>,
    who: &SignedIn,
    sp_request: Option<(&VerifiedAuthnRequest, Binding)>,
) -> lanyard_core::Result<Response> {
    let app = ctx.app;
    let request = sp_request.map(|(r, _)| r);
    let user = &who.user;
    let request_id = request.map(|r| r.id.as_str());
    let acs_url = match request {
        Some(r) => r.acs_url.clone(),
        None => app.config.sso.default_acs().unwrap_or_default().to_owned(),
    };
    let flows = ctx.state.access.flows();
    let grants = &ctx.inputs.grants;
    let content = match sso::decide(&AppFacts::new(app, grants), user, &who.groups, &acs_url) {
        Ok(content) => content,
        Err(denial) => {
            ctx.deny(user, request_id, denial.code(), denial_detail(&denial));
            return Ok(pages::denied(&app.config.label, &denial));
        }
    };
    if let Some(r) = request {
        let fresh = flows
            .remember_request_id(
                app.id,
                &r.id,
                ctx.now,
                r.issue_instant.max(ctx.now) + REQUEST_MAX_AGE + REQUEST_CLOCK_SKEW,
            )
            .await?;
        if !fresh {
            ctx.deny(user, request_id, "replayed", json!({}));
            return Ok(pages::bad_request(
                &app.config.label,
                &lanyard_saml::Error::Replayed(r.id.clone()),
            ));
        }
    }
    let (key, private_key) = (ctx.inputs.key.clone(), ctx.inputs.private_key.clone());
    let key_id = key.id;
    let response = response_for(ctx, &content, &who.session, request)?;
    let response_id = response.id.clone();
    let signed = ctx
        .state
        .signer
        .sign(key, private_key, response, signing_options(app))
        .await?;
    let relay_state = match request {
        Some(r) => r.relay_state.as_deref(),
        None => app.config.sso.default_relay_state.as_deref(),
    };
    ctx.record(
        user,
        "sso.issued",
        json!({
            "app": app.slug,
            "user": user.id,
            "flow": flow_name(request.is_some()),
            "binding": sp_request.map(|(_, b)| match b {
                Binding::Redirect => "redirect",
                Binding::Post => "post",
            }),
            "request_id": request_id,
            "response_id": response_id,
            "acs_url": content.acs_url,
            "key": key_id,
        }),
    );
    Ok(pages::SamlPostPage {
        label: &app.config.label,
        acs_url: &content.acs_url,
        saml_response: &signed.to_base64(),
        relay_state,
    }
    .into_page())
}

/// What a `sso.denied` event says besides the reason code.
fn denial_detail(denial: &Denial) -> serde_json::Value {
    match denial {
        Denial::Placeholders { fields } => json!({ "fields": fields }),
        Denial::NoNameId { source } => json!({ "name_id_source": source }),
        Denial::BreaksRules { violations, .. } => json!({ "violations": violations }),
        _ => json!({}),
    }
}

fn signing_options(app: &Application) -> SigningOptions {
    let sso = &app.config.sso;
    SigningOptions {
        sign_assertion: sso.sign_assertion,
        sign_response: sso.sign_response,
        algorithm: match sso.algorithm {
            AppAlgorithm::RsaSha256 => SignatureAlgorithm::RsaSha256,
            AppAlgorithm::RsaSha1 => SignatureAlgorithm::RsaSha1,
        },
    }
}

/// The unsigned Response: AWS timing from `Response::for_sso`, fresh random
/// IDs, the session's sign-in time and end.
fn response_for(
    ctx: &Ctx<'_>,
    content: &AssertionContent,
    session: &Session,
    request: Option<&VerifiedAuthnRequest>,
) -> lanyard_core::Result<lanyard_saml::Response> {
    let id = || random_bytes::<16>().map(new_id);
    Ok(lanyard_saml::Response::for_sso(SsoParams {
        now: ctx.now,
        response_id: id()?,
        assertion_id: id()?,
        session_index: id()?,
        idp_entity_id: ctx.app.config.sso.idp_entity_id.clone(),
        acs_url: content.acs_url.clone(),
        audience: content.audience.clone(),
        name_id: NameId {
            value: content.name_id.clone(),
            format: content.name_id_format.clone(),
        },
        in_response_to: request.map(|r| r.id.clone()),
        authn_instant: session.created_at,
        session_not_on_or_after: Some(session.expires_at),
        attributes: content
            .attributes
            .iter()
            .map(|(name, values)| Attribute {
                name: name.clone(),
                name_format: Some(name_format(name).to_owned()),
                values: values.clone(),
            })
            .collect(),
    }))
}

/// URI names (AWS's `https://aws.amazon.com/SAML/Attributes/...`, `urn:oid:`)
/// say so; plain names are `basic`.
fn name_format(name: &str) -> &'static str {
    if name.contains(':') {
        lanyard_saml::ns::ATTRNAME_URI
    } else {
        lanyard_saml::ns::ATTRNAME_BASIC
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn attribute_name_formats() {
        assert_eq!(
            name_format("https://aws.amazon.com/SAML/Attributes/Role"),
            lanyard_saml::ns::ATTRNAME_URI
        );
        assert_eq!(name_format("memberOf"), lanyard_saml::ns::ATTRNAME_BASIC);
    }
}
