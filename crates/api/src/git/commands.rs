//! The first part of a push as git sends it: ref update commands with the client's
//! capabilities, then push options; and the report `git receive-pack` answers with.

use std::collections::{BTreeSet, HashMap};

use super::body::Incoming;
use super::pkt::{self, Pkt};
use super::storage::ZERO;

/// More commands than any real push carries.
const MAX_COMMANDS: usize = 1000;

/// One ref update the client asked for.
#[derive(Debug, Clone)]
pub struct Command {
    pub old: String,
    pub new: String,
    pub name: String,
}

impl Command {
    pub fn parse(line: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(line).ok()?;
        let mut parts = text.splitn(3, ' ');
        let (old, new, name) = (parts.next()?, parts.next()?, parts.next()?);
        let oid = |s: &str| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (oid(old) && oid(new) && !name.is_empty()).then(|| Self {
            old: old.to_ascii_lowercase(),
            new: new.to_ascii_lowercase(),
            name: name.to_owned(),
        })
    }

    pub fn deletes(&self) -> bool {
        self.new == ZERO
    }

    pub fn line(&self) -> String {
        format!("{} {} {}", self.old, self.new, self.name)
    }
}

/// What the client sent before its pack.
pub struct Request {
    /// `shallow <oid>` lines of a shallow clone's push, passed on as they are.
    pub shallow: Vec<Vec<u8>>,
    pub commands: Vec<Command>,
    pub capabilities: BTreeSet<String>,
    pub options: Vec<String>,
}

/// `Ok(None)`: the client sent nothing (it gave up).
pub async fn read_request(body: &mut Incoming) -> Result<Option<Request>, String> {
    let mut request = Request {
        shallow: Vec::new(),
        commands: Vec::new(),
        capabilities: BTreeSet::new(),
        options: Vec::new(),
    };
    loop {
        let data = match body.pkt().await? {
            None if request.commands.is_empty() => return Ok(None),
            None => return Err("the push ended before its command list did".to_owned()),
            Some(Pkt::Flush) => break,
            Some(Pkt::Special(_)) => {
                return Err("unexpected delimiter in the command list".to_owned());
            }
            Some(Pkt::Data(data)) => data,
        };
        let mut line = pkt::text(&data);
        if line.starts_with(b"shallow ") {
            request.shallow.push(line.to_vec());
            continue;
        }
        if request.commands.is_empty()
            && let Some(nul) = line.iter().position(|b| *b == 0)
        {
            let caps = String::from_utf8_lossy(&line[nul + 1..]).into_owned();
            request.capabilities = caps
                .split(' ')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            line = &line[..nul];
        }
        let command = Command::parse(line)
            .ok_or_else(|| format!("malformed command {:?}", String::from_utf8_lossy(line)))?;
        request.commands.push(command);
        if request.commands.len() > MAX_COMMANDS {
            return Err(format!("more than {MAX_COMMANDS} refs in one push"));
        }
    }
    if request.capabilities.contains("push-options") {
        loop {
            match body.pkt().await? {
                Some(Pkt::Flush) => break,
                Some(Pkt::Data(data)) => request
                    .options
                    .push(String::from_utf8_lossy(pkt::text(&data)).into_owned()),
                _ => return Err("the push options ended early".to_owned()),
            }
        }
    }
    Ok(Some(request))
}

/// `-o slipway.detach`, `-o slipway.force`.
#[derive(Default)]
pub struct Options {
    pub detach: bool,
    pub force: bool,
}

impl Options {
    /// Unknown `slipway.*` options are refused (a typo must not deploy unexpectedly);
    /// others are left to whoever they are for.
    pub fn parse(raw: &[String]) -> Result<Self, String> {
        let mut options = Self::default();
        for option in raw {
            match option.as_str() {
                "slipway.detach" => options.detach = true,
                "slipway.force" => options.force = true,
                other if other.starts_with("slipway.") => {
                    return Err(format!(
                        "unknown push option {other}; Slipway knows slipway.detach and slipway.force"
                    ));
                }
                _ => {}
            }
        }
        Ok(options)
    }
}

/// The capabilities receive-pack is asked for: the client's, less those Slipway
/// answers itself (side-band, push options), with plain `report-status` for Slipway
/// to read.
pub fn receive_capabilities(client: &BTreeSet<String>) -> String {
    let mut caps: Vec<&str> = client
        .iter()
        .map(String::as_str)
        .filter(|c| {
            !matches!(
                *c,
                "side-band"
                    | "side-band-64k"
                    | "push-options"
                    | "report-status"
                    | "report-status-v2"
                    | "atomic"
            )
        })
        .collect();
    caps.insert(0, "report-status");
    caps.join(" ")
}

/// receive-pack's report: `unpack ok|<error>`, then `ok <ref>` / `ng <ref> <reason>`.
pub fn parse_report(stdout: &[u8]) -> (Result<(), String>, HashMap<String, Result<(), String>>) {
    let packets = match pkt::parse_all(stdout) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "push: unreadable receive-pack report");
            return (
                Err("internal error; the server log has details".to_owned()),
                HashMap::new(),
            );
        }
    };
    let mut unpack = Err("git receive-pack gave no report".to_owned());
    let mut refs = HashMap::new();
    for packet in packets {
        let Pkt::Data(data) = packet else { continue };
        let text = String::from_utf8_lossy(pkt::text(&data)).into_owned();
        if let Some(status) = text.strip_prefix("unpack ") {
            unpack = if status == "ok" {
                Ok(())
            } else {
                Err(status.to_owned())
            };
        } else if let Some(name) = text.strip_prefix("ok ") {
            refs.insert(name.to_owned(), Ok(()));
        } else if let Some(rest) = text.strip_prefix("ng ") {
            let (name, reason) = rest.split_once(' ').unwrap_or((rest, "refused"));
            refs.insert(name.to_owned(), Err(reason.to_owned()));
        }
    }
    (unpack, refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_malformed_ones_do_not() {
        let c = Command::parse(format!("{ZERO} {} refs/heads/main", "a".repeat(40)).as_bytes())
            .unwrap();
        assert_eq!(c.name, "refs/heads/main");
        assert!(!c.deletes());
        assert!(Command::parse(b"x y refs/heads/main").is_none());
        assert!(Command::parse(format!("{ZERO} {ZERO}").as_bytes()).is_none());
    }

    #[test]
    fn receive_pack_is_asked_for_a_plain_report() {
        let client: BTreeSet<String> = [
            "report-status-v2",
            "side-band-64k",
            "quiet",
            "push-options",
            "object-format=sha1",
            "agent=git/2.47",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(
            receive_capabilities(&client),
            "report-status agent=git/2.47 object-format=sha1 quiet"
        );
    }

    #[test]
    fn reports_parse() {
        let mut wire = pkt::line(b"unpack ok\n");
        wire.extend(pkt::line(b"ok refs/heads/dev\n"));
        wire.extend(pkt::line(b"ng refs/tags/v1 already exists\n"));
        wire.extend_from_slice(pkt::FLUSH);
        let (unpack, refs) = parse_report(&wire);
        assert!(unpack.is_ok());
        assert_eq!(refs["refs/heads/dev"], Ok(()));
        assert_eq!(refs["refs/tags/v1"], Err("already exists".to_owned()));
    }
}
