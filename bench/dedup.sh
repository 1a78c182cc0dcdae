#!/usr/bin/env bash
# Planted-duplicate benchmark, side by side in one run: pipe's minhash-dedup, datasketch and
# datatrove on the same real-text corpus with planted variants of known kind; precision and
# recall per kind, and throughput. datasketch, datatrove, xxhash and spacy (datatrove's word
# tokenizer) go into .venv/.
#
#   bench/dedup.sh [ORIGINALS=30000] [PER_KIND=500]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
scripts/install-deps
scripts/python-env requirements-test.txt
.venv/bin/python -c "import datasketch, datatrove, xxhash, spacy" 2>/dev/null || .venv/bin/pip install -q datasketch datatrove xxhash spacy
swift build -c release --product pipe >/dev/null
pipe="$repo/.build/release/pipe"
work=$(mktemp -d /tmp/pipe-dedup-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$repo/.venv/bin/python" "$repo/tests-python/make_dedup_corpus.py" corpus/docs.jsonl truth.json --originals "${1:-30000}" --per-kind "${2:-500}"
cat > d.yaml <<'YAML'
version: 1
name: dedup-bench
stages:
  collect:
    uses: collect
    with: {sources: [{path: corpus, id_field: id}]}
  dedup:
    uses: minhash-dedup
    inputs: {documents: collect.documents}
    publish: {documents: out/kept/}
YAML
"$pipe" run d.yaml collect >/dev/null 2>&1
total=$(wc -l < corpus/docs.jsonl)
score() { "$repo/.venv/bin/python" "$repo/tests-python/dedup_score.py" truth.json "$1" --removed $((total - $(grep -c . "$1"))) | grep -v passed; }
for threads in 1 1 1 1 1 2 2 2; do
  /usr/bin/time -f "%M" -o rss "$pipe" run d.yaml --force dedup --threads "$threads" >/dev/null 2>&1
  "$pipe" show d.yaml dedup --json | python3 -c "
import json, sys
m = json.load(sys.stdin)['metrics']
print('pipe ($threads threads): signatures %.1f MB/s, whole stage %.1f MB/s (MB of text), kept %d of %d, peak RSS %d MB' % (m['dedup.signature_mb_per_second'], m['dedup.mb_per_second'], m['dedup.documents_out'], m['dedup.documents_in'], int(open('rss').read()) // 1024))"
done
kept_ids() { python3 -c "import json; print('\n'.join(json.loads(l)['id'] for l in open('out/kept/part-00000.jsonl')))"; }
kept_ids > pipe.kept
echo "== pipe (default: candidates confirmed by exact Jaccard >= 0.5)"; score pipe.kept
sed 's/uses: minhash-dedup/uses: minhash-dedup\n    with: {verify: none}/' d.yaml > none.yaml
"$pipe" run none.yaml --force dedup --threads 1 >/dev/null 2>&1
kept_ids > pipe-none.kept
echo "== pipe, verify: none (every LSH candidate counts, as in datatrove)"; score pipe-none.kept
"$repo/.venv/bin/python" "$repo/bench/dedup_compare.py" corpus/docs.jsonl truth.json "$work" 2>"$work/compare.log" | grep -E "^(datasketch|datatrove):"
echo "== datasketch"; score datasketch.kept
echo "== datatrove"; score datatrove.kept
