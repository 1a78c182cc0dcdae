#!/usr/bin/env bash
# Serving load test: `pipe serve` and llama-cpp-python's OpenAI server (`python -m
# llama_cpp.server`, pinned, in .venv-bench/) one after the other on the same GGUF file and
# thread count, each under CLIENTS closed-loop streaming clients for SECONDS
# (bench/serve_load.py: greedy completions of MAX_TOKENS tokens at most, short prompts): requests
# completed, errors (goal: zero), requests cut off at the end, aggregate tokens/s, p50/p99 time to
# first token and inter-token latency, and each server's peak RSS (VmHWM). Bounded: a run lasts
# SECONDS plus at most 30 s for the requests still running, which are then cut off. Each server
# is started here and stopped by its PID. pipe decodes SLOTS sequences together (with a queue
# for the rest of the clients); llama-cpp-python's server runs one request at a time, and is
# started with --interrupt_requests False: by default a new request cuts the running one short,
# so under load it would answer mostly one-token completions.
# JSON lines in bench/out/serve-{pipe,llama-cpp}.jsonl.
#
#   bench/serve.sh [--clients N=64] [--seconds S=60] [--max-tokens T=64] [--threads N=cores]
#                  [--slots N=16] [GGUF TOKENIZER]
#   (default: bench/out/models/30m-q8_0.gguf and its tokenizer-8192/, made by bench/inference-models.sh)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
clients=64 seconds=60 max_tokens=64 threads="$(nproc)" slots=16 grace=30
model="" tokenizer=""
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --max-tokens) max_tokens="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --slots) slots="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) if [ -z "$model" ]; then model="$1"; else tokenizer="$1"; fi; shift ;;
  esac
done
[ "$clients" -ge 1 ] && [ "$clients" -le 1024 ] || { echo "--clients must be in 1...1024" >&2; exit 2; }
[ "$seconds" -ge 1 ] && [ "$seconds" -le 3600 ] || { echo "--seconds must be in 1...3600" >&2; exit 2; }
out=bench/out
if [ -z "$model" ]; then
  bench/inference-models.sh export_30m_q8_0 >/dev/null
  model="$out/models/30m-q8_0.gguf" tokenizer="$out/models/tokenizer-8192"
fi
[ -n "$tokenizer" ] || { echo "give the GGUF file's tokenizer (a tokenizer.json or its folder) after it" >&2; exit 2; }
. bench/lib/bench-venv.sh
bench_venv_llama_cpp
bench_venv_install 'llama-cpp-python[server]==0.3.36'
swift build -c release --product pipe >/dev/null

server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  server_pid=""
}
trap stop_server EXIT

free_port() { "$bench_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run_one LABEL READY_PATH COMMAND...: starts the server, waits until READY_PATH answers 200
# (at most 300 s), runs the load, adds the peak RSS to the JSON line, stops the server.
run_one() {
  local label="$1" ready="$2" port="$3"
  shift 3
  "$@" >"$out/serve-$label.log" 2>&1 &
  server_pid=$!
  local waited=0
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$ready")" = 200 ]; do
    kill -0 "$server_pid" 2>/dev/null || { echo "$label did not start:" >&2; tail -20 "$out/serve-$label.log" >&2; exit 1; }
    [ "$waited" -lt 3000 ] || { echo "$label not ready after 300 s" >&2; exit 1; }
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "== $label: $clients clients, $seconds s, $max_tokens tokens at most, $threads threads" >&2
  local line
  line="$(timeout $((seconds + grace + 60)) "$bench_python" bench/serve_load.py "http://127.0.0.1:$port" --clients "$clients" \
    --seconds "$seconds" --max-tokens "$max_tokens" --grace "$grace" --label "$label")"
  local peak_kb
  peak_kb="$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")"
  stop_server
  "$bench_python" -c 'import json, sys; r = json.loads(sys.argv[1]); r["peak_rss_mb"] = round(int(sys.argv[2]) / 1024); r["model"] = sys.argv[3]; print(json.dumps(r))' \
    "$line" "$peak_kb" "$(basename "$model")" >"$out/serve-$label.jsonl"
}

port="$(free_port)"
run_one pipe /health "$port" .build/release/pipe serve "$model" -t "$tokenizer" --port "$port" --threads "$threads" \
  --slots "$slots" --max-queue "$clients"
port="$(free_port)"
context="$("$bench_python" -c 'import sys; from llama_cpp import Llama; print(Llama(sys.argv[1], n_ctx=0, verbose=False).n_ctx())' "$model")"
run_one llama-cpp /v1/models "$port" "$bench_python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" \
  --n_threads "$threads" --n_threads_batch "$threads" --n_ctx "$context" --interrupt_requests False

"$bench_python" - "$out/serve-pipe.jsonl" "$out/serve-llama-cpp.jsonl" <<'PY'
import json, sys
rows = [json.loads(open(name).read()) for name in sys.argv[1:]]
cols = ["completed", "errors", "unfinished", "completion_tokens", "tokens_per_s", "ttft_p50_ms", "ttft_p99_ms",
        "itl_p50_ms", "itl_p99_ms", "peak_rss_mb"]
print(f"{rows[0]['model']}, {rows[0]['clients']} clients, {rows[0]['seconds']} s, {rows[0]['max_tokens']} tokens at most")
print(" | ".join(["server"] + cols))
for r in rows:
    print(" | ".join([r["label"]] + [json.dumps(r[c]) if isinstance(r[c], dict) else str(r[c]) for c in cols]))
PY
