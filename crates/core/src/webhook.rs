//! Webhook secrets and signatures: how forges sign what they send Slipway, and how
//! Slipway signs its callbacks (the same way GitHub does), plus the clone-URL
//! comparison that keeps a hook pasted into the wrong app from deploying another
//! repository.

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

type HmacSha256 = Hmac<Sha256>;

/// 32 random bytes as 64 hex digits: pasteable into every forge's secret field.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Hex HMAC-SHA256 of `body` under `secret`: Gitea's `X-Gitea-Signature`, and what
/// follows `sha256=` in GitHub's `X-Hub-Signature-256` and Slipway's
/// `X-Slipway-Signature-256`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    hex(&mac(secret, body).finalize().into_bytes())
}

/// `sha256=<hex>`, as GitHub and Slipway's callbacks send it.
pub fn signature_header(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", sign(secret, body))
}

/// Whether `presented` (hex, either case) is the HMAC of `body`; compared in constant
/// time, so the answer's timing tells nothing about how close a forgery came.
pub fn verify_hex(secret: &[u8], body: &[u8], presented: &str) -> bool {
    match unhex(presented.trim()) {
        Some(tag) => mac(secret, body).verify_slice(&tag).is_ok(),
        None => false,
    }
}

/// GitHub's `X-Hub-Signature-256: sha256=<hex>`.
pub fn verify_prefixed(secret: &[u8], body: &[u8], header: &str) -> bool {
    header
        .trim()
        .strip_prefix("sha256=")
        .is_some_and(|hex| verify_hex(secret, body, hex))
}

/// GitLab's `X-Gitlab-Token`, which is the secret itself.
pub fn verify_token(secret: &[u8], presented: &str) -> bool {
    bool::from(secret.ct_eq(presented.as_bytes()))
}

fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(raw: &str) -> Option<Vec<u8>> {
    if !raw.len().is_multiple_of(2) || !raw.is_ascii() {
        return None;
    }
    (0..raw.len() / 2)
        .map(|i| u8::from_str_radix(&raw[i * 2..i * 2 + 2], 16).ok())
        .collect()
}

/// A clone URL reduced to `host/owner/repo`, for telling whether two URLs name the
/// same repository: scheme, user, port, a trailing `/` or `.git` and case do not count
/// (GitHub, Gitea and GitLab all treat owner and repository names case-insensitively),
/// and `git@host:owner/repo` is the same repository as `https://host/owner/repo`.
/// Local paths (tests, SLIPWAY_ALLOW_LOCAL_REPOS) are compared as written, less a
/// trailing `/` or `.git`.
pub fn normalise_repo_url(url: &str) -> String {
    let url = url.trim();
    let (authority, path) = if let Some((_, rest)) = url.split_once("://") {
        if url.to_ascii_lowercase().starts_with("file://") {
            ("", rest)
        } else {
            let end = rest.find('/').unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        }
    } else if url.starts_with('/') {
        ("", url)
    } else if let Some((userhost, path)) = url.split_once(':') {
        (userhost, path)
    } else {
        ("", url)
    };
    let host = crate::validate::host_name(authority.rsplit('@').next().unwrap_or_default());
    let mut path = path.trim_end_matches('/');
    path = path.strip_suffix(".git").unwrap_or(path);
    let path = path.trim_matches('/');
    if host.is_empty() {
        return format!("/{path}");
    }
    format!("{}/{}", host.trim_end_matches('.'), path).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented test vector for X-Hub-Signature-256.
    #[test]
    fn github_test_vector() {
        let secret = b"It's a Secret to Everybody";
        let body = b"Hello, World!";
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(signature_header(secret, body), expected);
        assert!(verify_prefixed(secret, body, expected));
        assert!(verify_prefixed(
            secret,
            body,
            &expected.to_ascii_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(verify_hex(secret, body, &expected["sha256=".len()..]));
        assert!(!verify_prefixed(secret, b"Hello, World?", expected));
        assert!(!verify_prefixed(b"another secret", body, expected));
        assert!(!verify_prefixed(secret, body, &expected["sha256=".len()..]));
        assert!(!verify_hex(secret, body, "zz"));
        assert!(!verify_hex(secret, body, ""));
        assert!(!verify_hex(secret, body, "é1"));
    }

    #[test]
    fn gitlab_token_is_the_secret() {
        assert!(verify_token(b"s3cret", "s3cret"));
        assert!(!verify_token(b"s3cret", "s3cre"));
        assert!(!verify_token(b"s3cret", ""));
    }

    #[test]
    fn generated_secrets_are_hex_and_differ() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn clone_urls_of_one_repository_normalise_alike() {
        let same = [
            "https://github.com/Codertocat/Hello-World.git",
            "https://github.com/Codertocat/Hello-World",
            "https://GitHub.com/codertocat/hello-world/",
            "http://token@github.com:443/Codertocat/Hello-World.git",
            "git@github.com:Codertocat/Hello-World.git",
            "ssh://git@github.com/Codertocat/Hello-World.git",
            "ssh://git@github.com:22/Codertocat/Hello-World",
            "git+ssh://git@github.com/Codertocat/Hello-World.git/",
        ];
        for url in same {
            assert_eq!(
                normalise_repo_url(url),
                "github.com/codertocat/hello-world",
                "{url}"
            );
        }
        assert_ne!(
            normalise_repo_url("https://github.com/Codertocat/Hello-World"),
            normalise_repo_url("https://github.com/Codertocat/Hello-World2")
        );
        assert_ne!(
            normalise_repo_url("https://github.com/a/b"),
            normalise_repo_url("https://gitlab.com/a/b")
        );
        assert_eq!(normalise_repo_url("/srv/git/app.git/"), "/srv/git/app");
        assert_eq!(normalise_repo_url("file:///srv/git/app"), "/srv/git/app");
    }
}
