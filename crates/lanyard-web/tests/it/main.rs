//! lanyard-web's integration tests, one binary (ripgrep's layout): the
//! whole app on real stores, driven through `app().oneshot(...)` by an API
//! client and a browser stand-in ([`common`]). Each `web_test!` runs on
//! SQLite and on PostgreSQL as its own test (`<name>::sqlite`,
//! `<name>::postgres`).

#[macro_use]
mod common;

mod access;
mod admin_app_assets;
mod admin_groups;
mod admin_portal;
mod admin_system;
mod admin_users;
mod app;
mod applications;
mod audit;
mod bad_input;
mod catalog;
mod groups;
mod http_limits;
mod openapi;
mod operations;
mod portal;
mod role_chooser;
mod security_accounts;
mod security_edge;
mod security_sessions;
mod seed_steps;
mod signin;
mod sso;
mod standin;
mod users;
