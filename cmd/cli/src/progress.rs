//! Phase lines for a followed deployment. On a terminal the current phase is a spinner
//! with a running clock, redrawn in place under the log lines; elsewhere (CI, pipes) each
//! phase is one plain line once it ends, so logs stay free of control characters.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub struct Progress {
    tty: bool,
    current: Option<(String, Instant)>,
    frame: usize,
    /// Whether a spinner line is on screen and must be cleared before printing.
    drawn: bool,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            tty: std::io::stdout().is_terminal(),
            current: None,
            frame: 0,
            drawn: false,
        }
    }

    /// Never draws a spinner, even on a terminal.
    pub fn plain() -> Self {
        Self {
            tty: false,
            ..Self::new()
        }
    }

    pub fn current(&self) -> Option<&str> {
        self.current.as_ref().map(|(name, _)| name.as_str())
    }

    /// Starts showing `label` (a phase, or "waiting for a worker") as in progress.
    pub fn start(&mut self, label: &str) {
        self.current = Some((label.to_owned(), Instant::now()));
        self.tick();
    }

    /// Ends the current phase with one permanent line; `took` is the server's measure
    /// when it has one, which is more exact than when this client happened to poll.
    pub fn finish(&mut self, ok: bool, took: Option<Duration>) {
        let Some((label, since)) = self.current.take() else {
            return;
        };
        self.line(&format!(
            "{} {label:<8} {}",
            if ok { "✓" } else { "✗" },
            seconds(took.unwrap_or_else(|| since.elapsed()))
        ));
    }

    /// Drops the current label without a line (a wait that was not a phase).
    pub fn clear(&mut self) {
        self.current = None;
        self.erase();
    }

    /// A log line, printed above the spinner.
    pub fn line(&mut self, text: &str) {
        self.erase();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        drop(out);
        self.draw();
    }

    pub fn tick(&mut self) {
        self.frame = (self.frame + 1) % FRAMES.len();
        self.erase();
        self.draw();
    }

    fn draw(&mut self) {
        if !self.tty {
            return;
        }
        if let Some((label, since)) = &self.current {
            let mut out = std::io::stdout().lock();
            let _ = write!(
                out,
                "{} {label:<8} {}",
                FRAMES[self.frame],
                seconds(since.elapsed())
            );
            let _ = out.flush();
            self.drawn = true;
        }
    }

    fn erase(&mut self) {
        if self.drawn {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
            self.drawn = false;
        }
    }
}

pub fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
