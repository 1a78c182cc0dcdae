#!/usr/bin/env bash
# Sampler benchmark, side by side in one run: pipe's TPE (multivariate, the default, and per
# dimension), Optuna's TPE (default settings, seeded) and random search (pipe's and Optuna's) on
# Branin, the 6-D Hartmann function and a made-up training-like function over log, int, stepped
# int and choice dimensions (bench/sweep-objectives/, bench/sweep_objectives.py),
# over SEEDS seeds of TRIALS trials each, one trial after another. Prints the mean (± standard
# error) and median best value after 25, 50 and 100 trials, and the sampler's time per trial;
# writes every run to bench/out/sweep.json. Optuna goes into .venv-bench/ (bench/lib/bench-venv.sh).
#
#   bench/sweep.sh [SEEDS=20] [TRIALS=100]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
seeds="${1:-20}"
trials="${2:-100}"
. bench/lib/bench-venv.sh
bench_venv_install 'optuna==5.0.0'
swift build -c release --product sweep-bench >/dev/null
mkdir -p bench/out
.build/release/sweep-bench --spaces >bench/out/sweep-spaces.json
.build/release/sweep-bench --seeds "$seeds" --trials "$trials" |
  (cd bench && "$bench_python" sweep_compare.py --spaces out/sweep-spaces.json --seeds "$seeds" --trials "$trials" --out out/sweep.json)
