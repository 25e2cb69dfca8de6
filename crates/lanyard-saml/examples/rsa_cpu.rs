//! The CPU time of one RSA-2048 signature as Lanyard makes it, for the
//! benchmark kit (`bench/sso_breakdown.sh`): "server CPU per SSO response
//! minus this" is what Lanyard spends beyond the signature.
//!
//! Usage: `cargo run --release -p lanyard-saml --example rsa_cpu -- [SECONDS]`
//!
//! One thread per core signs a SignedInfo-sized message for SECONDS
//! (default 3) through `SigningKey::sign` (aws-lc-rs, RSASSA-PKCS1-v1_5
//! with SHA-256: the same call an SSO response makes). The key is a fresh
//! RSA-2048 key with e = 65537, like every key Lanyard generates: the
//! cost of a signature depends on the modulus size, not on which key it
//! is. Prints `RSA_CPU threads=.. signs=.. cpu_ms_per_sign=.. signs_per_s=..`,
//! where the CPU time is the process's user + system time (from
//! /proc/self/stat), not wall time.

use std::time::{Duration, Instant};

use lanyard_saml::{CertificateRequest, RsaBits, SignatureAlgorithm, SigningKey};

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SECONDS must be a number"))
        .unwrap_or(3.0);
    let now = time::OffsetDateTime::now_utc();
    let key = SigningKey::generate(&CertificateRequest {
        common_name: "rsa-cpu".into(),
        bits: RsaBits::B2048,
        not_before: now,
        not_after: now + time::Duration::days(1),
        serial: [1; 16],
    })
    .expect("key generation");
    // A canonical SignedInfo of an SSO response is about 600 bytes.
    let msg = vec![b'x'; 600];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run = Duration::from_secs_f64(seconds);

    let cpu0 = process_cpu_seconds();
    let wall = Instant::now();
    let signs: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let start = Instant::now();
                    let mut n = 0u64;
                    while start.elapsed() < run {
                        key.sign(SignatureAlgorithm::RsaSha256, &msg)
                            .expect("signing");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    let elapsed = wall.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu0;
    println!(
        "RSA_CPU threads={threads} signs={signs} cpu_ms_per_sign={:.4} signs_per_s={:.0}",
        cpu * 1000.0 / signs as f64,
        signs as f64 / elapsed
    );
}

/// User + system CPU time of this process so far, in seconds.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses and may hold
    // spaces): state is field 3, utime 14 and stime 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields[i - 3].parse::<f64>().expect("stat field");
    // Linux reports these in USER_HZ, which is 100 on every Linux ABI.
    (ticks(14) + ticks(15)) / 100.0
}
