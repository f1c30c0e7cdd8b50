//! A narrow, typed wrapper over the Docker Engine API (bollard) for the engine:
//! build images, run and stop containers, read their state and logs, manage the
//! network. Knows nothing of Postgres or HTTP APIs.

mod archive;
mod build;
mod build_cache;
mod build_session;
mod buildkit_progress;
mod client;
mod container;
mod error;
mod events;
mod image;
mod logs;
mod network;

pub use archive::CopiedFile;
pub use build::{BuildRequest, Builder, BuiltImage};
pub use build_session::BuildSecrets;
pub use client::DockerClient;
pub use container::{ContainerSpec, ContainerState, ContainerSummary, StartedContainer};
pub use error::{BuildError, DockerError};
pub use events::ContainerEvent;
pub use image::{ImageDetails, ImageSummary};
pub use logs::{LogLine, LogStream, LogsQuery};

/// Label set on every network this crate creates.
pub const MANAGED_LABEL: &str = "slipway.managed";
