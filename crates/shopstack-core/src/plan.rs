//! The plan: what a command would change, rendered like Terraform for people and as JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Created from nothing.
    Create,
    /// Changed in place.
    Update,
    /// Removed.
    Delete,
    /// Exists and already matches: adopted when ShopStack did not create it.
    NoOp,
    /// Exists, differs, and cannot be changed safely (not created by ShopStack, or the attribute
    /// cannot change in place): apply refuses until a person resolves it.
    Conflict,
}

impl Action {
    /// Terraform's symbol for the action.
    pub fn symbol(self) -> char {
        match self {
            Self::Create => '+',
            Self::Update => '~',
            Self::Delete => '-',
            Self::NoOp => ' ',
            Self::Conflict => '!',
        }
    }
}

/// One attribute's change: `old` is `None` on create, `new` is `None` on delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeChange {
    /// Attribute name, e.g. `versioning`.
    pub attribute: String,
    /// Value now, as shown to people.
    pub old: Option<String>,
    /// Value after the change.
    pub new: Option<String>,
}

impl AttributeChange {
    /// An attribute changing from `old` to `new`.
    pub fn update(attribute: &str, old: impl Into<String>, new: impl Into<String>) -> Self {
        Self {
            attribute: attribute.to_owned(),
            old: Some(old.into()),
            new: Some(new.into()),
        }
    }

    /// An attribute set on a resource being created.
    pub fn set(attribute: &str, new: impl Into<String>) -> Self {
        Self {
            attribute: attribute.to_owned(),
            old: None,
            new: Some(new.into()),
        }
    }
}

/// The change to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    /// Stable address, e.g. `s3_bucket.state`.
    pub address: String,
    /// The resource's name or id in AWS.
    pub id: String,
    /// What happens.
    pub action: Action,
    /// Attribute changes, for create and update.
    pub attributes: Vec<AttributeChange>,
    /// Why, when it is not obvious (e.g. adopted, kept because shared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Counts of changes, as Terraform's summary line shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources to create.
    pub add: usize,
    /// Resources to update in place.
    pub change: usize,
    /// Resources to delete.
    pub destroy: usize,
    /// Resources in conflict: apply refuses while there is one.
    pub conflict: usize,
}

/// A plan: resource changes in apply order, plus notes for the reader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Changes, one per resource, no-ops included.
    pub changes: Vec<ResourceChange>,
    /// Remarks, e.g. a control skipped on a local emulator and why.
    pub notes: Vec<String>,
}

impl Plan {
    /// The counts of creates, updates and deletes.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => summary.add += 1,
                Action::Update => summary.change += 1,
                Action::Delete => summary.destroy += 1,
                Action::Conflict => summary.conflict += 1,
                Action::NoOp => {}
            }
        }
        summary
    }

    /// Whether applying would change anything (a conflict counts: the environment differs).
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|change| change.action != Action::NoOp)
    }

    /// The resources in conflict.
    pub fn conflicts(&self) -> impl Iterator<Item = &ResourceChange> {
        self.changes
            .iter()
            .filter(|change| change.action == Action::Conflict)
    }

    /// Terraform-style text: one block per changed resource (and per unchanged one with a reason,
    /// such as adopted or kept), notes, then the summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let shown: Vec<&ResourceChange> = self
            .changes
            .iter()
            .filter(|change| change.action != Action::NoOp || change.reason.is_some())
            .collect();
        for change in &shown {
            let _ = writeln!(
                out,
                "  {} {}  {}",
                change.action.symbol(),
                change.address,
                change.id
            );
            if let Some(reason) = &change.reason {
                let _ = writeln!(out, "      # {reason}");
            }
            let width = change
                .attributes
                .iter()
                .map(|attribute| attribute.attribute.len())
                .max()
                .unwrap_or(0);
            for attribute in &change.attributes {
                let _ = match (&attribute.old, &attribute.new) {
                    (Some(old), Some(new)) => match json_diff(old, new) {
                        Some(lines) => {
                            let _ = writeln!(out, "      ~ {}", attribute.attribute);
                            lines
                                .iter()
                                .try_for_each(|line| writeln!(out, "          {line}"))
                        }
                        None => {
                            writeln!(out, "      ~ {:width$}  {old} → {new}", attribute.attribute)
                        }
                    },
                    (None, Some(new)) => match pretty_json(new) {
                        Some(lines) => {
                            let _ = writeln!(out, "      + {}", attribute.attribute);
                            lines
                                .iter()
                                .try_for_each(|line| writeln!(out, "            {line}"))
                        }
                        None => writeln!(out, "      + {:width$}  {new}", attribute.attribute),
                    },
                    (Some(old), None) => {
                        writeln!(out, "      - {:width$}  {old}", attribute.attribute)
                    }
                    (None, None) => Ok(()),
                };
            }
        }
        if !shown.is_empty() {
            out.push('\n');
        }
        for note in &self.notes {
            let _ = writeln!(out, "Note: {note}");
        }
        let summary = self.summary();
        if self.has_changes() {
            let _ = write!(
                out,
                "Plan: {} to add, {} to change, {} to destroy",
                summary.add, summary.change, summary.destroy
            );
            let _ = match summary.conflict {
                0 => writeln!(out, "."),
                count => writeln!(out, "; {count} in conflict."),
            };
        } else {
            out.push_str("No changes. The live resources match the configuration.\n");
        }
        out
    }

    /// The plan as JSON: `{"changes": [...], "notes": [...], "summary": {...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "changes": self.changes,
            "notes": self.notes,
            "summary": self.summary(),
            "has_changes": self.has_changes(),
        })
    }
}

/// A JSON object value pretty-printed, one line per entry; `None` for anything else.
fn pretty_json(value: &str) -> Option<Vec<String>> {
    if !value.starts_with('{') {
        return None;
    }
    let parsed: serde_json::Value = serde_json::from_str(value).ok()?;
    let text = serde_json::to_string_pretty(&parsed).ok()?;
    Some(text.lines().map(str::to_owned).collect())
}

/// Lines of context kept around each change in a JSON diff.
const CONTEXT: usize = 2;

/// A line diff of two JSON object values, pretty-printed: changed lines marked `-`/`+`, with a
/// little context and `…` for what is left out. `None` when either value is not a JSON object.
fn json_diff(old: &str, new: &str) -> Option<Vec<String>> {
    let (old, new) = (pretty_json(old)?, pretty_json(new)?);
    // Longest common subsequence table over lines (policies are small).
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            lines.push((' ', &old[i]));
            i += 1;
            j += 1;
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(('-', &old[i]));
            i += 1;
        } else {
            lines.push(('+', &new[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = (0..lines.len())
        .filter(|&index| lines[index].0 != ' ')
        .collect();
    let near = |index: usize| {
        changed
            .iter()
            .any(|&change| index + CONTEXT >= change && index <= change + CONTEXT)
    };
    let mut shown = Vec::new();
    let mut skipped = false;
    for (index, (mark, line)) in lines.iter().enumerate() {
        if near(index) {
            if skipped {
                shown.push("  …".to_owned());
                skipped = false;
            }
            shown.push(format!("{mark} {line}"));
        } else {
            skipped = true;
        }
    }
    if skipped {
        shown.push("  …".to_owned());
    }
    Some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        Plan {
            changes: vec![
                ResourceChange {
                    address: "s3_bucket.state".into(),
                    id: "shopstack-dev-tfstate-111122223333".into(),
                    action: Action::Create,
                    attributes: vec![
                        AttributeChange::set("versioning", "Enabled"),
                        AttributeChange::set("encryption", "aws:kms, bucket key"),
                    ],
                    reason: None,
                },
                ResourceChange {
                    address: "ecr_repository.app".into(),
                    id: "shopstack-dev".into(),
                    action: Action::Update,
                    attributes: vec![AttributeChange::update(
                        "image_tag_mutability",
                        "MUTABLE",
                        "IMMUTABLE",
                    )],
                    reason: None,
                },
                ResourceChange {
                    address: "dynamodb_table.lock".into(),
                    id: "shopstack-dev-tflock".into(),
                    action: Action::NoOp,
                    attributes: vec![],
                    reason: None,
                },
                ResourceChange {
                    address: "iam_role.ci".into(),
                    id: "shopstack-dev-github-actions".into(),
                    action: Action::Delete,
                    attributes: vec![],
                    reason: Some("destroy requested".into()),
                },
            ],
            notes: vec![
                "the bucket policy requiring TLS is skipped on a plain-http endpoint".into(),
            ],
        }
    }

    #[test]
    fn renders_like_terraform() {
        let expected = [
            "  + s3_bucket.state  shopstack-dev-tfstate-111122223333",
            "      + versioning  Enabled",
            "      + encryption  aws:kms, bucket key",
            "  ~ ecr_repository.app  shopstack-dev",
            "      ~ image_tag_mutability  MUTABLE → IMMUTABLE",
            "  - iam_role.ci  shopstack-dev-github-actions",
            "      # destroy requested",
            "",
            "Note: the bucket policy requiring TLS is skipped on a plain-http endpoint",
            "Plan: 1 to add, 1 to change, 1 to destroy.",
            "",
        ];
        assert_eq!(sample().render(), expected.join("\n"));
    }

    #[test]
    fn conflicts_are_marked_and_counted() {
        let mut plan = sample();
        plan.changes[1].action = Action::Conflict;
        plan.changes[1].reason = Some("not created by shopstack and differs".into());
        let text = plan.render();
        assert!(text.contains("  ! ecr_repository.app  shopstack-dev\n      # not created by shopstack and differs\n"), "{text}");
        assert!(
            text.ends_with("Plan: 1 to add, 0 to change, 1 to destroy; 1 in conflict.\n"),
            "{text}"
        );
        assert_eq!(plan.conflicts().count(), 1);
    }

    #[test]
    fn json_values_are_shown_as_a_line_diff() {
        let old = r#"{"Statement":[{"Condition":{"StringLike":{"sub":"repo:acme/*"}},"Effect":"Allow"}],"Version":"2012-10-17"}"#;
        let new = r#"{"Statement":[{"Condition":{"StringEquals":{"sub":["repo:acme/infra:ref:refs/heads/main"]}},"Effect":"Allow"}],"Version":"2012-10-17"}"#;
        let lines = json_diff(old, new).expect("both are JSON objects");
        assert_eq!(
            lines,
            [
                "  …",
                "      {",
                "        \"Condition\": {",
                "-         \"StringLike\": {",
                "-           \"sub\": \"repo:acme/*\"",
                "+         \"StringEquals\": {",
                "+           \"sub\": [",
                "+             \"repo:acme/infra:ref:refs/heads/main\"",
                "+           ]",
                "          }",
                "        },",
                "  …",
            ]
        );
        assert_eq!(json_diff("MUTABLE", "IMMUTABLE"), None);
    }

    #[test]
    fn an_empty_plan_says_no_changes() {
        let plan = Plan {
            changes: vec![sample().changes[2].clone()],
            notes: vec![],
        };
        assert!(!plan.has_changes());
        assert_eq!(
            plan.render(),
            "No changes. The live resources match the configuration.\n"
        );
    }

    #[test]
    fn json_carries_every_change_and_the_summary() {
        let json = sample().to_json();
        assert_eq!(
            json["summary"],
            serde_json::json!({"add": 1, "change": 1, "destroy": 1, "conflict": 0})
        );
        assert_eq!(json["has_changes"], true);
        assert_eq!(json["changes"][1]["action"], "update");
        assert_eq!(json["changes"][1]["attributes"][0]["old"], "MUTABLE");
        assert_eq!(json["changes"][2]["action"], "no-op");
        assert_eq!(json["changes"].as_array().map(Vec::len), Some(4));
    }
}
