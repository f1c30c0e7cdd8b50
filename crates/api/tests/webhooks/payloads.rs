//! Deliveries shaped as the forges document them (GitHub's webhook payload examples,
//! Gitea's and GitLab's webhook documentation), trimmed of fields Slipway does not
//! read but keeping every one it does, with the documented values.

use serde_json::{Value, json};

pub const GITHUB_AFTER: &str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
pub const GITEA_AFTER: &str = "bffeb74224043ba2feb48d137756c8a9331c449a";
pub const GITLAB_CHECKOUT_SHA: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";

fn github_user() -> Value {
    json!({
        "login": "Codertocat", "id": 21031067, "node_id": "MDQ6VXNlcjIxMDMxMDY3",
        "avatar_url": "https://avatars1.githubusercontent.com/u/21031067?v=4",
        "url": "https://api.github.com/users/Codertocat",
        "html_url": "https://github.com/Codertocat", "type": "User", "site_admin": false
    })
}

pub fn github_repository() -> Value {
    json!({
        "id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": "Hello-World", "full_name": "Codertocat/Hello-World", "private": false,
        "owner": github_user(),
        "html_url": "https://github.com/Codertocat/Hello-World",
        "description": null, "fork": false,
        "url": "https://github.com/Codertocat/Hello-World",
        "created_at": 1557933565, "updated_at": "2019-05-15T15:20:41Z", "pushed_at": 1557933657,
        "git_url": "git://github.com/Codertocat/Hello-World.git",
        "ssh_url": "git@github.com:Codertocat/Hello-World.git",
        "clone_url": "https://github.com/Codertocat/Hello-World.git",
        "svn_url": "https://github.com/Codertocat/Hello-World",
        "homepage": null, "size": 0, "language": "Ruby",
        "default_branch": "master", "master_branch": "master",
        "visibility": "public"
    })
}

/// GitHub's `push` example, with the ref and head commit the test needs.
pub fn github_push(git_ref: &str, after: &str) -> Value {
    json!({
        "ref": git_ref,
        "before": "0000000000000000000000000000000000000000",
        "after": after,
        "created": true,
        "deleted": false,
        "forced": false,
        "base_ref": null,
        "compare": "https://github.com/Codertocat/Hello-World/compare/simple-tag",
        "commits": [],
        "head_commit": {
            "id": after, "tree_id": "a3f9ebdb2ab8bc1ea4bb7a1bbafb5c21b2dd0c31",
            "distinct": true, "message": "Update README.md",
            "timestamp": "2019-05-15T15:20:30-05:00",
            "url": format!("https://github.com/Codertocat/Hello-World/commit/{after}"),
            "author": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com", "username": "Codertocat"},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            "added": [], "removed": [], "modified": ["README.md"]
        },
        "repository": github_repository(),
        "pusher": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"},
        "sender": github_user()
    })
}

/// GitHub's documented `push` example as it stands: the tag `simple-tag` deleted.
pub fn github_tag_deletion() -> Value {
    json!({
        "ref": "refs/tags/simple-tag",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "0000000000000000000000000000000000000000",
        "created": false, "deleted": true, "forced": false, "base_ref": null,
        "compare": "https://github.com/Codertocat/Hello-World/compare/6113728f27ae...000000000000",
        "commits": [], "head_commit": null,
        "repository": github_repository(),
        "pusher": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"},
        "sender": github_user()
    })
}

/// The same shape for a branch deleted.
pub fn github_branch_deletion(git_ref: &str) -> Value {
    let mut push = github_tag_deletion();
    push["ref"] = json!(git_ref);
    push
}

/// GitHub's `ping` example, sent when a hook is created.
pub fn github_ping() -> Value {
    json!({
        "zen": "Non-blocking is better than blocking.",
        "hook_id": 30,
        "hook": {
            "type": "Repository", "id": 30, "name": "web", "active": true,
            "events": ["push", "pull_request"],
            "config": {"content_type": "json", "insecure_ssl": "0", "url": "https://example.com/webhook"},
            "updated_at": "2019-05-15T15:20:49Z", "created_at": "2019-05-15T15:20:49Z",
            "url": "https://api.github.com/repos/Codertocat/Hello-World/hooks/30",
            "test_url": "https://api.github.com/repos/Codertocat/Hello-World/hooks/30/test",
            "ping_url": "https://api.github.com/repos/Codertocat/Hello-World/hooks/30/pings"
        },
        "repository": github_repository(),
        "sender": github_user()
    })
}

/// GitHub's `pull_request` example (pull request #2, "Update the README with new
/// information.") with the given action.
pub fn github_pull_request(action: &str) -> Value {
    json!({
        "action": action,
        "number": 2,
        "pull_request": {
            "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2",
            "id": 279147437, "node_id": "MDExOlB1bGxSZXF1ZXN0Mjc5MTQ3NDM3",
            "number": 2, "state": "open", "locked": false,
            "title": "Update the README with new information.",
            "user": github_user(),
            "body": "This is a pretty simple change that we need to pull into master.",
            "head": {
                "label": "Codertocat:changes", "ref": "changes",
                "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                "user": github_user(), "repo": github_repository()
            },
            "base": {
                "label": "Codertocat:master", "ref": "master",
                "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
                "user": github_user(), "repo": github_repository()
            },
            "merged": false, "mergeable": null, "merged_by": null,
            "commits": 1, "additions": 1, "deletions": 1, "changed_files": 1
        },
        "repository": github_repository(),
        "sender": github_user()
    })
}

fn gitea_user() -> Value {
    json!({
        "id": 1, "login": "gitea", "full_name": "Gitea", "email": "someone@somewhere.com",
        "avatar_url": "https://localhost:3000/avatars/1", "username": "gitea"
    })
}

fn gitea_repository() -> Value {
    json!({
        "id": 140, "owner": gitea_user(), "name": "webhooks", "full_name": "gitea/webhooks",
        "description": "", "private": false, "fork": false,
        "html_url": "http://localhost:3000/gitea/webhooks",
        "ssh_url": "ssh://gitea@localhost:2222/gitea/webhooks.git",
        "clone_url": "http://localhost:3000/gitea/webhooks.git",
        "website": "", "stars_count": 0, "forks_count": 1, "watchers_count": 1,
        "open_issues_count": 7, "default_branch": "master",
        "created_at": "2017-02-26T04:29:06-05:00", "updated_at": "2017-03-13T13:51:58-04:00"
    })
}

/// Gitea's documented push event example.
pub fn gitea_push() -> Value {
    json!({
        "ref": "refs/heads/develop",
        "before": "28e1879d029cb852e4844d9c718537df08844e03",
        "after": GITEA_AFTER,
        "compare_url": "http://localhost:3000/gitea/webhooks/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
        "commits": [{
            "id": GITEA_AFTER,
            "message": "Webhooks Yay!",
            "url": "http://localhost:3000/gitea/webhooks/commit/bffeb74224043ba2feb48d137756c8a9331c449a",
            "author": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
            "committer": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
            "timestamp": "2017-03-13T13:52:11-04:00"
        }],
        "repository": gitea_repository(),
        "pusher": gitea_user(),
        "sender": gitea_user()
    })
}

/// A Gitea pull request event (same shape as GitHub's, with Gitea's action words).
pub fn gitea_pull_request(action: &str) -> Value {
    json!({
        "action": action,
        "number": 2,
        "pull_request": {
            "id": 8, "url": "http://localhost:3000/gitea/webhooks/pulls/2", "number": 2,
            "user": gitea_user(), "title": "Update README", "body": "", "state": "open",
            "head": {"label": "feature", "ref": "feature", "sha": "2ec27c9b3e1fd1a20bd9ad1c4f4f1e0e9bc1a6a4",
                     "repo_id": 140, "repo": gitea_repository()},
            "base": {"label": "master", "ref": "master", "sha": "28e1879d029cb852e4844d9c718537df08844e03",
                     "repo_id": 140, "repo": gitea_repository()},
            "merged": false, "merged_at": null, "merge_base": "28e1879d029cb852e4844d9c718537df08844e03"
        },
        "repository": gitea_repository(),
        "sender": gitea_user()
    })
}

/// GitLab's documented push event example.
pub fn gitlab_push() -> Value {
    json!({
        "object_kind": "push",
        "event_name": "push",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": GITLAB_CHECKOUT_SHA,
        "ref": "refs/heads/master",
        "ref_protected": true,
        "checkout_sha": GITLAB_CHECKOUT_SHA,
        "user_id": 4, "user_name": "John Smith", "user_username": "jsmith",
        "user_email": "john@example.com",
        "user_avatar": "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=8://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80",
        "project_id": 15,
        "project": {
            "id": 15, "name": "Diaspora", "description": "",
            "web_url": "http://example.com/mike/diaspora", "avatar_url": null,
            "git_ssh_url": "git@example.com:mike/diaspora.git",
            "git_http_url": "http://example.com/mike/diaspora.git",
            "namespace": "Mike", "visibility_level": 0,
            "path_with_namespace": "mike/diaspora", "default_branch": "master",
            "homepage": "http://example.com/mike/diaspora",
            "url": "git@example.com:mike/diaspora.git",
            "ssh_url": "git@example.com:mike/diaspora.git",
            "http_url": "http://example.com/mike/diaspora.git"
        },
        "repository": {
            "name": "Diaspora", "url": "git@example.com:mike/diaspora.git", "description": "",
            "homepage": "http://example.com/mike/diaspora",
            "git_http_url": "http://example.com/mike/diaspora.git",
            "git_ssh_url": "git@example.com:mike/diaspora.git", "visibility_level": 0
        },
        "commits": [{
            "id": GITLAB_CHECKOUT_SHA,
            "message": "fixed readme",
            "title": "fixed readme",
            "timestamp": "2012-01-03T23:36:29+02:00",
            "url": "http://example.com/mike/diaspora/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "author": {"name": "GitLab dev user", "email": "gitlabdev@dv6700.(none)"},
            "added": ["CHANGELOG"], "modified": ["app/controller/application.rb"], "removed": []
        }],
        "total_commits_count": 4
    })
}

/// GitLab's documented merge request event example (MR !1, ms-viewport → master);
/// `new_commits` adds the `oldrev` GitLab sends when an update pushed commits.
pub fn gitlab_merge_request(action: &str, new_commits: bool) -> Value {
    let project = json!({
        "id": 1, "name": "Gitlab Test", "description": "Aut reprehenderit ut est.",
        "web_url": "http://example.com/gitlabhq/gitlab-test", "avatar_url": null,
        "git_ssh_url": "git@example.com:gitlabhq/gitlab-test.git",
        "git_http_url": "http://example.com/gitlabhq/gitlab-test.git",
        "namespace": "GitlabHQ", "visibility_level": 20,
        "path_with_namespace": "gitlabhq/gitlab-test", "default_branch": "master",
        "homepage": "http://example.com/gitlabhq/gitlab-test",
        "url": "http://example.com/gitlabhq/gitlab-test.git",
        "ssh_url": "git@example.com:gitlabhq/gitlab-test.git",
        "http_url": "http://example.com/gitlabhq/gitlab-test.git"
    });
    let awesome_project = json!({
        "name": "Awesome Project", "description": "Aut reprehenderit ut est.",
        "web_url": "http://example.com/awesome_space/awesome_project",
        "git_ssh_url": "git@example.com:awesome_space/awesome_project.git",
        "git_http_url": "http://example.com/awesome_space/awesome_project.git",
        "namespace": "Awesome Space", "default_branch": "master"
    });
    let mut attributes = json!({
        "id": 99, "iid": 1, "target_branch": "master", "source_branch": "ms-viewport",
        "source_project_id": 14, "author_id": 51, "assignee_ids": [6], "assignee_id": 6,
        "title": "MS-Viewport", "created_at": "2013-12-03T17:23:34Z",
        "updated_at": "2013-12-03T17:23:34Z", "milestone_id": null, "state": "opened",
        "merge_status": "unchecked", "target_project_id": 14, "description": "",
        "url": "http://example.com/diaspora/merge_requests/1",
        "source": awesome_project.clone(),
        "target": awesome_project,
        "last_commit": {
            "id": GITLAB_CHECKOUT_SHA,
            "message": "fixed readme",
            "title": "Update file README.md",
            "timestamp": "2012-01-03T23:36:29+02:00",
            "url": "http://example.com/awesome_space/awesome_project/commits/da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "author": {"name": "GitLab dev user", "email": "gitlabdev@dv6700.(none)"}
        },
        "work_in_progress": false,
        "action": action
    });
    if new_commits {
        attributes["oldrev"] = json!("0c3b8b5d2b0e8b0e9b7b5e5f2e1d0c9b8a7f6e5d");
    }
    json!({
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {"id": 1, "name": "Administrator", "username": "root",
                 "avatar_url": "http://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=40\u{0026}d=identicon",
                 "email": "admin@example.com"},
        "project": project,
        "repository": {
            "name": "Gitlab Test", "url": "http://example.com/gitlabhq/gitlab-test.git",
            "description": "Aut reprehenderit ut est.",
            "homepage": "http://example.com/gitlabhq/gitlab-test"
        },
        "object_attributes": attributes,
        "labels": [],
        "changes": {}
    })
}
