//! The generator of `test_vectors/` and the fixed setting the vectors are
//! checked in (SP entity ID, ACS URL, IdP SSO URL, the clock).
//!
//! Every file is made with the crate's own API (`dsig::sign_root`,
//! `Response::sign`, `SigningKey::sign`) and then edited as text into its attack
//! shape. Signatures that the API cannot make (a SHA-1 digest under an RSA-SHA256
//! SignatureMethod, extra transforms, a Reference to a child) are assembled here
//! from the same pieces: exc-c14n of the referenced element, its digest, and an
//! RSA signature over the canonical SignedInfo.
#![allow(dead_code)]

use std::path::Path;

use base64::Engine as _;
use lanyard_saml::binding::{deflate, percent_encode};
use lanyard_saml::c14n::canonicalize;
use lanyard_saml::dsig::sign_root;
use lanyard_saml::keys::DigestAlgorithm;
use lanyard_saml::response::{NameId, Response, SsoParams};
use lanyard_saml::xml::{parse, Limits};
use lanyard_saml::{
    ns, AcsEndpoint, CertificateRequest, RsaBits, SignatureAlgorithm, SigningKey, SigningOptions,
};
use time::OffsetDateTime;

pub const SP: &str = "https://sp.example";
pub const ACS_URL: &str = "https://sp.example/acs";
pub const SSO_URL: &str = "https://idp.example.test/saml2/sso";
pub const IDP: &str = "https://idp.example.test/saml2";
pub const ISSUE_INSTANT: &str = "2026-11-18T11:06:00Z";
pub const CERT_FILE: &str = "sp-test-only.crt.pem";
pub const KEY_FILE: &str = "sp-test-only.key.pem";
const EMAIL_FMT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// 2026-11-18T11:06:40Z, 40 s after the vectors' IssueInstant.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap()
}

pub fn acs() -> Vec<AcsEndpoint> {
    vec![AcsEndpoint {
        binding: ns::BINDING_POST.into(),
        location: ACS_URL.into(),
        index: Some(0),
        is_default: true,
    }]
}

/// Writes every vector under `dir`, reusing the committed test-only key when it
/// is there (so a rerun changes nothing) and generating one otherwise.
pub fn write_all(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let key_path = dir.join(KEY_FILE);
    let cert_path = dir.join(CERT_FILE);
    let key = if key_path.exists() {
        SigningKey::from_pem(
            &std::fs::read_to_string(&key_path)?,
            &std::fs::read_to_string(&cert_path)?,
        )?
    } else {
        let start = OffsetDateTime::from_unix_timestamp(1_767_225_600)?; // 2026-01-01
        SigningKey::generate(&CertificateRequest {
            common_name: "Lanyard test vectors SP (TEST ONLY)".into(),
            bits: RsaBits::B2048,
            not_before: start,
            not_after: start + time::Duration::days(3653),
            serial: [0x42; 16],
        })?
    };
    std::fs::create_dir_all(dir)?;
    std::fs::write(&key_path, key.private_key_pem()?)?;
    std::fs::write(&cert_path, key.certificate().to_pem())?;
    for sub in ["post", "redirect", "response", "metadata"] {
        let sub = dir.join(sub);
        if sub.exists() {
            std::fs::remove_dir_all(&sub)?;
        }
        std::fs::create_dir_all(&sub)?;
    }
    for (name, content) in build_all(&key)? {
        std::fs::write(dir.join(name), content)?;
    }
    Ok(())
}

type Files = Vec<(&'static str, String)>;
type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub fn build_all(key: &SigningKey) -> Res<Files> {
    let mut files = Files::new();
    post_vectors(key, &mut files)?;
    algorithm_vectors(key, &mut files)?;
    redirect_vectors(key, &mut files)?;
    response_vectors(key, &mut files)?;
    metadata_vectors(key, &mut files);
    Ok(files)
}

/// An AuthnRequest as an SP would send it. `after_issuer` goes between Issuer
/// and NameIDPolicy (where the signature and Extensions belong).
fn request(id: &str, force_authn: bool, issuer: &str, after_issuer: &str) -> String {
    let force = if force_authn {
        " ForceAuthn=\"true\""
    } else {
        ""
    };
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{ISSUE_INSTANT}\" Destination=\"{SSO_URL}\" AssertionConsumerServiceURL=\"{ACS_URL}\" \
         ProtocolBinding=\"{post}\"{force}>\n  <saml:Issuer>{issuer}</saml:Issuer>{after_issuer}\n  \
         <samlp:NameIDPolicy Format=\"{EMAIL_FMT}\" AllowCreate=\"true\"/>\n</samlp:AuthnRequest>\n",
        samlp = ns::SAMLP,
        saml = ns::SAML,
        post = ns::BINDING_POST,
    )
}

/// The request every signed vector starts from: it asks for re-authentication,
/// which is what a wrapping attacker wants to strip.
fn base_request() -> String {
    request("_vec0001", true, SP, "")
}

fn sign(xml: &str, key: &SigningKey, alg: SignatureAlgorithm) -> Res<String> {
    Ok(sign_root(xml, key, alg)?)
}

/// The `<ds:Signature>...</ds:Signature>` element of a signed document.
fn signature_of(signed: &str) -> &str {
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    &signed[start..end]
}

fn without_signature(signed: &str) -> String {
    signed.replacen(signature_of(signed), "", 1)
}

fn insert_after_issuer(xml: &str, what: &str) -> String {
    xml.replacen("</saml:Issuer>", &format!("</saml:Issuer>{what}"), 1)
}

fn post_vectors(key: &SigningKey, files: &mut Files) -> Res<()> {
    let alg = SignatureAlgorithm::RsaSha256;
    let signed = sign(&base_request(), key, alg)?;
    let inner = signed.trim_end();
    files.push(("post/signed-ok.xml", signed.clone()));
    files.push(("post/unsigned-ok.xml", request("_vec0002", false, SP, "")));

    // (a) The signed request moves into Extensions; an unsigned root without
    // ForceAuthn takes its place, with the same ID or a new one.
    let ext = |content: &str| format!("\n  <samlp:Extensions>{content}</samlp:Extensions>");
    files.push((
        "post/xsw-extensions-same-id.xml",
        request("_vec0001", false, SP, &ext(inner)),
    ));
    files.push((
        "post/xsw-extensions-new-id.xml",
        request("_evil0001", false, SP, &ext(inner)),
    ));
    // The signature moves up to the evil root; the signed content (without it)
    // stays in Extensions, so the ID appears twice.
    let sig = signature_of(&signed);
    let unsigned_inner = without_signature(&signed);
    let moved = format!("{sig}{}", ext(unsigned_inner.trim_end()));
    files.push((
        "post/xsw-extensions-sig-on-evil-root.xml",
        request("_vec0001", false, SP, &moved),
    ));
    files.push((
        "post/xsw-extensions-ref-to-inner.xml",
        request("_evil0001", false, SP, &moved),
    ));

    // (b) A second element carrying the signed ID: an unsigned evil copy of the
    // request, and a bare element whose ID attribute is spelled `id`.
    let evil_copy = request("_vec0001", false, SP, "");
    files.push((
        "post/duplicate-id.xml",
        insert_after_issuer(&signed, &ext(evil_copy.trim_end())),
    ));
    let lower = ext("<x:Thing xmlns:x=\"urn:x\" id=\"_vec0001\"/>");
    files.push((
        "post/duplicate-id-lowercase-attr.xml",
        insert_after_issuer(&signed, &lower),
    ));

    // (c) A second root element after the signed one.
    files.push((
        "post/second-root-element.xml",
        format!("{signed}{evil_copy}"),
    ));

    // (d) The signature moved from the root into Extensions.
    let in_ext = insert_after_issuer(&without_signature(&signed), &ext(sig));
    files.push(("post/signature-in-extensions.xml", in_ext));

    // (e) A valid signature over a child element, placed on the root.
    let with_child = request(
        "_vec0001",
        true,
        SP,
        &ext("<x:Thing xmlns:x=\"urn:x\" ID=\"_child0001\">hello</x:Thing>"),
    );
    let doc = parse(&with_child, Limits::default())?;
    let child = doc
        .descendants()
        .find(|n| n.attribute("ID") == Some("_child0001"))
        .unwrap();
    let child_sig = SigSpec::standard("#_child0001", &canonicalize(child, None, &[])).build(key)?;
    files.push((
        "post/reference-to-child.xml",
        insert_after_issuer(&with_child, &child_sig),
    ));
    // Reference URI="" (the whole document), digest of the document.
    let root_c14n = root_c14n(&base_request())?;
    let empty_uri = SigSpec::standard("", &root_c14n).build(key)?;
    files.push((
        "post/reference-uri-empty.xml",
        insert_after_issuer(&base_request(), &empty_uri),
    ));
    let mut two_refs = SigSpec::standard("#_vec0001", &root_c14n);
    two_refs.references.push(two_refs.references[0].clone());
    files.push((
        "post/two-references.xml",
        insert_after_issuer(&base_request(), &two_refs.build(key)?),
    ));

    // A comment splitting the Issuer: c14n drops it, so the digest covers
    // "https://sp.example.evil"; the signature is valid.
    let comment = request("_vec0001", true, "https://sp.example<!-- x -->.evil", "");
    files.push(("post/issuer-comment.xml", sign(&comment, key, alg)?));

    // DTDs and entities.
    let plain = base_request();
    files.push((
        "post/dtd.xml",
        format!("<!DOCTYPE samlp:AuthnRequest [\n  <!ELEMENT samlp:AuthnRequest ANY>\n]>\n{plain}"),
    ));
    let xxe_req = request("_vec0001", false, "&xxe;", "");
    files.push((
        "post/xxe.xml",
        format!("<?xml version=\"1.0\"?>\n<!DOCTYPE samlp:AuthnRequest [\n  <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n{xxe_req}"),
    ));
    let lol = request("_vec0001", false, "&lol9;", "");
    let mut lolz = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE samlp:AuthnRequest [\n  <!ENTITY lol \"lol\">\n",
    );
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        lolz.push_str(&format!(
            "  <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    lolz.push_str("]>\n");
    lolz.push_str(&lol);
    files.push(("post/billion-laughs.xml", lolz));

    // Encodings and sizes.
    let b64 = B64.encode(base_request());
    files.push(("post/truncated.b64", b64[..b64.len() - 3].to_owned()));
    // Whitespace padding inside the root: the XML stays valid, only its size is
    // the problem. 49_155 bytes encode to 65_540 base64 characters, just over
    // the 64 KiB limit.
    let pad = " ".repeat(49_155 - base_request().len());
    let padded = base_request().replacen(
        "</samlp:AuthnRequest>",
        &format!("{pad}</samlp:AuthnRequest>"),
        1,
    );
    let oversized = B64.encode(&padded);
    assert_eq!(
        oversized.len(),
        65_540,
        "the size is part of the expected error in cases()"
    );
    files.push(("post/oversized.b64", oversized));
    let deep = format!(
        "\n  <samlp:Extensions>{}{}</samlp:Extensions>",
        "<x:a xmlns:x=\"urn:x\">".repeat(40),
        "</x:a>".repeat(40)
    );
    files.push((
        "post/deep-nesting.xml",
        request("_vec0001", false, SP, &deep),
    ));
    let many = format!(
        "\n  <samlp:Extensions>{}</samlp:Extensions>",
        "<x:a xmlns:x=\"urn:x\"/>".repeat(2_100)
    );
    files.push((
        "post/too-many-nodes.xml",
        request("_vec0001", false, SP, &many),
    ));

    // Tampering after signing.
    files.push((
        "post/digest-mismatch.xml",
        signed.replacen(" ForceAuthn=\"true\"", "", 1),
    ));
    let sv = signed.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut tampered = signed.clone();
    let flipped = if &signed[sv + 10..sv + 11] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(sv + 10..sv + 11, flipped);
    files.push(("post/signature-value-tampered.xml", tampered));
    files.push(("post/two-signatures.xml", insert_after_issuer(&signed, sig)));

    // Time.
    let expired = base_request().replace(ISSUE_INSTANT, "2026-11-18T10:00:00Z");
    files.push(("post/expired.xml", sign(&expired, key, alg)?));
    let future = base_request().replace(ISSUE_INSTANT, "2026-11-18T11:10:00Z");
    files.push(("post/from-future.xml", sign(&future, key, alg)?));
    Ok(())
}

fn root_c14n(xml: &str) -> Res<String> {
    let doc = parse(xml, Limits::default())?;
    Ok(canonicalize(doc.root_element(), None, &[]))
}

fn algorithm_vectors(key: &SigningKey, files: &mut Files) -> Res<()> {
    let base = base_request();
    let c14n = root_c14n(&base)?;
    let with = |spec: SigSpec| -> Res<String> { Ok(insert_after_issuer(&base, &spec.build(key)?)) };

    files.push((
        "post/rsa-sha1.xml",
        sign(&base, key, SignatureAlgorithm::RsaSha1)?,
    ));
    let mut sha1_digest = SigSpec::standard("#_vec0001", &c14n);
    sha1_digest.references[0].digest = DigestAlgorithm::Sha1;
    files.push(("post/sha1-digest.xml", with(sha1_digest)?));
    // HMAC "keyed" with the public certificate: the classic algorithm confusion.
    let mut hmac = SigSpec::standard("#_vec0001", &c14n);
    hmac.signature_method = "http://www.w3.org/2000/09/xmldsig#hmac-sha1".into();
    files.push(("post/hmac-sha1.xml", with(hmac)?));

    let xpath = "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">\
                 <ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>";
    let mut spec = SigSpec::standard("#_vec0001", &c14n);
    spec.references[0].transforms = vec![ENVELOPED_T.into(), xpath.into(), EXC_T.into()];
    files.push(("post/xpath-transform.xml", with(spec)?));
    let xslt = "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\">\
                <xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">\
                <xsl:template match=\"/\"><xsl:copy-of select=\"document('file:///etc/passwd')\"></xsl:copy-of>\
                </xsl:template></xsl:stylesheet></ds:Transform>";
    let mut spec = SigSpec::standard("#_vec0001", &c14n);
    spec.references[0].transforms = vec![ENVELOPED_T.into(), xslt.into()];
    files.push(("post/xslt-transform.xml", with(spec)?));
    let mut spec = SigSpec::standard("#_vec0001", &c14n);
    spec.references[0].transforms = vec![EXC_T.into()];
    files.push(("post/transforms-without-enveloped.xml", with(spec)?));

    let mut spec = SigSpec::standard("#_vec0001", &c14n);
    spec.canonicalization = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315".into();
    files.push(("post/inclusive-c14n.xml", with(spec)?));
    let mut spec = SigSpec::standard("#_vec0001", &c14n);
    spec.canonicalization = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments".into();
    files.push(("post/exc-c14n-with-comments.xml", with(spec)?));
    Ok(())
}

const ENVELOPED_T: &str = "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></ds:Transform>";
const EXC_T: &str =
    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>";

/// An enveloped signature assembled piece by piece, so that each vector can
/// change exactly one piece.
struct SigSpec {
    canonicalization: String,
    signature_method: String,
    /// The RSA algorithm actually used for SignatureValue.
    crypto: SignatureAlgorithm,
    references: Vec<RefSpec>,
}

#[derive(Clone)]
struct RefSpec {
    uri: String,
    /// Full `ds:Transform` elements, in canonical form.
    transforms: Vec<String>,
    digest: DigestAlgorithm,
    /// The canonical octets the digest is computed over.
    canonical: String,
}

impl SigSpec {
    /// What `dsig` itself writes: exc-c14n, RSA-SHA256, SHA-256, enveloped +
    /// exc-c14n transforms.
    fn standard(uri: &str, canonical: &str) -> Self {
        SigSpec {
            canonicalization: ns::EXC_C14N.into(),
            signature_method: ns::RSA_SHA256.into(),
            crypto: SignatureAlgorithm::RsaSha256,
            references: vec![RefSpec {
                uri: uri.into(),
                transforms: vec![ENVELOPED_T.into(), EXC_T.into()],
                digest: DigestAlgorithm::Sha256,
                canonical: canonical.into(),
            }],
        }
    }

    /// The `ds:Signature` element, in canonical form (so the SignedInfo signed
    /// here is exactly the exc-c14n of the SignedInfo in the document).
    fn build(&self, key: &SigningKey) -> Res<String> {
        let mut inner = format!(
            "<ds:CanonicalizationMethod Algorithm=\"{}\"></ds:CanonicalizationMethod>\
             <ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod>",
            self.canonicalization, self.signature_method
        );
        for r in &self.references {
            inner.push_str(&format!(
                "<ds:Reference URI=\"{}\"><ds:Transforms>{}</ds:Transforms>\
                 <ds:DigestMethod Algorithm=\"{}\"></ds:DigestMethod><ds:DigestValue>{}</ds:DigestValue></ds:Reference>",
                r.uri,
                r.transforms.concat(),
                r.digest.uri(),
                B64.encode(r.digest.digest(r.canonical.as_bytes()))
            ));
        }
        let signed_info = format!(
            "<ds:SignedInfo xmlns:ds=\"{}\">{inner}</ds:SignedInfo>",
            ns::DS
        );
        let value = B64.encode(key.sign(self.crypto, signed_info.as_bytes())?);
        Ok(format!(
            "<ds:Signature xmlns:ds=\"{ds}\"><ds:SignedInfo>{inner}</ds:SignedInfo>\
             <ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}\
             </ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
            ds = ns::DS,
            cert = key.certificate().to_base64(),
        ))
    }
}

/// `SAMLRequest=...[&RelayState=...][&SigAlg=...&Signature=...]`, signed over
/// the raw parameters as the Redirect binding prescribes. `declared` is the
/// SigAlg URI written into the query, `used` the algorithm actually signing.
fn redirect_query(
    xml: &str,
    relay: Option<&str>,
    sig: Option<(&str, SignatureAlgorithm)>,
    key: &SigningKey,
) -> Res<String> {
    let mut q = format!(
        "SAMLRequest={}",
        percent_encode(&B64.encode(deflate(xml.as_bytes())))
    );
    if let Some(r) = relay {
        q.push_str(&format!("&RelayState={}", percent_encode(r)));
    }
    if let Some((declared, used)) = sig {
        q.push_str(&format!("&SigAlg={}", percent_encode(declared)));
        let value = key.sign(used, q.as_bytes())?;
        q.push_str(&format!(
            "&Signature={}",
            percent_encode(&B64.encode(value))
        ));
    }
    Ok(q)
}

fn redirect_vectors(key: &SigningKey, files: &mut Files) -> Res<()> {
    let base = base_request();
    let sha256 = SignatureAlgorithm::RsaSha256;
    let relay = Some("/apps/console?tab=1&x=y");
    let signed = redirect_query(&base, relay, Some((ns::RSA_SHA256, sha256)), key)?;
    files.push(("redirect/signed-ok.query", signed.clone()));
    files.push((
        "redirect/unsigned-ok.query",
        redirect_query(&base, relay, None, key)?,
    ));
    files.push((
        "redirect/relaystate-tampered.query",
        signed.replacen("%2Fapps%2Fconsole", "%2Fapps%2Fbilling", 1),
    ));
    let sig_at = signed.find("&Signature=").unwrap();
    files.push((
        "redirect/incomplete-signature.query",
        signed[..sig_at].to_owned(),
    ));

    let md5 = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5";
    files.push((
        "redirect/sigalg-unknown.query",
        redirect_query(&base, None, Some((md5, sha256)), key)?,
    ));
    let mismatched = redirect_query(
        &base,
        None,
        Some((ns::RSA_SHA256, SignatureAlgorithm::RsaSha1)),
        key,
    )?;
    files.push(("redirect/sigalg-sha256-signed-sha1.query", mismatched));
    let sha1 = redirect_query(
        &base,
        None,
        Some((ns::RSA_SHA1, SignatureAlgorithm::RsaSha1)),
        key,
    )?;
    files.push(("redirect/rsa-sha1.query", sha1));

    let xml_signed = sign(&base, key, sha256)?;
    files.push((
        "redirect/embedded-xml-signature.query",
        redirect_query(&xml_signed, None, None, key)?,
    ));
    let xxe = format!(
        "<!DOCTYPE samlp:AuthnRequest [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n{}",
        request("_vec0001", false, "&xxe;", "")
    );
    files.push(("redirect/xxe.query", redirect_query(&xxe, None, None, key)?));

    // 4 MiB of whitespace inside the root inflates far past the 64 KiB limit
    // from about 4 KiB of DEFLATE data.
    let bomb = base.replacen(
        "</samlp:AuthnRequest>",
        &format!("{}</samlp:AuthnRequest>", " ".repeat(4 << 20)),
        1,
    );
    files.push((
        "redirect/deflate-bomb.query",
        redirect_query(&bomb, None, None, key)?,
    ));

    // Base64 cut to a length that is not a multiple of 4 (the DEFLATE stream is
    // cut too, but base64 fails first).
    let mut b64 = B64.encode(deflate(base.as_bytes()));
    b64.truncate((b64.len() - 4) / 4 * 4 + 2);
    files.push((
        "redirect/truncated-base64.query",
        format!("SAMLRequest={}", percent_encode(&b64)),
    ));
    Ok(())
}

fn response(assertion_id: &str) -> Response {
    Response::for_sso(SsoParams {
        now: now(),
        response_id: "_r0001".into(),
        assertion_id: assertion_id.into(),
        session_index: "_s0001".into(),
        idp_entity_id: IDP.into(),
        acs_url: ACS_URL.into(),
        audience: SP.into(),
        name_id: NameId {
            value: "alice@example.com".into(),
            format: EMAIL_FMT.into(),
        },
        in_response_to: Some("_vec0001".into()),
        authn_instant: now() - time::Duration::minutes(1),
        session_not_on_or_after: None,
        attributes: vec![],
    })
}

fn assertion_of(xml: &str) -> &str {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    &xml[start..end]
}

fn response_vectors(key: &SigningKey, files: &mut Files) -> Res<()> {
    let sha256 = SignatureAlgorithm::RsaSha256;
    let opts = |sign_assertion, sign_response| SigningOptions {
        sign_assertion,
        sign_response,
        algorithm: sha256,
    };
    let resp = response("_a0001");
    let root_signed = resp.sign(key, opts(false, true))?.xml;
    let assertion_signed = resp.sign(key, opts(true, false))?.xml;
    files.push(("response/signed-ok.xml", root_signed.clone()));
    files.push(("response/assertion-signed-ok.xml", assertion_signed.clone()));
    files.push((
        "response/both-signed.xml",
        resp.sign(key, opts(true, true))?.xml,
    ));

    // (c) A second Assertion (for mallory) after the one the Response signature covers.
    let evil = assertion_of(&root_signed)
        .replacen("_a0001", "_a0002", 1)
        .replace("alice@example.com", "mallory@example.com");
    let a_end = root_signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let mut second = root_signed.clone();
    second.insert_str(a_end, &evil);
    files.push(("response/second-assertion.xml", second));

    // An unsigned copy of the signed Assertion, same ID, naming mallory.
    let signed_assertion = assertion_of(&assertion_signed);
    let copy =
        without_signature(signed_assertion).replace("alice@example.com", "mallory@example.com");
    let a_end = assertion_signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let mut dup = assertion_signed.clone();
    dup.insert_str(a_end, &copy);
    files.push(("response/assertion-duplicated.xml", dup));
    Ok(())
}

fn sp_metadata(key: &SigningKey, doctype: &str, entity_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{doctype}<md:EntityDescriptor xmlns:md=\"{md}\" \
         xmlns:ds=\"{ds}\" entityID=\"{entity_id}\">\n  <md:SPSSODescriptor AuthnRequestsSigned=\"true\" \
         WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"{samlp}\">\n    <md:KeyDescriptor use=\"signing\">\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </md:KeyDescriptor>\n    <md:NameIDFormat>{EMAIL_FMT}</md:NameIDFormat>\n    \
         <md:AssertionConsumerService Binding=\"{post}\" Location=\"{ACS_URL}\" index=\"0\" isDefault=\"true\"/>\n  \
         </md:SPSSODescriptor>\n</md:EntityDescriptor>\n",
        md = ns::MD,
        ds = ns::DS,
        samlp = ns::SAMLP,
        post = ns::BINDING_POST,
        cert = key.certificate().to_base64(),
    )
}

fn metadata_vectors(key: &SigningKey, files: &mut Files) {
    files.push(("metadata/sp-ok.xml", sp_metadata(key, "", SP)));
    let doctype =
        "<!DOCTYPE md:EntityDescriptor [\n  <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n";
    files.push(("metadata/xxe.xml", sp_metadata(key, doctype, "&xxe;")));
}
