//! Checks of the recording keys (`record_segment_s`, `record_segment_bytes`,
//! `record_path`), top level and per application.

use super::{Config, ConfigError};
use crate::record::template;

/// Longest segment: one day.
pub const MAX_SEGMENT_S: u64 = 24 * 60 * 60;
/// Smallest size limit of a segment (a few keyframes must fit).
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;
/// Largest size limit of a segment: 1 TiB.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 40;

/// Checks one set of recording keys; `prefix` is `""` or `apps.NAME.`.
fn check_keys(
    prefix: &str,
    segment_s: Option<u64>,
    segment_bytes: Option<u64>,
    path: Option<&str>,
) -> Result<(), ConfigError> {
    if let Some(s) = segment_s.filter(|s| *s > MAX_SEGMENT_S) {
        return Err(ConfigError::new(
            &format!("{prefix}record_segment_s"),
            s,
            format!("must be between 0 (off) and {MAX_SEGMENT_S}"),
        ));
    }
    if let Some(b) =
        segment_bytes.filter(|b| *b != 0 && !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(b))
    {
        return Err(ConfigError::new(
            &format!("{prefix}record_segment_bytes"),
            b,
            format!("must be 0 (off) or between {MIN_SEGMENT_BYTES} and {MAX_SEGMENT_BYTES}"),
        ));
    }
    if let Some(p) = path {
        if let Err(why) = template::check(p) {
            return Err(ConfigError::new(
                &format!("{prefix}record_path"),
                format!("{p:?}"),
                why,
            ));
        }
    }
    Ok(())
}

impl Config {
    /// Segment limits in range and path templates that stay inside
    /// `record_dir` with known placeholders only.
    pub(super) fn check_recording(&self) -> Result<(), ConfigError> {
        check_keys(
            "",
            Some(self.record_segment_s),
            Some(self.record_segment_bytes),
            Some(&self.record_path),
        )?;
        for (app, t) in &self.apps {
            check_keys(
                &format!("apps.{app}."),
                t.record_segment_s,
                t.record_segment_bytes,
                t.record_path.as_deref(),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AppTable;

    #[test]
    fn bad_values_name_their_key() {
        let mut c = Config {
            record_segment_s: MAX_SEGMENT_S + 1,
            ..Config::default()
        };
        let e = c.check_recording().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("record_segment_s"));
        c.record_segment_s = 10;
        c.record_segment_bytes = 100;
        let e = c.check_recording().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("record_segment_bytes"));
        c.record_segment_bytes = 0;
        c.check_recording().unwrap();
        c.apps.insert(
            "live".into(),
            AppTable {
                record_path: Some("../{name}.flv".into()),
                ..AppTable::default()
            },
        );
        let e = c.check_recording().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("apps.live.record_path"));
        assert!(e.to_string().contains("\"..\""), "{e}");
    }
}
