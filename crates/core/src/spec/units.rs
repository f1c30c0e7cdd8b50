//! Units as users write them in the spec file (sizes, durations, status ranges), and as
//! the stored JSON keeps them (durations in whole milliseconds).

use std::time::Duration;

/// "256m", "1g", "512MiB", "100k", "1048576": sizes as Docker users write them.
pub fn parse_bytes(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// A size: bytes as a whole number, or a string `parse_bytes` reads.
pub(super) fn bytes_value(value: &toml::Value) -> Option<u64> {
    match value {
        toml::Value::Integer(b) => u64::try_from(*b).ok(),
        toml::Value::String(s) => parse_bytes(s),
        _ => None,
    }
}

/// A duration: whole seconds, or a string such as "500ms" or "2m".
pub(super) fn duration_value(value: &toml::Value) -> Option<Duration> {
    match value {
        toml::Value::Integer(secs) => u64::try_from(*secs).ok().map(Duration::from_secs),
        toml::Value::String(s) => humantime::parse_duration(s.trim()).ok(),
        _ => None,
    }
}

/// A number of CPUs, whole or fractional.
pub(super) fn cpus_value(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// An HTTP status (`200`, `"200"`) or an inclusive range of them (`"200-399"`), from
/// 100 to 599, as (lowest, highest).
pub(super) fn status_value(value: &toml::Value) -> Option<(u16, u16)> {
    let code = |c: u16| (100..=599).contains(&c).then_some(c);
    let parse = |raw: &str| raw.trim().parse::<u16>().ok().and_then(code);
    match value {
        toml::Value::Integer(i) => u16::try_from(*i).ok().and_then(code).map(|c| (c, c)),
        toml::Value::String(s) => match s.split_once('-') {
            Some((a, b)) => parse(a).zip(parse(b)),
            None => parse(s).map(|c| (c, c)),
        },
        _ => None,
    }
}

/// Durations as whole milliseconds in the stored JSON.
pub(super) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

pub(super) mod opt_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("256m"), Some(256 << 20));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("100k"), Some(100 << 10));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("1t"), None);
        assert_eq!(parse_bytes("-1m"), None);
        assert_eq!(parse_bytes("99999999999999g"), None);
    }
}
