use serde_json::json;

use crate::client::{Client, parse};
use crate::commands::segment;
use crate::error::Result;
use crate::follow::follow;
use crate::models::Deployment;

pub async fn deploy(
    client: &Client,
    app: &str,
    git_ref: Option<String>,
    no_follow: bool,
) -> Result<()> {
    let body = match git_ref {
        Some(r) => json!({"ref": r}),
        None => json!({}),
    };
    let path = format!("/api/v1/apps/{}/deployments", segment(app)?);
    let d: Deployment = parse(client.post(&path, &body).await?)?;
    started(client, &d, no_follow).await
}

pub async fn rollback(
    client: &Client,
    app: &str,
    target: Option<String>,
    no_follow: bool,
) -> Result<()> {
    let body = match target {
        Some(id) => json!({"deployment_id": id}),
        None => json!({}),
    };
    let path = format!("/api/v1/apps/{}/rollback", segment(app)?);
    let d: Deployment = parse(client.post(&path, &body).await?)?;
    started(client, &d, no_follow).await
}

async fn started(client: &Client, d: &Deployment, no_follow: bool) -> Result<()> {
    if no_follow {
        println!("Deployment {} queued.", d.id);
        return Ok(());
    }
    println!("Deployment {}", d.id);
    follow(client, &d.id).await
}
