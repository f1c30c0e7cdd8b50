//! `.dockerignore` with Docker's semantics: patterns are anchored at the context root,
//! use Go's `filepath.Match` syntax plus `**`, a pattern that matches a directory excludes
//! everything below it, and `!` re-includes; the last matching pattern wins.

use globset::{GlobBuilder, GlobMatcher};

use crate::SourceError;

#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    matcher: GlobMatcher,
    exception: bool,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let matcher = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| SourceError::Dockerignore {
                    line: index + 1,
                    message: e.kind().to_string(),
                })?
                .compile_matcher();
            rules.push(Rule { matcher, exception });
        }
        Ok(Self { rules })
    }

    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }

    /// Whether `path` (relative, `/`-separated) is left out of the context.
    pub fn is_ignored(&self, path: &str) -> bool {
        let mut ignored = false;
        for rule in &self.rules {
            if self_or_parent_matches(&rule.matcher, path) {
                ignored = !rule.exception;
            }
        }
        ignored
    }
}

fn self_or_parent_matches(matcher: &GlobMatcher, path: &str) -> bool {
    if matcher.is_match(path) {
        return true;
    }
    path.match_indices('/')
        .any(|(i, _)| matcher.is_match(&path[..i]))
}

/// Like Go's `filepath.Clean` on a context-relative pattern: no leading `/` or `./`,
/// no empty or `.` segments, `..` resolved lexically (and never above the root).
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    #[test]
    fn docker_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("node_modules", "node_modules", true),
            ("node_modules", "node_modules/a/b.js", true),
            ("node_modules", "src/node_modules", false),
            ("/node_modules/", "node_modules/x", true),
            ("./build", "build/out.o", true),
            ("*.log", "debug.log", true),
            ("*.log", "logs/debug.log", false),
            ("**/*.log", "logs/deep/debug.log", true),
            ("**/*.log", "debug.log", true),
            ("docs/**", "docs/a/b.md", true),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[ab].txt", "b.txt", true),
            ("*", "anything/at/all", true),
            ("# comment", "# comment", false),
            ("tmp\n!tmp/keep", "tmp/keep", false),
            ("tmp\n!tmp/keep", "tmp/other", true),
            ("*.md\n!README.md", "README.md", false),
            ("*.md\n!README.md\nREADME.md", "README.md", true),
            ("a/../b", "b/x", true),
        ];
        for (patterns, path, expected) in cases {
            assert_eq!(
                ignore(patterns).is_ignored(path),
                *expected,
                "{patterns:?} on {path}"
            );
        }
    }

    #[test]
    fn a_bad_pattern_names_its_line() {
        let err = DockerIgnore::parse("ok\n\n[unclosed").unwrap_err();
        assert!(
            matches!(err, SourceError::Dockerignore { line: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn exceptions_are_noticed() {
        assert!(ignore("a\n!a/b").has_exceptions());
        assert!(!ignore("a\nb").has_exceptions());
    }
}
