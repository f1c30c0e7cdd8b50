//! Configuration from the environment. Parsing takes a lookup function instead of
//! reading `std::env` so it stays pure and testable; the binaries pass `std::env::var`.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// A secret that never prints itself (Debug shows `***`).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    /// None: bollard's local defaults (the unix socket).
    pub docker_host: Option<String>,
    pub base_domain: String,
    pub port: u16,
    pub work_dir: PathBuf,
    pub network: String,
    pub worker_concurrency: usize,
    pub poll_interval: Duration,
    pub publish_ports: bool,
    pub allow_local_repos: bool,
    pub clone_timeout: Duration,
    pub build_timeout: Duration,
    pub release_timeout: Duration,
    pub lease_duration: Duration,
    /// How many times a deployment is started before a lost worker fails it for good.
    pub max_attempts: i32,
    pub log_json: bool,
}

impl Config {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
        let database_url = var("DATABASE_URL").ok_or(ConfigError::Missing("DATABASE_URL"))?;
        Ok(Self {
            database_url: Secret(database_url),
            docker_host: var("DOCKER_HOST"),
            base_domain: parse_domain(var("BASE_DOMAIN"))?,
            port: parse_num("PORT", var("PORT"), 8080u16, 1)?,
            work_dir: var("SLIPWAY_WORK_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/var/lib/slipway/work")),
            network: parse_network(var("SLIPWAY_NETWORK"))?,
            worker_concurrency: parse_num(
                "SLIPWAY_WORKER_CONCURRENCY",
                var("SLIPWAY_WORKER_CONCURRENCY"),
                2usize,
                1,
            )?,
            poll_interval: parse_duration(
                "SLIPWAY_POLL_INTERVAL",
                var("SLIPWAY_POLL_INTERVAL"),
                Duration::from_secs(2),
            )?,
            publish_ports: parse_bool("SLIPWAY_PUBLISH_PORTS", var("SLIPWAY_PUBLISH_PORTS"))?,
            allow_local_repos: parse_bool(
                "SLIPWAY_ALLOW_LOCAL_REPOS",
                var("SLIPWAY_ALLOW_LOCAL_REPOS"),
            )?,
            clone_timeout: parse_duration(
                "SLIPWAY_CLONE_TIMEOUT",
                var("SLIPWAY_CLONE_TIMEOUT"),
                Duration::from_secs(600),
            )?,
            build_timeout: parse_duration(
                "SLIPWAY_BUILD_TIMEOUT",
                var("SLIPWAY_BUILD_TIMEOUT"),
                Duration::from_secs(1800),
            )?,
            release_timeout: parse_duration(
                "SLIPWAY_RELEASE_TIMEOUT",
                var("SLIPWAY_RELEASE_TIMEOUT"),
                Duration::from_secs(120),
            )?,
            lease_duration: parse_duration(
                "SLIPWAY_LEASE_DURATION",
                var("SLIPWAY_LEASE_DURATION"),
                Duration::from_secs(30),
            )?,
            max_attempts: parse_num("SLIPWAY_MAX_ATTEMPTS", var("SLIPWAY_MAX_ATTEMPTS"), 2i32, 1)?,
            log_json: match var("SLIPWAY_LOG_FORMAT").as_deref() {
                None | Some("pretty") => false,
                Some("json") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "SLIPWAY_LOG_FORMAT",
                        value: other.to_owned(),
                        reason: "expected json or pretty".into(),
                    });
                }
            },
        })
    }

    /// Defaults suitable for tests: short timeouts, local repos allowed.
    pub fn for_tests(database_url: &str, network: &str, work_dir: PathBuf) -> Self {
        Self {
            database_url: Secret(database_url.to_owned()),
            docker_host: None,
            base_domain: "localhost".into(),
            port: 0,
            work_dir,
            network: network.to_owned(),
            worker_concurrency: 2,
            poll_interval: Duration::from_millis(200),
            publish_ports: false,
            allow_local_repos: true,
            clone_timeout: Duration::from_secs(60),
            build_timeout: Duration::from_secs(120),
            release_timeout: Duration::from_secs(20),
            lease_duration: Duration::from_secs(10),
            max_attempts: 2,
            log_json: false,
        }
    }

    pub fn url_for(&self, subdomain: &str) -> String {
        format!(
            "http://{}",
            crate::labels::host(subdomain, &self.base_domain)
        )
    }
}

fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn parse_num<T>(
    name: &'static str,
    raw: Option<String>,
    default: T,
    min: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = raw else { return Ok(default) };
    match raw.trim().parse::<T>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(invalid(
            name,
            &raw,
            format!("expected a whole number >= {min}"),
        )),
    }
}

fn parse_bool(name: &'static str, raw: Option<String>) -> Result<bool, ConfigError> {
    match raw
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(_) => Err(invalid(
            name,
            raw.as_deref().unwrap_or_default(),
            "expected true or false",
        )),
    }
}

fn parse_duration(
    name: &'static str,
    raw: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    match humantime::parse_duration(raw.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(invalid(name, &raw, "must be longer than zero")),
        Err(e) => Err(invalid(
            name,
            &raw,
            format!("expected a duration such as 2s, 500ms or 10m ({e})"),
        )),
    }
}

fn parse_domain(raw: Option<String>) -> Result<String, ConfigError> {
    let Some(raw) = raw else {
        return Ok("localhost".into());
    };
    let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(domain)
    } else {
        Err(invalid(
            "BASE_DOMAIN",
            &raw,
            "expected a DNS name such as apps.example.com",
        ))
    }
}

fn parse_network(raw: Option<String>) -> Result<String, ConfigError> {
    let Some(raw) = raw else {
        return Ok("slipway".into());
    };
    let valid = raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && raw
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric);
    if valid {
        Ok(raw)
    } else {
        Err(invalid(
            "SLIPWAY_NETWORK",
            &raw,
            "expected a Docker network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = parse(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert_eq!(c.base_domain, "localhost");
        assert_eq!(c.port, 8080);
        assert_eq!(c.network, "slipway");
        assert_eq!(c.poll_interval, Duration::from_secs(2));
        assert!(!c.publish_ports && !c.allow_local_repos);
        assert_eq!(format!("{:?}", c.database_url), "***");
        assert_eq!(c.url_for("hello"), "http://hello.localhost");
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(
            parse(&[]).unwrap_err(),
            ConfigError::Missing("DATABASE_URL")
        );
        for (name, value) in [
            ("PORT", "eighty"),
            ("PORT", "0"),
            ("SLIPWAY_POLL_INTERVAL", "soon"),
            ("SLIPWAY_POLL_INTERVAL", "0s"),
            ("SLIPWAY_WORKER_CONCURRENCY", "0"),
            ("SLIPWAY_PUBLISH_PORTS", "maybe"),
            ("BASE_DOMAIN", "bad domain"),
            ("SLIPWAY_NETWORK", "-x"),
            ("SLIPWAY_LOG_FORMAT", "xml"),
        ] {
            let err = parse(&[("DATABASE_URL", "postgres://x"), (name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn durations_and_flags() {
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_POLL_INTERVAL", "500ms"),
            ("SLIPWAY_PUBLISH_PORTS", "true"),
            ("BASE_DOMAIN", "Apps.Example.com."),
        ])
        .unwrap();
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert!(c.publish_ports);
        assert_eq!(c.base_domain, "apps.example.com");
    }
}
