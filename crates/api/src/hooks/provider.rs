//! The three forges Slipway takes webhooks from, and how each names and signs things.

use axum::http::HeaderMap;
use slipway_core::webhook;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    GitHub,
    Gitea,
    GitLab,
}

impl Provider {
    pub const ALL: [Self; 3] = [Self::GitHub, Self::Gitea, Self::GitLab];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::Gitea => "gitea",
            Self::GitLab => "gitlab",
        }
    }

    /// The header that carries the delivery's signature (or, for GitLab, the secret).
    pub fn signature_header(self) -> &'static str {
        match self {
            Self::GitHub => "x-hub-signature-256",
            Self::Gitea => "x-gitea-signature",
            Self::GitLab => "x-gitlab-token",
        }
    }

    /// The header naming the event (`push`, `Merge Request Hook`, …).
    pub fn event_header(self) -> &'static str {
        match self {
            Self::GitHub => "x-github-event",
            Self::Gitea => "x-gitea-event",
            Self::GitLab => "x-gitlab-event",
        }
    }

    /// The header with the delivery's unique id, the key against replays.
    pub fn delivery_header(self) -> &'static str {
        match self {
            Self::GitHub => "x-github-delivery",
            Self::Gitea => "x-gitea-delivery",
            Self::GitLab => "x-gitlab-event-uuid",
        }
    }

    /// Whether the delivery carries proof of `secret`, checked over the raw body in
    /// constant time before anything in it is read.
    pub fn verify(self, headers: &HeaderMap, secret: &[u8], body: &[u8]) -> bool {
        let Some(presented) = headers
            .get(self.signature_header())
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        match self {
            Self::GitHub => webhook::verify_prefixed(secret, body, presented),
            Self::Gitea => webhook::verify_hex(secret, body, presented),
            Self::GitLab => webhook::verify_token(secret, presented),
        }
    }
}
