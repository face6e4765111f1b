//! `exec_record_done` and `exec_timeout_s` in the configuration file: the
//! precedence of app tables, and one error line naming file, line, key and
//! value for an empty program, an unknown placeholder, a stray brace and a
//! timeout out of range (through the library and `--check-config`).

mod common;

use std::process::Command;

use common::TempDir;
use rtmp_edge::config::{Config, ConfigError, Overrides};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "rtmp-server.toml", &Overrides::default())
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn defaults_and_precedence() {
    let c = parse("").unwrap();
    assert!(c.exec_record_done.is_empty());
    assert_eq!(c.exec_timeout_s, 60);
    assert!(!c.any_exec());
    let c = parse(
        "exec_record_done = [\"/bin/top\", \"{path}\"]\nexec_timeout_s = 30\n\
         [apps.\"*\"]\nexec_timeout_s = 20\n\
         [apps.live]\nexec_record_done = [\"/bin/live\", \"{basename}\"]\n\
         [apps.off]\nexec_record_done = []\n",
    )
    .unwrap();
    assert!(c.any_exec());
    let live = c.app_settings("live");
    assert_eq!(live.exec_record_done, ["/bin/live", "{basename}"]);
    assert_eq!(live.exec_timeout_s, 20, "[apps.\"*\"] over the top level");
    let other = c.app_settings("other");
    assert_eq!(other.exec_record_done, ["/bin/top", "{path}"]);
    assert!(c.app_settings("off").exec_record_done.is_empty());
    let c = parse("[apps.live]\nexec_record_done = [\"/bin/true\"]\n").unwrap();
    assert!(c.any_exec(), "an app table alone starts the runner");
}

#[test]
fn bad_commands_name_line_key_and_value() {
    assert_eq!(
        error("chunk_size = 4096\nexec_record_done = [\"\", \"{path}\"]\n"),
        "rtmp-server.toml:2: exec_record_done = [\"\", \"{path}\"]: the program (first element) is empty"
    );
    assert_eq!(
        error("[apps.live]\n\nexec_record_done = [\"/bin/post\", \"{file}\"]\n"),
        "rtmp-server.toml:3: apps.live.exec_record_done = [\"/bin/post\", \"{file}\"]: \
         unknown placeholder {file} (known: {path}, {dirname}, {filename}, {basename}, {app}, {name})"
    );
    let e = error("exec_record_done = [\"/bin/post\", \"a}\"]\n");
    assert!(
        e.starts_with(
            "rtmp-server.toml:1: exec_record_done = [\"/bin/post\", \"a}\"]: \"a}\": stray `}`"
        ),
        "{e}"
    );
    let e = error("[apps.\"*\"]\nexec_record_done = [\"/bin/{app}\"]\n");
    assert_eq!(
        e,
        "rtmp-server.toml:2: apps.*.exec_record_done = [\"/bin/{app}\"]: \
         the program (first element) takes no placeholders"
    );
}

#[test]
fn timeouts_out_of_range_name_line_key_and_value() {
    assert_eq!(
        error("exec_timeout_s = 0\n"),
        "rtmp-server.toml:1: exec_timeout_s = 0: must be between 1 and 86400"
    );
    assert_eq!(
        error("[apps.live]\nexec_timeout_s = 86401\n"),
        "rtmp-server.toml:2: apps.live.exec_timeout_s = 86401: must be between 1 and 86400"
    );
    let e = error("exec_timeout_s = -1\n");
    assert!(
        e.starts_with("rtmp-server.toml:1: exec_timeout_s = -1: "),
        "{e}"
    );
}

/// `rtmp-server --config FILE --check-config` on `text`: exit code and stderr.
fn check_config(text: &str) -> (Option<i32>, String) {
    let dir = TempDir::new("exec-check");
    let file = dir.path().join("exec.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .arg("--config")
        .arg(&file)
        .arg("--check-config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr)
}

#[test]
fn check_config_prints_the_one_line_and_exits_2() {
    let (code, stderr) = check_config("exec_record_done = [\"/bin/post\", \"{nope}\"]\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("exec.toml:1: exec_record_done = [\"/bin/post\", \"{nope}\"]: unknown placeholder {nope}"),
        "{stderr}"
    );
    let (code, stderr) = check_config("exec_record_done = [\"/bin/post\", \"{path}\"]\n");
    assert_eq!(code, Some(0), "{stderr}");
}
