//! Issuing a SAML response, or refusing to: the single sign-on use-case
//! behind `/saml2/<slug>` (the door in `lanyard-web` reads the bindings
//! and renders the pages).
//!
//! One flow serves IdP-initiated sign-in and AuthnRequests of either
//! binding, in this order: the app by slug, with its grants and signing key
//! from the per-node cache ([`cache`]: one version check per request;
//! `UnknownApp` when unknown or deleted); whether the app accepts
//! AuthnRequests at all (`RequestsNotAccepted`: off for Amazon AWS IAM,
//! which never sends one); the AuthnRequest's checks
//! (`BadRequest` with the protocol error: signature with the SP's
//! certificates when the app requires signed requests or the request is
//! signed, Issuer = the SP entity ID, Destination = this IdP URL,
//! IssueInstant within [`REQUEST_MAX_AGE`] / [`REQUEST_CLOCK_SKEW`], the
//! requested ACS URL or index registered); its RelayState against the
//! app's allowlist (`RelayStateRefused`); `ForceAuthn` (the first sighting
//! of the request is remembered in the store; a session authenticated
//! before it gets `Reauthenticate`: the whole sign-in again, second factor
//! included); `IsPassive` (when the answer would need the user to sign in,
//! a signed `Responder`/`NoPassive` status goes back to the SP, whose
//! request passed its checks); the session (none: `SignIn`,
//! and the door sends the browser to sign in and back to the same request,
//! which is verified again then); the decision (`lanyard_core::sso::decide`,
//! `Denied` per denial); replay (the request ID is remembered in the store
//! only now, when a response is about to be issued, so the sign-in detour
//! does not burn it; a second use is `BadRequest`); signing ([`signer`]);
//! and the form that posts the response to the ACS (`Post`).
//!
//! Roles (AWS): when the user may assume several roles of an app whose
//! role chooser is on, and named none, the answer is `ChooseRole` (the
//! door shows Lanyard's chooser, and its form comes back here with the same
//! request and a role); a named role (`?role=` or the chooser) must be one
//! the user is granted (`role_not_granted` otherwise), and the response then
//! carries exactly that role, capped by its own session length, with its
//! deep link as the RelayState. The choice is remembered per user and app,
//! and listed first next time. The chooser comes before the replay memory,
//! so showing it does not burn an AuthnRequest's ID.
//!
//! Audit (batched): `sso.issued` for every response, `sso.denied` (with the
//! reason code) for every refusal of a signed-in user. A request that fails
//! its checks before anyone is signed in is only logged: it names nobody,
//! and anyone could otherwise fill the audit log from outside.
//!
//! Error Responses go to the SP only for a request that passed its checks
//! (today: `NoPassive`); every other refusal is a page, so an unverified
//! request cannot make Lanyard post anything anywhere. Not handled yet:
//! the requested `NameIDPolicy/@Format` (the app's configured format is
//! always used). An `AssertionConsumerServiceIndex` is the SP metadata's
//! `index` of an imported endpoint, else its position in the app's list.
//!
//! Timing follows AWS (shared/AWS_SAML.md section 2) through
//! `Response::for_sso`: IssueInstant = now, NotBefore = now - 60 s,
//! NotOnOrAfter = now + 5 min, all from the injected clock.

mod cache;
mod signer;

use std::sync::Arc;

use lanyard_core::application::Application;
use lanyard_core::apps::Entitlement;
use lanyard_core::apps::SignatureAlgorithm as AppAlgorithm;
use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
use lanyard_core::directory::User;
use lanyard_core::session::{token_hash, Session};
use lanyard_core::sso::{self, AppFacts, AssertionContent, Denial, RoleChoice};
use lanyard_core::Result;
use lanyard_saml::response::{new_id, Attribute, NameId, Outgoing, SsoParams};
use lanyard_saml::{
    AcsEndpoint, AlgorithmPolicy, Binding, Certificate, SignatureAlgorithm, SigningOptions,
    SpPolicy, UnverifiedAuthnRequest, VerifiedAuthnRequest, VerifyContext,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

pub(crate) use cache::AppCache;
use cache::SsoInputs;
pub(crate) use signer::Signer;
pub use signer::{INLINE_MAX_BITS, MAX_CACHED_KEYS};

use crate::apps::metadata::idp_url;
use crate::secrets::random_bytes;
use crate::sessions::{self, SignedIn};
use crate::{Client, Lanyard};

/// How old an AuthnRequest may be when it is answered. Longer than the
/// 5 minutes a response lives: the user may have to sign in (password and
/// TOTP) between the SP's redirect and the answer, and the same request is
/// verified again when they come back. Replays are refused by ID memory,
/// not by this window.
pub const REQUEST_MAX_AGE: Duration = Duration::minutes(10);
/// How far ahead of our clock an SP's IssueInstant may be (Shibboleth's
/// default skew).
pub const REQUEST_CLOCK_SKEW: Duration = Duration::minutes(3);

/// Longest protocol error text kept in an audit event (it may quote the
/// request).
const MAX_AUDITED_ERROR: usize = 300;

/// What arrived: nothing (IdP-initiated) or an AuthnRequest, read by the
/// door but not yet checked (a read error is kept, to be answered once the
/// app is known).
pub enum Intake {
    IdpInitiated,
    Request(lanyard_saml::Result<UnverifiedAuthnRequest>),
}

/// One SSO request as the door read it.
pub struct SsoRequest<'a> {
    pub slug: &'a str,
    pub intake: Intake,
    /// The browser's session token, if it sent one.
    pub session_token: Option<&'a str>,
    pub client: Client,
    /// The role the user picked (`<account id>:<role name>`, from the
    /// chooser's form or `?role=`), if any.
    pub role: Option<&'a str>,
}

/// Lanyard's role chooser for one sign-in: the user's roles grouped by
/// account, the last choice first.
#[derive(Debug)]
pub struct RoleChooser {
    pub label: String,
    /// The session's form token, for the chooser's form.
    pub csrf: String,
    pub accounts: Vec<ChooserAccount>,
    /// How many roles in all (the door adds a filter box above 10).
    pub roles: usize,
}

/// One account in the chooser: "production (1234 5678 9012)".
#[derive(Debug)]
pub struct ChooserAccount {
    pub heading: String,
    pub roles: Vec<ChooserRole>,
}

#[derive(Debug)]
pub struct ChooserRole {
    /// What the form sends back: `<account id>:<role name>`.
    pub choice: String,
    pub role_name: String,
    /// The user's last choice for this app.
    pub last: bool,
    /// The role's session cap in seconds, when the entitlement sets one.
    pub max_session_duration: Option<u32>,
}

/// An account number as AWS's console writes it: `1234 5678 9012`.
pub fn spaced_account(account_id: &str) -> String {
    let digits: Vec<char> = account_id.chars().collect();
    digits
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The chooser for `roles` (already in account and role order), with the
/// `last` chosen role (a Role value) and its account first.
fn chooser(label: &str, csrf: &str, roles: &[Entitlement], last: Option<&str>) -> RoleChooser {
    let mut accounts: Vec<(String, ChooserAccount)> = Vec::new();
    for e in roles {
        let heading = match &e.account_label {
            Some(l) => format!("{l} ({})", spaced_account(&e.account_id)),
            None => spaced_account(&e.account_id),
        };
        let role = ChooserRole {
            choice: RoleChoice::of(e).to_string(),
            role_name: e.role_name.clone(),
            last: last == Some(e.role_value().as_str()),
            max_session_duration: e.max_session_duration,
        };
        match accounts.iter_mut().find(|(h, _)| *h == heading) {
            Some((_, a)) => a.roles.push(role),
            None => accounts.push((
                heading.clone(),
                ChooserAccount {
                    heading,
                    roles: vec![role],
                },
            )),
        }
    }
    let mut accounts: Vec<ChooserAccount> = accounts.into_iter().map(|(_, a)| a).collect();
    for a in &mut accounts {
        // Stable: the last choice first, the rest in their order.
        a.roles.sort_by_key(|r| !r.last);
    }
    accounts.sort_by_key(|a| !a.roles.iter().any(|r| r.last));
    RoleChooser {
        label: label.to_owned(),
        csrf: csrf.to_owned(),
        accounts,
        roles: roles.len(),
    }
}

/// The response form: the door renders it as a page that posts to the ACS.
#[derive(Debug)]
pub struct SamlPost {
    pub label: String,
    pub acs_url: String,
    /// The signed `<Response>`, base64.
    pub saml_response: String,
    pub relay_state: Option<String>,
}

/// What the use-case answers.
#[derive(Debug)]
pub enum SsoOutcome {
    /// No app has this slug (any more).
    UnknownApp,
    /// The app does not accept AuthnRequests (an Amazon AWS IAM app: AWS
    /// never sends one); nothing was checked or answered to the SP.
    RequestsNotAccepted { label: String },
    /// The request's RelayState is not on the app's allowlist.
    RelayStateRefused { label: String },
    /// The request has `ForceAuthn`: the signed-in user must authenticate
    /// again (the whole sign-in, second factor included), then come back
    /// to the same request.
    Reauthenticate,
    /// The AuthnRequest broke a protocol rule (or was replayed).
    BadRequest {
        label: String,
        error: lanyard_saml::Error,
    },
    /// Nobody is signed in: sign in, then come back to the same request.
    SignIn,
    /// The signed-in user may not have a response from this app.
    Denied { label: String, denial: Denial },
    /// The user may assume several roles and named none: show the chooser,
    /// whose form comes back with the same request and a role.
    ChooseRole(RoleChooser),
    /// A signed response to post: an assertion, or (for a request that
    /// passed its checks) a status saying why there is none, e.g.
    /// `NoPassive`.
    Post(SamlPost),
}

/// The first step of the POST binding, before the same-site GET that
/// carries the cookie: the app's label for the error page, or `None` for an
/// unknown app.
pub async fn app_label(l: &Lanyard, slug: &str) -> Result<Option<String>> {
    let store = l.store();
    let version = store.app_sso_version(slug).await?;
    Ok(l.0
        .sso_apps
        .at(store, slug, version)
        .await?
        .map(|inputs| inputs.app.config.label.clone()))
}

/// Answers one SSO request (see the module docs for the order).
pub async fn respond(l: &Lanyard, request: SsoRequest<'_>) -> Result<SsoOutcome> {
    let store = l.store();
    // With a session cookie, the session, its user and groups, and the
    // app's version come in one statement; the app's inputs then usually
    // from the per-node cache.
    let (found, version) = match request.session_token.filter(|t| t.len() == 64) {
        Some(token) => {
            store
                .find_session_for_app(&token_hash(token), request.slug)
                .await?
        }
        None => (None, store.app_sso_version(request.slug).await?),
    };
    let who = sessions::resolve(l, found).await?;
    let request_role = request.role;
    let Some(inputs) = l.0.sso_apps.at(store, request.slug, version).await? else {
        return Ok(SsoOutcome::UnknownApp);
    };
    let ctx = Ctx {
        l,
        app: &inputs.app,
        inputs: &inputs,
        now: l.now(),
        client: request.client.source(),
    };
    let label = || inputs.app.config.label.clone();
    if matches!(request.intake, Intake::Request(_)) && !inputs.app.config.sso.accept_authn_requests
    {
        tracing::info!(app = %inputs.app.slug, "refused an AuthnRequest: the app accepts none");
        return Ok(SsoOutcome::RequestsNotAccepted { label: label() });
    }
    let verified = match request.intake {
        Intake::IdpInitiated => None,
        Intake::Request(read) => match read.and_then(|r| {
            let binding = r.binding();
            verify(&ctx, r).map(|v| (v, binding))
        }) {
            Ok(verified) => Some(verified),
            Err(error) => {
                tracing::info!(
                    app = %inputs.app.slug,
                    error = %error.to_string().escape_debug(),
                    "refused an AuthnRequest"
                );
                if who.is_none() {
                    l.metrics()
                        .sso(&inputs.app.slug, "denied", "invalid_request");
                }
                if let Some(who) = &who {
                    ctx.deny(
                        &who.user,
                        None,
                        "invalid_request",
                        json!({
                            "flow": "sp_initiated",
                            "error": error.to_string().chars().take(MAX_AUDITED_ERROR).collect::<String>(),
                        }),
                    );
                }
                return Ok(SsoOutcome::BadRequest {
                    label: label(),
                    error,
                });
            }
        },
    };
    let request = verified.as_ref().map(|(r, _)| r);
    if let Some(r) = request {
        if let Some(rs) = r.relay_state.as_deref() {
            if !inputs.app.config.sso.relay_state_allowed(rs) {
                tracing::info!(
                    app = %inputs.app.slug,
                    relay_state = ?rs,
                    "refused an AuthnRequest: RelayState not on the allowlist"
                );
                if let Some(who) = &who {
                    ctx.deny(&who.user, Some(&r.id), "relay_state_not_allowed", json!({}));
                }
                return Ok(SsoOutcome::RelayStateRefused { label: label() });
            }
        }
    }
    // ForceAuthn: the response waits for an authentication after the
    // request was first seen (remembered in the store, so every node
    // agrees, and a sign-in detour does not reset it).
    let forced_since = match request.filter(|r| r.force_authn) {
        Some(r) => Some(
            store
                .note_forced_authn(
                    inputs.app.id,
                    &r.id,
                    ctx.now,
                    r.issue_instant.max(ctx.now) + REQUEST_MAX_AGE + REQUEST_CLOCK_SKEW,
                )
                .await?,
        ),
        None => None,
    };
    let fresh_enough =
        |who: &SignedIn| forced_since.is_none_or(|since| who.session.authenticated_at > since);
    match (who, request) {
        (Some(who), _) if fresh_enough(&who) => {
            issue(
                &ctx,
                &who,
                verified.as_ref().map(|(r, b)| (r, *b)),
                request_role,
            )
            .await
        }
        // IsPassive: the SP asked that the user not be asked anything.
        (who, Some(r)) if r.is_passive => {
            if let Some(who) = &who {
                ctx.deny(&who.user, Some(&r.id), "no_passive", json!({}));
            }
            no_passive(&ctx, r).await
        }
        (Some(_), _) => Ok(SsoOutcome::Reauthenticate),
        (None, _) => Ok(SsoOutcome::SignIn),
    }
}

/// A `NoPassive` status (under `Responder`) to the request's registered
/// ACS: the request passed its checks, but answering it would mean asking
/// the user to authenticate, which `IsPassive` forbids.
async fn no_passive(ctx: &Ctx<'_>, request: &VerifiedAuthnRequest) -> Result<SsoOutcome> {
    let app = ctx.app;
    let response = lanyard_saml::StatusResponse {
        id: random_bytes::<16>().map(new_id)?,
        issue_instant: ctx.now,
        destination: request.acs_url.clone(),
        issuer: app.config.sso.idp_entity_id.clone(),
        in_response_to: request.id.clone(),
        status: lanyard_saml::ns::STATUS_RESPONDER.to_owned(),
        sub_status: Some(lanyard_saml::ns::STATUS_NO_PASSIVE.to_owned()),
        message: Some(
            "NoPassive: the user would have to sign in, and IsPassive forbids asking.".into(),
        ),
    };
    let (key, private_key) = (ctx.inputs.key.clone(), ctx.inputs.private_key.clone());
    let signed = ctx
        .l
        .0
        .signer
        .sign(
            key,
            private_key,
            Outgoing::Status(Box::new(response)),
            signing_options(app),
        )
        .await?;
    tracing::info!(
        app = %app.slug,
        request = ?request.id,
        "answered an IsPassive request with NoPassive"
    );
    Ok(SsoOutcome::Post(SamlPost {
        label: app.config.label.clone(),
        acs_url: request.acs_url.clone(),
        saml_response: signed.to_base64(),
        relay_state: request.relay_state.clone(),
    }))
}

/// One request's context, for the checks and the audit events.
struct Ctx<'a> {
    l: &'a Lanyard,
    app: &'a Application,
    /// The app's grants and signing key (`app` is `inputs.app`).
    inputs: &'a Arc<SsoInputs>,
    now: OffsetDateTime,
    client: Option<String>,
}

impl Ctx<'_> {
    fn record(&self, user: &User, action: AuditAction, summary: serde_json::Value) {
        self.l.audit().record(
            AuditEvent::new(
                self.now,
                &format!("user:{}", user.email),
                action,
                &AuditTarget::Application(self.app.id),
                summary.to_string(),
            )
            .from_source(self.client.clone()),
        );
    }

    fn deny(&self, user: &User, request: Option<&str>, reason: &str, detail: serde_json::Value) {
        self.l.metrics().sso(&self.app.slug, "denied", reason);
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
        self.record(user, AuditAction::SsoDenied, summary);
    }
}

fn flow_name(sp_initiated: bool) -> &'static str {
    if sp_initiated {
        "sp_initiated"
    } else {
        "idp_initiated"
    }
}

/// The AuthnRequest's checks against the app's settings.
fn verify(
    ctx: &Ctx<'_>,
    request: UnverifiedAuthnRequest,
) -> lanyard_saml::Result<VerifiedAuthnRequest> {
    let sso = &ctx.app.config.sso;
    let acs: Vec<AcsEndpoint> = sso
        .acs_indexed()
        .map(|(index, a)| AcsEndpoint {
            binding: lanyard_saml::ns::BINDING_POST.to_owned(),
            location: a.url.clone(),
            // The SP metadata's index when it was imported, else the
            // position in the app's list (what metadata we export says).
            index: Some(index),
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
                tracing::warn!(
                    app = %ctx.app.slug,
                    error = %e.to_string().escape_debug(),
                    "unusable SP certificate"
                );
                None
            }
        })
        .collect();
    let sso_url = idp_url(ctx.l.settings(), &ctx.app.slug);
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

/// Decides for the signed-in user and, if allowed, signs the response.
async fn issue(
    ctx: &Ctx<'_>,
    who: &SignedIn,
    sp_request: Option<(&VerifiedAuthnRequest, Binding)>,
    role: Option<&str>,
) -> Result<SsoOutcome> {
    let app = ctx.app;
    let request = sp_request.map(|(r, _)| r);
    let user = &who.user;
    let request_id = request.map(|r| r.id.as_str());
    let acs_url = match request {
        Some(r) => r.acs_url.clone(),
        None => app.config.sso.default_acs().unwrap_or_default().to_owned(),
    };
    let denied = |denial: Denial| {
        ctx.deny(user, request_id, denial.code(), denial_detail(&denial));
        Ok(SsoOutcome::Denied {
            label: app.config.label.clone(),
            denial,
        })
    };
    // A named role that is not even of the right shape is not granted.
    let chose = match role.map(|text| (text, RoleChoice::parse(text))) {
        Some((_, Some(choice))) => Some(choice),
        Some((text, None)) => {
            return denied(Denial::RoleNotGranted {
                role: text.chars().take(100).collect(),
            })
        }
        None => None,
    };
    let facts = AppFacts::new(app, &ctx.inputs.grants);
    let content = match sso::decide(&facts, user, &who.groups, &acs_url, chose.as_ref()) {
        Ok(content) => content,
        Err(denial) => return denied(denial),
    };
    let roles = sso::granted_roles(&facts, &who.groups);
    let chosen: Option<&Entitlement> = chose
        .as_ref()
        .and_then(|c| roles.iter().find(|e| c.picks(e)));
    if chose.is_none() && app.config.sso.role_chooser && roles.len() > 1 {
        let last = ctx.l.store().last_role_choice(user.id, app.id).await?;
        return Ok(SsoOutcome::ChooseRole(chooser(
            &app.config.label,
            &who.session.csrf_secret,
            &roles,
            last.as_deref(),
        )));
    }
    if let Some(r) = request {
        let fresh = ctx
            .l
            .store()
            .remember_request_id(
                app.id,
                &r.id,
                ctx.now,
                r.issue_instant.max(ctx.now) + REQUEST_MAX_AGE + REQUEST_CLOCK_SKEW,
            )
            .await?;
        if !fresh {
            ctx.deny(user, request_id, "replayed", json!({}));
            return Ok(SsoOutcome::BadRequest {
                label: app.config.label.clone(),
                error: lanyard_saml::Error::Replayed(r.id.clone()),
            });
        }
    }
    let (key, private_key) = (ctx.inputs.key.clone(), ctx.inputs.private_key.clone());
    let key_id = key.id;
    let response = response_for(ctx, &content, &who.session, request)?;
    let response_id = response.id.clone();
    let signed = ctx
        .l
        .0
        .signer
        .sign(
            key,
            private_key,
            Outgoing::Assertion(Box::new(response)),
            signing_options(app),
        )
        .await?;
    // The SP's own RelayState wins; else the chosen role's deep link, else
    // the app's default.
    let deep_link = chosen.and_then(Entitlement::relay_state);
    let relay_state = match request {
        Some(r) => r.relay_state.clone().or(deep_link),
        None => deep_link.or_else(|| app.config.sso.default_relay_state.clone()),
    };
    if let Some(e) = chosen {
        ctx.l
            .store()
            .remember_role_choice(user.id, app.id, &e.role_value(), ctx.now)
            .await?;
    }
    ctx.l.metrics().sso(&app.slug, "issued", "ok");
    ctx.record(
        user,
        AuditAction::SsoIssued,
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
            "role": chosen.map(Entitlement::role_value),
        }),
    );
    Ok(SsoOutcome::Post(SamlPost {
        label: app.config.label.clone(),
        acs_url: content.acs_url,
        saml_response: signed.to_base64(),
        relay_state,
    }))
}

/// What a `sso.denied` event says besides the reason code.
fn denial_detail(denial: &Denial) -> serde_json::Value {
    match denial {
        Denial::Placeholders { fields } => json!({ "fields": fields }),
        Denial::NoNameId { source } => json!({ "name_id_source": source }),
        Denial::BreaksRules { violations, .. } => json!({ "violations": violations }),
        Denial::RoleNotGranted { role } => json!({ "role": role }),
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
) -> Result<lanyard_saml::Response> {
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
        authn_instant: session.authenticated_at,
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

    fn ent(account: &str, label: Option<&str>, role: &str) -> Entitlement {
        Entitlement {
            account_id: account.into(),
            role_name: role.into(),
            provider_name: "Lanyard".into(),
            account_label: label.map(str::to_owned),
            max_session_duration: None,
            deep_link: None,
        }
    }

    #[test]
    fn the_chooser_groups_by_account_and_puts_the_last_choice_first() {
        let roles = [
            ent("123456789012", Some("production"), "Admin"),
            ent("123456789012", Some("production"), "ReadOnly"),
            ent("210987654321", Some("staging"), "Admin"),
        ];
        let c = chooser("AWS", "t", &roles, None);
        let shape: Vec<(&str, Vec<&str>)> = c
            .accounts
            .iter()
            .map(|a| {
                (
                    a.heading.as_str(),
                    a.roles.iter().map(|r| r.role_name.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("production (1234 5678 9012)", vec!["Admin", "ReadOnly"]),
                ("staging (2109 8765 4321)", vec!["Admin"]),
            ]
        );
        assert_eq!(c.roles, 3);
        assert_eq!(c.accounts[0].roles[1].choice, "123456789012:ReadOnly");

        let last = roles[1].role_value();
        let staging_last = roles[2].role_value();
        let c = chooser("AWS", "t", &roles, Some(&last));
        assert_eq!(c.accounts[0].roles[0].role_name, "ReadOnly");
        assert!(c.accounts[0].roles[0].last);
        let c = chooser("AWS", "t", &roles, Some(&staging_last));
        assert_eq!(c.accounts[0].heading, "staging (2109 8765 4321)");
        assert_eq!(spaced_account("123456789012"), "1234 5678 9012");
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
