//! SIGHUP: read the configuration file again and hand it to the endpoint
//! ([`Endpoint::reload`](crate::endpoint::Endpoint::reload) decides what
//! applies); start the helper threads the new configuration needs and that
//! were not running; re-read the TLS certificates.
//!
//! The file is loaded exactly as at start-up ([`Config::load`] with the
//! same command-line overrides), so precedence does not change. A file that
//! does not load is refused with the `--check-config` message and nothing
//! changes.

use std::path::PathBuf;
use std::sync::Arc;

use log::{info, warn};
use mio::Registry;

use crate::config::{Config, Overrides};
use crate::endpoint::Recorder;
use crate::error::Error;
use crate::hooks::{HookPool, HookPoolConfig};
use crate::record::{RecorderConfig, RecorderHandle};
use crate::tls;

use super::connect::Resolver;
use super::files::DiskFiles;
use super::recorder::ThreadRecorder;
use super::token::{HOOKS, RESOLVER};
use super::Server;

/// Where the running configuration came from: read again on SIGHUP.
#[derive(Debug, Clone)]
pub struct ReloadSource {
    /// The `--config` file (none: flags and defaults only).
    pub file: Option<PathBuf>,
    /// The command-line flags, applied over the file as at start-up.
    pub flags: Overrides,
}

impl ReloadSource {
    fn name(&self) -> String {
        match &self.file {
            Some(path) => path.display().to_string(),
            None => "the command line".to_string(),
        }
    }
}

/// The hook worker pool, when any application has a hook URL.
pub(super) fn hook_pool(config: &Config, registry: &Registry) -> Result<Option<HookPool>, Error> {
    if !config.apps.values().any(|t| !t.hook_urls().is_empty()) {
        return Ok(None);
    }
    let waker = mio::Waker::new(registry, HOOKS).map_err(Error::Poll)?;
    let pool_config = HookPoolConfig {
        workers: config.hook_workers,
        queue: config.hook_queue,
    };
    HookPool::new(pool_config, Arc::new(waker))
        .map(Some)
        .map_err(Error::Poll)
}

/// The name resolver thread, when any application pulls or pushes.
pub(super) fn resolver(config: &Config, registry: &Registry) -> Result<Option<Resolver>, Error> {
    let relays = config.apps.values().any(|t| {
        t.pull.as_ref().is_some_and(|p| !p.is_empty())
            || t.push.as_ref().is_some_and(|p| !p.is_empty())
    });
    if !relays {
        return Ok(None);
    }
    let waker = mio::Waker::new(registry, RESOLVER).map_err(Error::Poll)?;
    Resolver::new(Arc::new(waker))
        .map(Some)
        .map_err(Error::Poll)
}

/// The recorder thread, writing into `record_dir` (fsync as configured:
/// both are settings of the thread, fixed while it runs).
pub(super) fn spawn_recorder(config: &Config) -> Result<Box<dyn Recorder>, Error> {
    let mut rc = RecorderConfig::new(config.record_dir.clone());
    rc.fsync = config.record_fsync;
    let handle = RecorderHandle::spawn(rc).map_err(Error::RecordDir)?;
    let fsync = if config.record_fsync {
        " (fsync on)"
    } else {
        ""
    };
    info!("recording into {}{fsync}", config.record_dir.display());
    Ok(Box::new(ThreadRecorder::new(handle)))
}

/// After a reload: start a helper thread that was not running, if the new
/// configuration needs it (`start` gives `None` when it does not); a failure
/// is logged and the server goes on without it.
fn start_if_missing<T, E: std::fmt::Display>(
    slot: &mut Option<T>,
    what: &str,
    start: impl FnOnce() -> Result<Option<T>, E>,
) {
    if slot.is_none() {
        match start() {
            Ok(helper) => *slot = helper,
            Err(e) => warn!("config reload: cannot start {what}: {e}"),
        }
    }
}

impl Server {
    /// Read the configuration from `source` again on SIGHUP (without it,
    /// SIGHUP only re-reads the TLS certificates).
    pub fn set_reload_source(&mut self, source: ReloadSource) {
        self.reload_source = Some(source);
    }

    /// SIGHUP: see the module docs. One line says what changed.
    pub(super) fn reload(&mut self, now: u64) {
        if let Some(source) = self.reload_source.clone() {
            match Config::load(source.file.as_deref(), &source.flags) {
                Ok(config) => {
                    let report = self.endpoint.reload(config, now);
                    info!(
                        "config reloaded from {}: {}",
                        source.name(),
                        report.summary()
                    );
                    self.after_reload();
                }
                Err(e) => warn!("config reload refused: {e} (the running configuration stays)"),
            }
        }
        self.reload_tls();
    }

    /// Driver-side consequences of a new configuration.
    fn after_reload(&mut self) {
        let config = self.endpoint.config().clone();
        self.read_budget = config.read_budget_bytes;
        if let Some(dir) = &config.http_static {
            self.endpoint
                .set_static_files(Box::new(DiskFiles::new(dir)));
        }
        let registry = self.poll.registry();
        start_if_missing(&mut self.hooks, "the hook workers", || {
            hook_pool(&config, registry)
        });
        start_if_missing(&mut self.exec, "the exec_record_done runner", || {
            super::exec::runner(&config, registry)
        });
        start_if_missing(&mut self.resolver, "the resolver", || {
            resolver(&config, registry)
        });
        if self.endpoint.needs_recorder() {
            match spawn_recorder(&config) {
                Ok(recorder) => self.endpoint.set_recorder(recorder),
                Err(e) => warn!("config reload: cannot start recording: {e}"),
            }
        }
    }

    /// Read the certificates again for new RTMPS connections; a bad file
    /// keeps the old ones.
    pub(super) fn reload_tls(&mut self) {
        if self.tls_config.is_none() {
            info!("received SIGHUP: no TLS certificates to reload");
            return;
        }
        match tls::server_config(self.endpoint.config()) {
            Ok(Some(config)) => {
                self.tls_config = Some(config);
                info!("received SIGHUP: TLS certificates reloaded for new connections");
            }
            Ok(None) => {}
            Err(e) => warn!("received SIGHUP: keeping the old TLS certificates: {e}"),
        }
    }
}
