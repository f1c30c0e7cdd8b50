use super::*;

#[test]
fn errors_name_the_key_and_where_it_is() {
    // (source, key, line, column, part of the message)
    let cases: &[(&str, Option<&str>, usize, usize, &str)] = &[
        // TOML syntax
        (
            "port = 8080\n[healthcheck\n",
            None,
            2,
            13,
            "invalid table header",
        ),
        ("port = \n", None, 1, 8, "invalid string"),
        ("port = 1\nport = 2\n", None, 2, 1, "duplicate key"),
        // unknown keys, at every level
        ("bogus = 1\n", Some("bogus"), 1, 1, "unknown field `bogus`"),
        ("[bogus]\n", Some("bogus"), 1, 2, "unknown field `bogus`"),
        (
            "[healthcheck]\npath = \"/\"\nretrys = 3\n",
            Some("healthcheck.retrys"),
            3,
            1,
            "unknown field `retrys`",
        ),
        (
            "[processes.web]\nreplicas = 2\nreplica = 3\n",
            Some("processes.web.replica"),
            3,
            1,
            "unknown field `replica`",
        ),
        (
            "[services.db]\nimage = \"postgres\"\nenvironment = {}\n",
            Some("services.db.environment"),
            3,
            1,
            "unknown field `environment`",
        ),
        // wrong types
        (
            "[processes.worker]\nreplicas = \"two\"\n",
            Some("processes.worker.replicas"),
            2,
            12,
            "invalid type",
        ),
        (
            "[build]\nargs = { X = 1 }\n",
            Some("build.args.X"),
            2,
            14,
            "invalid type",
        ),
        ("processes = 5\n", Some("processes"), 1, 13, "invalid type"),
        (
            "[build]\nsubmodules = \"yes\"\n",
            Some("build.submodules"),
            2,
            14,
            "invalid type",
        ),
        (
            "[build]\nsubmodule = true\n",
            Some("build.submodule"),
            2,
            1,
            "unknown field `submodule`",
        ),
        (
            "build.submodules = 1\n",
            Some("build.submodules"),
            1,
            20,
            "expected a boolean",
        ),
        (
            "[services.redis]\nport = 6379\n",
            Some("services.redis"),
            1,
            1,
            "missing field `image`",
        ),
        // out-of-range and malformed values
        ("port = 70000\n", Some("port"), 1, 8, "1 to 65535"),
        (
            "[processes.worker]\nreplicas = 21\n",
            Some("processes.worker.replicas"),
            2,
            12,
            "from 0 to 20",
        ),
        (
            "processes.web.replicas = -1\n",
            Some("processes.web.replicas"),
            1,
            26,
            "from 0 to 20",
        ),
        (
            "[healthcheck]\npath = \"/\"\ninterval = \"1s\"\nretries = 0\n",
            Some("healthcheck.retries"),
            4,
            11,
            "between 1 and 100",
        ),
        (
            "[healthcheck]\npath = \"healthz\"\n",
            Some("healthcheck.path"),
            2,
            8,
            "starting with '/'",
        ),
        (
            "[resources.web]\nmemory = \"lots\"\n",
            Some("resources.web.memory"),
            2,
            10,
            "a size such as",
        ),
        (
            "[resources.web]\nmemory = \"1m\"\n",
            Some("resources.web.memory"),
            2,
            10,
            "6 MiB",
        ),
        (
            "[resources.web]\ncpus = 0\n",
            Some("resources.web.cpus"),
            2,
            8,
            "from 0.01",
        ),
        (
            "[resources.web]\ncpus = 1e-10\n",
            Some("resources.web.cpus"),
            2,
            8,
            "from 0.01",
        ),
        (
            "[healthcheck]\ninterval = \"1us\"\n",
            Some("healthcheck.interval"),
            2,
            12,
            "whole milliseconds",
        ),
        ("\r", None, 1, 1, "not valid TOML"),
        (
            "[resources.web]\ncpus = \"half\"\n",
            Some("resources.web.cpus"),
            2,
            8,
            "a number",
        ),
        // [resources.X] for a process that does not exist: point at X
        (
            "[processes.worker]\n\n[resources.db]\nmemory = \"1g\"\n",
            Some("resources.db"),
            3,
            12,
            "no process db",
        ),
        (
            "resources.db.memory = \"1g\"\n",
            Some("resources.db"),
            1,
            11,
            "no process db",
        ),
        (
            "[healthcheck]\nstatus = \"300-200\"\n",
            Some("healthcheck.status"),
            2,
            10,
            "200-399",
        ),
        (
            "[healthcheck]\nstatus = 600\n",
            Some("healthcheck.status"),
            2,
            10,
            "200-399",
        ),
        (
            "[healthcheck]\nstatus = \"2xx\"\n",
            Some("healthcheck.status"),
            2,
            10,
            "200-399",
        ),
        (
            "[healthcheck]\ninterval = \"soon\"\n",
            Some("healthcheck.interval"),
            2,
            12,
            "a duration",
        ),
        (
            "[healthcheck]\ntimeout = \"0s\"\n",
            Some("healthcheck.timeout"),
            2,
            11,
            "longer than 0",
        ),
        (
            "[test]\ncommand = \"make\"\ntimeout = 1.5\n",
            Some("test.timeout"),
            3,
            11,
            "a duration",
        ),
        (
            "[test]\ncommand = \"make\"\ntimeout = \"4h\"\n",
            Some("test.timeout"),
            3,
            11,
            "at most 180m",
        ),
        (
            "[test]\ncommand = \"make\"\nservices = [\"redis\"]\n",
            Some("test.services"),
            3,
            12,
            "come with environments",
        ),
        (
            "[test]\ncommand = \"make\"\nreport = \"junit.xml\"\n",
            Some("test.report"),
            3,
            10,
            "absolute path",
        ),
        (
            "[test]\ncommand = \"make\"\ntarget = \"-x\"\n",
            Some("test.target"),
            3,
            10,
            "stage name",
        ),
        (
            "[healthcheck]\nstart_period = \"2d\"\n",
            Some("healthcheck.start_period"),
            2,
            16,
            "at most 24h",
        ),
        // names
        (
            "[processes.Web]\n",
            Some("processes.Web"),
            1,
            12,
            "lowercase",
        ),
        (
            "[services.my_db]\nimage = \"postgres\"\n",
            Some("services.my_db"),
            1,
            11,
            "lowercase",
        ),
        (
            "[services.db]\nimage = \" \"\n",
            Some("services.db.image"),
            2,
            9,
            "must name an image",
        ),
        (
            "[build]\nargs = { 1X = \"a\" }\n",
            Some("build.args.1X"),
            2,
            15,
            "build arg name",
        ),
        (
            "dockerfile = \"../Dockerfile\"\n",
            Some("dockerfile"),
            1,
            14,
            "inside the repository",
        ),
        // columns count characters, not bytes
        (
            "[services.a]\nimage = \"ä\"\nenv = { \"é\" = \"x\" }\n",
            Some("services.a.env.é"),
            3,
            15,
            "env var name",
        ),
    ];
    for &(source, key, line, column, message) in cases {
        let e = error(source);
        assert_eq!(
            (e.key.as_deref(), e.line, e.column),
            (key, line, column),
            "{source:?}: {e}"
        );
        assert!(e.message.contains(message), "{source:?}: {e}");
        assert!(!e.message.contains('\n'), "{source:?}: {e}");
    }
}

#[test]
fn errors_display_location_key_and_message() {
    let e = error("[healthcheck]\npath = \"/\"\ninterval = \"1s\"\nretries = 0\n");
    assert_eq!(
        e.to_string(),
        "line 4, column 11: healthcheck.retries: must be between 1 and 100"
    );
    let e = error("port = 8080\n[healthcheck\n");
    assert!(e.to_string().starts_with("line 2, column 13: "), "{e}");
}
