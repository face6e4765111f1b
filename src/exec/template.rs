//! `exec_record_done` argument templates: checked once at load, expanded
//! per finished recording. Pure string work (no file system, no clock).
//!
//! Placeholders, as nginx-rtmp's `exec_record_done` has them with `$`:
//!
//! | placeholder  | value for `recordings/live_cam_20261206_101500.flv` |
//! |--------------|------------------------------------------------------|
//! | `{path}`     | `recordings/live_cam_20261206_101500.flv` (as the recorder names it) |
//! | `{dirname}`  | `recordings` (`.` when the path has no directory)    |
//! | `{filename}` | `live_cam_20261206_101500.flv`                       |
//! | `{basename}` | `live_cam_20261206_101500` (extension omitted)       |
//! | `{app}`      | the application, e.g. `live`                         |
//! | `{name}`     | the stream name as published, without its query      |
//!
//! `{{` and `}}` are literal braces; any other `{` or `}` is an error at
//! load. The program (first element) takes no placeholders: what runs is
//! fixed by the operator, only its arguments vary.

use std::path::Path;

/// The placeholder names, in the order the error message lists them.
pub const PLACEHOLDERS: [&str; 6] = ["path", "dirname", "filename", "basename", "app", "name"];

/// The values of one finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVars {
    pub path: String,
    pub app: String,
    pub name: String,
}

impl RecordVars {
    pub fn new(path: &str, app: &str, name: &str) -> Self {
        RecordVars {
            path: path.to_string(),
            app: app.to_string(),
            name: name.to_string(),
        }
    }

    fn get(&self, placeholder: &str) -> String {
        let path = Path::new(&self.path);
        let part = |p: Option<&std::ffi::OsStr>| p.map(|s| s.to_string_lossy().into_owned());
        match placeholder {
            "path" => self.path.clone(),
            "dirname" => match path.parent().map(|d| d.to_string_lossy()) {
                Some(d) if !d.is_empty() => d.into_owned(),
                _ => ".".to_string(),
            },
            "filename" => part(path.file_name()).unwrap_or_default(),
            "basename" => part(path.file_stem()).unwrap_or_default(),
            "app" => self.app.clone(),
            "name" => self.name.clone(),
            _ => String::new(),
        }
    }
}

/// The error for `{name}` when only `known` are placeholders (also the
/// recording path template's).
pub fn unknown_placeholder(name: &str, known: &[&str]) -> String {
    let known: Vec<String> = known.iter().map(|p| format!("{{{p}}}")).collect();
    format!(
        "unknown placeholder {{{name}}} (known: {})",
        known.join(", ")
    )
}

/// A piece of a parsed argument.
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Var(&'a str),
}

/// Split `arg` into pieces; the error says what is wrong with it.
fn parse(arg: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = arg;
    while let Some(at) = rest.find(['{', '}']) {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            pieces.push(Piece::Brace(tail.as_bytes()[0] as char));
            rest = &tail[2..];
        } else if tail.starts_with('}') {
            return Err(format!("{arg:?}: stray `}}` (write `}}}}` for a brace)"));
        } else {
            let Some(end) = tail.find('}') else {
                return Err(format!("{arg:?}: unclosed `{{` (write `{{{{` for a brace)"));
            };
            let name = &tail[1..end];
            if !PLACEHOLDERS.contains(&name) {
                return Err(unknown_placeholder(name, &PLACEHOLDERS));
            }
            pieces.push(Piece::Var(name));
            rest = &tail[end + 1..];
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Check a command as configured: a non-empty program without
/// placeholders, and arguments whose placeholders are all known. An empty
/// list is valid (no command: `[apps.x] exec_record_done = []` turns an
/// inherited one off).
pub fn check(command: &[String]) -> Result<(), String> {
    let Some((program, args)) = command.split_first() else {
        return Ok(());
    };
    if program.trim().is_empty() {
        return Err("the program (first element) is empty".to_string());
    }
    if parse(program)?.iter().any(|p| matches!(p, Piece::Var(_))) {
        return Err("the program (first element) takes no placeholders".to_string());
    }
    for arg in args {
        parse(arg)?;
    }
    Ok(())
}

/// Expand one argument (checked with [`check`]; a bad one is passed as is).
pub fn expand(arg: &str, vars: &RecordVars) -> String {
    let Ok(pieces) = parse(arg) else {
        return arg.to_string();
    };
    let mut out = String::with_capacity(arg.len() + vars.path.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Brace(c) => out.push(c),
            Piece::Var(v) => out.push_str(&vars.get(v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_placeholder_expands() {
        let vars = RecordVars::new("rec/sub/live_cam_1.flv", "live", "cam");
        let got: Vec<String> = [
            "{path}",
            "{dirname}",
            "{filename}",
            "{basename}",
            "{app}/{name}",
            "x={path};",
            "{{literal}}",
        ]
        .iter()
        .map(|a| expand(a, &vars))
        .collect();
        assert_eq!(
            got,
            [
                "rec/sub/live_cam_1.flv",
                "rec/sub",
                "live_cam_1.flv",
                "live_cam_1",
                "live/cam",
                "x=rec/sub/live_cam_1.flv;",
                "{literal}"
            ]
        );
        let bare = RecordVars::new("a.flv", "live", "cam");
        assert_eq!(expand("{dirname}", &bare), ".");
    }

    #[test]
    fn check_refuses_what_cannot_run() {
        assert!(check(&[]).is_ok());
        assert!(check(&cmd(&["/bin/echo", "{path}", "{{x}}"])).is_ok());
        assert_eq!(
            check(&cmd(&[""])).unwrap_err(),
            "the program (first element) is empty"
        );
        assert_eq!(
            check(&cmd(&["/bin/{app}"])).unwrap_err(),
            "the program (first element) takes no placeholders"
        );
        assert_eq!(
            check(&cmd(&["/bin/echo", "{file}"])).unwrap_err(),
            "unknown placeholder {file} (known: {path}, {dirname}, {filename}, {basename}, {app}, {name})"
        );
        assert!(check(&cmd(&["/bin/echo", "{path"]))
            .unwrap_err()
            .contains("unclosed `{`"));
        assert!(check(&cmd(&["/bin/echo", "a}"]))
            .unwrap_err()
            .contains("stray `}`"));
    }
}
