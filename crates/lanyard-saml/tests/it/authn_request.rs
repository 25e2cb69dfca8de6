//! AuthnRequest intake: accepted shapes and every rejection with its error.

use crate::common::*;
use base64::Engine as _;
use lanyard_saml::authn_request::{RequestLimits, SpPolicy, UnverifiedAuthnRequest, VerifyContext};
use lanyard_saml::binding::{deflate, percent_encode};
use lanyard_saml::dsig::sign_root;
use lanyard_saml::{AcsEndpoint, AlgorithmPolicy, Certificate, Error, SignatureAlgorithm};
use time::Duration;

const SP: &str = "https://sp.example.test/metadata";
const SP_ACS: &str = "https://sp.example.test/acs";
const SP_ACS2: &str = "https://sp.example.test/acs2";
const SSO: &str = "https://idp.example.test/saml2/app";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn acs() -> Vec<AcsEndpoint> {
    vec![
        AcsEndpoint {
            binding: POST.into(),
            location: SP_ACS.into(),
            index: Some(0),
            is_default: false,
        },
        AcsEndpoint {
            binding: POST.into(),
            location: SP_ACS2.into(),
            index: Some(1),
            is_default: true,
        },
    ]
}

fn request_xml(id: &str, extra_attrs: &str) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="2026-11-18T11:06:00Z" Destination="{SSO}" {extra_attrs}><saml:Issuer>{SP}</saml:Issuer><samlp:NameIDPolicy Format="{EMAIL_FMT}" AllowCreate="true"/></samlp:AuthnRequest>"#
    )
}

struct Setup {
    acs: Vec<AcsEndpoint>,
    certs: Vec<Certificate>,
    require_signed: bool,
    policy: AlgorithmPolicy,
    seen: Vec<String>,
    now: time::OffsetDateTime,
}

impl Setup {
    fn new() -> Self {
        Setup {
            acs: acs(),
            certs: vec![sp_key().certificate().clone()],
            require_signed: false,
            policy: AlgorithmPolicy::default(),
            seen: vec![],
            now: now(),
        }
    }
    fn verify(
        &self,
        req: Result<UnverifiedAuthnRequest, Error>,
    ) -> Result<lanyard_saml::VerifiedAuthnRequest, Error> {
        let seen = |id: &str| self.seen.iter().any(|s| s == id);
        let sso = [SSO];
        req?.verify(&VerifyContext {
            sp: SpPolicy {
                entity_id: SP,
                acs: &self.acs,
                certificates: &self.certs,
                require_signed_requests: self.require_signed,
                algorithms: self.policy,
            },
            sso_urls: &sso,
            now: self.now,
            max_age: Duration::minutes(5),
            clock_skew: Duration::seconds(60),
            seen_before: &seen,
        })
    }
}

fn redirect_query(xml: &str, relay: Option<&str>, sign: Option<SignatureAlgorithm>) -> String {
    let mut q = format!(
        "SAMLRequest={}",
        percent_encode(&B64.encode(deflate(xml.as_bytes())))
    );
    if let Some(r) = relay {
        q.push_str(&format!("&RelayState={}", percent_encode(r)));
    }
    if let Some(alg) = sign {
        q.push_str(&format!("&SigAlg={}", percent_encode(alg.uri())));
        let sig = sp_key().sign(alg, q.as_bytes()).unwrap();
        q.push_str(&format!("&Signature={}", percent_encode(&B64.encode(sig))));
    }
    q
}

fn redirect(q: &str) -> Result<UnverifiedAuthnRequest, Error> {
    UnverifiedAuthnRequest::from_redirect_query(q, RequestLimits::default())
}

fn post(xml: &str, relay: Option<&str>) -> Result<UnverifiedAuthnRequest, Error> {
    UnverifiedAuthnRequest::from_post(&B64.encode(xml), relay, RequestLimits::default())
}

#[test]
fn unsigned_redirect_is_accepted_with_default_acs_and_relay_state() {
    let q = redirect_query(&request_xml("_r1", ""), Some("/console?x=1&y=2"), None);
    let v = Setup::new().verify(redirect(&q)).unwrap();
    assert_eq!(v.id, "_r1");
    assert_eq!(v.issuer, SP);
    assert_eq!(v.acs_url, SP_ACS2, "the isDefault endpoint");
    assert_eq!(v.relay_state.as_deref(), Some("/console?x=1&y=2"));
    assert_eq!(v.name_id_format.as_deref(), Some(EMAIL_FMT));
    assert_eq!(v.signature, None);
}

#[test]
fn signed_redirect_is_verified_over_the_raw_query() {
    let q = redirect_query(
        &request_xml("_r2", ""),
        Some("a b+c"),
        Some(SignatureAlgorithm::RsaSha256),
    );
    let mut s = Setup::new();
    s.require_signed = true;
    let v = s.verify(redirect(&q)).unwrap();
    assert_eq!(v.signature, Some(SignatureAlgorithm::RsaSha256));
    assert_eq!(v.relay_state.as_deref(), Some("a b+c"));

    let tampered = q.replace("RelayState=a", "RelayState=b");
    assert_eq!(
        s.verify(redirect(&tampered)).unwrap_err(),
        Error::BadSignature
    );

    let mut other = Setup::new();
    other.certs = vec![idp_key().certificate().clone()];
    assert_eq!(other.verify(redirect(&q)).unwrap_err(), Error::BadSignature);
}

#[test]
fn sha1_redirect_needs_the_legacy_policy() {
    let q = redirect_query(
        &request_xml("_r3", ""),
        None,
        Some(SignatureAlgorithm::RsaSha1),
    );
    let mut s = Setup::new();
    assert_eq!(
        s.verify(redirect(&q)).unwrap_err(),
        Error::DisallowedSignatureAlgorithm("http://www.w3.org/2000/09/xmldsig#rsa-sha1".into())
    );
    s.policy = AlgorithmPolicy { allow_sha1: true };
    assert_eq!(
        s.verify(redirect(&q)).unwrap().signature,
        Some(SignatureAlgorithm::RsaSha1)
    );
}

#[test]
fn signed_post_is_verified_and_tampering_is_caught() {
    let xml = sign_root(
        &request_xml("_p1", &format!(r#"AssertionConsumerServiceURL="{SP_ACS}""#)),
        sp_key(),
        SignatureAlgorithm::RsaSha256,
    )
    .unwrap();
    let mut s = Setup::new();
    s.require_signed = true;
    let v = s.verify(post(&xml, Some("rs"))).unwrap();
    assert_eq!(v.acs_url, SP_ACS);
    assert_eq!(v.relay_state.as_deref(), Some("rs"));
    assert_eq!(v.signature, Some(SignatureAlgorithm::RsaSha256));

    let tampered = xml.replace(SP_ACS, SP_ACS2);
    assert_eq!(
        s.verify(post(&tampered, None)).unwrap_err(),
        Error::DigestMismatch
    );
}

#[test]
fn missing_signature_is_refused_when_required() {
    let mut s = Setup::new();
    s.require_signed = true;
    let q = redirect_query(&request_xml("_m1", ""), None, None);
    assert_eq!(s.verify(redirect(&q)).unwrap_err(), Error::SignatureMissing);
    assert_eq!(
        s.verify(post(&request_xml("_m2", ""), None)).unwrap_err(),
        Error::SignatureMissing
    );
}

#[test]
fn half_a_query_signature_is_refused() {
    let q = redirect_query(&request_xml("_h1", ""), None, None) + "&SigAlg=x";
    assert_eq!(redirect(&q).unwrap_err(), Error::IncompleteQuerySignature);
}

#[test]
fn xml_signature_inside_a_redirect_request_is_refused() {
    let xml = sign_root(
        &request_xml("_e1", ""),
        sp_key(),
        SignatureAlgorithm::RsaSha256,
    )
    .unwrap();
    let q = redirect_query(&xml, None, None);
    assert_eq!(
        Setup::new().verify(redirect(&q)).unwrap_err(),
        Error::EmbeddedSignatureInRedirect
    );
}

#[test]
fn issuer_destination_and_time_are_checked() {
    let s = Setup::new();
    let wrong_issuer = request_xml("_i1", "").replace(SP, "https://evil.example.test");
    assert_eq!(
        s.verify(post(&wrong_issuer, None)).unwrap_err(),
        Error::IssuerMismatch {
            found: "https://evil.example.test".into(),
            expected: SP.into()
        }
    );
    let wrong_dest = request_xml("_i2", "").replace(SSO, "https://idp.example.test/saml2/other");
    assert_eq!(
        s.verify(post(&wrong_dest, None)).unwrap_err(),
        Error::DestinationMismatch {
            found: "https://idp.example.test/saml2/other".into()
        }
    );
    let old = request_xml("_i3", "").replace("2026-11-18T11:06:00Z", "2026-11-18T10:06:00Z");
    assert_eq!(
        s.verify(post(&old, None)).unwrap_err(),
        Error::RequestExpired {
            issue_instant: "2026-11-18T10:06:00Z".into(),
            max_age_secs: 300
        }
    );
    let future = request_xml("_i4", "").replace("2026-11-18T11:06:00Z", "2026-11-18T11:10:00Z");
    assert_eq!(
        s.verify(post(&future, None)).unwrap_err(),
        Error::RequestFromFuture {
            issue_instant: "2026-11-18T11:10:00Z".into()
        }
    );
    let bad_time = request_xml("_i5", "").replace("2026-11-18T11:06:00Z", "yesterday");
    assert_eq!(
        s.verify(post(&bad_time, None)).unwrap_err(),
        Error::InvalidTimestamp("yesterday".into())
    );
}

#[test]
fn overlong_relay_state_is_refused_on_both_bindings() {
    let long = "r".repeat(4097);
    let q = redirect_query(&request_xml("_l1", ""), Some(&long), None);
    assert_eq!(
        redirect(&q).unwrap_err(),
        Error::RelayStateTooLong {
            len: 4097,
            limit: 4096
        }
    );
    assert_eq!(
        post(&request_xml("_l2", ""), Some(&long)).unwrap_err(),
        Error::RelayStateTooLong {
            len: 4097,
            limit: 4096
        }
    );
    let ok = "r".repeat(4096);
    let q = redirect_query(&request_xml("_l3", ""), Some(&ok), None);
    assert_eq!(
        Setup::new()
            .verify(redirect(&q))
            .unwrap()
            .relay_state
            .as_deref(),
        Some(ok.as_str())
    );
}

#[test]
fn replayed_ids_are_refused() {
    let mut s = Setup::new();
    s.seen.push("_rep".into());
    assert_eq!(
        s.verify(post(&request_xml("_rep", ""), None)).unwrap_err(),
        Error::Replayed("_rep".into())
    );
}

#[test]
fn request_ids_are_bounded() {
    let s = Setup::new();
    let long = format!("_{}", "a".repeat(300));
    assert_eq!(
        s.verify(post(&request_xml(&long, ""), None)).unwrap_err(),
        Error::RequestIdTooLong {
            len: 301,
            limit: 256
        }
    );
    let edge = format!("_{}", "a".repeat(255));
    assert!(s.verify(post(&request_xml(&edge, ""), None)).is_ok());
}

#[test]
fn acs_must_be_registered() {
    let s = Setup::new();
    let by_index = request_xml("_a1", r#"AssertionConsumerServiceIndex="0""#);
    assert_eq!(s.verify(post(&by_index, None)).unwrap().acs_url, SP_ACS);
    let unknown_url = request_xml(
        "_a2",
        r#"AssertionConsumerServiceURL="https://evil.example.test/acs""#,
    );
    assert_eq!(
        s.verify(post(&unknown_url, None)).unwrap_err(),
        Error::UnregisteredAcsUrl("https://evil.example.test/acs".into())
    );
    let unknown_index = request_xml("_a3", r#"AssertionConsumerServiceIndex="7""#);
    assert_eq!(
        s.verify(post(&unknown_index, None)).unwrap_err(),
        Error::UnregisteredAcsIndex(7)
    );
    let artifact = request_xml(
        "_a4",
        r#"ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact""#,
    );
    assert_eq!(
        s.verify(post(&artifact, None)).unwrap_err(),
        Error::UnsupportedProtocolBinding(
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact".into()
        )
    );
    let mut none = Setup::new();
    none.acs.clear();
    assert_eq!(
        none.verify(post(&request_xml("_a5", ""), None))
            .unwrap_err(),
        Error::NoAcsEndpoint
    );
}

#[test]
fn structure_errors_are_specific() {
    let s = Setup::new();
    let resp = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"/>"#;
    assert_eq!(
        s.verify(post(resp, None)).unwrap_err(),
        Error::UnexpectedRoot {
            expected: "samlp:AuthnRequest",
            found: "Response".into()
        }
    );
    let v1 = request_xml("_s1", "").replace("Version=\"2.0\"", "Version=\"1.1\"");
    assert_eq!(
        s.verify(post(&v1, None)).unwrap_err(),
        Error::UnsupportedVersion
    );
    let no_issuer = request_xml("_s2", "").replace(&format!("<saml:Issuer>{SP}</saml:Issuer>"), "");
    assert_eq!(
        s.verify(post(&no_issuer, None)).unwrap_err(),
        Error::MissingElement("saml:Issuer")
    );
    assert_eq!(
        UnverifiedAuthnRequest::from_post("%%%", None, RequestLimits::default()).unwrap_err(),
        Error::InvalidBase64 {
            field: "SAMLRequest"
        }
    );
    assert_eq!(
        redirect("RelayState=x").unwrap_err(),
        Error::MissingParameter("SAMLRequest")
    );
    let huge = "A".repeat(70 * 1024);
    assert_eq!(
        UnverifiedAuthnRequest::from_post(&huge, None, RequestLimits::default()).unwrap_err(),
        Error::TooLarge {
            size: 70 * 1024,
            limit: 64 * 1024
        }
    );
}
