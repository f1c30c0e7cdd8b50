//! `whoami`, `tokens` and `users`. A new token goes to stdout alone (with --json, the
//! API's answer), so that `TOKEN=$(slipway tokens create)` works.

use serde_json::{Value, json};

use crate::cli::{TokensCommand, UsersCommand};
use crate::client::Client;
use crate::commands::segment;
use crate::error::Result;
use crate::output::{self, table};

fn text(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn rows(value: &Value, list: &str, keys: &[&str]) -> Vec<Vec<String>> {
    value[list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| keys.iter().map(|k| text(item, k)).collect())
                .collect()
        })
        .unwrap_or_default()
}

pub async fn whoami(client: &Client, json: bool) -> Result<()> {
    let me = client.get("/api/v1/me").await?;
    if json {
        output::json(&me);
    } else {
        let role = if me["is_admin"] == true {
            " (admin)"
        } else {
            ""
        };
        println!("{}{role}", text(&me, "name"));
    }
    Ok(())
}

pub async fn tokens(client: &Client, command: TokensCommand) -> Result<()> {
    match command {
        TokensCommand::List { json } => {
            let value = client.get("/api/v1/tokens").await?;
            if json {
                output::json(&value);
            } else {
                let keys = ["prefix", "name", "created_at", "last_used_at", "id"];
                table(
                    &["PREFIX", "NAME", "CREATED", "LAST USED", "ID"],
                    &rows(&value, "tokens", &keys),
                );
            }
        }
        TokensCommand::Create { name, json } => {
            let body = match name {
                Some(name) => json!({ "name": name }),
                None => json!({}),
            };
            let created = client.post("/api/v1/tokens", &body).await?;
            if json {
                output::json(&created);
            } else {
                println!("{}", text(&created, "token"));
                eprintln!(
                    "token {} created; it is shown only now",
                    text(&created, "prefix")
                );
            }
        }
        TokensCommand::Revoke { which } => {
            client
                .delete(&format!("/api/v1/tokens/{}", segment(&which)?))
                .await?;
            eprintln!("token {which} revoked");
        }
    }
    Ok(())
}

pub async fn users(client: &Client, command: UsersCommand) -> Result<()> {
    match command {
        UsersCommand::List { json } => {
            let value = client.get("/api/v1/users").await?;
            if json {
                output::json(&value);
            } else {
                table(
                    &["NAME", "ADMIN", "CREATED", "ID"],
                    &rows(&value, "users", &["name", "is_admin", "created_at", "id"]),
                );
            }
        }
        UsersCommand::Create { name, admin, json } => {
            let created = client
                .post("/api/v1/users", &json!({ "name": name, "admin": admin }))
                .await?;
            if json {
                output::json(&created);
            } else {
                println!("{}", text(&created["token"], "token"));
                eprintln!("user {name} created; their token is shown only now");
            }
        }
    }
    Ok(())
}
