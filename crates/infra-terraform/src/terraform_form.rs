//! The Terraform form of a live resource: its `resource` blocks, each with the id Terraform
//! imports it by, written from what the resource's read observed.

use serde_json::Value;

use crate::hcl::{self, Block};

/// One Terraform resource with its import id.
pub struct Importable {
    /// `TYPE.NAME`, e.g. `aws_s3_bucket.state`.
    pub to: String,
    /// The id Terraform's `import` takes for the type (a name, an ARN, `role:policy`).
    pub id: String,
    /// The `resource "TYPE" "NAME" { … }` block.
    pub block: Block,
}

impl Importable {
    /// A resource of Terraform type `kind` named `name`, imported by `id`, its body built by
    /// `body` from an empty `resource` block.
    pub fn new(kind: &str, name: &str, id: &str, body: impl FnOnce(Block) -> Block) -> Self {
        Self {
            to: format!("{kind}.{name}"),
            id: id.to_owned(),
            block: body(Block::new("resource", &[kind, name])),
        }
    }

    /// Its `import` block and its `resource` block, as text.
    pub fn render(&self) -> String {
        let import = Block::new("import", &[])
            .attribute("to", self.to.as_str())
            .string("id", &self.id);
        format!("{}{}", import.render(0), self.block.render(0))
    }
}

/// Adds a `tags` map to `block` of the given tags, AWS-reserved `aws:` tags left out; none when
/// there are none.
pub fn with_tags<'a>(block: Block, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Block {
    let pairs: Vec<(&str, &str)> = pairs.filter(|(key, _)| !key.starts_with("aws:")).collect();
    if pairs.is_empty() {
        block
    } else {
        block.attribute("tags", hcl::map(&pairs, 2))
    }
}

/// A JSON document (possibly URL-encoded, as IAM returns them) as `jsonencode(…)`.
pub fn document(text: &str, indent: usize) -> String {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    let parsed = serde_json::from_str::<Value>(&decoded)
        .or_else(|_| serde_json::from_str::<Value>(text))
        .unwrap_or_else(|_| Value::String(text.to_owned()));
    match parsed {
        Value::String(raw) => hcl::string(&raw),
        value => hcl::json(&value, indent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_import_before_the_resource() {
        let importable = Importable::new("aws_iam_role", "ci", "shop-dev-ci", |block| {
            block.string("name", "shop-dev-ci")
        });
        assert_eq!(
            importable.render(),
            "import {\n  to = aws_iam_role.ci\n  id = \"shop-dev-ci\"\n}\nresource \"aws_iam_role\" \"ci\" {\n  name = \"shop-dev-ci\"\n}\n"
        );
    }

    #[test]
    fn tags_leave_out_aws_reserved_keys() {
        let block = with_tags(
            Block::new("resource", &["t", "n"]),
            [("aws:cloudformation:stack", "x"), ("Project", "shop")].into_iter(),
        );
        assert_eq!(
            block.render(0),
            "resource \"t\" \"n\" {\n  tags = {\n    \"Project\" = \"shop\"\n  }\n}\n"
        );
        let untagged = with_tags(Block::new("resource", &["t", "n"]), std::iter::empty());
        assert_eq!(untagged.render(0), "resource \"t\" \"n\" {\n}\n");
    }

    #[test]
    fn documents_are_decoded_from_iam_url_encoding() {
        assert_eq!(
            document("%7B%22Version%22%3A%222012-10-17%22%7D", 0),
            "jsonencode({\n  \"Version\" = \"2012-10-17\"\n})"
        );
        assert_eq!(document("not json", 0), "\"not json\"");
    }
}
