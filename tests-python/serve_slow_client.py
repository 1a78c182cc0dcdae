"""Slowloris clients against a running `pipe serve`, and a normal client while they trickle.

usage: serve_slow_client.py HOST PORT SECONDS

Opens two connections that send one byte every 0.2 s for up to SECONDS: `head` trickles a
request head that never ends, `body` a complete head then a 1000-byte body. While they
trickle, a normal client asks /health and a completion. Prints one JSON object:
{"head": {"closed_after": s, "status": "first line or empty"}, "body": {...},
 "others": [status of /health, status of the completion]}. A connection the server never
closed has "closed_after": null.
"""
import json
import socket
import sys
import threading
import time
import urllib.request

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
HEAD = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def trickle(name, prefix, payload, results):
    """Sends prefix at once, then payload a byte at a time until the server closes."""
    sock = socket.create_connection((host, port))
    sock.sendall(prefix)
    start = time.monotonic()
    closed_after = None
    for byte in payload:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            closed_after = time.monotonic() - start
            break
        sock.settimeout(0.2)
        try:
            sock.recv(1, socket.MSG_PEEK)  # returns on an answer or the end of the connection
            closed_after = time.monotonic() - start
            break
        except socket.timeout:
            pass
        except OSError:
            closed_after = time.monotonic() - start
            break
        if time.monotonic() - start > seconds:
            break
    response = b""
    if closed_after is not None:
        sock.settimeout(2)
        try:
            while chunk := sock.recv(1 << 16):
                response += chunk
        except OSError:
            pass
    sock.close()
    results[name] = {"closed_after": closed_after, "status": response.split(b"\r\n", 1)[0].decode("latin-1")}


results = {}
threads = [
    threading.Thread(target=trickle, args=("head", HEAD, b"X-Slow: " + b"a" * 10000, results)),
    threading.Thread(target=trickle, args=("body", HEAD + b"Content-Length: 1000\r\n\r\n", b'{"prompt": "' + b"b" * 1000, results)),
]
for thread in threads:
    thread.start()
time.sleep(0.5)
others = []
base = f"http://{host}:{port}"
others.append(urllib.request.urlopen(base + "/health", timeout=30).status)
request = urllib.request.Request(base + "/v1/completions", data=json.dumps({"prompt": "The", "max_tokens": 4}).encode(),
                                 headers={"Content-Type": "application/json"})
others.append(urllib.request.urlopen(request, timeout=60).status)
for thread in threads:
    thread.join()
results["others"] = others
print(json.dumps(results))
