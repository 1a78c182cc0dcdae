#!/usr/bin/env bash
# Slurm executor overhead on a real one-node cluster (scripts/slurm-cluster), medians of RUNS:
#  0. a bare job: sbatch of /bin/true until scontrol says COMPLETED (polled every 20 ms);
#  1. per stage: a chain of STAGES small plugin stages, run with --executor local and slurm
#     (a fresh cache each run); (slurm - local) / STAGES is what one sbatch round trip costs;
#  2. per array task: collect over 64 files as one job, and as job arrays of 8, 16 and 32
#     tasks (1 core each, 2 at a time on this machine) plus their merge job.
#
#   bench/slurm.sh [RUNS=5] [STAGES=8]        (PIPE_BIN: the pipe to measure; default release)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-5}"
stages="${2:-8}"
if [ -z "${PIPE_BIN:-}" ]; then
  (cd "$repo" && swift build -c release --product pipe >/dev/null)
  PIPE_BIN="$repo/.build/release/pipe"
fi
work=$(mktemp -d /tmp/pipe-bench-slurm.XXXXXX)
cluster="$work/cluster"
if [ -z "${SLURM_CONF:-}" ]; then
  trap '"$repo/scripts/slurm-cluster" stop "$cluster"; rm -rf "$work"' EXIT
  eval "$("$repo/scripts/slurm-cluster" start "$cluster")"
else
  trap 'rm -rf "$work"' EXIT
fi

cd "$work"
cp -r "$repo/stages/examples" examples
mkdir -p corpus
for n in $(seq -w 1 64); do
  for line in $(seq 50); do echo "File $n, line $line: some text to collect, with words and numbers $((10#$n * line))."; done > "corpus/f$n.txt"
done
{
  echo "version: 1"; echo "name: chain"; echo "stages:"
  echo "  s0: {uses: collect, with: {sources: [{path: corpus}]}}"
  for i in $(seq 1 $((stages - 1))); do
    echo "  s$i: {uses: ./examples/lowercase, inputs: {documents: s$((i - 1)).documents}, with: {min_chars: $i}}"
  done
} > chain.yaml
array_manifest() {  # array_manifest TASKS
  printf 'version: 1\nname: array\nstages:\n  source:\n    uses: collect\n    with: {shard_bytes: 20000, sources: [{path: corpus}]}\n'
  [ "$1" -gt 1 ] && printf '    resources: {array: %s, cpus: 1}\n' "$1" || printf '    resources: {cpus: 1}\n'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
seconds() {  # seconds MANIFEST ARGS...: wall time of one pipe run on a fresh cache
  rm -rf cache
  local start end
  start=$(date +%s.%N)
  "$PIPE_BIN" run "$@" --cache cache >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

echo "== a bare job (sbatch /bin/true -> COMPLETED), median of $((runs * 4)) jobs"
printf '#!/bin/sh\nexec /bin/true\n' > true.sh
for _ in $(seq $((runs * 4))); do
  start=$(date +%s.%N)
  id=$(sbatch --parsable -o /dev/null true.sh)
  while ! scontrol show job -o "$id" | grep -q "JobState=COMPLETED"; do sleep 0.02; done
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
done | median | xargs printf 'bare job round trip  %.2f s\n'

echo "== per stage: a chain of $stages stages, median of $runs runs"
local_t=$(for _ in $(seq "$runs"); do seconds chain.yaml; done | median)
slurm_t=$(for _ in $(seq "$runs"); do seconds chain.yaml --executor slurm; done | median)
printf 'local  %.2f s\nslurm  %.2f s\noverhead per stage  %.2f s\n' "$local_t" "$slurm_t" "$(echo "($slurm_t - $local_t) / $stages" | bc -l)"

echo "== per array task: collect over 64 files, median of $runs runs"
for tasks in 1 8 16 32; do
  array_manifest "$tasks" > array.yaml
  t=$(for _ in $(seq "$runs"); do seconds array.yaml --executor slurm; done | median)
  printf '%2d task(s)%s  %.2f s\n' "$tasks" "$([ "$tasks" -gt 1 ] && echo ' + merge' || echo '        ')" "$t"
  echo "$tasks $t" >> array.times
done
awk 'NR == 1 {t1 = $2} $1 == 32 {t32 = $2} $1 == 8 {t8 = $2}
     END {printf "per added task (8 -> 32 tasks, 2 cores)  %.2f s\n", (t32 - t8) / 24}' array.times
