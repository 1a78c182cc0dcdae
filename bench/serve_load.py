"""Closed-loop load on an OpenAI-compatible completions server (bench/serve.sh runs it).

usage: serve_load.py URL --clients N --seconds S [--max-tokens T] [--grace G] [--label L]

N clients each send a streaming `POST URL/v1/completions` (a prompt from a fixed list, greedy,
T tokens at most), read it to its end and send the next, until S seconds have passed; requests
still running then get G more seconds and are cut off after that (counted as `unfinished`, not
as errors). Standard library only (asyncio streams, HTTP/1.1 with chunked bodies), so it runs in
any venv. Per request: time to first token (send to the first event carrying text) and the gaps
between later events (inter-token latency); tokens are the response's usage when it sends one,
else its events with text. Prints one JSON line: requests completed, errors (by kind),
unfinished, completion tokens, aggregate tokens/s (tokens of completed requests over the time
from the start to the last completion),
p50/p99 of time to first token and inter-token latency in ms.
"""
import argparse
import asyncio
import json
import re
import time
import urllib.parse

PROMPTS = [
    "The quick brown fox",
    "In the beginning the module",
    "To install the package, run",
    "A function that returns a list of",
    "The following example shows how",
    "Errors raised by the parser are",
    "When the interpreter starts, it",
    "Each thread holds a lock on",
]


# Events end with a blank line; sse-starlette (llama-cpp-python's server) ends lines with CRLF.
EVENT_END = re.compile(rb"\r?\n\r?\n")


class RequestError(Exception):
    pass


async def read_chunked(reader):
    """Yields the pieces of a chunked body."""
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data


async def body_pieces(reader, headers):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        async for piece in read_chunked(reader):
            yield piece
    elif "content-length" in headers:
        yield await reader.readexactly(int(headers["content-length"]))
    else:
        while piece := await reader.read(1 << 16):
            yield piece


async def one_request(host, port, path, payload, sample):
    """Sends one streaming request; records into `sample` as events arrive."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        body = json.dumps(payload).encode()
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        sent = time.perf_counter()
        status_line = await reader.readline()
        status = int(status_line.split()[1]) if status_line else 0
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 200:
            async for _ in body_pieces(reader, headers):
                pass
            raise RequestError(f"http {status}")
        buffer, last, events, usage, done = b"", None, 0, None, False
        async for piece in body_pieces(reader, headers):
            buffer += piece
            while len(parts := EVENT_END.split(buffer, maxsplit=1)) == 2:
                event, buffer = parts
                if not event.startswith(b"data:"):
                    continue  # a comment (a keep-alive ping) or a field pipe does not send
                data = event.removeprefix(b"data:").strip()
                if data == b"[DONE]":
                    done = True
                    continue
                chunk = json.loads(data)
                if chunk.get("usage"):
                    usage = chunk["usage"]
                if not any(c.get("text") for c in chunk.get("choices", [])):
                    continue
                now = time.perf_counter()
                if last is None:
                    sample["ttft"] = now - sent
                else:
                    sample["itl"].append(now - last)
                last = now
                events += 1
        if not done:
            raise RequestError("stream ended without [DONE]")
        sample["tokens"] = usage["completion_tokens"] if usage else events
        sample["ended"] = time.perf_counter()
    finally:
        writer.close()


async def client(index, args, host, port, path, deadline, results):
    n = index
    while time.perf_counter() < deadline:
        payload = {"prompt": PROMPTS[n % len(PROMPTS)], "max_tokens": args.max_tokens, "temperature": 0, "stream": True,
                   "stream_options": {"include_usage": True}}
        if args.model:
            payload["model"] = args.model
        n += args.clients
        sample = {"itl": []}
        try:
            await one_request(host, port, path, payload, sample)
            results["completed"].append(sample)
        except asyncio.CancelledError:
            results["unfinished"] += 1
            raise
        except (RequestError, OSError, ValueError, KeyError, asyncio.IncompleteReadError) as error:
            kind = str(error) if isinstance(error, RequestError) else type(error).__name__
            results["errors"][kind] = results["errors"].get(kind, 0) + 1


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--grace", type=float, default=30)
    parser.add_argument("--model", default=None)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.url)
    path = url.path.rstrip("/") + "/v1/completions"
    results = {"completed": [], "errors": {}, "unfinished": 0}
    start = time.perf_counter()
    deadline = start + args.seconds
    tasks = [asyncio.create_task(client(i, args, url.hostname, url.port, path, deadline, results)) for i in range(args.clients)]
    _, pending = await asyncio.wait(tasks, timeout=args.seconds + args.grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    completed = results["completed"]
    tokens = sum(s["tokens"] for s in completed)
    busy = max((s["ended"] for s in completed), default=start + args.seconds) - start
    ttft = [s["ttft"] for s in completed if "ttft" in s]
    itl = [gap for s in completed for gap in s["itl"]]
    ms = lambda v: None if v is None else round(v * 1000, 1)
    print(json.dumps({
        "label": args.label, "clients": args.clients, "seconds": args.seconds, "max_tokens": args.max_tokens,
        "completed": len(completed), "errors": results["errors"], "unfinished": results["unfinished"],
        "completion_tokens": tokens, "tokens_per_s": round(tokens / busy, 1),
        "wall_s": round(time.perf_counter() - start, 1),
        "ttft_p50_ms": ms(percentile(ttft, 50)), "ttft_p99_ms": ms(percentile(ttft, 99)),
        "itl_p50_ms": ms(percentile(itl, 50)), "itl_p99_ms": ms(percentile(itl, 99)),
    }))


asyncio.run(main())
