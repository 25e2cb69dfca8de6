//! IdP metadata output and SP metadata parsing.

use crate::common::*;
use lanyard_saml::xml::{parse, Limits};
use lanyard_saml::{Error, IdpMetadata, SpMetadata};

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

fn aws_like_metadata(cert_b64: &str) -> String {
    // Shaped like https://signin.aws.amazon.com/static/saml-metadata.xml: one POST
    // ACS, WantAssertionsSigned, requested attributes, several NameID formats.
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:amazon:webservices" validUntil="2027-11-01T00:00:00Z">
  <SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data>
          <ds:X509Certificate>
{cert_b64}
          </ds:X509Certificate>
        </ds:X509Data>
      </ds:KeyInfo>
    </KeyDescriptor>
    <NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</NameIDFormat>
    <NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</NameIDFormat>
    <NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</NameIDFormat>
    <AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://signin.aws.amazon.com/saml"/>
    <AttributeConsumingService index="1">
      <ServiceName xml:lang="en">AWS Management Console Single Sign-On</ServiceName>
      <RequestedAttribute isRequired="true" Name="https://aws.amazon.com/SAML/Attributes/Role" FriendlyName="RoleEntitlement"/>
      <RequestedAttribute isRequired="true" Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName" FriendlyName="RoleSessionName"/>
    </AttributeConsumingService>
  </SPSSODescriptor>
</EntityDescriptor>
"#
    )
}

#[test]
fn idp_metadata_publishes_every_certificate_and_both_bindings() {
    let next = make_key("next");
    let md = IdpMetadata {
        entity_id: IDP,
        sso_url: "https://idp.example.test/saml2/aws?x=1&y=2",
        certificates: vec![idp_key().certificate(), next.certificate()],
        name_id_formats: vec![EMAIL_FMT],
        want_authn_requests_signed: false,
        valid_until: None,
    }
    .to_xml();
    assert!(!md.starts_with('\u{feff}'));
    assert!(
        md.len() >= 1000,
        "AWS requires at least 1,000 characters, got {}",
        md.len()
    );
    let doc = parse(&md, Limits::default()).unwrap();
    let root = doc.root_element();
    assert!(root.has_tag_name((MD, "EntityDescriptor")));
    assert_eq!(root.attribute("entityID"), Some(IDP));
    let certs: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name(("http://www.w3.org/2000/09/xmldsig#", "X509Certificate")))
        .map(|n| n.text().unwrap().to_owned())
        .collect();
    assert_eq!(
        certs,
        vec![
            idp_key().certificate().to_base64(),
            next.certificate().to_base64()
        ]
    );
    let sso: Vec<(&str, &str)> = doc
        .descendants()
        .filter(|n| n.has_tag_name((MD, "SingleSignOnService")))
        .map(|n| {
            (
                n.attribute("Binding").unwrap(),
                n.attribute("Location").unwrap(),
            )
        })
        .collect();
    assert_eq!(sso.len(), 2);
    assert!(sso
        .iter()
        .all(|(_, l)| *l == "https://idp.example.test/saml2/aws?x=1&y=2"));
    assert!(!md.contains("PRIVATE"));
}

#[test]
fn parses_aws_shaped_sp_metadata() {
    let md = aws_like_metadata(&sp_key().certificate().to_base64());
    let sp = SpMetadata::parse(&format!("\u{feff}{md}")).unwrap();
    assert_eq!(sp.entity_id, "urn:amazon:webservices");
    assert_eq!(sp.acs.len(), 1);
    assert_eq!(sp.acs[0].location, "https://signin.aws.amazon.com/saml");
    assert_eq!(
        sp.acs[0].binding,
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    );
    assert_eq!(sp.acs[0].index, Some(1));
    assert!(sp.acs[0].is_default);
    assert!(sp.want_assertions_signed);
    assert!(!sp.authn_requests_signed);
    assert_eq!(
        sp.signing_certificates,
        vec![sp_key().certificate().clone()]
    );
    assert_eq!(sp.name_id_formats.len(), 3);
}

#[test]
fn sp_metadata_errors_name_the_problem() {
    let md = aws_like_metadata(&sp_key().certificate().to_base64());
    assert_eq!(
        SpMetadata::parse(&md.replace(" entityID=\"urn:amazon:webservices\"", "")).unwrap_err(),
        Error::MissingAttribute {
            element: "md:EntityDescriptor",
            attribute: "entityID"
        }
    );
    assert_eq!(
        SpMetadata::parse(&md.replace("index=\"1\" isDefault", "index=\"x\" isDefault"))
            .unwrap_err(),
        Error::InvalidAttribute {
            element: "md:AssertionConsumerService",
            attribute: "index",
            reason: "\"x\" is not an unsigned short".into()
        }
    );
    assert_eq!(
        SpMetadata::parse(&md.replace(
            "WantAssertionsSigned=\"true\"",
            "WantAssertionsSigned=\"yes\""
        ))
        .unwrap_err(),
        Error::InvalidAttribute {
            element: "md:SPSSODescriptor",
            attribute: "WantAssertionsSigned",
            reason: "\"yes\" is not an xs:boolean".into()
        }
    );
    let no_acs: String = md
        .lines()
        .filter(|l| !l.contains("AssertionConsumerService "))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        SpMetadata::parse(&no_acs).unwrap_err(),
        Error::MissingElement("md:AssertionConsumerService")
    );
    assert!(matches!(
        SpMetadata::parse(&aws_like_metadata("bm90IGEgY2VydA==")).unwrap_err(),
        Error::InvalidCertificate(_)
    ));
    assert_eq!(
        SpMetadata::parse("<x/>").unwrap_err(),
        Error::UnexpectedRoot {
            expected: "md:EntityDescriptor",
            found: "x".into()
        }
    );
    let dtd = format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{md}");
    assert_eq!(SpMetadata::parse(&dtd).unwrap_err(), Error::DtdForbidden);
}

#[test]
fn entities_descriptor_yields_its_sp() {
    let md = aws_like_metadata(&sp_key().certificate().to_base64())
        .replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "");
    let wrapped = format!("<EntitiesDescriptor xmlns=\"{MD}\">{md}</EntitiesDescriptor>");
    assert_eq!(
        SpMetadata::parse(&wrapped).unwrap().entity_id,
        "urn:amazon:webservices"
    );
}
