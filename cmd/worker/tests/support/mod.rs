//! A git server that sends slowly, so that a clone lasts seconds and a test can act in
//! the middle of it (a local clone is over before a test can kill anything).
//!
//! Smart HTTP, because Slipway accepts http:// and not git:// URLs, and libgit2 speaks
//! no dumb HTTP: each request runs `git http-backend` (part of Debian's git) as a CGI
//! program, and its answer is written a few KiB at a time. Plain threads and blocking
//! IO: a CGI child and a sleep between writes need nothing more.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use slipway_testkit::TestRepo;

/// While slow, at most this much is sent per tick: about 320 KiB/s.
const SLOW_CHUNK: usize = 32 * 1024;
const TICK: Duration = Duration::from_millis(100);

pub struct SlowGitServer {
    addr: SocketAddr,
    name: String,
    slow: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Served from its directory; deleted with the server.
    _repo: TestRepo,
}

impl SlowGitServer {
    /// Serves `repo` slowly on a free port of 127.0.0.1.
    pub fn start(repo: TestRepo) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let root = repo.path().parent().unwrap().to_path_buf();
        let name = repo
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let slow = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_slow, accept_stop) = (slow.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if accept_stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (root, slow) = (root.clone(), accept_slow.clone());
                // A client that goes away mid-answer (a killed worker) is what these
                // tests are about: its broken connection is no error of the server's.
                std::thread::spawn(move || drop(serve(conn, &root, &slow)));
            }
        });
        Self {
            addr,
            name,
            slow,
            stop,
            _repo: repo,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/{}", self.addr, self.name)
    }

    /// From now on, answers (also those under way) go out at full speed.
    pub fn go_fast(&self) {
        self.slow.store(false, Ordering::Relaxed);
    }
}

impl Drop for SlowGitServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.go_fast();
        // Wakes the accept loop so that it sees `stop`.
        drop(TcpStream::connect(self.addr));
    }
}

/// Answers one request (the client gets `Connection: close`) through `git http-backend`.
fn serve(conn: TcpStream, root: &Path, slow: &AtomicBool) -> io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let len = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };

    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in &headers {
        match name.as_str() {
            "content-type" => {
                cgi.env("CONTENT_TYPE", value);
            }
            // The body is handed over whole, its length in CONTENT_LENGTH.
            "content-length" | "transfer-encoding" => {}
            _ => {
                let var = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
                cgi.env(var, value);
            }
        }
    }
    let mut child = cgi.spawn()?;
    let Some(mut stdin) = child.stdin.take() else {
        return Err(io::Error::other("no stdin for git http-backend"));
    };
    // Written beside the read: a large answer must not wait on a full input pipe.
    let feeder = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output()?;
    drop(feeder.join());

    let (cgi_head, answer) = split_cgi(&output.stdout);
    let mut status = "200 OK".to_owned();
    let mut head = String::new();
    for line in cgi_head.lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                value.trim().clone_into(&mut status);
            }
            Some(_) => {
                head.push_str(line);
                head.push_str("\r\n");
            }
            None => {}
        }
    }
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status}\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    )?;
    for chunk in answer.chunks(SLOW_CHUNK) {
        conn.write_all(chunk)?;
        if slow.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
        }
    }
    conn.flush()
}

/// A chunked request body, decoded.
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, up to the empty line.
            let mut line = String::new();
            while reader.read_line(&mut line)? > 0 && !line.trim_end().is_empty() {
                line.clear();
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
    }
}

/// A CGI program's output: its header lines, and the body after the first empty line.
fn split_cgi(output: &[u8]) -> (String, &[u8]) {
    let mut at = 0;
    while let Some(end) = output[at..].iter().position(|&b| b == b'\n') {
        let line = &output[at..at + end];
        at += end + 1;
        if line.is_empty() || line == b"\r" {
            let head = String::from_utf8_lossy(&output[..at]).into_owned();
            return (head, &output[at..]);
        }
    }
    (String::new(), output)
}

/// `len` random bytes: data that no compression shrinks, so a transfer of it takes as
/// long as its size says.
pub fn random_bytes(len: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .take(len)
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}
