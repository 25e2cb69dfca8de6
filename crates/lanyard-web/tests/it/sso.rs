//! `/saml2/<slug>` end to end through the router, on every backend:
//! IdP-initiated and SP-initiated (Redirect and POST bindings, signed and
//! unsigned) single sign-on, each response checked by the strict SP-side
//! verifier; the sign-in detour; the cross-site POST; every denial page
//! and its audit event; bad, forged, expired and replayed requests; key
//! rotation.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use base64::Engine as _;
use lanyard_core::store::AppStore;
use lanyard_core::AppId;
use lanyard_saml::binding::{decode_base64, deflate, percent_decode, percent_encode};
use lanyard_saml::dsig::sign_root;
use lanyard_saml::sp::{verify_response, Expectations, VerifiedResponse};
use lanyard_saml::{AlgorithmPolicy, Certificate, SignatureAlgorithm, SigningKey};
use serde_json::{json, Value};
use time::Duration;

use crate::common::{Resp, TestApp};

pub(crate) const BASE: &str = "http://127.0.0.1:8080";
const AWS_ACS: &str = "https://signin.aws.amazon.com/saml";
const AWS: &str = "urn:amazon:webservices";
pub(crate) const ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
const SP_METADATA: &str = include_str!("../../../lanyard-saml/test_vectors/metadata/sp-ok.xml");
const SP_KEY: &str = include_str!("../../../lanyard-saml/test_vectors/sp-test-only.key.pem");
const SP_CERT: &str = include_str!("../../../lanyard-saml/test_vectors/sp-test-only.crt.pem");
/// What `sp-ok.xml` says about its SP.
pub(crate) const SP_ENTITY: &str = "https://sp.example";
const SP_ACS: &str = "https://sp.example/acs";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// A RelayState that needs escaping in a URL and in HTML.
const RELAY: &str = "https://sp.example/after?x=1&y=two words&q=\"quoted\"<tag>";

pub(crate) fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

pub(crate) fn sp_key() -> SigningKey {
    SigningKey::from_pem(SP_KEY, SP_CERT).unwrap()
}

/// A key the SP's metadata does not name (a forger's).
fn other_key() -> &'static SigningKey {
    static K: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    K.get_or_init(|| {
        SigningKey::generate(&lanyard_saml::CertificateRequest {
            common_name: "forger".into(),
            bits: lanyard_saml::RsaBits::B2048,
            not_before: time::macros::datetime!(2025-01-01 00:00:00 UTC),
            not_after: time::macros::datetime!(2030-01-01 00:00:00 UTC),
            serial: [7; 16],
        })
        .unwrap()
    })
}

/// An AWS app `slug` (made in the store), a group bound to it with one
/// entitlement, and alice in the group, signed in.
pub(crate) struct Aws {
    pub app_id: i64,
    /// The app's second, inactive key.
    pub next_key: i64,
    pub group: i64,
    pub alice: i64,
    /// alice's session cookie value.
    pub session: String,
}

pub(crate) async fn aws_setup(app: &TestApp, slug: &str) -> Aws {
    let (app_id, next_key) = app.store_app(slug).await;
    let group = id(&app.create_group(&format!("{slug}-users")).await);
    let alice = id(&app
        .create_user(
            &format!("alice@{slug}.example.com"),
            &format!("alice-{slug}"),
        )
        .await);
    member(app, group, alice).await;
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{app_id}/groups/{group}"),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{app_id}/entitlements"),
        Some(json!([{"group_id": group, "account_id": "123456789012", "role_name": "Admin", "provider_name": "Lanyard"}])),
    )
    .await
    .expect(StatusCode::OK);
    let session = app.session_for(alice).await;
    Aws {
        app_id,
        next_key,
        group,
        alice,
        session,
    }
}

pub(crate) async fn member(app: &TestApp, group: i64, user: i64) {
    app.admin(
        "PUT",
        &format!("/api/v1/groups/{group}/members/{user}"),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
}

pub(crate) async fn patch_sso(app: &TestApp, app_id: i64, sso: Value) {
    app.admin(
        "PATCH",
        &format!("/api/v1/applications/{app_id}"),
        Some(json!({ "sso": sso })),
    )
    .await
    .expect(StatusCode::OK);
}

/// The app's active certificate, from the API.
pub(crate) async fn active_cert(app: &TestApp, app_id: i64) -> Certificate {
    let keys = app
        .get(&format!("/api/v1/applications/{app_id}/keys"))
        .await
        .expect(StatusCode::OK);
    let active = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["active"] == true)
        .unwrap();
    Certificate::from_pem(active["certificate_pem"].as_str().unwrap()).unwrap()
}

/// Decodes the HTML character references askama writes.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').unwrap() + i;
        let entity = &rest[i + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") || e.starts_with("#X") => {
                char::from_u32(u32::from_str_radix(&e[2..], 16).unwrap()).unwrap()
            }
            e if e.starts_with('#') => char::from_u32(e[1..].parse().unwrap()).unwrap(),
            e => panic!("unknown entity &{e};"),
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in the tag text `tag`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[at..].find('"')?;
    Some(unescape(&tag[at..at + len]))
}

/// The SAML form page: its action and named inputs, after checking its
/// shape (every input named, a visible button, the script by URL only).
pub(crate) struct Form {
    pub action: String,
    pub fields: BTreeMap<String, String>,
}

pub(crate) fn form_of(r: &Resp) -> Form {
    let html = r.text();
    assert_eq!(r.status, StatusCode::OK, "{html}");
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let start = html.find("<form id=\"saml-post\"").expect("the form");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    assert_eq!(attr(tag, "method").as_deref(), Some("post"));
    let action = attr(tag, "action").unwrap();
    let mut fields = BTreeMap::new();
    for (i, _) in html.match_indices("<input") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        let name = attr(tag, "name").unwrap_or_else(|| panic!("an input without a name: {tag}"));
        fields.insert(name, attr(tag, "value").unwrap_or_default());
    }
    assert!(
        html.contains("<button type=\"submit\">Continue</button>"),
        "{html}"
    );
    for (i, _) in html.match_indices("<script") {
        assert!(
            html[i..].starts_with("<script src=\"/static/autosubmit.js\"></script>"),
            "inline script: {html}"
        );
    }
    Form { action, fields }
}

/// Checks a response like a strict SP would.
pub(crate) fn verify(
    app: &TestApp,
    form: &Form,
    idp: &str,
    cert: &Certificate,
    audience: &str,
    in_response_to: Option<&str>,
    algorithms: AlgorithmPolicy,
) -> Result<VerifiedResponse, lanyard_saml::Error> {
    let xml = decode_base64("SAMLResponse", &form.fields["SAMLResponse"], 1 << 20).unwrap();
    verify_response(
        std::str::from_utf8(&xml).unwrap(),
        &Expectations {
            idp_entity_id: idp,
            certificates: std::slice::from_ref(cert),
            audience,
            acs_url: &form.action,
            in_response_to,
            now: app.clock_now(),
            clock_skew: Duration::seconds(60),
            max_age: Duration::minutes(5),
            algorithms,
        },
    )
}

pub(crate) fn response_xml(form: &Form) -> String {
    String::from_utf8(decode_base64("SAMLResponse", &form.fields["SAMLResponse"], 1 << 20).unwrap())
        .unwrap()
}

/// A refusal page: HTML, the status, and no response anywhere in it.
pub(crate) fn refused(r: &Resp, status: StatusCode, says: &str) {
    let html = r.text();
    assert_eq!(r.status, status, "{html}");
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(!html.contains("SAMLResponse"), "{html}");
    assert!(!html.contains("saml-post"), "{html}");
    assert!(r.headers.get("location").is_none(), "{:?}", r.headers);
    assert!(html.contains(says), "expected {says:?} in {html}");
}

pub(crate) async fn events(app: &TestApp, action: &str) -> Vec<Value> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| {
            let mut v: Value = serde_json::from_str(&e.summary).unwrap();
            v["_actor"] = json!(e.actor);
            v["_target"] = json!(e.target);
            v["_source"] = json!(e.source);
            v
        })
        .collect()
}

pub(crate) fn authn_request(
    app: &TestApp,
    id: &str,
    slug: &str,
    issuer: &str,
    extra: &str,
) -> String {
    authn_request_at(
        id,
        slug,
        issuer,
        extra,
        app.clock_now() - Duration::seconds(20),
    )
}

fn authn_request_at(
    id: &str,
    slug: &str,
    issuer: &str,
    extra: &str,
    at: time::OffsetDateTime,
) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{}" Destination="{BASE}/saml2/{slug}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" {extra}><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/></samlp:AuthnRequest>"#,
        lanyard_saml::instant::format(at)
    )
}

/// An HTTP-Redirect query string, signed over its raw bytes when `key` is given.
pub(crate) fn redirect_query(xml: &str, relay: Option<&str>, key: Option<&SigningKey>) -> String {
    let mut q = format!(
        "SAMLRequest={}",
        percent_encode(&B64.encode(deflate(xml.as_bytes())))
    );
    if let Some(r) = relay {
        q.push_str(&format!("&RelayState={}", percent_encode(r)));
    }
    if let Some(k) = key {
        let alg = SignatureAlgorithm::RsaSha256;
        q.push_str(&format!("&SigAlg={}", percent_encode(alg.uri())));
        let sig = k.sign(alg, q.as_bytes()).unwrap();
        q.push_str(&format!("&Signature={}", percent_encode(&B64.encode(sig))));
    }
    q
}

fn post_form(xml: &str, relay: Option<&str>) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    f.append_pair("SAMLRequest", &B64.encode(xml));
    if let Some(r) = relay {
        f.append_pair("RelayState", r);
    }
    f.finish()
}

/// A custom SAML app from `sp-ok.xml` (signed requests required), bound
/// to a group holding alice; returns (app id, alice's session).
pub(crate) async fn custom_setup(app: &TestApp, slug: &str) -> (i64, String) {
    let a = app
        .admin(
            "POST",
            "/api/v1/applications",
            Some(json!({"template": "custom-saml", "label": "Wiki", "slug": slug, "sp_metadata": SP_METADATA})),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(a["sso"]["require_signed_requests"], true, "{a}");
    assert_eq!(a["sso_active"], true, "{a}");
    let g = id(&app.create_group(&format!("{slug}-users")).await);
    let alice = id(&app
        .create_user(
            &format!("alice@{slug}.example.com"),
            &format!("alice-{slug}"),
        )
        .await);
    member(app, g, alice).await;
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{}/groups/{g}", id(&a)),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    (id(&a), app.session_for(alice).await)
}

/// The `next` target of a 303 to the sign-in page.
fn login_next(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let loc = r.headers["location"].to_str().unwrap();
    let next = loc
        .strip_prefix("/login?next=")
        .unwrap_or_else(|| panic!("{loc}"));
    percent_decode(next).unwrap()
}

web_test!(idp_initiated_posts_a_verified_aws_response, |app| {
    let s = aws_setup(&app, "aws").await;
    let r = app.visit("GET", "/saml2/aws", Some(&s.session), None).await;
    let form = form_of(&r);
    assert_eq!(form.action, AWS_ACS);
    assert_eq!(
        form.fields.keys().collect::<Vec<_>>(),
        vec!["SAMLResponse"],
        "no RelayState unless configured"
    );
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action https://signin.aws.amazon.com https:;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(r.headers["cache-control"], "no-store");

    let cert = active_cert(&app, s.app_id).await;
    let idp = format!("{BASE}/saml2/aws");
    let v = verify(
        &app,
        &form,
        &idp,
        &cert,
        AWS,
        None,
        AlgorithmPolicy::default(),
    )
    .unwrap();
    assert_eq!(v.name_id, "alice@aws.example.com");
    assert_eq!(
        v.attributes[ROLE],
        vec![
            "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard"
        ]
    );
    assert_eq!(
        v.attributes["https://aws.amazon.com/SAML/Attributes/RoleSessionName"],
        vec!["alice@aws.example.com"]
    );
    assert_eq!(
        v.attributes["https://aws.amazon.com/SAML/Attributes/SessionDuration"],
        vec!["3600"]
    );
    assert!(v.assertion_signed && !v.response_signed);
    // AWS timing from the pinned clock.
    let now = app.clock_now();
    assert_eq!(v.not_on_or_after, now + Duration::minutes(5));
    let xml = response_xml(&form);
    let t = |d: Duration| lanyard_saml::instant::format(now + d);
    assert!(
        xml.contains(&format!("IssueInstant=\"{}\"", t(Duration::ZERO))),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("NotBefore=\"{}\"", t(Duration::seconds(-60)))),
        "{xml}"
    );
    assert!(!xml.contains("InResponseTo"), "{xml}");
    // Five minutes and one second later, a strict SP refuses it.
    app.clock.advance(Duration::seconds(301));
    assert!(verify(
        &app,
        &form,
        &idp,
        &cert,
        AWS,
        None,
        AlgorithmPolicy::default()
    )
    .is_err());
    app.clock.advance(Duration::seconds(-301));

    let issued = events(&app, "sso.issued").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["flow"], "idp_initiated");
    assert_eq!(issued[0]["user"], s.alice);
    assert_eq!(issued[0]["app"], "aws");
    assert_eq!(issued[0]["request_id"], Value::Null);
    assert_eq!(issued[0]["_actor"], "user:alice@aws.example.com");
    assert_eq!(issued[0]["_target"], format!("application:{}", s.app_id));
    assert_eq!(issued[0]["_source"], "192.0.2.7");

    // The default RelayState goes along, unchanged.
    let relay =
        "https://console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:sort=desc&x=\"y\"";
    patch_sso(&app, s.app_id, json!({"default_relay_state": relay})).await;
    let form = form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    assert_eq!(form.fields["RelayState"], relay);

    // Both signed, RSA-SHA1: as configured, and only a verifier that
    // allows SHA-1 accepts it.
    patch_sso(
        &app,
        s.app_id,
        json!({"sign_response": true, "algorithm": "rsa_sha1"}),
    )
    .await;
    let form = form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    let legacy = AlgorithmPolicy { allow_sha1: true };
    let v = verify(&app, &form, &idp, &cert, AWS, None, legacy).unwrap();
    assert!(v.assertion_signed && v.response_signed);
    assert!(verify(
        &app,
        &form,
        &idp,
        &cert,
        AWS,
        None,
        AlgorithmPolicy::default()
    )
    .is_err());
    app.shutdown().await;
});

web_test!(not_signed_in_goes_to_sign_in_and_back, |app| {
    let s = aws_setup(&app, "aws").await;
    let r = app.visit("GET", "/saml2/aws", None, None).await;
    assert_eq!(login_next(&r), "/saml2/aws");
    assert!(!r.text().contains("SAMLResponse"));
    // An unknown cookie is no session either.
    let r = app
        .visit("GET", "/saml2/aws", Some(&"0".repeat(64)), None)
        .await;
    assert_eq!(login_next(&r), "/saml2/aws");
    form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    app.shutdown().await;
});

web_test!(sp_initiated_redirect_binding_signed_request, |app| {
    let (app_id, session) = custom_setup(&app, "wiki").await;
    let key = sp_key();
    let xml = authn_request(
        &app,
        "_req-redirect-1",
        "wiki",
        SP_ENTITY,
        &format!(r#"AssertionConsumerServiceURL="{SP_ACS}""#),
    );
    let path = format!(
        "/saml2/wiki?{}",
        redirect_query(&xml, Some(RELAY), Some(&key))
    );

    // Not signed in: to the sign-in page, which comes back to exactly
    // this request (and the detour does not use up its ID).
    let next = login_next(&app.visit("GET", &path, None, None).await);
    assert_eq!(next, path);
    let r = app.visit("GET", &next, Some(&session), None).await;
    let form = form_of(&r);
    assert_eq!(form.action, SP_ACS);
    assert_eq!(form.fields["RelayState"], RELAY, "returned unchanged");
    assert!(r.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("form-action https://sp.example https:;"));
    let cert = active_cert(&app, app_id).await;
    let idp = format!("{BASE}/saml2/wiki");
    let v = verify(
        &app,
        &form,
        &idp,
        &cert,
        SP_ENTITY,
        Some("_req-redirect-1"),
        AlgorithmPolicy::default(),
    )
    .unwrap();
    assert!(
        v.assertion_signed && v.response_signed,
        "custom-saml signs both"
    );
    assert!(response_xml(&form).contains("InResponseTo=\"_req-redirect-1\""));
    let issued = events(&app, "sso.issued").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["flow"], "sp_initiated");
    assert_eq!(issued[0]["binding"], "redirect");
    assert_eq!(issued[0]["request_id"], "_req-redirect-1");

    // The same request again: a replay.
    let r = app.visit("GET", &path, Some(&session), None).await;
    refused(&r, StatusCode::BAD_REQUEST, "was already used (replay)");
    let denied = events(&app, "sso.denied").await;
    assert_eq!(denied.last().unwrap()["reason"], "replayed");
    assert_eq!(denied.last().unwrap()["request_id"], "_req-redirect-1");

    // The app requires signed requests.
    let xml = authn_request(&app, "_req-unsigned", "wiki", SP_ENTITY, "");
    let r = app
        .visit(
            "GET",
            &format!("/saml2/wiki?{}", redirect_query(&xml, None, None)),
            Some(&session),
            None,
        )
        .await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "the message is not signed, but a signature is required",
    );
    assert_eq!(
        events(&app, "sso.denied").await.last().unwrap()["reason"],
        "invalid_request"
    );

    // Forged: RelayState changed after signing; signed by another key.
    let xml = authn_request(&app, "_req-forged", "wiki", SP_ENTITY, "");
    let q = redirect_query(&xml, Some("a"), Some(&key)).replace("RelayState=a", "RelayState=b");
    let r = app
        .visit("GET", &format!("/saml2/wiki?{q}"), Some(&session), None)
        .await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "signature value does not verify",
    );
    let q = redirect_query(&xml, None, Some(other_key()));
    let r = app
        .visit("GET", &format!("/saml2/wiki?{q}"), Some(&session), None)
        .await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "signature value does not verify",
    );
    let forged_post = sign_root(&xml, other_key(), SignatureAlgorithm::RsaSha256).unwrap();
    let r = app
        .visit(
            "POST",
            "/saml2/wiki",
            None,
            Some(post_form(&forged_post, None)),
        )
        .await;
    let loc = r.headers["location"].to_str().unwrap().to_owned();
    refused(
        &app.visit("GET", &loc, Some(&session), None).await,
        StatusCode::BAD_REQUEST,
        "signature value does not verify",
    );

    // Expired, from the future, wrong issuer, wrong destination: each
    // refused by its rule, signed in or not.
    let cases = [
        (
            authn_request_at(
                "_old",
                "wiki",
                SP_ENTITY,
                "",
                app.clock_now() - Duration::minutes(11),
            ),
            "s old",
        ),
        (
            authn_request_at(
                "_future",
                "wiki",
                SP_ENTITY,
                "",
                app.clock_now() + Duration::minutes(4),
            ),
            "in the future",
        ),
        (
            authn_request(&app, "_issuer", "wiki", "https://evil.example", ""),
            "is not the expected SP entity ID",
        ),
        (
            authn_request(&app, "_dest", "other", SP_ENTITY, ""),
            "is not an SSO URL of this IdP",
        ),
    ];
    for (xml, says) in cases {
        let path = format!("/saml2/wiki?{}", redirect_query(&xml, None, Some(&key)));
        refused(
            &app.visit("GET", &path, None, None).await,
            StatusCode::BAD_REQUEST,
            says,
        );
        refused(
            &app.visit("GET", &path, Some(&session), None).await,
            StatusCode::BAD_REQUEST,
            says,
        );
    }

    // An unregistered ACS URL gets an error page: no redirect, no form.
    let xml = authn_request(
        &app,
        "_evil-acs",
        "wiki",
        SP_ENTITY,
        r#"AssertionConsumerServiceURL="https://evil.example/acs""#,
    );
    let path = format!(
        "/saml2/wiki?{}",
        redirect_query(&xml, Some(RELAY), Some(&key))
    );
    let r = app.visit("GET", &path, Some(&session), None).await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "is not a registered ACS URL of this application",
    );
    let xml = authn_request(
        &app,
        "_evil-index",
        "wiki",
        SP_ENTITY,
        r#"AssertionConsumerServiceIndex="7""#,
    );
    let path = format!("/saml2/wiki?{}", redirect_query(&xml, None, Some(&key)));
    refused(
        &app.visit("GET", &path, Some(&session), None).await,
        StatusCode::BAD_REQUEST,
        "is not a registered ACS index",
    );
    // Garbage: an HTML page too, never JSON.
    refused(
        &app.visit("GET", "/saml2/wiki?SAMLRequest=%21%21", None, None)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid base64",
    );

    assert_eq!(events(&app, "sso.issued").await.len(), 1);
    let _ = app_id;
    app.shutdown().await;
});

web_test!(
    sp_initiated_post_binding_survives_a_cross_site_post,
    |app| {
        let (app_id, session) = custom_setup(&app, "wiki").await;
        let xml = sign_root(
            &authn_request(&app, "_req-post-1", "wiki", SP_ENTITY, ""),
            &sp_key(),
            SignatureAlgorithm::RsaSha256,
        )
        .unwrap();

        // The SP's page posts cross-site: no cookie arrives. The answer is a
        // 303 to a same-site GET carrying the message.
        let r = app
            .visit(
                "POST",
                "/saml2/wiki",
                None,
                Some(post_form(&xml, Some(RELAY))),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let resumed = r.headers["location"].to_str().unwrap().to_owned();
        assert!(
            resumed.starts_with("/saml2/wiki/post?SAMLRequest="),
            "{resumed}"
        );
        assert!(!r.text().contains("SAMLResponse"));
        // Compact: a signed request with its certificate, even wrapped into
        // the sign-in page's `next=`, fits an 8 KiB proxy request line.
        assert!(resumed.len() < B64.encode(&xml).len(), "{}", resumed.len());
        let to_login = app.visit("GET", &resumed, None, None).await;
        let login_url = to_login.headers["location"].to_str().unwrap();
        assert!(login_url.len() < 8 * 1024, "{}", login_url.len());

        // Still no session on that GET: sign in, then back to it.
        let next = login_next(&app.visit("GET", &resumed, None, None).await);
        assert_eq!(next, resumed);
        // The browser follows the 303 with its SameSite=Lax cookie.
        let form = form_of(&app.visit("GET", &resumed, Some(&session), None).await);
        assert_eq!(form.action, SP_ACS, "the SP's default ACS");
        assert_eq!(form.fields["RelayState"], RELAY);
        let cert = active_cert(&app, app_id).await;
        verify(
            &app,
            &form,
            &format!("{BASE}/saml2/wiki"),
            &cert,
            SP_ENTITY,
            Some("_req-post-1"),
            AlgorithmPolicy::default(),
        )
        .unwrap();
        let issued = events(&app, "sso.issued").await;
        assert_eq!(issued[0]["binding"], "post");
        assert_eq!(issued[0]["request_id"], "_req-post-1");

        // A same-site POST with the cookie takes the same way.
        let xml2 = sign_root(
            &authn_request(&app, "_req-post-2", "wiki", SP_ENTITY, ""),
            &sp_key(),
            SignatureAlgorithm::RsaSha256,
        )
        .unwrap();
        let r = app
            .visit(
                "POST",
                "/saml2/wiki",
                Some(&session),
                Some(post_form(&xml2, None)),
            )
            .await;
        let loc = r.headers["location"].to_str().unwrap().to_owned();
        let form = form_of(&app.visit("GET", &loc, Some(&session), None).await);
        assert!(!form.fields.contains_key("RelayState"));

        // Replayed, tampered, unsigned, and malformed POSTs.
        refused(
            &app.visit("GET", &resumed, Some(&session), None).await,
            StatusCode::BAD_REQUEST,
            "already used (replay)",
        );
        let tampered = resumed.replacen("SAMLRequest=", "SAMLRequest=A", 1);
        let r = app.visit("GET", &tampered, Some(&session), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(!r.text().contains("SAMLResponse"));
        let unsigned = authn_request(&app, "_req-post-unsigned", "wiki", SP_ENTITY, "");
        let r = app
            .visit(
                "POST",
                "/saml2/wiki",
                None,
                Some(post_form(&unsigned, None)),
            )
            .await;
        let loc = r.headers["location"].to_str().unwrap().to_owned();
        refused(
            &app.visit("GET", &loc, Some(&session), None).await,
            StatusCode::BAD_REQUEST,
            "not signed",
        );
        refused(
            &app.visit("POST", "/saml2/wiki", None, Some("RelayState=x".into()))
                .await,
            StatusCode::BAD_REQUEST,
            "SAMLRequest is missing",
        );
        refused(
            &app.visit(
                "POST",
                "/saml2/wiki",
                None,
                Some("SAMLRequest=a&SAMLRequest=b".into()),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "more than once",
        );
        refused(
            &app.visit("POST", "/saml2/wiki", None, Some("SAMLRequest=%%%".into()))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid base64",
        );
        let long = post_form(&xml, Some(&"r".repeat(5000)));
        refused(
            &app.visit("POST", "/saml2/wiki", None, Some(long)).await,
            StatusCode::BAD_REQUEST,
            "RelayState is 5000 bytes",
        );
        refused(
            &app.visit("GET", "/saml2/wiki/post?RelayState=x", Some(&session), None)
                .await,
            StatusCode::BAD_REQUEST,
            "SAMLRequest is missing",
        );
        // An unknown app, on every route.
        for (m, p) in [
            ("POST", "/saml2/nope"),
            ("GET", "/saml2/nope/post?SAMLRequest=x"),
        ] {
            let body = (m == "POST").then(|| post_form(&xml, None));
            refused(
                &app.visit(m, p, Some(&session), body).await,
                StatusCode::NOT_FOUND,
                "Application not found",
            );
        }
        app.shutdown().await;
    }
);

web_test!(unsigned_requests_choose_among_registered_acs_urls, |app| {
    let s = aws_setup(&app, "aws").await;
    let stand_in = "http://127.0.0.1:9000/aws/saml";
    patch_sso(
        &app,
        s.app_id,
        json!({
            "acs_urls": [{"url": AWS_ACS, "is_default": true}, {"url": stand_in, "is_default": false}],
            // An AWS IAM app takes no requests unless told to (AWS sends
            // none): this test is about ACS choice, so it is told to.
            "accept_authn_requests": true,
        }),
    )
    .await;
    let cert = active_cert(&app, s.app_id).await;
    let idp = format!("{BASE}/saml2/aws");
    let send = |id: &'static str, extra: String| {
        let xml = authn_request(&app, id, "aws", AWS, &extra);
        format!("/saml2/aws?{}", redirect_query(&xml, None, None))
    };

    let path = send(
        "_to-stand-in",
        format!(r#"AssertionConsumerServiceURL="{stand_in}""#),
    );
    let r = app.visit("GET", &path, Some(&s.session), None).await;
    let form = form_of(&r);
    assert_eq!(form.action, stand_in);
    assert!(r.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("form-action http://127.0.0.1:9000 https:;"));
    verify(
        &app,
        &form,
        &idp,
        &cert,
        AWS,
        Some("_to-stand-in"),
        AlgorithmPolicy::default(),
    )
    .unwrap();

    let path = send("_by-index", r#"AssertionConsumerServiceIndex="1""#.into());
    let form = form_of(&app.visit("GET", &path, Some(&s.session), None).await);
    assert_eq!(form.action, stand_in);
    let path = send("_default", String::new());
    let form = form_of(&app.visit("GET", &path, Some(&s.session), None).await);
    assert_eq!(form.action, AWS_ACS);
    assert!(
        !form.fields.contains_key("RelayState"),
        "SP-initiated: only the request's RelayState"
    );

    let path = send(
        "_unregistered",
        r#"AssertionConsumerServiceURL="http://127.0.0.1:9999/aws/saml""#.into(),
    );
    refused(
        &app.visit("GET", &path, Some(&s.session), None).await,
        StatusCode::BAD_REQUEST,
        "is not a registered ACS URL",
    );
    let _ = (s.group, s.next_key);
    app.shutdown().await;
});

web_test!(denials_get_their_pages_and_audit_events, |app| {
    let s = aws_setup(&app, "aws").await;
    let reason = |events: &[Value]| {
        events.last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // Not in a bound group.
    let bob = id(&app.create_user("bob@example.com", "bob").await);
    let bob_session = app.session_for(bob).await;
    let r = app
        .visit("GET", "/saml2/aws", Some(&bob_session), None)
        .await;
    refused(
        &r,
        StatusCode::FORBIDDEN,
        "You are not authorized to use aws",
    );
    let denied = events(&app, "sso.denied").await;
    assert_eq!(reason(&denied), "not_authorized");
    assert_eq!(denied.last().unwrap()["_actor"], "user:bob@example.com");
    assert_eq!(denied.last().unwrap()["flow"], "idp_initiated");

    // In a bound group without a role: AWS would refuse, so we do, naming the rule.
    let carol = id(&app.create_user("carol@example.com", "carol").await);
    let g2 = id(&app.create_group("aws-no-role").await);
    member(&app, g2, carol).await;
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{}/groups/{g2}", s.app_id),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let carol_session = app.session_for(carol).await;
    let r = app
        .visit("GET", "/saml2/aws", Some(&carol_session), None)
        .await;
    refused(&r, StatusCode::FORBIDDEN, "[aws.role.required]");
    let denied = events(&app, "sso.denied").await;
    assert_eq!(reason(&denied), "breaks_aws_rules");
    assert_eq!(
        denied.last().unwrap()["violations"][0]["rule"],
        "aws.role.required"
    );
    // A user attribute that makes RoleSessionName invalid: that rule too.
    app.admin(
        "PATCH",
        &format!("/api/v1/applications/{}", s.app_id),
        Some(json!({"attributes": [
            {"name": "https://aws.amazon.com/SAML/Attributes/SessionDuration", "source": {"kind": "constant", "value": "3600"}},
            {"name": "https://aws.amazon.com/SAML/Attributes/RoleSessionName", "source": {"kind": "user_attribute", "value": "session_name"}}
        ]})),
    )
    .await
    .expect(StatusCode::OK);
    app.admin(
        "PUT",
        &format!("/api/v1/users/{}/attributes", s.alice),
        Some(json!({"session_name": ["has spaces!"]})),
    )
    .await
    .expect(StatusCode::OK);
    let r = app.visit("GET", "/saml2/aws", Some(&s.session), None).await;
    refused(&r, StatusCode::FORBIDDEN, "[aws.role_session_name.pattern]");
    assert_eq!(
        reason(&events(&app, "sso.denied").await),
        "breaks_aws_rules"
    );
    app.admin(
        "PUT",
        &format!("/api/v1/users/{}/attributes", s.alice),
        Some(json!({"session_name": ["alice"]})),
    )
    .await
    .expect(StatusCode::OK);
    form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);

    // SSO deactivated.
    app.admin(
        "POST",
        &format!("/api/v1/applications/{}/deactivate", s.app_id),
        None,
    )
    .await
    .expect(StatusCode::OK);
    refused(
        &app.visit("GET", "/saml2/aws", Some(&s.session), None).await,
        StatusCode::FORBIDDEN,
        "deactivated",
    );
    assert_eq!(reason(&events(&app, "sso.denied").await), "sso_inactive");
    app.admin(
        "POST",
        &format!("/api/v1/applications/{}/activate", s.app_id),
        None,
    )
    .await
    .expect(StatusCode::OK);

    // A template placeholder left in an active app (only the store can
    // do that; the API refuses to activate it).
    let stored = app.store.get_app(AppId(s.app_id)).await.unwrap();
    let mut config = stored.config.clone();
    config.sso.acs_urls[0].url = "https://YOUR_AWS_REGION.signin.aws.amazon.com/saml".into();
    app.store
        .update_app(AppId(s.app_id), &config, app.clock_now())
        .await
        .unwrap();
    refused(
        &app.visit("GET", "/saml2/aws", Some(&s.session), None).await,
        StatusCode::FORBIDDEN,
        "sso.acs_urls[0]",
    );
    let denied = events(&app, "sso.denied").await;
    assert_eq!(reason(&denied), "placeholders");
    assert_eq!(denied.last().unwrap()["fields"], json!(["sso.acs_urls[0]"]));
    app.store
        .update_app(AppId(s.app_id), &stored.config, app.clock_now())
        .await
        .unwrap();
    form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);

    // Suspended while signed in: the session ends with the suspension.
    app.admin("POST", &format!("/api/v1/users/{}/suspend", s.alice), None)
        .await
        .expect(StatusCode::OK);
    let r = app.visit("GET", "/saml2/aws", Some(&s.session), None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?next="));
    assert!(!r.text().contains("SAMLResponse"));
    // A session a suspended user still holds (made in the store, as no
    // door makes one) is refused by the decision itself.
    let leftover = app.session_for(s.alice).await;
    refused(
        &app.visit("GET", "/saml2/aws", Some(&leftover), None).await,
        StatusCode::FORBIDDEN,
        "suspended",
    );
    assert_eq!(reason(&events(&app, "sso.denied").await), "user_suspended");

    // Deleted: 404, like an unknown slug, signed in or not.
    app.admin(
        "DELETE",
        "/api/v1/applications",
        Some(json!({"ids": [s.app_id], "confirm_count": 1})),
    )
    .await
    .expect(StatusCode::OK);
    for path in ["/saml2/aws", "/saml2/never-existed"] {
        refused(
            &app.visit("GET", path, Some(&bob_session), None).await,
            StatusCode::NOT_FOUND,
            "Application not found",
        );
        refused(
            &app.visit("GET", path, None, None).await,
            StatusCode::NOT_FOUND,
            "Application not found",
        );
    }
    // No response was issued on any refusal.
    assert_eq!(events(&app, "sso.issued").await.len(), 2);
    app.shutdown().await;
});

web_test!(key_rotation_takes_effect_on_the_next_response, |app| {
    let s = aws_setup(&app, "aws").await;
    let idp = format!("{BASE}/saml2/aws");
    let old = active_cert(&app, s.app_id).await;
    let form = form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    verify(
        &app,
        &form,
        &idp,
        &old,
        AWS,
        None,
        AlgorithmPolicy::default(),
    )
    .unwrap();

    app.admin(
        "POST",
        &format!(
            "/api/v1/applications/{}/keys/{}/activate",
            s.app_id, s.next_key
        ),
        None,
    )
    .await
    .expect(StatusCode::OK);
    let new = active_cert(&app, s.app_id).await;
    assert_ne!(new, old);
    let form = form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    verify(
        &app,
        &form,
        &idp,
        &new,
        AWS,
        None,
        AlgorithmPolicy::default(),
    )
    .unwrap();
    assert!(verify(
        &app,
        &form,
        &idp,
        &old,
        AWS,
        None,
        AlgorithmPolicy::default()
    )
    .is_err());
    assert_eq!(
        events(&app, "sso.issued").await.last().unwrap()["key"],
        s.next_key,
        "the audit event names the signing key"
    );
    // The metadata route next to the SSO routes still answers.
    let r = app.visit("GET", "/saml2/aws/metadata", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("EntityDescriptor"));
    app.shutdown().await;
});

// Through the real sign-in page: an SP's request, the password form, and
// back to the same request, which is answered (its ID was not used up by
// the detour); the same for the cross-site POST.
web_test!(sign_in_page_returns_to_the_sp_request, |app| {
    use crate::common::browser::{location, Browser};
    let (app_id, _) = custom_setup(&app, "wiki").await;
    let pw = "correct horse battery staple";
    let dave = id(&app
        .admin(
            "POST",
            "/api/v1/users",
            Some(json!({"email": "dave@example.com", "username": "dave", "password": pw})),
        )
        .await
        .expect(StatusCode::CREATED));
    let groups = app
        .get(&format!("/api/v1/applications/{app_id}/groups"))
        .await
        .expect(StatusCode::OK);
    member(&app, id(&groups[0]), dave).await;
    let cert = active_cert(&app, app_id).await;
    let idp = format!("{BASE}/saml2/wiki");

    let mut b = Browser::new(&app);
    let xml = authn_request(&app, "_via-login", "wiki", SP_ENTITY, "");
    let path = format!(
        "/saml2/wiki?{}",
        redirect_query(&xml, Some(RELAY), Some(&sp_key()))
    );
    let next = login_next(&b.get(&path).await);
    assert_eq!(next, path);
    let r = b.sign_in_to("dave", pw, &next).await;
    assert_eq!(location(&r), path, "back to the request after sign-in");
    let form = form_of(&b.get(&path).await);
    assert_eq!(form.fields["RelayState"], RELAY);
    verify(
        &app,
        &form,
        &idp,
        &cert,
        SP_ENTITY,
        Some("_via-login"),
        AlgorithmPolicy::default(),
    )
    .unwrap();

    // A fresh browser, and an SP that posts: no cookie on the POST.
    let mut b = Browser::new(&app);
    b.origin = Some("https://sp.example".into());
    let xml = sign_root(
        &authn_request(&app, "_via-login-post", "wiki", SP_ENTITY, ""),
        &sp_key(),
        SignatureAlgorithm::RsaSha256,
    )
    .unwrap();
    let r = b
        .post(
            "/saml2/wiki",
            &[("SAMLRequest", &B64.encode(&xml)), ("RelayState", RELAY)],
        )
        .await;
    let resumed = location(&r).to_owned();
    let next = login_next(&b.get(&resumed).await);
    b.origin = Some(BASE.into());
    let r = b.sign_in_to("dave", pw, &next).await;
    assert_eq!(location(&r), resumed);
    let form = form_of(&b.get(&resumed).await);
    assert_eq!(form.fields["RelayState"], RELAY);
    verify(
        &app,
        &form,
        &idp,
        &cert,
        SP_ENTITY,
        Some("_via-login-post"),
        AlgorithmPolicy::default(),
    )
    .unwrap();
    app.shutdown().await;
});

/// The roles of a response (the Role attribute's values).
pub(crate) fn roles(form: &Form) -> Vec<String> {
    attribute_values(form, ROLE)
}

/// The values of attribute `name` in a response.
pub(crate) fn attribute_values(form: &Form, name: &str) -> Vec<String> {
    let xml = response_xml(form);
    let at = xml
        .find(&format!("Name=\"{name}\""))
        .unwrap_or_else(|| panic!("no attribute {name} in {xml}"));
    let end = at + xml[at..].find("</saml:Attribute>").unwrap();
    xml[at..end]
        .split("<saml:AttributeValue")
        .skip(1)
        .map(|v| {
            let start = v.find('>').unwrap() + 1;
            v[start..v.find("</saml:AttributeValue>").unwrap()].to_owned()
        })
        .collect()
}

// Each node keeps an app's SSO inputs while the app's `sso_version`
// holds: a change made through another node (another `AppState` on the
// same database) is seen by the next response here, whatever changed.
web_test!(
    cached_sso_inputs_follow_changes_made_on_another_node,
    |node_a| {
        let node_b = TestApp::new(node_a.backend, node_a.store.clone()).await;
        let s = aws_setup(&node_a, "aws").await;
        let sso = |n: &'static str| {
            let (node, session) = if n == "b" {
                (&node_b, s.session.clone())
            } else {
                (&node_a, s.session.clone())
            };
            async move { node.visit("GET", "/saml2/aws", Some(&session), None).await }
        };
        // Warm node B's cache.
        let form = form_of(&sso("b").await);
        assert_eq!(
        roles(&form),
        ["arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard"]
    );

        // An entitlement changed on node A.
        node_a
        .admin(
            "PUT",
            &format!("/api/v1/applications/{}/entitlements", s.app_id),
            Some(json!([{"group_id": s.group, "account_id": "123456789012", "role_name": "ReadOnly", "provider_name": "Lanyard"}])),
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(
        roles(&form_of(&sso("b").await)),
        ["arn:aws:iam::123456789012:role/ReadOnly,arn:aws:iam::123456789012:saml-provider/Lanyard"]
    );

        // The user leaves the group (read with the session on every
        // request, never cached), then joins again.
        let membership = format!("/api/v1/groups/{}/members/{}", s.group, s.alice);
        node_a
            .admin("DELETE", &membership, None)
            .await
            .expect(StatusCode::NO_CONTENT);
        refused(&sso("b").await, StatusCode::FORBIDDEN, "not authorized");
        node_a
            .admin("PUT", &membership, None)
            .await
            .expect(StatusCode::NO_CONTENT);
        form_of(&sso("b").await);

        // Unbound, then bound again.
        let binding = format!("/api/v1/applications/{}/groups/{}", s.app_id, s.group);
        node_a
            .admin("DELETE", &binding, None)
            .await
            .expect(StatusCode::NO_CONTENT);
        refused(&sso("b").await, StatusCode::FORBIDDEN, "not authorized");
        node_a
            .admin("PUT", &binding, None)
            .await
            .expect(StatusCode::NO_CONTENT);
        form_of(&sso("b").await);

        // Deactivated.
        node_a
            .admin(
                "POST",
                &format!("/api/v1/applications/{}/deactivate", s.app_id),
                None,
            )
            .await
            .expect(StatusCode::OK);
        refused(&sso("b").await, StatusCode::FORBIDDEN, "deactivated");
        node_a
            .admin(
                "POST",
                &format!("/api/v1/applications/{}/activate", s.app_id),
                None,
            )
            .await
            .expect(StatusCode::OK);

        // A new key made the signing key: node B signs with it at once.
        let key = node_a
            .admin(
                "POST",
                &format!("/api/v1/applications/{}/keys", s.app_id),
                Some(json!({"activate": true, "validity_days": 30})),
            )
            .await
            .expect(StatusCode::CREATED);
        let cert = Certificate::from_pem(key["certificate_pem"].as_str().unwrap()).unwrap();
        let form = form_of(&sso("b").await);
        verify(
            &node_b,
            &form,
            &format!("{BASE}/saml2/aws"),
            &cert,
            AWS,
            None,
            AlgorithmPolicy::default(),
        )
        .unwrap();

        // The bound group deleted: its binding and entitlement go by cascade,
        // and the cascade changes the version too.
        node_a
            .admin("DELETE", &format!("/api/v1/groups/{}", s.group), None)
            .await
            .expect(StatusCode::NO_CONTENT);
        refused(&sso("b").await, StatusCode::FORBIDDEN, "not authorized");

        // The app deleted and another made under the same slug: node B
        // serves the new one (ids are never reused), here not bound to any
        // group.
        node_a
            .admin(
                "DELETE",
                "/api/v1/applications",
                Some(json!({"ids": [s.app_id], "confirm_count": 1})),
            )
            .await
            .expect(StatusCode::OK);
        refused(
            &sso("b").await,
            StatusCode::NOT_FOUND,
            "Application not found",
        );
        let (again, _) = node_a.store_app("aws").await;
        assert_ne!(again, s.app_id);
        refused(&sso("b").await, StatusCode::FORBIDDEN, "not authorized");
        // Five responses, all from node B, in the one audit log.
        node_b.audit.flush().await;
        assert_eq!(events(&node_a, "sso.issued").await.len(), 5);
        node_b.shutdown().await;
        node_a.shutdown().await;
    }
);

// A slug with control characters (a NUL, which PostgreSQL refuses in
// text) names no app: the unknown-app page, signed in or not, never a 500.
web_test!(control_characters_in_the_slug_are_an_unknown_app, |app| {
    let s = aws_setup(&app, "aws").await;
    for path in [
        "/saml2/a%00b",
        "/saml2/%0A",
        "/saml2/aws%00/post?SAMLRequest=x",
    ] {
        for session in [None, Some(s.session.as_str())] {
            let r = app.visit("GET", path, session, None).await;
            refused(&r, StatusCode::NOT_FOUND, "Application not found");
        }
    }
    // The real app still answers.
    form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    app.shutdown().await;
});

// ---- The AuthnRequest policy of each application ----

web_test!(an_aws_iam_app_answers_no_authn_request, |app| {
    let s = aws_setup(&app, "aws").await;
    // Anyone can make up an unsigned request for AWS's entity ID, with a
    // RelayState of their choosing: AWS never sends one, so it is refused
    // before anything is checked or signed.
    let xml = authn_request(&app, "_made-up", "aws", AWS, "");
    let path = format!(
        "/saml2/aws?{}",
        redirect_query(&xml, Some("https://evil.example/steal"), None)
    );
    let r = app.visit("GET", &path, Some(&s.session), None).await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "does not take sign-in requests",
    );
    assert!(!r.text().contains("evil.example"), "{}", r.text());
    assert!(events(&app, "sso.issued").await.is_empty());
    // Without a session too: no sign-in detour that would come back to it.
    let r = app.visit("GET", &path, None, None).await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "does not take sign-in requests",
    );
    // Opening the IdP URL (what AWS calls SP-initiated) still signs in.
    let form = form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    assert_eq!(form.action, AWS_ACS);
    // The admin may turn requests on (e.g. for a tool that sends them).
    patch_sso(&app, s.app_id, json!({"accept_authn_requests": true})).await;
    let xml = authn_request(&app, "_allowed", "aws", AWS, "");
    let path = format!("/saml2/aws?{}", redirect_query(&xml, None, None));
    let form = form_of(&app.visit("GET", &path, Some(&s.session), None).await);
    assert_eq!(form.action, AWS_ACS);
    app.shutdown().await;
});

web_test!(a_relay_state_allowlist_refuses_other_targets, |app| {
    let (app_id, session) = custom_setup(&app, "wiki").await;
    patch_sso(
        &app,
        app_id,
        json!({"relay_state_allowlist": ["https://sp.example/after*", "token-1"]}),
    )
    .await;
    let send = |id: &str, relay: &str| {
        let xml = authn_request(&app, id, "wiki", SP_ENTITY, "");
        format!(
            "/saml2/wiki?{}",
            redirect_query(&xml, Some(relay), Some(&sp_key()))
        )
    };
    for bad in [
        "https://evil.example/after",
        "https://sp.example/afterwards",
        "token-2",
    ] {
        let r = app
            .visit(
                "GET",
                &send(&format!("_bad{}", bad.len()), bad),
                Some(&session),
                None,
            )
            .await;
        refused(&r, StatusCode::BAD_REQUEST, "does not allow");
    }
    let denied = events(&app, "sso.denied").await;
    assert_eq!(denied.last().unwrap()["reason"], "relay_state_not_allowed");
    for (n, ok) in ["https://sp.example/after/page?x=1", "token-1"]
        .iter()
        .enumerate()
    {
        let form = form_of(
            &app.visit("GET", &send(&format!("_ok{n}"), ok), Some(&session), None)
                .await,
        );
        assert_eq!(form.fields["RelayState"], *ok);
    }
    app.shutdown().await;
});

web_test!(is_passive_without_a_session_gets_no_passive, |app| {
    let (app_id, session) = custom_setup(&app, "wiki").await;
    let cert = active_cert(&app, app_id).await;
    let xml = authn_request(&app, "_passive", "wiki", SP_ENTITY, r#"IsPassive="true""#);
    let path = format!(
        "/saml2/wiki?{}",
        redirect_query(&xml, Some("back-here"), Some(&sp_key()))
    );
    // No session: a signed NoPassive status goes back to the SP, with the
    // request's RelayState, instead of a sign-in page.
    let r = app.visit("GET", &path, None, None).await;
    let form = form_of(&r);
    assert_eq!(form.action, SP_ACS);
    assert_eq!(form.fields["RelayState"], "back-here");
    let xml = response_xml(&form);
    let doc = lanyard_saml::xml::parse(&xml, lanyard_saml::xml::Limits::default()).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("InResponseTo"), Some("_passive"));
    lanyard_saml::dsig::verify_element_signature(
        root,
        std::slice::from_ref(&cert),
        AlgorithmPolicy::default(),
    )
    .unwrap();
    let codes: Vec<&str> = root
        .descendants()
        .filter(|n| n.tag_name().name() == "StatusCode")
        .filter_map(|n| n.attribute("Value"))
        .collect();
    assert_eq!(
        codes,
        [
            "urn:oasis:names:tc:SAML:2.0:status:Responder",
            "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
        ]
    );
    assert!(!xml.contains("Assertion"));
    // A request that fails its checks gets a page, never a post.
    let unsigned = authn_request(
        &app,
        "_passive-unsigned",
        "wiki",
        SP_ENTITY,
        r#"IsPassive="true""#,
    );
    let path2 = format!("/saml2/wiki?{}", redirect_query(&unsigned, None, None));
    refused(
        &app.visit("GET", &path2, None, None).await,
        StatusCode::BAD_REQUEST,
        "not signed",
    );
    // With a session the same kind of request is answered normally.
    let xml = authn_request(&app, "_passive-2", "wiki", SP_ENTITY, r#"IsPassive="true""#);
    let path = format!(
        "/saml2/wiki?{}",
        redirect_query(&xml, None, Some(&sp_key()))
    );
    let form = form_of(&app.visit("GET", &path, Some(&session), None).await);
    verify(
        &app,
        &form,
        &format!("{BASE}/saml2/wiki"),
        &cert,
        SP_ENTITY,
        Some("_passive-2"),
        AlgorithmPolicy::default(),
    )
    .unwrap();
    app.shutdown().await;
});

web_test!(force_authn_asks_for_the_whole_sign_in_again, |app| {
    let (app_id, _) = custom_setup(&app, "wiki").await;
    let cert = active_cert(&app, app_id).await;
    let (alice, _) = lanyard_core::store::UserStore::find_user_by_login(&app.store, "alice-wiki")
        .await
        .unwrap()
        .unwrap();
    app.admin(
        "PUT",
        &format!("/api/v1/users/{}/password", alice.id),
        Some(json!({"password": crate::common::USER_PW})),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let mut b = crate::common::browser::Browser::new(&app);
    assert_eq!(
        b.sign_in("alice-wiki", crate::common::USER_PW).await.status,
        StatusCode::SEE_OTHER
    );
    let signed_in_at = app.clock_now();
    app.clock.advance(Duration::minutes(2));
    let xml = authn_request(&app, "_force", "wiki", SP_ENTITY, r#"ForceAuthn="true""#);
    let path = format!(
        "/saml2/wiki?{}",
        redirect_query(&xml, None, Some(&sp_key()))
    );
    // A session from before the request is not enough.
    let r = b.get(&path).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let loc = r.headers["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("/login?force=1&next="), "{loc}");
    let page = b.get(&loc).await;
    assert_eq!(page.status, StatusCode::OK, "the form, although signed in");
    assert!(page.text().contains("asks you to sign in again"));
    // Coming back without signing in again: still not enough.
    assert_eq!(b.get(&path).await.status, StatusCode::SEE_OTHER);
    app.clock.advance(Duration::minutes(1));
    let page = b.get(&loc).await;
    let csrf = crate::common::browser::hidden(&page.text(), "csrf").unwrap();
    let next = unescape(&crate::common::browser::hidden(&page.text(), "next").unwrap());
    assert_eq!(next, path);
    let again = b
        .post(
            "/login",
            &[
                ("login", "alice-wiki"),
                ("password", crate::common::USER_PW),
                ("csrf", &csrf),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.headers["location"].to_str().unwrap(), path);
    let r = b.get(&path).await;
    let form = form_of(&r);
    let verified = verify(
        &app,
        &form,
        &format!("{BASE}/saml2/wiki"),
        &cert,
        SP_ENTITY,
        Some("_force"),
        AlgorithmPolicy::default(),
    )
    .unwrap();
    let xml = response_xml(&form);
    let fresh = lanyard_saml::instant::format(app.clock_now());
    assert!(
        xml.contains(&format!("AuthnInstant=\"{fresh}\"")),
        "the new sign-in's instant ({fresh}), not {}: {xml}",
        lanyard_saml::instant::format(signed_in_at)
    );
    let _ = verified;
    app.shutdown().await;
});

web_test!(an_acs_index_is_the_metadata_index, |app| {
    let (app_id, session) = custom_setup(&app, "wiki").await;
    patch_sso(
        &app,
        app_id,
        json!({"acs_urls": [
            {"url": SP_ACS, "is_default": true, "index": 0},
            {"url": "https://sp.example/acs-5", "is_default": false, "index": 5},
        ]}),
    )
    .await;
    let send = |id: &str, index: u16| {
        let xml = authn_request(
            &app,
            id,
            "wiki",
            SP_ENTITY,
            &format!(r#"AssertionConsumerServiceIndex="{index}""#),
        );
        format!(
            "/saml2/wiki?{}",
            redirect_query(&xml, None, Some(&sp_key()))
        )
    };
    let form = form_of(
        &app.visit("GET", &send("_i5", 5), Some(&session), None)
            .await,
    );
    assert_eq!(form.action, "https://sp.example/acs-5");
    refused(
        &app.visit("GET", &send("_i1", 1), Some(&session), None)
            .await,
        StatusCode::BAD_REQUEST,
        "AssertionConsumerServiceIndex 1 is not a registered ACS index",
    );
    app.shutdown().await;
});

// ---- Request values reach the log only escaped ----

/// Everything logged by this test binary from the first call on (one
/// global subscriber; tests look for their own markers).
pub(crate) fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

web_test!(request_values_cannot_forge_log_lines, |app| {
    let logs = captured_logs();
    custom_setup(&app, "wiki").await;
    let marker = format!("FORGED-{}", app.backend);
    let xml = authn_request(&app, "_forge", "wiki", SP_ENTITY, "");
    // A SigAlg with a line break and a fake log line after it.
    let query = format!(
        "SAMLRequest={}&SigAlg={}&Signature=AAAA",
        percent_encode(&B64.encode(deflate(xml.as_bytes()))),
        percent_encode(&format!(
            "x\n2026-01-01T00:00:00Z  INFO {marker} admin signed in"
        )),
    );
    let r = app
        .visit("GET", &format!("/saml2/wiki?{query}"), None, None)
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "is not allowed");
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("the refusal is logged: {text}"));
    assert!(line.contains("refused an AuthnRequest"), "{line}");
    assert!(line.contains("x\\n2026-01-01"), "escaped: {line}");
    assert!(
        !text.lines().any(|l| l.starts_with("2026-01-01T00:00:00Z")),
        "no line of the attacker's making: {text}"
    );
    app.shutdown().await;
});
