//! A container's stdout and stderr as a stream of timestamped lines (runtime logs).

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use crate::{DockerClient, DockerError};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogsQuery {
    /// Only the last `tail` lines (then new ones, when following).
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
    /// When Docker received the line.
    pub at: Option<DateTime<Utc>>,
    pub text: String,
}

impl DockerClient {
    /// The container's output as lines. Docker's json-file driver keeps one entry per
    /// line written, and with timestamps on each entry starts with its RFC 3339 time.
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
            options = options.since(i32::try_from(since).unwrap_or(i32::MAX));
        }
        // Following is open-ended: no request timeout for it.
        let docker = if query.follow {
            self.docker
                .clone()
                .with_timeout(std::time::Duration::from_secs(u64::from(u32::MAX)))
        } else {
            self.docker.clone()
        };
        docker
            .logs(container, Some(options.build()))
            .flat_map(|chunk| {
                let lines: Vec<Result<LogLine, DockerError>> = match chunk {
                    Ok(LogOutput::StdOut { message }) => split(LogStream::Stdout, &message),
                    Ok(LogOutput::StdErr { message }) => split(LogStream::Stderr, &message),
                    Ok(LogOutput::Console { message }) => split(LogStream::Stdout, &message),
                    Ok(LogOutput::StdIn { .. }) => Vec::new(),
                    Err(e) => vec![Err(e.into())],
                };
                futures_util::stream::iter(lines)
            })
    }
}

/// One entry, `<timestamp> <text>\n`; an entry holding several lines shares the time.
fn split(stream: LogStream, message: &[u8]) -> Vec<Result<LogLine, DockerError>> {
    let text = String::from_utf8_lossy(message);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let (at, rest) = match text.split_once(' ') {
        Some((stamp, rest)) => match DateTime::parse_from_rfc3339(stamp) {
            Ok(at) => (Some(at.with_timezone(&Utc)), rest),
            Err(_) => (None, text),
        },
        None => match DateTime::parse_from_rfc3339(text) {
            // An empty line: only the timestamp.
            Ok(at) => (Some(at.with_timezone(&Utc)), ""),
            Err(_) => (None, text),
        },
    };
    rest.split('\n')
        .map(|line| {
            Ok(LogLine {
                stream,
                at,
                text: line.trim_end_matches('\r').to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_timestamped_lines() {
        let got = split(
            LogStream::Stderr,
            b"2026-11-23T07:00:00.123456789Z hello world\r\n",
        );
        let line = got[0].as_ref().unwrap();
        assert_eq!(line.text, "hello world");
        assert_eq!(line.stream, LogStream::Stderr);
        assert_eq!(line.at.unwrap().timestamp_subsec_nanos(), 123_456_789);
        let empty = split(LogStream::Stdout, b"2026-11-23T07:00:00Z\n");
        assert_eq!(empty[0].as_ref().unwrap().text, "");
        let plain = split(LogStream::Stdout, b"no stamp\nsecond");
        let texts: Vec<&str> = plain
            .iter()
            .map(|l| l.as_ref().unwrap().text.as_str())
            .collect();
        assert_eq!(texts, ["no stamp", "second"]);
        assert!(plain[0].as_ref().unwrap().at.is_none());
    }
}
