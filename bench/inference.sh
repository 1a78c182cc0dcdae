#!/usr/bin/env bash
# Inference benchmark: pipe's engine and llama.cpp side by side on pipe's own GGUF files
# (bench/inference-models.sh makes them), same files, same thread count, one run:
#  1. the greedy reference: llama.cpp's 64-token greedy continuations of three prompts on the
#     quickstart-shaped model in F32, Q8_0 and Q4_0 (tests-python/llama_greedy.py, F32 KV cache),
#     compared token by token with `pipe generate --temperature 0` on the same files: with
#     llama.cpp's exact attention (flash attention off; the conformance check, exit status 1 on a
#     divergence) and with its default CPU flash attention (reported only);
#  2. speed: prefill tokens/s of a 512-token prompt, single-stream greedy decode tokens/s,
#     aggregate decode tokens/s of 1, 4 and 16 concurrent sequences, each the median of RUNS runs
#     with its peak RSS: llama.cpp (bench/llama_cpp_inference.py, F32 KV cache) then pipe
#     (bench/pipe_inference.py, `pipe generate --json`), and pipe's figure over llama.cpp's.
# llama-cpp-python (pinned, built from source for this CPU) goes into .venv-bench/
# (bench/lib/bench-venv.sh). JSON lines are kept in bench/out/inference-{llama-cpp,pipe}-tTHREADS.jsonl
# and greedy-{exact,flash}.jsonl.
#
#   bench/inference.sh [--threads N=cores] [--runs R=5] [GGUF ...]   (default: bench/out/models/*.gguf)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
threads="$(nproc)"
runs=5
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) models+=("$(realpath -s "$1")"); shift ;;
  esac
done
scripts/install-deps g++
. bench/lib/bench-venv.sh
bench_venv_llama_cpp
out=bench/out
if [ ${#models[@]} -eq 0 ]; then
  bench/inference-models.sh
  models=("$out"/models/{qs,30m,100m}-{f32,q8_0,q4_0}.gguf)
fi
swift build -c release --product pipe >/dev/null

qs=("$out"/models/qs-{f32,q8_0,q4_0}.gguf)
greedy_status=0
if [ -f "${qs[0]}" ]; then
  for attention in off auto; do
    label=$([ "$attention" = off ] && echo exact || echo flash)
    echo "== greedy: pipe generate vs llama.cpp (flash attention $attention), 3 prompts x 64 tokens on ${qs[*]##*/}"
    status=0
    "$bench_python" tests-python/llama_greedy.py "${qs[@]}" --threads "$threads" --flash-attn "$attention" \
      --pipe .build/release/pipe --tokenizer "$out/models/tokenizer-4096" >"$out/greedy-$label.jsonl" || status=$?
    if [ "$attention" = off ]; then greedy_status=$status; fi
    "$bench_python" - "$out/greedy-$label.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "summary" in r:
        print(f"  pipe generate agrees with llama.cpp token for token on {r['agree']} of {r['total']} (prompt x type)")
        continue
    p = r.get("pipe", {})
    where = "agree" if p.get("agree") else (p.get("error") or f"first divergence at token {p.get('first_divergence')}")
    print(f"  {r['model']:<10} {r['prompt']!r:<15} {where}")
PY
  done
fi

echo "== llama.cpp: ${#models[@]} files, $threads threads, median of $runs runs"
"$bench_python" bench/llama_cpp_inference.py --threads "$threads" --runs "$runs" "${models[@]}" >"$out/inference-llama-cpp-t$threads.jsonl"
echo "== pipe: ${#models[@]} files, $threads threads, median of $runs runs"
"$bench_python" bench/pipe_inference.py --pipe .build/release/pipe --tokenizers "$out/models" --threads "$threads" \
  --runs "$runs" "${models[@]}" >"$out/inference-pipe-t$threads.jsonl"

"$bench_python" - "$out/inference-llama-cpp-t$threads.jsonl" "$out/inference-pipe-t$threads.jsonl" <<'PY'
import json, sys
rows, order, cores = {}, [], 2
for line in [line for name in sys.argv[1:] for line in open(name)]:
    r = json.loads(line)
    if r.get("test") == "system":
        print(f"{r['engine_version']}, {r['threads']} threads, {r['cpu']}\n{r['system_info']}")
        cores = r["cores"]
        continue
    key = (r["engine"], r["model"])
    if key not in rows:
        rows[key] = {"params": r.get("n_params"), "mb": r["file_bytes"] / 1e6}
        order.append(key)
    col = r["test"] if r["test"] != "parallel" else f"x{r['sequences']}"
    r["cores"] = cores
    rows[key][col] = "error" if "error" in r else f"{r['tokens_per_second']:,.0f} ({r['peak_rss_mb']:.0f} MB)"
    rows[key]["_" + col] = r.get("tokens_per_second")
    if "error" in r:
        print(f"{r['model']} {r['test']} x{r['sequences']}: {r['error']}")
    if (r.get("other_cores") or 0) > max(0, r["cores"] - r["threads"]) + 0.2:
        rows[key][col] += f" [others {r['other_cores']:.1f} cores]"
cols = ["prefill", "decode", "x1", "x4", "x16"]
print("(a cell marked [others N cores] was measured while other processes kept N cores busy, after every retry)")
print("\ntokens/s (peak RSS) | " + " | ".join(["engine", "model", "params", "file MB"] + cols))
for key in order:
    r = rows[key]
    print(" | ".join([key[0], key[1], f"{r['params']:,}" if r["params"] else "?", f"{r['mb']:.1f}"] + [r.get(c, "") for c in cols]))
print("\npipe / llama.cpp, tokens/s | " + " | ".join(["model"] + cols))
for engine, model in order:
    if engine != "pipe" or ("llama.cpp", model) not in rows:
        continue
    mine, theirs = rows[("pipe", model)], rows[("llama.cpp", model)]
    print(" | ".join([model] + [f"{mine['_' + c] / theirs['_' + c]:.2f}" if mine.get("_" + c) and theirs.get("_" + c) else "" for c in cols]))
PY
exit "$greedy_status"
