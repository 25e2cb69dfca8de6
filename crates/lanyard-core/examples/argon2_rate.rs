//! The raw rate of password verifications as Lanyard makes them, for the
//! benchmark kit (`bench/login_storm.sh`): issue #28 asks for password
//! sign-ins per second of at least 0.85 times this rate on the same cores,
//! so what a sign-in costs beyond its argon2id verification (HTTP, CSRF,
//! the database's lockout slots, the new session, the audit event) shows
//! as the gap between the two.
//!
//! Usage: `cargo run --release -p lanyard-core --example argon2_rate -- [SECONDS]`
//!
//! One password is hashed once through [`hash_password`] (argon2id,
//! 19 MiB, 2 passes, 1 lane: Lanyard's parameters, in the PHC string the
//! store keeps); then one thread per core
//! (`std::thread::available_parallelism`, as many as the server's password
//! semaphore allows at once) verifies the right password against it through
//! [`verify_password`], the call a sign-in makes, for SECONDS (default 3).
//! Prints
//! `ARGON2 threads=.. verifications=.. seconds=.. per_s=.. cpu_ms_per_verify=..`,
//! where `per_s` is verifications per second of wall time (all threads)
//! and the CPU time is the process's user + system time (from
//! /proc/self/stat), not wall time.

use std::time::{Duration, Instant};

use lanyard_core::password::{hash_password, verify_password};

const PASSWORD: &str = "bench-password-123";

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SECONDS must be a number"))
        .unwrap_or(3.0);
    let hash = hash_password(PASSWORD, [7; 16]).expect("hashing");
    assert!(
        verify_password(PASSWORD, &hash),
        "the password does not verify"
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run = Duration::from_secs_f64(seconds);

    let cpu0 = process_cpu_seconds();
    let wall = Instant::now();
    let verifications: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let start = Instant::now();
                    let mut n = 0u64;
                    while start.elapsed() < run {
                        assert!(verify_password(PASSWORD, &hash), "verification failed");
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
        "ARGON2 threads={threads} verifications={verifications} seconds={elapsed:.2} per_s={:.1} cpu_ms_per_verify={:.2}",
        verifications as f64 / elapsed,
        cpu * 1000.0 / verifications.max(1) as f64
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
