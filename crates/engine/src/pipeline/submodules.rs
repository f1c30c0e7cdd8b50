//! The submodules of the fetched commit, for an app whose spec file asks for them
//! (`[build] submodules = true`). Read after the spec, since the spec says whether.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use slipway_core::validate::redact;
use slipway_source::{Fetched, SubmoduleFetch};

use super::Run;
use crate::Failure;

impl Run<'_> {
    /// Fetches the submodules within what the repository left of the clone's time
    /// limit (counted from `started`) and size limit, and returns `fetched` with them.
    pub(super) async fn fetch_submodules(
        &self,
        fetched: Fetched,
        started: Instant,
    ) -> Result<Fetched, Failure> {
        // A push app's relative submodule URLs resolve against the API's copy.
        let repo_url = self.origin()?.url;
        let abort = Arc::new(AtomicBool::new(false));
        let (dest, flag, sink) = (self.work_dir.clone(), abort.clone(), self.log.clone());
        let config = &self.ctx.config;
        let (max_bytes, allow_local) = (config.max_repo_size, config.allow_local_repos);
        let task = tokio::task::spawn_blocking(move || {
            // Submodule credentials are redacted by the source crate; the app's here.
            let mut log = |line: String| sink.line("git", redact(&line, &repo_url));
            let how = SubmoduleFetch {
                repo_url: &repo_url,
                dest: &dest,
                max_bytes,
                allow_local,
            };
            slipway_source::fetch_submodules(&fetched, &how, &flag, &mut log)
        });
        let fetched = self.bounded_clone(started, &abort, task).await?;
        let paths: Vec<&str> = fetched
            .submodules
            .iter()
            .flat_map(|s| s.keys().map(String::as_str))
            .collect();
        self.slipway_line(if paths.is_empty() {
            "Submodules: none to fetch".to_owned()
        } else {
            format!("Submodules: fetched {}", paths.join(", "))
        });
        Ok(fetched)
    }
}
