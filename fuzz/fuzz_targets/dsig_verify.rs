//! XML-DSig verification with the test vectors' certificate: the root signature,
//! and every enveloped signature found on any element. Whatever verifies must be
//! content that the test key really signed.
#![no_main]

use lanyard_fuzz::{assert_signed_content_is_known, certificate};
use lanyard_saml::dsig::{verify_element_signature, verify_root_signature};
use lanyard_saml::xml::{parse, Limits};
use lanyard_saml::{ns, AlgorithmPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse(xml, Limits::default()) else {
        return;
    };
    let certs = std::slice::from_ref(certificate());
    let policy = AlgorithmPolicy { allow_sha1: true };
    if let Ok(v) = verify_root_signature(&doc, certs, policy) {
        assert_signed_content_is_known(xml, &v);
    }
    let signed = doc
        .descendants()
        .filter(|n| n.children().any(|c| c.has_tag_name((ns::DS, "Signature"))))
        .take(8);
    for element in signed {
        let _ = verify_element_signature(element, certs, policy);
    }
});
