//! Reading the TOML file: parse it keeping spans, deserialize, apply the
//! command-line overrides, validate, and point every error at its file line
//! (or at the flag that set the value).

use std::fs;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{Config, ConfigError, Origin, Overrides};

impl Config {
    /// Defaults, then `file`'s keys (if any), then `flags`; validated, and
    /// the files and directories it names checked. Reload calls this again
    /// with the same `flags`, so precedence does not change.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Config, ConfigError> {
        let (name, text) = match file {
            Some(path) => {
                let name = path.display().to_string();
                let text = fs::read_to_string(path)
                    .map_err(|e| ConfigError::file(&name, None, format!("cannot read: {e}")))?;
                (name, Some(text))
            }
            None => (String::new(), None),
        };
        let source = match &text {
            Some(text) => Source::parse(&name, text, flags)?,
            None => Source::flags_only(flags),
        };
        let config = source.build()?;
        config.check_paths().map_err(|e| source.locate(e))?;
        Ok(config)
    }

    /// Parse TOML `text` (called `name` in errors), apply `flags`, validate.
    /// Touches no file.
    pub fn from_toml(text: &str, name: &str, flags: &Overrides) -> Result<Config, ConfigError> {
        Source::parse(name, text, flags)?.build()
    }
}

/// One configuration's inputs, kept to locate errors.
struct Source<'a> {
    name: &'a str,
    text: &'a str,
    /// The file's table with spans; `None` without a file.
    table: Option<Spanned<DeTable<'a>>>,
    flags: &'a Overrides,
}

impl<'a> Source<'a> {
    fn parse(name: &'a str, text: &'a str, flags: &'a Overrides) -> Result<Self, ConfigError> {
        let table = DeTable::parse(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            ConfigError::file(
                name,
                line,
                format!("TOML syntax: {}", one_line(e.message())),
            )
        })?;
        Ok(Source {
            name,
            text,
            table: Some(table),
            flags,
        })
    }

    fn flags_only(flags: &'a Overrides) -> Self {
        Source {
            name: "",
            text: "",
            table: None,
            flags,
        }
    }

    fn build(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.table {
            Some(table) => {
                let de = toml::de::Deserializer::from(table.clone());
                Config::deserialize(de).map_err(|e| self.type_error(&e))?
            }
            None => Config::default(),
        };
        self.flags.apply(&mut config);
        config.validate().map_err(|e| self.locate(e))
    }

    /// An unknown key or a value of the wrong type, from the deserializer.
    fn type_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span().unwrap_or(0..0);
        let mut path = Vec::new();
        if let Some(table) = &self.table {
            path_at(table.get_ref(), span.start, &mut path);
        }
        // serde's deny_unknown_fields message ("unknown field `x`, expected
        // one of ...") lists every key; the key is named from the span instead.
        let unknown = e.message().starts_with("unknown field");
        ConfigError {
            origin: self.file_origin(Some(span.start)),
            key: (!path.is_empty()).then(|| path.join(".")),
            value: (!unknown && !span.is_empty()).then(|| self.snippet(span)),
            reason: if unknown {
                "unknown key".to_string()
            } else {
                one_line(e.message())
            },
        }
    }

    /// Point a validation error at the flag or file line that set its key.
    fn locate(&self, mut e: ConfigError) -> ConfigError {
        let Some(key) = e.key.as_deref() else {
            return e;
        };
        if self.flags.sets(key) {
            e.origin = Origin::Flag;
            return e;
        }
        let Some(table) = &self.table else {
            return e;
        };
        match find(table.get_ref(), &key_path(key)) {
            Some((k, v)) => {
                e.origin = self.file_origin(Some(k.span().start));
                e.value = Some(self.snippet(v.span()));
            }
            None => e.origin = self.file_origin(None),
        }
        e
    }

    fn file_origin(&self, offset: Option<usize>) -> Origin {
        Origin::File {
            path: self.name.to_string(),
            line: offset.map(|o| line_of(self.text, o)),
        }
    }

    /// The source text of a value, on one line and at most 60 characters.
    fn snippet(&self, span: Range<usize>) -> String {
        let text = self.text.get(span).unwrap_or("").trim();
        let first = text.lines().next().unwrap_or("");
        let mut out: String = first.chars().take(60).collect();
        if out.len() < text.len() {
            out.push('…');
        }
        out
    }
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn one_line(message: &str) -> String {
    message.trim().replace('\n', "; ")
}

/// The dotted path of the innermost key whose name or value holds `offset`.
fn path_at(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    for (k, v) in table.iter() {
        path.push(key_segment(k.get_ref()));
        if let DeValue::Table(inner) = v.get_ref() {
            if path_at(inner, offset, path) {
                return true;
            }
        }
        if k.span().contains(&offset) || v.span().contains(&offset) {
            return true;
        }
        path.pop();
    }
    false
}

/// A key as written in a dotted path: bare when it can be, else quoted.
pub(super) fn key_segment(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// `apps.NAME.KEY` splits into three parts even when NAME holds dots or is
/// quoted (`apps."*".record`).
fn key_path(key: &str) -> Vec<&str> {
    let Some((app, field)) = key
        .strip_prefix("apps.")
        .and_then(|rest| rest.rsplit_once('.'))
    else {
        return vec![key];
    };
    let unquoted = app.strip_prefix('"').and_then(|a| a.strip_suffix('"'));
    vec!["apps", unquoted.unwrap_or(app), field]
}

type Entry<'t, 'a> = (
    &'t Spanned<std::borrow::Cow<'a, str>>,
    &'t Spanned<DeValue<'a>>,
);

fn find<'t, 'a>(table: &'t DeTable<'a>, path: &[&str]) -> Option<Entry<'t, 'a>> {
    let (first, rest) = path.split_first()?;
    let entry = table.iter().find(|(k, _)| k.get_ref() == first)?;
    match (rest.is_empty(), entry.1.get_ref()) {
        (true, _) => Some(entry),
        (false, DeValue::Table(inner)) => find(inner, rest),
        (false, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_split_and_quote() {
        assert_eq!(key_path("chunk_size"), ["chunk_size"]);
        assert_eq!(key_path("apps.live.record"), ["apps", "live", "record"]);
        assert_eq!(key_path("apps.\"*\".record"), ["apps", "*", "record"]);
        assert_eq!(key_path("apps.a.b.record"), ["apps", "a.b", "record"]);
        assert_eq!(key_segment("live-2"), "live-2");
        assert_eq!(key_segment("*"), "\"*\"");
        assert_eq!(key_segment("a.b"), "\"a.b\"");
    }

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }

    #[test]
    fn locate_finds_app_keys() {
        let flags = Overrides::default();
        let text = "[apps.\"*\"]\nrecord = true\n";
        let source = Source::parse("f.toml", text, &flags).unwrap();
        let e = source.locate(ConfigError::new("apps.\"*\".record", "x", "bad"));
        assert_eq!(e.to_string(), "f.toml:2: apps.\"*\".record = true: bad");
    }
}
