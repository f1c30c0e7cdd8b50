//! `slipway`: the command-line client of a Slipway server. It only talks to the REST API.
//!
//! ```text
//! slipway login --url http://slipway.example.com:8080 [--token T]
//! slipway apps create NAME --repo URL [--branch B] [--dockerfile P] [--port N] [--no-follow]
//! slipway apps list [--limit N] [--json]        slipway apps info -a APP [--json]
//! slipway apps delete -a APP [--yes]
//! slipway deploy -a APP [--ref REF] [--no-follow]
//! slipway deployments list -a APP [--limit N] [--json]
//! slipway deployments info ID [--json]
//! slipway logs -a APP [-f] [--tail N] [--process P]
//! slipway logs --build DEPLOYMENT [-f]
//! slipway config get -a APP [--reveal] [--json]
//! slipway config set -a APP KEY=VALUE…          slipway config unset -a APP KEY…
//! slipway scale -a APP web=3 worker=1
//! slipway rollback -a APP [DEPLOYMENT]          slipway open -a APP
//! slipway completions bash|zsh|fish
//! ```
//!
//! The server is `--url`, else `SLIPWAY_URL`, else what `slipway login` stored in
//! `<config dir>/slipway/config.json` (mode 0600), else `http://localhost:8080`; the token
//! likewise (`--token`, `SLIPWAY_TOKEN`), sent as `Authorization: Bearer`.
//!
//! Exit codes: 0 success; 1 an API, connection or usage error (printed as `error: …`);
//! 2 a malformed command line; 3 a followed deployment that did not end up running.

mod cli;
mod client;
mod commands;
mod error;
mod follow;
mod models;
mod output;
mod pages;
mod progress;
mod settings;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::client::Client;
use crate::commands::{apps, config, deploy, deployments, logs, misc, test, users};
use crate::error::Result;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        // Already reported with its phase and reason by the follower.
        if !matches!(e, error::CliError::DeploymentFailed) {
            eprintln!("error: {e}");
        }
        std::process::exit(e.exit_code());
    }
}

async fn run(cli: Cli) -> Result<()> {
    // These need no server, or bring their own.
    let command = match cli.command {
        Command::Completions { shell } => {
            misc::completions(shell);
            return Ok(());
        }
        Command::Login { url, token } => return misc::login(url, token).await,
        other => other,
    };
    let client = Client::new(settings::resolve(cli.url, cli.token)?)?;
    match command {
        Command::Whoami { json } => users::whoami(&client, json).await,
        Command::Tokens(c) => users::tokens(&client, c).await,
        Command::Users(c) => users::users(&client, c).await,
        Command::Apps(c) => apps::run(&client, c).await,
        Command::Deploy {
            app,
            git_ref,
            no_follow,
        } => deploy::deploy(&client, &app.app, git_ref, no_follow).await,
        Command::Test {
            app,
            git_ref,
            command,
        } => test::run(&client, &app.app, git_ref, command).await,
        Command::Deployments(c) => deployments::run(&client, c).await,
        Command::Logs {
            build: Some(id),
            follow,
            ..
        } => logs::build(&client, &id, follow).await,
        Command::Logs {
            app,
            follow,
            tail,
            process,
            ..
        } => {
            // clap requires --app unless --build was given.
            let app = app.unwrap_or_default();
            logs::runtime(&client, &app, follow, tail, process).await
        }
        Command::Config(c) => config::run(&client, c).await,
        Command::Scale { app, counts } => config::scale(&client, &app.app, &counts).await,
        Command::Rollback {
            app,
            deployment,
            no_follow,
        } => deploy::rollback(&client, &app.app, deployment, no_follow).await,
        Command::Open { app } => misc::open(&client, &app.app).await,
        Command::Completions { .. } | Command::Login { .. } => Ok(()),
    }
}

/// `slipway apps list | head` closes stdout early and `println!` then panics. That is the
/// reader being done, not a failure: exit quietly instead of printing a panic.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
