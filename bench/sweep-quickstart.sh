#!/usr/bin/env bash
# A real sweep on the quickstart's data in a fixed time budget, with and without pruning:
# TPE over the learning rate, the model's width and the warmup of a small model trained on the
# Python documentation (the quickstart's corpus, its vocabulary fixed at 2048 so that per-token
# validation losses compare), minimizing train's final val.loss. The same study seed, the same
# cache for the data stages (run once first, outside the budget), then each variant runs
# `pipe sweep` for BUDGET seconds (SIGINT at the end: the running trials are interrupted and left
# to a later resume) and `pipe sweep status --json` tells the best value found and how many
# trials completed or were pruned.
#
#   bench/sweep-quickstart.sh [BUDGET_SECONDS=300] [SEED=1] [DOCS=/usr/share/doc/python3.11/html/_sources]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
budget="${1:-300}"
seed="${2:-1}"
docs="${3:-/usr/share/doc/python3.11/html/_sources}"
scripts/install-deps
swift build -c release --product pipe >/dev/null
pipe="$repo/.build/release/pipe"
out="$repo/bench/out/sweep-quickstart"
mkdir -p "$out"
work=$(mktemp -d /tmp/pipe-sweep-quickstart-XXXXXX)
trap 'rm -rf "$work"' EXIT

# $1: study name, $2: the prune line of the sweep block (empty for none).
manifest() {
  cat <<YAML
version: 1
name: sweep-quickstart
params: {docs: "$docs", lr: 3.0e-3, dim: 64, warmup: 20}
stages:
  objective:
    uses: objective
    with: {languages: [en], budget: {max_parameters: 1000000}}
  collect:
    uses: collect
    with:
      sources:
        - {path: "\${params.docs}", include: ["library/**/*.rst.txt"], format: text, name: python-3.11-docs, license: PSF-2.0}
  clean:
    uses: clean
    inputs: {documents: collect.documents, languages: objective.languages}
  dedup:
    uses: minhash-dedup
    inputs: {documents: clean.documents}
  tokenize:
    uses: bpe-tokenize
    inputs: {documents: dedup.documents}
    with: {vocab_size: 2048, splits: {train: 0.9, val: 0.05, test: 0.05}}
  train:
    uses: train
    inputs: {tokens: tokenize.tokens, budget: objective.budget}
    with:
      model: {layers: 2, heads: 4, dim: "\${params.dim}", context: 64}
      steps: 400
      batch: 8
      lr: "\${params.lr}"
      warmup: "\${params.warmup}"
      eval_every: 50
      eval_tokens: 8192
sweep:
  metric: train.val.loss
  direction: minimize
  space:
    lr: {kind: log_uniform, low: 3.0e-4, high: 1.0e-1}
    dim: {kind: choice, values: [32, 64, 96, 128]}
    warmup: {kind: int, low: 0, high: 100, step: 10}
  sampler: {kind: tpe, seed: $seed, startup_trials: 6}
  trials: 500
  parallel: 1
$2
  study: $1
YAML
}

cd "$work"
manifest warmup "" > warmup.yaml
echo "== data stages (outside the budget)"
"$pipe" run warmup.yaml tokenize >/dev/null
for variant in plain pruned; do
  prune=""
  [ "$variant" = pruned ] && prune="  prune: {kind: median, startup_trials: 4, warmup_steps: 100}"
  manifest "$variant-s$seed" "$prune" > "$variant.yaml"
  echo "== $variant: pipe sweep for ${budget}s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  status=0
  timeout -s INT "$budget" "$pipe" sweep "$variant.yaml" >"$variant.log" 2>&1 || status=$?
  [ "$status" = 124 ] || [ "$status" = 130 ] || [ "$status" = 0 ] || { cat "$variant.log"; exit "$status"; }
  "$pipe" sweep status "$variant.yaml" --json >"$out/$variant-s$seed.json"
done
python3 - "$out" "$seed" "$budget" <<'PY'
import json, sys
out, seed, budget = sys.argv[1], sys.argv[2], sys.argv[3]
print(f"budget {budget} s, seed {seed}: best train.val.loss found, trials by state")
for variant in ("plain", "pruned"):
    study = json.load(open(f"{out}/{variant}-s{seed}.json"))
    states = {}
    for t in study["trials"]:
        states[t["state"]] = states.get(t["state"], 0) + 1
    best = study.get("sweep.best.train.val.loss")
    top = next((t for t in study["trials"] if t.get("value") == best), None)
    print(f"  {variant:7s} best {best if best is None else round(best, 4)}  "
          f"{', '.join(f'{k} {v}' for k, v in sorted(states.items()))}  params {top and top['params']}")
PY
