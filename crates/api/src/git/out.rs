//! What a push answers: progress as `remote:` lines on side-band 2 while it works, then
//! git's report-status (per ref `ok`, or `ng` with a reason) on side-band 1. Sent
//! through a channel that the response body drains, so that the work goes on (and a
//! deployment that succeeds still moves its branch) if the client goes away.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::pkt;

pub struct Out {
    tx: mpsc::Sender<Bytes>,
    /// Whether the client asked for side-band (every client since git 1.6 does): without
    /// it, there is no channel for progress and only the report is sent.
    pub sideband: bool,
    last: Instant,
}

/// Per ref the client pushed, in its order: `Ok` or the reason it was refused.
pub type Statuses = Vec<(String, Result<(), String>)>;

impl Out {
    pub fn new(tx: mpsc::Sender<Bytes>) -> Self {
        Self {
            tx,
            sideband: false,
            last: Instant::now(),
        }
    }

    /// A progress line, shown by git as `remote: <line>`.
    pub async fn say(&mut self, line: impl AsRef<str>) {
        self.last = Instant::now();
        if !self.sideband {
            return;
        }
        let mut data = line.as_ref().replace('\r', "").into_bytes();
        data.push(b'\n');
        // A client that went away takes nothing more; the push goes on without it.
        let _ = self.tx.send(Bytes::from(pkt::band(2, &data))).await;
    }

    /// How long since the last line.
    pub fn quiet_for(&self) -> Duration {
        self.last.elapsed()
    }

    /// The report-status message; `unpack` is `Err` when the pack itself was refused.
    pub async fn report(self, unpack: Result<(), String>, statuses: &Statuses) {
        let mut inner = pkt::line(
            match &unpack {
                Ok(()) => "unpack ok\n".to_owned(),
                Err(e) => format!("unpack {}\n", one_line(e)),
            }
            .as_bytes(),
        );
        for (name, status) in statuses {
            let text = match status {
                Ok(()) => format!("ok {name}\n"),
                Err(reason) => format!("ng {name} {}\n", one_line(reason)),
            };
            inner.extend(pkt::line(text.as_bytes()));
        }
        inner.extend_from_slice(pkt::FLUSH);
        let message = if self.sideband {
            let mut framed = pkt::band(1, &inner);
            framed.extend_from_slice(pkt::FLUSH);
            framed
        } else {
            inner
        };
        let _ = self.tx.send(Bytes::from(message)).await;
    }
}

/// git shows a refusal's reason on one line, after the ref: keep it there and short.
fn one_line(text: &str) -> String {
    const MAX: usize = 400;
    let flat = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match flat.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_become_one_bounded_line() {
        assert_eq!(one_line("a\n\n  b \nc"), "a; b; c");
        let long = "x".repeat(1000);
        assert_eq!(one_line(&long).chars().count(), 401);
    }
}
