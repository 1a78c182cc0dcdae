#!/usr/bin/env bash
# Makes the GGUF files the inference benchmark runs on, with pipe itself (release build), through
# bench/pipelines/inference-models.yaml: collect (the Python 3.11 documentation's reST sources) ->
# bpe-tokenize -> train -> quantize -> export formats [gguf]. Three models, each in F32, Q8_0 and
# Q4_0 (see the manifest for shapes and parameter counts):
#   qs    the quickstart's shape (L4 d128, vocab 4096), trained briefly (400 steps)
#   30m   L8 d512, vocab 8192, random weights
#   100m  L12 d768, vocab 32000, random weights
# Results (ignored by git) in bench/out/models/: NAME-TYPE/model.gguf as export publishes it, a
# link NAME-TYPE.gguf to it, and tokenizer-VOCAB/ (tokenizer.json) for `pipe generate -t`.
# Stages already run are cache hits (./cache), so a second run costs nothing.
#
#   bench/inference-models.sh [STAGE ...]    (default: every stage)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
scripts/install-deps python3.11-doc
swift build -c release --product pipe >/dev/null
out=bench/out/models
/usr/bin/time -f "pipe run: %e s wall, peak RSS %M KB" .build/release/pipe run bench/pipelines/inference-models.yaml "$@"
for folder in "$out"/*-*/; do
  name="$(basename "$folder")"
  case "$name" in tokenizer-*|train-*) continue ;; esac
  [ -f "$folder/model.gguf" ] && ln -sfn "$name/model.gguf" "$out/$name.gguf"
done
ls -lL "$out"/*.gguf | awk '{printf "%12d  %s\n", $5, $9}'
