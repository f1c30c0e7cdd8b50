//! A JUnit XML report, as test runners write it (`[test] report`), read into the counts
//! and failures a test run shows. Suites nest; every test case counts once.

use slipway_store::test_runs::{TestCounts, TestFailure};

/// Failures listed on a run; the counts still cover all of them.
const MAX_FAILURES: usize = 100;
/// A failure's message is its first line, at most this many characters.
const MAX_MESSAGE: usize = 500;

/// The report's counts and failed cases, or why it could not be read (worded for the
/// run's note).
pub(crate) fn read(xml: &[u8]) -> Result<(TestCounts, Vec<TestFailure>), String> {
    let suites = junit_parser::from_reader(std::io::BufReader::new(xml))
        .map_err(|e| format!("the JUnit report is not valid: {e}"))?;
    let mut counts = TestCounts::default();
    let mut failures = Vec::new();
    for suite in &suites.suites {
        walk(suite, &mut counts, &mut failures);
    }
    if counts.total == 0 && suites.suites.is_empty() {
        return Err("the JUnit report holds no test suite".into());
    }
    Ok((counts, failures))
}

fn walk(suite: &junit_parser::TestSuite, counts: &mut TestCounts, failures: &mut Vec<TestFailure>) {
    use junit_parser::TestStatus;
    for case in &suite.cases {
        counts.total = counts.total.saturating_add(1);
        let message = match &case.status {
            TestStatus::Success => {
                counts.passed = counts.passed.saturating_add(1);
                continue;
            }
            TestStatus::Skipped(_) => {
                counts.skipped = counts.skipped.saturating_add(1);
                continue;
            }
            TestStatus::Failure(f) => first_line(&f.message, &f.text),
            TestStatus::Error(e) => first_line(&e.message, &e.text),
        };
        counts.failed = counts.failed.saturating_add(1);
        if failures.len() < MAX_FAILURES {
            failures.push(TestFailure {
                suite: case
                    .classname
                    .clone()
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| suite.name.clone()),
                // `name` is prefixed with the class name; the report's own is this.
                name: case.original_name.clone(),
                message,
            });
        }
    }
    for inner in &suite.suites {
        walk(inner, counts, failures);
    }
}

/// The failure's `message` attribute, else the first line of its text.
fn first_line(message: &str, text: &str) -> String {
    let source = if message.trim().is_empty() {
        text
    } else {
        message
    };
    source
        .trim()
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(MAX_MESSAGE)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_gives_its_counts_and_failures() {
        let (counts, failures) = read(slipway_testkit::JUNIT_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(
            counts,
            TestCounts {
                total: 8,
                passed: 5,
                failed: 2,
                skipped: 1
            }
        );
        let names: Vec<_> = failures
            .iter()
            .map(|f| (f.suite.as_str(), f.name.as_str(), f.message.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "Tests.Registration",
                    "testCase5",
                    "Expected value did not match."
                ),
                ("Tests.Registration", "testCase6", "Division by zero."),
            ]
        );
    }

    #[test]
    fn a_malformed_report_is_an_error_not_a_panic() {
        for bad in [
            "",
            "not xml",
            "<testsuites><testsuite name=\"x\">",
            "<html/>",
        ] {
            assert!(read(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
