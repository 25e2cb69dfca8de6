//! Lanyard's domain model and pure decisions, with no HTTP, no SQL and no IO.
//!
//! This crate owns what every other layer agrees on: time as an input
//! ([`clock`]), the typed, already-validated settings ([`settings`]), the
//! directory and its rules ([`directory`]), admin accounts, roles and API keys
//! ([`admin`]), password hashing ([`password`]), sessions and their limits
//! ([`session`]), applications and their configuration rules
//! ([`application`], [`apps`]), the catalog ([`catalog`]), AWS's rules
//! ([`aws_rules`]), the SSO decision ([`sso`]), audit events ([`audit`]),
//! errors ([`error`]) and the storage traits ([`store`]) that
//! `lanyard-store` implements. The use-cases (`lanyard-app`) build on it;
//! nothing here depends on them.

pub mod admin;
pub mod application;
pub mod apps;
pub mod audit;
pub mod aws_rules;
pub mod catalog;
pub mod clock;
pub mod directory;
pub mod error;
pub mod ids;
pub mod password;
pub mod session;
pub mod settings;
pub mod sso;
pub mod store;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{Error, Result};
pub use ids::{AdminId, AdminSessionId, ApiKeyId, AppId, AppKeyId, GroupId, SessionId, UserId};
pub use settings::{BaseUrl, BaseUrlError, Settings};
