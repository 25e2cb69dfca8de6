//! The custom-attribute editor shared by a user's and a group's page: one
//! name/value row per value (several rows with one name make a multi-valued
//! attribute), blank rows to add, a row dropped when emptied or ticked
//! "Remove" (`attr_remove=<position>`). Values are kept exactly as typed,
//! as the REST API keeps them; names are trimmed.

use lanyard_core::directory::Attributes;

use super::apps::Errors;
use super::Fields;

/// Blank rows offered for new values.
pub const BLANK_ROWS: usize = 3;

/// One row of the editor.
pub struct AttrRow {
    pub name: String,
    pub value: String,
    /// The rule this row's attribute breaks, if any.
    pub errors: Vec<String>,
}

impl AttrRow {
    pub fn new(name: &str, value: &str) -> Self {
        AttrRow {
            name: name.to_owned(),
            value: value.to_owned(),
            errors: Vec::new(),
        }
    }
}

/// The rows to show: the submitted ones (after a refusal) or the stored
/// attributes, each with the errors keyed `attributes.<name>`, then blank
/// rows for an admin who may write.
pub fn shown(
    submitted: Option<Vec<AttrRow>>,
    stored: &Attributes,
    errors: &Errors,
    can_write: bool,
) -> Vec<AttrRow> {
    let mut rows = submitted.unwrap_or_else(|| {
        stored
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |v| AttrRow::new(name, v)))
            .collect()
    });
    for row in &mut rows {
        if let Some(m) = errors.get(&format!("attributes.{}", row.name)) {
            row.errors.push(m.clone());
        }
    }
    if can_write {
        rows.extend((0..BLANK_ROWS).map(|_| AttrRow::new("", "")));
    }
    rows
}

/// The submitted rows, position by position (emptied and removed rows
/// dropped), and the attribute map they make.
pub fn submitted(f: &Fields) -> (Vec<AttrRow>, Attributes) {
    let names = f.all("attr_name");
    let values = f.all("attr_value");
    let removed: Vec<usize> = f
        .all("attr_remove")
        .iter()
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let mut rows = Vec::new();
    let mut attributes = Attributes::new();
    for pos in 0..names.len().max(values.len()) {
        let name = names.get(pos).copied().unwrap_or("").trim();
        let value = values.get(pos).copied().unwrap_or("");
        if removed.contains(&pos) || (name.is_empty() && value.is_empty()) {
            continue;
        }
        attributes
            .entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
        rows.push(AttrRow::new(name, value));
    }
    (rows, attributes)
}
