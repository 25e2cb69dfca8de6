//! HTTP-Redirect intake: the input as a raw query string, and the input as the
//! XML inside an (unsigned) query string.
#![no_main]

use base64::Engine as _;
use lanyard_fuzz::{limits, verify};
use lanyard_saml::binding::{deflate, percent_encode};
use lanyard_saml::UnverifiedAuthnRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = std::str::from_utf8(data) {
        if let Ok(req) = UnverifiedAuthnRequest::from_redirect_query(query, limits()) {
            verify(req);
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(deflate(data));
    let query = format!("SAMLRequest={}&RelayState=x", percent_encode(&b64));
    if let Ok(req) = UnverifiedAuthnRequest::from_redirect_query(&query, limits()) {
        verify(req);
    }
});
