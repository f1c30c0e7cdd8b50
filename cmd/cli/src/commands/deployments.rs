use serde_json::Value;

use crate::cli::DeploymentsCommand;
use crate::client::{Client, parse};
use crate::commands::segment;
use crate::error::Result;
use crate::models::Deployment;
use crate::output::{self, or_dash, table, time};
use crate::pages;

pub async fn run(client: &Client, command: DeploymentsCommand) -> Result<()> {
    match command {
        DeploymentsCommand::List { app, json, limit } => {
            let path = format!("/api/v1/apps/{}/deployments", segment(&app.app)?);
            let value = pages::collect(client, &path, "deployments", limit).await?;
            if json {
                output::json(&value);
                return Ok(());
            }
            let list: Vec<Deployment> =
                parse(value.get("deployments").cloned().unwrap_or(Value::Null))?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.status.clone(),
                        or_dash(d.kind.as_deref()),
                        or_dash(d.git_ref.as_deref()),
                        or_dash(d.short_sha()),
                        time(d.created_at),
                    ]
                })
                .collect();
            table(&["ID", "STATUS", "KIND", "REF", "COMMIT", "CREATED"], &rows);
            Ok(())
        }
        DeploymentsCommand::Info { id, json } => {
            let value = client
                .get(&format!("/api/v1/deployments/{}", segment(&id)?))
                .await?;
            if json {
                output::json(&value);
                return Ok(());
            }
            show(&parse(value)?);
            Ok(())
        }
    }
}

fn show(d: &Deployment) {
    println!("id          {}", d.id);
    println!("app         {}", or_dash(d.app_name.as_deref()));
    println!("status      {}", d.status);
    println!("kind        {}", or_dash(d.kind.as_deref()));
    println!("ref         {}", or_dash(d.git_ref.as_deref()));
    let commit = match (d.short_sha(), d.commit_message.as_deref()) {
        (Some(sha), Some(msg)) => format!("{sha} {}", msg.lines().next().unwrap_or("")),
        (Some(sha), None) => sha.to_owned(),
        _ => "-".to_owned(),
    };
    println!("commit      {commit}");
    if let Some(phase) = &d.phase {
        println!("failed in   {phase}");
    }
    if let Some(reason) = &d.reason {
        println!("reason      {reason}");
    }
    println!("created     {}", time(d.created_at));
    if !d.phases.is_empty() {
        println!("phases");
        for p in &d.phases {
            let took = p.duration_ms.map_or_else(
                || "…".to_owned(),
                |ms| format!("{:.1}s", ms as f64 / 1000.0),
            );
            println!("  {:<8} {took}", p.phase);
        }
    }
    if !d.containers.is_empty() {
        println!("containers");
        for c in &d.containers {
            let addr = match (&c.ip, c.port) {
                (Some(ip), Some(port)) => format!("{ip}:{port}"),
                _ => "-".to_owned(),
            };
            println!("  {:<8} {}  {addr}", c.process, c.name);
        }
    }
    if !d.events.is_empty() {
        println!("events");
        for e in &d.events {
            let note = e
                .message
                .as_deref()
                .map(|m| format!("  {m}"))
                .unwrap_or_default();
            println!("  {}  {}{note}", e.at.format("%H:%M:%S%.3f"), e.status);
        }
    }
}
