//! Shared fixtures for the protocol crate's integration tests.
#![allow(dead_code)]

use std::sync::OnceLock;

use lanyard_saml::response::{Attribute, NameId, Response, SsoParams};
use lanyard_saml::{CertificateRequest, RsaBits, SigningKey};
use time::OffsetDateTime;

pub const IDP: &str = "https://idp.example.test/saml2/aws";
pub const ACS: &str = "https://signin.aws.amazon.com/saml";
pub const AWS: &str = "urn:amazon:webservices";
pub const EMAIL_FMT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap()
}

pub fn make_key(cn: &str) -> SigningKey {
    SigningKey::generate(&CertificateRequest {
        common_name: cn.into(),
        bits: RsaBits::B2048,
        not_before: now() - time::Duration::days(1),
        not_after: now() + time::Duration::days(365 * 5),
        serial: [9; 16],
    })
    .unwrap()
}

pub fn idp_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| make_key("Lanyard IdP test"))
}

pub fn sp_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| make_key("SP test"))
}

/// Attribute values chosen to break naive escaping and canonicalization.
pub fn hostile_values() -> Vec<String> {
    vec![
        "a & b < c > d".into(),
        "quotes \" and ' apostrophes".into(),
        "tab\there, cr\rhere, lf\nhere, crlf\r\n".into(),
        "non-ASCII: J\u{fc}rgen \u{5317}\u{4eac} \u{1f511}".into(),
        "]]> <!-- not a comment --> <![CDATA[x]]>".into(),
        "  leading and trailing spaces  ".into(),
        "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" ".into(),
    ]
}

pub fn sample_response(in_response_to: Option<&str>) -> Response {
    Response::for_sso(SsoParams {
        now: now(),
        response_id: "_r0123456789abcdef".into(),
        assertion_id: "_a0123456789abcdef".into(),
        session_index: "_s42".into(),
        idp_entity_id: IDP.into(),
        acs_url: ACS.into(),
        audience: AWS.into(),
        name_id: NameId { value: "alice&bob@example.com".into(), format: EMAIL_FMT.into() },
        in_response_to: in_response_to.map(str::to_owned),
        authn_instant: now() - time::Duration::minutes(3),
        session_not_on_or_after: Some(now() + time::Duration::hours(8)),
        attributes: vec![
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/Role".into(),
                name_format: Some(lanyard_saml::ns::ATTRNAME_URI.into()),
                values: vec![
                    "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard".into(),
                    "arn:aws:iam::210987654321:role/ReadOnly,arn:aws:iam::210987654321:saml-provider/Lanyard".into(),
                ],
            },
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/RoleSessionName".into(),
                name_format: Some(lanyard_saml::ns::ATTRNAME_URI.into()),
                values: vec!["alice@example.com".into()],
            },
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/SessionDuration".into(),
                name_format: None,
                values: vec!["3600".into()],
            },
            Attribute { name: "hostile \"<&>\"".into(), name_format: None, values: hostile_values() },
        ],
    })
}
