//! The directory: users, groups and their attributes, and the rules their
//! fields follow. Validation lives here so that the REST API, the admin portal
//! and the CLI refuse the same things with the same messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, FieldErrors, Result};
use crate::ids::{GroupId, UserId};

/// Custom attributes: name -> one or more values.
pub type Attributes = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    Active,
    Suspended,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(UserState::Active),
            "suspended" => Some(UserState::Suspended),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub state: UserState,
    pub attributes: Attributes,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A user to create. The password, if any, is hashed before it reaches a store.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub username: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub attributes: Attributes,
}

/// A partial update: `None` leaves the field as it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub email: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub attributes: Option<Attributes>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub attributes: Attributes,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub attributes: Attributes,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub attributes: Option<Attributes>,
}

/// How many members and bound applications a group has (for listings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct GroupCounts {
    pub members: u64,
    pub applications: u64,
}

/// Keyset pagination: items with an id greater than `after`, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Case-insensitive prefix of email, username, first or last name (users)
    /// or name (groups).
    pub search: Option<String>,
    pub after: Option<i64>,
    pub limit: u32,
}

pub const MAX_PAGE: u32 = 500;
pub const DEFAULT_PAGE: u32 = 50;

impl ListQuery {
    /// Checks raw pagination values.
    pub fn new(search: Option<String>, after: Option<i64>, limit: Option<u32>) -> Result<Self> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        if after.is_some_and(|a| a < 0) {
            return Err(Error::invalid("after", "must not be negative"));
        }
        let search = search
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > 254) {
            return Err(Error::invalid("search", "must be at most 254 characters"));
        }
        Ok(ListQuery {
            search,
            after,
            limit,
        })
    }
}

/// One page of results; `next` is the `after` value of the following page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

// ---- validation ------------------------------------------------------------------

/// Normalises and checks an email address (lower-cased; a pragmatic check, not
/// RFC 5322: one `@`, a non-empty local part, a dotted domain, no spaces).
pub fn normalize_email(email: &str) -> std::result::Result<String, String> {
    let e = email.trim().to_lowercase();
    if e.len() > 254 {
        return Err("must be at most 254 characters".into());
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err("must be an email address like name@example.com".into());
    };
    let domain_ok = domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain_ok
        || e.chars().any(char::is_whitespace)
    {
        return Err("must be an email address like name@example.com".into());
    }
    Ok(e)
}

/// Usernames: 1-64 of `a-z A-Z 0-9 . _ -`, starting with a letter or digit.
pub fn check_username(u: &str) -> std::result::Result<(), String> {
    let ok_first = u.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok_first
        || u.len() > 64
        || !u
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit".into());
    }
    Ok(())
}

/// A character that cannot appear in an assertion: a control character, or
/// one of the two noncharacters XML 1.0 excludes (U+FFFE, U+FFFF). Values
/// that end up in SAML responses refuse these at save time, so a response
/// never fails to build at sign-in.
pub fn is_unfit_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

fn check_name(field: &str, v: &str, max: usize, errors: &mut FieldErrors) {
    if v.chars().count() > max {
        errors.insert(
            field.to_owned(),
            format!("must be at most {max} characters"),
        );
    } else if v.chars().any(is_unfit_char) {
        errors.insert(
            field.to_owned(),
            "must not contain control characters".into(),
        );
    }
}

/// Attribute names: 1-128 of `A-Z a-z 0-9 _ - . :`; values at most 1024
/// characters, no control characters except tab; at most 50 values per name.
pub fn check_attributes(field: &str, attrs: &Attributes, errors: &mut FieldErrors) {
    if attrs.len() > 100 {
        errors.insert(field.to_owned(), "at most 100 attributes".into());
        return;
    }
    for (name, values) in attrs {
        let key = format!("{field}.{name}");
        let name_ok = !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if !name_ok {
            errors.insert(
                key,
                "attribute names are 1-128 characters of letters, digits, '_', '-', '.', ':'"
                    .into(),
            );
        } else if values.is_empty() || values.len() > 50 {
            errors.insert(key, "must have between 1 and 50 values".into());
        } else if values
            .iter()
            .any(|v| v.chars().count() > 1024 || v.chars().any(|c| is_unfit_char(c) && c != '\t'))
        {
            errors.insert(
                key,
                "values are at most 1024 characters without control characters".into(),
            );
        }
    }
}

/// `value` when no field broke a rule, else every field's message at once.
pub(crate) fn finish<T>(value: T, errors: FieldErrors) -> Result<T> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(Error::Invalid(errors))
    }
}

impl NewUser {
    /// Checks every field and normalises the email.
    pub fn validate(mut self) -> Result<Self> {
        let mut errors = FieldErrors::new();
        match normalize_email(&self.email) {
            Ok(e) => self.email = e,
            Err(m) => {
                errors.insert("email".into(), m);
            }
        }
        if let Err(m) = check_username(&self.username) {
            errors.insert("username".into(), m);
        }
        check_name("first_name", &self.first_name, 100, &mut errors);
        check_name("last_name", &self.last_name, 100, &mut errors);
        check_attributes("attributes", &self.attributes, &mut errors);
        finish(self, errors)
    }
}

impl UserPatch {
    pub fn validate(mut self) -> Result<Self> {
        let mut errors = FieldErrors::new();
        if let Some(email) = &self.email {
            match normalize_email(email) {
                Ok(e) => self.email = Some(e),
                Err(m) => {
                    errors.insert("email".into(), m);
                }
            }
        }
        if let Some(Err(m)) = self.username.as_deref().map(check_username) {
            errors.insert("username".into(), m);
        }
        if let Some(v) = &self.first_name {
            check_name("first_name", v, 100, &mut errors);
        }
        if let Some(v) = &self.last_name {
            check_name("last_name", v, 100, &mut errors);
        }
        if let Some(a) = &self.attributes {
            check_attributes("attributes", a, &mut errors);
        }
        finish(self, errors)
    }
}

fn check_group_name(name: &str, errors: &mut FieldErrors) {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(is_unfit_char) {
        errors.insert(
            "name".into(),
            "must be 1-100 characters without control characters".into(),
        );
    }
}

impl NewGroup {
    pub fn validate(mut self) -> Result<Self> {
        let mut errors = FieldErrors::new();
        self.name = self.name.trim().to_owned();
        check_group_name(&self.name, &mut errors);
        check_name("description", &self.description, 1000, &mut errors);
        check_attributes("attributes", &self.attributes, &mut errors);
        finish(self, errors)
    }
}

impl GroupPatch {
    pub fn validate(mut self) -> Result<Self> {
        let mut errors = FieldErrors::new();
        if let Some(name) = &self.name {
            let trimmed = name.trim().to_owned();
            check_group_name(&trimmed, &mut errors);
            self.name = Some(trimmed);
        }
        if let Some(d) = &self.description {
            check_name("description", d, 1000, &mut errors);
        }
        if let Some(a) = &self.attributes {
            check_attributes("attributes", a, &mut errors);
        }
        finish(self, errors)
    }
}

/// A user's effective attributes: group attributes inherited, the user's own
/// value winning for a name both define. For a name several groups define,
/// the values of every group are merged, de-duplicated, in the order the
/// groups are given (callers give them by name) and then each group's own
/// order: a user in two groups with different `aws_role` values gets both.
pub fn effective_attributes(user: &Attributes, groups: &[&Attributes]) -> Attributes {
    let mut inherited = Attributes::new();
    for g in groups {
        for (name, values) in g.iter() {
            if user.contains_key(name) {
                continue;
            }
            let merged: &mut Vec<String> = inherited.entry(name.clone()).or_default();
            for v in values {
                if !merged.contains(v) {
                    merged.push(v.clone());
                }
            }
        }
    }
    let mut out = user.clone();
    out.extend(inherited);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_fields(r: Result<impl std::fmt::Debug>) -> FieldErrors {
        match r {
            Err(Error::Invalid(f)) => f,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "", "alice", "a@b", "a@@b.c", "a b@c.d", "@c.d", "a@.c", "a@c..d",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn new_user_reports_every_bad_field() {
        let u = NewUser {
            email: "nope".into(),
            username: "-x".into(),
            first_name: "a\u{7}".into(),
            last_name: "x".repeat(101),
            attributes: BTreeMap::from([
                ("bad name".into(), vec!["v".into()]),
                ("ok".into(), vec![]),
            ]),
        };
        let f = invalid_fields(u.validate());
        assert_eq!(f["email"], "must be an email address like name@example.com");
        assert!(f["username"].starts_with("must be 1-64 characters"));
        assert_eq!(f["first_name"], "must not contain control characters");
        assert_eq!(f["last_name"], "must be at most 100 characters");
        assert!(f["attributes.bad name"].starts_with("attribute names are"));
        assert_eq!(f["attributes.ok"], "must have between 1 and 50 values");
    }

    #[test]
    fn pagination_values_are_checked() {
        assert_eq!(
            ListQuery::new(None, None, None).unwrap().limit,
            DEFAULT_PAGE
        );
        assert_eq!(
            invalid_fields(ListQuery::new(None, None, Some(0)))["limit"],
            "must be between 1 and 500"
        );
        assert_eq!(
            invalid_fields(ListQuery::new(None, None, Some(501)))["limit"],
            "must be between 1 and 500"
        );
        assert_eq!(
            invalid_fields(ListQuery::new(None, Some(-1), None))["after"],
            "must not be negative"
        );
        assert_eq!(
            ListQuery::new(Some("  ALI ".into()), None, None)
                .unwrap()
                .search
                .as_deref(),
            Some("ali")
        );
    }

    #[test]
    fn user_values_win_and_group_values_merge_in_group_order() {
        let user = BTreeMap::from([("role".to_string(), vec!["u".to_string()])]);
        let g1 = BTreeMap::from([
            ("role".to_string(), vec!["g1".to_string()]),
            ("dept".into(), vec!["a".into()]),
        ]);
        let g2 = BTreeMap::from([
            ("dept".to_string(), vec!["b".to_string()]),
            ("x".into(), vec!["y".into()]),
        ]);
        let eff = effective_attributes(&user, &[&g1, &g2]);
        assert_eq!(eff["role"], vec!["u"]);
        // Both groups' values, in the groups' order.
        assert_eq!(eff["dept"], vec!["a", "b"]);
        assert_eq!(eff["x"], vec!["y"]);
        let g3 = BTreeMap::from([("dept".to_string(), vec!["c".into(), "a".into()])]);
        let eff = effective_attributes(&user, &[&g1, &g2, &g3]);
        assert_eq!(eff["dept"], vec!["a", "b", "c"], "de-duplicated");
    }
}
