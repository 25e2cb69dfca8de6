//! Signing keys, certificates and the signature-algorithm allowlist.
//!
//! RSA is done by aws-lc-rs (constant-time). The private key is held inside
//! [`SigningKey`], whose `Debug` is redacted; the only way to get key bytes out is
//! [`SigningKey::private_key_pem`], meant for the store and nothing else.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::ns;

/// Signature algorithms we produce or accept. Anything else is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256 (the default).
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-1: a legacy option for SPs that know nothing else.
    RsaSha1,
}

impl SignatureAlgorithm {
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => ns::RSA_SHA256,
            Self::RsaSha1 => ns::RSA_SHA1,
        }
    }

    pub fn from_uri(uri: &str) -> Result<Self> {
        match uri {
            ns::RSA_SHA256 => Ok(Self::RsaSha256),
            ns::RSA_SHA1 => Ok(Self::RsaSha1),
            other => Err(Error::DisallowedSignatureAlgorithm(other.to_owned())),
        }
    }

    /// The digest paired with this signature algorithm in our own signatures.
    pub fn digest(self) -> DigestAlgorithm {
        match self {
            Self::RsaSha256 => DigestAlgorithm::Sha256,
            Self::RsaSha1 => DigestAlgorithm::Sha1,
        }
    }
}

/// Digest algorithms for XML-DSig References.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Sha1,
}

impl DigestAlgorithm {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha256 => ns::SHA256,
            Self::Sha1 => ns::SHA1,
        }
    }

    pub fn from_uri(uri: &str) -> Result<Self> {
        match uri {
            ns::SHA256 => Ok(Self::Sha256),
            ns::SHA1 => Ok(Self::Sha1),
            other => Err(Error::DisallowedDigestAlgorithm(other.to_owned())),
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Self::Sha256 => &aws_lc_rs::digest::SHA256,
            Self::Sha1 => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        };
        aws_lc_rs::digest::digest(alg, data).as_ref().to_vec()
    }
}

/// Which algorithms a verifier accepts. SHA-1 is off unless asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlgorithmPolicy {
    pub allow_sha1: bool,
}

impl AlgorithmPolicy {
    pub fn check_signature(&self, alg: SignatureAlgorithm) -> Result<()> {
        if alg == SignatureAlgorithm::RsaSha1 && !self.allow_sha1 {
            return Err(Error::DisallowedSignatureAlgorithm(alg.uri().to_owned()));
        }
        Ok(())
    }

    pub fn check_digest(&self, alg: DigestAlgorithm) -> Result<()> {
        if alg == DigestAlgorithm::Sha1 && !self.allow_sha1 {
            return Err(Error::DisallowedDigestAlgorithm(alg.uri().to_owned()));
        }
        Ok(())
    }
}

/// RSA modulus sizes we generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaBits {
    B2048,
    B3072,
}

/// Minimum RSA size we sign with or accept from an SP.
pub const MIN_RSA_BITS: usize = 2048;

/// An X.509 certificate with the facts we need from it.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    /// DER `RSAPublicKey` (PKCS#1) taken from the SubjectPublicKeyInfo.
    rsa_public_key: Vec<u8>,
    bits: usize,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    subject: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("bits", &self.bits)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Parses a DER certificate holding an RSA key.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let (rest, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Error::InvalidCertificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(Error::InvalidCertificate(
                "trailing data after certificate".into(),
            ));
        }
        let spki = cert.public_key();
        let bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size(),
            _ => {
                return Err(Error::InvalidCertificate(
                    "the public key is not an RSA key".into(),
                ))
            }
        };
        let ts = |t: x509_parser::time::ASN1Time| {
            OffsetDateTime::from_unix_timestamp(t.timestamp())
                .map_err(|_| Error::InvalidCertificate("validity date out of range".into()))
        };
        Ok(Certificate {
            der: der.to_vec(),
            rsa_public_key: spki.subject_public_key.data.to_vec(),
            bits,
            not_before: ts(cert.validity().not_before)?,
            not_after: ts(cert.validity().not_after)?,
            subject: cert.subject().to_string(),
        })
    }

    /// Parses one PEM certificate (`-----BEGIN CERTIFICATE-----`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let block = pem_block(pem, &["CERTIFICATE"])
            .map_err(|e| Error::InvalidCertificate(e.to_string()))?;
        Self::from_der(&block.1)
    }

    /// Parses the base64 body of a `ds:X509Certificate` element (whitespace allowed).
    pub fn from_base64(b64: &str) -> Result<Self> {
        let clean: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map_err(|_| Error::InvalidCertificate("X509Certificate is not valid base64".into()))?;
        Self::from_der(&der)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Base64 of the DER, on one line, as it goes into `ds:X509Certificate`.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.der)
    }

    pub fn to_pem(&self) -> String {
        to_pem("CERTIFICATE", &self.der)
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// SHA-256 fingerprint, lowercase hex with colons.
    pub fn sha256_fingerprint(&self) -> String {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.der);
        let hex: Vec<String> = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        hex.join(":")
    }

    /// Verifies an RSA PKCS#1 v1.5 signature over `msg` made with this
    /// certificate's key. Keys below [`MIN_RSA_BITS`] never verify.
    pub fn verify(&self, alg: SignatureAlgorithm, msg: &[u8], sig: &[u8]) -> Result<()> {
        let params = match alg {
            SignatureAlgorithm::RsaSha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SignatureAlgorithm::RsaSha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        };
        UnparsedPublicKey::new(params, &self.rsa_public_key)
            .verify(msg, sig)
            .map_err(|_| Error::BadSignature)
    }
}

/// What a generated certificate says about itself.
#[derive(Debug, Clone)]
pub struct CertificateRequest {
    pub common_name: String,
    pub bits: RsaBits,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Serial number (positive; the caller supplies the randomness).
    pub serial: [u8; 16],
}

/// An RSA private key with its certificate.
pub struct SigningKey {
    key: KeyPair,
    certificate: Certificate,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("certificate", &self.certificate)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// Generates a key pair and a self-signed certificate for it.
    pub fn generate(req: &CertificateRequest) -> Result<Self> {
        let size = match req.bits {
            RsaBits::B2048 => KeySize::Rsa2048,
            RsaBits::B3072 => KeySize::Rsa3072,
        };
        let key =
            KeyPair::generate(size).map_err(|_| Error::InvalidKey("generation failed".into()))?;
        let pkcs8 = key
            .as_der()
            .map_err(|_| Error::InvalidKey("cannot encode key".into()))?;
        let rc_key = rcgen::KeyPair::try_from(pkcs8.as_ref())
            .map_err(|e| Error::InvalidKey(e.to_string()))?;
        let mut params = rcgen::CertificateParams::default();
        params.not_before = req.not_before;
        params.not_after = req.not_after;
        let mut serial = req.serial;
        if let Some(first) = serial.first_mut() {
            *first &= 0x7f; // keep it positive
        }
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, req.common_name.as_str());
        params.distinguished_name = dn;
        let cert = params
            .self_signed(&rc_key)
            .map_err(|e| Error::InvalidKey(e.to_string()))?;
        let certificate = Certificate::from_der(cert.der())?;
        Ok(SigningKey { key, certificate })
    }

    /// Loads a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`)
    /// and its PEM certificate; they must match and be at least 2048 bits.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self> {
        let (label, der) = pem_block(key_pem, &["PRIVATE KEY", "RSA PRIVATE KEY"])
            .map_err(|e| Error::InvalidKey(e.to_string()))?;
        let certificate = Certificate::from_pem(cert_pem)?;
        let key = if label == "PRIVATE KEY" {
            KeyPair::from_pkcs8(&der)
        } else {
            KeyPair::from_der(&der)
        }
        .map_err(|e| {
            // aws-lc refuses small RSA keys while parsing; say so by the rule
            // (the certificate's size stands in for the unreadable key's).
            if e.to_string() == "TooSmall" {
                Error::KeyTooSmall {
                    bits: certificate.bits().min(MIN_RSA_BITS - 1),
                    min: MIN_RSA_BITS,
                }
            } else {
                Error::InvalidKey(e.to_string())
            }
        })?;
        Self::pair(key, certificate)
    }

    fn pair(key: KeyPair, certificate: Certificate) -> Result<Self> {
        let bits = key.public_modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(Error::KeyTooSmall {
                bits,
                min: MIN_RSA_BITS,
            });
        }
        if key.public_key().as_ref() != certificate.rsa_public_key.as_slice() {
            return Err(Error::KeyCertificateMismatch);
        }
        Ok(SigningKey { key, certificate })
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    pub fn bits(&self) -> usize {
        self.key.public_modulus_len() * 8
    }

    /// PKCS#8 PEM of the private key, for the key store only.
    pub fn private_key_pem(&self) -> Result<String> {
        let der = self
            .key
            .as_der()
            .map_err(|_| Error::InvalidKey("cannot encode key".into()))?;
        Ok(to_pem("PRIVATE KEY", der.as_ref()))
    }

    /// Signs `msg` (the canonical SignedInfo, or a redirect query string).
    pub fn sign(&self, alg: SignatureAlgorithm, msg: &[u8]) -> Result<Vec<u8>> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        match alg {
            SignatureAlgorithm::RsaSha256 => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                self.key
                    .sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| Error::SigningFailed)?;
            }
            SignatureAlgorithm::RsaSha1 => {
                let pkcs8 = self.key.as_der().map_err(|_| Error::SigningFailed)?;
                sig = lanyard_rsa_sha1::sign(pkcs8.as_ref(), msg)
                    .map_err(|_| Error::SigningFailed)?;
            }
        }
        Ok(sig)
    }
}

/// Finds the first PEM block whose label is one of `labels`.
fn pem_block(text: &str, labels: &[&str]) -> std::result::Result<(String, Vec<u8>), String> {
    for pem in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
        let pem = pem.map_err(|e| format!("not valid PEM ({e})"))?;
        if labels.contains(&pem.label.as_str()) {
            return Ok((pem.label, pem.contents));
        }
    }
    Err(format!("no PEM block labelled {}", labels.join(" or ")))
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    pub(crate) fn request(cn: &str) -> CertificateRequest {
        let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        CertificateRequest {
            common_name: cn.into(),
            bits: RsaBits::B2048,
            not_before: now,
            not_after: now + time::Duration::days(365 * 5),
            serial: [7; 16],
        }
    }

    /// One generated key shared by the crate's tests (RSA generation is slow).
    pub(crate) fn test_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate(&request("Lanyard test")).unwrap())
    }

    #[test]
    fn generated_certificate_has_requested_fields() {
        let key = test_key();
        let cert = key.certificate();
        assert_eq!(cert.bits(), 2048);
        assert_eq!(key.bits(), 2048);
        assert_eq!(cert.subject(), "CN=Lanyard test");
        assert_eq!(cert.not_before().unix_timestamp(), 1_790_000_000);
        assert_eq!(
            cert.not_after() - cert.not_before(),
            time::Duration::days(365 * 5)
        );
        assert_eq!(cert.sha256_fingerprint().len(), 32 * 3 - 1);
    }

    #[test]
    fn pem_round_trip_and_sign_verify_both_algorithms() {
        let key = test_key();
        let again =
            SigningKey::from_pem(&key.private_key_pem().unwrap(), &key.certificate().to_pem())
                .unwrap();
        for alg in [SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha1] {
            let sig = again.sign(alg, b"hello").unwrap();
            key.certificate().verify(alg, b"hello", &sig).unwrap();
            assert_eq!(
                key.certificate().verify(alg, b"hellO", &sig),
                Err(Error::BadSignature)
            );
        }
        let sig256 = key.sign(SignatureAlgorithm::RsaSha256, b"x").unwrap();
        assert_eq!(
            key.certificate()
                .verify(SignatureAlgorithm::RsaSha1, b"x", &sig256),
            Err(Error::BadSignature)
        );
    }

    #[test]
    fn mismatched_key_and_certificate_are_rejected() {
        let other = SigningKey::generate(&request("other")).unwrap();
        let err = SigningKey::from_pem(
            &test_key().private_key_pem().unwrap(),
            &other.certificate().to_pem(),
        )
        .unwrap_err();
        assert_eq!(err, Error::KeyCertificateMismatch);
    }

    #[test]
    fn garbage_pem_is_rejected_with_reason() {
        let err = SigningKey::from_pem("nope", "nope").unwrap_err();
        assert_eq!(
            err,
            Error::InvalidKey("no PEM block labelled PRIVATE KEY or RSA PRIVATE KEY".into())
        );
        let err = Certificate::from_base64("!!!").unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate("X509Certificate is not valid base64".into())
        );
    }

    #[test]
    fn debug_output_never_contains_the_key() {
        let s = format!("{:?}", test_key());
        assert!(s.contains("<redacted>"));
        assert!(!s.contains("PRIVATE"));
    }

    #[test]
    fn sha1_is_refused_by_default_policy() {
        let p = AlgorithmPolicy::default();
        assert_eq!(
            p.check_signature(SignatureAlgorithm::RsaSha1),
            Err(Error::DisallowedSignatureAlgorithm(ns::RSA_SHA1.into()))
        );
        assert!(AlgorithmPolicy { allow_sha1: true }
            .check_signature(SignatureAlgorithm::RsaSha1)
            .is_ok());
    }
}
