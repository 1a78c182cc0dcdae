"""pipe's side of the inference benchmark (bench/inference.sh): the same tests, prompts and JSON
lines as bench/llama_cpp_inference.py (llama.cpp's side), with "engine": "pipe", run through
`pipe generate --json` on the same GGUF files and thread count.

usage:
  pipe_inference.py MODEL.gguf [MODEL2.gguf ...] --pipe PIPE --tokenizers DIR [--threads 2] [--runs 5]
                    [--seed 0] [--tests prefill,decode,parallel] [--sequences 1,4,16]
                    [--prompt-tokens 512] [--short-prompt 16] [--decode-tokens 128]

DIR holds tokenizer-<vocabulary size>/ folders (bench/inference-models.sh makes them); pipe
generate needs one, though every prompt here is given as token ids (--prompt-ids), the same
SplitMix64 streams llama.cpp's side uses.

Tests (each run is one `pipe generate` process, whose peak RSS (VmHWM) it reports itself; the figure is the
median of --runs runs after one warm-up run, each waiting first for a quiet machine as
llama.cpp's side does):
  prefill   the --prompt-tokens prompt (stream 0) with -n 1: prompt tokens / seconds to the first
            token (one forward pass over the whole prompt, logits of its last row, one argmax).
  decode    the --short-prompt prompt (stream 1), then --decode-tokens greedy steps (-n steps+1):
            steps / seconds after the first token.
  parallel  P sequences with prompts streams 2..P+1 (--prompt-ids each, --parallel P), each
            --decode-tokens steps after its first token: P x steps / seconds after the last first token.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_cpp_inference import cpu_busy, model_label, prompt_ids, wait_quiet  # noqa: E402


def vocabulary(path):
    """n_vocab of a GGUF file: the config.json beside it (export's NAME/model.gguf), else gguf-py."""
    config = os.path.join(os.path.dirname(os.path.realpath(path)), "config.json")
    if os.path.exists(config):
        with open(config) as f:
            return json.load(f)["vocab_size"]
    import gguf

    return int(gguf.GGUFReader(path).get_tensor(0).shape[1])


def one_run(args, path, tokenizer, prompts, steps, parallel):
    """One `pipe generate` process: its timings line (with its peak RSS), and the cores other
    processes used meanwhile (the machine's busy time less what this run's threads could use)."""
    cmd = [args.pipe, "generate", path, "-t", tokenizer, "-n", str(steps), "--temperature", "0", "--ignore-eos",
           "--json", "--threads", str(args.threads), "--parallel", str(parallel)]
    for ids in prompts:
        cmd += ["--prompt-ids", " ".join(map(str, ids))]
    busy, started = cpu_busy(), time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall, busy = time.monotonic() - started, cpu_busy() - busy
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {err.strip()[-300:]}"}
    timings = json.loads(out.strip().splitlines()[-1])
    timings["wall_seconds"] = round(wall, 2)
    timings["other_cores"] = round(max(0.0, busy - wall * min(args.threads, os.cpu_count())) / wall, 2) if wall > 0 else 0
    return timings


def measure(args, path, test, sequences):
    vocab = vocabulary(path)
    tokenizer = os.path.join(args.tokenizers, f"tokenizer-{vocab}")
    if test == "prefill":
        prompts, steps, parallel, key = [prompt_ids(args.seed, 0, args.prompt_tokens, vocab)], 1, 1, "prefill_tokens_per_second"
    elif test == "decode":
        prompts, steps, parallel, key = [prompt_ids(args.seed, 1, args.short_prompt, vocab)], args.decode_tokens + 1, 1, "decode_tokens_per_second"
    else:
        prompts = [prompt_ids(args.seed, 2 + s, args.short_prompt, vocab) for s in range(sequences)]
        steps, parallel, key = args.decode_tokens + 1, sequences, "decode_tokens_per_second"
    runs = []
    for n in range(args.runs + 1):
        wait_quiet(args.max_other_cores, args.wait)
        result = one_run(args, path, tokenizer, prompts, steps, parallel)
        if "error" in result:
            return result
        if n > 0:  # the first run warms the page cache
            runs.append(result)
    rates = [r[key] for r in runs]
    return {"tokens_per_second": statistics.median(rates), "runs_tokens_per_second": [round(x, 1) for x in rates],
            "peak_rss_mb": round(max(r["peak_rss_bytes"] for r in runs) / 1e6, 1), "weights_type": runs[0]["weights_type"],
            "weights_bytes": runs[0]["weights_bytes"], "other_cores": max(r["other_cores"] for r in runs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--pipe", required=True)
    ap.add_argument("--tokenizers", required=True, help="folder of tokenizer-<vocab>/ folders")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tests", default="prefill,decode,parallel")
    ap.add_argument("--sequences", default="1,4,16")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--short-prompt", type=int, default=16)
    ap.add_argument("--decode-tokens", type=int, default=128)
    ap.add_argument("--max-other-cores", type=float, default=None)
    ap.add_argument("--wait", type=float, default=120)
    args = ap.parse_args()
    if args.max_other_cores is None:
        args.max_other_cores = max(0, (os.cpu_count() or 1) - args.threads) + 0.2
    tests = [t for t in args.tests.split(",") if t]
    failed = 0
    for path in args.models:
        plan = [(t, 1) for t in tests if t != "parallel"]
        if "parallel" in tests:
            plan += [("parallel", int(p)) for p in args.sequences.split(",") if p]
        for test, p in plan:
            print(f"{model_label(path)}: {test}{f' x{p}' if test == 'parallel' else ''} ...", file=sys.stderr, flush=True)
            result = measure(args, path, test, p)
            failed += "error" in result
            print(json.dumps({"engine": "pipe", "model": model_label(path), "path": path, "file_bytes": os.path.getsize(path),
                              "test": test, "sequences": p, "threads": args.threads, "kv_type": "f32", "seed": args.seed,
                              "runs": args.runs, "prompt_tokens": args.prompt_tokens if test == "prefill" else args.short_prompt,
                              "decode_tokens": 0 if test == "prefill" else args.decode_tokens, **result}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
