//! The SP-side verifier against our own responses: every signing mode passes,
//! and each broken property fails with its specific error.

use crate::common::*;
use lanyard_saml::sp::{verify_response, Expectations};
use lanyard_saml::{AlgorithmPolicy, Certificate, Error, SigningOptions};
use time::Duration;

fn expect(certs: &[Certificate]) -> Expectations<'_> {
    Expectations {
        idp_entity_id: IDP,
        certificates: certs,
        audience: AWS,
        acs_url: ACS,
        in_response_to: None,
        now: now(),
        clock_skew: Duration::seconds(60),
        max_age: Duration::minutes(5),
        algorithms: AlgorithmPolicy::default(),
    }
}

fn certs() -> Vec<Certificate> {
    vec![idp_key().certificate().clone()]
}

fn signed(opts: SigningOptions) -> String {
    sample_response(None).sign(idp_key(), opts).unwrap().xml
}

#[test]
fn every_signing_mode_verifies_and_yields_the_content() {
    let c = certs();
    for (a, r) in [(true, false), (false, true), (true, true)] {
        let opts = SigningOptions {
            sign_assertion: a,
            sign_response: r,
            ..SigningOptions::default()
        };
        let v = verify_response(&signed(opts), &expect(&c)).unwrap();
        assert_eq!((v.assertion_signed, v.response_signed), (a, r));
        assert_eq!(v.name_id, "alice&bob@example.com");
        assert_eq!(v.issuer, IDP);
        assert_eq!(
            v.attributes["https://aws.amazon.com/SAML/Attributes/Role"].len(),
            2
        );
        assert_eq!(v.attributes["hostile \"<&>\""], hostile_values());
        assert_eq!(v.session_index.as_deref(), Some("_s42"));
    }
}

#[test]
fn time_rules_are_enforced() {
    let c = certs();
    let xml = signed(SigningOptions::default());
    let late = Expectations {
        now: now() + Duration::minutes(7),
        ..expect(&c)
    };
    assert_eq!(
        verify_response(&xml, &late).unwrap_err(),
        Error::IssuedTooLongAgo {
            issue_instant: "2026-11-18T11:06:40Z".into(),
            max_age_secs: 300
        }
    );
    let lenient = Expectations {
        now: now() + Duration::minutes(7),
        max_age: Duration::hours(1),
        ..expect(&c)
    };
    assert_eq!(
        verify_response(&xml, &lenient).unwrap_err(),
        Error::Expired("2026-11-18T11:11:40Z".into())
    );
    let early = Expectations {
        now: now() - Duration::minutes(3),
        ..expect(&c)
    };
    assert_eq!(
        verify_response(&xml, &early).unwrap_err(),
        Error::NotYetValid("2026-11-18T11:06:40Z".into())
    );
}

#[test]
fn audience_recipient_destination_and_request_are_checked() {
    let c = certs();
    let xml = signed(SigningOptions::default());
    let aud = Expectations {
        audience: "https://signin.aws.amazon.com/saml",
        ..expect(&c)
    };
    assert_eq!(
        verify_response(&xml, &aud).unwrap_err(),
        Error::AudienceMismatch {
            found: vec![AWS.into()],
            expected: "https://signin.aws.amazon.com/saml".into()
        }
    );
    let acs = Expectations {
        acs_url: "https://us-east-1.signin.aws.amazon.com/saml",
        ..expect(&c)
    };
    assert_eq!(
        verify_response(&xml, &acs).unwrap_err(),
        Error::DestinationMismatch { found: ACS.into() }
    );
    let irt = Expectations {
        in_response_to: Some("_req"),
        ..expect(&c)
    };
    assert_eq!(
        verify_response(&xml, &irt).unwrap_err(),
        Error::InResponseToMismatch {
            found: None,
            expected: Some("_req".into())
        }
    );
    let other_idp = Expectations {
        idp_entity_id: "https://other.example",
        ..expect(&c)
    };
    assert_eq!(
        verify_response(&xml, &other_idp).unwrap_err(),
        Error::IssuerMismatch {
            found: IDP.into(),
            expected: "https://other.example".into()
        }
    );
}

#[test]
fn signatures_are_required_and_must_verify() {
    let c = certs();
    let xml = signed(SigningOptions::default());
    let stale = [sp_key().certificate().clone()];
    assert_eq!(
        verify_response(&xml, &expect(&stale)).unwrap_err(),
        Error::BadSignature
    );
    // Strip the signature: the assertion is no longer trusted.
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &xml[..start], &xml[end..]);
    assert_eq!(
        verify_response(&unsigned, &expect(&c)).unwrap_err(),
        Error::UnsignedAssertion
    );
    let tampered = xml.replace("alice&amp;bob@example.com", "root@example.com");
    assert_eq!(
        verify_response(&tampered, &expect(&c)).unwrap_err(),
        Error::DigestMismatch
    );
}

#[test]
fn wrapping_with_a_second_assertion_is_refused() {
    let c = certs();
    let xml = signed(SigningOptions::default());
    let a_start = xml.find("<saml:Assertion").unwrap();
    let a_end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let evil = xml[a_start..a_end].replace("alice&amp;bob@example.com", "root@example.com");
    let evil =
        evil.replacen("<ds:Signature", "<ds:Nope", 1)
            .replacen("</ds:Signature>", "</ds:Nope>", 1);
    let wrapped = format!("{}{}{}", &xml[..a_start], evil, &xml[a_start..]);
    assert_eq!(
        verify_response(&wrapped, &expect(&c)).unwrap_err(),
        Error::AssertionCount(2)
    );
    // The signed assertion hidden in an Extensions-like element, an evil one in its place.
    let hidden = format!(
        "{}<samlp:Extensions>{}</samlp:Extensions>{}{}",
        &xml[..a_start],
        &xml[a_start..a_end],
        evil,
        &xml[a_end..]
    );
    assert_eq!(
        verify_response(&hidden, &expect(&c)).unwrap_err(),
        Error::AssertionCount(2)
    );
}

#[test]
fn signed_response_needs_destination_and_its_in_response_to_must_match() {
    let c = certs();
    let response_only = SigningOptions {
        sign_assertion: false,
        sign_response: true,
        ..SigningOptions::default()
    };
    let xml = sample_response(None)
        .sign(idp_key(), response_only)
        .unwrap()
        .xml
        .replacen(&format!(" Destination=\"{ACS}\""), "", 1);
    assert_eq!(
        verify_response(&xml, &expect(&c)).unwrap_err(),
        Error::MissingAttribute {
            element: "samlp:Response",
            attribute: "Destination"
        }
    );
    let answered = sample_response(Some("_req-9"))
        .sign(idp_key(), response_only)
        .unwrap()
        .xml;
    assert_eq!(
        verify_response(&answered, &expect(&c)).unwrap_err(),
        Error::InResponseToMismatch {
            found: Some("_req-9".into()),
            expected: None
        }
    );
    let ok = Expectations {
        in_response_to: Some("_req-9"),
        ..expect(&c)
    };
    assert_eq!(
        verify_response(&answered, &ok).unwrap().name_id,
        "alice&bob@example.com"
    );
}

#[test]
fn failed_status_is_reported() {
    let c = certs();
    let xml = signed(SigningOptions::default()).replace(
        "urn:oasis:names:tc:SAML:2.0:status:Success",
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
    );
    assert_eq!(
        verify_response(&xml, &expect(&c)).unwrap_err(),
        Error::ResponseStatus("urn:oasis:names:tc:SAML:2.0:status:Responder".into())
    );
}
