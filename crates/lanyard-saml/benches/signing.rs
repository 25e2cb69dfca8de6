//! Signed SAML responses per second on one core, against raw RSA-2048 signatures
//! per second with the same key, measured in the same run (interleaved rounds, so
//! both see the same machine state). Prints figures; never fails on timing.
//!
//! Run: `cargo bench -p lanyard-saml --bench signing`

#![allow(clippy::expect_used)] // a bench harness: failing loudly is right

use std::hint::black_box;
use std::time::{Duration, Instant};

use lanyard_saml::response::{Attribute, NameId, Response, SsoParams};
use lanyard_saml::{CertificateRequest, RsaBits, SignatureAlgorithm, SigningKey, SigningOptions};
use time::OffsetDateTime;

/// Rounds and their length. `cargo bench` passes `--bench`; without it (as
/// under `cargo test --all-targets`) or with `LANYARD_BENCH_QUICK=1` this is a
/// short smoke run that checks the kit works.
fn plan() -> (usize, Duration) {
    let full = std::env::args().any(|a| a == "--bench");
    if !full || std::env::var_os("LANYARD_BENCH_QUICK").is_some() {
        (1, Duration::from_millis(200))
    } else {
        (5, Duration::from_millis(1500))
    }
}

fn rate(round: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < round {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn response(now: OffsetDateTime, n: u64) -> Response {
    let uri = Some(lanyard_saml::ns::ATTRNAME_URI.to_owned());
    Response::for_sso(SsoParams {
        now,
        response_id: format!("_r{n:032x}"),
        assertion_id: format!("_a{n:032x}"),
        session_index: format!("_s{n:032x}"),
        idp_entity_id: "https://idp.example.com/saml2/aws".into(),
        acs_url: "https://signin.aws.amazon.com/saml".into(),
        audience: "urn:amazon:webservices".into(),
        name_id: NameId {
            value: "alice@example.com".into(),
            format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
        },
        in_response_to: None,
        authn_instant: now,
        session_not_on_or_after: None,
        attributes: vec![
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/Role".into(),
                name_format: uri.clone(),
                values: vec![
                    "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard".into(),
                    "arn:aws:iam::123456789012:role/ReadOnly,arn:aws:iam::123456789012:saml-provider/Lanyard".into(),
                ],
            },
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/RoleSessionName".into(),
                name_format: uri.clone(),
                values: vec!["alice@example.com".into()],
            },
            Attribute {
                name: "https://aws.amazon.com/SAML/Attributes/SessionDuration".into(),
                name_format: uri,
                values: vec!["3600".into()],
            },
        ],
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list
    }
    let now = OffsetDateTime::now_utc();
    let key = SigningKey::generate(&CertificateRequest {
        common_name: "bench".into(),
        bits: RsaBits::B2048,
        not_before: now,
        not_after: now + time::Duration::days(365),
        serial: [1; 16],
    })
    .expect("key generation");
    let signed_info = vec![b'x'; 620]; // the size of a canonical SignedInfo
    let mut n = 0u64;
    let (mut raw, mut assertion, mut both) = (vec![], vec![], vec![]);
    let both_opts = SigningOptions {
        sign_response: true,
        ..SigningOptions::default()
    };
    let size = response(now, 0)
        .sign(&key, SigningOptions::default())
        .expect("sign")
        .to_base64()
        .len();
    let (rounds, round) = plan();
    for _ in 0..rounds {
        raw.push(rate(round, || {
            black_box(
                key.sign(SignatureAlgorithm::RsaSha256, black_box(&signed_info))
                    .expect("sign"),
            );
        }));
        assertion.push(rate(round, || {
            n += 1;
            black_box(
                response(now, n)
                    .sign(&key, SigningOptions::default())
                    .expect("sign")
                    .to_base64(),
            );
        }));
        both.push(rate(round, || {
            n += 1;
            black_box(
                response(now, n)
                    .sign(&key, both_opts)
                    .expect("sign")
                    .to_base64(),
            );
        }));
    }
    let (raw, assertion, both) = (median(raw), median(assertion), median(both));
    println!("lanyard-saml signing benchmark (one core, RSA-2048, median of {rounds} rounds of {round:?})");
    println!("  raw RSA-2048 PKCS#1 SHA-256 signatures/s : {raw:>9.0}");
    println!(
        "  signed responses/s (Assertion signed)     : {assertion:>9.0}   ratio {:.3}",
        assertion / raw
    );
    println!("  signed responses/s (Response + Assertion) : {both:>9.0}   ratio {:.3} (two signatures; ideal 0.5)", both / raw);
    println!("  SAMLResponse size (base64)                : {size:>9} bytes");
}
