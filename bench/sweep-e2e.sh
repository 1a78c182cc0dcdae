#!/usr/bin/env bash
# Samplers end to end, through `pipe sweep`: bench/sweep.sh's comparison with every trial a real
# one. For each objective (Branin and the 6-D Hartmann function by default), sampler (TPE and
# random search) and seed, a manifest with a seeded `sweep:` block over a tiny Python plugin
# stage that computes the objective (bench/plugins/sweep-objective), run by `pipe sweep` with a
# fresh cache, TRIALS trials one at a time; the trials' params and values are read back from
# `pipe sweep status --json` (bench/sweep_e2e.py). bench/sweep_compare.py then recomputes every
# value from its params in Python, runs Optuna's TPE (default settings, seeded) and random search
# on the same objectives and seeds, and prints the mean (± standard error) and median best value
# after 25, 50 and 100 trials, and the time per trial (for pipe: the whole `pipe sweep`, plugin
# process included; for Optuna: in memory, the function called directly). Also checks that each
# study's trials are the ones the sampler gives when called directly (sweep-bench). Everything
# goes to bench/out/sweep-e2e.json. Optuna goes into .venv-bench/ (bench/lib/bench-venv.sh).
#
#   bench/sweep-e2e.sh [SEEDS=20] [TRIALS=100] [OBJECTIVES=branin,hartmann6] [JOBS=1]
#   (JOBS: studies at once; PIPE_BIN=... to use another pipe binary)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
seeds="${1:-20}"
trials="${2:-100}"
objectives="${3:-branin,hartmann6}"
jobs="${4:-1}"
. bench/lib/bench-venv.sh
bench_venv_install 'optuna==5.0.0'
if [ -z "${PIPE_BIN:-}" ]; then swift build -c release --product pipe >/dev/null; fi
pipe="${PIPE_BIN:-$repo/.build/release/pipe}"
swift build -c release --product sweep-bench >/dev/null
mkdir -p bench/out
.build/release/sweep-bench --spaces >bench/out/sweep-spaces.json
.build/release/sweep-bench --objectives "$objectives" --samplers tpe,random --seeds "$seeds" --trials "$trials" \
  >bench/out/sweep-e2e-library.jsonl
"$bench_python" bench/sweep_e2e.py --pipe "$pipe" --spaces bench/out/sweep-spaces.json --objectives "$objectives" \
    --seeds "$seeds" --trials "$trials" --jobs "$jobs" --library bench/out/sweep-e2e-library.jsonl |
  (cd bench && "$bench_python" sweep_compare.py --spaces out/sweep-spaces.json --seeds "$seeds" --trials "$trials" \
    --out out/sweep-e2e.json)
