//! Parsing a stack configuration override (YAML or JSON, partial: missing keys keep their defaults)
//! with errors that name the offending key.

use autonomy_stack::StackConfig;

/// Why an override was rejected.
#[derive(Debug, thiserror::Error)]
pub enum StackConfigError {
    /// A key is unknown or has the wrong type.
    #[error("`{key}`: {message}")]
    Invalid {
        /// Dotted path of the key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Values are out of range.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    OutOfRange(Vec<autonomy_stack::ConfigError>),
}

/// Parses a partial override from YAML (JSON is YAML too) and validates it.
pub fn parse_override(text: &str) -> Result<StackConfig, StackConfigError> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let de = serde_yaml::Deserializer::from_str(text);
    let config: StackConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let message = e.into_inner().to_string();
        // serde_yaml already prefixes the path; say it once.
        let message = message.strip_prefix(&format!("{key}: ")).map(str::to_owned).unwrap_or(message);
        StackConfigError::Invalid { key: if key == "." { "(top level)".into() } else { key }, message }
    })?;
    let errors = config.validate();
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(StackConfigError::OutOfRange(errors))
    }
}

/// Parses a partial override given as JSON (the API's `stack_config`) and validates it.
pub fn from_json(value: &serde_json::Value) -> Result<StackConfig, StackConfigError> {
    if !value.is_object() {
        return Err(StackConfigError::Invalid { key: "(top level)".into(), message: "must be an object".into() });
    }
    let config: StackConfig = serde_path_to_error::deserialize(value)
        .map_err(|e| StackConfigError::Invalid { key: e.path().to_string(), message: e.into_inner().to_string() })?;
    let errors = config.validate();
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(StackConfigError::OutOfRange(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = parse_override("safety:\n  aeb_ttx: 1.0\n").unwrap_err().to_string();
        assert!(e.starts_with("`safety.aeb_ttx`: ") && e.contains("unknown field `aeb_ttx`"), "{e}");
        let e = parse_override("planning: { horizon: fast }").unwrap_err().to_string();
        assert!(e.starts_with("`planning.horizon`: invalid type"), "{e}");
        let e = parse_override("safety: { aeb_ttc: -2 }").unwrap_err().to_string();
        assert!(e.contains("`safety.aeb_ttc`"), "{e}");
        assert_eq!(parse_override("").unwrap(), StackConfig::default());
    }
}
