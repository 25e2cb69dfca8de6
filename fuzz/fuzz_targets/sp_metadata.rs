//! SP metadata upload: never panics; what parses has an entity ID and an ACS.
#![no_main]

use lanyard_saml::SpMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(md) = SpMetadata::parse(text) {
        assert!(!md.entity_id.is_empty());
        assert!(!md.acs.is_empty());
    }
});
