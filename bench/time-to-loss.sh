#!/usr/bin/env bash
# Time to a target validation loss, pipe against PyTorch, side by side on the same machine,
# thread count and token shards (issue 24):
#  - the reference: nanoGPT's "baby" recipe in PyTorch fp32 eager (bench/time_to_loss_torch.py,
#    CPU torch in .venv-bench/), trained on pipe's own tokens of the corpus; its final validation
#    loss is the target;
#  - each pipe recipe of the recipes file (default bench/time-to-loss-recipes.yaml; all of them,
#    or the NAMEs given) through a real pipeline (collect -> bpe-tokenize -> train, release
#    binary) in its own temporary workspace, with an objective budget that refuses a model with
#    more parameters than the reference's;
#  - R rounds, each the reference then the recipes in turn (alternating, so that a change of
#    load on the shared machine hits every side), figures the median over rounds.
# Reports, per run: wall seconds to the target (interpolated between evaluations), steps and
# tokens to it, parameters, tokens/s, MFU (6·N·tokens/s over the sgemm peak that train-bench
# measures with the same OpenBLAS kernels and threads, before and after the runs), peak RSS
# (/usr/bin/time -v), the ratios to PyTorch and how the time ratio splits into steps and seconds
# per step. Output in OUT (default bench/out/time-to-loss/, or bench/out/ and the recipes file's
# name): report.md, report.json, val-loss.svg, and runs/ (each run's curve, metrics, time -v and
# load). The quickstart comparison: --recipes bench/time-to-loss-quickstart.yaml
# --corpus /usr/share/doc/python3.11/html/_sources (a folder: copied whole).
#
#   bench/time-to-loss.sh [--corpus FILE=../shared/data/tinyshakespeare.txt] [--threads N=2]
#       [--rounds R=1] [--recipes FILE] [--out DIR] [NAME ...]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
corpus="$repo/../shared/data/tinyshakespeare.txt"
threads=2 rounds=1 recipes="$repo/bench/time-to-loss-recipes.yaml" out=
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --corpus) corpus="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --recipes) recipes="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
corpus="$(realpath "$corpus")" recipes="$(realpath "$recipes")"
# Default output folder: bench/out/ and the recipes file's name less "-recipes" (time-to-loss).
out="${out:-$repo/bench/out/$(basename "$recipes" .yaml | sed 's/-recipes$//')}"
mkdir -p "$out" && out="$(realpath "$out")"

scripts/install-deps
. bench/lib/bench-venv.sh
if ! bench_venv_has torch; then
  # CPU wheels: PyTorch's own index when reachable, else a local +cpu wheel pip can see, else PyPI.
  "$bench_python" -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null ||
    "$bench_python" -m pip install -q 'torch==2.13.0+cpu' 2>/dev/null ||
    "$bench_python" -m pip install -q torch
fi
bench_venv_install pyyaml
py="$bench_python"
helper=("$py" "$repo/bench/time_to_loss.py" --recipes "$recipes")
mapfile -t recipe_names < <("${helper[@]}" names ${names[@]+"${names[@]}"})
swift build -c release --product pipe >/dev/null
swift build -c release --product train-bench >/dev/null
pipe="$repo/.build/release/pipe"

work=$(mktemp -d /tmp/pipe-ttl-XXXXXX)
trap 'rm -rf "$work"' EXIT
runs="$out/runs"
rm -rf "$runs" && mkdir -p "$runs"
cp "$recipes" "$out/recipes.yaml"

# The sgemm peak and the OpenBLAS core: train-bench on a tiny model (its step figures unused),
# written to runs/machine.json after every measurement (so a cut-short run still has a report).
sgemm() {
  "$repo/.build/release/train-bench" --layers 1 --heads 1 --dim 32 --context 8 --vocab 257 --batch 1 --steps 1 \
    --threads "$threads" >>"$runs/sgemm.jsonl"
  "$py" - "$runs" "$threads" <<'PY'
import json, os, sys
runs, threads = sys.argv[1], int(sys.argv[2])
sgemm = [json.loads(l) for l in open(os.path.join(runs, "sgemm.jsonl")) if l.strip()]
json.dump({"threads": threads, "openblas_core": sgemm[0]["kernels"], "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(not set)"),
           "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
           "cores": os.cpu_count(), "sgemm": sgemm}, open(os.path.join(runs, "machine.json"), "w"), indent=1)
PY
}
echo "== OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(not set)}; $threads threads; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
sgemm
tail -1 "$runs/sgemm.jsonl"

# A workspace: the corpus in data/, the recipe's manifest, the tokens made (not timed) and hashed.
workspace() {  # NAME DIR MAX_PARAMETERS
  mkdir -p "$2/data"
  cp -r "$corpus" "$2/data/"
  "${helper[@]}" manifest "$1" "$2/pipeline.yaml" --max-parameters "$3"
  (cd "$2" && "$pipe" run --threads "$threads" pipeline.yaml tokenize >"$2/tokenize.log" 2>&1) || { cat "$2/tokenize.log" >&2; return 1; }
  (cd "$2/out/tokens" && sha256sum $(ls | sort) | sha256sum | cut -d' ' -f1)
}

# The PyTorch side reads the tokens of the first recipe's pipeline (the same stages in every
# recipe's manifest; each run records the hash of its own).
tokens_sha=$(workspace "${recipe_names[0]}" "$work/tokens" 1)
mapfile -t ref_args < <("${helper[@]}" reference-args | tr ' ' '\n')
ref_params=

for round in $(seq 1 "$rounds"); do
  dir="$runs/torch-r$round"
  mkdir -p "$dir"
  echo "== round $round: PyTorch reference (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "$tokens_sha" >"$dir/tokens.sha256"
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  head -1 /proc/stat >"$dir/cpu-stat.txt"
  /usr/bin/time -v -o "$dir/time.txt" "$py" bench/time_to_loss_torch.py --tokens "$work/tokens/out/tokens" "${ref_args[@]}" \
    --threads "$threads" --label "torch-r$round" --out "$dir/result.json"
  echo "$before $(cut -d' ' -f1-3 /proc/loadavg)" >"$dir/load.txt"
  head -1 /proc/stat >>"$dir/cpu-stat.txt"
  ref_params=${ref_params:-$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["params"])' "$dir/result.json")}

  for name in "${recipe_names[@]}"; do
    dir="$runs/$name-r$round" ws="$work/$name-r$round"
    mkdir -p "$dir"
    workspace "$name" "$ws" "$ref_params" >"$dir/tokens.sha256"
    cp "$ws/pipeline.yaml" "$dir/"
    echo "== round $round: pipe $name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    before=$(cut -d' ' -f1-3 /proc/loadavg)
    head -1 /proc/stat >"$dir/cpu-stat.txt"
    if (cd "$ws" && /usr/bin/time -v -o "$dir/time.txt" "$pipe" run --threads "$threads" pipeline.yaml >"$dir/run.txt" 2>&1); then
      echo "$before $(cut -d' ' -f1-3 /proc/loadavg)" >"$dir/load.txt"
      head -1 /proc/stat >>"$dir/cpu-stat.txt"
      cp "$ws/out/metrics/curve.json" "$ws/out/metrics/metrics.json" "$dir/"
      "$py" -c 'import json, sys; m = json.load(open(sys.argv[1])); print("%s: val loss %.4f, %.1f s, %d parameters" % (sys.argv[2], m["val.loss"], m["train.seconds"], m["train.parameters"]))' \
        "$dir/metrics.json" "$name-r$round"
    else
      # Refused by the budget (too many parameters) or failed: recorded, the other recipes go on.
      reason=$(grep -m1 -o 'budget: .*' "$dir/run.txt" || tail -3 "$dir/run.txt" | tr '\n' ' ')
      echo "$reason" >"$dir/refused.txt"
      echo "$name: not run to the end: $reason" >&2
    fi
    rm -rf "$ws"
  done
done

sgemm
echo "== report (load average $(cut -d' ' -f1-3 /proc/loadavg))"
"${helper[@]}" report "$runs" "$out"
echo "written: $out/report.md, $out/report.json, $out/val-loss.svg"
