"""Keep/drop agreement of pipe's clean filters with datatrove's, filter by filter.

usage: clean_conformance.py OUT_DIR [--show N] [--min-agreement P]

OUT_DIR holds the folders a conformance pipeline publishes (bench/clean.sh writes it): `text/`
(the documents every filter saw) and, per filter, `<filter>/` with pipe's rejects. Each
datatrove filter runs on the same texts with its default settings; the script prints, per filter,
documents, drops by each side, agreement, and the first N disagreements with both reasons.
Exits 1 when a filter agrees on fewer than P percent of documents.
"""
import glob
import json
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

out = sys.argv[1]
show = int(sys.argv[sys.argv.index("--show") + 1]) if "--show" in sys.argv else 5
minimum = float(sys.argv[sys.argv.index("--min-agreement") + 1]) if "--min-agreement" in sys.argv else 0.0


def read(folder):
    docs = []
    for path in sorted(glob.glob(f"{out}/{folder}/part-*.jsonl")):
        with open(path, encoding="utf-8") as f:
            docs += [json.loads(line) for line in f]
    return docs


texts = read("text")
filters = {
    "gopher_quality": GopherQualityFilter(),
    "gopher_repetition": GopherRepetitionFilter(),
    "c4": C4QualityFilter(),
    "fineweb": FineWebQualityFilter(),
}
failed = False
mb = sum(len(d['text'].encode()) for d in texts) / 1e6
print(f"{len(texts)} documents, {mb:.1f} MB of text")
for name, f in filters.items():
    ours = {d["id"]: d["meta"]["reject"]["reason"] for d in read(name)}
    theirs = {}
    started = time.perf_counter()
    for d in texts:
        try:
            verdict = f.filter(Document(text=d["text"], id=d["id"]))
        except ZeroDivisionError:
            verdict = (False, "division by zero")
        if verdict is not True:
            theirs[d["id"]] = verdict[1] if isinstance(verdict, tuple) else "dropped"
    seconds = time.perf_counter() - started
    disagree = [d for d in texts if (d["id"] in ours) != (d["id"] in theirs)]
    agreement = 100.0 * (len(texts) - len(disagree)) / len(texts)
    print(f"{name:18s} pipe drops {len(ours):5d}  datatrove drops {len(theirs):5d}  agree {agreement:6.2f}%  ({len(disagree)} differ)  datatrove {mb / seconds:.2f} MB/s")
    for d in disagree[:show]:
        ours_reason = " ".join(ours.get(d["id"], "keep").split())[:60]
        print(f"    {d['id'][:70]:70s} pipe: {ours_reason} | datatrove: {' '.join(str(theirs.get(d['id'], 'keep')).split())[:60]}")
    failed |= agreement < minimum
sys.exit(1 if failed else 0)
