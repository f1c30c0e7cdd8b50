use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::client::{Client, parse};
use crate::commands::segment;
use crate::error::Result;
use crate::models::App;
use crate::settings::{self, Settings, Stored};

/// Checks the server answers before storing it, so a typo is caught now, not later.
pub async fn login(url: String, token: Option<String>) -> Result<()> {
    let url = url.trim_end_matches('/').to_owned();
    let client = Client::new(Settings {
        url: url.clone(),
        token: token.clone(),
    })?;
    client.get("/api/v1/apps").await?;
    let path = settings::save(&Stored {
        url: Some(url.clone()),
        token,
    })?;
    println!("Logged in to {url} (saved in {}).", path.display());
    Ok(())
}

pub async fn open(client: &Client, app: &str) -> Result<()> {
    let app: App = parse(
        client
            .get(&format!("/api/v1/apps/{}", segment(app)?))
            .await?,
    )?;
    let Some(url) = app.url else {
        println!("{} has no URL", app.name);
        return Ok(());
    };
    println!("{url}");
    // Best effort: on a server or in CI there is no browser, and the URL is printed anyway.
    if on_path("xdg-open") {
        let _ = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

pub fn completions(shell: Shell) {
    let mut command = Cli::command();
    // Into a buffer first: clap_complete panics on a write error such as a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "slipway", &mut script);
    let _ = std::io::stdout().write_all(&script);
}
