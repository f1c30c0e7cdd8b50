//! A tiny web app that needs no registry: `FROM scratch` plus Debian's static busybox
//! serving a directory with `busybox httpd`.

use std::path::PathBuf;

use crate::git::Files;

/// Debian's busybox-static binary.
pub fn busybox_path() -> PathBuf {
    ["/usr/bin/busybox", "/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("busybox-static is not installed: run scripts/test.sh (or apt-get install busybox-static)"))
}

pub const WEB_DOCKERFILE: &str = "FROM scratch\n\
COPY busybox /bin/busybox\n\
COPY www /www\n\
CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n";

/// A web app serving `page` at `/`.
pub fn web_app_files(page: &str) -> Files {
    web_app_files_with_dockerfile(page, WEB_DOCKERFILE)
}

/// The same app with a Dockerfile of the test's own (broken, never listening, …).
pub fn web_app_files_with_dockerfile(page: &str, dockerfile: &str) -> Files {
    let busybox = std::fs::read(busybox_path()).expect("read busybox");
    vec![
        ("Dockerfile".to_owned(), dockerfile.as_bytes().to_vec()),
        ("busybox".to_owned(), busybox),
        ("www/index.html".to_owned(), page.as_bytes().to_vec()),
    ]
}

/// A CGI script for busybox httpd that prints the container's environment at
/// `/cgi-bin/env`, so tests can see the config vars an app was given.
pub const ENV_CGI: &str = "#!/bin/busybox sh\n\
echo 'Content-Type: text/plain'\n\
echo\n\
/bin/busybox env\n";

/// The web app plus `/cgi-bin/env` (its environment) and a `slipway.toml`, if given.
pub fn web_app_files_with_spec(page: &str, spec: Option<&str>) -> Files {
    let mut files = web_app_files(page);
    files.push(("www/cgi-bin/env".to_owned(), ENV_CGI.as_bytes().to_vec()));
    if let Some(spec) = spec {
        files.push(("slipway.toml".to_owned(), spec.as_bytes().to_vec()));
    }
    files
}

/// The JUnit XML example documented by the testmoapp/junitxml reference (the format CI
/// services read), trimmed of properties and output: 8 cases in one suite, of which 1
/// failed, 1 errored and 1 was skipped.
pub const JUNIT_EXAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="Test run" tests="8" failures="1" errors="1" skipped="1" assertions="20" time="16.082687" timestamp="2021-04-02T15:48:23">
    <testsuite name="Tests.Registration" tests="8" failures="1" errors="1" skipped="1" assertions="20" time="16.082687" timestamp="2021-04-02T15:48:23" file="tests/registration.code">
        <testcase name="testCase1" classname="Tests.Registration" assertions="2" time="2.436" file="tests/registration.code" line="24"/>
        <testcase name="testCase2" classname="Tests.Registration" assertions="6" time="1.534" file="tests/registration.code" line="62"/>
        <testcase name="testCase3" classname="Tests.Registration" assertions="3" time="0.822" file="tests/registration.code" line="102"/>
        <testcase name="testCase4" classname="Tests.Registration" assertions="0" time="0" file="tests/registration.code" line="164">
            <skipped message="Test was skipped."/>
        </testcase>
        <testcase name="testCase5" classname="Tests.Registration" assertions="2" time="2.902412" file="tests/registration.code" line="202">
            <failure message="Expected value did not match." type="AssertionError">
                <!-- Failure description or stack trace -->
            </failure>
        </testcase>
        <testcase name="testCase6" classname="Tests.Registration" assertions="0" time="3.819" file="tests/registration.code" line="235">
            <error message="Division by zero." type="ArithmeticError">
                <!-- Error description or stack trace -->
            </error>
        </testcase>
        <testcase name="testCase7" classname="Tests.Registration" assertions="3" time="2.944" file="tests/registration.code" line="287"/>
        <testcase name="testCase8" classname="Tests.Registration" assertions="4" time="1.625275" file="tests/registration.code" line="302"/>
    </testsuite>
</testsuites>
"#;
