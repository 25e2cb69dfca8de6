//! The directory's use-cases: [`users`] (create, update, password,
//! attributes, suspension, group memberships from the user's side,
//! deletion), [`groups`] (create, update, attributes, members, deletion)
//! and [`security`] (what an admin does about a user's signing in: end
//! sessions, unlock, reset TOTP). The rules themselves are
//! `lanyard_core::directory`'s; each change runs in one unit of work with
//! its audit event.

use std::collections::BTreeMap;

use utoipa::ToSchema;

pub mod groups;
pub mod security;
pub mod users;

/// Custom attributes: name -> one or more values. Names are 1-128 of
/// letters, digits, `_ - . :`; 1-50 values of at most 1024 characters each;
/// at most 100 names. A user's own value wins over its groups' values.
#[derive(ToSchema)]
#[schema(as = Attributes, example = json!({"department": ["engineering"], "aws_role": ["arn:aws:iam::123456789012:role/Dev"]}))]
#[allow(dead_code)] // a schema only: the forms carry `lanyard_core::directory::Attributes`
pub struct AttributesSchema(BTreeMap<String, Vec<String>>);

/// An audit summary as the event stores it (a struct's fields as keys).
fn summary_of(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_else(|_| serde_json::json!({}))
}
