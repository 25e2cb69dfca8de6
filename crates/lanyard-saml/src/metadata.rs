//! SAML metadata: our IdP's EntityDescriptor (for AWS IAM and every SP) and the
//! parser for an SP's metadata (entityID, ACS endpoints, certificates, flags).

use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::instant;
use crate::keys::Certificate;
use crate::ns;
use crate::xml::{self, child, children, escape_attr, escape_text, text_of, Limits};

/// An assertion consumer service endpoint of an SP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsEndpoint {
    pub binding: String,
    pub location: String,
    pub index: Option<u16>,
    pub is_default: bool,
}

/// Our IdP metadata. Several certificates may be published so that SPs trust the
/// next key before it signs anything (rotation without downtime).
#[derive(Debug, Clone)]
pub struct IdpMetadata<'a> {
    pub entity_id: &'a str,
    pub sso_url: &'a str,
    pub certificates: Vec<&'a Certificate>,
    pub name_id_formats: Vec<&'a str>,
    pub want_authn_requests_signed: bool,
    pub valid_until: Option<OffsetDateTime>,
}

impl IdpMetadata<'_> {
    /// UTF-8 without BOM, as AWS IAM requires.
    pub fn to_xml(&self) -> String {
        let mut s = String::with_capacity(2048 + 1500 * self.certificates.len());
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"");
        s.push_str(ns::MD);
        s.push_str("\" xmlns:ds=\"");
        s.push_str(ns::DS);
        s.push_str("\" entityID=\"");
        escape_attr(&mut s, self.entity_id);
        s.push('"');
        if let Some(t) = self.valid_until {
            s.push_str(" validUntil=\"");
            s.push_str(&instant::format(t));
            s.push('"');
        }
        s.push_str(">\n  <md:IDPSSODescriptor WantAuthnRequestsSigned=\"");
        s.push_str(if self.want_authn_requests_signed {
            "true"
        } else {
            "false"
        });
        s.push_str("\" protocolSupportEnumeration=\"");
        s.push_str(ns::SAMLP);
        s.push_str("\">\n");
        for cert in &self.certificates {
            s.push_str("    <md:KeyDescriptor use=\"signing\">\n      <ds:KeyInfo>\n        <ds:X509Data>\n          <ds:X509Certificate>");
            s.push_str(&cert.to_base64());
            s.push_str("</ds:X509Certificate>\n        </ds:X509Data>\n      </ds:KeyInfo>\n    </md:KeyDescriptor>\n");
        }
        for f in &self.name_id_formats {
            s.push_str("    <md:NameIDFormat>");
            escape_text(&mut s, f);
            s.push_str("</md:NameIDFormat>\n");
        }
        for binding in [ns::BINDING_REDIRECT, ns::BINDING_POST] {
            s.push_str("    <md:SingleSignOnService Binding=\"");
            s.push_str(binding);
            s.push_str("\" Location=\"");
            escape_attr(&mut s, self.sso_url);
            s.push_str("\"/>\n");
        }
        s.push_str("  </md:IDPSSODescriptor>\n</md:EntityDescriptor>\n");
        s
    }
}

/// What an SP's metadata tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    pub entity_id: String,
    pub acs: Vec<AcsEndpoint>,
    pub signing_certificates: Vec<Certificate>,
    pub want_assertions_signed: bool,
    pub authn_requests_signed: bool,
    pub name_id_formats: Vec<String>,
}

impl SpMetadata {
    /// Parses an EntityDescriptor (or the first SP inside an EntitiesDescriptor).
    pub fn parse(input: &str) -> Result<Self> {
        let input = input.strip_prefix('\u{feff}').unwrap_or(input);
        let doc = xml::parse(input, Limits::default())?;
        let root = doc.root_element();
        let entity = if root.has_tag_name((ns::MD, "EntityDescriptor")) {
            root
        } else if root.has_tag_name((ns::MD, "EntitiesDescriptor")) {
            root.descendants()
                .find(|n| {
                    n.has_tag_name((ns::MD, "EntityDescriptor"))
                        && child(*n, ns::MD, "SPSSODescriptor").is_some()
                })
                .ok_or(Error::MissingElement(
                    "md:EntityDescriptor with an md:SPSSODescriptor",
                ))?
        } else {
            return Err(Error::UnexpectedRoot {
                expected: "md:EntityDescriptor",
                found: root.tag_name().name().to_owned(),
            });
        };
        let entity_id = entity
            .attribute("entityID")
            .filter(|v| !v.trim().is_empty())
            .ok_or(Error::MissingAttribute {
                element: "md:EntityDescriptor",
                attribute: "entityID",
            })?
            .trim()
            .to_owned();
        let sp = child(entity, ns::MD, "SPSSODescriptor")
            .ok_or(Error::MissingElement("md:SPSSODescriptor"))?;

        let mut acs = Vec::new();
        for e in children(sp, ns::MD, "AssertionConsumerService") {
            let location = e.attribute("Location").ok_or(Error::MissingAttribute {
                element: "md:AssertionConsumerService",
                attribute: "Location",
            })?;
            let binding = e.attribute("Binding").ok_or(Error::MissingAttribute {
                element: "md:AssertionConsumerService",
                attribute: "Binding",
            })?;
            let index = match e.attribute("index") {
                None => None,
                Some(v) => Some(
                    v.trim()
                        .parse::<u16>()
                        .map_err(|_| Error::InvalidAttribute {
                            element: "md:AssertionConsumerService",
                            attribute: "index",
                            reason: format!("{v:?} is not an unsigned short"),
                        })?,
                ),
            };
            acs.push(AcsEndpoint {
                binding: binding.to_owned(),
                location: location.trim().to_owned(),
                index,
                is_default: parse_bool(
                    e.attribute("isDefault"),
                    "md:AssertionConsumerService",
                    "isDefault",
                )?,
            });
        }
        if acs.is_empty() {
            return Err(Error::MissingElement("md:AssertionConsumerService"));
        }

        let mut signing_certificates = Vec::new();
        for kd in children(sp, ns::MD, "KeyDescriptor") {
            if !matches!(kd.attribute("use"), None | Some("signing")) {
                continue;
            }
            for c in kd
                .descendants()
                .filter(|n| n.has_tag_name((ns::DS, "X509Certificate")))
            {
                signing_certificates.push(Certificate::from_base64(&text_of(c)?)?);
            }
        }
        Ok(SpMetadata {
            entity_id,
            acs,
            signing_certificates,
            want_assertions_signed: parse_bool(
                sp.attribute("WantAssertionsSigned"),
                "md:SPSSODescriptor",
                "WantAssertionsSigned",
            )?,
            authn_requests_signed: parse_bool(
                sp.attribute("AuthnRequestsSigned"),
                "md:SPSSODescriptor",
                "AuthnRequestsSigned",
            )?,
            name_id_formats: children(sp, ns::MD, "NameIDFormat")
                .map(text_of)
                .collect::<Result<_>>()?,
        })
    }
}

fn parse_bool(v: Option<&str>, element: &'static str, attribute: &'static str) -> Result<bool> {
    match v.map(str::trim) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(Error::InvalidAttribute {
            element,
            attribute,
            reason: format!("{other:?} is not an xs:boolean"),
        }),
    }
}
