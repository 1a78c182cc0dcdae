"""Perplexity of a model over one token split, from the exported weights, with numpy alone.

An independent check of pipe's `evaluate`: the windows are laid out the Hugging Face way
(each token after the first predicted once; after the first window each prediction keeps at
least context - stride tokens of context), the forward pass is llama_reference.py's float64 one.

    python3 perplexity_reference.py --model DIR --tokens DIR --split test --stride S [--max-tokens N]

Prints {"loss": mean nats per predicted token, "perplexity": exp(loss), "tokens": count}.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402


def read_split(folder, split):
    meta = json.load(open(os.path.join(folder, "meta.json")))
    dtype = np.uint32 if meta["dtype"] == "uint32" else np.uint16
    parts = [np.fromfile(os.path.join(folder, f), dtype=np.dtype(dtype).newbyteorder("<")) for f in meta["splits"][split]["files"]]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def windows(n_tokens, length, stride, limit):
    """(start, first scored position) pairs covering predictions of tokens 1..n-1 once each."""
    predictions = n_tokens - 1 if limit is None else min(n_tokens - 1, limit)
    out, covered = [(0, 0)], min(length, predictions)
    while covered < predictions:
        end = min(covered + stride, predictions)
        out.append((end - length, covered - (end - length)))
        covered = end
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--stride", type=int, required=True)
    ap.add_argument("--max-tokens", type=int)
    a = ap.parse_args()
    cfg, params = ref.load_model(a.model)
    tokens = read_split(a.tokens, a.split)
    length = min(cfg.max_pos, len(tokens) - 1)
    total, count = 0.0, 0
    for start, first in windows(len(tokens), length, min(a.stride, length), a.max_tokens):
        chunk = tokens[start:start + length + 1]
        inputs, targets = chunk[None, :-1], chunk[None, 1:]
        _, logits, _ = ref.forward(cfg, params, inputs, targets)
        mx = logits.max(axis=-1, keepdims=True)
        lse = mx[..., 0] + np.log(np.exp(logits - mx).sum(axis=-1))
        losses = lse - np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
        total += float(losses[0, first:].sum())
        count += length - first
    loss = total / count
    print(json.dumps({"loss": loss, "perplexity": math.exp(loss), "tokens": count}))


if __name__ == "__main__":
    main()
