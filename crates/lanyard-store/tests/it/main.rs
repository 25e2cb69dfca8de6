//! lanyard-store's integration tests, one binary (ripgrep's layout): a module per
//! store trait or concern, each `store_test!` run on SQLite and PostgreSQL
//! as its own test (`<name>::sqlite`, `<name>::postgres`), helpers in
//! [`common`].

mod common;

mod admin_sessions;
mod admins;
mod app_access;
mod app_keys;
mod apps;
mod audit;
mod concurrency;
mod groups;
mod migrations;
mod pool;
mod secrets;
mod sign_in;
mod tls;
mod unit_of_work;
mod users;
