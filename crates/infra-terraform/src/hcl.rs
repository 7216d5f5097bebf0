//! Writing Terraform's HCL: quoted strings, aligned attributes, blocks, maps and JSON documents.

use std::fmt::Write as _;

use serde_json::Value;

/// `text` as an HCL string literal: escaped, with `${` and `%{` kept literal (not templates).
pub fn string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                quoted.push(c);
                quoted.push(c);
            }
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A list of strings: `["a", "b"]`.
pub fn strings<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|item| string(item.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// A map of strings, one pair a line, keys sorted, at `indent` spaces for its closing brace.
pub fn map<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)], indent: usize) -> String {
    if pairs.is_empty() {
        return "{}".to_owned();
    }
    let mut sorted: Vec<(String, String)> = pairs
        .iter()
        .map(|(key, value)| (string(key.as_ref()), string(value.as_ref())))
        .collect();
    sorted.sort();
    let pairs: Vec<(&str, String)> = sorted
        .iter()
        .map(|(key, value)| (key.as_str(), value.clone()))
        .collect();
    format!(
        "{{\n{}{}}}",
        attributes(&pairs, indent + 2),
        " ".repeat(indent)
    )
}

/// A JSON document as `jsonencode(…)`, so Terraform compares it by meaning, not by formatting.
pub fn json(value: &Value, indent: usize) -> String {
    format!("jsonencode({})", json_value(value, indent))
}

fn json_value(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent + 2);
    let close = " ".repeat(indent);
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string(text),
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| format!("{pad}{}", json_value(item, indent + 2)))
                .collect();
            format!("[\n{},\n{close}]", items.join(",\n"))
        }
        Value::Object(members) if members.is_empty() => "{}".to_owned(),
        Value::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(key, member)| {
                    format!("{pad}{} = {}", string(key), json_value(member, indent + 2))
                })
                .collect();
            format!("{{\n{}\n{close}}}", members.join("\n"))
        }
    }
}

/// `name = value` lines at `indent` spaces, the `=` aligned as `terraform fmt` aligns them.
pub fn attributes(pairs: &[(&str, String)], indent: usize) -> String {
    let width = pairs.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let pad = " ".repeat(indent);
    pairs
        .iter()
        .map(|(name, value)| format!("{pad}{name:width$} = {value}\n"))
        .collect()
}

/// One item of a block body.
#[derive(Debug, Clone)]
pub enum Item {
    /// `name = value`, the value already HCL.
    Attribute(&'static str, String),
    /// A nested block.
    Block(Block),
}

/// A block: `kind "label" … { body }`.
#[derive(Debug, Clone)]
pub struct Block {
    kind: &'static str,
    labels: Vec<String>,
    body: Vec<Item>,
}

impl Block {
    /// An empty block.
    pub fn new(kind: &'static str, labels: &[&str]) -> Self {
        Self {
            kind,
            labels: labels.iter().map(|label| (*label).to_owned()).collect(),
            body: Vec::new(),
        }
    }

    /// Adds `name = value` (HCL).
    pub fn attribute(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.body.push(Item::Attribute(name, value.into()));
        self
    }

    /// Adds `name = "text"`.
    pub fn string(self, name: &'static str, text: &str) -> Self {
        self.attribute(name, string(text))
    }

    /// Adds a nested block.
    pub fn block(mut self, block: Block) -> Self {
        self.body.push(Item::Block(block));
        self
    }

    /// The block as text at `indent` spaces; consecutive one-line attributes aligned.
    pub fn render(&self, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let mut text = pad.clone();
        text.push_str(self.kind);
        for label in &self.labels {
            text.push(' ');
            text.push_str(&string(label));
        }
        text.push_str(" {\n");
        let mut run: Vec<(&str, String)> = Vec::new();
        let flush = |run: &mut Vec<(&str, String)>, text: &mut String| {
            text.push_str(&attributes(run, indent + 2));
            run.clear();
        };
        for item in &self.body {
            match item {
                Item::Attribute(name, value) if !value.contains('\n') => {
                    run.push((name, value.clone()));
                }
                Item::Attribute(name, value) => {
                    flush(&mut run, &mut text);
                    let _ = writeln!(text, "{pad}  {name} = {value}");
                }
                Item::Block(block) => {
                    flush(&mut run, &mut text);
                    text.push_str(&block.render(indent + 2));
                }
            }
        }
        flush(&mut run, &mut text);
        text.push_str(&pad);
        text.push_str("}\n");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_escaped_and_never_templates() {
        assert_eq!(
            string("a \"b\"\n${X} %{if} $Y \\"),
            r#""a \"b\"\n$${X} %%{if} $Y \\""#
        );
    }

    #[test]
    fn blocks_align_their_attributes() {
        let block = Block::new("resource", &["aws_s3_bucket", "state"])
            .string("bucket", "b")
            .attribute("force_destroy", "false")
            .block(Block::new("rule", &[]).string("id", "r"));
        assert_eq!(
            block.render(0),
            "resource \"aws_s3_bucket\" \"state\" {\n  bucket        = \"b\"\n  force_destroy = false\n  rule {\n    id = \"r\"\n  }\n}\n"
        );
    }

    #[test]
    fn json_becomes_jsonencode_of_hcl_values() {
        assert_eq!(
            json(
                &json!({"Version": "2012-10-17", "Action": ["s3:GetObject"]}),
                2
            ),
            "jsonencode({\n    \"Action\" = [\n      \"s3:GetObject\",\n    ]\n    \"Version\" = \"2012-10-17\"\n  })"
        );
    }

    #[test]
    fn maps_are_sorted_by_key() {
        assert_eq!(
            map(&[("b", "2"), ("a", "1")], 2),
            "{\n    \"a\" = \"1\"\n    \"b\" = \"2\"\n  }"
        );
    }
}
