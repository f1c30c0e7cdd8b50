//! Where the CLI finds its server: `--url`/`SLIPWAY_URL` and `--token`/`SLIPWAY_TOKEN`
//! win over what `slipway login` stored, which wins over the local default.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

pub const DEFAULT_URL: &str = "http://localhost:8080";

#[derive(Serialize, Deserialize, Default, Debug, Clone)]
pub struct Stored {
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The resolved connection settings for this run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub token: Option<String>,
}

pub fn path() -> Result<PathBuf> {
    dirs::config_dir()
        .map(|d| d.join("slipway").join("config.json"))
        .ok_or_else(|| {
            CliError::other("cannot find a config directory: set HOME or XDG_CONFIG_HOME")
        })
}

/// A missing file is normal (never logged in); an unreadable one is an error the user
/// must see, or a stale token would be silently ignored.
pub fn load() -> Result<Stored> {
    let path = path()?;
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Stored::default()),
        Err(e) => {
            return Err(CliError::other(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    serde_json::from_str(&text)
        .map_err(|e| CliError::other(format!("{} is not valid: {e}", path.display())))
}

/// The file may hold a token, so it is created 0600 before anything is written to it.
pub fn save(stored: &Stored) -> Result<PathBuf> {
    let path = path()?;
    let fail = |e: std::io::Error| CliError::other(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(fail)?;
    }
    let text = serde_json::to_string_pretty(stored)
        .map_err(|e| CliError::other(format!("cannot encode the config: {e}")))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An existing file keeps its old mode on open; tighten it before writing.
        if path.exists() {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(fail)?;
        }
    }
    let mut file = options.open(&path).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    Ok(path)
}

/// Flags and env vars (clap merges those two) first, then the stored file, then the default.
pub fn resolve(url: Option<String>, token: Option<String>) -> Result<Settings> {
    let stored = if url.is_some() && token.is_some() {
        Stored::default()
    } else {
        load()?
    };
    let url = url
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| stored.url.clone().unwrap_or_else(|| DEFAULT_URL.to_owned()));
    let url = url.trim_end_matches('/').to_owned();
    // A stored token belongs to the stored server: never send it to another one.
    let stored_token = stored
        .token
        .filter(|_| stored.url.as_deref().map(|u| u.trim_end_matches('/')) == Some(url.as_str()));
    Ok(Settings {
        url,
        token: token.filter(|t| !t.is_empty()).or(stored_token),
    })
}
