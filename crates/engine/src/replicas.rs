//! What a release runs: one container per replica of each process type, all from the
//! release's image with its config vars. The pipeline starts them at release time and the
//! reconciler starts or stops them when the app is scaled or a container went missing,
//! so both build containers here, the same way.

use std::collections::BTreeMap;

use slipway_core::crypto::{self, Cipher};
use slipway_core::labels;
use slipway_core::spec::AppSpec;
use slipway_store::apps::AppRow;
use slipway_store::containers::{self, NewContainer};
use slipway_store::deployments::DeploymentRow;
use uuid::Uuid;

use crate::Context;
use crate::error::EngineError;
use crate::runtime::{Environment, Replica, ReplicaSpec};

pub(crate) const DEFAULT_PORT: u16 = 80;

/// Everything needed to start any replica of one release.
#[derive(Debug, Clone)]
pub(crate) struct Release {
    pub app_name: String,
    pub app_id: Uuid,
    pub deployment_id: Uuid,
    pub image: String,
    pub port: u16,
    pub spec: AppSpec,
    /// Config vars, decrypted.
    pub vars: BTreeMap<String, String>,
}

impl Release {
    /// Reads a release back from its row: the image, the spec and the sealed config it
    /// was released with. Errors are worded for the deployment log.
    pub(crate) fn from_row(
        cipher: Option<&Cipher>,
        app: &AppRow,
        row: &DeploymentRow,
        snapshot: &BTreeMap<String, String>,
    ) -> Result<Self, EngineError> {
        let image = row
            .image
            .clone()
            .ok_or_else(|| EngineError::Release(format!("deployment {} has no image", row.id)))?;
        let spec = match &row.spec {
            Some(json) => serde_json::from_value(json.0.clone()).map_err(|e| {
                EngineError::Release(format!("the stored app spec is unreadable: {e}"))
            })?,
            None => AppSpec::default(),
        };
        let port = row
            .port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(DEFAULT_PORT);
        Ok(Self {
            app_name: app.name.clone(),
            app_id: app.id,
            deployment_id: row.id,
            image,
            port,
            spec,
            vars: open_vars(cipher, app.id, snapshot)?,
        })
    }

    /// Replicas wanted per process: the API's scale where it set one, else the spec's.
    pub(crate) fn desired(&self, scale: &BTreeMap<String, u32>) -> BTreeMap<String, u32> {
        self.spec
            .processes
            .iter()
            .map(|(name, p)| (name.clone(), scale.get(name).copied().unwrap_or(p.replicas)))
            .collect()
    }

    pub(crate) fn container_name(&self, process: &str, replica: u32) -> String {
        labels::container_name(
            &self.app_name,
            &self.deployment_id.to_string(),
            process,
            replica,
        )
    }

    /// What the runtime needs to start one replica.
    pub(crate) fn replica_spec(&self, ctx: &Context, process: &str, replica: u32) -> ReplicaSpec {
        let config = &ctx.config;
        let mut vars = self.vars.clone();
        vars.extend([
            ("PORT".to_owned(), self.port.to_string()),
            ("SLIPWAY_APP".to_owned(), self.app_name.clone()),
            ("SLIPWAY_PROCESS".to_owned(), process.to_owned()),
            ("SLIPWAY_REPLICA".to_owned(), replica.to_string()),
            (
                "SLIPWAY_DEPLOYMENT_ID".to_owned(),
                self.deployment_id.to_string(),
            ),
        ]);
        let process_spec = self.spec.process(process);
        ReplicaSpec {
            env: self.environment(),
            release: self.deployment_id,
            process: process.to_owned(),
            replica,
            name: self.container_name(process, replica),
            image: self.image.clone(),
            port: self.port,
            vars,
            command: process_spec.and_then(|p| p.command.clone()),
            memory: process_spec
                .and_then(|p| p.memory)
                .or(config.default_memory),
            cpus: process_spec.and_then(|p| p.cpus).or(config.default_cpus),
        }
    }

    pub(crate) fn environment(&self) -> Environment {
        Environment {
            app_id: self.app_id,
            app: self.app_name.clone(),
        }
    }

    /// Starts one replica and records it, so the API lists it and the reconciler and
    /// teardown find it.
    pub(crate) async fn start(
        &self,
        ctx: &Context,
        process: &str,
        replica: u32,
    ) -> Result<Replica, EngineError> {
        let spec = self.replica_spec(ctx, process, replica);
        let started = ctx.runtime.start(&spec).await?;
        let record = NewContainer {
            name: &started.name,
            container_id: &started.id,
            process,
            replica,
            ip: started.ip.as_deref(),
            port: self.port,
            host_port: started.host_port,
        };
        containers::record(&ctx.pool, self.deployment_id, &record).await?;
        Ok(started)
    }
}

/// Decrypts a release's config snapshot. A snapshot without values needs no key.
pub(crate) fn open_vars(
    cipher: Option<&Cipher>,
    app_id: Uuid,
    snapshot: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, EngineError> {
    if snapshot.is_empty() {
        return Ok(BTreeMap::new());
    }
    let cipher = cipher.ok_or_else(|| {
        EngineError::Release(
            "the app has config vars but this worker has no SLIPWAY_SECRET_KEY to decrypt them"
                .to_owned(),
        )
    })?;
    snapshot
        .iter()
        .map(|(name, sealed)| {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(sealed.split_whitespace().collect::<String>())
                .map_err(|_| {
                    EngineError::Release(format!("config var {name} is stored corrupted"))
                })?;
            Ok((name.clone(), open_var(cipher, app_id, name, &bytes)?))
        })
        .collect()
}

/// Decrypts one sealed config var of the app.
pub(crate) fn open_var(
    cipher: &Cipher,
    app_id: Uuid,
    name: &str,
    sealed: &[u8],
) -> Result<String, EngineError> {
    cipher
        .open(&crypto::config_var_aad(&app_id.to_string(), name), sealed)
        .map_err(|e| EngineError::Release(format!("config var {name}: {e}")))
}
