//! Shared setting of the fuzz targets: the SP that the test vectors come from
//! (its test-only certificate), a fixed clock, and the oracles every target
//! checks besides "no panic".

use std::collections::HashSet;
use std::sync::OnceLock;

use base64::Engine as _;
use lanyard_saml::authn_request::{RequestLimits, SpPolicy, UnverifiedAuthnRequest, VerifyContext};
use lanyard_saml::c14n::canonicalize;
use lanyard_saml::dsig::VerifiedSignature;
use lanyard_saml::xml::{parse, Limits};
use lanyard_saml::{ns, AcsEndpoint, AlgorithmPolicy, Certificate, VerifiedAuthnRequest};

pub const SP: &str = "https://sp.example";
pub const ACS_URL: &str = "https://sp.example/acs";
pub const SSO_URL: &str = "https://idp.example.test/saml2/sso";
const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/lanyard-saml/test_vectors"
);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The certificate of the test vectors' SP key (test-only).
pub fn certificate() -> &'static Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let pem = include_str!("../../crates/lanyard-saml/test_vectors/sp-test-only.crt.pem");
        Certificate::from_pem(pem).expect("test vector certificate parses")
    })
}

/// Every DigestValue that the test key ever signed (all of them appear in the
/// vectors). A document whose signature verifies must canonicalize to one of
/// these: anything else would be a forgery.
pub fn signed_digests() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut set = HashSet::new();
        let mut dirs = vec![std::path::PathBuf::from(VECTORS)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir)
                .expect("test_vectors is readable")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    let mut rest = text.as_str();
                    while let Some(start) = rest.find("<ds:DigestValue>") {
                        rest = &rest[start + "<ds:DigestValue>".len()..];
                        if let Some(end) = rest.find("</ds:DigestValue>") {
                            set.insert(rest[..end].to_owned());
                        }
                    }
                }
            }
        }
        assert!(
            !set.is_empty(),
            "no signed test vectors found under {VECTORS}"
        );
        set
    })
}

/// Checks the oracle for a document whose root signature verified.
pub fn assert_signed_content_is_known(xml: &str, v: &VerifiedSignature) {
    let doc = parse(
        xml,
        Limits {
            max_bytes: usize::MAX,
            max_depth: 1 << 16,
            max_nodes: u32::MAX,
        },
    )
    .expect("a verified document parses again");
    let root = doc.root_element();
    let sig = root
        .children()
        .find(|c| c.has_tag_name((ns::DS, "Signature")))
        .expect("a verified document has a signature on its root");
    let digest = B64.encode(
        v.digest
            .digest(canonicalize(root, Some(sig.id()), &[]).as_bytes()),
    );
    assert!(
        signed_digests().contains(&digest),
        "verified content {digest} was never signed by the test key"
    );
}

/// Verifies a request against the vectors' SP and checks the oracles on
/// success: only the registered ACS URL and the configured issuer come out, and
/// a signed POST request verified only if its content was really signed.
pub fn verify(req: UnverifiedAuthnRequest) -> Option<VerifiedAuthnRequest> {
    let xml = req.xml().to_owned();
    let is_post = req.binding() == lanyard_saml::Binding::Post;
    let certs = std::slice::from_ref(certificate());
    let acs = [AcsEndpoint {
        binding: ns::BINDING_POST.into(),
        location: ACS_URL.into(),
        index: Some(0),
        is_default: true,
    }];
    let sso = [SSO_URL];
    let never_seen = |_: &str| false;
    let ctx = VerifyContext {
        sp: SpPolicy {
            entity_id: SP,
            acs: &acs,
            certificates: certs,
            require_signed_requests: false,
            algorithms: AlgorithmPolicy { allow_sha1: true },
        },
        sso_urls: &sso,
        now: time::OffsetDateTime::from_unix_timestamp(1_795_000_000).expect("fixed time"),
        max_age: time::Duration::minutes(5),
        clock_skew: time::Duration::seconds(60),
        seen_before: &never_seen,
    };
    let v = req.verify(&ctx).ok()?;
    assert_eq!(
        v.acs_url, ACS_URL,
        "only a registered ACS URL is ever returned"
    );
    assert_eq!(v.issuer, SP);
    if is_post && v.signature.is_some() {
        let doc = parse(&xml, Limits::default()).expect("verified XML parses");
        let policy = AlgorithmPolicy { allow_sha1: true };
        let sig =
            lanyard_saml::dsig::verify_root_signature(&doc, certs, policy).expect("verifies again");
        assert_signed_content_is_known(&xml, &sig);
    }
    Some(v)
}

/// The intake limits the web layer uses.
pub fn limits() -> RequestLimits {
    RequestLimits::default()
}
