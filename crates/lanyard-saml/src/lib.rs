//! SAML 2.0 for Lanyard's identity provider, with no IO, no async and no clock.
//!
//! This crate owns the protocol: building and signing Responses ([`response`]),
//! exclusive canonicalization ([`c14n`]) and XML-DSig ([`dsig`]), AuthnRequest
//! intake from the Redirect and POST bindings ([`authn_request`], [`binding`]),
//! metadata in both directions ([`metadata`]), keys and certificates ([`keys`]),
//! and hardened XML parsing ([`xml`]). Time and randomness are always parameters,
//! and no input can make it panic.

// No input may make this crate panic: these are errors in library code. Tests,
// examples and benches (separate targets) may use them.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod authn_request;
pub mod binding;
pub mod c14n;
pub mod dsig;
pub mod error;
pub mod instant;
pub mod keys;
pub mod metadata;
pub mod ns;
pub mod response;
pub mod sp;
pub mod xml;

pub use authn_request::{
    Binding, RequestLimits, SpPolicy, UnverifiedAuthnRequest, VerifiedAuthnRequest, VerifyContext,
};
pub use error::{Error, Result};
pub use keys::{
    AlgorithmPolicy, Certificate, CertificateRequest, RsaBits, SignatureAlgorithm, SigningKey,
};
pub use metadata::{AcsEndpoint, IdpMetadata, SpMetadata};
pub use response::{
    Assertion, Attribute, NameId, Outgoing, Response, SignedResponse, SigningOptions, SsoParams,
    StatusResponse,
};
