"""Checks each of the monitor's drift statistics against scipy's or numpy's on the same data.

usage: drift_conformance.py DRIFT_DIR [--psi-bins K] [--psi-epsilon E]

DRIFT_DIR is a published `drift` artifact of the monitor stage: `histograms.json` holds, per side,
the token counts by id, the document lengths in bytes and the documents per language, and
`metrics.json` pipe's values. Recomputed here:
  drift.token_js            scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2
  drift.token_psi           sum((q - p) * ln(q / p)) in numpy over the K most frequent reference
                            ids (ties: lower id) plus an "other" bin, shares below epsilon raised to it
  drift.length_wasserstein  scipy.stats.wasserstein_distance(reference, current) / mean(reference)
  drift.language_shift      0.5 * sum(|p - q|) over the languages of both sides
  drift.tokens_per_byte_ratio  the ratio of tokens per byte
Prints one line per statistic and exits non-zero when any differs by more than 1e-9 (relative).
"""
import argparse
import json
import sys

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance


def psi(reference, current, k, epsilon):
    """The population stability index over the top-k reference ids plus an "other" bin."""
    seen = np.flatnonzero(reference > 0)
    top = seen[np.argsort(-reference[seen], kind="stable")][:k]
    p = reference[top] / reference.sum()
    q = current[top] / current.sum()
    p = np.append(p, 1 - p.sum())
    q = np.append(q, 1 - q.sum())
    p, q = np.maximum(p, epsilon), np.maximum(q, epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("drift")
    parser.add_argument("--psi-bins", type=int, default=20)
    parser.add_argument("--psi-epsilon", type=float, default=1e-4)
    args = parser.parse_args()
    with open(f"{args.drift}/histograms.json", encoding="utf-8") as f:
        histograms = json.load(f)
    with open(f"{args.drift}/metrics.json", encoding="utf-8") as f:
        metrics = json.load(f)
    ref, cur = histograms["reference"], histograms["current"]
    p_counts = np.array(ref["token_counts"], dtype=np.float64)
    q_counts = np.array(cur["token_counts"], dtype=np.float64)
    ref_lengths = np.array(ref["lengths"], dtype=np.float64)
    cur_lengths = np.array(cur["lengths"], dtype=np.float64)
    languages = sorted(set(ref["languages"]) | set(cur["languages"]))
    ref_mix = np.array([ref["languages"].get(code, 0) for code in languages], dtype=np.float64)
    cur_mix = np.array([cur["languages"].get(code, 0) for code in languages], dtype=np.float64)

    expected = {
        "drift.token_js": float(jensenshannon(p_counts, q_counts, base=2) ** 2),
        "drift.token_psi": psi(p_counts, q_counts, args.psi_bins, args.psi_epsilon),
        "drift.length_wasserstein": float(wasserstein_distance(ref_lengths, cur_lengths) / ref_lengths.mean()),
        "drift.language_shift": float(0.5 * np.abs(ref_mix / ref_mix.sum() - cur_mix / cur_mix.sum()).sum()),
        "drift.tokens_per_byte_ratio": float((q_counts.sum() / cur_lengths.sum()) / (p_counts.sum() / ref_lengths.sum())),
    }
    failures = 0
    for name, theirs in expected.items():
        ours = metrics.get(name)
        ok = ours is not None and abs(ours - theirs) <= 1e-9 * max(1.0, abs(theirs))
        failures += not ok
        print(f"{name:28s} pipe {ours!r:24} reference {theirs!r:24} {'ok' if ok else 'DIFFERS'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
