use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

mod errors;

/// The example in the module documentation, which users copy from.
const EXAMPLE: &str = r#"port = 8080
dockerfile = "docker/Dockerfile"

[build]
args = { RUST_VERSION = "1.95" }
submodules = true
target = "runtime"
secrets = ["NPM_TOKEN"]

[healthcheck]
path = "/healthz"
timeout = "60s"
interval = "2s"
retries = 3
start_period = "5s"
status = "200-399"

[processes.web]
command = "busybox httpd -f -p 8080 -h /www"
replicas = 2

[processes.worker]
command = ["/app/worker", "--queue", "default"]
replicas = 1

[resources.web]
memory = "256m"
cpus = 0.5

[test]
command = "make test"
timeout = "10m"
target = "test"
report = "/tmp/junit.xml"
services = []

[services.redis]
image = "redis:7"
env = { REDIS_ARGS = "--save ''" }
port = 6379
"#;

fn error(source: &str) -> SpecError {
    parse(source).unwrap_err()
}

#[test]
fn the_documentation_shows_the_tested_example() {
    let doc: String = include_str!("../mod.rs")
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .skip_while(|l| l.trim() != "```toml")
        .skip(1)
        .take_while(|l| l.trim() != "```")
        .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
        .collect();
    assert_eq!(doc, EXAMPLE);
}

#[test]
fn the_documented_example_parses() {
    let spec = parse(EXAMPLE).unwrap();
    let expected = AppSpec {
        port: Some(8080),
        dockerfile: Some("docker/Dockerfile".into()),
        build_args: BTreeMap::from([("RUST_VERSION".into(), "1.95".into())]),
        submodules: true,
        target: Some("runtime".into()),
        build_secrets: vec!["NPM_TOKEN".into()],
        healthcheck: HealthCheck {
            path: "/healthz".into(),
            timeout: Some(Duration::from_secs(60)),
            interval: Duration::from_secs(2),
            retries: 3,
            start_period: Duration::from_secs(5),
            status: StatusRange { min: 200, max: 399 },
        },
        processes: BTreeMap::from([
            (
                "web".into(),
                ProcessSpec {
                    command: Some(
                        ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
                            .map(String::from)
                            .to_vec(),
                    ),
                    replicas: 2,
                    memory: Some(256 << 20),
                    cpus: Some(0.5),
                },
            ),
            (
                "worker".into(),
                ProcessSpec {
                    command: Some(
                        ["/app/worker", "--queue", "default"]
                            .map(String::from)
                            .to_vec(),
                    ),
                    replicas: 1,
                    memory: None,
                    cpus: None,
                },
            ),
        ]),
        test: Some(TestSpec {
            command: vec!["make".into(), "test".into()],
            timeout: Duration::from_secs(600),
            target: Some("test".into()),
            report: Some("/tmp/junit.xml".into()),
        }),
        services: BTreeMap::from([(
            "redis".into(),
            ServiceSpec {
                image: "redis:7".into(),
                env: BTreeMap::from([("REDIS_ARGS".into(), "--save ''".into())]),
                port: Some(6379),
            },
        )]),
    };
    assert_eq!(spec, expected);
    assert!(spec.healthcheck.status.contains(200));
    assert!(spec.healthcheck.status.contains(399));
    assert!(!spec.healthcheck.status.contains(404));
    assert_eq!(spec.process("worker").unwrap().replicas, 1);
    assert!(spec.process("cron").is_none());
}

#[test]
fn an_empty_file_is_the_default() {
    assert_eq!(parse("").unwrap(), AppSpec::default());
    assert_eq!(parse("# nothing\n\n").unwrap(), AppSpec::default());
    let d = AppSpec::default();
    assert_eq!(d.processes.len(), 1);
    assert_eq!(d.process(WEB), Some(&ProcessSpec::default()));
    assert_eq!(d.processes["web"].replicas, 1);
    assert_eq!(d.healthcheck.path, "/");
    assert_eq!(d.healthcheck.retries, 1);
    assert_eq!(d.healthcheck.interval, Duration::from_secs(1));
    assert!(d.healthcheck.status.contains(100) && d.healthcheck.status.contains(404));
    assert!(!d.healthcheck.status.contains(500));
}

#[test]
fn web_is_present_even_when_only_workers_are_declared() {
    let spec = parse("[processes.worker]\ncommand = \"work\"\n").unwrap();
    assert_eq!(spec.process("web"), Some(&ProcessSpec::default()));
    assert!(ProcessSpec::is_web("web") && !ProcessSpec::is_web("worker"));
}

#[test]
fn values_take_every_documented_shape() {
    // Dotted keys and inline tables build the same tables as [headers].
    let spec = parse(
        r#"
processes.worker.replicas = 3
resources.worker = { memory = 268435456, cpus = 2 }
[processes.web]
replicas = 0
[resources.web]
memory = "512MiB"
[healthcheck]
timeout = 30
interval = "500ms"
start_period = "1h"
status = 204
[test]
command = ["cargo", "test"]
"#,
    )
    .unwrap();
    let worker = spec.process("worker").unwrap();
    assert_eq!(
        (worker.replicas, worker.memory, worker.cpus),
        (3, Some(256 << 20), Some(2.0))
    );
    let web = spec.process("web").unwrap();
    assert_eq!((web.replicas, web.memory), (0, Some(512 << 20)));
    let h = &spec.healthcheck;
    assert_eq!(h.timeout, Some(Duration::from_secs(30)));
    assert_eq!(h.interval, Duration::from_millis(500));
    assert_eq!(h.start_period, Duration::from_secs(3600));
    assert_eq!(h.status, StatusRange { min: 204, max: 204 });
    let test = spec.test.unwrap();
    assert_eq!(test.command, ["cargo", "test"]);
    assert_eq!(test.timeout, Duration::from_secs(600));

    let spec = parse("[healthcheck]\nstatus = \"200\"\n").unwrap();
    assert_eq!(spec.healthcheck.status, StatusRange { min: 200, max: 200 });
    let spec = parse("[resources.web]\nmemory = \"1g\"\n").unwrap();
    assert_eq!(spec.processes["web"].memory, Some(1 << 30));
}

#[test]
fn submodules_are_fetched_only_when_enabled() {
    let submodules = |source: &str| parse(source).unwrap().submodules;
    assert!(!submodules(""));
    assert!(!submodules("[build]\nargs = { A = \"1\" }\n"));
    assert!(!submodules("[build]\nsubmodules = false\n"));
    assert!(submodules("[build]\nsubmodules = true\n"));
    assert!(submodules("build.submodules = true\n"));
    assert!(submodules("build = { submodules = true }\n"));
    let both = parse("[build]\nsubmodules = true\nargs = { A = \"1\" }\n").unwrap();
    assert!(both.submodules);
    assert_eq!(both.build_args["A"], "1");
    // Specs stored before the key existed read as off.
    let mut json = serde_json::to_value(AppSpec::default()).unwrap();
    json.as_object_mut().unwrap().remove("submodules");
    let old: AppSpec = serde_json::from_value(json).unwrap();
    assert_eq!(old, AppSpec::default());
}

#[test]
fn build_target_names_a_stage() {
    assert_eq!(parse("").unwrap().target, None);
    let spec = parse("[build]\ntarget = \"runtime-2.x_a\"\n").unwrap();
    assert_eq!(spec.target.as_deref(), Some("runtime-2.x_a"));
    for bad in ["", "2nd", "a b", "stage:1"] {
        let e = error(&format!("[build]\ntarget = \"{bad}\"\n"));
        assert!(e.to_string().contains("build.target"), "{bad}: {e}");
    }
    // Specs stored before the key existed have no target.
    let json = serde_json::to_value(AppSpec::default()).unwrap();
    assert!(json.get("target").is_none());
}

#[test]
fn build_secrets_name_config_vars_once_each() {
    assert!(parse("").unwrap().build_secrets.is_empty());
    let spec = parse("[build]\nsecrets = [\"NPM_TOKEN\", \"_gh2\"]\n").unwrap();
    assert_eq!(spec.build_secrets, ["NPM_TOKEN", "_gh2"]);
    for (bad, column, message) in [
        ("[\"2FA\"]", 12, "not a config var name"),
        ("[\"A\", \"NPM-TOKEN\"]", 17, "not a config var name"),
        ("[\"\"]", 12, "not a config var name"),
        ("[\"A\", \"B\", \"A\"]", 22, "A is listed twice"),
    ] {
        let e = error(&format!("[build]\nsecrets = {bad}\n"));
        assert_eq!(
            (e.key.as_deref(), e.line, e.column),
            (Some("build.secrets"), 2, column),
            "{bad}: {e}"
        );
        assert!(e.message.contains(message), "{bad}: {e}");
    }
    let e = error("[build]\nsecrets = \"NPM_TOKEN\"\n");
    assert!(e.to_string().contains("build.secrets"), "{e}");
    // Specs stored before the key existed have none.
    let json = serde_json::to_value(AppSpec::default()).unwrap();
    assert!(json.get("build_secrets").is_none());
}

#[test]
fn commands_split_like_a_shell() {
    let command = |toml: &str| {
        parse(&format!("[processes.web]\ncommand = {toml}\n"))
            .map(|s| s.processes["web"].command.clone().unwrap())
    };
    assert_eq!(
        command(r#"'sh -c "echo \"hi there\"" --name=a\ b'"#).unwrap(),
        ["sh", "-c", "echo \"hi there\"", "--name=a b"]
    );
    assert_eq!(
        command(r#""python -m http.server  '8000'""#).unwrap(),
        ["python", "-m", "http.server", "8000"]
    );
    // An array is taken literally: no splitting, no unquoting.
    assert_eq!(
        command(r#"["echo", "a b", "'c'"]"#).unwrap(),
        ["echo", "a b", "'c'"]
    );
    for (bad, message) in [
        (r#""echo 'unterminated""#, "closing quote"),
        (r#""   ""#, "empty"),
        ("[]", "empty"),
        (r#"["echo", 1]"#, "strings only"),
        ("42", "string or an array"),
    ] {
        let e = command(bad).unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.line, e.column),
            (Some("processes.web.command"), 2, 11),
            "{bad}: {e}"
        );
        assert!(e.message.contains(message), "{bad}: {e}");
    }
}

#[test]
fn json_round_trip_is_exact() {
    for spec in [parse(EXAMPLE).unwrap(), AppSpec::default()] {
        let json = serde_json::to_string(&spec).unwrap();
        let back: AppSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec, "{json}");
    }
    // The stored shape: durations are whole milliseconds.
    let json = serde_json::to_value(parse(EXAMPLE).unwrap()).unwrap();
    assert_eq!(json["healthcheck"]["interval"], 2000);
    assert_eq!(json["healthcheck"]["timeout"], 60_000);
    assert_eq!(json["test"]["timeout"], 600_000);
    let json = serde_json::to_value(AppSpec::default()).unwrap();
    assert!(json["healthcheck"]["timeout"].is_null());
}
