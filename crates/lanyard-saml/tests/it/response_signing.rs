//! Responses in every signing mode: signatures verify, the directly written
//! canonical form equals the general canonicalizer's, tampering is caught, and
//! bad field values are refused with the rule they break.

use crate::common::*;
use lanyard_saml::c14n::canonicalize;
use lanyard_saml::dsig::verify_element_signature;
use lanyard_saml::xml::{parse, Limits};
use lanyard_saml::{AlgorithmPolicy, Error, SignatureAlgorithm, SigningOptions};

const MODES: [(bool, bool); 3] = [(true, false), (false, true), (true, true)];
const ALGS: [SignatureAlgorithm; 2] = [SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha1];
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const SHA1_OK: AlgorithmPolicy = AlgorithmPolicy { allow_sha1: true };

fn find<'a, 'i>(doc: &'a roxmltree::Document<'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    doc.descendants()
        .find(|n| n.has_tag_name((SAML, name)))
        .unwrap()
}

fn sig_child<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name((DS, "Signature")))
}

#[test]
fn every_mode_verifies_and_matches_the_general_canonicalizer() {
    for in_response_to in [None, Some("_req-1")] {
        for (sign_assertion, sign_response) in MODES {
            for algorithm in ALGS {
                let opts = SigningOptions {
                    sign_assertion,
                    sign_response,
                    algorithm,
                };
                let signed = sample_response(in_response_to)
                    .sign(idp_key(), opts)
                    .unwrap();
                let doc = parse(&signed.xml, Limits::default()).unwrap();
                let root = doc.root_element();
                let assertion = find(&doc, "Assertion");
                let certs = [idp_key().certificate().clone()];

                if sign_assertion {
                    let v = verify_element_signature(assertion, &certs, SHA1_OK).unwrap();
                    assert_eq!(v.algorithm, algorithm);
                    let general =
                        canonicalize(assertion, sig_child(assertion).map(|s| s.id()), &[]);
                    assert_eq!(
                        &general,
                        signed.assertion_c14n.as_ref().unwrap(),
                        "{opts:?}"
                    );
                } else {
                    assert!(sig_child(assertion).is_none());
                    assert!(signed.assertion_c14n.is_none());
                }
                if sign_response {
                    verify_element_signature(root, &certs, SHA1_OK).unwrap();
                    let general = canonicalize(root, sig_child(root).map(|s| s.id()), &[]);
                    assert_eq!(&general, signed.response_c14n.as_ref().unwrap(), "{opts:?}");
                } else {
                    assert!(sig_child(root).is_none());
                }
                let has_irt = signed.xml.contains("InResponseTo=\"_req-1\"");
                assert_eq!(has_irt, in_response_to.is_some());
            }
        }
    }
}

#[test]
fn response_has_the_fields_aws_requires() {
    let signed = sample_response(None)
        .sign(idp_key(), SigningOptions::default())
        .unwrap();
    let doc = parse(&signed.xml, Limits::default()).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("Destination"), Some(ACS));
    assert_eq!(root.attribute("IssueInstant"), Some("2026-11-18T11:06:40Z"));
    let conf: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name((SAML, "SubjectConfirmation")))
        .collect();
    assert_eq!(conf.len(), 1);
    assert_eq!(
        conf[0].attribute("Method"),
        Some("urn:oasis:names:tc:SAML:2.0:cm:bearer")
    );
    let data = find(&doc, "SubjectConfirmationData");
    assert_eq!(data.attribute("Recipient"), Some(ACS));
    assert_eq!(data.attribute("NotOnOrAfter"), Some("2026-11-18T11:11:40Z"));
    let cond = find(&doc, "Conditions");
    assert_eq!(cond.attribute("NotBefore"), Some("2026-11-18T11:05:40Z"));
    assert_eq!(cond.attribute("NotOnOrAfter"), Some("2026-11-18T11:11:40Z"));
    assert_eq!(find(&doc, "Audience").text(), Some(AWS));
    assert_eq!(find(&doc, "NameID").text(), Some("alice&bob@example.com"));
    let roles: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("Name") == Some("https://aws.amazon.com/SAML/Attributes/Role"))
        .flat_map(|a| {
            a.children()
                .filter(|c| c.is_element())
                .map(|v| v.text().unwrap().to_owned())
        })
        .collect();
    assert_eq!(roles.len(), 2);
    let hostile: Vec<String> = doc
        .descendants()
        .filter(|n| n.attribute("Name") == Some("hostile \"<&>\""))
        .flat_map(|a| {
            a.children()
                .filter(|c| c.is_element())
                .map(|v| v.text().unwrap_or("").to_owned())
        })
        .collect();
    // XML parsers normalise a lone CR to LF (XML 1.0 section 2.11); the escape
    // `&#xD;` we write keeps it a CR.
    assert_eq!(hostile, hostile_values());
    assert!(!signed.xml.starts_with('\u{feff}'));
}

#[test]
fn tampering_breaks_the_digest() {
    let signed = sample_response(None)
        .sign(idp_key(), SigningOptions::default())
        .unwrap();
    let tampered = signed
        .xml
        .replace("alice&amp;bob@example.com", "mallory@example.com");
    assert_ne!(tampered, signed.xml);
    let doc = parse(&tampered, Limits::default()).unwrap();
    let err = verify_element_signature(
        find(&doc, "Assertion"),
        &[idp_key().certificate().clone()],
        AlgorithmPolicy::default(),
    );
    assert_eq!(err.unwrap_err(), Error::DigestMismatch);
}

#[test]
fn another_key_does_not_verify() {
    let signed = sample_response(None)
        .sign(idp_key(), SigningOptions::default())
        .unwrap();
    let doc = parse(&signed.xml, Limits::default()).unwrap();
    let err = verify_element_signature(
        find(&doc, "Assertion"),
        &[sp_key().certificate().clone()],
        AlgorithmPolicy::default(),
    );
    assert_eq!(err.unwrap_err(), Error::BadSignature);
}

#[test]
fn sha1_signatures_need_an_explicit_policy() {
    let opts = SigningOptions {
        algorithm: SignatureAlgorithm::RsaSha1,
        ..SigningOptions::default()
    };
    let signed = sample_response(None).sign(idp_key(), opts).unwrap();
    let doc = parse(&signed.xml, Limits::default()).unwrap();
    let err = verify_element_signature(
        find(&doc, "Assertion"),
        &[idp_key().certificate().clone()],
        AlgorithmPolicy::default(),
    );
    assert_eq!(
        err.unwrap_err(),
        Error::DisallowedSignatureAlgorithm("http://www.w3.org/2000/09/xmldsig#rsa-sha1".into())
    );
}

#[test]
fn invalid_values_are_refused_with_the_rule() {
    let mut r = sample_response(None);
    r.assertion.name_id.value = "bad\u{0}".into();
    assert_eq!(
        r.sign(idp_key(), SigningOptions::default()).unwrap_err(),
        Error::InvalidXmlChar {
            field: "NameID".into(),
            code: 0
        }
    );
    let mut r = sample_response(None);
    r.assertion.attributes[0].values.push("x\u{1b}".into());
    assert_eq!(
        r.sign(idp_key(), SigningOptions::default()).unwrap_err(),
        Error::InvalidXmlChar {
            field: "https://aws.amazon.com/SAML/Attributes/Role".into(),
            code: 0x1b
        }
    );
    let mut r = sample_response(None);
    r.issuer = String::new();
    assert_eq!(
        r.sign(idp_key(), SigningOptions::default()).unwrap_err(),
        Error::EmptyField("Issuer")
    );
    let mut r = sample_response(None);
    r.assertion.audiences.clear();
    assert_eq!(
        r.sign(idp_key(), SigningOptions::default()).unwrap_err(),
        Error::EmptyField("Audience")
    );
    let mut r = sample_response(None);
    r.id = "1\"><x".into();
    assert!(matches!(
        r.sign(idp_key(), SigningOptions::default()).unwrap_err(),
        Error::InvalidAttribute {
            element: "Response ID",
            attribute: "ID",
            ..
        }
    ));
    let mut r = sample_response(Some("_ok"));
    r.assertion.in_response_to = Some("bad\u{1}".into());
    assert_eq!(
        r.sign(idp_key(), SigningOptions::default()).unwrap_err(),
        Error::InvalidXmlChar {
            field: "InResponseTo".into(),
            code: 1
        }
    );
    let mut r = sample_response(None);
    r.assertion.issuer = String::new();
    assert_eq!(
        r.sign(idp_key(), SigningOptions::default()).unwrap_err(),
        Error::EmptyField("Assertion Issuer")
    );
    let none = SigningOptions {
        sign_assertion: false,
        sign_response: false,
        ..SigningOptions::default()
    };
    assert_eq!(
        sample_response(None).sign(idp_key(), none).unwrap_err(),
        Error::NothingSigned
    );
}

#[test]
fn new_ids_are_ncnames() {
    let id = lanyard_saml::response::new_id([0xab; 16]);
    assert_eq!(id, format!("_{}", "ab".repeat(16)));
}

fn status_response(sub: Option<&str>, message: Option<&str>) -> lanyard_saml::StatusResponse {
    lanyard_saml::StatusResponse {
        id: "_status-1".into(),
        issue_instant: sample_response(None).issue_instant,
        destination: ACS.into(),
        issuer: "https://idp.example.com/saml2/app".into(),
        in_response_to: "_req-9".into(),
        status: lanyard_saml::ns::STATUS_RESPONDER.into(),
        sub_status: sub.map(Into::into),
        message: message.map(Into::into),
    }
}

#[test]
fn status_responses_are_signed_whole_and_say_why() {
    for algorithm in ALGS {
        let signed = status_response(Some(lanyard_saml::ns::STATUS_NO_PASSIVE), Some("a < b"))
            .sign(idp_key(), algorithm)
            .unwrap();
        let doc = parse(&signed.xml, Limits::default()).unwrap();
        let root = doc.root_element();
        let certs = [idp_key().certificate().clone()];
        let v = verify_element_signature(root, &certs, SHA1_OK).unwrap();
        assert_eq!(v.algorithm, algorithm);
        let general = canonicalize(root, sig_child(root).map(|s| s.id()), &[]);
        assert_eq!(&general, signed.response_c14n.as_ref().unwrap());
        assert!(signed.assertion_c14n.is_none());
        assert_eq!(root.attribute("InResponseTo"), Some("_req-9"));
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
        assert!(signed
            .xml
            .contains("<samlp:StatusMessage>a &lt; b</samlp:StatusMessage>"));
        assert!(!signed.xml.contains("Assertion"));
    }
    // Without a second level or message: a bare top-level code.
    let bare = status_response(None, None)
        .sign(idp_key(), SignatureAlgorithm::RsaSha256)
        .unwrap();
    assert!(bare.xml.contains(
        "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\"></samlp:StatusCode></samlp:Status>"
    ));
    let mut no_irt = status_response(None, None);
    no_irt.in_response_to.clear();
    assert!(matches!(
        no_irt.sign(idp_key(), SignatureAlgorithm::RsaSha256),
        Err(Error::EmptyField("InResponseTo"))
    ));
}
