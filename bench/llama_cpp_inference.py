"""llama.cpp's side of the inference benchmark (bench/inference.sh): speed and peak memory of
one GGUF file through llama-cpp-python's low-level API, on N threads, with an F32 KV cache.

usage:
  llama_cpp_inference.py MODEL.gguf [MODEL2.gguf ...] [--threads 2] [--runs 5] [--seed 0]
                         [--tests prefill,decode,parallel] [--sequences 1,4,16]
                         [--prompt-tokens 512] [--short-prompt 16] [--decode-tokens 128]
                         [--flash-attn auto|on|off]

Output: one JSON line per measurement on standard output (the first line, "test": "system", is
llama.cpp's system info and the version), progress and errors on standard error. The pipe side
of the benchmark prints the same lines with "engine": "pipe", so the two can be joined on
(model, test, sequences).

Tests (each measured in its own child process, so that its peak RSS is its own):
  prefill   one llama_decode of a --prompt-tokens (512) prompt as a single batch (n_batch =
            n_ubatch = the prompt length, logits for the last position only), from an empty KV
            cache; tokens/s = prompt tokens / seconds of that call.
  decode    single-stream greedy decoding: a --short-prompt (16 tokens) prompt is decoded (not
            timed), then --decode-tokens (128) steps, each the argmax of the last logits and one
            llama_decode of that one token; tokens/s = steps / seconds of the steps. EOS does not stop it.
  parallel  aggregate decoding of P concurrent sequences for each P in --sequences (1, 4, 16):
            the P short prompts (distinct seq_ids 0..P-1) are decoded together in one batch (not
            timed), then --decode-tokens steps, each ONE llama_batch holding one token per
            sequence (its own argmax) with logits for all P; tokens/s = P x steps / seconds.
            n_seq_max = P, n_ctx = P x (short prompt + decode tokens) rounded up to 256 per
            sequence, kv_unified on (--kv-unified; one KV buffer for all sequences, as llama-server
            sets it for its default 4 slots; off, llama_context_default_params' value, keeps one
            buffer per sequence and measured 1.3-1.8x slower at 16 sequences here).
Each test does one untimed warm-up run, then --runs timed runs from an empty KV cache (memory
cleared between runs, context and model kept); the figure (tokens_per_second) is the median,
tokens_per_second_best the fastest run, and every run is listed.

Prompts: deterministic token ids, no tokenizer involved, so any engine can reproduce them.
Stream k's ids come from SplitMix64 seeded with (seed + k) (pipe's Support.SplitMix64:
state += 0x9E3779B97F4A7C15; z = state; z = (z ^ z>>30) * 0xBF58476D1CE4E5B9;
z = (z ^ z>>27) * 0x94D049BB133111EB; z ^ z>>31, all mod 2^64), token i = 1 + next() % (n_vocab - 1)
(id 0, pipe's <|endoftext|>, is never drawn). Stream 0 is the prefill prompt, stream 1 the
decode test's short prompt, stream 2 + s the short prompt of parallel sequence s.

Context settings: type_k = type_v = F32 (GGML_TYPE_F32), n_threads = n_threads_batch = --threads,
flash attention as --flash-attn (default auto: llama.cpp's default, which enables it on the CPU),
the model memory-mapped (llama.cpp's default, so the weights count in RSS as the pages are
touched). peak_rss_mb is the child's ru_maxrss (os.wait4): the Python interpreter, numpy and
llama.cpp's library included; base_rss_mb is the child's RSS just before the model is loaded,
so peak_rss_mb - base_rss_mb is what loading and running the model added.

Shared machines: llama.cpp's threads spin at every barrier, so a figure taken while another
process holds a core can be several times too low. Before each test the script waits (--wait, at
most 120 s) until other processes use at most --max-other-cores cores (default: the cores the
test's threads leave free + 0.2: 0.2 for 2 threads on 2 cores, 1.2 for 1 thread), measured from
/proc/stat over a second; during the test it counts the machine's busy time less the child's own
CPU time (other_cores, in cores) and runs the test again (--retries, 3) when that exceeds the
limit, keeping the quietest attempt. Each line has cpu_seconds (the child's user + system time),
wall_seconds, other_cores_before, other_cores and attempt.
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MASK = (1 << 64) - 1


def splitmix64(seed):
    state = seed & MASK
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def prompt_ids(seed, stream, n, n_vocab):
    """The n token ids of prompt stream `stream` (see the module doc)."""
    gen = splitmix64(seed + stream)
    return [1 + next(gen) % (n_vocab - 1) for _ in range(n)]


def rss_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


# ----------------------------------------------------------------------------------------------
# child: one test on one model
# ----------------------------------------------------------------------------------------------


class Engine:
    def __init__(self, path, threads, flash_attn, kv_unified=False):
        import llama_cpp as L
        import numpy as np

        self.L, self.np = L, np
        L.llama_backend_init()
        self.base_rss = rss_mb("VmRSS")
        mparams = L.llama_model_default_params()
        started = time.perf_counter()
        self.model = L.llama_model_load_from_file(path.encode(), mparams)
        if not self.model:
            raise RuntimeError(f"llama.cpp cannot load {path}")
        self.load_seconds = time.perf_counter() - started
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.threads = threads
        self.kv_unified = kv_unified
        self.flash_attn = {"auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO, "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                           "off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED}[flash_attn]
        buf = ctypes.create_string_buffer(256)
        L.llama_model_desc(self.model, buf, 256)
        self.desc = buf.value.decode("utf-8", "replace")
        self.ctx = None
        self.batch = None

    def info(self):
        L = self.L
        return {"model_desc": self.desc, "n_params": int(L.llama_model_n_params(self.model)),
                "model_bytes": int(L.llama_model_size(self.model)), "n_vocab": self.n_vocab,
                "n_ctx_train": int(L.llama_model_n_ctx_train(self.model)),
                "n_layer": int(L.llama_model_n_layer(self.model)), "n_embd": int(L.llama_model_n_embd(self.model)),
                "load_seconds": round(self.load_seconds, 3)}

    def context(self, n_ctx, n_batch, n_seq_max, max_batch_tokens):
        L = self.L
        p = L.llama_context_default_params()
        p.n_ctx = n_ctx
        p.n_batch = n_batch
        p.n_ubatch = n_batch
        p.n_seq_max = n_seq_max
        p.n_threads = self.threads
        p.n_threads_batch = self.threads
        p.type_k = L.GGML_TYPE_F32
        p.type_v = L.GGML_TYPE_F32
        p.flash_attn_type = self.flash_attn
        p.kv_unified = self.kv_unified
        self.ctx = L.llama_init_from_model(self.model, p)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp cannot make a context (n_ctx {n_ctx}, n_batch {n_batch}, n_seq_max {n_seq_max})")
        self.batch = L.llama_batch_init(max_batch_tokens, 0, 1)
        return {"n_ctx": int(L.llama_n_ctx(self.ctx)), "n_batch": int(L.llama_n_batch(self.ctx)),
                "n_ubatch": int(L.llama_n_ubatch(self.ctx)), "n_seq_max": n_seq_max, "kv_unified": self.kv_unified}

    def clear(self):
        self.L.llama_memory_clear(self.L.llama_get_memory(self.ctx), True)

    def decode(self, entries):
        """entries: (token, pos, seq_id, wants_logits). Returns the seconds llama_decode took."""
        b = self.batch
        b.n_tokens = len(entries)
        for i, (tok, pos, seq, out) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = 1 if out else 0
        started = time.perf_counter()
        rc = self.L.llama_decode(self.ctx, b)
        self.L.llama_synchronize(self.ctx)
        seconds = time.perf_counter() - started
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        return seconds

    def argmax(self, i):
        """Greedy pick from the logits of token i of the last batch (-1: the last output)."""
        ptr = self.L.llama_get_logits_ith(self.ctx, i)
        return int(self.np.argmax(self.np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))))


def run_test(args, path, test, sequences):
    eng = Engine(path, args.threads, args.flash_attn, args.kv_unified == "on")
    n_vocab = eng.n_vocab
    per_seq = (args.short_prompt + args.decode_tokens + 255) // 256 * 256
    if test == "prefill":
        ids = prompt_ids(args.seed, 0, args.prompt_tokens, n_vocab)
        shape = eng.context(args.prompt_tokens, args.prompt_tokens, 1, args.prompt_tokens)
        tokens = args.prompt_tokens

        def once():
            eng.clear()
            return eng.decode([(t, i, 0, i == len(ids) - 1) for i, t in enumerate(ids)])
    elif test == "decode":
        ids = prompt_ids(args.seed, 1, args.short_prompt, n_vocab)
        shape = eng.context(per_seq, max(args.short_prompt, 1), 1, max(args.short_prompt, 1))
        tokens = args.decode_tokens

        def once():
            eng.clear()
            eng.decode([(t, i, 0, i == len(ids) - 1) for i, t in enumerate(ids)])
            pos, seconds = len(ids), 0.0
            started = time.perf_counter()
            for _ in range(args.decode_tokens):
                nxt = eng.argmax(-1)
                eng.decode([(nxt, pos, 0, True)])
                pos += 1
            seconds = time.perf_counter() - started
            return seconds
    elif test == "parallel":
        prompts = [prompt_ids(args.seed, 2 + s, args.short_prompt, n_vocab) for s in range(sequences)]
        first = sequences * args.short_prompt
        shape = eng.context(sequences * per_seq, max(first, sequences), sequences, max(first, sequences))
        tokens = sequences * args.decode_tokens

        def once():
            eng.clear()
            entries = [(t, i, s, i == len(p) - 1) for s, p in enumerate(prompts) for i, t in enumerate(p)]
            eng.decode(entries)
            # logits are asked for by batch index: sequence s's last prompt token, then token s
            rows = [s * args.short_prompt + args.short_prompt - 1 for s in range(sequences)]
            pos = args.short_prompt
            started = time.perf_counter()
            for _ in range(args.decode_tokens):
                picks = [eng.argmax(r) for r in rows]
                rows = list(range(sequences))
                eng.decode([(picks[s], pos, s, True) for s in range(sequences)])
                pos += 1
            return time.perf_counter() - started
    else:
        raise ValueError(test)

    once()  # warm-up
    seconds = [once() for _ in range(args.runs)]
    rates = [tokens / s for s in seconds]
    return {**eng.info(), **shape, "base_rss_mb": round(eng.base_rss, 1), "tokens": tokens,
            "seconds_runs": [round(s, 5) for s in seconds], "tokens_per_second_runs": [round(r, 2) for r in rates],
            "tokens_per_second": round(statistics.median(rates), 2), "tokens_per_second_best": round(max(rates), 2)}


def child_main(argv):
    job = json.loads(argv[0])
    args = argparse.Namespace(**job["args"])
    try:
        result = run_test(args, job["path"], job["test"], job["sequences"])
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


# ----------------------------------------------------------------------------------------------
# parent
# ----------------------------------------------------------------------------------------------


def cpu_busy():
    """Seconds of CPU the whole machine has spent busy (every core; /proc/stat, not idle or iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def other_load(seconds=1.0):
    """Cores other processes keep busy, measured over `seconds` while this process waits."""
    before = cpu_busy()
    time.sleep(seconds)
    return (cpu_busy() - before) / seconds


def wait_quiet(limit, most):
    """Waits (up to `most` seconds) until other processes use at most `limit` cores; returns the
    last figure measured."""
    deadline = time.monotonic() + most
    load = other_load()
    while load > limit and time.monotonic() < deadline:
        time.sleep(2)
        load = other_load()
    return load


def run_child(args, path, test, sequences):
    """Runs one test in a child process; returns its result with its peak RSS (ru_maxrss from
    os.wait4: that child's alone, unlike RUSAGE_CHILDREN, a maximum over every child so far) and
    the cores other processes used meanwhile (the machine's busy time less the child's own)."""
    job = {"args": vars(args), "path": path, "test": test, "sequences": sequences}
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(job)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+", errors="replace") as err:
        busy, started = cpu_busy(), time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall, busy = time.monotonic() - started, cpu_busy() - busy
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = [x for x in out.read().splitlines() if x.startswith("{")]
        stderr = err.read()
    result = json.loads(lines[-1]) if lines else {"error": f"exit {proc.returncode}, no result"}
    if "error" in result:
        tail = [x for x in stderr.splitlines() if x.strip()][-5:]
        result["error"] += " | " + " | ".join(tail)
    else:
        own = usage.ru_utime + usage.ru_stime
        result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
        result["cpu_seconds"] = round(own, 2)
        result["wall_seconds"] = round(wall, 2)
        result["other_cores"] = round(max(0.0, busy - own) / wall, 2)
    return result


def measure(args, path, test, sequences):
    """run_child, retried (up to --retries times, each after waiting for a quiet machine) while
    other processes took more than --max-other-cores; the quietest attempt is kept."""
    best = None
    for attempt in range(args.retries + 1):
        quiet = wait_quiet(args.max_other_cores, args.wait)
        result = {"other_cores_before": round(quiet, 2), **run_child(args, path, test, sequences), "attempt": attempt + 1}
        if "error" in result:
            return result
        if best is None or result["other_cores"] < best["other_cores"]:
            best = result
        if result["other_cores"] <= args.max_other_cores:
            break
        print(f"  other processes used {result['other_cores']} cores during the test; again", file=sys.stderr, flush=True)
    return best


def model_label(path):
    """The file's name without .gguf; for export's NAME/model.gguf, the folder's name."""
    name = os.path.basename(path)
    if name == "model.gguf":
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return name[:-5] if name.endswith(".gguf") else name


def system_line(args):
    import llama_cpp as L

    info = L.llama_print_system_info()
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((x.split(":", 1)[1].strip() for x in f if x.startswith("model name")), "")
    except OSError:
        pass
    return {"test": "system", "engine": "llama.cpp", "engine_version": f"llama-cpp-python {L.__version__}",
            "system_info": info.decode("utf-8", "replace").strip(), "cpu": cpu, "cores": os.cpu_count(),
            "threads": args.threads, "flash_attn": args.flash_attn}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="GGUF files")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="n_threads and n_threads_batch (default: cores)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per test after one warm-up (default 5)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the prompt token ids (default 0)")
    ap.add_argument("--tests", default="prefill,decode,parallel", help="comma-separated subset of prefill,decode,parallel")
    ap.add_argument("--sequences", default="1,4,16", help="concurrent sequences of the parallel test (default 1,4,16)")
    ap.add_argument("--prompt-tokens", type=int, default=512, help="prefill prompt length (default 512)")
    ap.add_argument("--short-prompt", type=int, default=16, help="prompt length before decoding (default 16)")
    ap.add_argument("--decode-tokens", type=int, default=128, help="greedy steps of the decode tests (default 128)")
    ap.add_argument("--flash-attn", choices=["auto", "on", "off"], default="auto", help="default auto (llama.cpp's)")
    ap.add_argument("--kv-unified", choices=["on", "off"], default="on",
                    help="on (default, as llama-server's default slots): one KV buffer shared by the sequences; "
                         "off (llama_context_default_params'): one per sequence")
    ap.add_argument("--max-other-cores", type=float, default=None,
                    help="a test during which other processes used more cores is retried "
                         "(default: the cores the test leaves free + 0.2, e.g. 0.2 for 2 threads on 2 cores)")
    ap.add_argument("--retries", type=int, default=3, help="retries of a disturbed test (default 3)")
    ap.add_argument("--wait", type=float, default=120,
                    help="seconds to wait at most, before each attempt, for other processes to use at most --max-other-cores")
    args = ap.parse_args(argv)
    tests = [t for t in args.tests.split(",") if t]
    if any(t not in ("prefill", "decode", "parallel") for t in tests):
        ap.error(f"unknown test in {args.tests}")
    sequences = [int(s) for s in args.sequences.split(",") if s]
    if args.max_other_cores is None:
        args.max_other_cores = max(0, (os.cpu_count() or 1) - args.threads) + 0.2

    print(json.dumps(system_line(args)), flush=True)
    failed = 0
    for path in args.models:
        plan = [(t, 1) for t in tests if t != "parallel"]
        if "parallel" in tests:
            plan += [("parallel", p) for p in sequences]
        for test, p in plan:
            print(f"{model_label(path)}: {test}{f' x{p}' if test == 'parallel' else ''} ...", file=sys.stderr, flush=True)
            result = measure(args, path, test, p)
            line = {"engine": "llama.cpp", "model": model_label(path), "path": path,
                    "file_bytes": os.path.getsize(path), "test": test, "sequences": p, "threads": args.threads,
                    "kv_type": "f32", "flash_attn": args.flash_attn, "seed": args.seed, "runs": args.runs,
                    "prompt_tokens": args.prompt_tokens if test == "prefill" else args.short_prompt,
                    "decode_tokens": 0 if test == "prefill" else args.decode_tokens, **result}
            failed += "error" in result
            print(json.dumps(line), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
