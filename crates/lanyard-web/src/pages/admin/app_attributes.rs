//! The Attributes tab of an application (`GET /admin/applications/{id}?tab=attributes`):
//!
//! - attribute rows (constants and user mappings) and the groups attribute,
//!   saved by `POST /admin/applications/{id}/attributes` through
//!   `lanyard_app::apps::update` (the whole config validated, the AWS rules
//!   named, as in `PATCH /api/v1/applications/{id}`);
//! - the AWS entitlement table, saved whole by
//!   `POST /admin/applications/{id}/entitlements` through
//!   `lanyard_app::apps::grants::set_entitlements` (as `PUT .../entitlements`),
//!   with the app's default SAML provider name (`sso.aws_provider_name`,
//!   saved first when changed), which rows left without one take.
//!
//! Plain HTML without script: the form lists the rows plus a few empty ones;
//! an empty row is ignored and a ticked "Remove" drops its row. A rejected
//! save comes back with the rows as submitted (blank and removed rows
//! dropped, so the service's `attributes[i]` / `entitlements[i]` are the
//! i-th row shown) and each message next to its row.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use lanyard_core::application::{validate_grants, Application, Grant};
use lanyard_core::apps::{
    default_provider_name, AttributeRule, AttributeSource, Entitlement, USER_FIELDS,
};
use lanyard_core::directory::ListQuery;
use lanyard_core::{Error, GroupId};

use super::app_detail::AppHead;
use super::apps::{errors_for, invalid, parse_id, see_other, Errors};
use super::{AdminPost, AdminSignedIn, AdminWriter, Fields, Nav};
use crate::pages::forms::{PageError, PageResult};
use crate::pages::page;
use crate::AppState;
use lanyard_app::apps::{self, SsoForm, UpdateAppForm};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/applications/{id}/attributes", post(save_attributes))
        .route(
            "/admin/applications/{id}/entitlements",
            post(save_entitlements),
        )
}

/// Empty rows offered after the stored ones (no script adds rows).
const BLANK_ATTRIBUTE_ROWS: usize = 3;
const BLANK_ENTITLEMENT_ROWS: usize = 2;

/// One attribute row as shown or submitted.
struct AttrRow {
    name: String,
    /// `constant`, `user_field` or `user_attribute`.
    kind: String,
    value: String,
    errors: Vec<String>,
}

impl AttrRow {
    fn blank() -> Self {
        AttrRow {
            name: String::new(),
            kind: "constant".into(),
            value: String::new(),
            errors: Vec::new(),
        }
    }

    fn of(rule: &AttributeRule) -> Self {
        let (kind, value) = match &rule.source {
            AttributeSource::Constant(v) => ("constant", v),
            AttributeSource::UserField(f) => ("user_field", f),
            AttributeSource::UserAttribute(a) => ("user_attribute", a),
        };
        AttrRow {
            name: rule.name.clone(),
            kind: kind.into(),
            value: value.clone(),
            errors: Vec::new(),
        }
    }
}

/// One entitlement row as shown or submitted.
struct EntRow {
    /// The group's id ("" when none is chosen).
    group: String,
    account_id: String,
    role_name: String,
    provider_name: String,
    account_label: String,
    max_session_duration: String,
    /// A console URL or a region (the RelayState of a sign-in with it).
    deep_link: String,
    /// The Role value the row grants (stored rows only).
    role_value: Option<String>,
    errors: Vec<String>,
}

impl EntRow {
    fn blank() -> Self {
        EntRow {
            group: String::new(),
            account_id: String::new(),
            role_name: String::new(),
            provider_name: String::new(),
            account_label: String::new(),
            max_session_duration: String::new(),
            deep_link: String::new(),
            role_value: None,
            errors: Vec::new(),
        }
    }

    fn of(g: &Grant) -> Self {
        let e = &g.entitlement;
        EntRow {
            group: g.group_id.0.to_string(),
            account_id: e.account_id.clone(),
            role_name: e.role_name.clone(),
            provider_name: e.provider_name.clone(),
            account_label: e.account_label.clone().unwrap_or_default(),
            max_session_duration: e
                .max_session_duration
                .map(|d| d.to_string())
                .unwrap_or_default(),
            deep_link: e.deep_link.clone().unwrap_or_default(),
            role_value: Some(e.role_value()),
            errors: Vec::new(),
        }
    }

    fn is_blank(&self) -> bool {
        [
            &self.account_id,
            &self.role_name,
            &self.provider_name,
            &self.account_label,
            &self.max_session_duration,
            &self.deep_link,
        ]
        .iter()
        .all(|v| v.is_empty())
    }
}

struct GroupOption {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "admin/app_attributes.html")]
pub(super) struct AttributesPage {
    nav: Nav,
    head: AppHead,
    attrs: Vec<AttrRow>,
    groups_attribute: String,
    ents: Vec<EntRow>,
    /// The provider name rows without one take (stored or as submitted).
    default_provider: String,
    groups: Vec<GroupOption>,
    groups_more: bool,
    errors: Errors,
    user_fields: [&'static str; 5],
}

impl AttributesPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }

    /// The message of exactly `field` (not of its rows).
    fn err_exact(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
}

/// A label for the part of a row an error key names (`...].account_id`);
/// none for the whole row (its messages name their rule).
fn part_label(key: &str) -> Option<&'static str> {
    match key.rsplit_once("].").map(|(_, part)| part)? {
        "name" => Some("Name"),
        "source" => Some("Value"),
        "group_id" => Some("Group"),
        "account_id" => Some("Account ID"),
        "role_name" => Some("Role name"),
        "provider_name" => Some("SAML provider"),
        "account_label" => Some("Account label"),
        "max_session_duration" => Some("Max session duration"),
        "deep_link" => Some("Deep link"),
        _ => None,
    }
}

/// Hangs each `<prefix>[i]...` error on row i, as "<part> <message>".
fn row_errors(errors: &Errors, prefix: &str, rows: usize) -> Vec<Vec<String>> {
    (0..rows)
        .map(|i| {
            let field = format!("{prefix}[{i}]");
            errors
                .iter()
                .filter(|(k, _)| {
                    k.strip_prefix(field.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
                })
                .map(|(k, m)| match part_label(k) {
                    Some(label) => format!("{label} {m}"),
                    None => m.clone(),
                })
                .collect()
        })
        .collect()
}

/// The rows of a form: the values of each field, position by position.
fn columns<'a>(f: &'a Fields, names: &[&str]) -> Vec<Vec<&'a str>> {
    let cols: Vec<Vec<&str>> = names.iter().map(|n| f.all(n)).collect();
    let rows = cols.iter().map(Vec::len).max().unwrap_or(0);
    (0..rows)
        .map(|i| {
            cols.iter()
                .map(|c| c.get(i).copied().unwrap_or(""))
                .collect()
        })
        .collect()
}

/// Row positions ticked for removal (`<prefix>_remove=<i>`).
fn removed(f: &Fields, name: &str) -> Vec<usize> {
    f.all(name).iter().filter_map(|v| v.parse().ok()).collect()
}

/// The Attributes tab of `app`, with the stored values where `attrs` /
/// `ents` are `None`.
async fn attributes_page(
    state: &AppState,
    signed: &AdminSignedIn,
    app: &Application,
    submitted_attrs: Option<(Vec<AttrRow>, String)>,
    submitted_ents: Option<(Vec<EntRow>, String)>,
    errors: Errors,
    notice: Option<String>,
) -> Result<AttributesPage, PageError> {
    let read = signed.reader(state);
    let (mut attrs, groups_attribute) = submitted_attrs.unwrap_or_else(|| {
        (
            app.config.attributes.iter().map(AttrRow::of).collect(),
            app.config.groups_attribute.clone().unwrap_or_default(),
        )
    });
    let (mut ents, default_provider) = match submitted_ents {
        Some(submitted) => submitted,
        None => (
            read.list_entitlements(app.id)
                .await?
                .iter()
                .map(EntRow::of)
                .collect(),
            default_provider_name(&app.config.sso, &app.slug).to_owned(),
        ),
    };
    let attr_errors = row_errors(&errors, "attributes", attrs.len());
    for (row, errs) in attrs.iter_mut().zip(attr_errors) {
        row.errors = errs;
    }
    let ent_errors = row_errors(&errors, "entitlements", ents.len());
    for (row, errs) in ents.iter_mut().zip(ent_errors) {
        row.errors = errs;
    }
    if signed.can_write() {
        attrs.extend((0..BLANK_ATTRIBUTE_ROWS).map(|_| AttrRow::blank()));
        ents.extend((0..BLANK_ENTITLEMENT_ROWS).map(|_| EntRow::blank()));
    }
    let all = read
        .list_groups(&ListQuery::new(None, None, Some(500))?)
        .await?;
    Ok(AttributesPage {
        nav: signed.nav("applications"),
        head: AppHead::new(state, app, "attributes", notice),
        attrs,
        groups_attribute,
        ents,
        default_provider,
        groups: all
            .items
            .into_iter()
            .map(|g| GroupOption {
                id: g.id.0.to_string(),
                name: g.name,
            })
            .collect(),
        groups_more: all.next.is_some(),
        errors,
        user_fields: USER_FIELDS,
    })
}

/// `GET /admin/applications/{id}?tab=attributes`.
pub(super) async fn show(
    state: &AppState,
    signed: &AdminSignedIn,
    app: Application,
    notice: Option<String>,
) -> PageResult {
    let view = attributes_page(state, signed, &app, None, None, Errors::new(), notice).await?;
    Ok(page(StatusCode::OK, &view))
}

async fn rejected(
    state: &AppState,
    post: &AdminPost,
    id: lanyard_core::AppId,
    attrs: Option<(Vec<AttrRow>, String)>,
    ents: Option<(Vec<EntRow>, String)>,
    errors: Errors,
) -> PageResult {
    let app = post.signed.reader(state).get_app(id).await?;
    let view = attributes_page(state, &post.signed, &app, attrs, ents, errors, None).await?;
    Ok(page(StatusCode::BAD_REQUEST, &view))
}

/// The submitted attribute rows (blank and removed ones dropped), the rules
/// they make, and the errors of values that did not parse.
fn attribute_rows(f: &Fields) -> (Vec<AttrRow>, Vec<AttributeRule>, Errors) {
    let drop = removed(f, "attr_remove");
    let mut rows = Vec::new();
    let mut rules = Vec::new();
    let mut errors = Errors::new();
    for (pos, cols) in columns(f, &["attr_name", "attr_kind", "attr_value"])
        .into_iter()
        .enumerate()
    {
        let (name, kind, value) = (cols[0].trim(), cols[1], cols[2].trim());
        if drop.contains(&pos) || (name.is_empty() && value.is_empty()) {
            continue;
        }
        let source = match kind {
            "constant" => AttributeSource::Constant(value.to_owned()),
            "user_field" => AttributeSource::UserField(value.to_owned()),
            "user_attribute" => AttributeSource::UserAttribute(value.to_owned()),
            _ => {
                errors.insert(
                    format!("attributes[{}].source", rows.len()),
                    "choose a constant, a user field or a user attribute".into(),
                );
                AttributeSource::Constant(value.to_owned())
            }
        };
        rows.push(AttrRow {
            name: name.to_owned(),
            kind: kind.to_owned(),
            value: value.to_owned(),
            errors: Vec::new(),
        });
        rules.push(AttributeRule {
            name: name.to_owned(),
            source,
        });
    }
    (rows, rules, errors)
}

async fn save_attributes(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let (rows, rules, errors) = attribute_rows(&post.fields);
    let groups_attribute = post.fields.get("groups_attribute").trim().to_owned();
    if !errors.is_empty() {
        let attrs = Some((rows, groups_attribute));
        return rejected(&state, &post, id, attrs, None, errors).await;
    }
    let form = UpdateAppForm {
        attributes: Some(rules),
        groups_attribute: Some(groups_attribute.clone()),
        ..Default::default()
    };
    match apps::update(&w, id, form).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/applications/{id}?tab=attributes&saved=1"
        ))),
        Err(e) => {
            let errors = invalid(e)?;
            let attrs = Some((rows, groups_attribute));
            rejected(&state, &post, id, attrs, None, errors).await
        }
    }
}

/// The submitted entitlement rows (blank and removed ones dropped), the
/// grants they make, and the errors of values that did not parse.
fn entitlement_rows(f: &Fields) -> (Vec<EntRow>, Vec<Grant>, Errors) {
    let drop = removed(f, "ent_remove");
    let mut rows = Vec::new();
    let mut grants = Vec::new();
    let mut errors = Errors::new();
    let names = [
        "ent_group",
        "ent_account",
        "ent_role",
        "ent_provider",
        "ent_label",
        "ent_duration",
        "ent_link",
    ];
    for (pos, c) in columns(f, &names).into_iter().enumerate() {
        let row = EntRow {
            group: c[0].trim().to_owned(),
            account_id: c[1].trim().to_owned(),
            role_name: c[2].trim().to_owned(),
            provider_name: c[3].trim().to_owned(),
            account_label: c[4].trim().to_owned(),
            max_session_duration: c[5].trim().to_owned(),
            deep_link: c[6].trim().to_owned(),
            role_value: None,
            errors: Vec::new(),
        };
        if drop.contains(&pos) || row.is_blank() {
            continue;
        }
        let i = rows.len();
        let group_id = row.group.parse::<i64>().unwrap_or_else(|_| {
            errors.insert(
                format!("entitlements[{i}].group_id"),
                "choose a group".into(),
            );
            0
        });
        let max_session_duration = if row.max_session_duration.is_empty() {
            None
        } else {
            row.max_session_duration.parse::<u32>().map_or_else(
                |_| {
                    errors.insert(
                        format!("entitlements[{i}].max_session_duration"),
                        "must be a whole number of seconds (3600-43200) or empty".into(),
                    );
                    None
                },
                Some,
            )
        };
        grants.push(Grant {
            group_id: GroupId(group_id),
            entitlement: Entitlement {
                account_id: row.account_id.clone(),
                role_name: row.role_name.clone(),
                provider_name: row.provider_name.clone(),
                account_label: (!row.account_label.is_empty()).then(|| row.account_label.clone()),
                max_session_duration,
                deep_link: (!row.deep_link.is_empty()).then(|| row.deep_link.clone()),
            },
        });
        rows.push(row);
    }
    (rows, grants, errors)
}

async fn save_entitlements(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let (rows, grants, mut errors) = entitlement_rows(&post.fields);
    // Absent (a form without the field): the stored default stays.
    let typed_default = post
        .fields
        .all("ent_default_provider")
        .first()
        .map(|v| v.trim().to_owned());
    let rows = (rows, typed_default.clone().unwrap_or_default());
    if !errors.is_empty() {
        // Every other broken rule at once, from the same checks the save
        // runs (the form's own messages win for a field both name).
        if let Err(Error::Invalid(more)) = validate_grants(&grants) {
            for (k, v) in more {
                errors.entry(k).or_insert(v);
            }
        }
        return rejected(&state, &post, id, None, Some(rows), errors).await;
    }
    // A new default provider name is saved first (its own audited change),
    // so the rows left without one take it.
    let app = w.reader().get_app(id).await?;
    let current = default_provider_name(&app.config.sso, &app.slug);
    if let Some(typed_default) = typed_default.filter(|t| t != current) {
        let form = UpdateAppForm {
            sso: Some(SsoForm {
                aws_provider_name: Some(typed_default),
                ..SsoForm::default()
            }),
            ..UpdateAppForm::default()
        };
        if let Err(e) = apps::update(&w, id, form).await {
            let errors = invalid(e)?;
            return rejected(&state, &post, id, None, Some(rows), errors).await;
        }
    }
    match apps::grants::set_entitlements(&w, id, &grants).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/applications/{id}?tab=attributes&saved=1"
        ))),
        // A group deleted since the page was shown.
        Err(Error::NotFound {
            kind: "group",
            id: gid,
        }) => {
            let mut errors = Errors::new();
            for (i, g) in grants.iter().enumerate() {
                if g.group_id.0.to_string() == gid {
                    errors.insert(
                        format!("entitlements[{i}].group_id"),
                        format!("group {gid} does not exist (any more)"),
                    );
                }
            }
            if errors.is_empty() {
                errors.insert(
                    "entitlements".into(),
                    format!("group {gid} does not exist (any more)"),
                );
            }
            rejected(&state, &post, id, None, Some(rows), errors).await
        }
        Err(e) => {
            let errors = invalid(e)?;
            rejected(&state, &post, id, None, Some(rows), errors).await
        }
    }
}
