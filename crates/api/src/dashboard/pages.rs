//! The dashboard's HTML. Element ids and `data-` attributes are the script's (and the
//! browser test's) handles; maud escapes every value.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};
use slipway_core::DeploymentStatus;
use slipway_store::users::Caller;

use super::Live;
use super::format::{duration_ms, short_sha, time};
use crate::views::test_runs::TestRunView;
use crate::views::{AppView, DeploymentView};

fn layout(title: &str, viewer: Option<&Caller>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Slipway" }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "Slipway" }
                    nav {
                        a href="/docs" { "API docs" }
                        @if let Some(viewer) = viewer {
                            span #viewer { (viewer.name) @if viewer.is_admin { " (admin)" } }
                            form method="post" action="/logout" { button.link type="submit" { "Sign out" } }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn status_badge(status: DeploymentStatus) -> Markup {
    html! {
        span class={ "status status-" (status.as_str()) } data-status=(status.as_str()) {
            (status.as_str().replace('_', " "))
        }
    }
}

pub fn error(status: StatusCode, message: &str) -> Markup {
    layout(
        status.canonical_reason().unwrap_or("Error"),
        None,
        html! {
            section.error {
                h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                p { (message) }
                p { a href="/" { "Back to the apps" } }
            }
        },
    )
}

pub fn login(problem: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            section.login {
                h1 { "Sign in" }
                p.muted {
                    "Paste an API token. An admin creates users and their first token; "
                    code { "slipway tokens create" } " makes more."
                }
                @if let Some(problem) = problem { p #login-error.reason.bad { (problem) } }
                form method="post" action="/login" {
                    input #token type="password" name="token" autocomplete="current-password"
                        placeholder="slw_…" required autofocus;
                    button #sign-in type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// `next`: the cursor of the next (older) page, if any; `later`: this is not the first page.
pub fn index(
    viewer: &Caller,
    apps: &[(AppView, Option<DeploymentView>)],
    next: Option<&str>,
    later: bool,
) -> Markup {
    layout(
        "Apps",
        Some(viewer),
        html! {
            h1 { "Apps" }
            @if apps.is_empty() && later {
                p.empty { "No older apps." }
            } @else if apps.is_empty() {
                p.empty {
                    "No apps yet. Create one with "
                    code { "slipway apps create NAME REPO_URL" }
                    " or " code { "POST /api/v1/apps" } "."
                }
            } @else {
                table #apps {
                    thead { tr { th { "App" } th { "Status" } th { "Commit" } th { "URL" } } }
                    tbody {
                        @for (app, newest) in apps {
                            tr data-app=(app.name) {
                                td { a href={ "/apps/" (app.name) } { (app.name) } }
                                td {
                                    @match newest {
                                        Some(d) => (status_badge(d.status)),
                                        None => span.muted { "never deployed" },
                                    }
                                }
                                td.mono {
                                    @if let Some(sha) = newest.as_ref().and_then(|d| d.commit_sha.as_deref()) {
                                        (short_sha(sha))
                                    }
                                }
                                td { a href=(app.url) { (app.url) } }
                            }
                        }
                    }
                }
            }
            @if next.is_some() || later {
                nav.pages {
                    @if later { a #newer href="/" { "← Newest apps" } }
                    @if let Some(next) = next { a #older href={ "/?cursor=" (next) } { "Older apps →" } }
                }
            }
        },
    )
}

pub fn app(viewer: &Caller, app: &AppView, live: &Live) -> Markup {
    layout(
        &app.name,
        Some(viewer),
        html! {
            section #app data-app=(app.name) {
                div.heading {
                    h1 { (app.name) }
                    a #url href=(app.url) { (app.url) }
                }
                p.muted {
                    @match &app.repo_url {
                        Some(url) => (url),
                        None => "pushed with git",
                    }
                    @if let Some(branch) = &app.branch { " · branch " (branch) }
                }
                div.actions {
                    button #redeploy type="button" data-action="redeploy" { "Redeploy" }
                    button #rollback type="button" data-action="rollback" { "Roll back" }
                    span #notice role="status" {}
                }
            }
            div #live { (self::live(app, live)) }
            section.logs {
                div.heading {
                    h2 #log-title { "Logs" }
                    button type="button" data-action="runtime-logs" { "Runtime logs" }
                }
                pre #log aria-live="polite" {}
            }
        },
    )
}

/// The fragment the page's script swaps in on each refresh (and the page starts with).
pub fn live(app: &AppView, live: &Live) -> Markup {
    html! {
        section.timeline {
            h2 { "Deployments" }
            @if live.timeline.is_empty() {
                p.muted { "No deployments yet." }
            }
            ol #timeline {
                @for d in &live.timeline {
                    (deployment(d, live.processes.deployment_id == Some(d.id)))
                }
            }
        }
        section.test-runs {
            h2 { "Test runs" }
            @if live.test_runs.is_empty() {
                p.muted { "No test runs yet. " code { "slipway test -a " (app.name) } }
            } @else {
                table #test-runs {
                    thead { tr { th { "Status" } th { "Commit" } th { "Tests" } th { "Took" } th { "Started" } } }
                    tbody {
                        @for t in &live.test_runs { (test_run(t)) }
                    }
                }
            }
        }
        div.columns {
            section.processes {
                h2 { "Processes" }
                (processes(app, live))
            }
            section.config {
                h2 { "Config vars" }
                @if live.config.is_empty() {
                    p.muted { "None set. " code { "slipway config set NAME=value" } }
                } @else {
                    table #config {
                        @for name in &live.config {
                            tr { td.mono { (name) } td.mono.muted { "********" } }
                        }
                    }
                }
            }
        }
    }
}

fn deployment(d: &DeploymentView, current: bool) -> Markup {
    let total = d
        .finished_at
        .or(d.released_at)
        .map(|end| (end - d.created_at).num_milliseconds());
    html! {
        li.deployment data-id=(d.id) data-status=(d.status.as_str()) data-current[current] {
            div.line {
                (status_badge(d.status))
                @if current { span.tag { "serving" } }
                span.kind { (d.kind) }
                @if let Some(sha) = &d.commit_sha { span.mono { (short_sha(sha)) } }
                @if let Some(message) = &d.commit_message {
                    span.message { (message.lines().next().unwrap_or_default()) }
                }
                span.muted.when { (time(d.created_at)) }
                @if let Some(ms) = total { span.muted { "total " (duration_ms(ms)) } }
            }
            @if let Some(phases) = &d.phases {
                @if !phases.is_empty() {
                    ul.phases {
                        @for p in phases {
                            li data-phase=(p.phase) {
                                (p.phase) " "
                                @match p.duration_ms {
                                    Some(ms) => (duration_ms(ms)),
                                    None => span.running { "running…" },
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(reason) = &d.reason {
                p class={ "reason" @if matches!(d.status, DeploymentStatus::Failed | DeploymentStatus::Crashed) { " bad" } } {
                    @if let Some(phase) = &d.phase { strong { (phase) ": " } }
                    (reason)
                }
            }
            div.buttons {
                button type="button" data-action="build-log" data-id=(d.id) { "Log" }
                @if d.released_at.is_some() && !current {
                    button type="button" data-action="rollback-to" data-id=(d.id) { "Roll back to this" }
                }
                @if d.status.is_unfinished() {
                    button type="button" data-action="cancel" data-id=(d.id) { "Cancel" }
                }
            }
        }
    }
}

fn test_run(t: &TestRunView) -> Markup {
    let status = t.status.as_str();
    // A running test run shows busy, not like a serving release.
    let look = if status == "running" {
        "testing"
    } else {
        status
    };
    html! {
        tr.test-run data-id=(t.id) data-status=(status) {
            td { span class={ "status status-" (look) } { (status) } }
            td.mono { @if let Some(sha) = &t.commit_sha { (short_sha(sha)) } }
            td {
                @match &t.tests {
                    Some(c) => {
                        (c.total) " tests, " (c.passed) " passed, "
                        span class={ @if c.failed > 0 { "bad" } } { (c.failed) " failed" }
                        ", " (c.skipped) " skipped"
                    }
                    None => @match t.exit_code {
                        Some(code) => span.muted { "exit code " (code) },
                        None => span.muted { "–" },
                    },
                }
                @if let Some(f) = t.failures.as_ref().and_then(|f| f.first()) {
                    div.muted.mono { (f.suite) "." (f.name) ": " (f.message) }
                }
                @if let Some(note) = &t.note { div.muted { (note) } }
            }
            td { @if let Some(ms) = t.duration_ms { (duration_ms(ms)) } }
            td.muted { @if let Some(at) = t.started_at { (time(at)) } }
        }
    }
}

fn processes(app: &AppView, live: &Live) -> Markup {
    let p = &live.processes;
    html! {
        table #processes {
            thead { tr { th { "Process" } th { "Wanted" } th { "Running" } th { "Command" } } }
            tbody {
                @for (name, process) in &p.processes {
                    tr data-process=(name) {
                        td.mono { (name) @if process.routed { " " span.tag { "web" } } }
                        td { (process.replicas) }
                        td { (p.containers.iter().filter(|c| &c.process == name).count()) }
                        td.mono.muted {
                            @match &process.command {
                                Some(argv) => (argv.join(" ")),
                                None => "image default",
                            }
                        }
                    }
                }
            }
        }
        p.muted { "Scale with " code { "slipway scale -a " (app.name) " web=2" } "." }
    }
}
