//! Slipway's domain: validated names and references, the deployment state machine,
//! configuration parsing and the derivation of container names and Traefik labels.
//! Nothing here does IO, so every rule can be unit tested in isolation.

pub mod config;
pub mod crypto;
pub mod display;
pub mod envvars;
pub mod labels;
pub mod output;
pub mod spec;
pub mod status;
pub mod subnets;
pub mod token;
pub mod validate;
pub mod webhook;

pub use config::{BuilderChoice, Config, ConfigError, SecretKey};
pub use status::{DeploymentStatus, Kind, Phase, TestRunStatus};
pub use validate::{AppName, DockerfilePath, GitRef, RepoUrl, ValidationError};
