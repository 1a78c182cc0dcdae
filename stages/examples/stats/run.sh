#!/bin/sh
# stats: count documents (lines) and bytes of the input shards into metrics.json.
set -eu
documents=$(cat "$PIPE_INPUT_DOCUMENTS"/part-*.jsonl | wc -l)
bytes=$(cat "$PIPE_INPUT_DOCUMENTS"/part-*.jsonl | wc -c)
printf '{"documents.count": %d, "documents.bytes": %d}\n' "$documents" "$bytes" > "$PIPE_OUTPUT_METRICS/metrics.json"
echo "::metric documents.count $documents"
echo "::metric documents.bytes $bytes"
