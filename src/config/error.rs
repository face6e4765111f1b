//! `ConfigError`: one line naming where a bad setting came from (file and
//! line, or command-line flag), the key, the value and why it is refused.

use std::fmt;

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Set in code (or a default); no file or flag to point at.
    Code,
    /// A command-line flag (`--chunk-size 64`).
    Flag,
    /// A configuration file, and the 1-based line when known.
    File { path: String, line: Option<usize> },
}

/// A configuration the server refuses: unreadable file, TOML syntax, unknown
/// key, wrong type, value out of range, or an unusable file or directory.
///
/// Displays as one line, e.g.
/// `rtmp-server.toml:7: chunk_size = 64: must be between 128 and 16777215`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Origin,
    /// The key (`chunk_size`, `apps.live.record`); `None` for a syntax error.
    pub key: Option<String>,
    /// The value as written (source text for a file, formatted otherwise).
    pub value: Option<String>,
    pub reason: String,
}

impl ConfigError {
    /// An error about `key` = `value`, not yet located in a file or flag.
    pub fn new(key: &str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        ConfigError {
            origin: Origin::Code,
            key: Some(key.to_string()),
            value: Some(value.to_string()),
            reason: reason.into(),
        }
    }

    /// An error about a file as a whole (unreadable, syntax).
    pub fn file(path: &str, line: Option<usize>, reason: impl Into<String>) -> Self {
        ConfigError {
            origin: Origin::File {
                path: path.to_string(),
                line,
            },
            key: None,
            value: None,
            reason: reason.into(),
        }
    }

    /// The command-line flag that sets `key`.
    fn flag_name(key: &str) -> String {
        match key {
            "gop_cache" => "no-gop-cache".to_string(),
            _ => key.replace('_', "-"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.value.as_deref();
        match (&self.origin, self.key.as_deref()) {
            (Origin::Flag, Some(key)) => {
                write!(f, "--{}", Self::flag_name(key))?;
                // A switch has no value to show.
                if let Some(v) = value.filter(|v| !matches!(*v, "true" | "false")) {
                    write!(f, " {v}")?;
                }
                return write!(f, ": {}", self.reason);
            }
            (Origin::File { path, line }, _) => {
                write!(f, "{path}:")?;
                if let Some(line) = line {
                    write!(f, "{line}:")?;
                }
                f.write_str(" ")?;
            }
            _ => f.write_str("invalid ")?,
        }
        if let Some(key) = &self.key {
            f.write_str(key)?;
            if let Some(v) = value {
                write!(f, " = {v}")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_per_origin() {
        let mut e = ConfigError::new("chunk_size", 64, "must be between 128 and 16777215");
        assert_eq!(
            e.to_string(),
            "invalid chunk_size = 64: must be between 128 and 16777215"
        );
        e.origin = Origin::Flag;
        assert_eq!(
            e.to_string(),
            "--chunk-size 64: must be between 128 and 16777215"
        );
        e.origin = Origin::File {
            path: "rtmp-server.toml".into(),
            line: Some(7),
        };
        assert_eq!(
            e.to_string(),
            "rtmp-server.toml:7: chunk_size = 64: must be between 128 and 16777215"
        );
        let mut e = ConfigError::new("record_all", true, "no");
        e.origin = Origin::Flag;
        assert_eq!(e.to_string(), "--record-all: no");
        let e = ConfigError::file("a.toml", None, "cannot read: not found");
        assert_eq!(e.to_string(), "a.toml: cannot read: not found");
    }
}
