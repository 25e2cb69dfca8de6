//! HTTP-POST intake: the input as the `SAMLRequest` form value, and the input as
//! the XML that the form value encodes.
#![no_main]

use base64::Engine as _;
use lanyard_fuzz::{limits, verify};
use lanyard_saml::UnverifiedAuthnRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = std::str::from_utf8(data) {
        if let Ok(req) = UnverifiedAuthnRequest::from_post(form, Some("relay"), limits()) {
            verify(req);
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(req) = UnverifiedAuthnRequest::from_post(&b64, None, limits()) {
        verify(req);
    }
});
