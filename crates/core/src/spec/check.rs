//! The rules a spec file is held to, each broken one reported at the key and place the
//! user wrote it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::raw::{
    NameSpans, RawHealthCheck, RawProcess, RawResources, RawService, RawSpec, RawTest,
};
use super::units::{bytes_value, cpus_value, duration_value, status_value};
use super::{
    AppSpec, DEFAULT_TEST_TIMEOUT, HealthCheck, MAX_REPLICAS, MAX_TEST_TIMEOUT, MIN_MEMORY,
    ProcessSpec, ServiceSpec, SpecError, StatusRange, TestSpec,
};
use crate::validate::DockerfilePath;

const MAX_CPUS: f64 = 64.0;
const MAX_RETRIES: u32 = 100;

/// The spec `raw` (read from `source`) stands for, or the first rule it breaks.
pub(super) fn check(source: &str, raw: RawSpec) -> Result<AppSpec, SpecError> {
    Checker { source }.spec(raw)
}

struct Checker<'a> {
    source: &'a str,
}

impl Checker<'_> {
    /// Where `[section.name]` was written; the start of the file if it cannot be found,
    /// which only happens if the first pass and this one disagree about the document.
    fn name_span(&self, section: &str, name: &str) -> Range<usize> {
        let Ok(names) = toml::from_str::<NameSpans>(self.source) else {
            return 0..0;
        };
        let table = match section {
            "processes" => &names.processes,
            "resources" => &names.resources,
            _ => &names.services,
        };
        table
            .get_key_value(name)
            .map_or(0..0, |(key, _)| key.span())
    }

    fn err<T>(
        &self,
        key: impl Into<String>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Result<T, SpecError> {
        Err(SpecError::at(
            self.source,
            Some(key.into()),
            span,
            message.into(),
        ))
    }

    fn spec(&self, raw: RawSpec) -> Result<AppSpec, SpecError> {
        let mut spec = AppSpec::default();
        if let Some(port) = raw.port {
            spec.port = Some(self.port("port", &port)?);
        }
        if let Some(path) = raw.dockerfile {
            match DockerfilePath::parse(path.get_ref()) {
                Ok(p) => spec.dockerfile = Some(p.as_str().to_owned()),
                Err(e) => return self.err("dockerfile", path.span(), e.message),
            }
        }
        let build = raw.build.unwrap_or_default();
        spec.submodules = build.submodules.unwrap_or(false);
        if let Some(target) = build.target {
            if !is_stage_name(target.get_ref()) {
                return self.err(
                    "build.target",
                    target.span(),
                    "must be a Dockerfile stage name (a letter, then letters, digits, '.', '_' or '-')",
                );
            }
            spec.target = Some(target.into_inner());
        }
        spec.build_args = self.variables("build.args", "a build arg", build.args)?;
        spec.build_secrets = self.build_secrets(build.secrets.unwrap_or_default())?;
        if let Some(h) = raw.healthcheck {
            spec.healthcheck = self.healthcheck(h)?;
        }
        for (name, p) in raw.processes {
            let process = self.process(&name, p)?;
            spec.processes.insert(name, process);
        }
        for (name, r) in raw.resources {
            let Some(process) = spec.processes.get_mut(&name) else {
                return self.err(
                    format!("resources.{name}"),
                    self.name_span("resources", &name),
                    // Escaped: a quoted TOML key can hold a newline, and messages are one line.
                    format!(
                        "there is no process {} (declare it under [processes.{}])",
                        name.escape_debug(),
                        name.escape_debug()
                    ),
                );
            };
            self.resources(&name, r, process)?;
        }
        if let Some(t) = raw.test {
            spec.test = Some(self.test(t)?);
        }
        for (name, s) in raw.services {
            let service = self.service(&name, s)?;
            spec.services.insert(name, service);
        }
        Ok(spec)
    }

    fn test(&self, t: RawTest) -> Result<TestSpec, SpecError> {
        let command = self.command("test.command", &t.command)?;
        let timeout = match &t.timeout {
            Some(d) => self.nonzero_duration("test.timeout", d)?,
            None => DEFAULT_TEST_TIMEOUT,
        };
        if timeout > MAX_TEST_TIMEOUT {
            let span = t.timeout.map_or(0..0, |d| d.span());
            return self.err(
                "test.timeout",
                span,
                format!("must be at most {}m", MAX_TEST_TIMEOUT.as_secs() / 60),
            );
        }
        let target = match t.target {
            Some(target) if !is_stage_name(target.get_ref()) => {
                return self.err(
                    "test.target",
                    target.span(),
                    "must be a Dockerfile stage name (a letter, then letters, digits, '.', '_' or '-')",
                );
            }
            target => target.map(Spanned::into_inner),
        };
        let report = match t.report {
            Some(path) if !is_report_path(path.get_ref()) => {
                return self.err(
                    "test.report",
                    path.span(),
                    "must be an absolute path in the test container, such as \"/tmp/junit.xml\"",
                );
            }
            path => path.map(Spanned::into_inner),
        };
        if let Some(services) = t.services
            && !services.get_ref().is_empty()
        {
            return self.err(
                "test.services",
                services.span(),
                "services for tests come with environments; until then leave test.services empty",
            );
        }
        Ok(TestSpec {
            command,
            timeout,
            target,
            report,
        })
    }

    fn process(&self, name: &str, p: RawProcess) -> Result<ProcessSpec, SpecError> {
        let key = format!("processes.{name}");
        self.name("processes", name)?;
        let mut process = ProcessSpec::default();
        if let Some(command) = p.command {
            process.command = Some(self.command(&format!("{key}.command"), &command)?);
        }
        if let Some(replicas) = p.replicas {
            process.replicas = u32::try_from(*replicas.get_ref())
                .ok()
                .filter(|n| *n <= MAX_REPLICAS)
                .map_or_else(
                    || {
                        self.err(
                            format!("{key}.replicas"),
                            replicas.span(),
                            format!("must be a whole number from 0 to {MAX_REPLICAS}"),
                        )
                    },
                    Ok,
                )?;
        }
        Ok(process)
    }

    /// `[resources.name]`, applied to the process of that name.
    fn resources(
        &self,
        name: &str,
        r: RawResources,
        process: &mut ProcessSpec,
    ) -> Result<(), SpecError> {
        let key = format!("resources.{name}");
        if let Some(memory) = r.memory {
            process.memory = Some(self.memory(&format!("{key}.memory"), &memory)?);
        }
        if let Some(cpus) = r.cpus {
            let Some(value) = cpus_value(cpus.get_ref()) else {
                return self.err(
                    format!("{key}.cpus"),
                    cpus.span(),
                    "must be a number such as 0.5 or 2",
                );
            };
            // Docker counts billionths of a CPU; below 0.01 the limit rounds toward 0,
            // which Docker reads as no limit at all.
            if !(0.01..=MAX_CPUS).contains(&value) {
                return self.err(
                    format!("{key}.cpus"),
                    cpus.span(),
                    format!("must be from 0.01 to {MAX_CPUS}"),
                );
            }
            process.cpus = Some(value);
        }
        Ok(())
    }

    fn service(&self, name: &str, s: RawService) -> Result<ServiceSpec, SpecError> {
        let key = format!("services.{name}");
        self.name("services", name)?;
        if s.image.get_ref().trim().is_empty() {
            return self.err(format!("{key}.image"), s.image.span(), "must name an image");
        }
        let port = s
            .port
            .map(|p| self.port(&format!("{key}.port"), &p))
            .transpose()?;
        let env = self.variables(&format!("{key}.env"), "an env var", s.env)?;
        Ok(ServiceSpec {
            image: s.image.into_inner(),
            env,
            port,
        })
    }

    /// Build args or env vars, whose names must be valid shell variable names.
    fn variables(
        &self,
        key: &str,
        what: &str,
        raw: BTreeMap<String, Spanned<String>>,
    ) -> Result<BTreeMap<String, String>, SpecError> {
        let mut checked = BTreeMap::new();
        for (name, value) in raw {
            if !is_env_name(&name) {
                return self.err(
                    format!("{key}.{name}"),
                    value.span(),
                    format!("{what} name is letters, digits and '_', not starting with a digit"),
                );
            }
            checked.insert(name, value.into_inner());
        }
        Ok(checked)
    }

    /// Names of config vars, each at most once.
    fn build_secrets(&self, raw: Vec<Spanned<String>>) -> Result<Vec<String>, SpecError> {
        let mut names: Vec<String> = Vec::with_capacity(raw.len());
        for name in raw {
            if !is_env_name(name.get_ref()) {
                return self.err(
                    "build.secrets",
                    name.span(),
                    format!(
                        "{:?} is not a config var name (letters, digits and '_', not starting with a digit)",
                        name.get_ref()
                    ),
                );
            }
            if names.contains(name.get_ref()) {
                return self.err(
                    "build.secrets",
                    name.span(),
                    format!("{} is listed twice", name.get_ref()),
                );
            }
            names.push(name.into_inner());
        }
        Ok(names)
    }

    fn port(&self, key: &str, port: &Spanned<i64>) -> Result<u16, SpecError> {
        u16::try_from(*port.get_ref())
            .ok()
            .filter(|p| *p > 0)
            .map_or_else(
                || self.err(key, port.span(), "must be a port from 1 to 65535"),
                Ok,
            )
    }

    /// Names become parts of container names and DNS aliases.
    fn name(&self, section: &str, n: &str) -> Result<(), SpecError> {
        let valid = n.len() <= 30
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(())
        } else {
            self.err(
                format!("{section}.{n}"),
                self.name_span(section, n),
                "a name is 1 to 30 lowercase letters, digits and '-', starting with a letter",
            )
        }
    }

    fn healthcheck(&self, h: RawHealthCheck) -> Result<HealthCheck, SpecError> {
        let mut check = HealthCheck::default();
        if let Some(path) = h.path {
            let p = path.get_ref();
            if !p.starts_with('/') || p.chars().any(|c| c.is_control() || c == ' ') {
                return self.err(
                    "healthcheck.path",
                    path.span(),
                    "must be a URL path starting with '/'",
                );
            }
            check.path = p.clone();
        }
        if let Some(t) = h.timeout {
            check.timeout = Some(self.nonzero_duration("healthcheck.timeout", &t)?);
        }
        if let Some(i) = h.interval {
            check.interval = self.nonzero_duration("healthcheck.interval", &i)?;
        }
        if let Some(s) = h.start_period {
            check.start_period = self.duration("healthcheck.start_period", &s)?;
        }
        if let Some(r) = h.retries {
            check.retries = u32::try_from(*r.get_ref())
                .ok()
                .filter(|n| (1..=MAX_RETRIES).contains(n))
                .map_or_else(
                    || {
                        self.err(
                            "healthcheck.retries",
                            r.span(),
                            format!("must be between 1 and {MAX_RETRIES}"),
                        )
                    },
                    Ok,
                )?;
        }
        if let Some(s) = h.status {
            check.status = match status_value(s.get_ref()) {
                Some((min, max)) if min <= max => StatusRange { min, max },
                _ => {
                    return self.err(
                        "healthcheck.status",
                        s.span(),
                        "must be a status such as 200 or a range such as \"200-399\" (100 to 599)",
                    );
                }
            };
        }
        Ok(check)
    }

    fn duration(&self, key: &str, value: &Spanned<toml::Value>) -> Result<Duration, SpecError> {
        // Stored in whole milliseconds: anything finer would not survive a release's
        // snapshot of the spec.
        match duration_value(value.get_ref()) {
            Some(d) if d <= Duration::from_secs(24 * 3600) && d.subsec_nanos() % 1_000_000 == 0 => {
                Ok(d)
            }
            _ => self.err(
                key,
                value.span(),
                "must be a duration in whole milliseconds such as \"500ms\", \"30s\" or \"2m\" (or whole seconds), at most 24h",
            ),
        }
    }

    /// A zero timeout fails every attempt and a zero interval hammers the container.
    fn nonzero_duration(
        &self,
        key: &str,
        value: &Spanned<toml::Value>,
    ) -> Result<Duration, SpecError> {
        match self.duration(key, value)? {
            Duration::ZERO => self.err(key, value.span(), "must be longer than 0"),
            d => Ok(d),
        }
    }

    fn memory(&self, key: &str, value: &Spanned<toml::Value>) -> Result<u64, SpecError> {
        match bytes_value(value.get_ref()) {
            Some(b) if b >= MIN_MEMORY => Ok(b),
            Some(_) => self.err(
                key,
                value.span(),
                "must be at least 6 MiB (Docker's minimum)",
            ),
            None => self.err(
                key,
                value.span(),
                "must be a size such as \"256m\", \"1g\" or \"512MiB\" (or bytes)",
            ),
        }
    }

    fn command(&self, key: &str, value: &Spanned<toml::Value>) -> Result<Vec<String>, SpecError> {
        let words = match value.get_ref() {
            toml::Value::String(s) => match shell_words::split(s) {
                Ok(words) => words,
                Err(e) => {
                    return self.err(
                        key,
                        value.span(),
                        format!("cannot split the command into words: {e}"),
                    );
                }
            },
            toml::Value::Array(items) => {
                let mut words = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => words.push(s.clone()),
                        _ => {
                            return self.err(
                                key,
                                value.span(),
                                "an array command holds strings only",
                            );
                        }
                    }
                }
                words
            }
            _ => return self.err(key, value.span(), "must be a string or an array of strings"),
        };
        if words.is_empty() {
            return self.err(key, value.span(), "must not be empty");
        }
        Ok(words)
    }
}

/// The names Docker accepts after `FROM … AS`.
fn is_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// An absolute path without `..`: the report is copied out of the container from there.
fn is_report_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && !path.ends_with('/')
        && !path.split('/').any(|part| part == "..")
        && !path.chars().any(char::is_control)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
