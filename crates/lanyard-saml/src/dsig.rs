//! XML-DSig: enveloped signatures over our own documents, and strict verification
//! of enveloped signatures on documents sent to us.
//!
//! Verification accepts exactly one shape: one `ds:Signature` in the whole
//! document, a direct child of the root element, one Reference pointing at the
//! root's unique ID, transforms enveloped-signature + exc-c14n, algorithms from
//! the [`AlgorithmPolicy`] allowlist, and a key taken from configuration (KeyInfo
//! is ignored). Anything else is rejected with a specific [`Error`]. Because the
//! signed element is the whole document, signature-wrapping has nowhere to hide.

use base64::Engine as _;
use roxmltree::{Document, Node};

use crate::c14n::canonicalize;
use crate::error::{Error, Result};
use crate::keys::{AlgorithmPolicy, Certificate, DigestAlgorithm, SignatureAlgorithm, SigningKey};
use crate::ns;
use crate::xml::{child, children};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Builds the `ds:Signature` element for an element with ID `id` whose canonical
/// form (without the signature) is `canonical`. The returned text is itself in
/// canonical form, so it can be inserted into both the document and the
/// canonical form of an enclosing element.
pub(crate) fn signature_element(
    key: &SigningKey,
    cert_b64: &str,
    alg: SignatureAlgorithm,
    id: &str,
    canonical: &str,
) -> Result<String> {
    let digest_alg = alg.digest();
    let digest = B64.encode(digest_alg.digest(canonical.as_bytes()));
    let mut inner = String::with_capacity(700);
    inner.push_str("<ds:CanonicalizationMethod Algorithm=\"");
    inner.push_str(ns::EXC_C14N);
    inner.push_str("\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"");
    inner.push_str(alg.uri());
    inner.push_str("\"></ds:SignatureMethod><ds:Reference URI=\"#");
    inner.push_str(id); // IDs we generate are NCNames: nothing to escape
    inner.push_str("\"><ds:Transforms><ds:Transform Algorithm=\"");
    inner.push_str(ns::ENVELOPED);
    inner.push_str("\"></ds:Transform><ds:Transform Algorithm=\"");
    inner.push_str(ns::EXC_C14N);
    inner.push_str("\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"");
    inner.push_str(digest_alg.uri());
    inner.push_str("\"></ds:DigestMethod><ds:DigestValue>");
    inner.push_str(&digest);
    inner.push_str("</ds:DigestValue></ds:Reference></ds:SignedInfo>");

    let signed_info_c14n = format!("<ds:SignedInfo xmlns:ds=\"{}\">{inner}", ns::DS);
    let sig = B64.encode(key.sign(alg, signed_info_c14n.as_bytes())?);

    let mut out = String::with_capacity(inner.len() + sig.len() + cert_b64.len() + 250);
    out.push_str("<ds:Signature xmlns:ds=\"");
    out.push_str(ns::DS);
    out.push_str("\"><ds:SignedInfo>");
    out.push_str(&inner);
    out.push_str("<ds:SignatureValue>");
    out.push_str(&sig);
    out.push_str("</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
    out.push_str(cert_b64);
    out.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>");
    Ok(out)
}

/// Facts about a verified signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub algorithm: SignatureAlgorithm,
    pub digest: DigestAlgorithm,
}

/// Counts the `ds:Signature` elements anywhere in the document.
pub fn count_signatures(doc: &Document<'_>) -> usize {
    doc.descendants()
        .filter(|n| n.is_element() && n.has_tag_name((ns::DS, "Signature")))
        .count()
}

/// Verifies the enveloped signature of the root element of `doc` with one of
/// `certs`; the document must hold no other signature. Fails with
/// [`Error::SignatureMissing`] when there is none.
pub fn verify_root_signature(
    doc: &Document<'_>,
    certs: &[Certificate],
    policy: AlgorithmPolicy,
) -> Result<VerifiedSignature> {
    let root = doc.root_element();
    match count_signatures(doc) {
        0 => return Err(Error::SignatureMissing),
        1 => {}
        n => return Err(Error::UnexpectedSignatureCount(n)),
    }
    if !root
        .children()
        .any(|c| c.has_tag_name((ns::DS, "Signature")))
    {
        return Err(Error::SignatureNotOnRoot);
    }
    verify_element_signature(root, certs, policy)
}

/// Verifies the enveloped signature that is a direct child of `element` and
/// references `element` by its (document-unique) ID.
pub fn verify_element_signature(
    element: Node<'_, '_>,
    certs: &[Certificate],
    policy: AlgorithmPolicy,
) -> Result<VerifiedSignature> {
    let root = element;
    let sigs: Vec<Node<'_, '_>> = children(element, ns::DS, "Signature").collect();
    let sig = match sigs.as_slice() {
        [] => return Err(Error::SignatureMissing),
        [one] => *one,
        many => return Err(Error::UnexpectedSignatureCount(many.len())),
    };
    let root_id = root.attribute("ID").ok_or(Error::MissingAttribute {
        element: "signed element",
        attribute: "ID",
    })?;
    check_unique_id(root.document(), root_id)?;

    let signed_info =
        child(sig, ns::DS, "SignedInfo").ok_or(Error::MissingElement("ds:SignedInfo"))?;
    let c14n_method = child(signed_info, ns::DS, "CanonicalizationMethod")
        .ok_or(Error::MissingElement("ds:CanonicalizationMethod"))?;
    let c14n_alg = c14n_method.attribute("Algorithm").unwrap_or_default();
    if c14n_alg != ns::EXC_C14N {
        return Err(Error::DisallowedCanonicalization(c14n_alg.to_owned()));
    }
    let si_prefixes = inclusive_prefixes(c14n_method);

    let sig_method = child(signed_info, ns::DS, "SignatureMethod")
        .ok_or(Error::MissingElement("ds:SignatureMethod"))?;
    let algorithm =
        SignatureAlgorithm::from_uri(sig_method.attribute("Algorithm").unwrap_or_default())?;
    policy.check_signature(algorithm)?;

    let refs: Vec<Node<'_, '_>> = children(signed_info, ns::DS, "Reference").collect();
    let reference = match refs.as_slice() {
        [one] => *one,
        other => return Err(Error::ReferenceCount(other.len())),
    };
    let uri = reference.attribute("URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(root_id) {
        return Err(Error::ReferenceNotRoot {
            found: uri.to_owned(),
            expected: root_id.to_owned(),
        });
    }
    let ref_prefixes = check_transforms(reference)?;

    let digest_method =
        child(reference, ns::DS, "DigestMethod").ok_or(Error::MissingElement("ds:DigestMethod"))?;
    let digest =
        DigestAlgorithm::from_uri(digest_method.attribute("Algorithm").unwrap_or_default())?;
    policy.check_digest(digest)?;
    let digest_value =
        child(reference, ns::DS, "DigestValue").ok_or(Error::MissingElement("ds:DigestValue"))?;
    let expected = decode_b64(digest_value, "DigestValue")?;

    let prefix_refs: Vec<&str> = ref_prefixes.iter().map(String::as_str).collect();
    let canonical = canonicalize(root, Some(sig.id()), &prefix_refs);
    if digest.digest(canonical.as_bytes()) != expected {
        return Err(Error::DigestMismatch);
    }

    let sig_value =
        child(sig, ns::DS, "SignatureValue").ok_or(Error::MissingElement("ds:SignatureValue"))?;
    let sig_bytes = decode_b64(sig_value, "SignatureValue")?;
    let si_refs: Vec<&str> = si_prefixes.iter().map(String::as_str).collect();
    let si_canonical = canonicalize(signed_info, None, &si_refs);
    if certs.iter().any(|c| {
        c.verify(algorithm, si_canonical.as_bytes(), &sig_bytes)
            .is_ok()
    }) {
        Ok(VerifiedSignature { algorithm, digest })
    } else {
        Err(Error::BadSignature)
    }
}

/// Requires the transforms to be enveloped-signature followed by exc-c14n; returns
/// the exc-c14n InclusiveNamespaces PrefixList.
fn check_transforms(reference: Node<'_, '_>) -> Result<Vec<String>> {
    let transforms: Vec<Node<'_, '_>> = child(reference, ns::DS, "Transforms")
        .map(|t| children(t, ns::DS, "Transform").collect())
        .unwrap_or_default();
    let algs: Vec<&str> = transforms
        .iter()
        .map(|t| t.attribute("Algorithm").unwrap_or_default())
        .collect();
    if let Some(bad) = algs
        .iter()
        .find(|a| **a != ns::ENVELOPED && **a != ns::EXC_C14N)
    {
        return Err(Error::DisallowedTransform((*bad).to_owned()));
    }
    match (algs.as_slice(), transforms.as_slice()) {
        ([ns::ENVELOPED, ns::EXC_C14N], [_, exc]) => Ok(inclusive_prefixes(*exc)),
        _ => Err(Error::DisallowedTransform(format!(
            "sequence [{}] (expected enveloped-signature, exc-c14n)",
            algs.join(", ")
        ))),
    }
}

fn inclusive_prefixes(method: Node<'_, '_>) -> Vec<String> {
    child(method, ns::EC, "InclusiveNamespaces")
        .and_then(|n| n.attribute("PrefixList"))
        .map(|l| l.split_ascii_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn check_unique_id(doc: &Document<'_>, id: &str) -> Result<()> {
    let uses = doc
        .descendants()
        .filter(|n| n.is_element())
        .flat_map(|n| n.attributes())
        .filter(|a| {
            a.namespace().is_none() && matches!(a.name(), "ID" | "Id" | "id") && a.value() == id
        })
        .count();
    if uses > 1 {
        return Err(Error::DuplicateId(id.to_owned()));
    }
    Ok(())
}

fn decode_b64(node: Node<'_, '_>, field: &'static str) -> Result<Vec<u8>> {
    let text: String = node
        .children()
        .filter(|c| c.is_text())
        .flat_map(|c| c.text().unwrap_or_default().chars())
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    B64.decode(text).map_err(|_| Error::InvalidBase64 { field })
}

/// Signs the root element of an arbitrary document (an AuthnRequest, a test
/// vector): the signature goes right after the root's `saml:Issuer` child, or
/// first when there is none. Used for requests we send and for tests; responses
/// use the faster direct writer in `response`.
pub fn sign_root(xml: &str, key: &SigningKey, alg: SignatureAlgorithm) -> Result<String> {
    let doc = crate::xml::parse(xml, crate::xml::Limits::default())?;
    let root = doc.root_element();
    let id = root.attribute("ID").ok_or(Error::MissingAttribute {
        element: "root element",
        attribute: "ID",
    })?;
    let canonical = canonicalize(root, None, &[]);
    let sig = signature_element(key, &key.certificate().to_base64(), alg, id, &canonical)?;
    let at = match child(root, ns::SAML, "Issuer") {
        Some(issuer) => issuer.range().end,
        None => {
            let start = root.range().start;
            let open_end = xml
                .get(start..)
                .and_then(|s| s.find('>'))
                .ok_or(Error::MalformedXml("root tag".into()))?;
            if xml.get(start + open_end - 1..start + open_end) == Some("/") {
                return Err(Error::MissingElement("root element content"));
            }
            start + open_end + 1
        }
    };
    let mut out = String::with_capacity(xml.len() + sig.len());
    out.push_str(xml.get(..at).unwrap_or_default());
    out.push_str(&sig);
    out.push_str(xml.get(at..).unwrap_or_default());
    Ok(out)
}
