//! Bad input to every binary: exit 1, one `error: ` line naming the problem, no panic, and no
//! request to AWS or Kubernetes and no external tool run before the input is refused.

use std::path::Path;
use std::process::{Command, Output};

use shopstack_testkit::{ConnectionCounter, StandIns};

use crate::binaries;

/// A valid `shopstack.toml`; `{aws}` becomes the counting AWS endpoint. Line 5 holds the
/// repositories, lines 7–9 the `local` environment.
const VALID: &str = "[project]\nname = \"shop\"\n\n[github]\nrepositories = [\"acme/infra\"]\n\n[environments.local]\nregion = \"eu-west-1\"\nendpoint_url = \"{aws}\"\nplain_http = true\n";

/// The first five lines of [`VALID`], to append tables to (a new table starts on line 7).
const HEAD: &str = "[project]\nname = \"shop\"\n\n[github]\nrepositories = [\"acme/infra\"]\n";

/// The shipped kind configuration, for cluster `shop`.
fn kind_config() -> String {
    include_str!("../../../kind-config.yaml").replace("name: shopstack", "name: shop")
}

/// A kubeconfig whose only context, `kind-shop`, points at `server`.
fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kind-shop\n  cluster:\n    server: {server}\ncontexts:\n- name: kind-shop\n  context:\n    cluster: kind-shop\n    user: kind-shop\ncurrent-context: kind-shop\nusers:\n- name: kind-shop\n  user:\n    token: test-token\n"
    )
}

/// One bad input and what must happen.
struct Case {
    what: &'static str,
    binary: &'static str,
    args: Vec<&'static str>,
    /// `shopstack.toml` (default [`VALID`]).
    config: Option<String>,
    /// Other files written into the working directory.
    files: Vec<(&'static str, String)>,
    env: Vec<(&'static str, &'static str)>,
    /// Pass `--endpoint-url` with the counting endpoint (off when the case tests the endpoint).
    endpoint_flag: bool,
    /// The start of the one stderr line: `error: ` and the key part (file:line:col and field).
    expected: &'static str,
}

fn case(what: &'static str, binary: &'static str, args: &[&'static str]) -> Case {
    Case {
        what,
        binary,
        args: args.to_vec(),
        config: None,
        files: Vec::new(),
        env: Vec::new(),
        endpoint_flag: true,
        expected: "",
    }
}

impl Case {
    fn config(mut self, text: impl Into<String>) -> Self {
        self.config = Some(text.into());
        self
    }

    fn file(mut self, name: &'static str, text: impl Into<String>) -> Self {
        self.files.push((name, text.into()));
        self
    }

    fn env(mut self, name: &'static str, value: &'static str) -> Self {
        self.env.push((name, value));
        self
    }

    fn no_endpoint_flag(mut self) -> Self {
        self.endpoint_flag = false;
        self
    }

    fn expect(mut self, line_start: &'static str) -> Self {
        self.expected = line_start;
        self
    }
}

const INFRA: &str = "infra-terraform";
const CLUSTER: &str = "cluster-gitops";
const APPS: &str = "apps-sre";

fn environment(body: &str) -> String {
    format!("{HEAD}\n[environments.dev]\n{body}")
}

fn cases() -> Vec<Case> {
    vec![
        // shopstack.toml: syntax, unknown keys, wrong types.
        case("TOML syntax", INFRA, &["plan"])
            .config("[project\nname = \"shop\"\n")
            .expect("error: shopstack.toml:1:9: unclosed table"),
        case("duplicate key", INFRA, &["plan", "--json"])
            .config("[project]\nname = \"shop\"\nname = \"x\"\n\n[github]\nrepositories = [\"acme/infra\"]\n")
            .expect("error: shopstack.toml:3:1: duplicate key"),
        case("unknown table", INFRA, &["apply", "--auto-approve"])
            .config(format!("{HEAD}\n[projekt]\nname = \"x\"\n"))
            .expect("error: shopstack.toml:7:2: unknown field `projekt`"),
        case("unknown project key", INFRA, &["status"])
            .config("[project]\nnmae = \"shop\"\n")
            .expect("error: shopstack.toml:2:1: project: unknown field `nmae`"),
        case("unknown environment key", INFRA, &["audit"])
            .config(environment("regoin = \"eu-west-1\"\n"))
            .expect("error: shopstack.toml:8:1: environments.dev: unknown field `regoin`"),
        case("project name of the wrong type", INFRA, &["destroy", "--auto-approve"])
            .config(HEAD.replace("\"shop\"", "5"))
            .expect("error: shopstack.toml:2:8: project.name: invalid type: integer `5`, expected a string"),
        case("repositories as a string", INFRA, &["whoami"])
            .config(HEAD.replace("[\"acme/infra\"]", "\"acme/infra\""))
            .expect("error: shopstack.toml:5:16: github.repositories: invalid type: string \"acme/infra\", expected a sequence"),
        case("account id as a number", INFRA, &["whoami"])
            .config(environment("region = \"eu-west-1\"\naccount_id = 111122223333\n"))
            .expect("error: shopstack.toml:9:14: environments.dev.account_id: invalid type: integer `111122223333`, expected a string"),
        case("missing github table", INFRA, &["whoami"])
            .config("[project]\nname = \"shop\"\n")
            .expect("error: shopstack.toml:1:1: missing field `github`"),
        // Names.
        case("upper-case project name", INFRA, &["plan"])
            .config(HEAD.replace("\"shop\"", "\"Shop_Stack\""))
            .expect("error: shopstack.toml:2:8: project.name: \"Shop_Stack\" must be lowercase letters"),
        case("project name starting with a digit", INFRA, &["plan"])
            .config(HEAD.replace("\"shop\"", "\"9shop\""))
            .expect("error: shopstack.toml:2:8: project.name: \"9shop\" must be lowercase letters"),
        case("invalid environment name", INFRA, &["-e", "Dev_1", "plan"])
            .config(format!("{HEAD}\n[environments.Dev_1]\nregion = \"eu-west-1\"\n"))
            .expect("error: shopstack.toml:7:15: environments.Dev_1: environment name \"Dev_1\" must be lowercase letters"),
        case("project name too long for an S3 bucket", INFRA, &["plan"])
            .config(
                HEAD.replace("\"shop\"", &format!("\"{}\"", "p".repeat(38)))
                    + "\n[environments.prod]\nregion = \"eu-west-1\"\n",
            )
            .expect("error: shopstack.toml:7:15: environments.prod: project \"pppppppppppppppppppppppppppppppppppppp\" and environment \"prod\" give S3 bucket"),
        case("environment name too long for an S3 bucket", INFRA, &["plan"])
            .config(format!(
                "{HEAD}\n[environments.{}]\nregion = \"eu-west-1\"\n",
                "e".repeat(50)
            ))
            .expect("error: shopstack.toml:7:15: environments.eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee: project \"shop\" and environment"),
        // GitHub subjects.
        case("empty repository list", INFRA, &["apply", "--auto-approve"])
            .config(HEAD.replace("[\"acme/infra\"]", "[]"))
            .expect("error: shopstack.toml:5:16: github.repositories: is empty"),
        case("owner wildcard repository", INFRA, &["apply", "--auto-approve"])
            .config(HEAD.replace("[\"acme/infra\"]", "[\"acme/infra\", \"acme/*\"]"))
            .expect("error: shopstack.toml:5:31: github.repositories[1]: \"acme/*\" is a wildcard"),
        case("bare wildcard repository", INFRA, &["plan"])
            .config(HEAD.replace("\"acme/infra\"", "\"*\""))
            .expect("error: shopstack.toml:5:17: github.repositories[0]: \"*\" is a wildcard"),
        case("wildcard branch", INFRA, &["plan"])
            .config(format!("{HEAD}branch = \"*\"\n"))
            .expect("error: shopstack.toml:6:10: github.branch: \"*\" is a wildcard"),
        case("empty branch", INFRA, &["plan"])
            .config(format!("{HEAD}branch = \"\"\n"))
            .expect("error: shopstack.toml:6:10: github.branch: \"\" is not a valid git branch name"),
        // Environments: endpoint, region, account.
        case("plain http endpoint off loopback", INFRA, &["-e", "dev", "plan"])
            .config(environment("region = \"eu-west-1\"\nendpoint_url = \"http://10.1.2.3:4566\"\n"))
            .no_endpoint_flag()
            .expect("error: shopstack.toml:9:16: environments.dev.endpoint_url: \"http://10.1.2.3:4566\" is plain http on a non-loopback host"),
        case("endpoint without a host", INFRA, &["plan"])
            .config(environment("region = \"eu-west-1\"\nendpoint_url = \"https://\"\n"))
            .expect("error: shopstack.toml:9:16: environments.dev.endpoint_url: \"https://\" has no valid host"),
        case("bad region", INFRA, &["-e", "dev", "plan"])
            .config(environment("region = \"eu-west\"\n"))
            .expect("error: shopstack.toml:8:10: environments.dev.region: \"eu-west\" is not an AWS region name"),
        case("account id with a letter", INFRA, &["plan"])
            .config(environment("region = \"eu-west-1\"\naccount_id = \"11112222333a\"\n"))
            .expect("error: shopstack.toml:9:14: environments.dev.account_id: \"11112222333a\" must be 12 digits"),
        case("short account id", INFRA, &["plan"])
            .config(environment("region = \"eu-west-1\"\naccount_id = \"1234\"\n"))
            .expect("error: shopstack.toml:9:14: environments.dev.account_id: \"1234\" must be 12 digits"),
        // Endpoint overrides.
        case("--endpoint-url plain http off loopback", INFRA, &["--endpoint-url", "http://192.0.2.10:4566", "plan"])
            .no_endpoint_flag()
            .expect("error: --endpoint-url: \"http://192.0.2.10:4566\" is plain http on a non-loopback host"),
        case("--endpoint-url without a scheme", INFRA, &["--endpoint-url", "localhost:4566", "whoami"])
            .no_endpoint_flag()
            .expect("error: --endpoint-url: \"localhost:4566\" must start with http:// or https://"),
        case("--endpoint-url with a broken host", INFRA, &["--endpoint-url", "http://[::1", "whoami"])
            .no_endpoint_flag()
            .expect("error: --endpoint-url: \"http://[::1\" has no valid host"),
        case("AWS_ENDPOINT_URL plain http off loopback", INFRA, &["plan"])
            .env("AWS_ENDPOINT_URL", "http://192.0.2.10:4566")
            .no_endpoint_flag()
            .expect("error: AWS_ENDPOINT_URL: \"http://192.0.2.10:4566\" is plain http on a non-loopback host"),
        case("--endpoint-url off loopback for apps-sre", APPS, &["--endpoint-url", "http://192.0.2.10:4566", "secrets", "sync"])
            .no_endpoint_flag()
            .expect("error: connect to AWS: --endpoint-url: \"http://192.0.2.10:4566\" is plain http on a non-loopback host"),
        // Unknown environment.
        case("unknown environment flag", INFRA, &["-e", "prod", "plan"])
            .expect("error: shopstack.toml: environment \"prod\" is not defined (defined: local)"),
        case("unknown SHOPSTACK_ENV", INFRA, &["status"])
            .env("SHOPSTACK_ENV", "prod")
            .expect("error: shopstack.toml: environment \"prod\" is not defined (defined: local)"),
        case("unknown environment for cluster-gitops", CLUSTER, &["-e", "prod", "validate"])
            .expect("error: shopstack.toml: environment \"prod\" is not defined (defined: local)"),
        case("unknown environment for apps-sre", APPS, &["-e", "prod", "secrets", "sync"])
            .expect("error: shopstack.toml: environment \"prod\" is not defined (defined: local)"),
        // The configuration is checked by the Kubernetes-side tools too.
        case("wildcard repository for cluster-gitops", CLUSTER, &["validate"])
            .config(HEAD.replace("\"acme/infra\"", "\"acme/*\""))
            .expect("error: shopstack.toml:5:17: github.repositories[0]: \"acme/*\" is a wildcard"),
        case("unknown key for apps-sre", APPS, &["secrets", "sync"])
            .config(format!("{HEAD}colour = \"blue\"\n"))
            .expect("error: shopstack.toml:6:1: github: unknown field `colour`"),
        case("bad region for apps-sre", APPS, &["-e", "dev", "pull-secret"])
            .config(environment("region = \"mars-1\"\n"))
            .expect("error: shopstack.toml:8:10: environments.dev.region: \"mars-1\" is not an AWS region name"),
        // Secret values.
        case("secret value that is not JSON", INFRA, &["secret", "put", "--from-file", "value.txt"])
            .file("value.txt", "API_KEY=canary-5c1d\n")
            .expect("error: value.txt: the secret value must be a JSON object of configuration keys: expected value at line 1 column 1"),
        case("secret value that is a JSON array", INFRA, &["secret", "put", "--from-file", "value.json"])
            .file("value.json", "[\"canary-5c1d\"]\n")
            .expect("error: value.json: the secret value must be a JSON object of configuration keys: found a JSON array"),
        case("secret value that is a JSON string", INFRA, &["secret", "put", "--from-file", "value.json"])
            .file("value.json", "\"canary-5c1d\"\n")
            .expect("error: value.json: the secret value must be a JSON object of configuration keys: found a JSON string"),
        case("secret value file missing", INFRA, &["secret", "put", "--from-file", "absent.json"])
            .expect("error: absent.json: cannot read the secret value"),
        // kind-config.yaml.
        case("kind config YAML syntax", CLUSTER, &["create"])
            .file("kind-config.yaml", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [\n")
            .expect("error: create: kind-config.yaml:3:8: unclosed bracket"),
        case("kind config unknown field", CLUSTER, &["create"])
            .file("kind-config.yaml", kind_config().replace("hostPort: 8080", "hostPort: 8080\n        hostPorts: 1"))
            .expect("error: create: kind-config.yaml:21:9: unknown field `hostPorts`"),
        case("kind config wrong apiVersion", CLUSTER, &["create"])
            .file("kind-config.yaml", kind_config().replace("kind.x-k8s.io/v1alpha4", "kind.x-k8s.io/v1alpha3"))
            .expect("error: create: kind-config.yaml:4:13: apiVersion: \"kind.x-k8s.io/v1alpha3\" is not supported"),
        case("kind config duplicate host ports", CLUSTER, &["create"])
            .file("kind-config.yaml", kind_config().replace("hostPort: 3000", "hostPort: 8080"))
            .expect("error: create: kind-config.yaml:25:19: nodes[0].extraPortMappings[1].hostPort: TCP port 8080 is already mapped"),
        case("kind config workers only", CLUSTER, &["create"])
            .file("kind-config.yaml", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: worker\n")
            .expect("error: create: kind-config.yaml:4:3: nodes: has no control-plane node"),
        case("kind config public listen address", CLUSTER, &["create"])
            .file("kind-config.yaml", kind_config().replacen("listenAddress: \"127.0.0.1\"", "listenAddress: \"0.0.0.0\"", 1))
            .expect("error: create: kind-config.yaml:21:24: nodes[0].extraPortMappings[0].listenAddress: \"0.0.0.0\" is not a loopback address"),
        case("kind config public API server", CLUSTER, &["create"])
            .file("kind-config.yaml", kind_config().replace("apiServerAddress: \"127.0.0.1\"", "apiServerAddress: \"0.0.0.0\""))
            .expect("error: create: kind-config.yaml:7:21: networking.apiServerAddress: \"0.0.0.0\" is not a loopback address"),
        case("kind config wrong type", CLUSTER, &["status"])
            .file("kind-config.yaml", kind_config().replace("hostPort: 8080", "hostPort: eighty"))
            .expect("error: status: kind-config.yaml:20:19:"),
        case("kind config public listen address for repeat-test", CLUSTER, &["repeat-test", "--runs", "1"])
            .file("kind-config.yaml", kind_config().replacen("listenAddress: \"127.0.0.1\"", "listenAddress: \"0.0.0.0\"", 1))
            .expect("error: repeat-test: kind-config.yaml:21:24: nodes[0].extraPortMappings[0].listenAddress"),
        // Durations.
        case("bad --wait duration", CLUSTER, &["create", "--wait", "5x"])
            .expect("error: invalid value '5x' for '--wait <DURATION>'"),
        case("bad --timeout duration", CLUSTER, &["validate", "--timeout", "abc"])
            .expect("error: invalid value 'abc' for '--timeout <DURATION>'"),
        case("bad --timeout duration for deploy", APPS, &["deploy", "app", "--timeout", "10 minutes please"])
            .expect("error: invalid value '10 minutes please' for '--timeout <DURATION>'"),
    ]
}

/// Runs one case in a fresh directory; returns what went wrong.
fn check(case: &Case) -> Vec<String> {
    let aws = ConnectionCounter::start().expect("AWS listener");
    let kube = ConnectionCounter::start().expect("Kubernetes listener");
    let tools = StandIns::new().expect("stand-ins");
    for tool in ["docker", "kind", "helm", "kubectl", "git"] {
        tools.add(tool, "exit 0").expect("stand-in");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, text).expect("write");
    };
    let config = case.config.clone().unwrap_or_else(|| VALID.to_owned());
    write("shopstack.toml", &config.replace("{aws}", &aws.url()));
    write("kind-config.yaml", &kind_config());
    write(".kube/config", &kubeconfig(&kube.url()));
    for (name, text) in &case.files {
        write(name, text);
    }
    let output = run(case, dir.path(), &tools, &aws.url());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let one_line = stderr.ends_with('\n') && stderr.lines().count() == 1;
    let mut problems = Vec::new();
    if output.status.code() != Some(1) {
        problems.push(format!("exit {:?}, not 1", output.status.code()));
    }
    if stderr.contains("panicked") {
        problems.push("panicked".to_owned());
    }
    if !stderr.starts_with(case.expected) {
        problems.push(format!("stderr does not start with {:?}", case.expected));
    }
    if !one_line {
        problems.push("stderr is not exactly one line".to_owned());
    }
    if !stdout.is_empty() {
        problems.push(format!("stdout {stdout:?}"));
    }
    if aws.connections() != 0 {
        problems.push(format!("{} connections to AWS", aws.connections()));
    }
    if kube.connections() != 0 {
        problems.push(format!("{} connections to Kubernetes", kube.connections()));
    }
    if !tools.calls().is_empty() {
        problems.push(format!("tools called: {:?}", tools.calls()));
    }
    if !problems.is_empty() {
        problems.push(format!("stderr was {stderr:?}"));
    }
    problems
}

fn run(case: &Case, dir: &Path, tools: &StandIns, aws: &str) -> Output {
    let mut command = Command::new(binaries().join(case.binary));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", tools.bin())
        .env("HOME", dir)
        .env("KUBECONFIG", dir.join(".kube/config"))
        .envs(case.env.iter().copied());
    if case.endpoint_flag {
        command.args(["--endpoint-url", aws]);
    }
    command
        .args(&case.args)
        .output()
        .unwrap_or_else(|error| panic!("run {}: {error}", case.binary))
}

#[test]
fn every_invalid_input_is_one_line_exit_1_and_sends_nothing() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        for problem in check(case) {
            failures.push(format!(
                "{} ({} {:?}): {problem}",
                case.what, case.binary, case.args
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    for binary in [INFRA, CLUSTER, APPS] {
        assert!(cases.iter().any(|case| case.binary == binary));
    }
}

#[test]
fn the_harness_sees_requests_and_tool_calls() {
    // The same setup with valid input does reach the counters: the corpus's zeros mean something.
    let whoami = case("valid configuration", INFRA, &["whoami"]).expect("error: ");
    let problems = check(&whoami).join("\n");
    assert!(problems.contains("connections to AWS"), "{problems}");
    let create = case("valid kind configuration", CLUSTER, &["create"]).expect("error: ");
    let problems = check(&create).join("\n");
    assert!(problems.contains("tools called"), "{problems}");
}
