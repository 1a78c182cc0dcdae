#!/usr/bin/env bash
# Builds the inference-kernel bench with the kernels' own flags (no global -m flags: the kernels
# pick their variant at run time). Usage: bench/inference-kernels/build.sh && /tmp/ik-bench [part]
set -euo pipefail
cd "$(dirname "$0")/../.."
src=Sources/CInferenceKernels
${CC:-clang} -O3 -fno-math-errno -ffp-contract=off -I"$src/include" -I"$src" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
    "$src"/*.c bench/inference-kernels/bench.c -o "${OUT:-/tmp/ik-bench}" -lopenblas -lpthread -lm
