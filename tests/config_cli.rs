//! `rtmp-server --config FILE [--check-config]` as a process: exit codes and
//! the one-line messages. Nothing here binds a socket (the configuration is
//! refused, or checked, before the server binds).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A configuration file in the temp directory, removed on drop.
struct TempConfig {
    path: PathBuf,
}

impl TempConfig {
    fn new(name: &str, text: &str) -> TempConfig {
        // One directory per file: tests run in parallel and each drop removes its own.
        let dir = std::env::temp_dir().join(format!(
            "rtmp-config-cli-{}-{}",
            std::process::id(),
            name.trim_end_matches(".toml")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        TempConfig { path }
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_config_ok_prints_file_ok_and_exits_zero() {
    let file = TempConfig::new(
        "ok.toml",
        "chunk_size = 8192\n[apps.live]\nrecord = false\n",
    );
    let out = run(&file.path, &["--check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}: ok\n", file.path.display()));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn check_config_accepts_the_example_file() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rtmp-server.toml");
    let out = run(&example, &["--check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with("rtmp-server.toml: ok\n"));
}

#[test]
fn check_config_range_error_is_one_line_with_line_key_value() {
    let file = TempConfig::new("range.toml", "# edge\n\nchunk_size = 64\n");
    let out = run(&file.path, &["--check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let expected = format!(
        "{}:3: chunk_size = 64: must be between 128 and 16777215\n",
        file.path.display()
    );
    assert_eq!(text(&out.stderr), expected);
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn check_config_unknown_key_and_type_error() {
    let file = TempConfig::new("unknown.toml", "listen = \"127.0.0.1:1935\"\nlisen = 1\n");
    let out = run(&file.path, &["--check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let expected = format!("{}:2: lisen: unknown key\n", file.path.display());
    assert_eq!(text(&out.stderr), expected);

    let file = TempConfig::new("type.toml", "[apps.live]\ngop_cache = 1\n");
    let out = run(&file.path, &["--check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let prefix = format!("{}:2: apps.live.gop_cache = 1: ", file.path.display());
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn check_config_refuses_unusable_record_dir() {
    let exe = env!("CARGO_BIN_EXE_rtmp-server");
    let body = format!(
        "record_all = true\nrecord_dir = {:?}\n",
        format!("{exe}/sub")
    );
    let file = TempConfig::new("dir.toml", &body);
    let out = run(&file.path, &["--check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let prefix = format!("{}:2: record_dir = ", file.path.display());
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(
        stderr.trim_end().ends_with("is not a directory"),
        "{stderr}"
    );
}

#[test]
fn flag_value_error_names_the_flag() {
    let file = TempConfig::new("flag.toml", "chunk_size = 4096\n");
    let out = run(&file.path, &["--check-config", "--chunk-size", "64"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "--chunk-size 64: must be between 128 and 16777215\n"
    );
}

#[test]
fn bad_file_at_startup_gives_the_same_line_and_exit_2() {
    let file = TempConfig::new("startup.toml", "stats_interval_ms = 0\n");
    let out = run(&file.path, &["--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let checked = run(&file.path, &["--check-config"]);
    assert_eq!(text(&out.stderr), text(&checked.stderr));
    let expected = format!(
        "{}:1: stats_interval_ms = 0: must be between 100 and 86400000\n",
        file.path.display()
    );
    assert_eq!(text(&out.stderr), expected);
}

#[test]
fn missing_file_exits_2() {
    let out = run(
        Path::new("/nonexistent/rtmp-server.toml"),
        &["--check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("/nonexistent/rtmp-server.toml: cannot read: "));
    assert_eq!(stderr.lines().count(), 1);
}

/// The recording keys: bad values and templates are one line naming the
/// file, line, key and value; a good template with subdirectories passes.
#[test]
fn check_config_refuses_bad_recording_keys() {
    let cases = [
        (
            "seg-s.toml",
            "record_segment_s = 100000\n",
            ":1: record_segment_s = 100000: must be between 0 (off) and 86400\n",
        ),
        (
            "seg-bytes.toml",
            "\n[apps.live]\nrecord_segment_bytes = 10\n",
            ":3: apps.live.record_segment_bytes = 10: must be 0 (off) or between 65536 and 1099511627776\n",
        ),
        (
            "tpl-abs.toml",
            "record_path = \"/tmp/{name}.flv\"\n",
            ":1: record_path = \"/tmp/{name}.flv\": must be relative to record_dir\n",
        ),
        (
            "tpl-dots.toml",
            "[apps.live]\nrecord_path = \"{app}/../{name}.flv\"\n",
            ":2: apps.live.record_path = \"{app}/../{name}.flv\": path component \"..\" is not allowed\n",
        ),
        (
            "tpl-unknown.toml",
            "record_path = \"{stream}-{seq}.flv\"\n",
            ":1: record_path = \"{stream}-{seq}.flv\": unknown placeholder {stream} (known: {app}, {name}, {date}, {time}, {seq})\n",
        ),
    ];
    for (name, toml, tail) in cases {
        let file = TempConfig::new(name, toml);
        let out = run(&file.path, &["--check-config"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!("{}{tail}", file.path.display()),
            "{name}"
        );
    }
    let file = TempConfig::new(
        "tpl-ok.toml",
        "record_fsync = true\nrecord_segment_s = 10\n[apps.live]\nrecord = true\n\
         record_segment_bytes = 1000000\nrecord_path = \"{app}/{name}/{date}-{seq}.flv\"\n",
    );
    let out = run(&file.path, &["--check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
