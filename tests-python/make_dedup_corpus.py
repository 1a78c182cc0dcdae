"""Planted-duplicate corpus for minhash-dedup: real text with variants of known kind.

usage: make_dedup_corpus.py OUT.jsonl TRUTH.json [--originals N] [--per-kind M]

Originals are 150-word windows of the Python standard library's sources, kept only when
their word 5-gram Jaccard with every earlier original is below 0.3, so originals are not
near duplicates of each other. The words are those of the normalization dedup tools use
(datatrove's simplify_text: lowercase, numbers to 0, punctuation to spaces): under it, two
code-table windows that differ only in their hex numbers are the same text. For M originals
per kind, a variant is planted: exact copy, white space and case noise, 1/2/5/10% of words
replaced, two sentences swapped, and truncation to 85%. TRUTH.json maps each variant id to its original id and kind.
"""
import glob
import json
import os
import random
import re
import sys
import sysconfig

out_path, truth_path = sys.argv[1], sys.argv[2]
n_originals = int(sys.argv[sys.argv.index("--originals") + 1]) if "--originals" in sys.argv else 2000
per_kind = int(sys.argv[sys.argv.index("--per-kind") + 1]) if "--per-kind" in sys.argv else 100
rng = random.Random(42)

def shingles(text, n=5):
    words = re.sub(r"[^\w\s]|_", " ", re.sub(r"\d+([.,]\d+)?", "0", text.lower())).split()
    return {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}

originals = []
index = {}
stdlib = sysconfig.get_paths()["stdlib"]
for path in sorted(glob.glob(stdlib + "/**/*.py", recursive=True)):
    if "-packages/" in path or "/test" in path:
        continue
    words = open(path, encoding="utf-8", errors="replace").read().split()
    for start in range(0, len(words) - 150, 150):
        text = " ".join(words[start:start + 150])
        s = shingles(text)
        seen = {}
        for g in s:
            for other in index.get(g, ()):
                seen[other] = seen.get(other, 0) + 1
        if any(c / (len(s) + len(originals[o][1]) - c) >= 0.3 for o, c in seen.items()):
            continue
        k = len(originals)
        originals.append((text, s))
        for g in s:
            index.setdefault(g, []).append(k)
        if len(originals) >= n_originals:
            break
    if len(originals) >= n_originals:
        break

def edit(text, fraction):
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, round(len(words) * fraction))):
        words[i] = rng.choice(["alpha", "beta", "gamma", "delta", "omega", "kappa"]) + str(rng.randint(0, 99))
    return " ".join(words)

def noise(text):
    words = text.split()
    return "".join(w.upper() if rng.random() < 0.3 else w for w in re.split(r"(\s+)", " ".join(words))).replace(" ", rng.choice(["  ", " \n", "\t"]), 20)

def swap(text):
    words = text.split()
    a, b = sorted(rng.sample(range(0, len(words) - 20), 2))
    if b - a < 20:
        b = min(len(words) - 20, a + 20)
    return " ".join(words[:a] + words[b:b + 20] + words[a + 20:b] + words[a:a + 20] + words[b + 20:])

kinds = {
    "exact": lambda t: t,
    "noise": noise,
    "edit1": lambda t: edit(t, 0.01),
    "edit2": lambda t: edit(t, 0.02),
    "edit5": lambda t: edit(t, 0.05),
    "edit10": lambda t: edit(t, 0.10),
    "swap": swap,
    "truncate": lambda t: " ".join(t.split()[:int(len(t.split()) * 0.85)]),
}
docs = [{"id": f"o{i}", "text": t} for i, (t, _) in enumerate(originals)]
truth = {}
chosen = rng.sample(range(len(originals)), min(len(originals), per_kind * len(kinds)))
for k, (kind, make) in enumerate(kinds.items()):
    for j in chosen[k * per_kind:(k + 1) * per_kind]:
        vid = f"v{kind}-{j}"
        docs.append({"id": vid, "text": make(originals[j][0])})
        truth[vid] = {"original": f"o{j}", "kind": kind}
rng.shuffle(docs)
os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
with open(out_path, "w", encoding="utf-8") as f:
    for d in docs:
        f.write(json.dumps(d, ensure_ascii=False) + "\n")
json.dump(truth, open(truth_path, "w"), indent=1)
print(f"{len(originals)} originals, {len(truth)} planted variants, {sum(len(d['text'].encode()) for d in docs) / 1e6:.1f} MB")
