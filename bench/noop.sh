#!/usr/bin/env bash
# No-op run benchmark: a 9-stage manifest whose cache holds over 1 GiB, then `pipe run` with
# nothing to do, timed by hyperfine (median of 20). DVC runs the same commands side by side
# (`dvc repro` with nothing to do, 3 and 9 stages) when bench/noop.sh is given --dvc; DVC is
# installed into .venv/ on first use.
#
#   bench/noop.sh [--dvc]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
scripts/install-deps
command -v hyperfine >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq hyperfine >/dev/null; }
swift build -c release --product pipe >/dev/null
pipe="$repo/.build/release/pipe"

work=$(mktemp -d /tmp/pipe-noop-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/stages"
cp -r "$repo/bench/plugins/generate" "$repo/stages/examples/head" "$repo/stages/examples/stats" "$work/stages/"

cat > "$work/bench.yaml" <<'YAML'
version: 1
name: noop-bench
stages:
  generate:
    uses: ./stages/generate
    with: {shards: 21, shard_mb: 64}
YAML
for n in 1 2 3 4; do
  cat >> "$work/bench.yaml" <<YAML
  head$n:
    uses: ./stages/head
    inputs: {documents: generate.documents}
    with: {count: $((n * 100000))}
  stats$n:
    uses: ./stages/stats
    inputs: {documents: head$n.documents}
YAML
done

cd "$work"
echo "first run (fills the cache):"
/usr/bin/time -f "  %e s wall, peak RSS %M KB" "$pipe" run bench.yaml 2>&1 | tail -2
du -sh cache/objects | sed 's/^/  cache objects: /'
"$pipe" show bench.yaml generate --json | python3 -c '
import json, sys
o = json.load(sys.stdin)["outputs"]["documents"]
print("  generate output: %.2f GiB raw, %.2f GiB stored, %d shards" % (o["bytes"] / 2**30, o["stored_bytes"] / 2**30, len(o["files"])))'
echo
echo "no-op pipe run (9 stages):"
hyperfine -N -w 3 -r 20 --export-json "$work/pipe.json" "$pipe run bench.yaml" 2>&1 | grep -E "Time|Range"
python3 -c "import json; r=json.load(open('$work/pipe.json'))['results'][0]; print('  median %.1f ms' % (r['median'] * 1000))"
/usr/bin/time -f "  peak RSS %M KB" "$pipe" run bench.yaml 2>&1 | tail -1

if [ "${1:-}" = "--dvc" ]; then
  [ -x "$repo/.venv/bin/dvc" ] || { python3 -m venv "$repo/.venv"; "$repo/.venv/bin/pip" install -q dvc; }
  dvc="$repo/.venv/bin/dvc"
  for stages in 3 9; do
    d="$work/dvc$stages"; mkdir -p "$d"; cd "$d"
    "$dvc" init --no-scm -q
    {
      echo "stages:"
      echo "  generate:"
      echo "    cmd: mkdir -p gen && for i in \$(seq 0 20); do head -c 50331648 /dev/urandom | base64 -w 76 > gen/part-\$i.jsonl; done"
      echo "    outs: [gen]"
      last=$(( stages == 3 ? 1 : 4 ))
      for n in $(seq 1 $last); do
        echo "  head$n:"
        echo "    cmd: mkdir -p head$n && cat gen/part-*.jsonl | head -n $((n * 100000)) > head$n/part-0.jsonl"
        echo "    deps: [gen]"
        echo "    outs: [head$n]"
        echo "  stats$n:"
        echo "    cmd: wc -l head$n/part-0.jsonl > stats$n.txt"
        echo "    deps: [head$n]"
        echo "    outs: [stats$n.txt]"
      done
    } > dvc.yaml
    "$dvc" repro -q >/dev/null
    echo
    echo "no-op dvc repro ($stages stages, same commands, same 1 GiB):"
    hyperfine -N -w 2 -r 10 --export-json "$d/dvc.json" "$dvc repro" 2>&1 | grep -E "Time|Range"
    python3 -c "import json; r=json.load(open('$d/dvc.json'))['results'][0]; print('  median %.1f ms' % (r['median'] * 1000))"
  done
fi
