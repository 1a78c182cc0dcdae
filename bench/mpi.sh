#!/usr/bin/env bash
# MPI on this machine: (1) MPI_Allreduce (SUM, float, in place) bandwidth between 2 ranks over
# shared memory, median of 15 per size (bench/mpi/allreduce.c, built with mpicc); (2) training
# throughput through a real pipeline (collect -> bpe-tokenize -> train, L4 d256 T128, batch 16):
# 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread, the median tokens/s of RUNS runs.
#
#   bench/mpi.sh [RUNS=3] [STEPS=20]          (PIPE_BIN: the pipe to measure; default release)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-3}"
steps="${2:-20}"
for p in openmpi-bin libopenmpi-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
if [ -z "${PIPE_BIN:-}" ]; then
  (cd "$repo" && swift build -c release --product pipe >/dev/null)
  PIPE_BIN="$repo/.build/release/pipe"
fi
work=$(mktemp -d /tmp/pipe-bench-mpi.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=(); [ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)

echo "== MPI_Allreduce, 2 ranks, shared memory (vader)"
mpicc -O2 -o "$work/allreduce" "$repo/bench/mpi/allreduce.c"
mpirun "${root[@]}" -np 2 --bind-to core --mca btl self,vader --mca oob_tcp_if_include lo "$work/allreduce"

echo "== training, $steps steps, median tokens/s of $runs runs"
cd "$work"
cp -r "$repo/docs" corpus
train="model: {layers: 4, heads: 4, dim: 256, context: 128}, batch: 16, steps: $steps, lr: 1.0e-3, warmup: 5, eval_every: $steps, eval_tokens: 2048, log_every: 5"
cat > p.yaml <<YAML
version: 1
name: mpi-bench
stages:
  text: {uses: collect, with: {sources: [{path: corpus, include: ["**/*.md"]}]}}
  tokenize:
    uses: bpe-tokenize
    inputs: {documents: text.documents}
    with: {vocab_size: 512, split_by: tokens, splits: {train: 0.9, val: 0.1, test: 0.0}}
  r1t1: {uses: train, inputs: {tokens: tokenize.tokens}, with: {$train}, resources: {cpus: 1}}
  r1t2: {uses: train, inputs: {tokens: tokenize.tokens}, with: {$train}, resources: {cpus: 2}}
  r2t1: {uses: train, inputs: {tokens: tokenize.tokens}, with: {$train, ranks: 2}, resources: {cpus: 1, tasks: 2}}
YAML
"$PIPE_BIN" run p.yaml tokenize >/dev/null 2>&1
for stage in r1t1 r1t2 r2t1; do
  rate=$(for _ in $(seq "$runs"); do
    "$PIPE_BIN" run p.yaml "$stage" --force "$stage" -j 1 >/dev/null 2>&1
    "$PIPE_BIN" show p.yaml "$stage" | awk '$1 == "train.tokens_per_second" {print $2}'
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$stage  $rate tokens/s"
done
