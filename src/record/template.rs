//! Recording path templates (`record_path`).
//!
//! A template is a relative path with placeholders:
//!
//! | placeholder | expands to |
//! |---|---|
//! | `{app}`  | the application name, sanitized ([`names::sanitize_component`]) |
//! | `{name}` | the stream name, sanitized |
//! | `{date}` | `YYYYMMDD`, UTC, of the segment's start |
//! | `{time}` | `HHMMSS`, UTC, of the segment's start |
//! | `{seq}`  | the segment number, counting from 0 |
//!
//! Rules:
//! * [`check`] (run at config load) refuses an empty template, an absolute
//!   one, one ending in `/`, any `.`, `..` or empty path component, a
//!   `{placeholder}` not in the table and an unbalanced brace.
//! * [`expand`] never leaves the recording directory: every placeholder
//!   expands to a non-empty string of `[A-Za-z0-9._-]` that does not start
//!   with a dot, and the expanded path is checked again (only plain
//!   components) before use. `n >= 2` adds `_n` before the last
//!   component's extension (the collision suffix).

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use super::names;
use crate::exec::template::unknown_placeholder;

/// The default template: one flat file per recording (or segment).
pub const DEFAULT_TEMPLATE: &str = "{app}_{name}_{date}_{time}.flv";

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 5] = ["app", "name", "date", "time", "seq"];

/// One piece of a parsed template.
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Splits a template into text and `{field}` pieces.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                out.push(Piece::Text(rest));
                break;
            }
            Some(i) if rest.as_bytes()[i] == b'}' => {
                return Err(format!(
                    "unmatched '}}' at byte {}",
                    template.len() - rest.len() + i
                ));
            }
            Some(i) => {
                if i > 0 {
                    out.push(Piece::Text(&rest[..i]));
                }
                let after = &rest[i + 1..];
                let end = after.find('}').ok_or_else(|| "unclosed '{'".to_string())?;
                let field = &after[..end];
                if !PLACEHOLDERS.contains(&field) {
                    return Err(unknown_placeholder(field, &PLACEHOLDERS));
                }
                out.push(Piece::Field(field));
                rest = &after[end + 1..];
            }
        }
    }
    Ok(out)
}

/// Checks a template at config load; the error says what is wrong.
pub fn check(template: &str) -> Result<(), String> {
    if template.is_empty() {
        return Err("must not be empty".into());
    }
    if template.starts_with('/') || template.starts_with('\\') || Path::new(template).is_absolute()
    {
        return Err("must be relative to record_dir".into());
    }
    if template.ends_with('/') {
        return Err("must name a file, not a directory".into());
    }
    if template.contains('\\') {
        return Err("use '/' between directories".into());
    }
    for part in template.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!("path component {part:?} is not allowed"));
        }
    }
    pieces(template).map(|_| ())
}

/// What the placeholders of one file expand to.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub app: &'a str,
    pub name: &'a str,
    /// The segment's start (wall clock).
    pub started: SystemTime,
    pub seq: u64,
}

/// The relative path of a file (see the module rules); `None` if the
/// template is invalid or the expansion is not a plain relative path.
pub fn expand(template: &str, f: &Fields<'_>, n: u32) -> Option<PathBuf> {
    let t = names::utc_from_system_time(f.started);
    let mut s = String::with_capacity(template.len() + 64);
    for piece in pieces(template).ok()? {
        match piece {
            Piece::Text(text) => s.push_str(text),
            Piece::Field("app") => s.push_str(&names::sanitize_component(f.app)),
            Piece::Field("name") => s.push_str(&names::sanitize_component(f.name)),
            Piece::Field("date") => s.push_str(&format!("{:04}{:02}{:02}", t.year, t.month, t.day)),
            Piece::Field("time") => {
                s.push_str(&format!("{:02}{:02}{:02}", t.hour, t.minute, t.second))
            }
            Piece::Field(_) => s.push_str(&f.seq.to_string()),
        }
    }
    if n >= 2 {
        let last = s.rfind('/').map_or(0, |i| i + 1);
        let at = match s[last..].rfind('.') {
            Some(dot) if dot > 0 => last + dot,
            _ => s.len(),
        };
        s.insert_str(at, &format!("_{n}"));
    }
    let path = PathBuf::from(s);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && path.components().next().is_some()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn fields<'a>(app: &'a str, name: &'a str, seq: u64) -> Fields<'a> {
        Fields {
            app,
            name,
            started: UNIX_EPOCH + Duration::from_secs(1_709_210_096),
            seq,
        }
    }

    #[test]
    fn default_matches_the_flat_names() {
        for n in [1, 2, 17] {
            let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
            let got = expand(DEFAULT_TEMPLATE, &fields("live/sub", "cap", 0), n).unwrap();
            assert_eq!(
                got,
                PathBuf::from(names::file_name("live/sub", "cap", t, n))
            );
        }
    }

    #[test]
    fn subdirectories_and_seq() {
        let t = "{app}/{name}/{date}-{seq}.flv";
        check(t).unwrap();
        let p = expand(t, &fields("live", "cam", 3), 1).unwrap();
        assert_eq!(p, PathBuf::from("live/cam/20240229-3.flv"));
        let p = expand(t, &fields("live", "cam", 3), 2).unwrap();
        assert_eq!(p, PathBuf::from("live/cam/20240229-3_2.flv"));
        let p = expand("{app}/{time}", &fields("a", "b", 0), 4).unwrap();
        assert_eq!(p, PathBuf::from("a/123456_4"));
    }

    #[test]
    fn hostile_names_stay_inside() {
        let t = "{app}/{name}/{seq}.flv";
        for (app, name) in [
            ("..", ".."),
            ("/etc", "../../x"),
            (".", "a/../../b"),
            ("", ""),
        ] {
            let p = expand(t, &fields(app, name, 0), 1).unwrap();
            assert_eq!(p.components().count(), 3, "{p:?}");
            assert!(p.components().all(
                |c| matches!(c, Component::Normal(s) if !s.to_string_lossy().starts_with('.'))
            ));
        }
    }

    #[test]
    fn bad_templates_are_refused() {
        let err = |t: &str| check(t).unwrap_err();
        assert!(err("").contains("empty"));
        assert!(err("/abs/{name}.flv").contains("relative"));
        assert!(err("../{name}.flv").contains("\"..\""));
        assert!(err("a/../{name}.flv").contains("\"..\""));
        assert!(err("a//b.flv").contains("\"\""));
        assert!(err("dir/").contains("directory"));
        assert!(err("{stream}.flv").contains("unknown placeholder {stream}"));
        assert!(err("{app.flv").contains("unclosed"));
        assert!(err("app}.flv").contains("unmatched"));
        assert!(expand("{nope}", &fields("a", "b", 0), 1).is_none());
        check(DEFAULT_TEMPLATE).unwrap();
    }
}
