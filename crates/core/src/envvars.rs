//! Rules for config var names and values, shared by the API (which refuses bad ones with
//! a 422) and the worker (which sets them in containers).

/// Names Slipway sets itself in every container; a user value would be overwritten or,
/// worse, break routing (`PORT`).
const RESERVED: [&str; 1] = ["PORT"];
const RESERVED_PREFIX: &str = "SLIPWAY_";

pub const MAX_VARS: usize = 500;
pub const MAX_VALUE_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct VarError {
    pub name: String,
    pub message: String,
}

fn err(name: &str, message: impl Into<String>) -> VarError {
    VarError {
        name: name.to_owned(),
        message: message.into(),
    }
}

/// POSIX's portable environment variable names: letters, digits and `_`, not starting
/// with a digit.
pub fn check_name(name: &str) -> Result<(), VarError> {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(err(
            name,
            "a config var name is letters, digits and '_', and does not start with a digit",
        ));
    }
    if name.len() > 255 {
        return Err(err(name, "a config var name is at most 255 characters"));
    }
    if RESERVED.contains(&name) || name.starts_with(RESERVED_PREFIX) {
        return Err(err(
            name,
            format!("{name} is reserved: Slipway sets PORT and SLIPWAY_* itself"),
        ));
    }
    Ok(())
}

pub fn check_value(name: &str, value: &str) -> Result<(), VarError> {
    if value.contains('\0') {
        return Err(err(
            name,
            "a config var value cannot contain a NUL character",
        ));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(err(
            name,
            format!(
                "a config var value is at most {} KiB",
                MAX_VALUE_BYTES / 1024
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["DATABASE_URL", "_x", "a1", "Port"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "É", "PORT", "SLIPWAY_APP"] {
            let e = check_name(bad).unwrap_err();
            assert_eq!(e.name, bad);
        }
        assert!(check_name("PORT").unwrap_err().message.contains("reserved"));
    }

    #[test]
    fn values() {
        assert!(check_value("A", "anything = goes; even\nnewlines").is_ok());
        assert!(check_value("A", "nul\0").is_err());
        assert!(check_value("A", &"x".repeat(MAX_VALUE_BYTES + 1)).is_err());
    }
}
