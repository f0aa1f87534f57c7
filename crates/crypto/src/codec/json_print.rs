//! Prints JSON in the original service's layout: keys in the order given
//! (callers pass them sorted), four spaces per level, each closing bracket on
//! the line of the last value, and a one-element array opening on the line of
//! its key (`"key": [{`).

use zeroize::Zeroizing;

/// A JSON value to print. Only what keysets need: strings, objects, arrays.
pub(super) enum Node<'a> {
    Text(&'a str),
    /// A string holding key material; its copy is zeroed with the tree.
    Secret(Zeroizing<String>),
    Object(Vec<(&'static str, Node<'a>)>),
    Array(Vec<Node<'a>>),
}

impl<'a> Node<'a> {
    pub(super) fn text(s: &'a str) -> Self {
        Self::Text(s)
    }
}

pub(super) fn print(root: &Node<'_>) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(512));
    write_node(root, 0, &mut out);
    out
}

fn write_node(node: &Node<'_>, level: usize, out: &mut String) {
    match node {
        Node::Text(s) => write_string(s, out),
        Node::Secret(s) => write_string(s, out),
        Node::Object(fields) => {
            out.push('{');
            for (i, (name, value)) in fields.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(level + 1, out);
                write_string(name, out);
                out.push_str(": ");
                write_node(value, level + 1, out);
            }
            out.push('}');
        }
        Node::Array(items) if items.len() == 1 => {
            out.push('[');
            write_node(&items[0], level + 1, out);
            out.push(']');
        }
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(level + 1, out);
                write_node(item, level + 1, out);
            }
            out.push(']');
        }
    }
}

fn indent(level: usize, out: &mut String) {
    out.extend(std::iter::repeat_n("    ", level));
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_nested_values_and_multi_element_arrays() {
        let tree = Node::Object(vec![
            (
                "a",
                Node::Array(vec![
                    Node::text("x"),
                    Node::Object(vec![("b", Node::text("q\"\n"))]),
                ]),
            ),
            ("c", Node::Array(vec![])),
        ]);
        let printed = print(&tree);
        assert_eq!(
            printed.as_str(),
            "{\n    \"a\": [\n        \"x\",\n        {\n            \"b\": \"q\\\"\\n\"}],\n    \"c\": []}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&printed).expect("valid JSON");
        assert_eq!(parsed["a"][1]["b"], "q\"\n");
    }
}
