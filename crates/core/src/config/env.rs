//! Reading variables through a lookup function, each read naming its variable and its
//! default once, and each refusal naming the variable.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;

/// The environment as `Config` reads it. A blank value counts as unset, so `VAR=` in an
/// env file means "the default", as it does in most tools.
pub(super) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    pub(super) fn optional_string(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    pub(super) fn string(&self, name: &'static str, default: &str) -> String {
        self.optional_string(name)
            .unwrap_or_else(|| default.to_owned())
    }

    pub(super) fn required_string(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional_string(name).ok_or(ConfigError::Missing(name))
    }

    /// The value `parse` makes of the variable, or `default` when it is unset; a refusal
    /// (`Err(reason)`) is reported with the variable and its value.
    pub(super) fn parse<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.optional_string(name) {
            None => Ok(default),
            Some(raw) => parse(&raw).map_err(|reason| invalid(name, &raw, reason)),
        }
    }

    /// Like [`Env::parse`] without a default.
    pub(super) fn optional<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.parse(name, None, |raw| parse(raw).map(Some))
    }

    /// Like [`Env::optional`] for a secret: a refusal never echoes the value.
    pub(super) fn optional_secret<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.optional_string(name)
            .map(|raw| parse(&raw).map_err(|reason| ConfigError::InvalidSecret { name, reason }))
            .transpose()
    }

    /// A whole number of at least `min`.
    pub(super) fn number<T>(&self, name: &'static str, default: T, min: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display,
    {
        self.parse(name, default, |raw| whole_number(raw, min))
    }

    /// `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`, in any case.
    pub(super) fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.parse(name, default, |raw| {
            match raw.trim().to_ascii_lowercase().as_str() {
                "false" | "0" | "no" | "off" => Ok(false),
                "true" | "1" | "yes" | "on" => Ok(true),
                _ => Err("expected true or false".to_owned()),
            }
        })
    }

    /// A duration longer than zero in humantime's syntax (`2s`, `500ms`, `1h 30m`).
    pub(super) fn duration(
        &self,
        name: &'static str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        self.parse(name, default, |raw| {
            match humantime::parse_duration(raw.trim()) {
                Ok(d) if !d.is_zero() => Ok(d),
                Ok(_) => Err("must be longer than zero".to_owned()),
                Err(e) => Err(format!(
                    "expected a duration such as 2s, 500ms or 10m ({e})"
                )),
            }
        })
    }

    /// A size of at least 1 KiB in the spec file's syntax (`512m`, `1g`, bytes).
    pub(super) fn size(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        self.parse(name, default, |raw| {
            crate::spec::parse_bytes(raw)
                .filter(|b| *b >= 1024)
                .ok_or_else(|| "expected a size of at least 1k, like 512m or 1g".to_owned())
        })
    }
}

/// A whole number of at least `min`, surrounding white space allowed.
pub(super) fn whole_number<T>(raw: &str, min: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + Display,
{
    match raw.trim().parse::<T>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(format!("expected a whole number >= {min}")),
    }
}

pub(super) fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.into(),
    }
}
