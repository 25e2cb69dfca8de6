//! Checks AuthnRequests made by real SP libraries (python3-saml, pysaml2) with
//! our intake, and checks that tampered copies are rejected with our specific
//! error. Input: the directory written by `tests/interop/make_requests.py`.
//!
//! Usage: `cargo run -p lanyard-saml --example interop_intake -- REQDIR [IDP_SSO_URL]`

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::Path;

use base64::Engine as _;
use lanyard_saml::authn_request::{RequestLimits, SpPolicy, UnverifiedAuthnRequest, VerifyContext};
use lanyard_saml::binding::decode_base64;
use lanyard_saml::{AcsEndpoint, AlgorithmPolicy, Certificate, Error};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn check(&mut self, name: &str, what: &str, ok: bool, detail: String) {
        if ok {
            self.passed += 1;
            println!("PASS {name} {what} {detail}");
        } else {
            self.failed += 1;
            println!("FAIL {name} {what} {detail}");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: interop_intake REQDIR IDP_SSO_URL")?;
    // Defaults to the SSO URL that `interop_cases` writes into its manifest.
    let sso_url = args
        .next()
        .unwrap_or_else(|| "https://idp.example.test/saml2/aws".to_owned());
    let dir = Path::new(&dir);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("requests.json"))?)?;
    let field = |k: &str| {
        manifest[k]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("requests.json lacks {k}"))
    };
    let sp_entity = field("sp_entity_id")?;
    let acs_url = field("acs_url")?;
    let cert = Certificate::from_pem(&std::fs::read_to_string(
        dir.join(field("sp_cert_pem_file")?),
    )?)?;
    let acs = [AcsEndpoint {
        binding: lanyard_saml::ns::BINDING_POST.into(),
        location: acs_url.clone(),
        index: Some(0),
        is_default: true,
    }];
    let certs = [cert];
    let sso_urls = [sso_url.as_str()];
    let seen = RefCell::new(HashSet::<String>::new());
    let now = OffsetDateTime::now_utc();

    let verify = |req: &Value,
                  query: Option<String>,
                  post: Option<String>,
                  require_signed: bool,
                  record: bool| {
        let limits = RequestLimits::default();
        let relay = req["relay_state"].as_str();
        let unverified = match (query, post) {
            (Some(q), _) => UnverifiedAuthnRequest::from_redirect_query(&q, limits),
            (_, Some(p)) => UnverifiedAuthnRequest::from_post(&p, relay, limits),
            _ => Err(Error::MissingParameter("SAMLRequest")),
        }?;
        let seen_before = |id: &str| seen.borrow().contains(id);
        let ctx = VerifyContext {
            sp: SpPolicy {
                entity_id: &sp_entity,
                acs: &acs,
                certificates: &certs,
                require_signed_requests: require_signed,
                algorithms: AlgorithmPolicy::default(),
            },
            sso_urls: &sso_urls,
            now,
            max_age: Duration::minutes(5),
            clock_skew: Duration::seconds(60),
            seen_before: &seen_before,
        };
        let v = unverified.verify(&ctx)?;
        if record {
            seen.borrow_mut().insert(v.id.clone());
        }
        Ok::<_, Error>(v)
    };

    let mut t = Tally {
        passed: 0,
        failed: 0,
    };
    let requests = manifest["requests"]
        .as_array()
        .ok_or("requests.json lacks requests")?;
    for req in requests {
        let name = req["name"].as_str().unwrap_or("?");
        let signed = req["signed"].as_bool().unwrap_or(false);
        let query = req["query"].as_str().map(str::to_owned);
        let post = req["saml_request_b64"].as_str().map(str::to_owned);

        match verify(req, query.clone(), post.clone(), signed, true) {
            Ok(v) => {
                let ok = Some(v.id.as_str()) == req["request_id"].as_str()
                    && v.acs_url == acs_url
                    && v.issuer == sp_entity
                    && v.relay_state.as_deref() == req["relay_state"].as_str()
                    && v.signature.is_some() == signed;
                t.check(
                    name,
                    "accepted",
                    ok,
                    format!("id={} acs={} signature={:?}", v.id, v.acs_url, v.signature),
                );
            }
            Err(e) => t.check(name, "accepted", false, format!("rejected: {e}")),
        }
        // The same request again is a replay.
        let again = verify(req, query.clone(), post.clone(), signed, false);
        t.check(
            name,
            "replay rejected",
            matches!(again, Err(Error::Replayed(_))),
            format!("{again:?}"),
        );
        seen.borrow_mut().clear();

        if let Some(q) = &query {
            if signed {
                // Changing RelayState breaks the query signature.
                let tampered = q.replacen("RelayState=", "RelayState=evil", 1);
                let r = verify(req, Some(tampered), None, true, false);
                t.check(
                    name,
                    "tampered RelayState rejected",
                    r == Err(Error::BadSignature),
                    format!("{r:?}"),
                );
                // Stripping the signature of a signed-only SP is refused.
                let stripped: Vec<&str> = q
                    .split('&')
                    .filter(|p| !p.starts_with("SigAlg=") && !p.starts_with("Signature="))
                    .collect();
                let r = verify(req, Some(stripped.join("&")), None, true, false);
                t.check(
                    name,
                    "stripped signature rejected",
                    r == Err(Error::SignatureMissing),
                    format!("{r:?}"),
                );
            } else {
                let r = verify(req, Some(q.clone()), None, true, false);
                t.check(
                    name,
                    "unsigned rejected when signing required",
                    r == Err(Error::SignatureMissing),
                    format!("{r:?}"),
                );
            }
        }
        if let Some(p) = &post {
            let xml = String::from_utf8(decode_base64("SAMLRequest", p, 1 << 20)?)?;
            if signed {
                // Changing a signed attribute value breaks the digest.
                let tampered = xml.replacen("ForceAuthn=\"false\"", "ForceAuthn=\"true\"", 1);
                let tampered = if tampered == xml {
                    xml.replacen("Version=\"2.0\"", "Version=\"2.0\" IsPassive=\"true\"", 1)
                } else {
                    tampered
                };
                let b64 = base64::engine::general_purpose::STANDARD.encode(tampered);
                let r = verify(req, None, Some(b64), true, false);
                t.check(
                    name,
                    "tampered XML rejected",
                    r == Err(Error::DigestMismatch),
                    format!("{r:?}"),
                );
            } else {
                let r = verify(req, None, Some(p.clone()), true, false);
                t.check(
                    name,
                    "unsigned rejected when signing required",
                    r == Err(Error::SignatureMissing),
                    format!("{r:?}"),
                );
            }
        }
    }
    println!("intake: {} passed, {} failed", t.passed, t.failed);
    if t.failed > 0 || t.passed == 0 {
        std::process::exit(1);
    }
    Ok(())
}
