#!/usr/bin/env bash
# Training benchmark, side by side in one run:
#  1. throughput of one training step (L4 H4 d256 T256, vocab 8192, batch 16, 2 threads): pipe's
#     kernels (train-bench) with and without gradient checkpointing, against the same LLaMA-style
#     model in PyTorch fp32 eager (bench/train_torch.py), each with OpenBLAS as the environment
#     sets it and with OPENBLAS_CORETYPE unset;
#  2. the quality anchor: nanoGPT's "baby" CPU config on tinyshakespeare at byte level, trained
#     through a real pipeline (collect -> bpe-tokenize -> train), timed, with its validation loss.
# PyTorch (CPU) goes into .venv-bench/ (not needed by the product or its tests; bench/lib/bench-venv.sh).
#
#   bench/train.sh [TINYSHAKESPEARE=../shared/data/tinyshakespeare.txt] [STEPS=10]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
corpus="$(realpath "${1:-$repo/../shared/data/tinyshakespeare.txt}")"
steps="${2:-10}"
scripts/install-deps
. bench/lib/bench-venv.sh
if ! bench_venv_has torch; then
  # CPU wheels: PyTorch's own index when reachable, else a local +cpu wheel pip can see, else PyPI.
  "$bench_python" -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null ||
    "$bench_python" -m pip install -q 'torch==2.13.0+cpu' 2>/dev/null ||
    "$bench_python" -m pip install -q torch
fi
swift build -c release --product train-bench >/dev/null
swift build -c release --product pipe >/dev/null
bench="$repo/.build/release/train-bench"
config=(--layers 4 --heads 4 --dim 256 --context 256 --vocab 8192 --batch 16)

echo "== step throughput: ${config[*]}, 2 threads, median of $steps steps"
for coretype in "${OPENBLAS_CORETYPE-}" unset; do
  if [ "$coretype" = unset ]; then env_prefix=(env -u OPENBLAS_CORETYPE); label="OPENBLAS_CORETYPE unset"
  else env_prefix=(env); label="OPENBLAS_CORETYPE=${coretype:-(not set)}"; fi
  echo "-- $label"
  "${env_prefix[@]}" "$bench" "${config[@]}" --threads 2 --steps "$steps"
  "${env_prefix[@]}" "$bench" "${config[@]}" --threads 2 --steps "$steps" --checkpointing
  "${env_prefix[@]}" .venv-bench/bin/python bench/train_torch.py "${config[@]}" --threads 2 --steps "$steps" --mode eager
  [ "$coretype" = unset ] && break
done

echo "== step throughput of the baby config (L4 H4 d128 T64, vocab 257, batch 12), 2 threads"
"$bench" --layers 4 --heads 4 --dim 128 --context 64 --vocab 257 --batch 12 --threads 2 --steps 50
.venv-bench/bin/python bench/train_torch.py --layers 4 --heads 4 --dim 128 --context 64 --vocab 257 --batch 12 --threads 2 --steps 50 --mode eager

echo "== quality anchor: nanoGPT baby config on $(basename "$corpus") through pipe"
work=$(mktemp -d /tmp/pipe-train-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data" && cp "$corpus" "$work/data/"
cat > "$work/baby.yaml" <<'YAML'
version: 1
name: shakespeare-baby
stages:
  text:
    uses: collect
    with: {sources: [{path: data, include: ["*.txt"], name: tinyshakespeare, license: public-domain}]}
  tokenize:
    uses: bpe-tokenize
    inputs: {documents: text.documents}
    # vocab 257 = the 256 bytes + <|endoftext|>: no merges, byte-level like nanoGPT's char model.
    with: {vocab_size: 257, split_by: tokens, splits: {train: 0.9, val: 0.1, test: 0.0}}
  train:
    uses: train
    inputs: {tokens: tokenize.tokens}
    with:
      model: {layers: 4, heads: 4, dim: 128, context: 64}
      batch: 12
      steps: 2000
      lr: 1.0e-3
      min_lr: 1.0e-4
      warmup: 100
      beta2: 0.99
      eval_every: 250
      eval_tokens: 102400
      checkpoint_every: 2000
      log_every: 50
    publish: {metrics: out/metrics/}
YAML
cd "$work"
"$repo/.build/release/pipe" run baby.yaml tokenize >/dev/null
/usr/bin/time -v "$repo/.build/release/pipe" run baby.yaml 2>time.txt >run.txt
python3 - <<'PY'
import json, re
m = json.load(open("out/metrics/metrics.json"))
t = open("time.txt").read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
print(json.dumps({"anchor": "nanoGPT baby (L4 H4 d128 T64 B12, 2000 steps)", "val.loss": round(m["val.loss"], 4),
                  "train_seconds": round(m["train.seconds"], 1), "wall": wall,
                  "tokens_per_second": round(m["train.tokens_per_second"]), "peak_rss_mb": round(rss)}))
PY
