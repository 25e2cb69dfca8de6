//! The SP side: strict verification of a SAML Response, as a careful service
//! provider (or AWS) would do it. Lanyard uses it for its built-in AWS sign-in
//! stand-in and to check its own output; it is not on the IdP's hot path.
//!
//! Signature rules: the Response, the Assertion or both may be signed; no other
//! signature may appear; the Assertion is trusted only if it is signed itself
//! or sits inside a signed Response. Everything is read from the one verified
//! tree, so signature wrapping has nothing to point at.

use std::collections::BTreeMap;

use roxmltree::Node;
use time::{Duration, OffsetDateTime};

use crate::dsig::{count_signatures, verify_element_signature};
use crate::error::{Error, Result};
use crate::instant;
use crate::keys::{AlgorithmPolicy, Certificate};
use crate::ns;
use crate::xml::{self, child, children, text_of, Limits};

/// What the SP expects.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    pub idp_entity_id: &'a str,
    pub certificates: &'a [Certificate],
    pub audience: &'a str,
    pub acs_url: &'a str,
    /// The ID of the request this answers; `None` for IdP-initiated.
    pub in_response_to: Option<&'a str>,
    pub now: OffsetDateTime,
    pub clock_skew: Duration,
    /// Longest time after IssueInstant that a response is accepted (AWS: 5 min).
    pub max_age: Duration,
    pub algorithms: AlgorithmPolicy,
}

/// The trusted content of a verified response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedResponse {
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub not_on_or_after: OffsetDateTime,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub response_signed: bool,
    pub assertion_signed: bool,
}

/// Verifies an XML Response (already base64-decoded).
pub fn verify_response(xml_text: &str, e: &Expectations<'_>) -> Result<VerifiedResponse> {
    let doc = xml::parse(xml_text, Limits::default())?;
    let root = doc.root_element();
    if !root.has_tag_name((ns::SAMLP, "Response")) {
        return Err(Error::UnexpectedRoot {
            expected: "samlp:Response",
            found: root.tag_name().name().to_owned(),
        });
    }
    if root.attribute("Version") != Some("2.0") {
        return Err(Error::UnsupportedVersion);
    }
    match root.attribute("Destination") {
        Some(d) if d != e.acs_url => {
            return Err(Error::DestinationMismatch {
                found: d.to_owned(),
            })
        }
        // A signed Response must say where it was meant to go (SAML bindings 3.5.5.2).
        None if root
            .children()
            .any(|c| c.has_tag_name((ns::DS, "Signature"))) =>
        {
            return Err(Error::MissingAttribute {
                element: "samlp:Response",
                attribute: "Destination",
            });
        }
        _ => {}
    }
    let root_irt = root.attribute("InResponseTo");
    if root_irt.is_some() && root_irt != e.in_response_to {
        return Err(Error::InResponseToMismatch {
            found: root_irt.map(str::to_owned),
            expected: e.in_response_to.map(str::to_owned),
        });
    }
    let status = child(root, ns::SAMLP, "Status")
        .and_then(|s| child(s, ns::SAMLP, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .ok_or(Error::MissingElement("samlp:Status/samlp:StatusCode"))?;
    if status != ns::STATUS_SUCCESS {
        return Err(Error::ResponseStatus(status.to_owned()));
    }
    if root
        .children()
        .any(|c| c.has_tag_name((ns::SAML, "EncryptedAssertion")))
    {
        return Err(Error::EncryptedAssertion);
    }
    let all_assertions = doc
        .descendants()
        .filter(|n| n.has_tag_name((ns::SAML, "Assertion")))
        .count();
    let assertions: Vec<Node<'_, '_>> = children(root, ns::SAML, "Assertion").collect();
    let assertion = match (assertions.as_slice(), all_assertions) {
        ([one], 1) => *one,
        (_, n) => return Err(Error::AssertionCount(n)),
    };

    let on = |n: Node<'_, '_>| children(n, ns::DS, "Signature").count();
    let (response_sigs, assertion_sigs) = (on(root), on(assertion));
    if count_signatures(&doc) != response_sigs + assertion_sigs {
        return Err(Error::MisplacedSignature);
    }
    if response_sigs > 0 {
        verify_element_signature(root, e.certificates, e.algorithms)?;
    }
    if assertion_sigs > 0 {
        verify_element_signature(assertion, e.certificates, e.algorithms)?;
    }
    if response_sigs == 0 && assertion_sigs == 0 {
        return Err(Error::UnsignedAssertion);
    }

    let issuer = child(assertion, ns::SAML, "Issuer")
        .map(text_of)
        .transpose()?
        .ok_or(Error::MissingElement("saml:Issuer"))?;
    if issuer != e.idp_entity_id {
        return Err(Error::IssuerMismatch {
            found: issuer,
            expected: e.idp_entity_id.to_owned(),
        });
    }
    let ii_text = assertion
        .attribute("IssueInstant")
        .ok_or(Error::MissingAttribute {
            element: "saml:Assertion",
            attribute: "IssueInstant",
        })?;
    let issued = instant::parse(ii_text)?;
    if e.now - issued > e.max_age {
        return Err(Error::IssuedTooLongAgo {
            issue_instant: ii_text.to_owned(),
            max_age_secs: e.max_age.whole_seconds(),
        });
    }
    if issued - e.now > e.clock_skew {
        return Err(Error::NotYetValid(ii_text.to_owned()));
    }

    let subject =
        child(assertion, ns::SAML, "Subject").ok_or(Error::MissingElement("saml:Subject"))?;
    let name_id_el =
        child(subject, ns::SAML, "NameID").ok_or(Error::MissingElement("saml:NameID"))?;
    let name_id = text_of(name_id_el)?;
    if name_id.is_empty() {
        return Err(Error::MissingElement("saml:NameID"));
    }
    let confirmations: Vec<Node<'_, '_>> = children(subject, ns::SAML, "SubjectConfirmation")
        .filter(|c| c.attribute("Method") == Some(ns::CM_BEARER))
        .collect();
    let data = match confirmations.as_slice() {
        [one] => child(*one, ns::SAML, "SubjectConfirmationData")
            .ok_or(Error::MissingElement("saml:SubjectConfirmationData"))?,
        other => return Err(Error::SubjectConfirmationCount(other.len())),
    };
    let recipient = data.attribute("Recipient").unwrap_or_default();
    if recipient != e.acs_url {
        return Err(Error::RecipientMismatch {
            found: recipient.to_owned(),
            expected: e.acs_url.to_owned(),
        });
    }
    let irt = data.attribute("InResponseTo");
    if irt != e.in_response_to {
        return Err(Error::InResponseToMismatch {
            found: irt.map(str::to_owned),
            expected: e.in_response_to.map(str::to_owned),
        });
    }
    let sc_not_after = data
        .attribute("NotOnOrAfter")
        .ok_or(Error::MissingAttribute {
            element: "saml:SubjectConfirmationData",
            attribute: "NotOnOrAfter",
        })?;
    check_not_after(sc_not_after, e)?;

    let conditions =
        child(assertion, ns::SAML, "Conditions").ok_or(Error::MissingElement("saml:Conditions"))?;
    if let Some(nb) = conditions.attribute("NotBefore") {
        if instant::parse(nb)? - e.now > e.clock_skew {
            return Err(Error::NotYetValid(nb.to_owned()));
        }
    }
    let not_on_or_after = match conditions.attribute("NotOnOrAfter") {
        Some(t) => check_not_after(t, e)?,
        None => instant::parse(sc_not_after)?,
    };
    let audiences: Vec<String> = conditions
        .descendants()
        .filter(|n| n.has_tag_name((ns::SAML, "Audience")))
        .map(text_of)
        .collect::<Result<_>>()?;
    if !audiences.iter().any(|a| a == e.audience) {
        return Err(Error::AudienceMismatch {
            found: audiences,
            expected: e.audience.to_owned(),
        });
    }

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in children(assertion, ns::SAML, "AttributeStatement") {
        for attr in children(statement, ns::SAML, "Attribute") {
            let name = attr.attribute("Name").unwrap_or_default().to_owned();
            let values = attributes.entry(name).or_default();
            for v in children(attr, ns::SAML, "AttributeValue") {
                // Values keep their exact text (no trimming): whitespace is data.
                values.push(
                    v.children()
                        .filter(|c| c.is_text())
                        .filter_map(|c| c.text())
                        .collect(),
                );
            }
        }
    }
    let session_index = child(assertion, ns::SAML, "AuthnStatement")
        .and_then(|s| s.attribute("SessionIndex"))
        .map(str::to_owned);
    Ok(VerifiedResponse {
        issuer,
        name_id,
        name_id_format: name_id_el.attribute("Format").map(str::to_owned),
        session_index,
        not_on_or_after,
        attributes,
        response_signed: response_sigs > 0,
        assertion_signed: assertion_sigs > 0,
    })
}

fn check_not_after(t: &str, e: &Expectations<'_>) -> Result<OffsetDateTime> {
    let at = instant::parse(t)?;
    if e.now - e.clock_skew >= at {
        return Err(Error::Expired(t.to_owned()));
    }
    Ok(at)
}
