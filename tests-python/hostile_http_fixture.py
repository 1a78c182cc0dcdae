"""A hostile HTTP server on 127.0.0.1 for the collect stage's tests.

usage: hostile_http_fixture.py PORT_FILE   (writes the chosen port there, serves until killed)

/trickle answers 200 and then sends one byte every half second, forever; /endless sends a
chunked text body that never ends, as fast as loopback takes it; /ok is a short text.
"""
import http.server
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def start(self, headers):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def do_GET(self):
        try:
            if self.path == "/trickle":
                self.start({"Content-Length": str(1 << 30)})
                while True:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.5)
            elif self.path == "/endless":
                self.start({"Transfer-Encoding": "chunked"})
                chunk = b"y" * (1 << 16)
                while True:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif self.path == "/ok":
                body = b"fine words"
                self.start({"Content-Length": str(len(body))})
                self.wfile.write(body)
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
open(sys.argv[1], "w").write(str(server.server_address[1]))
server.serve_forever()
