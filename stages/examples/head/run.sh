#!/bin/sh
# head: keep the first $PIPE_PARAM_COUNT documents across the input shards, in shard order.
set -eu
cat "$PIPE_INPUT_DOCUMENTS"/part-*.jsonl | head -n "$PIPE_PARAM_COUNT" > "$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl"
kept=$(wc -l < "$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl")
echo "::metric documents.kept $kept"
echo "kept $kept documents"
