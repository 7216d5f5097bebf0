//! `shopstack.toml`: strict parsing and validation into a typed configuration.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::endpoint::Endpoint;
use crate::location::Location;
use crate::names::Names;

/// The environment used when neither `--env` nor `SHOPSTACK_ENV` names one.
pub const DEFAULT_ENVIRONMENT: &str = "local";
/// Region of the embedded `local` environment.
pub const LOCAL_REGION: &str = "us-east-1";
/// Endpoint of the embedded `local` environment: the local AWS emulator, over TLS.
pub const LOCAL_ENDPOINT: &str = "https://127.0.0.1:4566";
/// The CA of the local emulator's certificate, relative to the directory of `shopstack.toml`
/// (`cargo xtask local-aws start` makes it).
pub const LOCAL_CA_BUNDLE: &str = ".shopstack/local-aws/ca.crt";

/// Account id used to check derived names before the real one is known (same length).
const PLACEHOLDER_ACCOUNT: &str = "000000000000";

/// Errors from loading `shopstack.toml`.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the configuration", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a wrong type, or a value breaks a rule.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The selected environment is not in the file.
    #[error("{}: environment \"{name}\" is not defined (defined: {})", path.display(), defined.join(", "))]
    UnknownEnvironment {
        /// The file.
        path: PathBuf,
        /// The requested environment.
        name: String,
        /// The environments the file defines.
        defined: Vec<String>,
    },
}

/// A validated `shopstack.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, as named by the user.
    pub path: PathBuf,
    /// `project.name`.
    pub project: String,
    /// Who may assume the CI role.
    pub github: GitHub,
    /// The repository CodeBuild builds images from.
    pub codebuild_source: GitHubRepository,
    /// Environments by name, the embedded `local` one included.
    pub environments: BTreeMap<String, Environment>,
}

/// The `[github]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHub {
    /// Repositories whose workflows may assume the CI role.
    pub repositories: Vec<GitHubRepository>,
    /// The one branch they must run on.
    pub branch: String,
    /// The repository whose workflow plans and applies the environment (`infrastructure_repository`,
    /// default the first of `repositories`): the only one the infrastructure role trusts.
    pub infrastructure: GitHubRepository,
}

impl GitHub {
    /// OIDC token subjects allowed by the CI role's trust policy, one per repository.
    pub fn subjects(&self) -> Vec<String> {
        self.repositories
            .iter()
            .map(|repository| self.subject(repository))
            .collect()
    }

    /// The one OIDC token subject the infrastructure role's trust policy allows.
    pub fn infrastructure_subject(&self) -> String {
        self.subject(&self.infrastructure)
    }

    fn subject(&self, repository: &GitHubRepository) -> String {
        format!("repo:{repository}:ref:refs/heads/{}", self.branch)
    }
}

/// An `owner/repo` on GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubRepository {
    /// User or organisation.
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl std::fmt::Display for GitHubRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// One `[environments.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The environment name.
    pub name: String,
    /// AWS region.
    pub region: String,
    /// Custom endpoint (a local emulator), if any.
    pub endpoint: Option<Endpoint>,
    /// The only account this environment may touch, if pinned.
    pub account_id: Option<String>,
    /// CA certificates (PEM) to trust instead of the system's, for a private endpoint; resolved
    /// against the configuration's directory. It wins over `AWS_CA_BUNDLE`.
    pub ca_bundle: Option<PathBuf>,
    /// Whether a plain `http://` endpoint is allowed (`plain_http = true`): without TLS the state
    /// bucket's TLS-only policy cannot be applied.
    pub plain_http: bool,
    /// A customer-managed KMS key (its key ARN) for the state bucket, lock table, secret and ECR
    /// repository, instead of the AWS-managed keys.
    pub kms_key_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    project: RawProject,
    github: RawGitHub,
    #[serde(default)]
    codebuild: Option<RawCodeBuild>,
    #[serde(default)]
    environments: BTreeMap<Spanned<String>, RawEnvironment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGitHub {
    repositories: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    branch: Option<Spanned<String>>,
    #[serde(default)]
    infrastructure_repository: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCodeBuild {
    #[serde(default)]
    source_repository: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    region: Spanned<String>,
    #[serde(default)]
    endpoint_url: Option<Spanned<String>>,
    #[serde(default)]
    account_id: Option<Spanned<String>>,
    #[serde(default)]
    ca_bundle: Option<Spanned<String>>,
    #[serde(default)]
    plain_http: bool,
    #[serde(default)]
    kms_key_arn: Option<Spanned<String>>,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates `text`, naming `path` in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let checker = Checker { path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Invalid {
            location: Location::at(path, text, error.span()),
            message: decode_message(&error, text),
        })?;
        checker.validate(raw)
    }

    /// The environment called `name`.
    pub fn environment(&self, name: &str) -> Result<&Environment, ConfigError> {
        self.environments
            .get(name)
            .ok_or_else(|| ConfigError::UnknownEnvironment {
                path: self.path.clone(),
                name: name.to_owned(),
                defined: self.environments.keys().cloned().collect(),
            })
    }

    /// Resource names of environment `environment` in account `account_id`.
    pub fn names(&self, environment: &Environment, account_id: &str) -> Names {
        Names::new(&self.project, &environment.name, account_id)
    }
}

/// toml's message, one line, led by the dotted path of the key it is about (`project.name:
/// invalid type: …`): toml's own when it knows it, else the key written where the error points.
fn decode_message(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim_end().replace('\n', " ");
    // toml names the key only in its display without the input (no snippet), and not for
    // every value (an optional one, for instance).
    let mut plain = error.clone();
    plain.set_input(None);
    let path = plain
        .to_string()
        .lines()
        .rev()
        .find_map(|line| {
            line.strip_prefix("in `")
                .and_then(|rest| rest.strip_suffix('`'))
                .map(str::to_owned)
        })
        .filter(|path| !path.is_empty())
        .or_else(|| {
            (message.starts_with("invalid type") || message.starts_with("invalid value"))
                .then(|| {
                    error
                        .span()
                        .and_then(|span| key_written_at(text, span.start))
                })
                .flatten()
        });
    match path {
        Some(path) => format!("{path}: {message}"),
        None => message,
    }
}

/// The dotted key of the `key = value` line holding byte `offset` (a value), under the nearest
/// `[table]` header above it.
fn key_written_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let key = before[line_start..].split_once('=')?.0.trim();
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let table = before[..line_start].lines().rev().find_map(|line| {
        let line = line.trim();
        line.strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .map(|table| table.trim_matches(['[', ']']).trim().to_owned())
    });
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

/// Turns raw values into errors that point at their place in the file.
struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    fn error(&self, span: Range<usize>, message: String) -> ConfigError {
        ConfigError::Invalid {
            location: Location::at(self.path, self.text, Some(span)),
            message,
        }
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let project = raw.project.name;
        check_identifier(project.get_ref()).map_err(|rule| {
            self.error(
                project.span(),
                format!("project.name: \"{}\" {rule}", project.get_ref()),
            )
        })?;

        let github = self.github(raw.github)?;
        let codebuild_source = match raw
            .codebuild
            .and_then(|codebuild| codebuild.source_repository)
        {
            Some(source) => parse_repository(source.get_ref()).map_err(|reason| {
                self.error(
                    source.span(),
                    format!("codebuild.source_repository: {reason}"),
                )
            })?,
            None => github.repositories[0].clone(),
        };

        let mut environments = BTreeMap::new();
        for (name, raw_environment) in raw.environments {
            let environment = self.environment(project.get_ref(), &name, raw_environment)?;
            environments.insert(environment.name.clone(), environment);
        }
        environments
            .entry(DEFAULT_ENVIRONMENT.to_owned())
            .or_insert_with(|| embedded_local_environment(self.path));

        Ok(Config {
            path: self.path.to_path_buf(),
            project: project.into_inner(),
            github,
            codebuild_source,
            environments,
        })
    }

    fn github(&self, raw: RawGitHub) -> Result<GitHub, ConfigError> {
        let list_span = raw.repositories.span();
        let entries = raw.repositories.into_inner();
        if entries.is_empty() {
            return Err(self.error(
                list_span,
                "github.repositories: is empty: name at least one \"owner/repo\" allowed to assume the CI role".to_owned(),
            ));
        }
        let mut repositories: Vec<GitHubRepository> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let field = format!("github.repositories[{index}]");
            let repository = parse_repository(entry.get_ref())
                .map_err(|reason| self.error(entry.span(), format!("{field}: {reason}")))?;
            if repositories.contains(&repository) {
                return Err(self.error(
                    entry.span(),
                    format!("{field}: \"{repository}\" is listed twice"),
                ));
            }
            repositories.push(repository);
        }
        let branch = match raw.branch {
            Some(branch) => {
                check_branch(branch.get_ref()).map_err(|reason| {
                    self.error(
                        branch.span(),
                        format!("github.branch: \"{}\" {reason}", branch.get_ref()),
                    )
                })?;
                branch.into_inner()
            }
            None => "main".to_owned(),
        };
        let infrastructure = match raw.infrastructure_repository {
            Some(repository) => parse_repository(repository.get_ref()).map_err(|reason| {
                self.error(
                    repository.span(),
                    format!("github.infrastructure_repository: {reason}"),
                )
            })?,
            None => repositories[0].clone(),
        };
        Ok(GitHub {
            repositories,
            branch,
            infrastructure,
        })
    }

    fn environment(
        &self,
        project: &str,
        name: &Spanned<String>,
        raw: RawEnvironment,
    ) -> Result<Environment, ConfigError> {
        let env_name = name.get_ref();
        check_identifier(env_name).map_err(|rule| {
            self.error(
                name.span(),
                format!("environments.{env_name}: environment name \"{env_name}\" {rule}"),
            )
        })?;
        let field = |key: &str| format!("environments.{env_name}.{key}");

        let region = raw.region;
        if !is_region(region.get_ref()) {
            return Err(self.error(
                region.span(),
                format!(
                    "{}: \"{}\" is not an AWS region name (like \"eu-west-1\")",
                    field("region"),
                    region.get_ref()
                ),
            ));
        }
        let account_id = match raw.account_id {
            Some(account) if !is_account_id(account.get_ref()) => {
                return Err(self.error(
                    account.span(),
                    format!(
                        "{}: \"{}\" must be 12 digits",
                        field("account_id"),
                        account.get_ref()
                    ),
                ));
            }
            account => account.map(Spanned::into_inner),
        };
        let endpoint = match raw.endpoint_url {
            Some(url) => {
                let endpoint = Endpoint::parse(url.get_ref()).map_err(|reason| {
                    self.error(url.span(), format!("{}: {reason}", field("endpoint_url")))
                })?;
                if endpoint.is_plain_http() && !raw.plain_http {
                    return Err(self.error(
                        url.span(),
                        format!(
                            "{}: \"{}\" is plain http: use https, or set plain_http = true in [environments.{env_name}] to allow it (the state bucket's TLS-only policy is then not applied)",
                            field("endpoint_url"),
                            url.get_ref()
                        ),
                    ));
                }
                Some(endpoint)
            }
            None => None,
        };
        let ca_bundle = match raw.ca_bundle {
            Some(path) if path.get_ref().trim().is_empty() => {
                return Err(self.error(path.span(), format!("{}: is empty", field("ca_bundle"))));
            }
            Some(path) => Some(beside(self.path, Path::new(path.get_ref()))),
            None => None,
        };

        let kms_key_arn = match raw.kms_key_arn {
            Some(key) => {
                check_kms_key_arn(key.get_ref(), region.get_ref()).map_err(|reason| {
                    self.error(
                        key.span(),
                        format!("{}: \"{}\" {reason}", field("kms_key_arn"), key.get_ref()),
                    )
                })?;
                Some(key.into_inner())
            }
            None => None,
        };

        let names = Names::new(
            project,
            env_name,
            account_id.as_deref().unwrap_or(PLACEHOLDER_ACCOUNT),
        );
        names.validate().map_err(|invalid| {
            let shown = invalid.name.replace(PLACEHOLDER_ACCOUNT, "<account-id>");
            self.error(
                name.span(),
                format!(
                    "environments.{env_name}: project \"{project}\" and environment \"{env_name}\" give {} \"{shown}\", which is invalid: {} (shorten project.name or the environment name)",
                    invalid.kind, invalid.rule
                ),
            )
        })?;

        Ok(Environment {
            name: env_name.clone(),
            region: region.into_inner(),
            endpoint,
            account_id,
            ca_bundle,
            plain_http: raw.plain_http,
            kms_key_arn,
        })
    }
}

/// `path` as seen from the directory of the configuration file `config`.
fn beside(config: &Path, path: &Path) -> PathBuf {
    match config.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

fn embedded_local_environment(config: &Path) -> Environment {
    Environment {
        name: DEFAULT_ENVIRONMENT.to_owned(),
        region: LOCAL_REGION.to_owned(),
        endpoint: Endpoint::parse(LOCAL_ENDPOINT).ok(),
        account_id: None,
        ca_bundle: Some(beside(config, Path::new(LOCAL_CA_BUNDLE))),
        plain_http: false,
        kms_key_arn: None,
    }
}

/// Project and environment names: they become parts of bucket names, IAM roles and Kubernetes
/// namespaces, so they follow the strictest of those rules.
fn check_identifier(value: &str) -> Result<(), &'static str> {
    let valid_characters = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts_with_letter = value.starts_with(|c: char| c.is_ascii_lowercase());
    if value.is_empty() || !valid_characters || !starts_with_letter || value.ends_with('-') {
        return Err(
            "must be lowercase letters, digits and '-', start with a letter and end with a letter or digit",
        );
    }
    Ok(())
}

/// `owner/repo` with GitHub's character rules; wildcards and full subjects are refused with the
/// reason, since they would let other repositories assume the role.
fn parse_repository(value: &str) -> Result<GitHubRepository, String> {
    if value.contains('*') {
        return Err(format!(
            "\"{value}\" is a wildcard: name each repository exactly as \"owner/repo\" (a wildcard subject lets any matching repository assume the role)"
        ));
    }
    if value.starts_with("repo:") {
        return Err(format!(
            "\"{value}\" is an OIDC subject: write \"owner/repo\" and set github.branch"
        ));
    }
    let Some((owner, name)) = value.split_once('/') else {
        return Err(format!("\"{value}\" must be \"owner/repo\""));
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-');
    let name_ok = (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name != "."
        && name != "..";
    if !owner_ok || !name_ok {
        return Err(format!(
            "\"{value}\" must be \"owner/repo\" (owner: letters, digits, '-'; repo: letters, digits, '-', '_', '.')"
        ));
    }
    Ok(GitHubRepository {
        owner: owner.to_owned(),
        name: name.to_owned(),
    })
}

/// git's ref-name rules (`git check-ref-format`) for one branch, wildcards refused.
fn check_branch(value: &str) -> Result<(), &'static str> {
    if value.contains('*') {
        return Err("is a wildcard: name exactly one branch");
    }
    let forbidden = value
        .chars()
        .any(|c| c.is_ascii_control() || c.is_whitespace() || "~^:?[\\".contains(c));
    let bad_shape = value.is_empty()
        || value.starts_with(['/', '-', '.'])
        || value.ends_with(['/', '.'])
        || value.ends_with(".lock")
        || value.contains("..")
        || value.contains("//")
        || value.contains("@{")
        || value == "@";
    if forbidden || bad_shape {
        return Err("is not a valid git branch name");
    }
    Ok(())
}

/// `xx-name-N`, `xx-gov-name-N` and the like.
fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let Some((number, rest)) = parts.split_last() else {
        return false;
    };
    let number_ok =
        !number.is_empty() && number.len() <= 2 && number.chars().all(|c| c.is_ascii_digit());
    let words_ok = rest.len() >= 2
        && rest
            .iter()
            .all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase()))
        && rest[0].len() == 2;
    number_ok && words_ok
}

/// A KMS key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`) in the environment's region: the
/// only form an IAM policy can name (not an alias), and S3 takes only a key of the bucket's region.
fn check_kms_key_arn(value: &str, region: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, key_region, account, resource] = parts.as_slice() else {
        return Err("is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)".to_owned());
    };
    let id = resource.strip_prefix("key/").unwrap_or_default();
    let id_ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if *arn != "arn"
        || !partition.starts_with("aws")
        || *service != "kms"
        || !is_account_id(account)
    {
        return Err("is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)".to_owned());
    }
    if resource.starts_with("alias/") {
        return Err(
            "is an alias: name the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), which IAM policies can grant"
                .to_owned(),
        );
    }
    if !id_ok {
        return Err("is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)".to_owned());
    }
    if *key_region != region {
        return Err(format!(
            "is in {key_region}, not in the environment's region {region}: the state bucket can only use a key of its own region"
        ));
    }
    Ok(())
}

fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
[project]
name = "shopstack"

[github]
repositories = ["acme/infra-terraform", "acme/apps-sre"]
branch = "main"

[environments.dev]
region = "eu-west-1"
account_id = "111122223333"
"#;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("shopstack.toml"), text).map_err(|error| error.to_string())
    }

    #[test]
    fn a_valid_file_loads_with_the_embedded_local_environment() {
        let config = parse(VALID).expect("valid");
        assert_eq!(config.project, "shopstack");
        assert_eq!(
            config.github.subjects(),
            [
                "repo:acme/infra-terraform:ref:refs/heads/main",
                "repo:acme/apps-sre:ref:refs/heads/main"
            ]
        );
        assert_eq!(config.codebuild_source.to_string(), "acme/infra-terraform");
        assert_eq!(
            config.github.infrastructure_subject(),
            "repo:acme/infra-terraform:ref:refs/heads/main"
        );
        let local = config.environment("local").expect("embedded");
        assert_eq!(local.region, "us-east-1");
        assert_eq!(
            local.endpoint.as_ref().map(Endpoint::url),
            Some("https://127.0.0.1:4566")
        );
        assert_eq!(
            local.ca_bundle.as_deref(),
            Some(Path::new(".shopstack/local-aws/ca.crt"))
        );
        assert!(!local.plain_http);
        let dev = config.environment("dev").expect("declared");
        assert_eq!(dev.account_id.as_deref(), Some("111122223333"));
        assert_eq!(dev.endpoint, None);
        assert_eq!(dev.ca_bundle, None);
    }

    #[test]
    fn plain_http_is_allowed_only_when_the_environment_says_so() {
        const HEAD: &str = "[project]\nname = \"shop\"\n\n[github]\nrepositories = [\"acme/infra\"]\n\n[environments.lab]\nregion = \"eu-west-1\"\n";
        assert_eq!(
            parse(&format!("{HEAD}endpoint_url = \"http://127.0.0.1:4566\"\n")).map(|_| ()),
            Err("shopstack.toml:9:16: environments.lab.endpoint_url: \"http://127.0.0.1:4566\" is plain http: use https, or set plain_http = true in [environments.lab] to allow it (the state bucket's TLS-only policy is then not applied)".to_owned())
        );
        let config = parse(&format!(
            "{HEAD}endpoint_url = \"http://127.0.0.1:4566\"\nplain_http = true\n"
        ))
        .expect("explicitly allowed");
        let lab = config.environment("lab").expect("declared");
        assert!(lab.plain_http);
        assert!(lab.endpoint.as_ref().is_some_and(Endpoint::is_plain_http));
    }

    #[test]
    fn a_ca_bundle_is_read_beside_the_configuration() {
        const BODY: &str = "[project]\nname = \"shop\"\n\n[github]\nrepositories = [\"acme/infra\"]\n\n[environments.lab]\nregion = \"eu-west-1\"\nendpoint_url = \"https://127.0.0.1:4566\"\nca_bundle = \"certs/ca.pem\"\n";
        let config = Config::parse(Path::new("project/shopstack.toml"), BODY).expect("valid");
        let lab = config.environment("lab").expect("declared");
        assert_eq!(
            lab.ca_bundle.as_deref(),
            Some(Path::new("project/certs/ca.pem"))
        );
        let local = config.environment("local").expect("embedded");
        assert_eq!(
            local.ca_bundle.as_deref(),
            Some(Path::new("project/.shopstack/local-aws/ca.crt"))
        );
        assert_eq!(
            parse(&BODY.replace("certs/ca.pem", " ")).map(|_| ()),
            Err("shopstack.toml:10:13: environments.lab.ca_bundle: is empty".to_owned())
        );
    }

    #[test]
    fn the_infrastructure_repository_is_named_or_the_first_one() {
        let named = VALID.replace(
            "branch = \"main\"\n",
            "branch = \"release\"\ninfrastructure_repository = \"acme/platform\"\n",
        );
        let config = parse(&named).expect("valid");
        assert_eq!(
            config.github.infrastructure_subject(),
            "repo:acme/platform:ref:refs/heads/release"
        );
        assert_eq!(
            parse(&VALID.replace(
                "branch = \"main\"\n",
                "branch = \"main\"\ninfrastructure_repository = \"acme/*\"\n"
            ))
            .map(|_| ()),
            Err("shopstack.toml:8:29: github.infrastructure_repository: \"acme/*\" is a wildcard: name each repository exactly as \"owner/repo\" (a wildcard subject lets any matching repository assume the role)".to_owned())
        );
    }

    #[test]
    fn a_type_error_names_the_field_by_its_path() {
        let cases = [
            (
                "[project]\nname = 5\n\n[github]\nrepositories = [\"acme/infra\"]\n",
                "shopstack.toml:2:8: project.name: invalid type: integer `5`, expected a string",
            ),
            (
                "[project]\nname = \"shop\"\n\n[github]\nrepositories = \"acme/infra\"\n",
                "shopstack.toml:5:16: github.repositories: invalid type: string \"acme/infra\", expected a sequence",
            ),
            (
                "[project]\nname = \"shop\"\n\n[github]\nrepositories = [\"acme/infra\"]\n\n[environments.dev]\nregion = 1\n",
                "shopstack.toml:8:10: environments.dev.region: invalid type: integer `1`, expected a string",
            ),
            (
                "[project]\nname = \"shop\"\n\n[github]\nrepositories = [\"acme/infra\"]\n\n[environments.dev]\nregion = \"eu-west-1\"\naccount_id = 111122223333\n",
                "shopstack.toml:9:14: environments.dev.account_id: invalid type: integer `111122223333`, expected a string",
            ),
        ];
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(text, want)| {
                let got = parse(text).unwrap_err();
                (got != *want).then(|| format!("want {want}\n got {got}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_kms_key_is_a_key_arn_of_the_environments_region() {
        const KEY: &str =
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let with = |value: &str| parse(&format!("{VALID}kms_key_arn = \"{value}\"\n"));
        let config = with(KEY).expect("valid");
        assert_eq!(
            config
                .environment("dev")
                .expect("dev")
                .kms_key_arn
                .as_deref(),
            Some(KEY)
        );
        assert_eq!(
            config.environment("local").expect("local").kms_key_arn,
            None
        );
        let cases = [
            (
                "arn:aws:kms:eu-west-1:111122223333:alias/state",
                "is an alias: name the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), which IAM policies can grant",
            ),
            (
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd",
                "is in us-east-1, not in the environment's region eu-west-1: the state bucket can only use a key of its own region",
            ),
            (
                "1234abcd-12ab-34cd-56ef-1234567890ab",
                "is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
            ),
            (
                "arn:aws:s3:eu-west-1:111122223333:key/1234abcd",
                "is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
            ),
        ];
        for (value, reason) in cases {
            assert_eq!(
                with(value).map(|_| ()),
                Err(format!(
                    "shopstack.toml:12:15: environments.dev.kms_key_arn: \"{value}\" {reason}"
                )),
                "{value}"
            );
        }
    }

    #[test]
    fn an_unknown_environment_lists_the_defined_ones() {
        let config = parse(VALID).expect("valid");
        assert_eq!(
            config
                .environment("prod")
                .map(|_| ())
                .map_err(|error| error.to_string()),
            Err(
                "shopstack.toml: environment \"prod\" is not defined (defined: dev, local)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn regions_are_recognised_by_shape() {
        for region in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
            "il-central-1",
        ] {
            assert!(is_region(region), "{region}");
        }
        for region in [
            "eu-west",
            "EU-WEST-1",
            "europe-1",
            "eu-west-123",
            "eu--1",
            "",
        ] {
            assert!(!is_region(region), "{region}");
        }
    }

    #[test]
    fn branches_follow_git_ref_rules() {
        assert_eq!(check_branch("release/2026.11"), Ok(()));
        for branch in ["", "a b", "feature..x", "x.lock", "-x", "a:b", "@{u}"] {
            assert!(check_branch(branch).is_err(), "{branch}");
        }
    }
}
