//! Building the queries whose WHERE clause depends on the request (search,
//! keyset cursor, audit filters), keyset pages, the prefix-range trick, and
//! multi-row VALUES / IN lists.
//!
//! Optional filters are added as text only when present, rather than written
//! as `($1 IS NULL OR col = $1)`: that form hides the column from the planner
//! (SQLite always, PostgreSQL once it switches to a generic plan), so the
//! indexes would go unused.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow};

use lanyard_core::directory::{Page, MAX_PAGE};

/// A value bound to a placeholder.
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    /// Text or NULL.
    OptText(Option<String>),
}

/// SQL text with `$n` placeholders and the values they stand for.
pub(crate) struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(head: &str) -> Sql {
        Sql {
            text: head.to_owned(),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, s: &str) -> &mut Sql {
        self.text.push_str(s);
        self
    }

    /// Adds a value and returns its placeholder, e.g. `$3`.
    pub(crate) fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    pub(crate) fn int(&mut self, v: i64) -> String {
        self.arg(Arg::Int(v))
    }

    pub(crate) fn text(&mut self, v: impl Into<String>) -> String {
        self.arg(Arg::Text(v.into()))
    }

    pub(crate) async fn fetch_all<T>(&self, conn: &mut AnyConnection) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        // Not a cached prepared statement: PostgreSQL may give a cached one a
        // generic plan, made without the values, and a generic plan for a
        // prefix range guesses its selectivity (a 1-match search then scans
        // the table in id order). A one-off statement is planned with the
        // actual values. Planning these small queries costs ~0.1 ms.
        let mut q = sqlx::query_as::<_, T>(&self.text).persistent(false);
        for a in &self.args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::OptText(s) => q.bind(s.as_deref()),
            };
        }
        q.fetch_all(conn).await
    }

    /// Runs a statement that returns no rows (one-off, like
    /// [`Sql::fetch_all`]); the number of rows it changed.
    pub(crate) async fn execute(&self, conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
        let mut q = sqlx::query(&self.text).persistent(false);
        for a in &self.args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::OptText(s) => q.bind(s.as_deref()),
            };
        }
        Ok(q.execute(conn).await?.rows_affected())
    }

    /// `AND (c1 >= lo AND c1 < hi OR c2 >= lo AND c2 < hi ...)`: a
    /// case-insensitive prefix match over lower-cased columns that a plain
    /// index serves on both databases (no LIKE, so nothing to escape).
    pub(crate) fn and_prefix_of_any(&mut self, columns: &[&str], prefix: &str) {
        let lo = self.text(prefix);
        let hi = prefix_upper_bound(prefix).map(|hi| self.text(hi));
        let terms: Vec<String> = columns
            .iter()
            .map(|c| match &hi {
                Some(hi) => format!("{c} >= {lo} AND {c} < {hi}"),
                None => format!("{c} >= {lo}"),
            })
            .collect();
        self.push(" AND (");
        self.push(&terms.join(" OR "));
        self.push(")");
    }
}

/// The smallest string greater than every string that starts with `prefix`
/// (by code point, which is UTF-8 byte order and so SQLite's BINARY and
/// PostgreSQL's "C" order): the last character that can be is incremented.
/// `None` when every character is already U+10FFFF.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut n = u32::from(last) + 1;
        if (0xD800..=0xDFFF).contains(&n) {
            n = 0xE000;
        }
        if let Some(next) = char::from_u32(n) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `($b, $b+1, ...)` rows of `width` placeholders, numbered from `first`.
pub(crate) fn value_rows(rows: usize, width: usize, first: usize, extra: &str) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..width)
                .map(|c| format!("${}", first + r * width + c))
                .collect();
            format!("({}{extra})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `items` cut into runs whose lengths are powers of two, each at most
/// `max` (so at most the largest power of two not over it), largest first.
///
/// A multi-row INSERT is one statement text per row count, and sqlx keeps
/// every text it prepares in each connection's statement cache (up to 100
/// per connection; a many-row INSERT's prepared program is large). Audit
/// batches of every size up to 71 rows (SQLite) filled those caches for the
/// first eight minutes of a soak (`bench/soak.sh`, issue #27: most of 12 MiB
/// of prepared statements in a heap profile); with these runs a connection
/// holds at most log2(`max`) + 1 shapes, each prepared once.
pub(crate) fn power_of_two_runs<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let cap = if max == 0 { 1 } else { 1 << max.ilog2() };
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = cap.min(1 << rest.len().ilog2());
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some(run)
    })
}

/// Rows to fetch for a page of `limit`: one more, to learn whether another
/// page follows without a COUNT.
pub(crate) fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, MAX_PAGE)) + 1
}

/// Cuts the extra row off and sets `next` to the last item's key when there was one.
pub(crate) fn page<T>(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> i64) -> Page<T> {
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(key)
    } else {
        None
    };
    Page { items, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_have_few_fixed_lengths_and_cover_everything_in_order() {
        let items: Vec<usize> = (0..1000).collect();
        let lens = |n: usize, max: usize| -> Vec<usize> {
            let runs: Vec<&[usize]> = power_of_two_runs(&items[..n], max).collect();
            let joined: Vec<usize> = runs.concat();
            assert_eq!(joined, items[..n], "every item once, in order");
            runs.iter().map(|r| r.len()).collect()
        };
        assert_eq!(lens(300, 142), [128, 128, 32, 8, 4]);
        assert_eq!(lens(100, 71), [64, 32, 4]);
        assert_eq!(lens(7, 142), [4, 2, 1]);
        assert_eq!(lens(128, 128), [128]);
        assert_eq!(lens(5, 1), [1, 1, 1, 1, 1]);
        assert_eq!(lens(3, 0), [1, 1, 1]);
        assert!(lens(0, 142).is_empty());
        // Every batch size from 1 to 1000 together uses 8 lengths (1, 2,
        // ..., 128), where one statement per size used 1000.
        let mut seen: Vec<usize> = (1..=1000).flat_map(|n| lens(n, 142)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 64, 128]);
    }

    #[test]
    fn upper_bounds_end_every_prefix_range() {
        assert_eq!(prefix_upper_bound("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound(""), None);
        let hi = prefix_upper_bound("ann").unwrap();
        for inside in ["ann", "anna", "ann\u{10FFFF}x", "ann@example.com"] {
            assert!(inside >= "ann" && inside < hi.as_str(), "{inside}");
        }
        for outside in ["an", "ano", "anm\u{10FFFF}", "b"] {
            assert!(!(outside >= "ann" && outside < hi.as_str()), "{outside}");
        }
    }

    #[test]
    fn value_rows_number_placeholders() {
        assert_eq!(value_rows(2, 2, 3, ", 'x'"), "($3, $4, 'x'), ($5, $6, 'x')");
        assert_eq!(value_rows(1, 3, 1, ""), "($1, $2, $3)");
    }

    #[test]
    fn pages_know_whether_more_follow() {
        let p = page(vec![1, 2, 3], 2, |i| *i);
        assert_eq!((p.items, p.next), (vec![1, 2], Some(2)));
        let p = page(vec![1, 2], 2, |i| *i);
        assert_eq!((p.items, p.next), (vec![1, 2], None));
        assert_eq!(fetch_limit(50), 51);
    }
}
