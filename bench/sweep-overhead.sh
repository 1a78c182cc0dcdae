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
#   bench/sweep-overhead.sh [TRIALS=200]      (PIPE_BIN=... to time another pipe binary)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
trials="${1:-200}"
. bench/lib/bench-venv.sh
bench_venv_install 'optuna==5.0.0'
if [ -z "${PIPE_BIN:-}" ]; then swift build -c release --product pipe >/dev/null; fi
pipe="${PIPE_BIN:-$repo/.build/release/pipe}"

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
started=$(date +%s.%N)
"$pipe" sweep m.yaml >/dev/null 2>&1
ended=$(date +%s.%N)
echo "seconds per trial, $trials trials of a stage that does nothing:"
python3 -c "print('  %-23s %.2f ms' % ('pipe sweep', ($ended - $started) / $trials * 1000))"
"$bench_python" "$repo/bench/sweep_overhead.py" --trials "$trials" --script "$work/stages/nothing/run.sh" |
  while read -r name seconds; do python3 -c "print('  %-23s %.2f ms' % ('$name', $seconds * 1000))"; done
