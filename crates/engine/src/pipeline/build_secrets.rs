//! `[build] secrets`: the app's config vars a build gets as BuildKit secrets. Their
//! values go to the Docker crate's session and nowhere else: not the log, not a build
//! arg, not the recipe that names the image.

use std::collections::BTreeMap;

use slipway_core::Phase;
use slipway_docker::{BuildSecrets, Builder};

use super::Run;
use crate::Failure;

impl Run<'_> {
    /// The values of the config vars `names`, as they are now, for a build by `builder`.
    /// A name without a config var fails the build, saying how to set it.
    pub(super) async fn build_secrets(
        &self,
        names: &[String],
        builder: Builder,
    ) -> Result<BuildSecrets, Failure> {
        if names.is_empty() {
            return Ok(BuildSecrets::default());
        }
        let listed = names.join(", ");
        if builder == Builder::Legacy {
            return Err(Failure::new(
                Phase::Build,
                format!(
                    "[build] secrets ({listed}) need BuildKit, and this build would use the legacy builder ({}); unset SLIPWAY_BUILDER or set it to auto or buildkit",
                    match self.ctx.config.builder {
                        slipway_core::BuilderChoice::Legacy => "SLIPWAY_BUILDER=legacy",
                        _ => "the Docker Engine has no BuildKit",
                    }
                ),
            ));
        }
        let app = &self.job.app;
        let stored: BTreeMap<String, Vec<u8>> =
            slipway_store::config_vars::list(&self.ctx.pool, app.id)
                .await
                .map_err(|e| Failure::infra(Phase::Build, "database error", e))?
                .into_iter()
                .collect();
        let missing: Vec<&str> = names
            .iter()
            .filter(|name| !stored.contains_key(*name))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let (noun, first) = (
                if missing.len() == 1 {
                    "config var"
                } else {
                    "config vars"
                },
                missing[0],
            );
            return Err(Failure::new(
                Phase::Build,
                format!(
                    "[build] secrets lists {}, but the app has no {noun} of that name; set it with `slipway config set -a {} {first}=…` (or PATCH /api/v1/apps/{}/config) and deploy again",
                    missing.join(", "),
                    app.name,
                    app.name
                ),
            ));
        }
        let cipher = self.ctx.cipher.as_ref().ok_or_else(|| {
            Failure::new(
                Phase::Build,
                "[build] secrets need the app's config vars, and this worker has no SLIPWAY_SECRET_KEY to decrypt them",
            )
        })?;
        let mut values = BTreeMap::new();
        for name in names {
            let sealed = stored.get(name).map(Vec::as_slice).unwrap_or_default();
            let value = crate::replicas::open_var(cipher, app.id, name, sealed)
                .map_err(|e| Failure::new(Phase::Build, e.reason()))?;
            values.insert(name.clone(), value);
        }
        self.slipway_line(format!(
            "Build secrets from config vars: {listed} (RUN --mount=type=secret,id=NAME)"
        ));
        Ok(BuildSecrets::new(values))
    }
}
