//! What a release runs: one container per replica of each process type, all from the
//! release's image with its config vars. The pipeline starts them at release time and the
//! reconciler starts or stops them when the app is scaled or a container went missing,
//! so both build containers here, the same way.

use std::collections::BTreeMap;

use slipway_core::crypto::{self, Cipher};
use slipway_core::labels;
use slipway_core::spec::{AppSpec, ProcessSpec};
use slipway_docker::{ContainerSpec, StartedContainer};
use slipway_store::apps::AppRow;
use slipway_store::containers::{self, NewContainer};
use slipway_store::deployments::DeploymentRow;
use uuid::Uuid;

use crate::Context;

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
    ) -> Result<Self, String> {
        let image = row
            .image
            .clone()
            .ok_or_else(|| format!("deployment {} has no image", row.id))?;
        let spec = match &row.spec {
            Some(json) => serde_json::from_value(json.0.clone())
                .map_err(|e| format!("the stored app spec is unreadable: {e}"))?,
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

    pub(crate) fn container_spec(
        &self,
        ctx: &Context,
        process: &str,
        replica: u32,
    ) -> ContainerSpec {
        let config = &ctx.config;
        let deployment = self.deployment_id.to_string();
        let network = labels::app_network(&config.network, &self.app_name);
        let mut container_labels = labels::ownership_labels(
            &config.network,
            &self.app_name,
            &self.app_id.to_string(),
            &deployment,
            process,
        );
        let is_web = ProcessSpec::is_web(process);
        if is_web {
            container_labels.extend(labels::traefik_labels(&labels::Route {
                app: &self.app_name,
                subdomain: &self.app_name,
                base_domain: &config.base_domain,
                network: &network,
                port: self.port,
                tls: config.acme_email.is_some(),
            }));
        }
        let mut env: Vec<String> = self
            .vars
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        env.extend([
            format!("PORT={}", self.port),
            format!("SLIPWAY_APP={}", self.app_name),
            format!("SLIPWAY_PROCESS={process}"),
            format!("SLIPWAY_REPLICA={replica}"),
            format!("SLIPWAY_DEPLOYMENT_ID={deployment}"),
        ]);
        let process_spec = self.spec.process(process);
        let memory = process_spec
            .and_then(|p| p.memory)
            .or(config.default_memory)
            .and_then(|m| i64::try_from(m).ok());
        let cpus = process_spec.and_then(|p| p.cpus).or(config.default_cpus);
        ContainerSpec {
            name: self.container_name(process, replica),
            image: self.image.clone(),
            network,
            port: self.port,
            // Only web replicas are health-checked through a published port.
            publish_port: config.publish_ports && is_web,
            env,
            labels: container_labels,
            command: process_spec.and_then(|p| p.command.clone()),
            memory,
            nano_cpus: cpus.map(|c| (c * 1e9) as i64),
            restart_max_retries: Some(config.restart_max_retries),
            pids_limit: Some(config.pids_limit),
        }
    }

    /// Starts one replica and records it, so the API lists it and the reconciler and
    /// teardown find it.
    pub(crate) async fn start(
        &self,
        ctx: &Context,
        process: &str,
        replica: u32,
    ) -> Result<StartedContainer, String> {
        let spec = self.container_spec(ctx, process, replica);
        let started = ctx
            .docker
            .run_container(&spec)
            .await
            .map_err(|e| format!("could not start container {}: {e}", spec.name))?;
        let record = NewContainer {
            name: &started.name,
            container_id: &started.id,
            process,
            replica,
            ip: started.ip.as_deref(),
            port: self.port,
            host_port: started.host_port,
        };
        containers::record(&ctx.pool, self.deployment_id, &record)
            .await
            .map_err(|e| format!("database error: {e}"))?;
        Ok(started)
    }
}

/// Decrypts a release's config snapshot. A snapshot without values needs no key.
pub(crate) fn open_vars(
    cipher: Option<&Cipher>,
    app_id: Uuid,
    snapshot: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    if snapshot.is_empty() {
        return Ok(BTreeMap::new());
    }
    let cipher = cipher.ok_or_else(|| {
        "the app has config vars but this worker has no SLIPWAY_SECRET_KEY to decrypt them"
            .to_owned()
    })?;
    let app = app_id.to_string();
    snapshot
        .iter()
        .map(|(name, sealed)| {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(sealed.split_whitespace().collect::<String>())
                .map_err(|_| format!("config var {name} is stored corrupted"))?;
            let value = cipher
                .open(&crypto::config_var_aad(&app, name), &bytes)
                .map_err(|e| format!("config var {name}: {e}"))?;
            Ok((name.clone(), value))
        })
        .collect()
}
