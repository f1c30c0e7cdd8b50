//! `slipway logs`: runtime output of the running release (SSE when following), or a
//! deployment's build log (`--build`, polled like `deploy` does).

use std::time::Duration;

use serde_json::Value;

use crate::client::{Client, parse};
use crate::commands::segment;
use crate::error::Result;
use crate::follow::print_build_lines;
use crate::models::{Deployment, RuntimeLine};
use crate::progress::Progress;

const POLL: Duration = Duration::from_millis(250);

pub async fn build(client: &Client, id: &str, follow: bool) -> Result<()> {
    let id = segment(id)?;
    // Plain lines only: no spinner, so output can be piped and grepped.
    let mut progress = Progress::plain();
    let mut after = 0;
    loop {
        let d: Deployment = parse(client.get(&format!("/api/v1/deployments/{id}")).await?)?;
        after = print_build_lines(client, id, after, &mut progress).await?;
        if !follow || !d.is_unfinished() {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

pub async fn runtime(
    client: &Client,
    app: &str,
    follow: bool,
    tail: Option<u32>,
    process: Option<String>,
) -> Result<()> {
    let mut query = Vec::new();
    if let Some(tail) = tail {
        query.push(format!("tail={tail}"));
    }
    if let Some(process) = process {
        query.push(format!("process={}", segment(&process)?));
    }
    if follow {
        query.push("follow=true".to_owned());
    }
    let path = format!("/api/v1/apps/{}/logs?{}", segment(app)?, query.join("&"));
    if !follow {
        let value = client.get(&path).await?;
        let lines: Vec<RuntimeLine> = parse(value.get("lines").cloned().unwrap_or(Value::Null))?;
        for line in &lines {
            print_runtime(line);
        }
        return Ok(());
    }
    let mut response = client.stream(&path).await?;
    let mut events = SseBuffer::default();
    while let Some(chunk) = response.chunk().await.map_err(|e| client.transport(&e))? {
        for (event, data) in events.push(&String::from_utf8_lossy(&chunk)) {
            match event.as_str() {
                "line" => match serde_json::from_str::<RuntimeLine>(&data) {
                    Ok(line) => print_runtime(&line),
                    Err(_) => println!("{data}"),
                },
                "error" => eprintln!("warning: {data}"),
                _ => {}
            }
        }
    }
    Ok(())
}

fn print_runtime(l: &RuntimeLine) {
    let at =
        l.at.map(|t| t.format("%H:%M:%S").to_string())
            .unwrap_or_default();
    let marker = if l.stream.as_deref() == Some("stderr") {
        "!"
    } else {
        " "
    };
    println!("{at} {}{marker} {}", l.container, l.line);
}

/// Server-Sent Events arrive in arbitrary chunks; this keeps the incomplete tail and
/// yields complete `(event, data)` pairs.
#[derive(Default)]
struct SseBuffer {
    pending: String,
}

impl SseBuffer {
    fn push(&mut self, chunk: &str) -> Vec<(String, String)> {
        self.pending.push_str(&chunk.replace("\r\n", "\n"));
        let mut out = Vec::new();
        while let Some(end) = self.pending.find("\n\n") {
            let block: String = self.pending.drain(..end + 2).collect();
            let mut event = "message".to_owned();
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            // A keep-alive comment has no data: nothing to show.
            if !data.is_empty() {
                out.push((event, data.join("\n")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::SseBuffer;

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut sse = SseBuffer::default();
        assert!(sse.push("event: line\nda").is_empty());
        let got = sse.push("ta: {\"a\":1}\n\n:keep-alive\n\nevent: end\ndata: done\n\n");
        assert_eq!(
            got,
            [
                ("line".to_owned(), "{\"a\":1}".to_owned()),
                ("end".to_owned(), "done".to_owned())
            ]
        );
    }
}
