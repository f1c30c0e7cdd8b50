//! BuildKit's progress (`moby.buildkit.trace` status messages) turned into the lines a
//! person reads: one line per step as it starts, the step's own output, `CACHED` and
//! durations, and a summary of the failing step for the failure reason.

use std::collections::{HashMap, VecDeque};

use bollard::moby::buildkit::v1::{StatusResponse, Vertex};

/// Output lines of a failing step kept for the failure reason.
const TAIL_LINES: usize = 10;

/// State of one build's progress rendering, fed with each status message in order.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    steps: HashMap<String, Step>,
    /// Digest of the first step that reported an error.
    failed: Option<String>,
}

#[derive(Debug, Default)]
struct Step {
    name: String,
    announced: bool,
    finished: bool,
    /// An output line not yet ended by a newline.
    partial: String,
    tail: VecDeque<String>,
}

impl Progress {
    /// The log lines one status message adds.
    pub(crate) fn lines(&mut self, status: &StatusResponse) -> Vec<String> {
        let mut out = Vec::new();
        for vertex in &status.vertexes {
            self.vertex(vertex, &mut out);
        }
        for log in &status.logs {
            let step = self.steps.entry(log.vertex.clone()).or_default();
            step.partial.push_str(&String::from_utf8_lossy(&log.msg));
            while let Some(end) = step.partial.find('\n') {
                let line: String = step.partial.drain(..=end).collect();
                let line = line.trim_end_matches(['\n', '\r']).to_owned();
                push_tail(&mut step.tail, line.clone());
                out.push(line);
            }
        }
        out
    }

    fn vertex(&mut self, vertex: &Vertex, out: &mut Vec<String>) {
        let step = self.steps.entry(vertex.digest.clone()).or_default();
        if !vertex.name.is_empty() {
            step.name = vertex.name.clone();
        }
        // BuildKit's own bookkeeping (loading the Dockerfile, the context, metadata)
        // is noise unless it fails.
        let internal = step.name.starts_with("[internal]") || step.name == "copy /context /";
        // A step another build ran at the same moment can arrive already completed,
        // never seen started: it is still one of this build's steps.
        let started = vertex.started.is_some() || vertex.cached || vertex.completed.is_some();
        if started && !step.announced {
            step.announced = true;
            if vertex.cached && !internal {
                out.push(format!("{} CACHED", step.name));
            } else if !internal {
                out.push(step.name.clone());
            }
        }
        if !vertex.error.is_empty() {
            if !step.partial.is_empty() {
                let rest = std::mem::take(&mut step.partial);
                push_tail(&mut step.tail, rest.clone());
                out.push(rest);
            }
            if !step.finished {
                out.push(format!("{}: ERROR: {}", step.name, vertex.error));
            }
            step.finished = true;
            if self.failed.is_none() {
                self.failed = Some(vertex.digest.clone());
            }
            return;
        }
        if let (Some(started), Some(completed), false) =
            (&vertex.started, &vertex.completed, step.finished)
        {
            step.finished = true;
            if !vertex.cached && !internal {
                let seconds = (completed.seconds - started.seconds) as f64
                    + f64::from(completed.nanos - started.nanos) / 1e9;
                out.push(format!("{}: done in {:.1}s", step.name, seconds.max(0.0)));
            }
        }
    }

    /// The failure reason: the failing step, its last output lines and the daemon's
    /// error. Just the error when no step is known to have failed.
    pub(crate) fn failure(&self, error: &str) -> String {
        let Some(step) = self.failed.as_ref().and_then(|d| self.steps.get(d)) else {
            return error.to_owned();
        };
        let mut message = format!("step {} failed: {}", step.name, error.trim());
        if !step.tail.is_empty() {
            message.push_str("\nlast output lines:");
            for line in &step.tail {
                message.push_str("\n  ");
                message.push_str(line);
            }
        }
        message
    }
}

fn push_tail(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

#[cfg(test)]
mod tests {
    use bollard::moby::buildkit::v1::VertexLog;

    use super::*;

    fn start(v: &mut Vertex, seconds: i64) {
        v.started = Some(Default::default());
        if let Some(t) = v.started.as_mut() {
            t.seconds = seconds;
        }
    }

    fn complete(v: &mut Vertex, seconds: i64) {
        v.completed = Some(Default::default());
        if let Some(t) = v.completed.as_mut() {
            t.seconds = seconds;
        }
    }

    fn vertex(digest: &str, name: &str) -> Vertex {
        Vertex {
            digest: digest.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn status(vertexes: Vec<Vertex>, logs: Vec<VertexLog>) -> StatusResponse {
        StatusResponse {
            vertexes,
            logs,
            ..Default::default()
        }
    }

    #[test]
    fn steps_are_announced_once_with_output_and_duration() {
        let mut p = Progress::default();
        let mut run = vertex("a", "[2/3] RUN make");
        start(&mut run, 10);
        assert_eq!(
            p.lines(&status(vec![run.clone()], vec![])),
            ["[2/3] RUN make"]
        );
        let log = VertexLog {
            vertex: "a".into(),
            msg: b"compil".to_vec(),
            ..Default::default()
        };
        assert!(p.lines(&status(vec![run.clone()], vec![log])).is_empty());
        let log = VertexLog {
            vertex: "a".into(),
            msg: b"ing\r\ndone\n".to_vec(),
            ..Default::default()
        };
        assert_eq!(p.lines(&status(vec![], vec![log])), ["compiling", "done"]);
        complete(&mut run, 12);
        assert_eq!(
            p.lines(&status(vec![run.clone()], vec![])),
            ["[2/3] RUN make: done in 2.0s"]
        );
        assert!(p.lines(&status(vec![run], vec![])).is_empty());
    }

    #[test]
    fn cached_and_internal_steps() {
        let mut p = Progress::default();
        let mut copy = vertex("c", "[1/3] COPY www /www");
        copy.cached = true;
        start(&mut copy, 1);
        complete(&mut copy, 1);
        let mut internal = vertex("i", "[internal] load .dockerignore");
        start(&mut internal, 1);
        complete(&mut internal, 2);
        assert_eq!(
            p.lines(&status(vec![copy, internal], vec![])),
            ["[1/3] COPY www /www CACHED"]
        );
    }

    #[test]
    fn failure_names_the_step_and_its_last_lines() {
        let mut p = Progress::default();
        let mut run = vertex("r", "[3/3] RUN false");
        start(&mut run, 1);
        let log = VertexLog {
            vertex: "r".into(),
            msg: b"boom\n".to_vec(),
            ..Default::default()
        };
        p.lines(&status(vec![run.clone()], vec![log]));
        complete(&mut run, 2);
        run.error = "exit code: 1".into();
        assert_eq!(
            p.lines(&status(vec![run], vec![])),
            ["[3/3] RUN false: ERROR: exit code: 1"]
        );
        let reason = p.failure("executor failed running [false]: exit code: 1");
        assert!(
            reason.starts_with("step [3/3] RUN false failed: executor failed"),
            "{reason}"
        );
        assert!(reason.ends_with("\n  boom"), "{reason}");
        assert_eq!(Progress::default().failure("bad"), "bad");
    }
}
