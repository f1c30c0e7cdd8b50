use std::io::{BufRead, IsTerminal, Write};

use serde_json::{Value, json};

use crate::cli::AppsCommand;
use crate::client::{Client, parse};
use crate::commands::segment;
use crate::error::{CliError, Result};
use crate::follow::follow;
use crate::models::App;
use crate::output::{self, or_dash, table, time};
use crate::pages;

pub async fn run(client: &Client, command: AppsCommand) -> Result<()> {
    match command {
        AppsCommand::Create {
            name,
            repo,
            branch,
            dockerfile,
            port,
            no_follow,
        } => {
            let mut body = json!({"name": name, "repo_url": repo});
            for (key, value) in [("branch", branch), ("dockerfile", dockerfile)] {
                if let Some(value) = value {
                    body[key] = Value::String(value);
                }
            }
            if let Some(port) = port {
                body["port"] = json!(port);
            }
            let app: App = parse(client.post("/api/v1/apps", &body).await?)?;
            println!("Created {} ({})", app.name, or_dash(app.url.as_deref()));
            let Some(deployment) = app.deployment else {
                return Ok(());
            };
            if no_follow {
                println!("Deployment {} queued.", deployment.id);
                return Ok(());
            }
            follow(client, &deployment.id).await
        }
        AppsCommand::List { json, limit } => {
            let value = pages::collect(client, "/api/v1/apps", "apps", limit).await?;
            if json {
                output::json(&value);
                return Ok(());
            }
            let apps: Vec<App> = parse(value.get("apps").cloned().unwrap_or(Value::Null))?;
            if apps.is_empty() {
                println!("No apps yet: slipway apps create NAME --repo URL");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = apps
                .into_iter()
                .map(|a| {
                    vec![
                        a.name,
                        or_dash(a.url.as_deref()),
                        repository(a.repo_url),
                        time(a.created_at),
                    ]
                })
                .collect();
            table(&["NAME", "URL", "REPOSITORY", "CREATED"], &rows);
            Ok(())
        }
        AppsCommand::Info { app, json } => {
            let value = client
                .get(&format!("/api/v1/apps/{}", segment(&app.app)?))
                .await?;
            if json {
                output::json(&value);
                return Ok(());
            }
            let a: App = parse(value)?;
            let scale: Vec<String> = a.scale.iter().map(|(p, n)| format!("{p}={n}")).collect();
            let rows = [
                ("name", a.name),
                ("url", or_dash(a.url.as_deref())),
                ("repository", repository(a.repo_url)),
                ("branch", a.branch.unwrap_or_else(|| "(default)".into())),
                ("dockerfile", or_dash(a.dockerfile.as_deref())),
                (
                    "port",
                    a.port.map_or_else(|| "(auto)".into(), |p| p.to_string()),
                ),
                (
                    "scale",
                    if scale.is_empty() {
                        "(from spec)".into()
                    } else {
                        scale.join(" ")
                    },
                ),
                ("created", time(a.created_at)),
            ];
            for (key, value) in rows {
                println!("{key:<11} {value}");
            }
            Ok(())
        }
        AppsCommand::Delete { app, yes } => {
            let name = segment(&app.app)?;
            if !yes {
                confirm(name)?;
            }
            client.delete(&format!("/api/v1/apps/{name}")).await?;
            println!("Deleted {name}; its containers and images are removed within moments.");
            Ok(())
        }
    }
}

/// Deleting cannot be undone, so a person types the name; a script must say --yes, since
/// there is nobody to ask.
fn confirm(name: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "refusing to delete {name} without --yes: stdin is not a terminal"
        )));
    }
    print!("Delete {name}, its containers and images? Type the app name to confirm: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::other(format!("cannot read the answer: {e}")))?;
    if answer.trim() != name {
        return Err(CliError::Usage("not confirmed; nothing was deleted".into()));
    }
    Ok(())
}

/// A push app has no repository URL: its code is pushed to Slipway.
fn repository(url: Option<String>) -> String {
    url.unwrap_or_else(|| "(git push)".to_owned())
}
