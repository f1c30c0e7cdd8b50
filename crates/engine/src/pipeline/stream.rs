//! Streams the build context: the tar is written on a blocking thread into a channel
//! that the Docker request body reads from, so the upload starts before the tar is done.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use futures_util::Stream;
use slipway_source::Fetched;
use tokio::sync::mpsc;

use crate::logsink::LogSink;

/// Writes the build context on a blocking thread into a channel that the Docker request
/// body reads from, so the upload starts before the tar is complete.
pub(super) fn stream_context(
    fetched: Fetched,
    dockerfile: String,
    max_bytes: u64,
    abort: Arc<AtomicBool>,
    log: LogSink,
) -> (
    impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    tokio::task::JoinHandle<Result<slipway_source::ContextSummary, slipway_source::SourceError>>,
) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let task = tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let mut on_line = |line: String| log.line("slipway", line);
        let result = slipway_source::write_context(
            &fetched,
            &dockerfile,
            max_bytes,
            &mut writer,
            &abort,
            &mut on_line,
        )
        .and_then(|summary| writer.flush_chunk().map(|()| summary).map_err(Into::into));
        if let Err(e) = &result {
            // An error item aborts the upload, so Docker never builds a truncated context.
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        result
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (stream, task)
}

const CHUNK: usize = 64 * 1024;

struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the build stopped reading the context",
            )
        })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
