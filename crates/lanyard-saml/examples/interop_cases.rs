//! Writes the response matrix that the interop suite (`tests/interop/run.sh`)
//! feeds to xmlsec1, python3-saml, pysaml2, node-saml and lxml.
//!
//! Usage: `cargo run -p lanyard-saml --example interop_cases -- OUTDIR`
//! Responses are issued "now" by the real clock, because the peers check time
//! against their own clocks.

use std::path::Path;

use lanyard_saml::response::{Attribute, NameId, Response, SsoParams};
use lanyard_saml::{
    CertificateRequest, IdpMetadata, RsaBits, SignatureAlgorithm, SigningKey, SigningOptions,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

const IDP: &str = "https://idp.example.test/saml2/aws";
const ACS: &str = "https://signin.aws.amazon.com/saml";
const AWS: &str = "urn:amazon:webservices";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: interop_cases OUTDIR")?;
    let out = Path::new(&out);
    std::fs::create_dir_all(out)?;
    let now = OffsetDateTime::now_utc();
    let key = make_key("Lanyard interop IdP", now)?;
    let next = make_key("Lanyard interop IdP (next)", now)?;
    std::fs::write(out.join("idp.crt"), key.certificate().to_pem())?;
    let metadata = IdpMetadata {
        entity_id: IDP,
        sso_url: IDP,
        certificates: vec![key.certificate(), next.certificate()],
        name_id_formats: vec!["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"],
        want_authn_requests_signed: false,
        valid_until: None,
    };
    std::fs::write(out.join("idp-metadata.xml"), metadata.to_xml())?;

    let mut cases = Vec::new();
    let modes = [
        ("assertion", true, false),
        ("response", false, true),
        ("both", true, true),
    ];
    let algs = [
        ("rsa-sha256", SignatureAlgorithm::RsaSha256),
        ("rsa-sha1", SignatureAlgorithm::RsaSha1),
    ];
    for (mode, sign_assertion, sign_response) in modes {
        for (alg_name, algorithm) in algs {
            let opts = SigningOptions {
                sign_assertion,
                sign_response,
                algorithm,
            };
            let name = format!("{mode}-{alg_name}");
            cases.push(write_case(
                out,
                &name,
                mode,
                alg_name,
                None,
                response(now, AWS, ACS),
                &key,
                opts,
            )?);
        }
    }
    for (mode, sign_assertion, sign_response) in modes {
        let opts = SigningOptions {
            sign_assertion,
            sign_response,
            algorithm: SignatureAlgorithm::RsaSha256,
        };
        let defects: [(&str, Response); 4] = [
            ("tampered", response(now, AWS, ACS)),
            ("expired", response(now - Duration::hours(1), AWS, ACS)),
            (
                "wrong-audience",
                response(now, "urn:example:not-this-sp", ACS),
            ),
            (
                "wrong-destination",
                response(now, AWS, "https://evil.example.test/saml"),
            ),
        ];
        for (defect, resp) in defects {
            let name = format!("{defect}-{mode}");
            cases.push(write_case(
                out,
                &name,
                mode,
                "rsa-sha256",
                Some(defect),
                resp,
                &key,
                opts,
            )?);
        }
    }
    let manifest = json!({
        "idp_entity_id": IDP,
        "idp_sso_url": IDP,
        "sp_entity_id": AWS,
        "acs_url": ACS,
        "idp_cert_file": "idp.crt",
        "idp_metadata_file": "idp-metadata.xml",
        "cases": cases,
    });
    std::fs::write(
        out.join("cases.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    println!(
        "wrote {} cases to {}",
        manifest["cases"].as_array().map_or(0, Vec::len),
        out.display()
    );
    Ok(())
}

fn make_key(cn: &str, now: OffsetDateTime) -> Result<SigningKey, lanyard_saml::Error> {
    SigningKey::generate(&CertificateRequest {
        common_name: cn.into(),
        bits: RsaBits::B2048,
        not_before: now - Duration::days(1),
        not_after: now + Duration::days(365),
        serial: random16(),
    })
}

fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    // The system RNG does not fail on Linux; an all-zero fallback would only
    // make IDs collide between runs, which the peers do not check.
    let _ = aws_lc_rs::rand::fill(&mut b);
    b
}

#[allow(clippy::too_many_arguments)]
fn write_case(
    out: &Path,
    name: &str,
    mode: &str,
    alg: &str,
    defect: Option<&str>,
    resp: Response,
    key: &SigningKey,
    opts: SigningOptions,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let signed = resp.sign(key, opts)?;
    let mut xml = signed.xml.clone();
    if defect == Some("tampered") {
        // Change the signed NameID after signing.
        xml = xml.replace(
            ">alice@example.com</saml:NameID>",
            ">mallory@example.com</saml:NameID>",
        );
        assert_ne!(xml, signed.xml, "tamper target not found");
    }
    let file = format!("{name}.xml");
    std::fs::write(out.join(&file), &xml)?;
    let mut c14n = Vec::new();
    for (element, id, canonical) in [
        ("Assertion", &resp.assertion.id, &signed.assertion_c14n),
        ("Response", &resp.id, &signed.response_c14n),
    ] {
        if let (Some(c), false) = (canonical, defect == Some("tampered")) {
            let f = format!("{name}.{element}.c14n");
            std::fs::write(out.join(&f), c)?;
            c14n.push(json!({"id": id, "file": f}));
        }
    }
    Ok(json!({
        "name": name, "file": file, "signed": mode, "sig_alg": alg,
        "expect": if defect.is_some() { "reject" } else { "accept" },
        "defect": defect, "c14n": c14n,
    }))
}

fn response(now: OffsetDateTime, audience: &str, acs: &str) -> Response {
    let uri = Some(lanyard_saml::ns::ATTRNAME_URI.to_owned());
    Response::for_sso(SsoParams {
        now,
        response_id: lanyard_saml::response::new_id(random16()),
        assertion_id: lanyard_saml::response::new_id(random16()),
        session_index: lanyard_saml::response::new_id(random16()),
        idp_entity_id: IDP.into(),
        acs_url: acs.into(),
        audience: audience.into(),
        name_id: NameId {
            value: "alice@example.com".into(),
            format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
        },
        in_response_to: None,
        authn_instant: now - Duration::minutes(2),
        session_not_on_or_after: Some(now + Duration::hours(8)),
        attributes: vec![
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/Role".into(),
                name_format: uri.clone(),
                values: vec![
                    "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard".into(),
                    "arn:aws:iam::210987654321:role/ReadOnly,arn:aws:iam::210987654321:saml-provider/Lanyard".into(),
                ],
            },
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/RoleSessionName".into(),
                name_format: uri.clone(),
                values: vec!["alice@example.com".into()],
            },
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/SessionDuration".into(),
                name_format: uri,
                values: vec!["3600".into()],
            },
            Attribute {
                name: "hostile".into(),
                name_format: None,
                values: vec![
                    "a & b < c > d".into(),
                    "quotes \" and ' apostrophes".into(),
                    "tab\there, cr\rhere, lf\nhere".into(),
                    "non-ASCII: J\u{fc}rgen \u{5317}\u{4eac} \u{1f511}".into(),
                    "]]> <!-- not a comment -->".into(),
                ],
            },
        ],
    })
}
