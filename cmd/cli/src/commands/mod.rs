//! One module per command group; each takes the parsed arguments and a client.

pub mod apps;
pub mod config;
pub mod deploy;
pub mod deployments;
pub mod logs;
pub mod misc;
pub mod test;
pub mod users;

use crate::error::{CliError, Result};

/// `KEY=VALUE` arguments (config vars, replica counts); the value may itself hold `=`.
pub fn split_pair<'a>(arg: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key, value)),
        _ => Err(CliError::Usage(format!("{arg:?} is not {what}"))),
    }
}

/// App names go into URL paths; the API validates them, this only keeps the path intact.
pub fn segment(raw: &str) -> Result<&str> {
    if raw.is_empty() || raw.contains(['/', '?', '#', '%']) {
        return Err(CliError::Usage(format!(
            "{raw:?} is not a valid name or id"
        )));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert!(matches!(split_pair("A=b=c", "K=V"), Ok(("A", "b=c"))));
        assert!(matches!(split_pair("A=", "K=V"), Ok(("A", ""))));
        assert!(split_pair("=x", "K=V").is_err());
        assert!(split_pair("web", "K=V").is_err());
    }

    #[test]
    fn names_cannot_escape_their_path_segment() {
        assert!(segment("my-app").is_ok());
        for bad in ["", "a/b", "../x", "a?b", "a#b", "%2e"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
    }
}
