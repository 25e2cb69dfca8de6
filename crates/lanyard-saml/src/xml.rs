//! Hardened XML intake and the escaping rules of our own output.
//!
//! All untrusted XML enters through [`parse`], which enforces a byte limit, a node
//! limit, a nesting limit and refuses DTDs (so no entity expansion, no XXE). The
//! escaping helpers produce exactly the character escapes of canonical XML, so text
//! we write is already in canonical form.

use crate::error::{Error, Result};

/// Limits applied to untrusted XML.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: u32,
}

impl Default for Limits {
    /// Generous for SAML messages and metadata (an SP metadata file with a dozen
    /// certificates is ~40 KB), tight against abuse.
    fn default() -> Self {
        Limits {
            max_bytes: 512 * 1024,
            max_depth: 64,
            max_nodes: 20_000,
        }
    }
}

/// Parses untrusted XML under `limits`.
pub fn parse(input: &str, limits: Limits) -> Result<roxmltree::Document<'_>> {
    if input.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    // A cheap pre-check so that a DTD is reported as such even when it is also
    // malformed in other ways.
    if input.contains("<!DOCTYPE") || input.contains("<!ENTITY") {
        return Err(Error::DtdForbidden);
    }
    prescan_depth(input.as_bytes(), limits.max_depth)?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
    };
    let doc = roxmltree::Document::parse_with_options(input, opts).map_err(|e| match e {
        roxmltree::Error::DtdDetected => Error::DtdForbidden,
        roxmltree::Error::NodesLimitReached => Error::TooManyNodes {
            limit: limits.max_nodes,
        },
        other => Error::MalformedXml(other.to_string()),
    })?;
    check_tree(doc.root(), limits.max_depth)?;
    Ok(doc)
}

/// Bounds element nesting before the tree is built (the tree builder recurses,
/// so a deep document must never reach it). Markup the scan does not understand
/// is left to the real parser to reject.
fn prescan_depth(b: &[u8], max_depth: usize) -> Result<()> {
    let mut depth = 0usize;
    let mut i = 0;
    let find = |from: usize, pat: &[u8]| {
        b.get(from..)
            .and_then(|rest| rest.windows(pat.len()).position(|w| w == pat))
            .map(|p| from + p + pat.len())
    };
    while let Some(rel) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|&c| c == b'<'))
    {
        let at = i + rel;
        let rest = b.get(at..).unwrap_or_default();
        i = if rest.starts_with(b"<!--") {
            find(at, b"-->").unwrap_or(b.len())
        } else if rest.starts_with(b"<![CDATA[") {
            find(at, b"]]>").unwrap_or(b.len())
        } else if rest.starts_with(b"<?") {
            find(at, b"?>").unwrap_or(b.len())
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            at + 2
        } else if rest.starts_with(b"<!") {
            at + 2
        } else {
            // A start tag: find its end outside quoted attribute values.
            let mut j = at + 1;
            let mut quote = None;
            while let Some(&c) = b.get(j) {
                match (quote, c) {
                    (None, b'"' | b'\'') => quote = Some(c),
                    (Some(q), _) if q == c => quote = None,
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            if b.get(j.saturating_sub(1)) != Some(&b'/') {
                depth += 1;
                if depth > max_depth {
                    return Err(Error::TooDeep { limit: max_depth });
                }
            }
            j + 1
        };
    }
    Ok(())
}

fn check_tree(root: roxmltree::Node<'_, '_>, max_depth: usize) -> Result<()> {
    // Iterative walk: depth is tracked with an explicit stack, never recursion.
    // It also refuses what roxmltree tolerates but XML forbids, so that our
    // canonical output is always well-formed: empty namespace prefixes (`:a`)
    // and processing instructions with the reserved target `xml`.
    let text = root.document().input_text();
    let mut stack = vec![(root, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > max_depth {
            return Err(Error::TooDeep { limit: max_depth });
        }
        if let Some(pi) = node.pi() {
            if pi.target.eq_ignore_ascii_case("xml") {
                return Err(Error::MalformedXml(
                    "processing instruction with the reserved target 'xml'".into(),
                ));
            }
        }
        if node.is_element() {
            let empty_prefix = source_qname(node).starts_with(':')
                || node.attributes().any(|a| {
                    text.get(a.range_qname())
                        .is_some_and(|q| q.starts_with(':'))
                });
            if empty_prefix {
                return Err(Error::MalformedXml("empty namespace prefix".into()));
            }
        }
        for child in node.children() {
            stack.push((child, depth + usize::from(child.is_element())));
        }
    }
    Ok(())
}

/// Checks that `value` holds only characters allowed in XML 1.0 documents.
pub fn check_chars(field: &str, value: &str) -> Result<()> {
    match value.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(Error::InvalidXmlChar {
            field: field.to_owned(),
            code: c as u32,
        }),
        None => Ok(()),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text content the way canonical XML renders it.
pub fn escape_text(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\r' => "&#xD;",
            _ => continue,
        };
        out.push_str(s.get(last..i).unwrap_or_default());
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(s.get(last..).unwrap_or_default());
}

/// Escapes an attribute value the way canonical XML renders it.
pub fn escape_attr(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'"' => "&quot;",
            b'\t' => "&#x9;",
            b'\n' => "&#xA;",
            b'\r' => "&#xD;",
            _ => continue,
        };
        out.push_str(s.get(last..i).unwrap_or_default());
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(s.get(last..).unwrap_or_default());
}

/// Returns the qualified name of `node` exactly as written in the source.
pub(crate) fn source_qname<'i>(node: roxmltree::Node<'_, 'i>) -> &'i str {
    let text = node.document().input_text();
    let start = node.range().start + 1; // skip '<'
    let rest = text.get(start..).unwrap_or_default();
    let end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default()
}

/// Returns the prefix of a qualified name, if any.
pub(crate) fn prefix_of(qname: &str) -> Option<&str> {
    qname.split_once(':').map(|(p, _)| p)
}

/// Finds the single child element with namespace `ns` and local name `name`.
pub(crate) fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.has_tag_name((ns, name)))
}

/// Collects every child element with namespace `ns` and local name `name`.
pub(crate) fn children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.has_tag_name((ns, name)))
}

/// The trimmed text content of a simple-content element (Issuer, NameID,
/// Audience...). Element children are refused: libraries disagree on whether
/// `<Issuer>a<x>b</x>c</Issuer>` reads "ac", "abc" or "a", so we read none.
pub(crate) fn text_of(node: roxmltree::Node<'_, '_>) -> Result<String> {
    if node.children().any(|c| c.is_element()) {
        return Err(Error::MalformedXml(format!(
            "element {} must contain only text",
            node.tag_name().name()
        )));
    }
    let mut s = String::new();
    for c in node.children().filter(|c| c.is_text()) {
        s.push_str(c.text().unwrap_or_default());
    }
    Ok(s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_like_c14n() {
        let mut s = String::new();
        escape_text(&mut s, "a&b<c>d\"e'\tf\r\ng\u{e9}");
        assert_eq!(s, "a&amp;b&lt;c&gt;d\"e'\tf&#xD;\ng\u{e9}");
    }

    #[test]
    fn escapes_attr_like_c14n() {
        let mut s = String::new();
        escape_attr(&mut s, "a&b<c>d\"e'\tf\r\ng");
        assert_eq!(s, "a&amp;b&lt;c>d&quot;e'&#x9;f&#xD;&#xA;g");
    }

    #[test]
    fn rejects_dtd_and_entities() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>"#;
        assert_eq!(
            parse(bomb, Limits::default()).unwrap_err(),
            Error::DtdForbidden
        );
        let xxe = r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert_eq!(
            parse(xxe, Limits::default()).unwrap_err(),
            Error::DtdForbidden
        );
    }

    #[test]
    fn rejects_size_depth_and_nodes() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            parse("<a>0123456789</a>", limits).unwrap_err(),
            Error::TooLarge {
                size: 17,
                limit: 10
            }
        );
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(
            parse(&deep, Limits::default()).unwrap_err(),
            Error::TooDeep { limit: 64 }
        );
        let wide = format!("<a>{}</a>", "<b/>".repeat(30_000));
        assert_eq!(
            parse(
                &wide,
                Limits {
                    max_bytes: 1 << 20,
                    ..Limits::default()
                }
            )
            .unwrap_err(),
            Error::TooManyNodes { limit: 20_000 }
        );
    }

    #[test]
    fn very_deep_input_is_rejected_without_stack_overflow() {
        let n = 200_000;
        let deep = format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        let limits = Limits {
            max_bytes: 4 << 20,
            max_nodes: 1_000_000,
            ..Limits::default()
        };
        assert_eq!(
            parse(&deep, limits).unwrap_err(),
            Error::TooDeep { limit: 64 }
        );
    }

    #[test]
    fn rejects_control_characters() {
        assert_eq!(
            check_chars("NameID", "a\u{1}b").unwrap_err(),
            Error::InvalidXmlChar {
                field: "NameID".into(),
                code: 1
            }
        );
        assert!(check_chars("NameID", "tab\tok \u{10000}").is_ok());
    }

    #[test]
    fn refuses_what_xml_forbids_but_roxmltree_tolerates() {
        let e = |x: &str| parse(x, Limits::default()).unwrap_err();
        assert_eq!(
            e(r#"<r :a="1"/>"#),
            Error::MalformedXml("empty namespace prefix".into())
        );
        assert_eq!(
            e("<r><?xml=T?></r>"),
            Error::MalformedXml("processing instruction with the reserved target 'xml'".into())
        );
    }

    #[test]
    fn simple_content_with_element_children_is_refused() {
        let doc = parse(
            "<Issuer>https://sp.<x>evil</x>example</Issuer>",
            Limits::default(),
        )
        .unwrap();
        assert_eq!(
            text_of(doc.root_element()).unwrap_err(),
            Error::MalformedXml("element Issuer must contain only text".into())
        );
        let doc = parse("<Issuer> https://sp.example </Issuer>", Limits::default()).unwrap();
        assert_eq!(text_of(doc.root_element()).unwrap(), "https://sp.example");
    }

    #[test]
    fn reads_prefix_from_source() {
        let doc = parse(r#"<p:a xmlns:p="urn:x"><b/></p:a>"#, Limits::default()).unwrap();
        let root = doc.root_element();
        assert_eq!(source_qname(root), "p:a");
        assert_eq!(prefix_of(source_qname(root)), Some("p"));
        let b = root.first_element_child().unwrap();
        assert_eq!(source_qname(b), "b");
    }
}
