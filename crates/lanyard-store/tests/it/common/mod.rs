//! Helpers shared by the store tests: fixed instants, users and queries.

#![allow(dead_code)]

pub mod apps;

use std::collections::BTreeMap;

use lanyard_core::directory::{Attributes, ListQuery, NewGroup, NewUser};
use time::OffsetDateTime;

/// A fixed instant, `secs` seconds (and 123 ms) after 2024-01-01T00:00:00Z.
pub fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(
        (1_704_067_200 + i128::from(secs)) * 1_000_000_000 + 123_000_000,
    )
    .unwrap()
}

pub fn attrs(pairs: &[(&str, &[&str])]) -> Attributes {
    pairs
        .iter()
        .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
        .collect::<BTreeMap<_, _>>()
}

pub fn new_user(email: &str, username: &str) -> NewUser {
    NewUser {
        email: email.into(),
        username: username.into(),
        first_name: "Ann".into(),
        last_name: "Lee".into(),
        attributes: Attributes::new(),
    }
    .validate()
    .unwrap()
}

pub fn new_group(name: &str) -> NewGroup {
    NewGroup {
        name: name.into(),
        description: format!("the {name} group"),
        attributes: Attributes::new(),
    }
    .validate()
    .unwrap()
}

pub fn query(search: Option<&str>, after: Option<i64>, limit: u32) -> ListQuery {
    ListQuery::new(search.map(str::to_owned), after, Some(limit)).unwrap()
}

pub fn all() -> ListQuery {
    query(None, None, 500)
}
