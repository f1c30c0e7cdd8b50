//! What a forge's delivery says, read from the JSON each forge documents: the event,
//! the repository it came from, and for a push the branch and head commit, for a pull
//! (merge) request what the environments feature needs. Only the fields used are read;
//! a missing one is named in the 422.

use serde_json::Value;
use slipway_store::webhooks::PullRequestEvent;

use super::provider::Provider;

/// A payload that lacks what its event needs; `field` is the JSON path (or header).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub field: String,
    pub message: String,
}

impl Malformed {
    fn missing(field: &str, what: &str) -> Self {
        Self {
            field: field.to_owned(),
            message: format!("the payload has no {what} ({field})"),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Ping,
    Push(Push),
    PullRequest(PullRequestEvent),
    /// Any other event (issues, releases, a Gitea `create`…), by its name.
    Other(String),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Push {
    /// The full ref: `refs/heads/main`, `refs/tags/v1`.
    pub git_ref: String,
    /// The head commit; `None` when the ref was deleted.
    pub head: Option<String>,
}

/// The repository a delivery came from.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Repository {
    /// Every clone or web URL the payload gives for it.
    pub urls: Vec<String>,
    pub default_branch: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Delivery {
    pub event: Event,
    pub repository: Repository,
}

/// Parses the body of a delivery whose signature has been checked.
pub(crate) fn parse(provider: Provider, event: &str, body: &[u8]) -> Result<Delivery, Malformed> {
    let json: Value = serde_json::from_slice(body).map_err(|e| Malformed {
        field: "body".to_owned(),
        message: format!("the payload is not JSON: {e}"),
    })?;
    if !json.is_object() {
        return Err(Malformed {
            field: "body".to_owned(),
            message: "the payload is not a JSON object".to_owned(),
        });
    }
    match provider {
        Provider::GitHub | Provider::Gitea => parse_github_like(event, &json),
        Provider::GitLab => parse_gitlab(event, &json),
    }
}

fn parse_github_like(event: &str, json: &Value) -> Result<Delivery, Malformed> {
    let repository = || -> Result<Repository, Malformed> {
        let repo = json
            .get("repository")
            .filter(|r| r.is_object())
            .ok_or_else(|| Malformed::missing("repository", "repository"))?;
        Ok(Repository {
            urls: urls(repo, &["clone_url", "ssh_url", "html_url"]),
            default_branch: string(repo, "default_branch"),
        })
    };
    let event = match event {
        "ping" => {
            return Ok(Delivery {
                event: Event::Ping,
                repository: Repository::default(),
            });
        }
        "push" => {
            let git_ref = required(json, "ref", "ref", "ref pushed")?;
            let after = required(json, "after", "after", "head commit")?;
            let deleted = json.get("deleted").and_then(Value::as_bool) == Some(true);
            Event::Push(Push {
                git_ref,
                head: (!deleted && !is_zero(&after)).then_some(after),
            })
        }
        "pull_request" => Event::PullRequest(github_pull_request(json)?),
        other => Event::Other(other.to_owned()),
    };
    Ok(Delivery {
        event,
        repository: repository()?,
    })
}

fn github_pull_request(json: &Value) -> Result<PullRequestEvent, Malformed> {
    let action = required(json, "action", "action", "action")?;
    let pr = json
        .get("pull_request")
        .filter(|p| p.is_object())
        .ok_or_else(|| Malformed::missing("pull_request", "pull request"))?;
    let number = json
        .get("number")
        .or_else(|| pr.get("number"))
        .and_then(Value::as_i64)
        .ok_or_else(|| Malformed::missing("number", "pull request number"))?;
    let head = pr
        .get("head")
        .ok_or_else(|| Malformed::missing("pull_request.head", "head"))?;
    let base = pr.get("base").unwrap_or(&Value::Null);
    let merged = pr.get("merged").and_then(Value::as_bool) == Some(true);
    // GitHub says `synchronize`, Gitea `synchronized`: one word for both.
    let action = match action.as_str() {
        "synchronize" | "synchronized" => "synchronized".to_owned(),
        _ => action,
    };
    Ok(PullRequestEvent {
        number,
        action,
        head_sha: required(head, "sha", "pull_request.head.sha", "head commit")?,
        head_ref: string(head, "ref"),
        head_repo: head.get("repo").and_then(|r| string(r, "clone_url")),
        base_ref: string(base, "ref"),
        base_repo: base.get("repo").and_then(|r| string(r, "clone_url")),
        merged,
    })
}

fn parse_gitlab(event: &str, json: &Value) -> Result<Delivery, Malformed> {
    let project = json
        .get("project")
        .filter(|p| p.is_object())
        .ok_or_else(|| Malformed::missing("project", "project"))?;
    let repository = Repository {
        urls: urls(project, &["git_http_url", "git_ssh_url", "web_url"]),
        default_branch: string(project, "default_branch"),
    };
    let event = match event {
        "Push Hook" | "Tag Push Hook" => {
            let git_ref = required(json, "ref", "ref", "ref pushed")?;
            // checkout_sha is null when the ref was deleted, and `after` all zeros.
            let head = string(json, "checkout_sha").filter(|sha| !is_zero(sha));
            Event::Push(Push { git_ref, head })
        }
        "Merge Request Hook" => Event::PullRequest(gitlab_merge_request(json)?),
        other => Event::Other(other.to_owned()),
    };
    Ok(Delivery { event, repository })
}

fn gitlab_merge_request(json: &Value) -> Result<PullRequestEvent, Malformed> {
    let mr = json
        .get("object_attributes")
        .filter(|m| m.is_object())
        .ok_or_else(|| Malformed::missing("object_attributes", "merge request"))?;
    let number = mr
        .get("iid")
        .and_then(Value::as_i64)
        .ok_or_else(|| Malformed::missing("object_attributes.iid", "merge request number"))?;
    let action = required(mr, "action", "object_attributes.action", "action")?;
    let head_sha = mr
        .get("last_commit")
        .and_then(|c| string(c, "id"))
        .ok_or_else(|| Malformed::missing("object_attributes.last_commit.id", "head commit"))?;
    let merged = action == "merge" || string(mr, "state").as_deref() == Some("merged");
    // `update` is sent for new commits (with `oldrev`) and for edits alike.
    let action = match action.as_str() {
        "open" => "opened".to_owned(),
        "reopen" => "reopened".to_owned(),
        "close" | "merge" => "closed".to_owned(),
        "update" if mr.get("oldrev").is_some_and(|v| !v.is_null()) => "synchronized".to_owned(),
        "update" => "edited".to_owned(),
        _ => action,
    };
    Ok(PullRequestEvent {
        number,
        action,
        head_sha,
        head_ref: string(mr, "source_branch"),
        head_repo: mr.get("source").and_then(|s| string(s, "git_http_url")),
        base_ref: string(mr, "target_branch"),
        base_repo: mr.get("target").and_then(|t| string(t, "git_http_url")),
        merged,
    })
}

fn string(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn required(value: &Value, key: &str, path: &str, what: &str) -> Result<String, Malformed> {
    string(value, key).ok_or_else(|| Malformed::missing(path, what))
}

fn urls(repo: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter().filter_map(|k| string(repo, k)).collect()
}

fn is_zero(sha: &str) -> bool {
    sha.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(provider: Provider, event: &str, body: Value) -> Result<Delivery, Malformed> {
        parse(provider, event, body.to_string().as_bytes())
    }

    #[test]
    fn github_branch_deletion_has_no_head() {
        let body = json!({"ref": "refs/heads/gone", "after": "0000000000000000000000000000000000000000",
            "deleted": true, "repository": {"clone_url": "https://github.com/a/b.git"}});
        let d = parse_json(Provider::GitHub, "push", body).unwrap();
        assert_eq!(
            d.event,
            Event::Push(Push {
                git_ref: "refs/heads/gone".into(),
                head: None
            })
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let e = parse_json(Provider::GitHub, "push", json!({"after": "ab"})).unwrap_err();
        assert_eq!(e.field, "ref");
        let e = parse_json(
            Provider::GitHub,
            "push",
            json!({"ref": "refs/heads/x", "after": "ab"}),
        )
        .unwrap_err();
        assert_eq!(e.field, "repository");
        let e = parse_json(
            Provider::GitLab,
            "Push Hook",
            json!({"ref": "refs/heads/x"}),
        )
        .unwrap_err();
        assert_eq!(e.field, "project");
        let e = parse(Provider::Gitea, "push", b"{not json").unwrap_err();
        assert_eq!(e.field, "body");
        let e = parse(Provider::Gitea, "push", b"[1]").unwrap_err();
        assert_eq!(e.field, "body");
        let e = parse_json(
            Provider::GitHub,
            "pull_request",
            json!({"action": "opened", "number": 1, "pull_request": {"head": {}}}),
        )
        .unwrap_err();
        assert_eq!(e.field, "pull_request.head.sha");
    }

    #[test]
    fn pull_request_actions_are_normalised() {
        let gh = |action: &str| {
            json!({"action": action, "number": 2,
            "pull_request": {"head": {"sha": "abc"}, "merged": false},
            "repository": {"clone_url": "https://github.com/a/b.git"}})
        };
        for (provider, action) in [
            (Provider::GitHub, "synchronize"),
            (Provider::Gitea, "synchronized"),
        ] {
            let Event::PullRequest(pr) = parse_json(provider, "pull_request", gh(action))
                .unwrap()
                .event
            else {
                panic!("not a pull request");
            };
            assert_eq!(pr.action, "synchronized");
        }
        let gl = |action: &str, oldrev: Option<&str>| {
            json!({"object_kind": "merge_request",
            "project": {"git_http_url": "http://example.com/a/b.git"},
            "object_attributes": {"iid": 1, "action": action, "oldrev": oldrev,
                "last_commit": {"id": "abc"}, "state": "opened"}})
        };
        let action_of = |body| match parse_json(Provider::GitLab, "Merge Request Hook", body)
            .unwrap()
            .event
        {
            Event::PullRequest(pr) => (pr.action, pr.merged),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            action_of(gl("update", Some("def"))),
            ("synchronized".into(), false)
        );
        assert_eq!(action_of(gl("update", None)), ("edited".into(), false));
        assert_eq!(action_of(gl("merge", None)), ("closed".into(), true));
        assert_eq!(action_of(gl("open", None)), ("opened".into(), false));
    }
}
