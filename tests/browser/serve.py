#!/usr/bin/env python3
"""A stand-in for the server's HTTP side, for checking the browser scripts
before the real listener exists: serves a directory like
`python3 -m http.server`, except that `*.flv` files are sent the way an
HTTP-FLV stream is (video/x-flv, Access-Control-Allow-Origin: *,
Connection: close, no Content-Length) and paced by their tag timestamps, so
a player sees a live stream that advances in real time.

    python3 serve.py DIR PORT
"""
import functools
import http.server
import struct
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.split("?")[0].endswith(".flv"):
            return super().do_GET()
        path = self.translate_path(self.path.split("?")[0])
        try:
            data = open(path, "rb").read()
        except OSError:
            return self.send_error(404)
        self.send_response(200)
        self.send_header("Content-Type", "video/x-flv")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.stream(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def stream(self, data):
        self.wfile.write(data[:13])
        pos, start = 13, time.monotonic()
        while pos + 11 <= len(data):
            size = struct.unpack(">I", b"\0" + data[pos + 1:pos + 4])[0]
            ts = struct.unpack(">I", data[pos + 7:pos + 8] + data[pos + 4:pos + 7])[0]
            delay = start + ts / 1000.0 - time.monotonic()
            if delay > 0:
                self.wfile.flush()
                time.sleep(delay)
            end = pos + 11 + size + 4
            self.wfile.write(data[pos:end])
            pos = end
        self.wfile.flush()


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    handler = functools.partial(Handler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
