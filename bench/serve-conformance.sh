#!/usr/bin/env bash
# lm-eval conformance of `pipe serve`: lm-evaluation-harness (lm_eval, in .venv-bench/, never in
# the test venv) with its `local-completions` model against `pipe serve` on a multiple-choice
# task file, beside `evaluate` on the same items; both accuracies, and item by item the choice
# each side picked and the largest difference of their log-likelihoods. Exit status 1 when the
# accuracies or any item's choice differ.
#  1. `pipe run bench/pipelines/serve-conformance.yaml`: a quickstart-shaped model trained briefly,
#     and `evaluate` on bench/serve-conformance/items.jsonl (40 items, 4 choices each, the right
#     answer's place rotating so that a constant pick scores 25%);
#  2. `pipe serve train --manifest bench/pipelines/serve-conformance.yaml` on a free port;
#  3. `lm_eval --model local-completions` on bench/serve-conformance/pipe_serve_mc.yaml, the
#     same file, with the stage's tokenizer.json read by Hugging Face's tokenizers (lm-eval splits
#     context and continuation as evaluate does, then sends token ids with echo and logprobs).
# Results in bench/out/serve-conformance/.
#
#   bench/serve-conformance.sh [--threads N=cores]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
threads="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/install-deps python3.11-doc
. bench/lib/bench-venv.sh
bench_venv_install 'lm_eval[api]==0.4.13'
bench_venv_install transformers
swift build -c release --product pipe >/dev/null
manifest=bench/pipelines/serve-conformance.yaml
out=bench/out/serve-conformance
.build/release/pipe run "$manifest" --threads "$threads"

# Hugging Face's tokenizers read the stage's tokenizer.json; lm-eval's AutoTokenizer needs a class.
hf="$out/hf-tokenizer"
mkdir -p "$hf"
cp "$out/tokenizer/tokenizer.json" "$hf/"
echo '{"tokenizer_class": "PreTrainedTokenizerFast"}' >"$hf/tokenizer_config.json"

port="$("$bench_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
.build/release/pipe serve train --manifest "$manifest" --port "$port" --threads "$threads" --slots 4 >"$out/serve.log" 2>&1 &
server_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" || true' EXIT
waited=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ]; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$out/serve.log" >&2; exit 1; }
  [ "$waited" -lt 1200 ] || { echo "pipe serve not ready after 120 s" >&2; exit 1; }
  sleep 0.1
  waited=$((waited + 1))
done

rm -rf "$out/lm-eval"
HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 "$bench_python" -m lm_eval --model local-completions \
  --model_args "base_url=http://127.0.0.1:$port/v1/completions,model=train,tokenizer_backend=huggingface,tokenizer=$hf,max_length=128,num_concurrent=4,max_retries=1" \
  --tasks pipe_serve_mc --include_path bench/serve-conformance --output_path "$out/lm-eval" --log_samples >"$out/lm-eval.log" 2>&1 ||
  { tail -40 "$out/lm-eval.log" >&2; exit 1; }
"$bench_python" bench/serve_conformance_compare.py "$out/evaluate" "$out/lm-eval"
