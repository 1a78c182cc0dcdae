#!/usr/bin/env bash
# Tokenizer benchmark, side by side in one run: pipe's bpe-tokenize (training, then encoding
# with 1 and 2 threads) against Hugging Face tokenizers (training, encoding) and tiktoken built
# offline from pipe's ranks (encoding), on the same corpus and vocabulary.
#
#   bench/tokenizer.sh [MEGABYTES=33] [VOCAB=8192]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
megabytes="${1:-33}"
vocab="${2:-8192}"
scripts/install-deps
scripts/python-env requirements-test.txt
[ -x .venv/bin/python ] && .venv/bin/python -c "import tiktoken" 2>/dev/null || .venv/bin/pip install -q tiktoken
swift build -c release --product pipe >/dev/null
pipe="$repo/.build/release/pipe"

work=$(mktemp -d /tmp/pipe-tok-XXXXXX)
trap 'rm -rf "$work"' EXIT
.venv/bin/python tests-python/make_tokenizer_corpus.py "$work/corpus.jsonl" --megabytes "$megabytes"
mkdir -p "$work/stages/corpus"
cat > "$work/stages/corpus/stage.yaml" <<'YAML'
name: corpus
version: 1
run: [sh, -c, 'cp "$PIPE_WORKSPACE/corpus.jsonl" "$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl"']
outputs:
  documents: {kind: documents}
YAML
for threads in 2 1; do
  cat > "$work/t$threads.yaml" <<YAML
version: 1
name: tok$threads
stages:
  docs:
    uses: ./stages/corpus
  tokenize:
    uses: bpe-tokenize
    inputs: {documents: docs.documents}
    with: {vocab_size: $vocab}
    publish: {tokenizer: out/tokenizer$threads/}
YAML
done
cd "$work"
"$pipe" run t2.yaml docs >/dev/null 2>&1
for threads in 2 1; do
  /usr/bin/time -f "%M" -o rss "$pipe" run "t$threads.yaml" --threads "$threads" --force tokenize >/dev/null 2>&1
  "$pipe" show "t$threads.yaml" tokenize --json | python3 -c "
import json, sys
m = json.load(sys.stdin)['metrics']
print('pipe ($threads threads): train %.2f s, encode %.1f MB/s, %.4f bytes/token, peak RSS %d MB' % (
    m['tokenize.train_seconds'], m['tokenize.encode_mb_per_second'], m['tokenizer.bytes_per_token'], int(open('rss').read()) // 1024))"
done
"$repo/.venv/bin/python" "$repo/bench/tokenizer_compare.py" corpus.jsonl out/tokenizer2/tokenizer.json "$vocab" 2
