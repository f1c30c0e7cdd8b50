//! A process' output as lines: what the Docker crate reads and every runtime hands the
//! engine, so both speak of the same lines without the engine naming Docker types.

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogsQuery {
    /// Only the last `tail` lines (then new ones, when following). `Some(0)` gives no
    /// old lines at all on Docker Engine 20.10 (only new ones, when following).
    pub tail: Option<usize>,
    /// Only lines written at or after this Unix time (seconds).
    pub since: Option<i64>,
    /// Keep the stream open and send new lines as they are written.
    pub follow: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub stream: LogStream,
    /// When the runtime received the line (its first part, for a line it split).
    pub at: Option<DateTime<Utc>>,
    pub text: String,
}
