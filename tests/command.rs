//! Command parsing from real client bodies and synthetic values; builders
//! compared with what nginx-rtmp and ffmpeg put on the wire.

use std::path::PathBuf;

use bytes::BytesMut;
use rtmp_edge::proto::amf0::{decode_all, encode_all, Amf0Limits, Amf0Value};
use rtmp_edge::proto::command::{self as cmd, Command, CommandError, StreamName, StreamRef};

fn golden(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden/amf0")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn values(name: &str) -> Vec<Amf0Value> {
    decode_all(&golden(name), &Amf0Limits::default()).unwrap()
}

fn parse_golden(name: &str) -> Command {
    Command::parse(&values(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn enc(vs: &[Amf0Value]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_all(vs, &mut out);
    out.to_vec()
}

fn s(t: &str) -> Amf0Value {
    Amf0Value::string(t)
}

fn n(x: f64) -> Amf0Value {
    Amf0Value::Number(x)
}

fn name(t: &str) -> StreamName {
    StreamName {
        name: t.into(),
        query: None,
    }
}

fn bad(command: &'static str, arg: &'static str) -> Result<Command, CommandError> {
    Err(CommandError::BadArgument { command, arg })
}

// ---------------------------------------------------------------- captures

#[test]
fn ffmpeg_publish_connect() {
    let Command::Connect { tx, params } = parse_golden("ffmpeg_connect.bin") else {
        panic!("not connect");
    };
    assert_eq!(tx, 1.0);
    assert_eq!(params.app, "live");
    assert_eq!(
        params.tc_url.as_deref(),
        Some("rtmp://127.0.0.1:19351/live")
    );
    assert_eq!(
        params.flash_ver.as_deref(),
        Some("FMLE/3.0 (compatible; Lavf59.27.100)")
    );
    assert_eq!(params.object_encoding, None);
    assert_eq!(params.object.len(), 4);
    assert_eq!(params.object[1], ("type".to_string(), s("nonprivate")));
}

#[test]
fn ffmpeg_play_and_gst_connect() {
    let Command::Connect { params, .. } = parse_golden("ffmpeg_play_connect.bin") else {
        panic!("not connect");
    };
    assert_eq!(params.app, "live");
    assert_eq!(params.flash_ver.as_deref(), Some("LNX 9,0,124,2"));
    assert_eq!(params.object.len(), 8);
    let Command::Connect { tx, params } = parse_golden("gst_connect.bin") else {
        panic!("not connect");
    };
    assert_eq!(tx, 1.0);
    assert_eq!(params.app, "live");
    assert_eq!(params.flash_ver.as_deref(), Some("LNX 10,0,32,18"));
}

#[test]
fn ffmpeg_publish_sequence() {
    assert_eq!(
        parse_golden("ffmpeg_release_stream.bin"),
        Command::ReleaseStream {
            tx: 2.0,
            name: name("cap")
        }
    );
    assert_eq!(
        parse_golden("ffmpeg_fcpublish.bin"),
        Command::FcPublish {
            tx: 3.0,
            name: name("cap")
        }
    );
    assert_eq!(
        parse_golden("ffmpeg_create_stream.bin"),
        Command::CreateStream { tx: 4.0 }
    );
    assert_eq!(
        parse_golden("ffmpeg_publish.bin"),
        Command::Publish {
            tx: 5.0,
            name: name("cap"),
            kind: "live".into()
        }
    );
    assert_eq!(
        parse_golden("ffmpeg_fcunpublish.bin"),
        Command::FcUnpublish {
            tx: 6.0,
            name: name("cap")
        }
    );
    assert_eq!(
        parse_golden("ffmpeg_delete_stream.bin"),
        Command::DeleteStream {
            tx: 7.0,
            stream: StreamRef::Id(1.0)
        }
    );
}

#[test]
fn gst_publish_sequence_with_string_delete_stream() {
    assert_eq!(
        parse_golden("gst_publish.bin"),
        Command::Publish {
            tx: 0.0,
            name: name("capg"),
            kind: "live".into()
        }
    );
    assert_eq!(
        parse_golden("gst_fcunpublish.bin"),
        Command::FcUnpublish {
            tx: 0.0,
            name: name("capg")
        }
    );
    assert_eq!(
        parse_golden("gst_delete_stream.bin"),
        Command::DeleteStream {
            tx: 0.0,
            stream: StreamRef::Name("capg".into())
        }
    );
}

#[test]
fn play_commands_of_three_clients() {
    assert_eq!(
        parse_golden("ffmpeg_get_stream_length.bin"),
        Command::GetStreamLength {
            tx: 3.0,
            name: name("cap")
        }
    );
    // ffmpeg: start -2000 (its live default), no duration, no reset.
    assert_eq!(
        parse_golden("ffmpeg_play.bin"),
        Command::Play {
            tx: 4.0,
            name: name("cap"),
            start: -2000.0,
            duration: -1.0,
            reset: true
        }
    );
    // rtmpdump -B 3: start 0, duration 3000.
    assert_eq!(
        parse_golden("rtmpdump_play.bin"),
        Command::Play {
            tx: 3.0,
            name: name("cap"),
            start: 0.0,
            duration: 3000.0,
            reset: true
        }
    );
    // GStreamer: tx 0, start -2.
    assert_eq!(
        parse_golden("gst_play.bin"),
        Command::Play {
            tx: 0.0,
            name: name("cap"),
            start: -2.0,
            duration: -1.0,
            reset: true
        }
    );
}

#[test]
fn nginx_answers_parse_on_the_client_side() {
    let r = parse_golden("nginx_connect_result.bin");
    assert!(matches!(&r, Command::Result { tx, args } if *tx == 1.0 && args.len() == 2));
    assert_eq!(r.code(), Some(cmd::CODE_CONNECT_SUCCESS));
    let r = parse_golden("nginx_create_stream_result.bin");
    assert_eq!(
        r,
        Command::Result {
            tx: 4.0,
            args: vec![Amf0Value::Null, n(1.0)]
        }
    );
    assert_eq!(r.code(), None);
    assert_eq!(
        parse_golden("nginx_publish_start.bin"),
        Command::OnStatus {
            level: "status".into(),
            code: cmd::CODE_PUBLISH_START.into(),
            description: "Start publishing".into()
        }
    );
    assert_eq!(
        parse_golden("nginx_unpublish_success.bin").code(),
        Some(cmd::CODE_UNPUBLISH_SUCCESS)
    );
}

// ---------------------------------------------------------------- queries

#[test]
fn stream_names_keep_the_query_separately() {
    let v = cmd::simple("publish", 5.0, vec![s("cap?key=v&x=1"), s("live")]);
    assert_eq!(
        Command::parse(&v).unwrap(),
        Command::Publish {
            tx: 5.0,
            name: StreamName {
                name: "cap".into(),
                query: Some("key=v&x=1".into())
            },
            kind: "live".into()
        }
    );
    let v = cmd::simple("play", 2.0, vec![s("cam1?token=abc")]);
    let Command::Play { name, .. } = Command::parse(&v).unwrap() else {
        panic!("not play");
    };
    assert_eq!(name.name, "cam1");
    assert_eq!(name.query.as_deref(), Some("token=abc"));
    assert_eq!(StreamName::parse("plain"), name_of("plain", None));
    assert_eq!(StreamName::parse("x?"), name_of("x", None));
    assert_eq!(StreamName::parse("x?a?b"), name_of("x", Some("a?b")));
}

fn name_of(n: &str, q: Option<&str>) -> StreamName {
    StreamName {
        name: n.into(),
        query: q.map(Into::into),
    }
}

#[test]
fn connect_app_drops_its_query() {
    let v = vec![
        s("connect"),
        n(1.0),
        Amf0Value::object([
            ("app", s("live?token=secret")),
            ("tcUrl", s("rtmp://h/live?token=secret")),
            ("objectEncoding", n(0.0)),
        ]),
    ];
    let Command::Connect { params, .. } = Command::parse(&v).unwrap() else {
        panic!("not connect");
    };
    assert_eq!(params.app, "live");
    assert_eq!(
        params.tc_url.as_deref(),
        Some("rtmp://h/live?token=secret"),
        "tcUrl kept as sent"
    );
    assert_eq!(params.object_encoding, Some(0.0));
    assert_eq!(
        params.object[0].1.as_str(),
        Some("live?token=secret"),
        "object as received"
    );
}

// ---------------------------------------------------------------- lenient forms

#[test]
fn delete_and_close_stream_forms() {
    let parse = |name: &str, args: Vec<Amf0Value>| Command::parse(&cmd::simple(name, 9.0, args));
    assert_eq!(
        parse("deleteStream", vec![s("capg")]),
        Ok(Command::DeleteStream {
            tx: 9.0,
            stream: StreamRef::Name("capg".into())
        })
    );
    assert_eq!(
        parse("closeStream", vec![n(1.0)]),
        Ok(Command::CloseStream {
            tx: 9.0,
            stream: StreamRef::Id(1.0)
        })
    );
    assert_eq!(
        parse("closeStream", vec![s("cap")]),
        Ok(Command::CloseStream {
            tx: 9.0,
            stream: StreamRef::Name("cap".into())
        })
    );
    // Flash's NetStream.close() sends closeStream with no argument.
    assert_eq!(
        parse("closeStream", vec![]),
        Ok(Command::CloseStream {
            tx: 9.0,
            stream: StreamRef::None
        })
    );
    assert_eq!(parse("deleteStream", vec![]), bad("deleteStream", "stream"));
    assert_eq!(
        parse("deleteStream", vec![Amf0Value::Boolean(true)]),
        bad("deleteStream", "stream")
    );
}

#[test]
fn command_object_may_be_null_undefined_or_object() {
    for obj in [
        Amf0Value::Null,
        Amf0Value::Undefined,
        Amf0Value::object([("x", n(1.0))]),
    ] {
        let v = vec![s("publish"), n(5.0), obj.clone(), s("cap")];
        assert_eq!(
            Command::parse(&v),
            Ok(Command::Publish {
                tx: 5.0,
                name: name("cap"),
                kind: "live".into()
            }),
            "{obj:?}"
        );
    }
    // createStream and _checkbw with no command object at all.
    assert_eq!(
        Command::parse(&[s("createStream"), n(2.0)]),
        Ok(Command::CreateStream { tx: 2.0 })
    );
    assert_eq!(
        Command::parse(&[s("_checkbw"), n(3.0)]),
        Ok(Command::CheckBw { tx: 3.0 })
    );
}

#[test]
fn play_optional_arguments_and_defaults() {
    let p = |args: Vec<Amf0Value>| Command::parse(&cmd::simple("play", 1.0, args));
    let play = |start: f64, duration: f64, reset: bool| {
        Ok(Command::Play {
            tx: 1.0,
            name: name("a"),
            start,
            duration,
            reset,
        })
    };
    assert_eq!(p(vec![s("a")]), play(-2.0, -1.0, true));
    assert_eq!(p(vec![s("a"), n(-1.0)]), play(-1.0, -1.0, true));
    assert_eq!(
        p(vec![s("a"), n(0.0), n(5.0), Amf0Value::Boolean(false)]),
        play(0.0, 5.0, false)
    );
    // Reset may be a number; Null/Undefined mean "use the default".
    assert_eq!(
        p(vec![s("a"), n(0.0), n(5.0), n(0.0)]),
        play(0.0, 5.0, false)
    );
    assert_eq!(
        p(vec![
            s("a"),
            Amf0Value::Null,
            Amf0Value::Undefined,
            Amf0Value::Null
        ]),
        play(-2.0, -1.0, true)
    );
}

#[test]
fn publish_type_optional() {
    let p = |args: Vec<Amf0Value>| Command::parse(&cmd::simple("publish", 1.0, args));
    let kind = |c: Result<Command, CommandError>| match c {
        Ok(Command::Publish { kind, .. }) => kind,
        other => panic!("{other:?}"),
    };
    assert_eq!(kind(p(vec![s("a")])), "live");
    assert_eq!(kind(p(vec![s("a"), Amf0Value::Null])), "live");
    assert_eq!(kind(p(vec![s("a"), s("record")])), "record");
    assert_eq!(kind(p(vec![s("a"), s("append")])), "append");
}

#[test]
fn pause_and_receive_flags() {
    let p = |name: &str, args: Vec<Amf0Value>| Command::parse(&cmd::simple(name, 6.0, args));
    assert_eq!(
        p("pause", vec![Amf0Value::Boolean(true), n(1500.0)]),
        Ok(Command::Pause {
            tx: 6.0,
            pause: true,
            position_ms: 1500.0
        })
    );
    assert_eq!(
        p("pause", vec![Amf0Value::Boolean(false)]),
        Ok(Command::Pause {
            tx: 6.0,
            pause: false,
            position_ms: 0.0
        })
    );
    assert_eq!(
        p("receiveAudio", vec![Amf0Value::Boolean(false)]),
        Ok(Command::ReceiveAudio {
            tx: 6.0,
            enable: false
        })
    );
    assert_eq!(
        p("receiveVideo", vec![Amf0Value::Boolean(true)]),
        Ok(Command::ReceiveVideo {
            tx: 6.0,
            enable: true
        })
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn bad_arguments_of_known_commands() {
    let p = |name: &str, args: Vec<Amf0Value>| Command::parse(&cmd::simple(name, 1.0, args));
    assert_eq!(p("publish", vec![]), bad("publish", "stream name"));
    assert_eq!(p("publish", vec![n(3.0)]), bad("publish", "stream name"));
    assert_eq!(p("publish", vec![s("a"), n(1.0)]), bad("publish", "type"));
    assert_eq!(p("play", vec![Amf0Value::Null]), bad("play", "stream name"));
    assert_eq!(p("play", vec![s("a"), s("x")]), bad("play", "start"));
    assert_eq!(
        p("play", vec![s("a"), n(0.0), s("x")]),
        bad("play", "duration")
    );
    assert_eq!(
        p("play", vec![s("a"), n(0.0), n(1.0), s("yes")]),
        bad("play", "reset")
    );
    assert_eq!(
        p("releaseStream", vec![]),
        bad("releaseStream", "stream name")
    );
    assert_eq!(p("FCPublish", vec![]), bad("FCPublish", "stream name"));
    assert_eq!(p("FCUnpublish", vec![]), bad("FCUnpublish", "stream name"));
    assert_eq!(
        p("getStreamLength", vec![Amf0Value::Boolean(true)]),
        bad("getStreamLength", "stream name")
    );
    assert_eq!(p("pause", vec![]), bad("pause", "pause"));
    assert_eq!(
        p("pause", vec![Amf0Value::Boolean(true), s("x")]),
        bad("pause", "position")
    );
    assert_eq!(
        p("receiveAudio", vec![s("x")]),
        bad("receiveAudio", "enable")
    );
    assert_eq!(p("receiveVideo", vec![]), bad("receiveVideo", "enable"));
    assert_eq!(p("onStatus", vec![]), bad("onStatus", "info object"));
    assert_eq!(
        p(
            "onStatus",
            vec![Amf0Value::object([("level", s("status"))])]
        ),
        bad("onStatus", "code")
    );
}

#[test]
fn bad_connect() {
    let c = |obj: Option<Amf0Value>| {
        let mut v = vec![s("connect"), n(1.0)];
        v.extend(obj);
        Command::parse(&v)
    };
    assert_eq!(c(None), bad("connect", "command object"));
    assert_eq!(c(Some(Amf0Value::Null)), bad("connect", "command object"));
    assert_eq!(
        c(Some(Amf0Value::object([("tcUrl", s("rtmp://h/live"))]))),
        bad("connect", "app")
    );
    assert_eq!(
        c(Some(Amf0Value::object([("app", n(1.0))]))),
        bad("connect", "app")
    );
    // Wrong-typed optional fields are ignored rather than fatal.
    let Ok(Command::Connect { params, .. }) = c(Some(Amf0Value::object([
        ("app", s("live")),
        ("flashVer", n(1.0)),
    ]))) else {
        panic!("connect with odd flashVer should parse");
    };
    assert_eq!(params.flash_ver, None);
}

#[test]
fn name_and_transaction_id_errors() {
    assert_eq!(Command::parse(&[]), Err(CommandError::NoName));
    assert_eq!(Command::parse(&[n(1.0), n(1.0)]), Err(CommandError::NoName));
    assert_eq!(
        Command::parse(&[s("createStream")]),
        Err(CommandError::NoTransactionId)
    );
    assert_eq!(
        Command::parse(&[s("createStream"), s("2")]),
        Err(CommandError::NoTransactionId)
    );
}

#[test]
fn unknown_commands() {
    assert_eq!(
        Command::parse(&cmd::simple("onBWDone", 0.0, vec![])),
        Ok(Command::Unknown {
            name: "onBWDone".into(),
            tx: 0.0
        })
    );
    // Arguments of unknown commands are not inspected.
    let c = Command::parse(&[s("setPeerInfo"), n(7.0), n(1.0), s("x")]).unwrap();
    assert_eq!(
        c,
        Command::Unknown {
            name: "setPeerInfo".into(),
            tx: 7.0
        }
    );
    assert_eq!(c.name(), "setPeerInfo");
    assert_eq!(c.tx(), 7.0);
    // Case matters: "Publish" is not "publish".
    assert!(matches!(
        Command::parse(&cmd::simple("Publish", 1.0, vec![])),
        Ok(Command::Unknown { .. })
    ));
}

// ---------------------------------------------------------------- builders

#[test]
fn connect_result_matches_nginx_plus_mode_and_parses_back() {
    let ours = cmd::connect_result(1.0, 0.0);
    let c = Command::parse(&ours).unwrap();
    assert_eq!(c.code(), Some(cmd::CODE_CONNECT_SUCCESS));
    assert_eq!(c.tx(), 1.0);
    assert_eq!(
        ours[2].get("mode").and_then(Amf0Value::as_number),
        Some(1.0)
    );
    assert_eq!(
        ours[3].get("description").and_then(Amf0Value::as_str),
        Some("Connection succeeded.")
    );
    // Without `mode` it is exactly what nginx-rtmp sent to ffmpeg.
    let mut stripped = ours.clone();
    if let Amf0Value::Object(props) = &mut stripped[2] {
        props.retain(|(k, _)| k != "mode");
    }
    assert_eq!(enc(&stripped), golden("nginx_connect_result.bin"));
    // objectEncoding is echoed.
    assert_eq!(
        cmd::connect_result(1.0, 3.0)[3]
            .get("objectEncoding")
            .and_then(Amf0Value::as_number),
        Some(3.0)
    );
}

#[test]
fn builders_match_captured_bytes() {
    assert_eq!(
        enc(&cmd::result_number(4.0, 1.0)),
        golden("nginx_create_stream_result.bin")
    );
    assert_eq!(
        enc(&cmd::on_status(
            cmd::LEVEL_STATUS,
            cmd::CODE_PUBLISH_START,
            "Start publishing"
        )),
        golden("nginx_publish_start.bin")
    );
    assert_eq!(
        enc(&cmd::on_status(
            cmd::LEVEL_STATUS,
            cmd::CODE_UNPUBLISH_SUCCESS,
            "Stop publishing"
        )),
        golden("nginx_unpublish_success.bin")
    );
    assert_eq!(
        enc(&cmd::sample_access()),
        golden("nginx_sample_access.bin")
    );
    // Client side: what ffmpeg sends.
    assert_eq!(
        enc(&cmd::connect(
            1.0,
            "live",
            "rtmp://127.0.0.1:19351/live",
            false
        )),
        golden("ffmpeg_play_connect.bin")
    );
    assert_eq!(
        enc(&cmd::create_stream(4.0)),
        golden("ffmpeg_create_stream.bin")
    );
    assert_eq!(
        enc(&cmd::publish(5.0, "cap", "live")),
        golden("ffmpeg_publish.bin")
    );
    assert_eq!(
        enc(&cmd::play(4.0, "cap", -2000.0)),
        golden("ffmpeg_play.bin")
    );
    assert_eq!(
        enc(&cmd::delete_stream(7.0, 1.0)),
        golden("ffmpeg_delete_stream.bin")
    );
    assert_eq!(
        enc(&cmd::simple("FCPublish", 3.0, vec![s("cap")])),
        golden("ffmpeg_fcpublish.bin")
    );
}

#[test]
fn publisher_connect_parses_back() {
    let v = cmd::connect(1.0, "live", "rtmp://h:1935/live", true);
    let Command::Connect { tx, params } = Command::parse(&v).unwrap() else {
        panic!("not connect");
    };
    assert_eq!(tx, 1.0);
    assert_eq!(params.app, "live");
    assert_eq!(params.tc_url.as_deref(), Some("rtmp://h:1935/live"));
    assert_eq!(
        params.flash_ver.as_deref(),
        Some(cmd::CLIENT_FLASH_VER_PUBLISH)
    );
    assert_eq!(params.object[1], ("type".to_string(), s("nonprivate")));
}

#[test]
fn error_builders_parse_back() {
    let c = Command::parse(&cmd::connect_rejected(1.0, "no such app")).unwrap();
    let Command::Error { tx, args } = &c else {
        panic!("{c:?}");
    };
    assert_eq!(*tx, 1.0);
    assert_eq!(c.code(), Some(cmd::CODE_CONNECT_REJECTED));
    assert_eq!(
        args[1].get("level").and_then(Amf0Value::as_str),
        Some("error")
    );
    assert_eq!(
        args[1].get("description").and_then(Amf0Value::as_str),
        Some("no such app")
    );
    let c = Command::parse(&cmd::error(5.0, cmd::CODE_PUBLISH_BAD_NAME, "taken")).unwrap();
    assert!(matches!(c, Command::Error { tx, .. } if tx == 5.0));
    assert_eq!(c.code(), Some(cmd::CODE_PUBLISH_BAD_NAME));
    assert_eq!(
        Command::parse(&cmd::result_null(8.0)).unwrap(),
        Command::Result {
            tx: 8.0,
            args: vec![Amf0Value::Null, Amf0Value::Null]
        }
    );
}

#[test]
fn on_status_builders_parse_back() {
    for code in [
        cmd::CODE_PLAY_RESET,
        cmd::CODE_PLAY_START,
        cmd::CODE_PLAY_STREAM_NOT_FOUND,
        cmd::CODE_PLAY_UNPUBLISH_NOTIFY,
        cmd::CODE_PLAY_PUBLISH_NOTIFY,
        cmd::CODE_PLAY_STOP,
    ] {
        let v = cmd::on_status_details(cmd::LEVEL_STATUS, code, "d", "cap", Some("ab12"));
        assert_eq!(v[3].get("details").and_then(Amf0Value::as_str), Some("cap"));
        assert_eq!(
            v[3].get("clientid").and_then(Amf0Value::as_str),
            Some("ab12")
        );
        assert_eq!(
            Command::parse(&v).unwrap(),
            Command::OnStatus {
                level: "status".into(),
                code: code.into(),
                description: "d".into()
            }
        );
    }
    // level/description default to "" when a peer omits them.
    let v = cmd::simple(
        "onStatus",
        0.0,
        vec![Amf0Value::object([("code", s("X.Y"))])],
    );
    assert_eq!(
        Command::parse(&v).unwrap(),
        Command::OnStatus {
            level: String::new(),
            code: "X.Y".into(),
            description: String::new()
        }
    );
}

#[test]
fn fc_answers() {
    let v = cmd::on_fc_publish(cmd::CODE_PUBLISH_START, "cap");
    assert_eq!(v[0].as_str(), Some("onFCPublish"));
    assert_eq!(v[1].as_number(), Some(0.0));
    assert_eq!(v[2], Amf0Value::Null);
    assert_eq!(
        v[3].get("code").and_then(Amf0Value::as_str),
        Some(cmd::CODE_PUBLISH_START)
    );
    assert_eq!(
        v[3].get("description").and_then(Amf0Value::as_str),
        Some("cap")
    );
    let v = cmd::on_fc_unpublish(cmd::CODE_UNPUBLISH_SUCCESS, "cap");
    assert_eq!(v[0].as_str(), Some("onFCUnpublish"));
    assert_eq!(cmd::info_code(&v), Some(cmd::CODE_UNPUBLISH_SUCCESS));
}

#[test]
fn strip_set_data_frame_from_captures() {
    for file in ["ffmpeg_set_data_frame.bin", "gst_set_data_frame.bin"] {
        let v = values(file);
        let meta = cmd::strip_set_data_frame(&v).unwrap();
        assert_eq!(meta.len(), 2, "{file}");
        assert_eq!(meta[0].as_str(), Some("onMetaData"));
        assert_eq!(
            meta[1].get("width").and_then(Amf0Value::as_number),
            Some(320.0)
        );
    }
    let already = vec![s("onMetaData"), Amf0Value::ecma_array([("w", n(1.0))])];
    assert_eq!(cmd::strip_set_data_frame(&already), None);
    assert_eq!(cmd::strip_set_data_frame(&[]), None);
    assert_eq!(cmd::strip_set_data_frame(&[n(1.0)]), None);
    assert_eq!(
        cmd::strip_set_data_frame(&[s("@setDataFrame")]),
        Some(&[][..])
    );
}

#[test]
fn names_of_parsed_commands() {
    for file in [
        ("ffmpeg_connect.bin", "connect"),
        ("ffmpeg_release_stream.bin", "releaseStream"),
        ("ffmpeg_fcpublish.bin", "FCPublish"),
        ("ffmpeg_fcunpublish.bin", "FCUnpublish"),
        ("ffmpeg_create_stream.bin", "createStream"),
        ("ffmpeg_publish.bin", "publish"),
        ("ffmpeg_play.bin", "play"),
        ("ffmpeg_get_stream_length.bin", "getStreamLength"),
        ("ffmpeg_delete_stream.bin", "deleteStream"),
        ("nginx_connect_result.bin", "_result"),
        ("nginx_publish_start.bin", "onStatus"),
    ] {
        let v = values(file.0);
        let c = Command::parse(&v).unwrap();
        assert_eq!(c.name(), file.1);
        assert_eq!(v[0].as_str(), Some(c.name()), "name is the wire name");
        if file.1 != "onStatus" {
            assert_eq!(Some(c.tx()), v[1].as_number());
        }
    }
}

#[test]
fn parse_owned_agrees_with_parse() {
    let mut cases: Vec<Vec<Amf0Value>> = [
        "ffmpeg_connect.bin",
        "ffmpeg_play_connect.bin",
        "gst_connect.bin",
        "ffmpeg_publish.bin",
        "gst_delete_stream.bin",
        "nginx_connect_result.bin",
        "nginx_create_stream_result.bin",
        "nginx_publish_start.bin",
    ]
    .iter()
    .map(|f| values(f))
    .collect();
    cases.extend([
        vec![],
        vec![s("connect")],
        vec![s("connect"), n(1.0)],
        vec![s("connect"), n(1.0), Amf0Value::Null],
        vec![s("connect"), n(1.0), Amf0Value::object([("tcUrl", s("x"))])],
        vec![
            s("connect"),
            n(2.0),
            Amf0Value::ecma_array([("app", s("a?b"))]),
        ],
        vec![s("_result")],
        vec![s("_result"), n(3.0)],
        vec![
            s("_error"),
            n(3.0),
            Amf0Value::Null,
            Amf0Value::object([("code", s("c"))]),
        ],
        vec![s("_error"), s("x")],
        cmd::connect_result(1.0, 0.0),
        cmd::simple("foo", 1.0, vec![]),
    ]);
    for v in cases {
        assert_eq!(Command::parse_owned(v.clone()), Command::parse(&v), "{v:?}");
    }
    // And the connect object really is the one received.
    let v = values("ffmpeg_connect.bin");
    let Ok(Command::Connect { params, .. }) = Command::parse_owned(v.clone()) else {
        panic!("not connect");
    };
    assert_eq!(Some(&params.object[..]), v[2].properties());
}

// ------------------------------------------------------------ E-RTMP v2

#[test]
fn ertmp_connect_capabilities_are_parsed() {
    let Command::Connect { params, .. } = parse_golden("ertmp_connect.bin") else {
        panic!("not connect");
    };
    let caps = &params.caps;
    let list = caps.four_cc_list.as_ref().unwrap();
    assert_eq!(list.len(), 11);
    assert_eq!((list[0].as_str(), list[8].as_str()), ("av01", ".mp3"));
    assert_eq!(
        caps.video_four_cc_info_map.as_deref(),
        Some(
            &[
                ("*".to_string(), cmd::FOURCC_CAN_FORWARD),
                ("vp09".to_string(), 3)
            ][..]
        )
    );
    assert_eq!(
        caps.audio_four_cc_info_map.as_ref().unwrap()[1],
        (
            "Opus".to_string(),
            cmd::FOURCC_CAN_DECODE | cmd::FOURCC_CAN_ENCODE
        )
    );
    assert_eq!(
        caps.caps_ex,
        Some(cmd::CAPS_EX_RECONNECT | cmd::CAPS_EX_MULTITRACK)
    );
    assert!(caps.can_reconnect() && caps.is_announced());
    // parse_owned agrees.
    let Ok(Command::Connect { params: owned, .. }) =
        Command::parse_owned(values("ertmp_connect.bin"))
    else {
        panic!("not connect");
    };
    assert_eq!(owned.caps, params.caps);
    // The legacy captures announce nothing.
    for file in [
        "ffmpeg_connect.bin",
        "gst_connect.bin",
        "ffmpeg_play_connect.bin",
    ] {
        let Command::Connect { params, .. } = parse_golden(file) else {
            panic!("{file}: not connect");
        };
        assert!(!params.caps.is_announced(), "{file}: {:?}", params.caps);
    }
}

#[test]
fn ertmp_properties_of_the_wrong_type_are_ignored_not_errors() {
    let connect = |props: Vec<(&str, Amf0Value)>| {
        let mut all = vec![("app", s("live"))];
        all.extend(props);
        Command::parse(&[s("connect"), n(1.0), Amf0Value::object(all)])
    };
    let Ok(Command::Connect { params, .. }) = connect(vec![
        ("fourCcList", s("avc1")),
        ("videoFourCcInfoMap", Amf0Value::StrictArray(vec![n(4.0)])),
        ("audioFourCcInfoMap", Amf0Value::Null),
        ("capsEx", s("1")),
    ]) else {
        panic!("connect refused");
    };
    assert!(!params.caps.is_announced(), "{:?}", params.caps);
    // Bad entries are skipped, good ones kept; an ECMA array counts as object;
    // fractional, negative and oversized flags are not flags.
    let Ok(Command::Connect { params, .. }) = connect(vec![
        (
            "fourCcList",
            Amf0Value::StrictArray(vec![s("hvc1"), n(1.0), s(""), s(&"x".repeat(40)), s("*")]),
        ),
        (
            "videoFourCcInfoMap",
            Amf0Value::ecma_array([("avc1", n(4.0)), ("hvc1", n(0.5)), ("av01", s("4"))]),
        ),
        ("capsEx", n(-1.0)),
    ]) else {
        panic!("connect refused");
    };
    let caps = params.caps;
    assert_eq!(
        caps.four_cc_list,
        Some(vec!["hvc1".to_string(), "*".to_string()])
    );
    assert_eq!(
        caps.video_four_cc_info_map,
        Some(vec![("avc1".to_string(), 4)])
    );
    assert_eq!(caps.caps_ex, None);
    assert!(!caps.can_reconnect());
    // A hostile list is capped.
    let long = Amf0Value::StrictArray((0..1000).map(|_| s("avc1")).collect());
    let Ok(Command::Connect { params, .. }) = connect(vec![("fourCcList", long)]) else {
        panic!("connect refused");
    };
    assert_eq!(params.caps.four_cc_list.unwrap().len(), cmd::MAX_FOURCCS);
}

#[test]
fn ertmp_connect_result_and_reconnect_request_match_the_spec_layouts() {
    let ours = cmd::connect_result_with(1.0, 0.0, &cmd::EnhancedCaps::server());
    assert_eq!(enc(&ours), golden("ertmp_connect_result.bin"));
    // Empty caps: the legacy answer, byte for byte.
    assert_eq!(
        cmd::connect_result_with(1.0, 0.0, &cmd::EnhancedCaps::default()),
        cmd::connect_result(1.0, 0.0)
    );
    // A client reads our caps back from the properties object.
    let server = cmd::EnhancedCaps::parse(&ours[2]);
    assert_eq!(server, cmd::EnhancedCaps::server());
    assert!(server.can_reconnect());

    let req = cmd::reconnect_request(
        "The streaming server is undergoing updates.",
        Some("rtmp://foo.mydomain.com:1935/realtimeapp"),
    );
    assert_eq!(enc(&req), golden("ertmp_reconnect_request.bin"));
    let parsed = parse_golden("ertmp_reconnect_request.bin");
    assert_eq!(parsed.code(), Some(cmd::CODE_CONNECT_RECONNECT_REQUEST));
    assert_eq!(parsed.tx(), 0.0);
    let bare = cmd::reconnect_request("x", None);
    assert!(bare[3].get("tcUrl").is_none());
    assert_eq!(
        bare[3].get("level").and_then(Amf0Value::as_str),
        Some(cmd::LEVEL_STATUS)
    );
}

#[test]
fn client_connect_names_every_fourcc_and_the_wildcard() {
    let caps = cmd::EnhancedCaps::client(cmd::CAPS_EX_RECONNECT);
    let v = cmd::connect_with(1.0, "live", "rtmp://h/live", true, None, &caps);
    // The legacy fields first, unchanged; the E-RTMP ones after them.
    let legacy = cmd::connect(1.0, "live", "rtmp://h/live", true);
    let props = v[2].properties().unwrap();
    assert_eq!(&props[..4], legacy[2].properties().unwrap());
    let Command::Connect { params, .. } = Command::parse(&v).unwrap() else {
        panic!("not connect");
    };
    let list = params.caps.four_cc_list.unwrap();
    for f in ["*", "avc1", "hvc1", "av01", "vp09", "vp08"] {
        assert!(list.iter().any(|x| x == f), "{f} missing");
    }
    for f in ["mp4a", "Opus", "fLaC", "ac-3", "ec-3", ".mp3"] {
        assert!(list.iter().any(|x| x == f), "{f} missing");
    }
    let video = params.caps.video_four_cc_info_map.unwrap();
    assert_eq!(video[0], ("*".to_string(), cmd::FOURCC_CAN_FORWARD));
    assert!(video.iter().all(|(_, f)| *f == cmd::FOURCC_CAN_FORWARD));
    assert_eq!(params.caps.audio_four_cc_info_map.unwrap().len(), 7);
    assert_eq!(params.caps.caps_ex, Some(cmd::CAPS_EX_RECONNECT));
}
