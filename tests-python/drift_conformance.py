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
and, when the monitor read a request log (`histograms.json` `requests`: per window the latencies,
times to first token, and each request's summed log-probability and generated tokens):
  drift.<window>.latency_ms_pXX, ttft_ms_pXX   numpy.percentile (linear) at 50, 90 and 99
  drift.<window>.mean_logprob                  sum of log-probabilities / generated tokens
  drift.mean_logprob_delta, drift.latency_p50_ratio, drift.latency_p90_ratio
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


def document_statistics(histograms, args):
    """The token, length and language distances between the reference and current documents."""
    ref, cur = histograms["reference"], histograms["current"]
    p_counts = np.array(ref["token_counts"], dtype=np.float64)
    q_counts = np.array(cur["token_counts"], dtype=np.float64)
    ref_lengths = np.array(ref["lengths"], dtype=np.float64)
    cur_lengths = np.array(cur["lengths"], dtype=np.float64)
    languages = sorted(set(ref["languages"]) | set(cur["languages"]))
    ref_mix = np.array([ref["languages"].get(code, 0) for code in languages], dtype=np.float64)
    cur_mix = np.array([cur["languages"].get(code, 0) for code in languages], dtype=np.float64)

    return {
        "drift.token_js": float(jensenshannon(p_counts, q_counts, base=2) ** 2),
        "drift.token_psi": psi(p_counts, q_counts, args.psi_bins, args.psi_epsilon),
        "drift.length_wasserstein": float(wasserstein_distance(ref_lengths, cur_lengths) / ref_lengths.mean()),
        "drift.language_shift": float(0.5 * np.abs(ref_mix / ref_mix.sum() - cur_mix / cur_mix.sum()).sum()),
        "drift.tokens_per_byte_ratio": float((q_counts.sum() / cur_lengths.sum()) / (p_counts.sum() / ref_lengths.sum())),
    }


def request_statistics(requests):
    """Each window's latency percentiles and mean log-probability, and their changes."""
    out = {}
    for window in ("earlier", "current"):
        w = requests[window]
        for field in ("latency_ms", "ttft_ms"):
            values = np.array(w[field], dtype=np.float64)
            if len(values):
                for q in (50, 90, 99):
                    out[f"drift.{window}.{field}_p{q}"] = float(np.percentile(values, q))
        tokens = np.array(w["generated_tokens"], dtype=np.float64)
        if tokens.sum() > 0:
            out[f"drift.{window}.mean_logprob"] = float(np.sum(w["logprob_sums"]) / tokens.sum())
    if "drift.earlier.mean_logprob" in out and "drift.current.mean_logprob" in out:
        out["drift.mean_logprob_delta"] = out["drift.current.mean_logprob"] - out["drift.earlier.mean_logprob"]
    for q in (50, 90):
        earlier, current = out.get(f"drift.earlier.latency_ms_p{q}"), out.get(f"drift.current.latency_ms_p{q}")
        if earlier and current is not None:
            out[f"drift.latency_p{q}_ratio"] = current / earlier
    return out


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
    expected = {}
    if "reference" in histograms:
        expected.update(document_statistics(histograms, args))
    if "requests" in histograms:
        expected.update(request_statistics(histograms["requests"]))
    if not expected:
        sys.exit(f"{args.drift}: histograms.json holds neither documents nor requests")
    failures = 0
    for name, theirs in expected.items():
        ours = metrics.get(name)
        ok = ours is not None and abs(ours - theirs) <= 1e-9 * max(1.0, abs(theirs))
        failures += not ok
        print(f"{name:28s} pipe {ours!r:24} reference {theirs!r:24} {'ok' if ok else 'DIFFERS'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
