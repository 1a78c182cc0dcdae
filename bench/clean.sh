#!/usr/bin/env bash
# The clean stage against datatrove, side by side in one run, on a real corpus: the Debian
# Administrator's Handbook (HTML, 26 languages) and the Python 3.11 documentation (HTML), both
# Debian packages. Prints, per filter: pipe's and datatrove's drops, their keep/drop agreement,
# and single-core throughput of each side; then all filters together on one core with peak RSS.
#
#   bench/clean.sh [--show N]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
scripts/install-deps debian-handbook python3.11-doc
scripts/python-env requirements-test.txt
.venv/bin/python -c "import datatrove, spacy" 2>/dev/null || .venv/bin/pip install -q datatrove spacy
swift build -c release --product pipe >/dev/null
pipe="$repo/.build/release/pipe"
work=$(mktemp -d /tmp/pipe-clean-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
no_pii='pii: {emails: false, ips: false, phones: false}'
{
  cat <<YAML
version: 1
name: clean-bench
stages:
  collect:
    uses: collect
    with:
      sources:
        - {name: handbook, path: /usr/share/doc/debian-handbook/html, include: ["**/*.html"]}
        - {name: python-docs, path: /usr/share/doc/python3.11/html, include: ["**/*.html"]}
  text:
    uses: clean
    inputs: {documents: collect.documents}
    with: {skip: [length, language], $no_pii}
    publish: {documents: out/text/}
  web:
    uses: clean
    inputs: {documents: text.documents}
    with: {preset: web, html: never, language: {languages: [en]}, $no_pii}
YAML
  cat <<YAML
  quality:
    uses: clean
    inputs: {documents: text.documents}
    with: {filters: [gopher_repetition, gopher_quality, c4, fineweb], html: never, $no_pii}
YAML
  for f in gopher_quality gopher_repetition c4 fineweb language; do
    cat <<YAML
  $f:
    uses: clean
    inputs: {documents: text.documents}
    with: {filters: [$f], html: never, language: {languages: [en]}, $no_pii}
    publish: {rejects: out/$f/}
YAML
  done
} > c.yaml
"$pipe" run c.yaml --threads 1 >/dev/null 2>&1
metric() { "$pipe" show c.yaml "$1" --json | python3 -c "import json, sys; print('%.1f' % json.load(sys.stdin)['metrics']['$2'])"; }
echo "== keep/drop agreement with datatrove (each filter alone, same texts)"
"$repo/.venv/bin/python" "$repo/tests-python/clean_conformance.py" out "$@"
echo "== pipe, one core, each filter alone (filter time only)"
for f in gopher_quality gopher_repetition c4 fineweb language; do
  echo "$f: $(metric "$f" "clean.$f.mb_per_second") MB/s"
done
echo "== pipe, one core, the four quality filters together on every document (filter time; words split once and shared)"
for run in 1 2 3; do
  /usr/bin/time -f "%M" -o rss "$pipe" run c.yaml quality --force quality --threads 1 >/dev/null 2>&1
  "$pipe" show c.yaml quality --json | python3 -c "
import json, sys
m = json.load(sys.stdin)['metrics']
seconds = sum(m['clean.%s.seconds' % f] for f in ('gopher_repetition', 'gopher_quality', 'c4', 'fineweb'))
print('run $run: filters %.1f MB/s (%.2f s), whole stage %.1f MB/s, peak RSS %d MB' % (m['bytes.in'] / 1e6 / seconds, seconds, m['clean.mb_per_second'], int(open('rss').read()) // 1024))"
done
echo "== pipe, one core, the web preset (language + all four web filters), whole stage with JSON in and out"
for run in 1 2 3; do
  /usr/bin/time -f "%M" -o rss "$pipe" run c.yaml web --force web --threads 1 >/dev/null 2>&1
  echo "run $run: stage $(metric web clean.mb_per_second) MB/s, peak RSS $(( $(cat rss) / 1024 )) MB, kept $(metric web documents.out) of $(metric web documents.in)"
done
echo "== language identification by folder (pipe's CLD2, documents each folder's language filter would see)"
python3 - <<'PY'
import collections, glob, json
rejected = collections.Counter()
for path in glob.glob("out/language/part-*.jsonl"):
    for line in open(path):
        d = json.loads(line)
        folder = d["id"].split("/")[1] if d["id"].startswith("handbook/") else "python-docs"
        rejected[(folder, d["meta"].get("language", "?"))] += 1
print("rejected as not English, by folder and detected language:")
print("  " + ", ".join(f"{folder}:{code} {n}" for (folder, code), n in sorted(rejected.items())))
PY
