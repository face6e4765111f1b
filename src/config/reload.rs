//! What a reload changes. [`Config::reload_change`] compares the running
//! configuration with a newly loaded one key by key and sets the keys that
//! only take effect at start-up back to their running value.
//!
//! The comparison goes through the serialized form of both (every config
//! type derives `Serialize`), so a key added to [`Config`] or to the
//! `app_settings!` list is compared without code here; only a key that is
//! read once at start-up must be named in `restart_only!` below.

use serde_json::{Map, Value};

use super::source::key_segment;
use super::Config;

/// What a reload changed, by dotted key (`chunk_size`,
/// `apps.live.publish_keys`, `apps.new` for a whole table added or removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChange {
    /// Keys whose new value is in force.
    pub changed: Vec<String>,
    /// Keys whose new value needs a restart; the running value stays.
    pub needs_restart: Vec<String>,
}

macro_rules! restart_only {
    ($( $key:ident, )*) => {
        /// Top-level keys read only at start-up: listeners and what they
        /// bind, sizes fixed at start (descriptor limit, hook pool, recorder
        /// directory), the logger, and the chunk size every connection and
        /// stream was told.
        pub const RESTART_ONLY: &[&str] = &[$( stringify!($key), )*];

        /// Set `key` of `new` back to `running`'s value; whether it differed.
        fn keep_running(running: &Config, new: &mut Config, key: &str) -> bool {
            match key {
                $( stringify!($key) => {
                    let differs = new.$key != running.$key;
                    new.$key = running.$key.clone();
                    differs
                } )*
                _ => false,
            }
        }
    };
}

restart_only! {
    listen,
    reuse_port,
    tls_listen,
    http_listen,
    https_listen,
    max_connections,
    log_level,
    chunk_size,
    hook_workers,
    hook_queue,
    record_dir,
    record_fsync,
}

impl Config {
    /// Compare the running configuration `self` with `new`. Restart-only
    /// keys of `new` get the running value back (except those in
    /// `applies_now`: e.g. `record_dir` while no recorder runs yet).
    pub fn reload_change(&self, new: &mut Config, applies_now: &[&str]) -> ConfigChange {
        let needs_restart = RESTART_ONLY
            .iter()
            .filter(|key| !applies_now.contains(key))
            .filter(|key| keep_running(self, new, key))
            .map(|key| key.to_string())
            .collect();
        ConfigChange {
            changed: self.changed_keys(new),
            needs_restart,
        }
    }

    /// The dotted keys whose values differ between `self` and `other`.
    pub fn changed_keys(&self, other: &Config) -> Vec<String> {
        let (old, new) = (as_map(self), as_map(other));
        let mut out = Vec::new();
        for key in union(&old, &new) {
            let (a, b) = (old.get(key), new.get(key));
            match (key, a, b) {
                ("apps", Some(Value::Object(a)), Some(Value::Object(b))) => {
                    changed_apps(a, b, &mut out)
                }
                _ if a != b => out.push(key.to_string()),
                _ => {}
            }
        }
        out
    }
}

fn as_map(config: &Config) -> Map<String, Value> {
    match serde_json::to_value(config) {
        Ok(Value::Object(map)) => map,
        // Every field serializes (string map keys only); a struct is an object.
        other => unreachable!("a configuration serializes to an object: {other:?}"),
    }
}

/// The keys of `a` then those only in `b`, in order.
fn union<'m>(a: &'m Map<String, Value>, b: &'m Map<String, Value>) -> Vec<&'m str> {
    let mut keys: Vec<&str> = a.keys().map(String::as_str).collect();
    keys.extend(b.keys().map(String::as_str).filter(|k| !a.contains_key(*k)));
    keys
}

/// `apps.NAME.KEY` for a changed key of a table in both, `apps.NAME` for a
/// table added or removed.
fn changed_apps(old: &Map<String, Value>, new: &Map<String, Value>, out: &mut Vec<String>) {
    for app in union(old, new) {
        let prefix = format!("apps.{}", key_segment(app));
        match (old.get(app), new.get(app)) {
            (Some(Value::Object(a)), Some(Value::Object(b))) => {
                for key in union(a, b) {
                    if a.get(key) != b.get(key) {
                        out.push(format!("{prefix}.{key}"));
                    }
                }
            }
            (a, b) if a != b => out.push(prefix),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn parse(text: &str) -> Config {
        Config::from_toml(text, "t.toml", &Overrides::default()).expect("valid")
    }

    #[test]
    fn changed_keys_name_top_level_and_app_keys() {
        let old = parse(
            "chunk_size = 4096\n[apps.live]\npublish_keys = [\"a\"]\n[apps.\"*\"]\nrecord = true\n",
        );
        let new = parse("chunk_size = 4096\nstats_interval_ms = 1000\n[apps.live]\npublish_keys = [\"b\"]\n[apps.vod]\npull = [\"rtmp://o/vod\"]\n");
        assert_eq!(
            old.changed_keys(&new),
            [
                "apps.\"*\"",
                "apps.live.publish_keys",
                "apps.vod",
                "stats_interval_ms"
            ]
        );
        assert!(old.changed_keys(&old.clone()).is_empty());
    }

    #[test]
    fn restart_only_keys_keep_the_running_value() {
        let old = parse("listen = \"127.0.0.1:1935\"\nchunk_size = 4096\n");
        let mut new = parse("listen = \"127.0.0.1:1936\"\nchunk_size = 8192\nrecord_dir = \"rec2\"\nping_interval_ms = 5000\n");
        let change = old.reload_change(&mut new, &["record_dir"]);
        assert_eq!(change.needs_restart, ["listen", "chunk_size"]);
        assert_eq!(change.changed, ["ping_interval_ms", "record_dir"]);
        assert_eq!((new.listen, new.chunk_size), (old.listen, old.chunk_size));
        assert_eq!(new.record_dir, std::path::PathBuf::from("rec2"));
    }
}
