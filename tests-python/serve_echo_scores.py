"""Checks that `pipe serve`'s echo + logprobs give `evaluate`'s log-likelihoods.

usage: serve_echo_scores.py BASE_URL TASKS_JSONL

TASKS_JSONL is evaluate's tasks.jsonl for a multiple-choice task: each line has the item's
"prompt", its "choices" and evaluate's "log_likelihoods" (one per choice). For every choice, the
server scores prompt + choice with echo (max_tokens 0, logprobs 0), and the sum of the
continuation's token log-probabilities (the tokens after the prompt's) must equal evaluate's to
1e-4. Prints the largest difference; exits non-zero on any mismatch.
"""
import json
import sys
import urllib.request

base_url, tasks_file = sys.argv[1:3]


def post(path, body):
    request = urllib.request.Request(base_url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=60).read())


worst, checked = 0.0, 0
for line in open(tasks_file, encoding="utf-8"):
    item = json.loads(line)
    context = len(post("/tokenize", {"prompt": item["prompt"]})["tokens"])
    for choice, expected in zip(item["choices"], item["log_likelihoods"]):
        echo = post("/v1/completions", {"prompt": item["prompt"] + choice, "max_tokens": 0, "echo": True, "logprobs": 0})
        scores = echo["choices"][0]["logprobs"]["token_logprobs"]
        served = sum(scores[min(context, len(scores) - 1):])
        worst = max(worst, abs(served - expected))
        checked += 1
print(f"{checked} choices, largest difference {worst:.2e}")
sys.exit(0 if checked > 0 and worst < 1e-4 else 1)
