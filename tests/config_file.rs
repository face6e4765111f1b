//! The TOML configuration file through the library: precedence of app
//! tables, `"*"`, top-level keys and flags; errors naming file, line, key and
//! value; the shipped example parses to the defaults it claims.

use std::path::PathBuf;

use rtmp_edge::config::{AppSettings, Config, ConfigError, Origin, Overrides};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "rtmp-server.toml", &Overrides::default())
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

fn settings(record: bool, gop_cache: bool) -> AppSettings {
    AppSettings {
        record,
        gop_cache,
        ..Config::default().app_settings("any")
    }
}

const LAYERED: &str = r#"
record_all = false
gop_cache = true

[apps."*"]
record = true

[apps.live]
gop_cache = false

[apps.archive]
record = false
"#;

#[test]
fn app_table_over_any_over_top_level() {
    let c = parse(LAYERED).unwrap();
    assert_eq!(c.app_settings("live"), settings(true, false));
    assert_eq!(c.app_settings("archive"), settings(false, true));
    assert_eq!(c.app_settings("other"), settings(true, true));
    assert!(c.any_recording());
    let map = c.app_map();
    assert_eq!(*map.get("live"), settings(true, false));
    assert_eq!(*map.get("other"), settings(true, true));
}

#[test]
fn top_level_applies_without_app_tables() {
    let c = parse("record_all = true\ngop_cache = false\n").unwrap();
    assert_eq!(c.app_settings("live"), settings(true, false));
    let c = parse("").unwrap();
    assert_eq!(c.app_settings("live"), settings(false, true));
    assert!(!c.any_recording());
}

#[test]
fn flag_overrides_top_level_key_only() {
    let text = "chunk_size = 8192\ngop_cache = true\n[apps.live]\ngop_cache = true\n";
    let flags = Overrides {
        chunk_size: Some(256),
        gop_cache: Some(false),
        ..Overrides::default()
    };
    let c = Config::from_toml(text, "f.toml", &flags).unwrap();
    assert_eq!(c.chunk_size, 256);
    assert!(!c.gop_cache);
    assert!(!c.app_settings("other").gop_cache);
    assert!(
        c.app_settings("live").gop_cache,
        "[apps.live] beats the flag"
    );
}

#[test]
fn record_all_flag_is_turned_off_by_app_record_false() {
    let text = "[apps.private]\nrecord = false\n";
    let flags = Overrides {
        record_all: Some(true),
        ..Overrides::default()
    };
    let c = Config::from_toml(text, "f.toml", &flags).unwrap();
    assert!(c.record_all);
    assert!(c.app_settings("live").record);
    assert!(!c.app_settings("private").record);
}

#[test]
fn unknown_top_level_key_names_line_and_key() {
    let e = parse("chunk_size = 4096\n\nchunk_sise = 4096\n").unwrap_err();
    assert_eq!(e.to_string(), "rtmp-server.toml:3: chunk_sise: unknown key");
    assert_eq!(
        e.origin,
        Origin::File {
            path: "rtmp-server.toml".into(),
            line: Some(3)
        }
    );
}

#[test]
fn unknown_app_key_names_its_table() {
    let e = error("[apps.live]\nrecord = true\nrecrod = true\n");
    assert_eq!(e, "rtmp-server.toml:3: apps.live.recrod: unknown key");
    let e = error("[apps.\"*\"]\npublish_key = \"x\"\n");
    assert_eq!(e, "rtmp-server.toml:2: apps.\"*\".publish_key: unknown key");
}

#[test]
fn type_error_names_line_key_and_value() {
    let e = error("# comment\nchunk_size = \"big\"\n");
    assert_eq!(
        e,
        "rtmp-server.toml:2: chunk_size = \"big\": invalid type: string \"big\", expected u32"
    );
    let e = error("[apps.live]\nrecord = \"yes\"\n");
    assert!(
        e.starts_with("rtmp-server.toml:2: apps.live.record = \"yes\": invalid type"),
        "{e}"
    );
    let e = error("listen = \"nowhere\"\n");
    assert!(
        e.starts_with("rtmp-server.toml:1: listen = \"nowhere\": "),
        "{e}"
    );
    let e = error("log_level = \"loud\"\n");
    assert!(e.starts_with("rtmp-server.toml:1: log_level = \"loud\": unknown log level"));
}

#[test]
fn range_error_names_line_key_and_value() {
    let text = "listen = \"127.0.0.1:1935\"\n\n\n\n\n\nchunk_size = 64\n";
    assert_eq!(
        error(text),
        "rtmp-server.toml:7: chunk_size = 64: must be between 128 and 16777215"
    );
    let e = error("stats_interval_ms = 0\n");
    assert_eq!(
        e,
        "rtmp-server.toml:1: stats_interval_ms = 0: must be between 100 and 86400000"
    );
    let e = error("ping_interval_ms = 9_223_372_036_854_775_807\n");
    assert!(
        e.starts_with("rtmp-server.toml:1: ping_interval_ms = 9_223_372_036_854_775_807: "),
        "{e}"
    );
}

#[test]
fn range_error_from_flag_names_the_flag() {
    let flags = Overrides {
        chunk_size: Some(64),
        ..Overrides::default()
    };
    let e = Config::from_toml("chunk_size = 4096\n", "f.toml", &flags).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--chunk-size 64: must be between 128 and 16777215"
    );
}

#[test]
fn syntax_error_names_line() {
    let e = error("chunk_size = 4096\nlisten = \n");
    assert!(e.starts_with("rtmp-server.toml:2: TOML syntax: "), "{e}");
}

#[test]
fn missing_file_is_named() {
    let path = PathBuf::from("/nonexistent/rtmp-server.toml");
    let e = Config::load(Some(&path), &Overrides::default()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/rtmp-server.toml: cannot read: "),
        "{e}"
    );
}

fn example() -> Config {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rtmp-server.toml");
    let text = std::fs::read_to_string(path).unwrap();
    Config::from_toml(&text, "examples/rtmp-server.toml", &Overrides::default()).unwrap()
}

#[test]
fn example_file_top_level_is_the_defaults() {
    let mut c = example();
    c.apps.clear();
    assert_eq!(c, Config::default().validate().unwrap());
}

#[test]
fn example_file_app_tables() {
    let c = example();
    assert_eq!(c.apps.len(), 2);
    assert_eq!(c.app_settings("live"), settings(true, true));
    assert_eq!(c.app_settings("other"), settings(false, true));
    assert!(c.any_recording());
}

#[test]
fn readme_example_parses() {
    let all = include_str!("../README.md");
    // The example of the "Configuration file" section.
    let readme = &all[all.find("## Configuration file").expect("the section")..];
    let start = readme.find("```toml\n").expect("README has a toml block") + 8;
    let len = readme[start..].find("```").unwrap();
    let c = parse(&readme[start..start + len]).unwrap();
    assert_eq!(c.app_settings("live"), settings(true, true));
    assert_eq!(c.app_settings("other"), settings(false, true));
}

#[test]
fn every_toml_block_in_the_readme_parses() {
    let readme = include_str!("../README.md");
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .map(|rest| &rest[..rest.find("```").unwrap()])
        .collect();
    assert!(blocks.len() >= 2, "README's config examples are gone");
    for block in blocks {
        if let Err(e) = parse(block) {
            panic!("README example does not parse: {e}\n{block}");
        }
    }
}
