//! Signed forge webhooks against a real Postgres, with payloads shaped as GitHub, Gitea
//! and GitLab document them: a signed push deploys its commit; forged, replayed and
//! wrong-repository deliveries change nothing.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod callbacks;
mod patch;
mod payloads;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_core::webhook::{sign, signature_header};
use slipway_store::PgPool;
use slipway_testkit::{ApiClient, Reply};
use uuid::Uuid;

pub(crate) struct Hooks {
    /// The owner's client, with an admin token.
    pub api: ApiClient,
    /// What a forge is: no token.
    forge: ApiClient,
}

pub(crate) fn config(allow_local: bool) -> Config {
    let mut c = Config::for_tests("unused", "slipway-test-hooks", std::env::temp_dir());
    c.allow_local_repos = allow_local;
    c
}

pub(crate) async fn hooks(pool: PgPool, allow_local: bool) -> Hooks {
    let routes = router(AppState::new(pool.clone(), config(allow_local)));
    Hooks {
        api: ApiClient::as_admin(&pool, routes.clone()).await,
        forge: ApiClient::new(routes),
    }
}

impl Hooks {
    /// Creates the app and returns its webhook secret.
    pub async fn app(&self, name: &str, repo_url: &str, branch: Option<&str>) -> String {
        let created = self
            .api
            .post(
                "/api/v1/apps",
                json!({"name": name, "repo_url": repo_url, "branch": branch}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let hook = self.api.get(&format!("/api/v1/apps/{name}/webhook")).await;
        assert_eq!(hook.status, StatusCode::OK, "{}", hook.text);
        hook.json["secret"].as_str().unwrap().to_owned()
    }

    async fn deliver(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
        let mut request = Request::post(path).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        self.forge
            .send(request.body(Body::from(body.to_vec())).unwrap())
            .await
    }

    async fn github(
        &self,
        app: &str,
        secret: &str,
        event: &str,
        delivery: &str,
        body: &Value,
    ) -> Reply {
        self.github_bytes(app, secret, event, delivery, body.to_string().as_bytes())
            .await
    }

    /// A GitHub delivery of any bytes, signed with `secret`.
    async fn github_bytes(
        &self,
        app: &str,
        secret: &str,
        event: &str,
        delivery: &str,
        body: &[u8],
    ) -> Reply {
        let headers = [
            ("x-github-event", event.to_owned()),
            ("x-github-delivery", delivery.to_owned()),
            (
                "x-hub-signature-256",
                signature_header(secret.as_bytes(), body),
            ),
        ];
        self.deliver(&format!("/hooks/github/{app}"), &headers, body)
            .await
    }

    async fn gitea(&self, app: &str, secret: &str, event: &str, body: &Value) -> Reply {
        let body = body.to_string();
        let headers = [
            ("x-gitea-event", event.to_owned()),
            ("x-gitea-delivery", delivery_id()),
            (
                "x-gitea-signature",
                sign(secret.as_bytes(), body.as_bytes()),
            ),
        ];
        self.deliver(&format!("/hooks/gitea/{app}"), &headers, body.as_bytes())
            .await
    }

    /// GitLab sends the secret itself as its token.
    async fn gitlab(&self, app: &str, token: &str, event: &str, uuid: &str, body: &Value) -> Reply {
        let body = body.to_string();
        let headers = [
            ("x-gitlab-event", event.to_owned()),
            ("x-gitlab-event-uuid", uuid.to_owned()),
            ("x-gitlab-token", token.to_owned()),
        ];
        self.deliver(&format!("/hooks/gitlab/{app}"), &headers, body.as_bytes())
            .await
    }

    pub async fn deployments(&self, app: &str) -> Vec<Value> {
        let list = self
            .api
            .get(&format!("/api/v1/apps/{app}/deployments"))
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        list.json["deployments"].as_array().unwrap().clone()
    }
}

fn delivery_id() -> String {
    Uuid::new_v4().to_string()
}

pub(crate) fn assert_error(got: &Reply, status: StatusCode, field: Option<&str>) {
    assert_eq!(got.status, status, "{}", got.text);
    assert_eq!(got.json["error"]["field"].as_str(), field, "{}", got.text);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_signed_github_push_deploys_its_commit_once(pool: PgPool) {
    let h = hooks(pool, false).await;
    let secret = h
        .app(
            "hello",
            "https://github.com/Codertocat/Hello-World.git",
            None,
        )
        .await;
    let first = h.deployments("hello").await;
    assert_eq!(first.len(), 1);

    let push = payloads::github_push("refs/heads/master", payloads::GITHUB_AFTER);
    let id = delivery_id();
    let got = h.github("hello", &secret, "push", &id, &push).await;
    assert_eq!(got.status, StatusCode::CREATED, "{}", got.text);
    assert_eq!(got.json["result"], "deploying");
    assert_eq!(got.json["deployment"]["ref"], payloads::GITHUB_AFTER);
    let deployments = h.deployments("hello").await;
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0]["ref"], payloads::GITHUB_AFTER);
    assert_eq!(deployments[0]["status"], "pending");
    assert_eq!(deployments[0]["id"], got.json["deployment"]["id"]);

    // The same delivery again: the first answer, and nothing new.
    let again = h.github("hello", &secret, "push", &id, &push).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json["replayed"], true);
    assert_eq!(again.json["first_status"], 201);
    assert_eq!(again.json["deployment"]["id"], got.json["deployment"]["id"]);
    assert_eq!(h.deployments("hello").await.len(), 2);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn forged_wrong_repository_and_malformed_deliveries_change_nothing(pool: PgPool) {
    let h = hooks(pool.clone(), false).await;
    let secret = h
        .app(
            "hello",
            "https://github.com/Codertocat/Hello-World.git",
            None,
        )
        .await;
    let push = payloads::github_push("refs/heads/master", payloads::GITHUB_AFTER);
    let body = push.to_string();

    // Signed with another secret, unsigned, or signed over other bytes.
    let forged = [
        Some(signature_header(b"not the secret", body.as_bytes())),
        None,
        Some(signature_header(secret.as_bytes(), b"{}")),
        Some(sign(secret.as_bytes(), body.as_bytes())),
    ];
    for signature in forged {
        let mut headers = vec![
            ("x-github-event", "push".to_owned()),
            ("x-github-delivery", delivery_id()),
        ];
        if let Some(signature) = signature {
            headers.push(("x-hub-signature-256", signature));
        }
        let got = h
            .deliver("/hooks/github/hello", &headers, body.as_bytes())
            .await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{}", got.text);
        assert_eq!(got.json["error"]["code"], "invalid_signature");
    }

    // Correctly signed, but from another repository: a hook set on the wrong app.
    let mut other = push.clone();
    other["repository"]["clone_url"] = json!("https://github.com/octocat/Spoon-Knife.git");
    other["repository"]["ssh_url"] = json!("git@github.com:octocat/Spoon-Knife.git");
    other["repository"]["html_url"] = json!("https://github.com/octocat/Spoon-Knife");
    let got = h
        .github("hello", &secret, "push", &delivery_id(), &other)
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some("repository"));

    // Malformed: no head commit; no delivery id; not JSON.
    let mut no_after = push.clone();
    no_after.as_object_mut().unwrap().remove("after");
    let got = h
        .github("hello", &secret, "push", &delivery_id(), &no_after)
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some("after"));
    let headers = [
        ("x-github-event", "push".to_owned()),
        (
            "x-hub-signature-256",
            signature_header(secret.as_bytes(), body.as_bytes()),
        ),
    ];
    let got = h
        .deliver("/hooks/github/hello", &headers, body.as_bytes())
        .await;
    assert_error(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("x-github-delivery"),
    );
    let form = format!("payload={body}");
    let got = h
        .github_bytes("hello", &secret, "push", &delivery_id(), form.as_bytes())
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some("body"));

    // Over 1 MiB: refused before anything is read.
    let huge = vec![b' '; slipway_api::MAX_HOOK_BODY + 1];
    let got = h
        .github_bytes("hello", &secret, "push", &delivery_id(), &huge)
        .await;
    assert_eq!(got.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", got.text);

    // Unknown app or provider: 404, whatever the signature.
    let got = h
        .github("nope", &secret, "push", &delivery_id(), &push)
        .await;
    assert_eq!(got.status, StatusCode::NOT_FOUND, "{}", got.text);
    let got = h
        .deliver("/hooks/bitbucket/hello", &[], body.as_bytes())
        .await;
    assert_eq!(got.status, StatusCode::NOT_FOUND, "{}", got.text);

    assert_eq!(
        h.deployments("hello").await.len(),
        1,
        "only the first deployment"
    );
    let remembered: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(remembered, 0, "refused deliveries are not remembered");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn pings_tags_deletions_and_other_branches_are_acknowledged_and_ignored(pool: PgPool) {
    let h = hooks(pool, false).await;
    let secret = h
        .app(
            "hello",
            "https://github.com/Codertocat/Hello-World.git",
            Some("main"),
        )
        .await;
    let cases = [
        ("ping", payloads::github_ping()),
        (
            "push",
            payloads::github_push("refs/heads/feature", payloads::GITHUB_AFTER),
        ),
        (
            "push",
            payloads::github_push("refs/tags/v1.0", payloads::GITHUB_AFTER),
        ),
        // GitHub's documented example: a tag deleted.
        ("push", payloads::github_tag_deletion()),
        ("push", payloads::github_branch_deletion("refs/heads/main")),
        (
            "issues",
            json!({"action": "opened", "repository": payloads::github_repository()}),
        ),
    ];
    for (event, body) in cases {
        let got = h
            .github("hello", &secret, event, &delivery_id(), &body)
            .await;
        assert_eq!(got.status, StatusCode::ACCEPTED, "{event}: {}", got.text);
        assert_eq!(got.json["result"], "ignored", "{}", got.text);
        assert!(got.json["reason"].is_string(), "{}", got.text);
    }
    assert_eq!(h.deployments("hello").await.len(), 1);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn gitea_and_gitlab_pushes_deploy_with_their_own_signatures(pool: PgPool) {
    // Gitea's example repository lives on localhost; its ssh URL names the same one.
    let h = hooks(pool, true).await;
    let secret = h
        .app(
            "gitea-app",
            "ssh://gitea@localhost:2222/gitea/webhooks.git",
            Some("develop"),
        )
        .await;
    let push = payloads::gitea_push();
    let got = h.gitea("gitea-app", &secret, "push", &push).await;
    assert_eq!(got.status, StatusCode::CREATED, "{}", got.text);
    assert_eq!(got.json["deployment"]["ref"], payloads::GITEA_AFTER);
    // GitHub's header on a Gitea hook is not Gitea's signature.
    let body = push.to_string();
    let headers = [
        ("x-gitea-event", "push".to_owned()),
        ("x-gitea-delivery", delivery_id()),
        (
            "x-hub-signature-256",
            signature_header(secret.as_bytes(), body.as_bytes()),
        ),
    ];
    let got = h
        .deliver("/hooks/gitea/gitea-app", &headers, body.as_bytes())
        .await;
    assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{}", got.text);

    let secret = h
        .app("gitlab-app", "https://example.com/mike/diaspora", None)
        .await;
    let push = payloads::gitlab_push();
    let got = h
        .gitlab("gitlab-app", "wrong", "Push Hook", &delivery_id(), &push)
        .await;
    assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{}", got.text);
    let uuid = delivery_id();
    let got = h
        .gitlab("gitlab-app", &secret, "Push Hook", &uuid, &push)
        .await;
    assert_eq!(got.status, StatusCode::CREATED, "{}", got.text);
    assert_eq!(got.json["deployment"]["ref"], payloads::GITLAB_CHECKOUT_SHA);
    let again = h
        .gitlab("gitlab-app", &secret, "Push Hook", &uuid, &push)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json["replayed"], true);
    assert_eq!(h.deployments("gitlab-app").await.len(), 2);

    // A tag push hook is acknowledged and ignored.
    let mut tag = payloads::gitlab_push();
    tag["object_kind"] = json!("tag_push");
    tag["ref"] = json!("refs/tags/v1.0.0");
    let got = h
        .gitlab("gitlab-app", &secret, "Tag Push Hook", &delivery_id(), &tag)
        .await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    assert_eq!(h.deployments("gitlab-app").await.len(), 2);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn pull_request_events_are_recorded_with_one_action_vocabulary(pool: PgPool) {
    let h = hooks(pool.clone(), true).await;
    let github = h
        .app("gh", "https://github.com/Codertocat/Hello-World.git", None)
        .await;
    let got = h
        .github(
            "gh",
            &github,
            "pull_request",
            &delivery_id(),
            &payloads::github_pull_request("synchronize"),
        )
        .await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    assert_eq!(got.json["result"], "recorded");
    assert_eq!(got.json["pull_request"]["action"], "synchronized");
    assert_eq!(got.json["pull_request"]["number"], 2);
    assert_eq!(
        got.json["pull_request"]["head_sha"],
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    );
    let mut merged = payloads::github_pull_request("closed");
    merged["pull_request"]["merged"] = json!(true);
    let got = h
        .github("gh", &github, "pull_request", &delivery_id(), &merged)
        .await;
    assert_eq!(got.json["pull_request"]["merged"], true, "{}", got.text);

    let gitea = h
        .app("gt", "http://localhost:3000/gitea/webhooks.git", None)
        .await;
    let got = h
        .gitea(
            "gt",
            &gitea,
            "pull_request",
            &payloads::gitea_pull_request("synchronized"),
        )
        .await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    assert_eq!(got.json["pull_request"]["action"], "synchronized");

    let gitlab = h
        .app("gl", "git@example.com:gitlabhq/gitlab-test.git", None)
        .await;
    let update = payloads::gitlab_merge_request("update", true);
    let got = h
        .gitlab("gl", &gitlab, "Merge Request Hook", &delivery_id(), &update)
        .await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    assert_eq!(got.json["pull_request"]["action"], "synchronized");
    assert_eq!(got.json["pull_request"]["number"], 1);
    assert_eq!(got.json["pull_request"]["head_ref"], "ms-viewport");

    let stored: Vec<(String, String, i64, bool)> = sqlx::query_as(
        "SELECT provider, action, number, merged FROM pull_request_events ORDER BY received_at, id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("github", "synchronized", 2, false),
        ("github", "closed", 2, true),
        ("gitea", "synchronized", 2, false),
        ("gitlab", "synchronized", 1, false),
    ];
    let stored: Vec<(&str, &str, i64, bool)> = stored
        .iter()
        .map(|(p, a, n, m)| (p.as_str(), a.as_str(), *n, *m))
        .collect();
    assert_eq!(stored, expected);
    // Pull requests deploy nothing (yet): each app has only its first deployment.
    for app in ["gh", "gt", "gl"] {
        assert_eq!(h.deployments(app).await.len(), 1);
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_rotated_secret_replaces_the_old_one(pool: PgPool) {
    let h = hooks(pool.clone(), false).await;
    let old = h
        .app(
            "hello",
            "https://github.com/Codertocat/Hello-World.git",
            None,
        )
        .await;
    let shown = h.api.get("/api/v1/apps/hello/webhook").await;
    assert_eq!(shown.json["secret"], old.as_str(), "the secret is stable");
    assert_eq!(
        shown.json["urls"]["github"], "http://localhost/hooks/github/hello",
        "{}",
        shown.text
    );
    let rotated = h
        .api
        .call("POST", "/api/v1/apps/hello/webhook/rotate", None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let new = rotated.json["secret"].as_str().unwrap();
    assert_ne!(new, old);
    let push = payloads::github_push("refs/heads/master", payloads::GITHUB_AFTER);
    let got = h.github("hello", &old, "push", &delivery_id(), &push).await;
    assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{}", got.text);
    let got = h.github("hello", new, "push", &delivery_id(), &push).await;
    assert_eq!(got.status, StatusCode::CREATED, "{}", got.text);

    // Sealed at rest with SLIPWAY_SECRET_KEY: the database never sees it.
    let (stored, sealed): (Vec<u8>, bool) = sqlx::query_as(
        "SELECT webhook_secret, webhook_secret_sealed FROM apps WHERE name = 'hello'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(sealed);
    assert!(!stored.windows(new.len()).any(|w| w == new.as_bytes()));

    // Another user's app is as good as missing.
    let (_, token) = slipway_testkit::user_with_token(&pool, false).await;
    let other = ApiClient::with_token(h.forge.router(), &token);
    for (method, path) in [
        ("GET", "/api/v1/apps/hello/webhook"),
        ("POST", "/api/v1/apps/hello/webhook/rotate"),
    ] {
        let got = other.call(method, path, None).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{}", got.text);
    }
}
