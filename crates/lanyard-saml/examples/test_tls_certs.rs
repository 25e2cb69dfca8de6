//! Writes throwaway TLS material for the PostgreSQL TLS tests. TEST-ONLY:
//! the keys are made fresh on every run, kept in plain files and thrown away
//! with the server; nothing here is fit for a real deployment.
//!
//! Usage: `cargo run -q -p lanyard-saml --example test_tls_certs -- DIR`
//! (`scripts/with-postgres.sh` runs it). Writes into DIR, created if missing:
//!
//! * `ca.pem`: a test CA certificate (its key is not kept);
//! * `server.crt`, `server.key`: a server certificate signed by that CA for
//!   DNS `localhost` and IP `127.0.0.1`, and its key (PKCS#8 PEM, mode 0600,
//!   as PostgreSQL requires of `ssl_key_file`);
//! * `other-ca.pem`: a second, unrelated CA, which must not verify the
//!   server certificate (the tests' negative case).
//!
//! Keys are ECDSA P-256, made and signed by rcgen on aws-lc-rs.

use std::fs::{self, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: test_tls_certs DIR")?;
    let dir = Path::new(&dir);
    fs::create_dir_all(dir)?;

    let ca_key = KeyPair::generate()?;
    let ca = ca_params("Lanyard test CA (throwaway)")?.self_signed(&ca_key)?;

    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    server.distinguished_name = name("localhost");
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    let server_key = KeyPair::generate()?;
    let server_cert = server.signed_by(&server_key, &ca, &ca_key)?;

    let other_key = KeyPair::generate()?;
    let other = ca_params("Lanyard other test CA (throwaway)")?.self_signed(&other_key)?;

    fs::write(dir.join("ca.pem"), ca.pem())?;
    fs::write(dir.join("server.crt"), server_cert.pem())?;
    write_private(&dir.join("server.key"), &server_key.serialize_pem())?;
    fs::write(dir.join("other-ca.pem"), other.pem())?;
    Ok(())
}

fn ca_params(common_name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::new())?;
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Writes `contents` to a file only its owner can read, also when it existed.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())
}
