//! Config vars and replica counts: both are small PATCHes that make the server release
//! the app again.

use serde_json::{Map, Value, json};

use crate::cli::ConfigCommand;
use crate::client::{Client, parse};
use crate::commands::{segment, split_pair};
use crate::error::{CliError, Result};
use crate::models::{ConfigChange, Processes};
use crate::output;

pub async fn run(client: &Client, command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Get { app, reveal, json } => {
            let query = if reveal { "?reveal=true" } else { "" };
            let value = client
                .get(&format!(
                    "/api/v1/apps/{}/config{query}",
                    segment(&app.app)?
                ))
                .await?;
            if json {
                output::json(&value);
                return Ok(());
            }
            let change: ConfigChange = parse(value)?;
            if change.config.is_empty() {
                println!(
                    "No config vars: slipway config set -a {} KEY=value",
                    app.app
                );
            }
            for (key, value) in change.config {
                println!("{key}={value}");
            }
            Ok(())
        }
        ConfigCommand::Set { app, pairs } => {
            let mut body = Map::new();
            for pair in &pairs {
                let (key, value) = split_pair(pair, "KEY=VALUE")?;
                body.insert(key.to_owned(), Value::String(value.to_owned()));
            }
            patch(client, &app.app, "Set", body).await
        }
        ConfigCommand::Unset { app, keys } => {
            // null is the API's "remove this var" in a merge.
            let body = keys.into_iter().map(|k| (k, Value::Null)).collect();
            patch(client, &app.app, "Unset", body).await
        }
    }
}

async fn patch(client: &Client, app: &str, verb: &str, body: Map<String, Value>) -> Result<()> {
    let names: Vec<&str> = body.keys().map(String::as_str).collect();
    let names = names.join(", ");
    let path = format!("/api/v1/apps/{}/config", segment(app)?);
    let change: ConfigChange = parse(client.patch(&path, &Value::Object(body.clone())).await?)?;
    println!("{verb} {names} ({} config vars now).", change.config.len());
    match (change.release, change.applies_to) {
        (Some(release), _) => println!(
            "Releasing with the change: deployment {} (slipway logs --build {} -f)",
            release.id, release.id
        ),
        (None, Some(id)) => {
            println!("Deployment {id}, still on its way, will run with the change.")
        }
        (None, None) => println!("Nothing is running yet; the next deployment will use it."),
    }
    Ok(())
}

pub async fn scale(client: &Client, app: &str, counts: &[String]) -> Result<()> {
    let mut body = Map::new();
    for arg in counts {
        let (process, count) = split_pair(arg, "PROCESS=N")?;
        let count: u32 = count.parse().map_err(|_| {
            CliError::Usage(format!("{arg:?}: the replica count must be a whole number"))
        })?;
        body.insert(process.to_owned(), json!(count));
    }
    let path = format!("/api/v1/apps/{}/processes", segment(app)?);
    let result: Processes = parse(client.patch(&path, &Value::Object(body)).await?)?;
    for (name, p) in result.processes {
        let routed = if p.routed { "  (routed)" } else { "" };
        println!("{name}={}{routed}", p.replicas);
    }
    Ok(())
}
