#!/usr/bin/env bash
# Sweep overhead per trial: `pipe sweep` over a stage that does nothing (a shell plugin that
# prints its parameter as the metric) against Optuna's `study.optimize` with an objective that
# returns at once (bench/sweep_overhead.py), both random search over one float, TRIALS trials,
# one at a time. pipe's figure is everything a trial costs: claiming it in the journal, loading
# the manifest with the trial's params, the stage's key, starting the plugin process, storing its
# output and run record, and the journal's lines (each fsynced). Optuna's is in memory, with its
# journal file storage, and with the journal and an objective that runs the same do-nothing
# script in a child process (what a pipe plugin stage is). Optuna goes into .venv-bench/
# (bench/lib/bench-venv.sh).
#
# Each of ROUNDS rounds runs every PIPE binary given (default: the release build), each with a
# fresh cache, one after the other, then Optuna's three; the figures are medians over the rounds,
# and with several binaries each one's per-round ratio to the first (median), so that binaries
# compare on the same machine load.
#
#   bench/sweep-overhead.sh [TRIALS=200] [ROUNDS=1] [PIPE ...]      (PIPE_BIN=... as one PIPE)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
trials="${1:-200}"
rounds="${2:-1}"
shift $(($# < 2 ? $# : 2))
pipes=("$@")
if [ ${#pipes[@]} -eq 0 ]; then
  if [ -z "${PIPE_BIN:-}" ]; then swift build -c release --product pipe >/dev/null; fi
  pipes=("${PIPE_BIN:-$repo/.build/release/pipe}")
fi
. bench/lib/bench-venv.sh
bench_venv_install 'optuna==5.0.0'

work=$(mktemp -d /tmp/pipe-sweep-overhead-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/stages/nothing"
cat > "$work/stages/nothing/stage.yaml" <<'YAML'
name: nothing
version: 1
run: [sh, run.sh]
params: {x: {type: float, default: 0}}
outputs: {metrics: {kind: metrics}}
YAML
cat > "$work/stages/nothing/run.sh" <<'SH'
echo "::metric value $PIPE_PARAM_X"
echo '{}' > "$PIPE_OUTPUT_METRICS/metrics.json"
SH
cat > "$work/m.yaml" <<YAML
version: 1
name: overhead
params: {x: 0.0}
stages:
  nothing:
    uses: ./stages/nothing
    with: {x: "\${params.x}"}
sweep:
  metric: nothing.value
  space: {x: {kind: uniform, low: 0, high: 1}}
  sampler: {kind: random, seed: 0}
  trials: $trials
YAML

cd "$work"
# One line per measurement: round, name, seconds per trial.
for round in $(seq "$rounds"); do
  for pipe in "${pipes[@]}"; do
    rm -rf cache
    started=$(date +%s.%N)
    "$pipe" sweep m.yaml >/dev/null 2>&1
    ended=$(date +%s.%N)
    python3 -c "print($round, '$pipe', ($ended - $started) / $trials)"
  done
  "$bench_python" "$repo/bench/sweep_overhead.py" --trials "$trials" --script "$work/stages/nothing/run.sh" |
    while read -r name seconds; do echo "$round $name $seconds"; done
done >"$work/times.txt"
echo "milliseconds per trial, $trials trials of a stage that does nothing, $rounds round(s):"
python3 - "$work/times.txt" "${pipes[0]}" <<'PY'
import collections, statistics, sys
times = collections.defaultdict(dict)  # name -> round -> seconds
for line in open(sys.argv[1]):
    round_, name, seconds = line.split()
    times[name][round_] = float(seconds)
first = times[sys.argv[2]]
for name, by_round in times.items():
    cells = "  ".join(f"{1000 * s:7.2f}" for s in by_round.values())
    line = f"  {name:<40} median {1000 * statistics.median(by_round.values()):7.2f}   rounds: {cells}"
    if not name.startswith("optuna-") and by_round is not first:
        line += f"   ratio to the first: {statistics.median(by_round[r] / first[r] for r in by_round):.3f}"
    print(line)
PY
