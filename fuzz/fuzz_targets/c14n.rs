//! Exclusive canonicalization: never panics, its output is well-formed XML, and
//! canonicalizing the output again changes nothing (for the whole document, a
//! subtree that inherits namespaces, and with an InclusiveNamespaces list).
#![no_main]

use lanyard_saml::c14n::canonicalize;
use lanyard_saml::xml::{parse, Limits};
use lanyard_saml::Error;
use libfuzzer_sys::fuzz_target;

const ROOMY: Limits = Limits {
    max_bytes: usize::MAX,
    max_depth: 1 << 16,
    max_nodes: u32::MAX,
};
const INCLUSIVE: &[&str] = &["#default", "xs", "saml"];

fn check_fixpoint(canonical: &str, inclusive: &[&str]) {
    match parse(canonical, ROOMY) {
        Ok(again) => {
            let twice = canonicalize(again.root_element(), None, inclusive);
            assert_eq!(twice, canonical, "c14n is not a fixpoint");
        }
        Err(Error::TooManyNodes { .. } | Error::TooDeep { .. }) => {}
        Err(e) => panic!("c14n output does not parse: {e}\n{canonical}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse(xml, Limits::default()) else {
        return;
    };
    let root = doc.root_element();
    check_fixpoint(&canonicalize(root, None, &[]), &[]);
    check_fixpoint(&canonicalize(root, None, INCLUSIVE), INCLUSIVE);
    let elements = doc.descendants().filter(|n| n.is_element()).count();
    if let Some(sub) = doc
        .descendants()
        .filter(|n| n.is_element())
        .nth(data.len() % elements.max(1))
    {
        check_fixpoint(&canonicalize(sub, None, &[]), &[]);
    }
});
