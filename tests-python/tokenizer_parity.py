"""Checks pipe's byte-level BPE against Hugging Face `tokenizers`.

usage: tokenizer_parity.py CORPUS.jsonl TOKENIZER_DIR TOKENS_DIR [--train-compare VOCAB MIN_FREQ]

1. Encoding parity: every document in the token shards, decoded by `tokenizers` from pipe's
   ids, encodes back (with `tokenizers`, loading pipe's tokenizer.json) to exactly pipe's ids,
   and the decoded texts are exactly the corpus documents (decode(encode(x)) == x).
2. With --train-compare: `tokenizers`' BpeTrainer on the same documents and settings learns the
   same vocabulary and merges as pipe; bytes per token of both on the corpus are printed.
Prints `N passed, M failed` and exits non-zero on any failure.
"""
import json
import pathlib
import sys

import numpy as np
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders

corpus_path, tokenizer_dir, tokens_dir = sys.argv[1:4]
docs = [json.loads(line)["text"] for line in open(corpus_path, encoding="utf-8") if line.strip()]
tok = Tokenizer.from_file(str(pathlib.Path(tokenizer_dir) / "tokenizer.json"))
meta = json.load(open(pathlib.Path(tokens_dir) / "meta.json"))
eot = meta["end_of_text"]
dtype = np.uint16 if meta["dtype"] == "uint16" else np.uint32

passed = failed = 0
recovered = []
for split, info in meta["splits"].items():
    ids = np.concatenate([np.fromfile(pathlib.Path(tokens_dir) / f, dtype=dtype) for f in info["files"]]) if info["files"] else np.array([], dtype=dtype)
    bounds = np.flatnonzero(ids == eot)
    start = 0
    for end in bounds:
        ours = ids[start:end].tolist()
        start = end + 1
        text = tok.decode(ours, skip_special_tokens=False)
        theirs = tok.encode(text, add_special_tokens=False).ids
        if theirs == ours:
            passed += 1
        else:
            failed += 1
            first = next(i for i, (a, b) in enumerate(zip(ours + [None], theirs + [None])) if a != b)
            print(f"MISMATCH in {split}: first difference at token {first}: pipe {ours[first:first+5]} hf {theirs[first:first+5]} text {text[:80]!r}")
        recovered.append(text)

if sorted(recovered) == sorted(docs):
    passed += 1
else:
    failed += 1
    print(f"ROUNDTRIP: decoded documents differ from the corpus ({len(recovered)} vs {len(docs)})")

if "--train-compare" in sys.argv:
    i = sys.argv.index("--train-compare")
    vocab, min_freq = int(sys.argv[i + 1]), int(sys.argv[i + 2])
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=min_freq, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    hf.train_from_iterator(docs, trainer=trainer)
    ours_json = json.load(open(pathlib.Path(tokenizer_dir) / "tokenizer.json"))
    theirs_json = json.loads(hf.to_str())
    our_merges = [m if isinstance(m, str) else " ".join(m) for m in ours_json["model"]["merges"]]
    their_merges = [m if isinstance(m, str) else " ".join(m) for m in theirs_json["model"]["merges"]]
    same_vocab = ours_json["model"]["vocab"] == theirs_json["model"]["vocab"]
    same_merges = our_merges == their_merges
    n_ours = sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs)
    n_theirs = sum(len(hf.encode(d, add_special_tokens=False).ids) for d in docs)
    total_bytes = sum(len(d.encode("utf-8")) for d in docs)
    print(f"bytes per token: pipe {total_bytes / n_ours:.4f}, tokenizers {total_bytes / n_theirs:.4f} "
          f"(ratio {n_theirs / n_ours:.4f}); identical vocab: {same_vocab}; identical merges: {same_merges}")
    if not same_merges:
        diff = next((k for k, (a, b) in enumerate(zip(our_merges, their_merges)) if a != b), min(len(our_merges), len(their_merges)))
        print(f"  first differing merge #{diff}: pipe {our_merges[diff:diff+3]} tokenizers {their_merges[diff:diff+3]}")
    if abs(n_theirs / n_ours - 1) <= 0.01:
        passed += 1
    else:
        failed += 1

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
