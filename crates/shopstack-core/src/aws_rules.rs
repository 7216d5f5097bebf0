//! AWS's naming rules for the resources ShopStack names, checked before any request is made.

use thiserror::Error;

/// A name that AWS would refuse, with the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} \"{name}\" is invalid: {rule}")]
pub struct InvalidName {
    /// What the name is for, e.g. `S3 bucket`.
    pub kind: &'static str,
    /// The offending name.
    pub name: String,
    /// The rule it breaks, in words.
    pub rule: String,
}

fn invalid(kind: &'static str, name: &str, rule: impl Into<String>) -> InvalidName {
    InvalidName {
        kind,
        name: name.to_owned(),
        rule: rule.into(),
    }
}

fn check_length(kind: &'static str, name: &str, min: usize, max: usize) -> Result<(), InvalidName> {
    let length = name.chars().count();
    if length < min || length > max {
        return Err(invalid(
            kind,
            name,
            format!("must be {min} to {max} characters long, is {length}"),
        ));
    }
    Ok(())
}

fn check_characters(
    kind: &'static str,
    name: &str,
    allowed: impl Fn(char) -> bool,
    described: &str,
) -> Result<(), InvalidName> {
    match name.chars().find(|&c| !allowed(c)) {
        Some(c) => Err(invalid(
            kind,
            name,
            format!("character {c:?} is not allowed ({described})"),
        )),
        None => Ok(()),
    }
}

/// S3 general-purpose bucket naming rules.
pub fn s3_bucket(name: &str) -> Result<(), InvalidName> {
    const KIND: &str = "S3 bucket";
    check_length(KIND, name, 3, 63)?;
    check_characters(
        KIND,
        name,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-',
        "lowercase letters, digits, '.' and '-'",
    )?;
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alphanumeric(name.chars().next()) || !alphanumeric(name.chars().last()) {
        return Err(invalid(
            KIND,
            name,
            "must begin and end with a letter or digit",
        ));
    }
    if name.contains("..") {
        return Err(invalid(KIND, name, "must not contain two adjacent periods"));
    }
    if name.split('.').count() == 4 && name.split('.').all(|part| part.parse::<u8>().is_ok()) {
        return Err(invalid(
            KIND,
            name,
            "must not be formatted as an IP address",
        ));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(invalid(
                KIND,
                name,
                format!("must not start with \"{prefix}\""),
            ));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(invalid(
                KIND,
                name,
                format!("must not end with \"{suffix}\""),
            ));
        }
    }
    Ok(())
}

/// DynamoDB table naming rules.
pub fn dynamodb_table(name: &str) -> Result<(), InvalidName> {
    const KIND: &str = "DynamoDB table";
    check_length(KIND, name, 3, 255)?;
    check_characters(
        KIND,
        name,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'),
        "letters, digits, '_', '-' and '.'",
    )
}

/// ECR repository naming rules: lowercase path components separated by `/`,
/// each made of alphanumeric runs joined by single `.`, `_` or `-`.
pub fn ecr_repository(name: &str) -> Result<(), InvalidName> {
    const KIND: &str = "ECR repository";
    check_length(KIND, name, 2, 256)?;
    check_characters(
        KIND,
        name,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/'),
        "lowercase letters, digits, '.', '_', '-' and '/'",
    )?;
    for component in name.split('/') {
        let separators_ok = component.split(['.', '_', '-']).all(|run| !run.is_empty());
        if component.is_empty() || !separators_ok {
            return Err(invalid(
                KIND,
                name,
                "each path component must start and end with a letter or digit and separators must not repeat",
            ));
        }
    }
    Ok(())
}

/// IAM role naming rules.
pub fn iam_role(name: &str) -> Result<(), InvalidName> {
    const KIND: &str = "IAM role";
    check_length(KIND, name, 1, 64)?;
    check_characters(
        KIND,
        name,
        |c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c),
        "letters, digits and '+=,.@_-'",
    )
}

/// Secrets Manager secret naming rules.
pub fn secrets_manager_secret(name: &str) -> Result<(), InvalidName> {
    const KIND: &str = "Secrets Manager secret";
    check_length(KIND, name, 1, 512)?;
    check_characters(
        KIND,
        name,
        |c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c),
        "letters, digits and '/_+=.@-'",
    )
}

/// CodeBuild project naming rules.
pub fn codebuild_project(name: &str) -> Result<(), InvalidName> {
    const KIND: &str = "CodeBuild project";
    check_length(KIND, name, 2, 255)?;
    check_characters(
        KIND,
        name,
        |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
        "letters, digits, '-' and '_'",
    )?;
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(invalid(KIND, name, "must begin with a letter or digit"));
    }
    Ok(())
}

/// A DNS-1123 label, as Kubernetes namespaces and Kind cluster names require.
pub fn dns_label(name: &str) -> Result<(), InvalidName> {
    const KIND: &str = "DNS label";
    check_length(KIND, name, 1, 63)?;
    check_characters(
        KIND,
        name,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        "lowercase letters, digits and '-'",
    )?;
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(invalid(KIND, name, "must begin with a lowercase letter"));
    }
    if name.ends_with('-') {
        return Err(invalid(KIND, name, "must end with a letter or digit"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_bucket_accepts_valid_names() {
        for name in [
            "abc",
            "shopstack-dev-tfstate-111122223333",
            "a.b-c",
            &"a".repeat(63),
        ] {
            assert_eq!(s3_bucket(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn s3_bucket_refuses_each_broken_rule() {
        let cases = [
            ("ab", "must be 3 to 63 characters long, is 2"),
            (
                "Shop-dev",
                "character 'S' is not allowed (lowercase letters, digits, '.' and '-')",
            ),
            ("-shop", "must begin and end with a letter or digit"),
            ("shop..dev", "must not contain two adjacent periods"),
            ("192.168.5.4", "must not be formatted as an IP address"),
            ("xn--shop", "must not start with \"xn--\""),
            ("sthree-shop", "must not start with \"sthree-\""),
            ("shop-s3alias", "must not end with \"-s3alias\""),
        ];
        for (name, rule) in cases {
            assert_eq!(
                s3_bucket(name).map_err(|e| e.rule),
                Err(rule.to_owned()),
                "{name}"
            );
        }
        assert_eq!(
            s3_bucket(&"a".repeat(64)).map_err(|e| e.rule),
            Err("must be 3 to 63 characters long, is 64".to_owned())
        );
    }

    #[test]
    fn ecr_repository_rules() {
        assert_eq!(ecr_repository("shopstack-dev"), Ok(()));
        assert_eq!(ecr_repository("team/shop_stack.dev"), Ok(()));
        assert!(ecr_repository("Shop").is_err());
        assert!(ecr_repository("shop--dev").is_err());
        assert!(ecr_repository("shop/").is_err());
        assert!(ecr_repository("-shop").is_err());
    }

    #[test]
    fn iam_role_is_at_most_64_characters() {
        assert_eq!(iam_role(&"r".repeat(64)), Ok(()));
        assert_eq!(
            iam_role(&"r".repeat(65)).map_err(|e| e.rule),
            Err("must be 1 to 64 characters long, is 65".to_owned())
        );
        assert!(iam_role("shop dev").is_err());
    }

    #[test]
    fn secret_names_allow_paths_but_not_spaces() {
        assert_eq!(secrets_manager_secret("shopstack/dev/app-config"), Ok(()));
        assert!(secrets_manager_secret("shop stack").is_err());
        assert!(secrets_manager_secret(&"s".repeat(513)).is_err());
    }

    #[test]
    fn dynamodb_codebuild_and_dns_rules() {
        assert_eq!(dynamodb_table("shopstack-dev-tflock"), Ok(()));
        assert!(dynamodb_table("ab").is_err());
        assert!(dynamodb_table("a/b/c").is_err());
        assert_eq!(codebuild_project("shopstack-dev-image-build"), Ok(()));
        assert!(codebuild_project("_shop").is_err());
        assert_eq!(dns_label("shopstack"), Ok(()));
        assert!(dns_label("1shop").is_err());
        assert!(dns_label("shop-").is_err());
    }

    #[test]
    fn error_names_kind_name_and_rule() {
        let error = s3_bucket("ab").unwrap_err();
        assert_eq!(
            error.to_string(),
            "S3 bucket \"ab\" is invalid: must be 3 to 63 characters long, is 2"
        );
    }
}
