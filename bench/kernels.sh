#!/usr/bin/env bash
# The quantized projection kernels alone (Sources/CInferenceKernels): one decode step's
# projection of a 100M model (2048x768 and 768x2048, Q8_0 and Q4_0) at 1, 4 and 16 activation
# rows, per variant (portable, AVX2, AVX-512), 1 and 2 threads: GFLOP/s and the 16-row / 1-row
# throughput ratio. Part 4 of bench/inference-kernels/bench.c; prints the machine's load first,
# since the figures are only as quiet as the machine.
#
#   bench/kernels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=/tmp/ik-bench-kernels bench/inference-kernels/build.sh
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) on $(nproc) cores"
/tmp/ik-bench-kernels 4
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
