//! Before git talks to a remote: the host's addresses, resolved now, must not be ones
//! the API would have refused as literals (link-local, cloud metadata, loopback). A
//! name that resolves to 169.254.169.254 is as dangerous as the address itself. The
//! rule lives in `slipway_source`, which holds submodule URLs to it too.

/// `Err` with the reason a user can act on. A name that does not resolve passes: git's
/// own error then says so in the clone phase.
pub async fn check(url: &str, allow_local: bool) -> Result<(), String> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || slipway_source::check_resolved(&url, allow_local))
        .await
        .map_err(|e| format!("internal error while resolving the repository's host: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_unless_local_is_allowed() {
        let refused = check("https://localhost/x.git", false).await.unwrap_err();
        assert!(refused.contains("loopback"), "{refused}");
        assert!(check("https://localhost/x.git", true).await.is_ok());
        assert!(check("/srv/repo", false).await.is_ok());
        assert!(
            check("https://no-such-host.invalid/x.git", false)
                .await
                .is_ok()
        );
    }
}
