//! The `lanyard` binary's integration tests, one binary: the real process
//! (configuration, the database commands, `serve`, `demo`).

mod check_config;
mod db_commands;
mod demo;
mod serve;
