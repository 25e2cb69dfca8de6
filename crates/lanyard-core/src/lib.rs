//! Lanyard's domain model and use-cases, with no HTTP and no SQL.
//!
//! This crate owns what every other layer agrees on: time as an input
//! ([`clock`]) and the typed, already-validated settings of one Lanyard
//! instance ([`settings`]). The directory, applications, the SSO decision,
//! audit and the store traits join it as they are built; the web edge
//! (`lanyard-web`) and the binary (`lanyard`) depend on it, never the reverse.

pub mod clock;
pub mod settings;

pub use clock::{Clock, FixedClock, SystemClock};
pub use settings::{BaseUrl, BaseUrlError, Settings};
