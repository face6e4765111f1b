#!/usr/bin/env python3
"""Regenerate the AMF0 golden vectors in this folder (Python 3, stdlib only).

usage: python3 golden/amf0/gen.py [CAPTURES_DIR]   (default ../shared/captures beside the checkout)

1. Spec vectors: one .bin per AMF0 type, laid out by hand from the AMF0
   specification (section 2), independent of the Rust encoder.
2. Capture vectors: whole AMF0 message bodies cut out of the real client and
   server byte streams. The handshake (1537 + 1536 bytes) is skipped, then
   chunks are reassembled per csid (fmt 0-3, 1-3 byte basic headers, extended
   timestamps, Set Chunk Size sent in the same direction), and the Nth message
   of a given type is written out.
3. E-RTMP v2 vectors: connect, its _result and the reconnect request, laid
   out by hand from the enhanced-rtmp v2 spec's tables (see ERTMP).
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/captures")


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def num(x):
    return b"\x00" + struct.pack(">d", x)


def s(t):
    b = t.encode()
    return b"\x02" + u16(len(b)) + b


def key(t):
    b = t.encode()
    return u16(len(b)) + b


END = b"\x00\x00\x09"

SPEC = {
    "number": num(1234.5),
    "number_neg_zero": b"\x00" + struct.pack(">d", -0.0),
    "boolean_true": b"\x01\x01",
    "boolean_false": b"\x01\x00",
    "string": s("hello \u00e9"),
    "string_empty": b"\x02\x00\x00",
    "object": b"\x03" + key("b") + num(2.0) + key("a") + s("x") + key("") + b"\x05" + END,
    "object_empty": b"\x03" + END,
    "null": b"\x05",
    "undefined": b"\x06",
    "reference": b"\x07" + u16(0x0102),
    "ecma_array": b"\x08" + u32(2) + key("width") + num(320.0) + key("stereo") + b"\x01\x00" + END,
    "strict_array": b"\x0a" + u32(3) + num(1.0) + s("two") + b"\x05",
    "date": b"\x0b" + struct.pack(">d", 1700000000000.0) + struct.pack(">h", -120),
    "long_string": b"\x0c" + u32(3) + b"abc",
    "xml_document": b"\x0f" + u32(9) + b"<a>b</a>!",
    "typed_object": b"\x10" + key("flash.Point") + key("x") + num(1.0) + key("y") + num(-1.0) + END,
    "nested": b"\x03" + key("o") + b"\x03" + key("arr") + b"\x0a" + u32(1) + b"\x08" + u32(0) + END + END + END,
}


def obj(pairs, marker=b"\x03"):
    return marker + b"".join(key(k) + v for k, v in pairs) + END


def strict(items):
    return b"\x0a" + u32(len(items)) + b"".join(items)


# E-RTMP v2 (veovera enhanced-rtmp-v2.md, "Enhancing NetConnection connect
# Command" and "Reconnect Request"), laid out by hand from the spec's tables
# and example values: no capture of these exists here (the installed ffmpeg
# 5.1 sends no E-RTMP properties).
ERTMP = {
    # A client connect with every E-RTMP property: the spec's fourCcList
    # example 1, its info map examples ("*" CanForward, vp09/Opus CanDecode |
    # CanEncode) and capsEx Reconnect | Multitrack.
    "ertmp_connect": s("connect") + num(1.0) + obj([
        ("app", s("live")),
        ("type", s("nonprivate")),
        ("flashVer", s("FMLE/3.0 (compatible; Lavf61.7.100)")),
        ("tcUrl", s("rtmp://127.0.0.1:1935/live")),
        ("fourCcList", strict([s(f) for f in [
            "av01", "vp09", "vp08", "hvc1", "avc1", "ac-3", "ec-3", "Opus", ".mp3", "fLaC", "mp4a"]])),
        ("videoFourCcInfoMap", obj([("*", num(4.0)), ("vp09", num(3.0))])),
        ("audioFourCcInfoMap", obj([("*", num(4.0)), ("Opus", num(3.0))])),
        ("capsEx", num(3.0)),
    ]),
    # Our connect _result to such a client: nginx-rtmp's properties plus
    # mode, then the server's E-RTMP support (any FourCC CanForward, capsEx
    # Reconnect | Multitrack | ModEx), then the usual info object.
    "ertmp_connect_result": s("_result") + num(1.0) + obj([
        ("fmsVer", s("FMS/3,0,1,123")),
        ("capabilities", num(31.0)),
        ("mode", num(1.0)),
        ("fourCcList", strict([s("*")])),
        ("videoFourCcInfoMap", obj([("*", num(4.0))])),
        ("audioFourCcInfoMap", obj([("*", num(4.0))])),
        ("capsEx", num(7.0)),
    ]) + obj([
        ("level", s("status")),
        ("code", s("NetConnection.Connect.Success")),
        ("description", s("Connection succeeded.")),
        ("objectEncoding", num(0.0)),
    ]),
    # onStatus ReconnectRequest with the spec table's example values (the
    # table lists the properties alphabetically; order has no meaning in an
    # AMF0 object, this is the order the server writes).
    "ertmp_reconnect_request": s("onStatus") + num(0.0) + b"\x05" + obj([
        ("level", s("status")),
        ("code", s("NetConnection.Connect.ReconnectRequest")),
        ("description", s("The streaming server is undergoing updates.")),
        ("tcUrl", s("rtmp://foo.mydomain.com:1935/realtimeapp")),
    ]),
}


def messages(path):
    """Yield (type, msid, payload) for every message of one capture direction."""
    data = open(path, "rb").read()
    i, chunk_size, st = 3073, 128, {}
    while i < len(data):
        b0 = data[i]
        fmt, csid = b0 >> 6, b0 & 0x3F
        i += 1
        if csid == 0:
            csid, i = 64 + data[i], i + 1
        elif csid == 1:
            csid, i = 64 + data[i] + 256 * data[i + 1], i + 2
        c = st.setdefault(csid, {"ts": 0, "len": 0, "type": 0, "msid": 0, "buf": b""})
        if fmt <= 2:
            ts = int.from_bytes(data[i:i + 3], "big")
            i += 3
            if fmt <= 1:
                c["len"] = int.from_bytes(data[i:i + 3], "big")
                c["type"] = data[i + 3]
                i += 4
            if fmt == 0:
                c["msid"] = int.from_bytes(data[i:i + 4], "little")
                i += 4
            if ts == 0xFFFFFF:
                i += 4
        elif c.get("ext"):
            i += 4
        if fmt <= 2:
            c["ext"] = ts == 0xFFFFFF
        n = min(chunk_size, c["len"] - len(c["buf"]))
        c["buf"] += data[i:i + n]
        i += n
        if len(c["buf"]) == c["len"]:
            p, c["buf"] = c["buf"], b""
            if c["type"] == 1:
                chunk_size = struct.unpack(">I", p[:4])[0] & 0x7FFFFFFF
            yield c["type"], c["msid"], p


def nth(path, mtype, n):
    found = [p for t, _, p in messages(os.path.join(CAPS, path)) if t == mtype]
    return found[n]


CAPTURE = {
    # (capture, message type, index among messages of that type)
    "ffmpeg_connect": ("ffmpeg_publish.c2s.bin", 20, 0),
    "ffmpeg_release_stream": ("ffmpeg_publish.c2s.bin", 20, 1),
    "ffmpeg_fcpublish": ("ffmpeg_publish.c2s.bin", 20, 2),
    "ffmpeg_create_stream": ("ffmpeg_publish.c2s.bin", 20, 3),
    "ffmpeg_publish": ("ffmpeg_publish.c2s.bin", 20, 4),
    "ffmpeg_fcunpublish": ("ffmpeg_publish.c2s.bin", 20, 5),
    "ffmpeg_delete_stream": ("ffmpeg_publish.c2s.bin", 20, 6),
    "ffmpeg_set_data_frame": ("ffmpeg_publish.c2s.bin", 18, 0),
    "ffmpeg_play_connect": ("ffmpeg_play.c2s.bin", 20, 0),
    "ffmpeg_get_stream_length": ("ffmpeg_play.c2s.bin", 20, 2),
    "ffmpeg_play": ("ffmpeg_play.c2s.bin", 20, 3),
    "rtmpdump_play": ("rtmpdump_play.c2s.bin", 20, 2),
    "gst_connect": ("gst_publish.c2s.bin", 20, 0),
    "gst_publish": ("gst_publish.c2s.bin", 20, 4),
    "gst_set_data_frame": ("gst_publish.c2s.bin", 18, 0),
    "gst_fcunpublish": ("gst_publish.c2s.bin", 20, 5),
    "gst_delete_stream": ("gst_publish.c2s.bin", 20, 6),
    "gst_play": ("gst_play.c2s.bin", 20, 2),
    "nginx_connect_result": ("ffmpeg_publish.s2c.bin", 20, 0),
    "nginx_create_stream_result": ("ffmpeg_publish.s2c.bin", 20, 1),
    "nginx_publish_start": ("ffmpeg_publish.s2c.bin", 20, 2),
    "nginx_unpublish_success": ("gst_publish.s2c.bin", 20, 3),
    "nginx_sample_access": ("ffmpeg_play.s2c.bin", 18, 0),
}


def main():
    for name, body in SPEC.items():
        open(os.path.join(HERE, "spec_%s.bin" % name), "wb").write(body)
    for name, body in ERTMP.items():
        open(os.path.join(HERE, "%s.bin" % name), "wb").write(body)
    for name, (cap, mtype, n) in CAPTURE.items():
        open(os.path.join(HERE, "%s.bin" % name), "wb").write(nth(cap, mtype, n))


if __name__ == "__main__":
    main()
