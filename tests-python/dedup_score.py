"""Scores a dedup result against planted ground truth.

usage: dedup_score.py TRUTH.json KEPT_IDS.txt --removed N [KIND=MIN_RECALL ...] [--min-precision P]

A variant is found when it was removed while its original was kept, or the reverse (one of
the pair survives). Precision: of the documents removed, the share that were planted variants
(or originals whose variant survived). Prints recall per kind and overall, precision, and
`N passed, M failed` for the KIND=MIN_RECALL checks plus precision >= P (default 0.995).
"""
import json
import sys

truth = json.load(open(sys.argv[1]))
kept = set(open(sys.argv[2]).read().split())
all_ids = set(truth) | {v["original"] for v in truth.values()}
found = {}
for vid, info in truth.items():
    both = vid in kept and info["original"] in kept
    one = (vid in kept) != (info["original"] in kept)
    found.setdefault(info["kind"], []).append(one and not both)
removed_planted = sum(1 for i in all_ids if i not in kept)
total_removed = int(sys.argv[sys.argv.index("--removed") + 1]) if "--removed" in sys.argv else removed_planted
precision = removed_planted / total_removed if total_removed else 1.0
passed = failed = 0
for kind, hits in found.items():
    print(f"recall {kind}: {sum(hits) / len(hits):.3f}")
overall = sum(sum(h) for h in found.values()) / sum(len(h) for h in found.values())
print(f"recall overall: {overall:.3f}; precision: {precision:.3f} ({removed_planted} of {total_removed} removed documents were planted pairs)")
for arg in sys.argv[3:]:
    if "=" in arg and not arg.startswith("--") and not arg.replace(".", "").isdigit():
        kind, want = arg.split("=")
        got = sum(found[kind]) / len(found[kind])
        if got >= float(want):
            passed += 1
        else:
            failed += 1
            print(f"FAIL: recall {kind} {got:.3f} < {want}")
if precision >= float(sys.argv[sys.argv.index("--min-precision") + 1]) if "--min-precision" in sys.argv else 0.995:
    passed += 1
else:
    failed += 1
    print(f"FAIL: precision {precision:.3f}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
