#!/bin/sh
# generate: $PIPE_PARAM_SHARDS shards of $PIPE_PARAM_SHARD_MB MiB of base64 lines each.
set -eu
i=0
while [ "$i" -lt "$PIPE_PARAM_SHARDS" ]; do
  name=$(printf 'part-%05d.jsonl' "$i")
  head -c $((PIPE_PARAM_SHARD_MB * 786432)) /dev/urandom | base64 -w 76 > "$PIPE_OUTPUT_DOCUMENTS/$name"
  i=$((i + 1))
  echo "::progress $(awk "BEGIN {print $i / $PIPE_PARAM_SHARDS}") shard $i"
done
