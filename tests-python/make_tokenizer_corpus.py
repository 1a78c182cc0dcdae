"""Writes a JSONL corpus for tokenizer conformance: the Python standard library's sources
(real text and code; the first 11 MB, site-packages excluded) plus seeded documents full of the
hard cases of byte-level BPE: CJK, emoji with joiners and skin tones, combining marks,
\\r\\n line ends, long white-space runs, Unicode spaces, digits, contractions in any case, and
invalid bytes repaired to U+FFFD.

usage: make_tokenizer_corpus.py OUT.jsonl [--hard-only] [--megabytes N]
"""
import glob
import json
import random
import sys
import sysconfig

out_path = sys.argv[1]
limit = int(sys.argv[sys.argv.index("--megabytes") + 1]) * 1_000_000 if "--megabytes" in sys.argv else 11_000_000
rng = random.Random(1234)

def pick(lo, hi, n):
    return "".join(chr(rng.randint(lo, hi)) for _ in range(n))

words = ["the", "model", "token", "pipe", "don't", "it's", "WE'LL", "they're", "I'M", "you've", "she'd", "O'Neil",
         "naïve", "café", "Ångström", "straße", "Σίσυφος", "Москва", "東京", "서울", "नमस्ते", "مرحبا", "שלום"]
fragments = [
    lambda: pick(0x4E00, 0x9FFF, rng.randint(1, 12)),                       # CJK ideographs
    lambda: pick(0x3040, 0x309F, rng.randint(1, 8)),                        # Hiragana
    lambda: pick(0xAC00, 0xD7A3, rng.randint(1, 6)),                        # Hangul
    lambda: "👩\u200d💻" + rng.choice(["👍🏽", "🇩🇪", "❤️", "🧑🏿\u200d🚀", "😀😃😄"]),  # emoji, ZWJ, flags, skin tones
    lambda: "e\u0301" + "a\u0308\u0304" + "\u0915\u094d\u0937",            # combining marks, Devanagari conjunct
    lambda: "\r\n" * rng.randint(1, 3),
    lambda: " " * rng.randint(2, 40) + "\t" * rng.randint(0, 3),
    lambda: "\n" * rng.randint(2, 6) + " " * rng.randint(0, 8),
    lambda: rng.choice(["\u00a0", "\u3000", "\u2028", "\u2009", "\u202f", "\u0085"]) * rng.randint(1, 3),
    lambda: str(rng.randint(0, 10**rng.randint(1, 15))) + rng.choice(["", ".", ",", "²", "½", "Ⅻ", "٣"]),
    lambda: rng.choice(words) + rng.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "''", "'"]),
    lambda: bytes([rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 4))]).decode("utf-8", errors="replace"),
    lambda: rng.choice(["{", "}", "()", "=>", "!==", "---", "...", "«»", "“quoted”", "§", "©"]) * rng.randint(1, 5),
    lambda: " " + rng.choice(words),
]

docs = []
if "--hard-only" not in sys.argv:
    stdlib = sysconfig.get_paths()["stdlib"]
    size = 0
    for path in sorted(glob.glob(stdlib + "/**/*.py", recursive=True)):
        if "-packages/" in path or size > limit:
            continue
        with open(path, "rb") as f:
            docs.append(f.read().decode("utf-8", errors="replace"))
        size += len(docs[-1].encode())
for _ in range(3000):
    docs.append("".join(rng.choice(fragments)() for _ in range(rng.randint(5, 120))))

with open(out_path, "w", encoding="utf-8") as f:
    for n, text in enumerate(docs):
        f.write(json.dumps({"id": str(n), "text": text}, ensure_ascii=False) + "\n")
print(f"{len(docs)} documents, {sum(len(d.encode()) for d in docs) / 1e6:.1f} MB")
