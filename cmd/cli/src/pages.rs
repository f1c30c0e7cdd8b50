//! The API's lists come a page at a time; a listing follows `next_cursor` until it has
//! shown everything, or as many as `--limit` asks for.

use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{CliError, Result};

/// The server's largest page: the fewest round trips for a whole list.
const MAX_PAGE: u32 = 1000;

/// The newest `limit` items of the list at `path` (every item without a limit), as one
/// document shaped like a page: `{"<key>": [...], "next_cursor": ...}`, where
/// `next_cursor` is null when nothing is left out.
pub async fn collect(client: &Client, path: &str, key: &str, limit: Option<u32>) -> Result<Value> {
    let mut items: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let wanted = limit.map_or(MAX_PAGE, |l| {
            let left = l.saturating_sub(u32::try_from(items.len()).unwrap_or(u32::MAX));
            left.clamp(1, MAX_PAGE)
        });
        let uri = match &cursor {
            Some(c) => format!("{path}?limit={wanted}&cursor={c}"),
            None => format!("{path}?limit={wanted}"),
        };
        let page = client.get(&uri).await?;
        let Some(found) = page.get(key).and_then(Value::as_array) else {
            return Err(CliError::other(format!(
                "unexpected response from the server: no {key} list"
            )));
        };
        items.extend(found.iter().cloned());
        cursor = match page.get("next_cursor") {
            Some(Value::String(next)) => Some(next.clone()),
            _ => None,
        };
        let enough = limit.is_some_and(|l| items.len() >= l as usize);
        if cursor.is_none() || enough {
            return Ok(json!({ key: items, "next_cursor": cursor }));
        }
    }
}
