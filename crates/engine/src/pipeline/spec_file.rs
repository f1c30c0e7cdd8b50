//! The config phase: reading the app spec file from the fetched commit.

use slipway_core::Phase;
use slipway_core::spec::{self, AppSpec};
use slipway_source::Fetched;

use super::Run;
use crate::Failure;

impl Run<'_> {
    /// The commit's spec file, or the defaults when it has none. A broken file fails the
    /// deployment in phase `config`, naming the key and where it is.
    pub(super) async fn read_spec(&self, fetched: &Fetched) -> Result<AppSpec, Failure> {
        let path = self.job.app.spec_path.clone();
        let source = fetched.clone();
        let read = tokio::task::spawn_blocking({
            let path = path.clone();
            move || slipway_source::read_file(&source, &path)
        })
        .await
        .map_err(|e| Failure::infra(Phase::Config, "internal error", e))?
        .map_err(|e| Failure::new(Phase::Config, e.to_string()))?;
        let Some(text) = read else {
            self.slipway_line(format!("No {path} in the commit: using the defaults"));
            return Ok(AppSpec::default());
        };
        let parsed =
            spec::parse(&text).map_err(|e| Failure::new(Phase::Config, format!("{path}: {e}")))?;
        let processes: Vec<String> = parsed
            .processes
            .iter()
            .map(|(name, p)| format!("{name}×{}", p.replicas))
            .collect();
        self.slipway_line(format!("Read {path}: processes {}", processes.join(", ")));
        Ok(parsed)
    }
}
