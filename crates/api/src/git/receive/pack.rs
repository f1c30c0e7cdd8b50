//! Receiving the pack: `git receive-pack` on the commands Slipway lets through, fed the
//! client's pack within what SLIPWAY_MAX_REPO_SIZE leaves.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;

use slipway_core::display::human_bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{Plan, Push};
use crate::git::body::Incoming;
use crate::git::commands::{Request, parse_report, receive_capabilities};
use crate::git::pkt;
use crate::git::storage::{self, ZERO};

impl Push {
    /// Runs `git receive-pack` on the commands Slipway lets through (the app's branch
    /// renamed to its hidden ref), feeding it the pack. Returns the unpack status and
    /// receive-pack's status per ref it was given.
    pub(super) async fn receive(
        &mut self,
        path: &Path,
        request: &Request,
        plans: &[Plan],
        body: &mut Incoming,
    ) -> (Result<(), String>, HashMap<String, Result<(), String>>) {
        let max = self.state.config.max_repo_size;
        let mut lines: Vec<String> = Vec::new();
        for (command, plan) in request.commands.iter().zip(plans) {
            match plan {
                Plan::Deploy { incoming } => {
                    lines.push(format!("{ZERO} {} {incoming}", command.new));
                }
                Plan::Store => lines.push(command.line()),
                Plan::Refuse(_) => {}
            }
        }
        if lines.is_empty() {
            drain(body, max).await;
            return (Ok(()), HashMap::new());
        }
        let used = storage::size(path).await;
        let room = max.saturating_sub(used);
        let too_big = || {
            format!(
                "the push is larger than the {} this repository has left of SLIPWAY_MAX_REPO_SIZE ({}; the repository takes {})",
                human_bytes(room),
                human_bytes(max),
                human_bytes(used)
            )
        };
        let mut first = true;
        let mut input = Vec::new();
        for line in &request.shallow {
            input.extend(pkt::line(&[line.as_slice(), b"\n"].concat()));
        }
        for line in lines {
            let mut data = line.into_bytes();
            if std::mem::take(&mut first) {
                data.push(0);
                data.extend_from_slice(receive_capabilities(&request.capabilities).as_bytes());
            }
            data.push(b'\n');
            input.extend(pkt::line(&data));
        }
        input.extend_from_slice(pkt::FLUSH);
        let outcome = self.run_receive_pack(path, room, input, body).await;
        let (stdout, stderr, over) = match outcome {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "push: git receive-pack");
                drain(body, max).await;
                return (
                    Err("internal error; the server log has details".to_owned()),
                    HashMap::new(),
                );
            }
        };
        if over {
            // receive-pack was stopped mid-pack: its complaint about that says nothing.
            drain(body, max).await;
            return (Err(too_big()), HashMap::new());
        }
        for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
            self.out.say(line).await;
        }
        parse_report(&stdout)
    }

    /// Feeds `input` and then the rest of the body to receive-pack, stopping (`over`)
    /// when the pack passes `room` bytes. Returns its stdout, stderr and `over`.
    async fn run_receive_pack(
        &mut self,
        path: &Path,
        room: u64,
        input: Vec<u8>,
        body: &mut Incoming,
    ) -> Result<(Vec<u8>, String, bool), storage::StorageError> {
        let dir = path.to_string_lossy();
        // git's own limit too (0 would mean none): the pack as received, not as stored.
        let limit = room.max(1).to_string();
        let mut child = storage::command(
            path,
            &[("receive.maxInputSize", &limit)],
            &["receive-pack", "--stateless-rpc", &dir],
        )?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(storage::StorageError::Io(std::io::Error::other(
                "no pipes to git",
            )));
        };
        let reading = tokio::spawn(async move {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
            (out, String::from_utf8_lossy(&err).into_owned())
        });
        let mut over = false;
        let mut fed = 0u64;
        if stdin.write_all(&input).await.is_ok() {
            loop {
                match body.chunk().await {
                    Ok(Some(chunk)) => {
                        fed += chunk.len() as u64;
                        if fed > room {
                            over = true;
                            break;
                        }
                        // receive-pack stopped reading: its report says why.
                        if stdin.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!(error = %e, "push body unreadable");
                        break;
                    }
                }
            }
        }
        drop(stdin);
        if over {
            let _ = child.kill().await;
        }
        let _ = child.wait().await;
        let (out, err) = reading.await.unwrap_or_default();
        Ok((out, err, over))
    }
}

/// Reads and drops what is left of a refused push's body (up to `max` bytes), so that
/// the client gets to read the answer that says why rather than a broken connection.
pub(super) async fn drain(body: &mut Incoming, max: u64) {
    let mut read = 0u64;
    while let Ok(Some(chunk)) = body.chunk().await {
        read += chunk.len() as u64;
        if read > max {
            break;
        }
    }
}
