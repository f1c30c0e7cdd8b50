//! Whether git may talk to a URL. The API holds an app's `repo_url` to these rules when
//! it is set; a submodule URL comes out of the commit, so it is held to them here. Host
//! names are resolved again just before git connects: one that resolves to
//! 169.254.169.254 is as dangerous as the address itself.

use std::net::ToSocketAddrs;

use slipway_core::validate::{RepoUrl, forbidden_ip, url_host};

/// `Err` with the reason a user can act on when `url`'s host resolves, now, to an
/// address the API would have refused as a literal (link-local, cloud metadata and,
/// unless local repositories are allowed, loopback). A name that does not resolve
/// passes: git's own error then says so. Blocking (DNS).
pub fn check_resolved(url: &str, allow_local: bool) -> Result<(), String> {
    let Some(host) = url_host(url) else {
        return Ok(());
    };
    let Ok(addrs) = (host, 0).to_socket_addrs() else {
        return Ok(());
    };
    for addr in addrs {
        if let Some(reason) = forbidden_ip(addr.ip(), allow_local) {
            return Err(format!("{host} resolves to {}: {reason}", addr.ip()));
        }
    }
    Ok(())
}

/// Every rule an app's `repo_url` is held to, for a URL the API never saw: its form
/// and scheme, local paths only where allowed, no forbidden host written or resolved.
/// The reason never quotes the URL, which may hold credentials. Blocking (DNS).
pub(crate) fn check_url(url: &str, allow_local: bool) -> Result<(), String> {
    RepoUrl::parse_field("url", url, allow_local).map_err(|e| {
        // The rule's own words; "url: " is how the API prefixes some of them.
        e.message
            .strip_prefix("url: ")
            .unwrap_or(&e.message)
            .to_owned()
    })?;
    check_resolved(url, allow_local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repo_url_rules_apply() {
        for (url, reason) in [
            ("file:///srv/git/lib", "SLIPWAY_ALLOW_LOCAL_REPOS"),
            ("/srv/git/lib", "SLIPWAY_ALLOW_LOCAL_REPOS"),
            ("http://169.254.169.254/latest.git", "link-local"),
            ("https://[fd00:ec2::254]/x.git", "unique local"),
            ("https://metadata.google.internal/x.git", "cloud metadata"),
            ("https://127.0.0.1/x.git", "loopback"),
            ("https://localhost/x.git", "localhost"),
            (
                "ftp://example.com/x.git",
                "url scheme ftp:// is not supported",
            ),
            (
                "https://example.com",
                "url must include the repository path",
            ),
            ("-oProxyCommand=x", "url must not start with '-'"),
        ] {
            let e = check_url(url, false).unwrap_err();
            assert!(e.contains(reason), "{url}: {e}");
            assert!(!e.starts_with("url: "), "{url}: {e}");
        }
        assert!(check_url("file:///srv/git/lib", true).is_ok());
        assert!(check_url("https://127.0.0.1/x.git", true).is_ok());
        assert!(check_url("http://169.254.169.254/x.git", true).is_err());
        assert!(check_url("https://no-such-host.invalid/x.git", false).is_ok());
        assert!(check_url("git@no-such-host.invalid:a/b.git", false).is_ok());
    }

    #[test]
    fn names_resolving_to_loopback_are_refused_unless_local_is_allowed() {
        // Only the resolved addresses are judged here; `localhost` has loopback ones.
        let refused = check_resolved("https://localhost/x.git", false).unwrap_err();
        assert!(refused.starts_with("localhost resolves to "), "{refused}");
        assert!(refused.contains("loopback"), "{refused}");
        assert!(check_resolved("https://localhost/x.git", true).is_ok());
        assert!(check_resolved("/srv/repo", false).is_ok());
        assert!(check_resolved("https://no-such-host.invalid/x.git", false).is_ok());
    }
}
