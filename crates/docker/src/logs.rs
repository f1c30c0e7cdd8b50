//! A container's stdout and stderr as a stream of timestamped lines (runtime logs).

use std::collections::VecDeque;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

pub use slipway_core::output::{LogLine, LogStream, LogsQuery};

use crate::{DockerClient, DockerError};

impl DockerClient {
    /// The container's output as lines, oldest first.
    ///
    /// Docker's json-file driver stores one entry per line, but a line longer than
    /// 16 KiB becomes several entries, each with its own timestamp and only the last
    /// ending in a newline; such pieces are joined again here, per stream. Output
    /// without a final newline comes out as a last line when the stream ends. The
    /// driver has already replaced invalid UTF-8 with U+FFFD; anything else invalid
    /// is replaced here.
    ///
    /// A missing container is an error item (404), not an empty stream. Dropping the
    /// stream closes the connection.
    pub fn logs(
        &self,
        container: &str,
        query: &LogsQuery,
    ) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + 'static + use<> {
        let mut options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .follow(query.follow)
            .tail(
                &query
                    .tail
                    .map_or_else(|| "all".to_owned(), |n| n.to_string()),
            );
        if let Some(since) = query.since {
            // The API takes 32-bit seconds; 2038 is far enough to saturate at.
            options = options.since(i32::try_from(since.max(0)).unwrap_or(i32::MAX));
        }
        // Following is open-ended: no request timeout for it.
        let docker = if query.follow {
            self.docker
                .clone()
                .with_timeout(std::time::Duration::from_secs(u64::from(u32::MAX)))
        } else {
            self.docker.clone()
        };
        let chunks = Box::pin(docker.logs(container, Some(options.build())));
        let state = Reader {
            chunks,
            lines: Lines::default(),
            ready: VecDeque::new(),
            done: false,
        };
        futures_util::stream::unfold(state, |mut state| async move {
            loop {
                if let Some(item) = state.ready.pop_front() {
                    return Some((item, state));
                }
                if state.done {
                    return None;
                }
                match state.chunks.next().await {
                    Some(Ok(chunk)) => {
                        let lines = match chunk {
                            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                                state.lines.push(LogStream::Stdout, &message)
                            }
                            LogOutput::StdErr { message } => {
                                state.lines.push(LogStream::Stderr, &message)
                            }
                            LogOutput::StdIn { .. } => Vec::new(),
                        };
                        state.ready.extend(lines.into_iter().map(Ok));
                    }
                    // What was read before the failure is still worth showing; the
                    // stream ends with the error.
                    Some(Err(e)) => {
                        state.ready.extend(state.lines.finish().into_iter().map(Ok));
                        state.ready.push_back(Err(e.into()));
                        state.done = true;
                    }
                    None => {
                        state.ready.extend(state.lines.finish().into_iter().map(Ok));
                        state.done = true;
                    }
                }
            }
        })
    }
}

struct Reader<S> {
    chunks: S,
    lines: Lines,
    ready: VecDeque<Result<LogLine, DockerError>>,
    done: bool,
}

/// Turns Docker's entries (`<RFC 3339 time> <text>`) into lines, keeping the
/// unfinished last line of each stream until the rest of it arrives.
#[derive(Default)]
struct Lines {
    stdout: Option<Partial>,
    stderr: Option<Partial>,
}

/// The start of a line that has not ended yet.
struct Partial {
    at: Option<DateTime<Utc>>,
    bytes: Vec<u8>,
}

impl Lines {
    fn push(&mut self, stream: LogStream, entry: &[u8]) -> Vec<LogLine> {
        let (at, text) = split_timestamp(entry);
        let pending = match stream {
            LogStream::Stdout => &mut self.stdout,
            LogStream::Stderr => &mut self.stderr,
        };
        // A continuation keeps the time of the line's first piece.
        let mut partial = pending.take().unwrap_or(Partial {
            at,
            bytes: Vec::new(),
        });
        partial.bytes.extend_from_slice(text);
        let mut lines = Vec::new();
        let mut line_at = partial.at;
        let mut rest = partial.bytes.as_slice();
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            lines.push(line(stream, line_at, &rest[..end]));
            rest = &rest[end + 1..];
            // Lines that start in this entry have its time.
            line_at = at.or(partial.at);
        }
        if !rest.is_empty() {
            *pending = Some(Partial {
                at: line_at,
                bytes: rest.to_vec(),
            });
        }
        lines
    }

    /// The unfinished lines, once no more output will come.
    fn finish(&mut self) -> Vec<LogLine> {
        let mut lines = Vec::new();
        for (stream, pending) in [
            (LogStream::Stdout, self.stdout.take()),
            (LogStream::Stderr, self.stderr.take()),
        ] {
            if let Some(partial) = pending {
                lines.push(line(stream, partial.at, &partial.bytes));
            }
        }
        lines.sort_by_key(|l| l.at);
        lines
    }
}

fn line(stream: LogStream, at: Option<DateTime<Utc>>, bytes: &[u8]) -> LogLine {
    let text = String::from_utf8_lossy(bytes);
    LogLine {
        stream,
        at,
        text: text.trim_end_matches('\r').to_owned(),
    }
}

/// `2026-11-23T07:00:00.123456789Z text` → the time and `text`. An entry without a
/// time prefix is all text.
fn split_timestamp(entry: &[u8]) -> (Option<DateTime<Utc>>, &[u8]) {
    // Docker's RFC3339Nano with a numeric zone is at most 35 bytes.
    let head = &entry[..entry.len().min(40)];
    let (stamp, text) = match head.iter().position(|b| *b == b' ') {
        Some(space) => (&entry[..space], &entry[space + 1..]),
        // An empty line written with its time but without the separating space.
        None if entry.len() <= head.len() + 1 => match entry.strip_suffix(b"\n") {
            Some(stamp) => (stamp, &b"\n"[..]),
            None => (entry, &b""[..]),
        },
        None => return (None, entry),
    };
    let at = std::str::from_utf8(stamp)
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
    match at {
        Some(at) => (Some(at.with_timezone(&Utc)), text),
        None => (None, entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn texts(lines: &[LogLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn entries_become_timestamped_lines() {
        let mut lines = Lines::default();
        let got = lines.push(
            LogStream::Stderr,
            b"2026-11-23T07:00:00.123456789Z hello world\r\n",
        );
        assert_eq!(texts(&got), ["hello world"]);
        assert_eq!(got[0].stream, LogStream::Stderr);
        assert_eq!(got[0].at.unwrap().timestamp_subsec_nanos(), 123_456_789);
        let empty = lines.push(LogStream::Stdout, b"2026-11-23T07:00:00Z \n");
        assert_eq!(texts(&empty), [""]);
        assert!(empty[0].at.is_some());
        let bare = lines.push(LogStream::Stdout, b"2026-11-23T07:00:00Z\n");
        assert_eq!(texts(&bare), [""]);
        assert!(bare[0].at.is_some());
        let several = lines.push(LogStream::Stdout, b"2026-11-23T07:00:01Z a\n\nb\n");
        assert_eq!(texts(&several), ["a", "", "b"]);
        assert!(several.iter().all(|l| l.at == several[0].at));
        assert!(lines.finish().is_empty());
    }

    #[test]
    fn pieces_of_a_line_are_joined_per_stream_with_the_first_time() {
        let mut lines = Lines::default();
        assert!(
            lines
                .push(LogStream::Stdout, b"2026-11-23T07:00:00Z xx")
                .is_empty()
        );
        let err = lines.push(LogStream::Stderr, b"2026-11-23T07:00:01Z oops\n");
        assert_eq!(texts(&err), ["oops"]);
        let out = lines.push(LogStream::Stdout, b"2026-11-23T07:00:02Z yy\nzz");
        assert_eq!(texts(&out), ["xxyy"]);
        assert_eq!(
            out[0].at,
            Some(at("2026-11-23T07:00:00Z")),
            "the first piece's time"
        );
        let rest = lines.finish();
        assert_eq!(texts(&rest), ["zz"]);
        assert_eq!(rest[0].at, Some(at("2026-11-23T07:00:02Z")));
        assert!(lines.finish().is_empty());
    }

    #[test]
    fn invalid_utf8_is_replaced_after_joining() {
        let mut lines = Lines::default();
        // "é" split across two pieces survives; a stray byte is replaced.
        assert!(
            lines
                .push(LogStream::Stdout, b"2026-11-23T07:00:00Z caf\xc3")
                .is_empty()
        );
        let got = lines.push(LogStream::Stdout, b"2026-11-23T07:00:00Z \xa9 \xff\n");
        assert_eq!(texts(&got), ["caf\u{e9} \u{fffd}"]);
    }

    #[test]
    fn text_without_a_time_is_kept_whole() {
        let mut lines = Lines::default();
        let plain = lines.push(LogStream::Stdout, b"no stamp\nsecond\n");
        assert_eq!(texts(&plain), ["no stamp", "second"]);
        assert!(plain[0].at.is_none());
        let odd = lines.push(LogStream::Stdout, b"2026-13-45T99:00:00Z x\n");
        assert_eq!(texts(&odd), ["2026-13-45T99:00:00Z x"]);
        let long = [b'x'; 100];
        assert_eq!(
            texts(&lines.push(LogStream::Stdout, &long)),
            Vec::<&str>::new()
        );
        assert_eq!(lines.finish()[0].text.len(), 100);
    }
}
