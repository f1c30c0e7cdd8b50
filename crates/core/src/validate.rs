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
        Self::parse_field("repo_url", raw, allow_local)
    }

    /// [`RepoUrl::parse`] for a URL that is not the API's `repo_url` (a submodule's,
    /// say): the same rules, with messages naming `field`.
    pub fn parse_field(
        field: &'static str,
        raw: &str,
        allow_local: bool,
    ) -> Result<Self, ValidationError> {
        let err = |m: String| ValidationError::new(field, m);
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(err(format!("{field} must not be empty")));
        }
        if raw.len() > 2048 {
            return Err(err(format!("{field} must be at most 2048 characters")));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err(format!(
                "{field} must not contain spaces or control characters"
            )));
        }
        if raw.starts_with('-') {
            return Err(err(format!("{field} must not start with '-'")));
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
                    "{field} scheme {scheme}:// is not supported; use https://, http://, ssh:// or git@host:path"
                )));
            }
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = host.rsplit('@').next().unwrap_or_default();
            if host.is_empty() || host.starts_with(':') {
                return Err(err(format!("{field} must name a host")));
            }
            if let Some(reason) = forbidden_host(host_name(host), allow_local) {
                return Err(err(format!("{field}: {reason}")));
            }
            let path = &rest[rest.find('/').unwrap_or(rest.len())..];
            if path.trim_matches('/').is_empty() {
                return Err(err(format!("{field} must include the repository path")));
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
                if let Some(reason) = forbidden_host(host, allow_local) {
                    return Err(err(format!("{field}: {reason}")));
                }
                return Ok(Self(raw.to_owned()));
            }
        }
        Err(err(format!(
            "{field} must be an http(s):// or ssh:// URL, or git@host:path"
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an app's callbacks are POSTed: an http(s) URL, under the address rules of
/// `repo_url` (no link-local or cloud metadata hosts; loopback only where local
/// repositories are allowed).
pub fn parse_callback_url(raw: &str, allow_local: bool) -> Result<String, ValidationError> {
    const FIELD: &str = "callback_url";
    let err = |m: String| ValidationError::new(FIELD, m);
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err(err(format!("{FIELD} must be at most 2048 characters")));
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(err(format!(
            "{FIELD} must not contain spaces or control characters"
        )));
    }
    let lower = raw.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return Err(err(format!("{FIELD} must be an http:// or https:// URL")));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host_name(authority.rsplit('@').next().unwrap_or_default());
    if host.is_empty() {
        return Err(err(format!("{FIELD} must name a host")));
    }
    if let Some(reason) = forbidden_host(host, allow_local) {
        return Err(err(format!("{FIELD}: {reason}")));
    }
    Ok(raw.to_owned())
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`), without port or brackets.
pub fn host_name(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// The host a remote repository URL names (`https://h/…`, `ssh://u@h:22/…`,
/// `git@h:path`); `None` for local paths and `file://` URLs.
pub fn url_host(url: &str) -> Option<&str> {
    if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next()?;
        let host = host_name(authority.rsplit('@').next()?);
        return Some(host).filter(|h| !h.is_empty());
    }
    if url.starts_with('/') {
        return None;
    }
    let (userhost, _) = url.split_once(':')?;
    Some(userhost.rsplit('@').next()?).filter(|h| !h.is_empty())
}

/// Why git must not be pointed at this address, if it must not: link-local and cloud
/// metadata addresses (a way into the host's credentials), unique-local IPv6, and,
/// unless local repositories are allowed, loopback and "any" (Slipway's own services).
pub fn forbidden_ip(ip: std::net::IpAddr, allow_local: bool) -> Option<&'static str> {
    use std::net::IpAddr;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let local = ip.is_loopback() || ip.is_unspecified();
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => {
            Some("link-local addresses (169.254.0.0/16, cloud metadata) are refused")
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => {
            Some("link-local addresses (fe80::/10) are refused")
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => Some(
            "unique local addresses (fc00::/7, including cloud metadata at fd00:ec2::254) are refused",
        ),
        _ if local && !allow_local => Some(
            "loopback addresses reach this server itself and are refused (SLIPWAY_ALLOW_LOCAL_REPOS=true allows them)",
        ),
        _ => None,
    }
}

/// `forbidden_ip` for a host as written in a URL: IP literals, and the names cloud
/// providers give their metadata service. Other names are checked again, resolved, by
/// the worker before it fetches.
pub fn forbidden_host(host: &str, allow_local: bool) -> Option<&'static str> {
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    // An IPv6 zone (`fe80::1%eth0`, `%25` in a URL) says which interface, not which
    // address: judge the address without it.
    let lower = match lower.split_once('%') {
        Some((address, _)) if address.contains(':') => address.to_owned(),
        _ => lower,
    };
    if matches!(
        lower.as_str(),
        "metadata" | "metadata.google.internal" | "instance-data" | "instance-data.ec2.internal"
    ) {
        return Some("cloud metadata hosts are refused");
    }
    if (lower == "localhost" || lower.ends_with(".localhost")) && !allow_local {
        return Some(
            "localhost reaches this server itself and is refused (SLIPWAY_ALLOW_LOCAL_REPOS=true allows it)",
        );
    }
    let ip = lower.parse::<std::net::IpAddr>().ok()?;
    forbidden_ip(ip, allow_local)
}

/// The secret in a URL's user info: the password, or an https user with no password
/// (where hosts take a token as the user name). ssh user names are not secrets.
pub fn url_secret(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    match userinfo.split_once(':') {
        Some((_, password)) if !password.is_empty() => Some(password),
        None if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") => {
            Some(userinfo).filter(|u| !u.is_empty())
        }
        _ => None,
    }
}

/// `text` with the URL's secret (see [`url_secret`]) replaced by `***`: for logs, error
/// messages and API responses that mention the URL.
pub fn redact(text: &str, url: &str) -> String {
    let Some(secret) = url_secret(url) else {
        return text.to_owned();
    };
    // A secret of nothing but `*` looks like the mask itself: there is nothing to hide.
    if secret.chars().all(|c| c == '*') {
        return text.to_owned();
    }
    // The mask's `*` can join the text beside it into the secret again ("aa*" with the
    // secret "a*" gives "a***"), so mask until none is left. Each pass removes at least
    // one character of the secret that is not `*`, so this ends.
    let mut out = text.replace(secret, "***");
    while out.contains(secret) {
        out = out.replace(secret, "***");
    }
    out
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
    fn other_urls_are_held_to_the_same_rules_under_their_own_name() {
        let e = RepoUrl::parse_field("url", "http://169.254.169.254/x.git", false).unwrap_err();
        assert_eq!(e.field, "url");
        assert_eq!(
            e.message,
            "url: link-local addresses (169.254.0.0/16, cloud metadata) are refused"
        );
        let e = RepoUrl::parse_field("url", "ftp://example.com/x.git", false).unwrap_err();
        assert!(e.message.starts_with("url scheme ftp:// "), "{}", e.message);
        let e = RepoUrl::parse("ftp://example.com/x.git", false).unwrap_err();
        assert!(
            e.message.starts_with("repo_url scheme ftp:// "),
            "{}",
            e.message
        );
        let local = RepoUrl::parse_field("url", "file:///srv/lib", false).unwrap_err();
        assert!(local.message.contains("SLIPWAY_ALLOW_LOCAL_REPOS"));
        assert!(RepoUrl::parse_field("url", "file:///srv/lib", true).is_ok());
        assert!(RepoUrl::parse_field("url", "git@github.com:a/b.git", false).is_ok());
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

    #[test]
    fn credentials_in_urls_are_redacted() {
        let url = "https://bob:hunter2@git.example.com/a/b.git";
        assert_eq!(url_secret(url), Some("hunter2"));
        assert_eq!(redact(url, url), "https://bob:***@git.example.com/a/b.git");
        let token = "https://ghp_abc123@github.com/a/b.git";
        assert_eq!(redact(token, token), "https://***@github.com/a/b.git");
        assert_eq!(
            redact(&format!("could not fetch {token}: 401"), token),
            "could not fetch https://***@github.com/a/b.git: 401"
        );
        // The mask must not spell the secret again with the text beside it.
        assert_eq!(redact("aa*", "https://u:a*@h/x"), "*****");
        assert_eq!(redact("*00*", "https://u:0*@h/x"), "******");
        for plain in [
            "https://github.com/a/b.git",
            "ssh://git@github.com/a/b.git",
            "git@github.com:a/b.git",
            "/srv/repo",
        ] {
            assert_eq!(url_secret(plain), None, "{plain}");
            assert_eq!(redact(plain, plain), plain);
        }
        assert_eq!(url_secret("ssh://git:pw@host/x"), Some("pw"));
    }

    #[test]
    fn remote_hosts_are_found_in_every_url_form() {
        assert_eq!(
            url_host("https://u:p@git.example.com:8443/a.git"),
            Some("git.example.com")
        );
        assert_eq!(
            url_host("ssh://git@[2001:db8::1]:22/a.git"),
            Some("2001:db8::1")
        );
        assert_eq!(url_host("git@github.com:a/b.git"), Some("github.com"));
        assert_eq!(url_host("file:///srv/repo"), None);
        assert_eq!(url_host("/srv/repo"), None);
    }

    #[test]
    fn link_local_metadata_and_loopback_hosts_are_refused() {
        for bad in [
            "http://169.254.169.254/latest/meta-data.git",
            "https://[fe80::1]/x.git",
            "https://[fd00:ec2::254]/x.git",
            "https://[::ffff:169.254.169.254]/x.git",
            "https://[fe80::1%25eth0]/x.git",
            "http://metadata.google.internal/x.git",
            "https://127.0.0.1:8080/x.git",
            "https://localhost/x.git",
            "git@169.254.1.1:a/b.git",
        ] {
            let e = RepoUrl::parse(bad, false).unwrap_err();
            assert_eq!(e.field, "repo_url");
            assert!(e.message.contains("refused"), "{bad}: {}", e.message);
        }
        assert!(RepoUrl::parse("https://127.0.0.1:8080/x.git", true).is_ok());
        assert!(RepoUrl::parse("http://169.254.169.254/x.git", true).is_err());
        for good in [
            "https://10.0.0.5/team/app.git",
            "https://[2001:db8::1]/x.git",
            "https://git.example.com:8443/x.git",
        ] {
            assert!(RepoUrl::parse(good, false).is_ok(), "{good}");
        }
    }
}
