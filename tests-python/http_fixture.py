"""A small HTTP server on 127.0.0.1 for the collect stage's tests.

usage: http_fixture.py PORT_FILE   (writes the chosen port there, serves until killed)

/robots.txt disallows /private/ for everyone; /page/N is HTML; /text is plain text; /flaky
answers 503 once, then 200; /image is image/png; /big is 3 MB; anything else is 404. Each
request's path and time go to the log on standard output.
"""
import http.server
import sys
import time

FLAKY = {"count": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, status, body, content_type):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        print(f"{time.monotonic():.3f} {self.path} {self.headers.get('User-Agent')}", flush=True)
        if self.path == "/robots.txt":
            return self.reply(200, "User-agent: *\nDisallow: /private/\n", "text/plain")
        if self.path.startswith("/page/"):
            return self.reply(200, f"<html><body><p>page {self.path[6:]}</p></body></html>", "text/html; charset=utf-8")
        if self.path == "/text":
            return self.reply(200, "plain words", "text/plain")
        if self.path == "/flaky":
            FLAKY["count"] += 1
            if FLAKY["count"] == 1:
                return self.reply(503, "busy", "text/plain")
            return self.reply(200, "recovered", "text/plain")
        if self.path == "/image":
            return self.reply(200, b"\x89PNG", "image/png")
        if self.path == "/big":
            return self.reply(200, "x" * (3 << 20), "text/plain")
        if self.path.startswith("/private/"):
            return self.reply(200, "secret", "text/plain")
        return self.reply(404, "no", "text/plain")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
open(sys.argv[1], "w").write(str(server.server_address[1]))
server.serve_forever()
