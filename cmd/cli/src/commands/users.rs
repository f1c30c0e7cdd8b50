//! `whoami`, `tokens` and `users`. A new token goes to stdout alone (with --json, the
//! API's answer), so that `TOKEN=$(slipway tokens create)` works.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::cli::{TokensCommand, UsersCommand};
use crate::client::Client;
use crate::commands::segment;
use crate::error::Result;
use crate::output::{self, table};
use crate::pages;

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

/// A token's expiry for people: "never", or the moment (marked when it has passed).
fn expiry(token: &Value, now: DateTime<Utc>) -> String {
    match &token["expires_at"] {
        Value::Null => "never".to_owned(),
        // As sent, like the other times in the table; marked once it has passed.
        Value::String(raw) => match raw.parse::<DateTime<Utc>>() {
            Ok(at) if at <= now => format!("{raw} (expired)"),
            _ => raw.clone(),
        },
        other => other.to_string(),
    }
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
        TokensCommand::List { json, limit } => {
            let value = pages::collect(client, "/api/v1/tokens", "tokens", limit).await?;
            if json {
                output::json(&value);
            } else {
                let now = Utc::now();
                let rows: Vec<Vec<String>> = value["tokens"]
                    .as_array()
                    .map(|tokens| {
                        tokens
                            .iter()
                            .map(|t| {
                                let mut row: Vec<String> =
                                    ["prefix", "name", "created_at", "last_used_at"]
                                        .iter()
                                        .map(|k| text(t, k))
                                        .collect();
                                row.extend([expiry(t, now), text(t, "id")]);
                                row
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table(
                    &["PREFIX", "NAME", "CREATED", "LAST USED", "EXPIRES", "ID"],
                    &rows,
                );
            }
        }
        TokensCommand::Create {
            name,
            expires_in,
            json,
        } => {
            // Sent as typed: the API checks the duration and names `expires_in` if it
            // is wrong, so the CLI and the API cannot disagree on what is allowed.
            let mut body = json!({});
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(expires_in) = expires_in {
                body["expires_in"] = json!(expires_in);
            }
            let created = client.post("/api/v1/tokens", &body).await?;
            if json {
                output::json(&created);
            } else {
                println!("{}", text(&created, "token"));
                let until = match expiry(&created, Utc::now()).as_str() {
                    "never" => "it never expires".to_owned(),
                    at => format!("it expires at {at}"),
                };
                eprintln!(
                    "token {} created; it is shown only now; {until}",
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
        UsersCommand::List { json, limit } => {
            let value = pages::collect(client, "/api/v1/users", "users", limit).await?;
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
