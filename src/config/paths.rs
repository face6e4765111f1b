//! The files and directories a configuration names, and the check that the
//! server can use them (run by `--check-config` and at startup). Later keys
//! that name files (certificates, keys) add a [`NamedPath`] here.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// What the server will do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathUse {
    /// Create it if missing and write files into it.
    WritableDir,
    /// Open and read it.
    ReadableFile,
    /// Read files from it.
    ReadableDir,
}

/// A path named by the key `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPath {
    pub key: &'static str,
    pub path: PathBuf,
    pub usage: PathUse,
}

impl Config {
    /// The paths this configuration will use (record_dir only when some
    /// application records).
    pub fn named_paths(&self) -> Vec<NamedPath> {
        let mut paths = Vec::new();
        if self.any_recording() {
            paths.push(NamedPath {
                key: "record_dir",
                path: self.record_dir.clone(),
                usage: PathUse::WritableDir,
            });
        }
        let file = |key, path: &PathBuf| NamedPath {
            key,
            path: path.clone(),
            usage: PathUse::ReadableFile,
        };
        paths.extend(self.http_static.iter().map(|p| NamedPath {
            key: "http_static",
            path: p.clone(),
            usage: PathUse::ReadableDir,
        }));
        paths.extend(self.tls_cert.iter().map(|p| file("tls_cert", p)));
        paths.extend(self.tls_key.iter().map(|p| file("tls_key", p)));
        for entry in &self.tls_certs {
            paths.push(file("tls_certs.cert", &entry.cert));
            paths.push(file("tls_certs.key", &entry.key));
        }
        paths
    }

    /// Check that every named path can be used; creates nothing (a missing
    /// directory passes when its nearest existing parent is writable).
    pub fn check_paths(&self) -> Result<(), ConfigError> {
        for named in self.named_paths() {
            named.check().map_err(|reason| {
                let value = format!("{:?}", named.path.display().to_string());
                ConfigError::new(named.key, value, reason)
            })?;
        }
        Ok(())
    }
}

impl NamedPath {
    /// Why the path cannot be used, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        match self.usage {
            PathUse::ReadableFile => fs::File::open(&self.path)
                .map(drop)
                .map_err(|e| format!("cannot read: {e}")),
            PathUse::ReadableDir => fs::read_dir(&self.path)
                .map(drop)
                .map_err(|e| format!("cannot read directory: {e}")),
            PathUse::WritableDir => check_writable_dir(&self.path),
        }
    }
}

fn check_writable_dir(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("must not be empty".into());
    }
    let dir = nearest_existing(path)?;
    let probe = dir.join(format!(".rtmp-server-write-test.{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe);
    match written {
        Ok(_) => {
            fs::remove_file(&probe).map_err(|e| format!("cannot remove {}: {e}", probe.display()))
        }
        Err(e) => Err(format!("{} is not writable: {e}", dir.display())),
    }
}

/// `path` or its nearest existing ancestor, which must be a directory.
fn nearest_existing(path: &Path) -> Result<&Path, String> {
    for dir in path.ancestors() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => return Ok(dir),
            Ok(_) => return Err(format!("{} is not a directory", dir.display())),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                continue
            }
            Err(e) => return Err(format!("cannot use {}: {e}", dir.display())),
        }
    }
    Err("no existing parent directory".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_dir_checked_only_when_recording() {
        let file = std::env::current_exe().unwrap();
        let mut c = Config {
            record_dir: file.join("sub"),
            ..Config::default()
        };
        assert!(c.named_paths().is_empty());
        assert!(c.check_paths().is_ok());
        c.record_all = true;
        let e = c.check_paths().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("record_dir"));
        assert!(e.reason.ends_with("is not a directory"), "{e}");
    }

    #[test]
    fn missing_dir_under_writable_parent_passes_and_is_not_created() {
        let dir = std::env::temp_dir().join(format!("rtmp-cfg-{}/a/b", std::process::id()));
        let c = Config {
            record_all: true,
            record_dir: dir.clone(),
            ..Config::default()
        };
        c.check_paths().unwrap();
        assert!(!dir.exists());
        let named = NamedPath {
            key: "cert_file",
            path: dir,
            usage: PathUse::ReadableFile,
        };
        assert!(named.check().unwrap_err().starts_with("cannot read: "));
    }
}
