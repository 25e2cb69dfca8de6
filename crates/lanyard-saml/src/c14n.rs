//! Exclusive XML canonicalization (exc-c14n, without comments) over a parsed tree.
//!
//! This is the general implementation used to verify signatures on documents we
//! did not write (AuthnRequests, test peers' output). Our own responses are written
//! directly in canonical form by `response`; tests prove that both agree, and the
//! interop suite proves both agree with lxml.
//!
//! Rules implemented (W3C exc-c14n 1.0): a namespace declaration is rendered on an
//! element only when the element or one of its attributes visibly uses the prefix
//! (or the prefix is in the InclusiveNamespaces PrefixList and in scope) and the
//! nearest output ancestor did not already render the same value. Prefixes used
//! only inside attribute values (`xsi:type="xs:string"`) are not visibly used.
//! Namespace declarations are sorted by prefix (default first), attributes by
//! (namespace URI, local name); empty elements get an end tag; comments are
//! dropped; CDATA becomes escaped text.

use roxmltree::{Node, NodeId};

use crate::xml::{escape_attr, escape_text, prefix_of, source_qname};

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Canonicalizes the subtree rooted at `apex`, leaving out the subtree `exclude`
/// (the enveloped signature) when given. `inclusive` is the InclusiveNamespaces
/// PrefixList (`"#default"` stands for the default namespace).
pub fn canonicalize<'a>(
    apex: Node<'a, '_>,
    exclude: Option<NodeId>,
    inclusive: &[&'a str],
) -> String {
    let mut out = String::with_capacity(apex.range().len());
    // Namespace declarations rendered by output ancestors, innermost last.
    let mut rendered: Vec<(Option<&'a str>, &'a str)> = Vec::new();
    enum Step<'n, 'i> {
        Enter(Node<'n, 'i>),
        Exit(Node<'n, 'i>, usize),
    }
    let mut stack = vec![Step::Enter(apex)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(node) => {
                if Some(node.id()) == exclude {
                    continue;
                }
                if node.is_text() {
                    escape_text(&mut out, node.text().unwrap_or_default());
                } else if let Some(pi) = node.pi() {
                    out.push_str("<?");
                    out.push_str(pi.target);
                    if let Some(v) = pi.value.filter(|v| !v.is_empty()) {
                        out.push(' ');
                        out.push_str(v);
                    }
                    out.push_str("?>");
                } else if node.is_element() {
                    let mark = rendered.len();
                    open_tag(&mut out, node, &mut rendered, inclusive);
                    stack.push(Step::Exit(node, mark));
                    for child in node.children().rev() {
                        stack.push(Step::Enter(child));
                    }
                }
            }
            Step::Exit(node, mark) => {
                out.push_str("</");
                out.push_str(source_qname(node));
                out.push('>');
                rendered.truncate(mark);
            }
        }
    }
    out
}

fn open_tag<'a>(
    out: &mut String,
    node: Node<'a, '_>,
    rendered: &mut Vec<(Option<&'a str>, &'a str)>,
    inclusive: &[&'a str],
) {
    let qname = source_qname(node);
    // Prefixes this element needs declared: its own, its attributes', and the
    // inclusive ones that are in scope.
    let mut wanted: Vec<(Option<&str>, &str)> = Vec::new();
    let own = prefix_of(qname);
    wanted.push((own, node.tag_name().namespace().unwrap_or("")));
    let doc_text = node.document().input_text();
    let mut attrs: Vec<(&str, &str, &str, &str)> = Vec::new(); // (ns, local, qname, value)
    for a in node.attributes() {
        let aq = doc_text.get(a.range_qname()).unwrap_or(a.name());
        let ans = a.namespace().unwrap_or("");
        if let Some(p) = prefix_of(aq) {
            if ans != XML_NS {
                wanted.push((Some(p), ans));
            }
        }
        attrs.push((ans, a.name(), aq, a.value()));
    }
    for p in inclusive {
        let prefix = if *p == "#default" { None } else { Some(*p) };
        if let Some(uri) = node.lookup_namespace_uri(prefix) {
            wanted.push((prefix, uri));
        }
    }
    wanted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    wanted.dedup_by(|a, b| a.0 == b.0);

    out.push('<');
    out.push_str(qname);
    for (prefix, uri) in wanted {
        let current = rendered
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u);
        let needed = match (prefix, current) {
            // xmlns="" only undoes a non-empty default rendered above.
            (None, None) => !uri.is_empty(),
            (_, Some(cur)) => cur != uri,
            (Some(_), None) => true,
        };
        if !needed {
            continue;
        }
        match prefix {
            None => out.push_str(" xmlns=\""),
            Some(p) => {
                out.push_str(" xmlns:");
                out.push_str(p);
                out.push_str("=\"");
            }
        }
        escape_attr(out, uri);
        out.push('"');
        rendered.push((prefix, uri));
    }
    attrs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (_, _, aq, value) in attrs {
        out.push(' ');
        out.push_str(aq);
        out.push_str("=\"");
        escape_attr(out, value);
        out.push('"');
    }
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse, Limits};

    fn c14n(xml: &str) -> String {
        let doc = parse(xml, Limits::default()).unwrap();
        canonicalize(doc.root_element(), None, &[])
    }

    #[test]
    fn sorts_attributes_and_namespaces_and_expands_empty_elements() {
        assert_eq!(
            c14n(r#"<b:r xmlns:b="urn:b" xmlns:a="urn:a" z="1" a:y="2" b:x="3" y='4'><e/></b:r>"#),
            r#"<b:r xmlns:a="urn:a" xmlns:b="urn:b" y="4" z="1" a:y="2" b:x="3"><e></e></b:r>"#
        );
    }

    #[test]
    fn drops_unused_namespaces_including_those_only_in_attribute_values() {
        let xml = r#"<a:r xmlns:a="urn:a" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><a:v xsi:type="xs:string">x</a:v></a:r>"#;
        assert_eq!(
            c14n(xml),
            r#"<a:r xmlns:a="urn:a"><a:v xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">x</a:v></a:r>"#
        );
        let doc = parse(xml, Limits::default()).unwrap();
        assert_eq!(
            canonicalize(doc.root_element(), None, &["xs"]),
            r#"<a:r xmlns:a="urn:a" xmlns:xs="http://www.w3.org/2001/XMLSchema"><a:v xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">x</a:v></a:r>"#
        );
    }

    #[test]
    fn subtree_declares_inherited_namespaces_and_skips_excluded_node() {
        let xml = r#"<p:o xmlns:p="urn:p" xmlns:q="urn:q"><p:i ID="1"><q:sig>s</q:sig><p:k/></p:i></p:o>"#;
        let doc = parse(xml, Limits::default()).unwrap();
        let inner = doc.root_element().first_element_child().unwrap();
        let sig = inner.first_element_child().unwrap();
        assert_eq!(
            canonicalize(inner, Some(sig.id()), &[]),
            r#"<p:i xmlns:p="urn:p" ID="1"><p:k></p:k></p:i>"#
        );
    }

    #[test]
    fn default_namespace_and_undeclaration() {
        assert_eq!(
            c14n(r#"<r xmlns="urn:d"><c xmlns=""><d/></c></r>"#),
            r#"<r xmlns="urn:d"><c xmlns=""><d></d></c></r>"#
        );
        assert_eq!(c14n(r#"<r><c xmlns=""/></r>"#), r#"<r><c></c></r>"#);
    }

    #[test]
    fn escapes_text_and_attributes_and_drops_comments() {
        let xml = "<r a=\"&#x9;t&#xA;&quot;&lt;>\">x&amp;&lt;&gt;&#xD;<!-- c --><![CDATA[<&>]]>\u{e9}<?pi  data?></r>";
        assert_eq!(
            c14n(xml),
            "<r a=\"&#x9;t&#xA;&quot;&lt;>\">x&amp;&lt;&gt;&#xD;&lt;&amp;&gt;\u{e9}<?pi data?></r>"
        );
    }

    #[test]
    fn normalizes_line_endings_and_attribute_whitespace() {
        assert_eq!(c14n("<r a=\"x\ny\">1\r\n2</r>"), "<r a=\"x y\">1\n2</r>");
    }

    #[test]
    fn redundant_declarations_are_not_repeated() {
        assert_eq!(
            c14n(r#"<a:r xmlns:a="urn:a"><a:c xmlns:a="urn:a"/><a:d xmlns:a="urn:other"/></a:r>"#),
            r#"<a:r xmlns:a="urn:a"><a:c></a:c><a:d xmlns:a="urn:other"></a:d></a:r>"#
        );
    }

    #[test]
    fn xml_prefixed_attributes_are_kept_without_declaration() {
        assert_eq!(
            c14n(r#"<r xml:lang="en" b="1"/>"#),
            r#"<r b="1" xml:lang="en"></r>"#
        );
    }
}
