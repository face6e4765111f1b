//! Per-application settings: `[apps.NAME]` and `[apps."*"]` tables and their
//! resolution into one immutable [`AppSettings`] per application.
//!
//! Precedence: `[apps.NAME]` over `[apps."*"]` over the top-level key. Adding a
//! setting is one line in the `app_settings!` list below (plus, when it has
//! a top-level counterpart, one line in `AppSettings::inherited`).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Cidr, Config};

/// The name of the table that applies to every application without its own.
pub const ANY_APP: &str = "*";

/// Default `pull_wait_ms`.
pub const DEFAULT_PULL_WAIT_MS: u64 = 10_000;
/// Default `pull_idle_ms`.
pub const DEFAULT_PULL_IDLE_MS: u64 = 10_000;

/// Default `hop_limit`.
pub const DEFAULT_HOP_LIMIT: u32 = 4;

/// Default `hook_timeout_ms`.
pub const DEFAULT_HOOK_TIMEOUT_MS: u64 = 5_000;

impl AppTable {
    /// The hook URLs this table sets, with their keys.
    pub fn hook_urls(&self) -> Vec<(&'static str, &str)> {
        [
            ("on_connect", &self.on_connect),
            ("on_publish", &self.on_publish),
            ("on_play", &self.on_play),
            ("on_publish_done", &self.on_publish_done),
            ("on_play_done", &self.on_play_done),
            ("on_record_done", &self.on_record_done),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().and_then(|v| v.as_deref()).map(|v| (k, v)))
        .collect()
    }
}

macro_rules! app_settings {
    ($( $(#[$doc:meta])* $name:ident: $ty:ty, )*) => {
        /// Settings resolved for one application (immutable once resolved;
        /// share it as `Arc<AppSettings>`, see [`AppMap`]).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct AppSettings {
            $( $(#[$doc])* pub $name: $ty, )*
        }

        /// One `[apps.NAME]` table as written: every key optional, unknown
        /// keys refused.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct AppTable {
            $( $(#[$doc])* pub $name: Option<$ty>, )*
        }

        impl AppTable {
            /// Overwrite the settings this table names.
            fn apply_to(&self, settings: &mut AppSettings) {
                $( if let Some(v) = &self.$name { settings.$name = v.clone(); } )*
            }
        }
    };
}

app_settings! {
    /// Record streams published on this application (top level: `record_all`).
    record: bool,
    /// Cut recordings at the first keyframe this many seconds into a
    /// segment (0: no time limit).
    record_segment_s: u64,
    /// Cut recordings at the first keyframe once a segment holds this many
    /// bytes (0: no size limit).
    record_segment_bytes: u64,
    /// Recording file path template inside `record_dir`.
    record_path: String,
    /// Cache the current GOP for late joiners (top level: `gop_cache`).
    gop_cache: bool,
    /// When set, publishing needs a `key` query parameter equal to one of these.
    publish_keys: Vec<String>,
    /// When set, playing needs a `key` query parameter equal to one of these.
    play_keys: Vec<String>,
    /// Addresses or CIDR blocks that may publish (empty: everyone not denied).
    publish_allow: Vec<Cidr>,
    /// Addresses or CIDR blocks that may not publish (deny wins).
    publish_deny: Vec<Cidr>,
    /// Addresses or CIDR blocks that may play (empty: everyone not denied).
    play_allow: Vec<Cidr>,
    /// Addresses or CIDR blocks that may not play (deny wins).
    play_deny: Vec<Cidr>,
    /// nginx-rtmp compatible HTTP hooks (`http://` URLs): `on_publish` and
    /// `on_play` decide (2xx accept, 3xx + Location rename, else refuse);
    /// the `_done` ones inform.
    on_connect: Option<String>,
    on_publish: Option<String>,
    on_play: Option<String>,
    on_publish_done: Option<String>,
    on_play_done: Option<String>,
    on_record_done: Option<String>,
    /// How long a deciding hook may take (ms). Default 5000.
    hook_timeout_ms: u64,
    /// Accept when a deciding hook fails or times out (default: refuse).
    hook_fail_open: bool,
    /// A program run for each finished recording, without a shell:
    /// `["program", "arg", "{path}", ...]` (see `crate::exec::template`);
    /// empty: none (top level: `exec_record_done`).
    exec_record_done: Vec<String>,
    /// `exec_record_done` is killed after this many seconds (top level:
    /// `exec_timeout_s`, default 60).
    exec_timeout_s: u64,
    /// Origins to pull a stream from when it is played here and has no local
    /// publisher (`rtmp://host[:port]/app`, tried in order).
    pull: Vec<String>,
    /// How long players wait for a pulled stream before StreamNotFound (ms).
    pull_wait_ms: u64,
    /// How long a pulled stream stays connected after its last viewer left (ms).
    pull_idle_ms: u64,
    /// Targets every stream published here is re-published to
    /// (`rtmp://host[:port]/app/{name}`; `{app}` and `{name}` expand).
    push: Vec<String>,
    /// Verify `rtmps://` origins and targets against Mozilla's roots
    /// (false: accept any certificate, for self-signed test servers).
    tls_verify: bool,
    /// Streams pulled from the origins from start-up on, watched or not.
    static_pull: Vec<String>,
    /// A relay request that has crossed more relay links than this while
    /// being requested (edge asking edge asking ...) is refused.
    hop_limit: u32,
}

impl AppSettings {
    /// The settings an application gets from the top-level keys alone.
    fn inherited(config: &Config) -> AppSettings {
        AppSettings {
            record: config.record_all,
            record_segment_s: config.record_segment_s,
            record_segment_bytes: config.record_segment_bytes,
            record_path: config.record_path.clone(),
            gop_cache: config.gop_cache,
            publish_keys: Vec::new(),
            play_keys: Vec::new(),
            publish_allow: Vec::new(),
            publish_deny: Vec::new(),
            play_allow: Vec::new(),
            play_deny: Vec::new(),
            on_connect: None,
            on_publish: None,
            on_play: None,
            on_publish_done: None,
            on_play_done: None,
            on_record_done: None,
            hook_timeout_ms: DEFAULT_HOOK_TIMEOUT_MS,
            hook_fail_open: false,
            exec_record_done: config.exec_record_done.clone(),
            exec_timeout_s: config.exec_timeout_s,
            pull: Vec::new(),
            pull_wait_ms: DEFAULT_PULL_WAIT_MS,
            pull_idle_ms: DEFAULT_PULL_IDLE_MS,
            push: Vec::new(),
            tls_verify: true,
            static_pull: Vec::new(),
            hop_limit: DEFAULT_HOP_LIMIT,
        }
    }
}

impl AppSettings {
    /// How this application's recordings are cut and named.
    pub fn record_plan(&self) -> crate::record::RecordPlan {
        crate::record::RecordPlan {
            segment_ms: self.record_segment_s.saturating_mul(1000),
            segment_bytes: self.record_segment_bytes,
            path: self.record_path.clone(),
        }
    }
}

impl Config {
    /// Whether any application has an `on_connect` hook (connects are then
    /// answered by the endpoint, not at once by the session).
    pub fn any_connect_hook(&self) -> bool {
        self.apps
            .values()
            .any(|t| t.on_connect.as_ref().is_some_and(|u| u.is_some()))
    }

    /// The settings that apply to application `app`.
    pub fn app_settings(&self, app: &str) -> AppSettings {
        let mut settings = AppSettings::inherited(self);
        if let Some(any) = self.apps.get(ANY_APP) {
            any.apply_to(&mut settings);
        }
        if let Some(table) = self.apps.get(app) {
            table.apply_to(&mut settings);
        }
        settings
    }

    /// Whether any application may record (the recorder thread is started
    /// then): the top-level `record_all` or any app table with `record = true`.
    pub fn any_recording(&self) -> bool {
        self.record_all || self.apps.values().any(|t| t.record == Some(true))
    }

    /// Whether any application may run `exec_record_done` (the runner is
    /// started then).
    pub fn any_exec(&self) -> bool {
        !self.exec_record_done.is_empty()
            || self
                .apps
                .values()
                .any(|t| t.exec_record_done.as_ref().is_some_and(|c| !c.is_empty()))
    }

    /// Whether any application may cache a GOP (the subscriber budget must
    /// then hold one).
    pub fn any_gop_cache(&self) -> bool {
        self.gop_cache || self.apps.values().any(|t| t.gop_cache == Some(true))
    }

    /// Every application's settings resolved once, to hand out as shared
    /// `Arc`s (build again after a reload; holders keep their old `Arc`).
    pub fn app_map(&self) -> AppMap {
        let named = self
            .apps
            .keys()
            .filter(|name| name.as_str() != ANY_APP)
            .map(|name| (name.clone(), Arc::new(self.app_settings(name))))
            .collect();
        AppMap {
            any: Arc::new(self.app_settings(ANY_APP)),
            named,
        }
    }
}

/// Resolved settings of every application: a lookup is a map probe and an
/// `Arc` clone, no allocation.
#[derive(Debug, Clone)]
pub struct AppMap {
    any: Arc<AppSettings>,
    named: HashMap<String, Arc<AppSettings>>,
}

impl AppMap {
    /// The settings of application `app` (`[apps."*"]` when it has no table).
    pub fn get(&self, app: &str) -> Arc<AppSettings> {
        self.named.get(app).unwrap_or(&self.any).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(record: Option<bool>, gop_cache: Option<bool>) -> AppTable {
        AppTable {
            record,
            gop_cache,
            ..AppTable::default()
        }
    }

    fn config_with(apps: &[(&str, AppTable)]) -> Config {
        Config {
            apps: apps
                .iter()
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect(),
            ..Config::default()
        }
    }

    #[test]
    fn app_over_any_over_top_level() {
        let mut c = config_with(&[
            (ANY_APP, table(Some(true), None)),
            ("live", table(Some(false), Some(false))),
        ]);
        c.gop_cache = true;
        let live = c.app_settings("live");
        assert_eq!((live.record, live.gop_cache), (false, false));
        let other = c.app_settings("other");
        assert_eq!((other.record, other.gop_cache), (true, true));
        assert!(c.any_recording());
        let map = c.app_map();
        assert_eq!(*map.get("live"), live);
        assert_eq!(*map.get("other"), other);
        assert!(Arc::ptr_eq(&map.get("x"), &map.get("y")));
    }

    #[test]
    fn recording_and_gop_cache_seen_in_any_table() {
        let c = config_with(&[]);
        assert!(!c.any_recording());
        let c = config_with(&[("live", table(Some(true), None))]);
        assert!(c.any_recording());
        assert!(!c.app_settings("other").record);
        let mut c = config_with(&[("live", table(None, Some(true)))]);
        c.gop_cache = false;
        assert!(c.any_gop_cache());
        assert!(!c.app_settings("other").gop_cache);
    }
}
