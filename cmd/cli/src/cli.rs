//! The command line, as clap derives it.

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

#[derive(Parser, Debug)]
#[command(
    name = "slipway",
    version,
    about = "Deploy and run apps on a Slipway server"
)]
pub struct Cli {
    /// The Slipway API (default: what `slipway login` stored, else http://localhost:8080).
    #[arg(long, env = "SLIPWAY_URL", global = true)]
    pub url: Option<String>,
    /// Sent as a bearer token.
    #[arg(long, env = "SLIPWAY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct AppArg {
    /// The app's name.
    #[arg(short, long = "app", value_name = "APP")]
    pub app: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Store the server URL (and token) for later commands.
    Login {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: Option<String>,
    },
    /// Who the token belongs to.
    Whoami {
        #[arg(long)]
        json: bool,
    },
    /// Your API tokens: list, create (shown once), revoke.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Users (admins only): list, create with a first token.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Create, list, show and delete apps.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Deploy the app's branch (or a ref) and follow the deployment.
    Deploy {
        #[command(flatten)]
        app: AppArg,
        /// A branch, tag or commit (default: the app's branch).
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// Queue the deployment and return at once.
        #[arg(long)]
        no_follow: bool,
    },
    /// Run the app's tests on a commit without releasing it, and follow the run.
    /// Exits non-zero unless the tests pass.
    Test {
        #[command(flatten)]
        app: AppArg,
        /// A branch, tag or commit (default: the app's branch).
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// Run this instead of the spec's `[test] command`.
        #[arg(long, value_name = "COMMAND")]
        command: Option<String>,
    },
    /// An app's deployments.
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
    /// Runtime logs of the running release, or a deployment's build log.
    Logs {
        #[arg(
            short,
            long = "app",
            value_name = "APP",
            required_unless_present = "build"
        )]
        app: Option<String>,
        /// Print a deployment's build and release log instead.
        #[arg(long, value_name = "DEPLOYMENT", conflicts_with_all = ["app", "tail", "process"])]
        build: Option<String>,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
        /// How many recent lines to start with.
        #[arg(long, value_name = "N")]
        tail: Option<u32>,
        /// Only this process type (web, worker, …).
        #[arg(long, value_name = "P")]
        process: Option<String>,
    },
    /// Config vars (environment variables) of an app.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Set replica counts: `slipway scale -a APP web=3 worker=1`.
    Scale {
        #[command(flatten)]
        app: AppArg,
        #[arg(required = true, value_name = "PROCESS=N")]
        counts: Vec<String>,
    },
    /// Release an earlier release again (default: the one before the current) and follow it.
    Rollback {
        #[command(flatten)]
        app: AppArg,
        /// The deployment to go back to.
        deployment: Option<String>,
        #[arg(long)]
        no_follow: bool,
    },
    /// Print the app's URL and open it in a browser.
    Open {
        #[command(flatten)]
        app: AppArg,
    },
    /// Print a shell completion script.
    Completions { shell: Shell },
}

#[derive(Subcommand, Debug)]
pub enum AppsCommand {
    /// Create an app and follow its first deployment.
    Create {
        name: String,
        /// The git repository to deploy from.
        #[arg(long)]
        repo: String,
        #[arg(long)]
        branch: Option<String>,
        /// Path of the Dockerfile in the repository.
        #[arg(long)]
        dockerfile: Option<String>,
        /// The port the app listens on.
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        no_follow: bool,
    },
    List {
        #[arg(long)]
        json: bool,
        /// Show only the newest N (default: all, newest first).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    Info {
        #[command(flatten)]
        app: AppArg,
        #[arg(long)]
        json: bool,
    },
    /// Delete an app, its containers and images.
    Delete {
        #[command(flatten)]
        app: AppArg,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    List {
        #[arg(long)]
        json: bool,
        /// Show only the newest N (default: all, newest first).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Prints the new token; it is shown only this once.
    Create {
        /// What it is for, e.g. laptop or ci.
        #[arg(long)]
        name: Option<String>,
        /// Stop working this long from now: 90m, 12h, 30d (1 minute to 365 days).
        /// Without it the token never expires.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id or prefix (slw_1a2b3c4d); it stops working at once.
    Revoke {
        // Not `token`: that id is the global --token.
        #[arg(value_name = "TOKEN")]
        which: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    List {
        #[arg(long)]
        json: bool,
        /// Show only the newest N (default: all, newest first).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Prints the user's first token; it is shown only this once.
    Create {
        name: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeploymentsCommand {
    List {
        #[command(flatten)]
        app: AppArg,
        #[arg(long)]
        json: bool,
        /// Show only the newest N (default: all, newest first).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    Info {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Show config vars (masked unless --reveal).
    Get {
        #[command(flatten)]
        app: AppArg,
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set vars: `slipway config set -a APP KEY=value …`. Releases the app again.
    Set {
        #[command(flatten)]
        app: AppArg,
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
    /// Remove vars. Releases the app again.
    Unset {
        #[command(flatten)]
        app: AppArg,
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
}
