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
  for run in 1 2 3; do
    /usr/bin/time -f "%M" -o "rss$run" "$pipe" run "t$threads.yaml" --threads "$threads" --force tokenize >/dev/null 2>&1
    "$pipe" show "t$threads.yaml" tokenize --json > "show$run.json"
  done
  python3 - "$threads" <<'PY'
import json, statistics, sys
runs = [json.load(open(f"show{r}.json"))["metrics"] for r in (1, 2, 3)]
rss = max(int(open(f"rss{r}").read()) for r in (1, 2, 3)) // 1024
med = lambda k: statistics.median(m[k] for m in runs)
print("pipe (%s threads, median of 3): train %.2f s, encode %.1f MB/s, %.4f bytes/token, peak RSS %d MB" % (
    sys.argv[1], med("tokenize.train_seconds"), med("tokenize.encode_mb_per_second"), runs[0]["tokenizer.bytes_per_token"], rss))
PY
done
"$repo/.venv/bin/python" "$repo/bench/tokenizer_compare.py" corpus.jsonl out/tokenizer2/tokenizer.json "$vocab" 2
