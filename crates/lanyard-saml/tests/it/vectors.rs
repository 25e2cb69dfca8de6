//! Test vectors: attack shapes and malformed inputs, each with the exact error it
//! must produce, read from `test_vectors/` (its README.md says how each file was
//! made). The generator in `vector_gen/` rewrites every file from the crate's own
//! API; signing is deterministic, so a rerun with the committed test-only key
//! reproduces the files byte for byte:
//!
//! `cargo test -p lanyard-saml --test vectors -- --ignored regenerate`

use std::path::Path;

use crate::vector_gen;
use crate::vector_gen::{acs, now, ACS_URL, SP, SSO_URL};
use base64::Engine as _;
use lanyard_saml::authn_request::{RequestLimits, SpPolicy, UnverifiedAuthnRequest, VerifyContext};
use lanyard_saml::dsig::{verify_element_signature, verify_root_signature};
use lanyard_saml::xml::{parse, Limits};
use lanyard_saml::{ns, AlgorithmPolicy, Certificate, Error, SpMetadata};
use time::Duration;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const XPATH: &str = "http://www.w3.org/TR/1999/REC-xpath-19991116";
const XSLT: &str = "http://www.w3.org/TR/1999/REC-xslt-19991116";
const INCLUSIVE_C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const RSA_MD5: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5";
const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";

/// How a vector file is fed to the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// `post/*.xml`: the decoded XML; base64-encoded, then `from_post` + `verify`.
    PostXml,
    /// `post/*.b64`: the `SAMLRequest` form value as sent; `from_post` + `verify`.
    PostForm,
    /// `redirect/*.query`: the raw query string; `from_redirect_query` + `verify`.
    Redirect,
    /// `response/*.xml`: `dsig::verify_root_signature`.
    ResponseRoot,
    /// `response/*.xml`: `dsig::verify_element_signature` on every root-level
    /// `saml:Assertion`, in document order; the first failure counts.
    EachAssertion,
    /// `metadata/*.xml`: `SpMetadata::parse`.
    Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Ok,
    Err(Error),
    /// `Error::MalformedXml` with any text (the text is roxmltree's).
    Malformed,
}

#[derive(Debug, Clone)]
struct Case {
    file: &'static str,
    entry: Entry,
    entity_id: &'static str,
    require_signed: bool,
    allow_sha1: bool,
    expect: Expect,
}

fn case(file: &'static str, entry: Entry, expect: Expect) -> Case {
    Case {
        file,
        entry,
        entity_id: SP,
        require_signed: false,
        allow_sha1: false,
        expect,
    }
}

fn err(file: &'static str, entry: Entry, e: Error) -> Case {
    case(file, entry, Expect::Err(e))
}

fn signed_required(mut c: Case) -> Case {
    c.require_signed = true;
    c
}

fn sha1_allowed(mut c: Case) -> Case {
    c.allow_sha1 = true;
    c
}

/// Every vector and what it must do. README.md has the same list in prose.
fn cases() -> Vec<Case> {
    use Entry::*;
    let id = "_vec0001";
    let not_root = |found: &str, expected: &str| Error::ReferenceNotRoot {
        found: found.into(),
        expected: expected.into(),
    };
    vec![
        // Baselines: the unmodified messages are accepted.
        signed_required(case("post/signed-ok.xml", PostXml, Expect::Ok)),
        case("post/unsigned-ok.xml", PostXml, Expect::Ok),
        signed_required(case("redirect/signed-ok.query", Redirect, Expect::Ok)),
        case("redirect/unsigned-ok.query", Redirect, Expect::Ok),
        case("response/signed-ok.xml", ResponseRoot, Expect::Ok),
        case(
            "response/assertion-signed-ok.xml",
            EachAssertion,
            Expect::Ok,
        ),
        case("metadata/sp-ok.xml", Metadata, Expect::Ok),
        // (a) signature wrapping through samlp:Extensions.
        err(
            "post/xsw-extensions-same-id.xml",
            PostXml,
            Error::SignatureNotOnRoot,
        ),
        err(
            "post/xsw-extensions-new-id.xml",
            PostXml,
            Error::SignatureNotOnRoot,
        ),
        err(
            "post/xsw-extensions-sig-on-evil-root.xml",
            PostXml,
            Error::DuplicateId(id.into()),
        ),
        err(
            "post/xsw-extensions-ref-to-inner.xml",
            PostXml,
            not_root("#_vec0001", "_evil0001"),
        ),
        // (b) duplicated signed element.
        err(
            "post/duplicate-id.xml",
            PostXml,
            Error::DuplicateId(id.into()),
        ),
        err(
            "post/duplicate-id-lowercase-attr.xml",
            PostXml,
            Error::DuplicateId(id.into()),
        ),
        // (c) a second root-level element / a second Assertion.
        case("post/second-root-element.xml", PostXml, Expect::Malformed),
        err(
            "response/second-assertion.xml",
            ResponseRoot,
            Error::DigestMismatch,
        ),
        err(
            "response/assertion-duplicated.xml",
            EachAssertion,
            Error::DuplicateId("_a0001".into()),
        ),
        err(
            "response/both-signed.xml",
            ResponseRoot,
            Error::UnexpectedSignatureCount(2),
        ),
        // (d) signature not on the root; (e) Reference not pointing at the root.
        err(
            "post/signature-in-extensions.xml",
            PostXml,
            Error::SignatureNotOnRoot,
        ),
        err(
            "post/reference-to-child.xml",
            PostXml,
            not_root("#_child0001", id),
        ),
        err("post/reference-uri-empty.xml", PostXml, not_root("", id)),
        err("post/two-references.xml", PostXml, Error::ReferenceCount(2)),
        // Comments inside Issuer: c14n drops them, the full text is compared.
        err(
            "post/issuer-comment.xml",
            PostXml,
            Error::IssuerMismatch {
                found: "https://sp.example.evil".into(),
                expected: SP.into(),
            },
        ),
        Case {
            entity_id: "https://sp.example.evil",
            ..signed_required(case("post/issuer-comment.xml", PostXml, Expect::Ok))
        },
        // Entities and DTDs.
        err("post/dtd.xml", PostXml, Error::DtdForbidden),
        err("post/xxe.xml", PostXml, Error::DtdForbidden),
        err("post/billion-laughs.xml", PostXml, Error::DtdForbidden),
        err("redirect/xxe.query", Redirect, Error::DtdForbidden),
        err("metadata/xxe.xml", Metadata, Error::DtdForbidden),
        // Encodings and sizes.
        err(
            "redirect/deflate-bomb.query",
            Redirect,
            Error::InflateTooLarge { limit: 64 * 1024 },
        ),
        err(
            "post/truncated.b64",
            PostForm,
            Error::InvalidBase64 {
                field: "SAMLRequest",
            },
        ),
        err(
            "redirect/truncated-base64.query",
            Redirect,
            Error::InvalidBase64 {
                field: "SAMLRequest",
            },
        ),
        err(
            "post/oversized.b64",
            PostForm,
            Error::TooLarge {
                size: 65_540,
                limit: 64 * 1024,
            },
        ),
        err(
            "post/deep-nesting.xml",
            PostXml,
            Error::TooDeep { limit: 16 },
        ),
        err(
            "post/too-many-nodes.xml",
            PostXml,
            Error::TooManyNodes { limit: 2_000 },
        ),
        // Algorithms.
        err(
            "redirect/sigalg-unknown.query",
            Redirect,
            Error::DisallowedSignatureAlgorithm(RSA_MD5.into()),
        ),
        err(
            "redirect/sigalg-sha256-signed-sha1.query",
            Redirect,
            Error::BadSignature,
        ),
        err(
            "redirect/rsa-sha1.query",
            Redirect,
            Error::DisallowedSignatureAlgorithm(ns::RSA_SHA1.into()),
        ),
        sha1_allowed(case("redirect/rsa-sha1.query", Redirect, Expect::Ok)),
        err(
            "post/rsa-sha1.xml",
            PostXml,
            Error::DisallowedSignatureAlgorithm(ns::RSA_SHA1.into()),
        ),
        sha1_allowed(case("post/rsa-sha1.xml", PostXml, Expect::Ok)),
        err(
            "post/sha1-digest.xml",
            PostXml,
            Error::DisallowedDigestAlgorithm(ns::SHA1.into()),
        ),
        sha1_allowed(case("post/sha1-digest.xml", PostXml, Expect::Ok)),
        err(
            "post/hmac-sha1.xml",
            PostXml,
            Error::DisallowedSignatureAlgorithm(HMAC_SHA1.into()),
        ),
        err(
            "post/xpath-transform.xml",
            PostXml,
            Error::DisallowedTransform(XPATH.into()),
        ),
        err(
            "post/xslt-transform.xml",
            PostXml,
            Error::DisallowedTransform(XSLT.into()),
        ),
        err(
            "post/transforms-without-enveloped.xml",
            PostXml,
            Error::DisallowedTransform(format!(
                "sequence [{}] (expected enveloped-signature, exc-c14n)",
                ns::EXC_C14N
            )),
        ),
        err(
            "post/inclusive-c14n.xml",
            PostXml,
            Error::DisallowedCanonicalization(INCLUSIVE_C14N.into()),
        ),
        err(
            "post/exc-c14n-with-comments.xml",
            PostXml,
            Error::DisallowedCanonicalization(EXC_C14N_WITH_COMMENTS.into()),
        ),
        // Signature count and presence.
        err(
            "post/two-signatures.xml",
            PostXml,
            Error::UnexpectedSignatureCount(2),
        ),
        signed_required(err(
            "post/unsigned-ok.xml",
            PostXml,
            Error::SignatureMissing,
        )),
        signed_required(err(
            "redirect/unsigned-ok.query",
            Redirect,
            Error::SignatureMissing,
        )),
        err(
            "redirect/embedded-xml-signature.query",
            Redirect,
            Error::EmbeddedSignatureInRedirect,
        ),
        err(
            "redirect/incomplete-signature.query",
            Redirect,
            Error::IncompleteQuerySignature,
        ),
        // Tampering after signing.
        err("post/digest-mismatch.xml", PostXml, Error::DigestMismatch),
        err(
            "post/signature-value-tampered.xml",
            PostXml,
            Error::BadSignature,
        ),
        err(
            "redirect/relaystate-tampered.query",
            Redirect,
            Error::BadSignature,
        ),
        // Time (fixed: now = 2026-11-18T11:06:40Z, max age 5 min, skew 60 s).
        err(
            "post/expired.xml",
            PostXml,
            Error::RequestExpired {
                issue_instant: "2026-11-18T10:00:00Z".into(),
                max_age_secs: 300,
            },
        ),
        err(
            "post/from-future.xml",
            PostXml,
            Error::RequestFromFuture {
                issue_instant: "2026-11-18T11:10:00Z".into(),
            },
        ),
    ]
}

fn vectors_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/test_vectors"))
}

fn read(file: &str) -> String {
    let text =
        std::fs::read_to_string(vectors_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    // Form values and query strings are stored without a trailing newline; an
    // editor adding one must not change the vector.
    if file.ends_with(".query") || file.ends_with(".b64") {
        text.trim_end_matches('\n').to_owned()
    } else {
        text
    }
}

pub fn test_certificate() -> Certificate {
    Certificate::from_pem(&read(vector_gen::CERT_FILE)).unwrap()
}

fn run(c: &Case) -> Result<(), Error> {
    let input = read(c.file);
    let certs = [test_certificate()];
    let algorithms = AlgorithmPolicy {
        allow_sha1: c.allow_sha1,
    };
    let acs = acs();
    let never_seen = |_: &str| false;
    let sso = [SSO_URL];
    let ctx = VerifyContext {
        sp: SpPolicy {
            entity_id: c.entity_id,
            acs: &acs,
            certificates: &certs,
            require_signed_requests: c.require_signed,
            algorithms,
        },
        sso_urls: &sso,
        now: now(),
        max_age: Duration::minutes(5),
        clock_skew: Duration::seconds(60),
        seen_before: &never_seen,
    };
    let limits = RequestLimits::default();
    match c.entry {
        Entry::PostXml => {
            let v = UnverifiedAuthnRequest::from_post(&B64.encode(&input), Some("state"), limits)?
                .verify(&ctx)?;
            assert_eq!(v.acs_url, ACS_URL);
            assert_eq!(v.issuer, c.entity_id);
            assert_eq!(
                v.signature.is_some(),
                c.require_signed || input.contains("<ds:Signature")
            );
        }
        Entry::PostForm => {
            UnverifiedAuthnRequest::from_post(&input, None, limits)?.verify(&ctx)?;
        }
        Entry::Redirect => {
            let v = UnverifiedAuthnRequest::from_redirect_query(&input, limits)?.verify(&ctx)?;
            assert_eq!(v.acs_url, ACS_URL);
            assert_eq!(v.signature.is_some(), input.contains("&Signature="));
        }
        Entry::ResponseRoot => {
            let doc = parse(&input, Limits::default())?;
            verify_root_signature(&doc, &certs, algorithms)?;
        }
        Entry::EachAssertion => {
            let doc = parse(&input, Limits::default())?;
            let assertions: Vec<_> = doc
                .root_element()
                .children()
                .filter(|n| n.has_tag_name((ns::SAML, "Assertion")))
                .collect();
            assert!(!assertions.is_empty(), "{}: no Assertion", c.file);
            for a in assertions {
                verify_element_signature(a, &certs, algorithms)?;
            }
        }
        Entry::Metadata => {
            let md = SpMetadata::parse(&input)?;
            assert_eq!(md.entity_id, SP);
            assert_eq!(md.signing_certificates, certs);
        }
    }
    Ok(())
}

#[test]
fn every_vector_gives_its_expected_result() {
    let mut failures = Vec::new();
    for c in cases() {
        let got = run(&c);
        let ok = match (&c.expect, &got) {
            (Expect::Ok, Ok(())) => true,
            (Expect::Err(want), Err(e)) => want == e,
            (Expect::Malformed, Err(Error::MalformedXml(_))) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{} ({:?}, entity {}, require_signed {}, allow_sha1 {}):\n    expected {:?}\n    got      {:?}",
                c.file, c.entry, c.entity_id, c.require_signed, c.allow_sha1, c.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_vector_file_has_a_case_and_every_case_a_file() {
    let listed: std::collections::BTreeSet<&str> = cases().iter().map(|c| c.file).collect();
    let mut on_disk = std::collections::BTreeSet::new();
    for sub in ["post", "redirect", "response", "metadata"] {
        for entry in std::fs::read_dir(vectors_dir().join(sub)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            on_disk.insert(format!("{sub}/{name}"));
        }
    }
    let on_disk: std::collections::BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
    assert_eq!(
        listed.difference(&on_disk).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "cases without a file (run the generator)"
    );
    assert_eq!(
        on_disk.difference(&listed).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "files without a case in cases()"
    );
}

/// The comment vector is only meaningful if the comment is really there and the
/// signature really covers the concatenated text.
#[test]
fn issuer_comment_vector_keeps_its_comment_and_signature() {
    let xml = read("post/issuer-comment.xml");
    assert!(xml.contains("<saml:Issuer>https://sp.example<!-- x -->.evil</saml:Issuer>"));
    assert!(xml.contains("<ds:Signature"));
}

/// The hand-built signatures of the algorithm vectors are sound apart from the
/// one property each vector breaks: with that property allowed they verify.
#[test]
fn hand_built_signature_verifies_when_its_algorithms_are_allowed() {
    let xml = read("post/sha1-digest.xml");
    let doc = parse(&xml, Limits::default()).unwrap();
    let v = verify_root_signature(
        &doc,
        &[test_certificate()],
        AlgorithmPolicy { allow_sha1: true },
    )
    .unwrap();
    assert_eq!(v.algorithm, lanyard_saml::SignatureAlgorithm::RsaSha256);
    assert_eq!(v.digest, lanyard_saml::keys::DigestAlgorithm::Sha1);
}

/// `RequestLimits::xml` given to `from_post`/`from_redirect_query` must be the
/// limits `verify` parses with (it once used the defaults instead).
#[test]
fn regression_request_limits_xml_is_honoured_by_verify() {
    let limits = RequestLimits {
        xml: Limits {
            max_depth: 2,
            ..RequestLimits::default().xml
        },
        ..Default::default()
    };
    let xml = read("post/unsigned-ok.xml"); // depth 2 (root, Issuer/NameIDPolicy)
    let deeper = xml.replace(
        "<samlp:NameIDPolicy",
        "<samlp:Extensions><x:a xmlns:x=\"urn:x\"><x:b></x:b></x:a></samlp:Extensions><samlp:NameIDPolicy",
    );
    let req = UnverifiedAuthnRequest::from_post(&B64.encode(&deeper), None, limits).unwrap();
    let certs = [test_certificate()];
    let acs = acs();
    let sso = [SSO_URL];
    let ctx = VerifyContext {
        sp: SpPolicy {
            entity_id: SP,
            acs: &acs,
            certificates: &certs,
            require_signed_requests: false,
            algorithms: AlgorithmPolicy::default(),
        },
        sso_urls: &sso,
        now: now(),
        max_age: Duration::minutes(5),
        clock_skew: Duration::seconds(60),
        seen_before: &|_| false,
    };
    assert_eq!(req.verify(&ctx).unwrap_err(), Error::TooDeep { limit: 2 });
}

/// Rewrites every file in `test_vectors/`. Ignored: run it on purpose.
#[test]
#[ignore = "writes test_vectors/; run with `-- --ignored regenerate`"]
fn regenerate() {
    vector_gen::write_all(vectors_dir()).unwrap();
}
