"""Compares `evaluate`'s multiple-choice scores with lm-eval's through `pipe serve`.

usage: serve_conformance_compare.py EVALUATE_METRICS_FOLDER LM_EVAL_OUTPUT_FOLDER

Reads evaluate's tasks.jsonl (per item: chosen, answer, log_likelihoods) and metrics.json, and
lm-eval's results_*.json and samples_pipe_serve_mc_*.jsonl (per item: the log-likelihood of each
choice). Prints both accuracies, how many items each side answered alike, and the largest
difference of a log-likelihood; exits 1 when the accuracies or a choice differ.
"""
import glob
import json
import os
import sys

evaluate_folder, lm_eval_folder = sys.argv[1:3]
pipe_items = [json.loads(line) for line in open(os.path.join(evaluate_folder, "tasks.jsonl"))]
pipe_metrics = json.load(open(os.path.join(evaluate_folder, "metrics.json")))
pipe_accuracy = pipe_metrics["task.pipe_serve_mc.accuracy"]
results = json.load(open(sorted(glob.glob(os.path.join(lm_eval_folder, "**", "results_*.json"), recursive=True))[-1]))
lm_accuracy = results["results"]["pipe_serve_mc"]["acc,none"]
samples = sorted((json.loads(line) for path in glob.glob(os.path.join(lm_eval_folder, "**", "samples_pipe_serve_mc_*.jsonl"), recursive=True)
                  for line in open(path)), key=lambda s: s["doc_id"])
assert len(samples) == len(pipe_items), (len(samples), len(pipe_items))
same, largest = 0, 0.0
for item, sample in zip(pipe_items, samples):
    assert item["prompt"] == sample["doc"]["prompt"], (item["prompt"], sample["doc"]["prompt"])
    served = [float(r[0][0]) for r in sample["resps"]]
    chosen = max(range(len(served)), key=served.__getitem__)
    same += chosen == item["chosen"]
    largest = max(largest, max(abs(a - b) for a, b in zip(served, item["log_likelihoods"])))
print(f"evaluate accuracy {pipe_accuracy:.4f}, lm-eval through pipe serve {lm_accuracy:.4f} ({len(samples)} items)")
print(f"same choice on {same} of {len(samples)} items; largest log-likelihood difference {largest:.2e}")
sys.exit(0 if same == len(samples) and abs(pipe_accuracy - lm_accuracy) < 1e-9 else 1)
