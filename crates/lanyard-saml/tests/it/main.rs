//! lanyard-saml's integration tests, one binary (ripgrep's layout): a module
//! per area (intake, signing, verification, metadata, the hostile vectors,
//! property tests), shared fixtures in [`common`] and the vector generator in
//! [`vector_gen`].

mod common;
mod vector_gen;

mod authn_request;
mod fuzz_props;
mod metadata;
mod response_signing;
mod sp_verify;
mod vectors;
