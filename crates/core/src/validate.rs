//! Newtypes that can only hold valid values. Each parse error names the API field it
//! came from so the HTTP layer can answer 422 with `field` set.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// An app name doubles as its subdomain, so it must be a DNS label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct AppName(String);

impl AppName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |m: &str| ValidationError::new("name", m);
        if raw.is_empty() || raw.len() > 63 {
            return Err(err("name must be 1 to 63 characters long"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err(
                "name may only contain lowercase letters a-z, digits 0-9 and '-'",
            ));
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err(err("name must not start or end with '-'"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository location git can fetch from: http(s), ssh, scp-like `git@host:path`,
/// and, only where the operator allows it, `file://` URLs and absolute local paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl(String);

impl RepoUrl {
    pub fn parse(raw: &str, allow_local: bool) -> Result<Self, ValidationError> {
        let err = |m: String| ValidationError::new("repo_url", m);
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(err("repo_url must not be empty".into()));
        }
        if raw.len() > 2048 {
            return Err(err("repo_url must be at most 2048 characters".into()));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err(
                "repo_url must not contain spaces or control characters".into(),
            ));
        }
        if raw.starts_with('-') {
            return Err(err("repo_url must not start with '-'".into()));
        }
        let lower = raw.to_ascii_lowercase();
        let local = lower.starts_with("file://") || raw.starts_with('/') || raw.starts_with('.');
        if local {
            if !allow_local {
                return Err(err(
                    "local repositories (file:// URLs and paths) are disabled on this server; \
                     use an http(s) or ssh URL, or set SLIPWAY_ALLOW_LOCAL_REPOS=true"
                        .into(),
                ));
            }
            if raw.starts_with('.') {
                return Err(err("local repository paths must be absolute".into()));
            }
            return Ok(Self(raw.to_owned()));
        }
        if let Some((scheme, rest)) = lower.split_once("://") {
            if !matches!(scheme, "http" | "https" | "ssh" | "git+ssh") {
                return Err(err(format!(
                    "repo_url scheme {scheme}:// is not supported; use https://, http://, ssh:// or git@host:path"
                )));
            }
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = host.rsplit('@').next().unwrap_or_default();
            if host.is_empty() || host.starts_with(':') {
                return Err(err("repo_url must name a host".into()));
            }
            let path = &rest[rest.find('/').unwrap_or(rest.len())..];
            if path.trim_matches('/').is_empty() {
                return Err(err("repo_url must include the repository path".into()));
            }
            return Ok(Self(raw.to_owned()));
        }
        if let Some((userhost, path)) = raw.split_once(':') {
            let host = userhost.rsplit('@').next().unwrap_or_default();
            let valid_host = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if userhost.contains('@') && valid_host && !path.trim_matches('/').is_empty() {
                return Ok(Self(raw.to_owned()));
            }
        }
        Err(err(
            "repo_url must be an http(s):// or ssh:// URL, or git@host:path".into(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A branch, tag or commit to deploy, checked against git's ref-name rules so it can
/// never be mistaken for an option or a refspec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRef(String);

impl GitRef {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        let err = |m: &str| ValidationError::new(field, m);
        if raw.is_empty() || raw.len() > 255 {
            return Err(err("must be 1 to 255 characters long"));
        }
        if raw.starts_with('-') || raw.starts_with('/') || raw.ends_with('/') {
            return Err(err("must not start with '-' or '/' or end with '/'"));
        }
        if raw.ends_with(".lock") || raw.ends_with('.') {
            return Err(err("must not end with '.lock' or '.'"));
        }
        if raw.contains("..") || raw.contains("//") || raw.contains("@{") || raw == "@" {
            return Err(err("must not contain '..', '//' or '@{'"));
        }
        if raw.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
        }) {
            return Err(err(
                "must not contain spaces, control characters or any of ~ ^ : ? * [ \\",
            ));
        }
        if raw.split('/').any(|part| part.starts_with('.')) {
            return Err(err("no path component may start with '.'"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Path of the Dockerfile relative to the repository root; it may not leave the repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerfilePath(String);

impl DockerfilePath {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |m: &str| ValidationError::new("dockerfile", m);
        let trimmed = raw.strip_prefix("./").unwrap_or(raw);
        if trimmed.is_empty() || trimmed.len() > 1024 {
            return Err(err("dockerfile must be a path of 1 to 1024 characters"));
        }
        if trimmed.starts_with('/') || trimmed.contains('\\') {
            return Err(err(
                "dockerfile must be a relative path inside the repository",
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(err("dockerfile must not contain control characters"));
        }
        if trimmed
            .split('/')
            .any(|part| part == ".." || part == "." || part.is_empty())
        {
            return Err(err(
                "dockerfile must be a relative path inside the repository (no '..', '.' or empty segments)",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for DockerfilePath {
    fn default() -> Self {
        Self("Dockerfile".to_owned())
    }
}

/// Container port the app listens on.
pub fn parse_port(raw: i64) -> Result<u16, ValidationError> {
    u16::try_from(raw)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ValidationError::new("port", "port must be between 1 and 65535"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        for ok in ["a", "hello", "my-app-2", &"a".repeat(63)] {
            assert!(AppName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Hello", "a_b", "a.b", "ä", &"a".repeat(64)] {
            let e = AppName::parse(bad).unwrap_err();
            assert_eq!(e.field, "name", "{bad}");
        }
    }

    #[test]
    fn repo_urls() {
        for ok in [
            "https://github.com/me/hello.git",
            "http://git.example.com/me/hello",
            "ssh://git@example.com/me/hello.git",
            "git@github.com:me/hello.git",
        ] {
            assert!(RepoUrl::parse(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://example.com/x.git",
            "https://",
            "https://example.com",
            "hello",
            "-uhttps://x/y",
            "https://example.com/a b",
            "file:///tmp/repo",
            "/tmp/repo",
            "example.com:foo",
        ] {
            let e = RepoUrl::parse(bad, false).unwrap_err();
            assert_eq!(e.field, "repo_url", "{bad}");
        }
        assert!(RepoUrl::parse("file:///tmp/repo", true).is_ok());
        assert!(RepoUrl::parse("/tmp/repo", true).is_ok());
        assert!(RepoUrl::parse("./repo", true).is_err());
        let local = RepoUrl::parse("file:///tmp/r", false).unwrap_err();
        assert!(local.message.contains("SLIPWAY_ALLOW_LOCAL_REPOS"));
    }

    #[test]
    fn git_refs() {
        for ok in ["main", "feature/x", "v1.2.3", "1a2b3c4", "release-2024"] {
            assert!(GitRef::parse("ref", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-x", "a..b", "a b", "a~1", "a^", "a:b", "x.lock", "/a", "a/", ".hidden", "a/.b",
            "a@{1}", "a\\b", "a*",
        ] {
            assert_eq!(GitRef::parse("ref", bad).unwrap_err().field, "ref", "{bad}");
        }
    }

    #[test]
    fn dockerfile_paths() {
        assert_eq!(
            DockerfilePath::parse("./Dockerfile").unwrap().as_str(),
            "Dockerfile"
        );
        assert!(DockerfilePath::parse("docker/web.Dockerfile").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "a//b", "a\\b"] {
            assert_eq!(
                DockerfilePath::parse(bad).unwrap_err().field,
                "dockerfile",
                "{bad}"
            );
        }
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port(80).unwrap(), 80);
        for bad in [0, -1, 65536] {
            assert_eq!(parse_port(bad).unwrap_err().field, "port");
        }
    }
}
