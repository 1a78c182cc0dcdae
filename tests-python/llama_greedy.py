"""Greedy reference continuations from llama.cpp (llama-cpp-python), and how pipe agrees with them.

usage:
  llama_greedy.py MODEL.gguf [MODEL2.gguf ...] [--prompt TEXT ...] [-n 64] [--threads 2]
                  [--pipe PIPE_BINARY --tokenizer TOKENIZER_DIR]

For each GGUF and prompt: the prompt is tokenized with the GGUF's own tokenizer through llama.cpp
(llama_tokenize with add_special = False, parse_special = False: no BOS, as `pipe generate` adds
none; an empty prompt becomes [eos], as pipe does), decoded in one batch, then N tokens are
chosen greedily (argmax of the last logits, the lowest id on a tie, like pipe's sampler) and fed
back one at a time. EOS does NOT stop it. F32 KV cache, n_ctx = the model's training context,
flash attention off by default (--flash-attn): llama.cpp's CPU flash attention rounds the queries
and the softmax to f16, about 1e-4 relative, which the Q8_0 rounding of the next layer's
activations can turn into a different token at a near tie. Prints one JSON line per prompt:
  {"model", "prompt", "prompt_ids", "ids", "text", "eos_at", "margins"}
with `text` the continuation's bytes decoded as UTF-8 (replacement characters for cut
sequences), `eos_at` the index in `ids` of the first EOS (null when none) and `margins` llama.cpp's
gap between the best and the second-best logit at each step (a divergence where the gap is
tiny is a near-tie that rounding decides, not a wrong model).

Default prompts: the quickstart's evaluate samples, "The ", "def ", "To create a".

With --pipe and --tokenizer, each prompt is also run through
  PIPE generate MODEL.gguf -t TOKENIZER_DIR --prompt=P -n N --temperature 0
which prints the prompt, the continuation (it stops at EOS) and a newline; the JSON line gains
  "pipe": {"agree": bool, "tokens_agreeing": k, "first_divergence": k or null, "pipe_text": ...}
where the comparison walks llama.cpp's tokens: token k agrees when pipe's output continues with
that token's bytes; the first token that does not is the divergence (pipe prints text, not ids,
so this is a byte-level check of each token). A continuation that reaches EOS is compared up to
the EOS (pipe stops there; llama.cpp goes on). The last line is then a summary:
  {"summary": "k of m agree", ...}; the exit code is 1 when any prompt diverges.
Run it with the bench virtualenv's Python (bench/inference.sh installs llama-cpp-python there).
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys

DEFAULT_PROMPTS = ["The ", "def ", "To create a"]
_quiet = None


class Greedy:
    def __init__(self, path, threads, flash_attn):
        import llama_cpp as L
        import numpy as np

        self.L, self.np = L, np
        L.llama_backend_init()
        self.model = L.llama_model_load_from_file(path.encode(), L.llama_model_default_params())
        if not self.model:
            raise RuntimeError(f"llama.cpp cannot load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.eos = L.llama_vocab_eos(self.vocab)
        self.n_ctx = L.llama_model_n_ctx_train(self.model)
        p = L.llama_context_default_params()
        p.n_ctx = self.n_ctx
        p.n_batch = self.n_ctx
        p.n_ubatch = self.n_ctx
        p.n_seq_max = 1
        p.n_threads = p.n_threads_batch = threads
        p.type_k = p.type_v = L.GGML_TYPE_F32
        p.flash_attn_type = {"auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO, "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                             "off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED}[flash_attn]
        self.ctx = L.llama_init_from_model(self.model, p)
        if not self.ctx:
            raise RuntimeError("llama.cpp cannot make a context")
        self.batch = L.llama_batch_init(self.n_ctx, 0, 1)
        self.margins = []

    def tokenize(self, text):
        L = self.L
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (L.llama_token * cap)()
        n = L.llama_tokenize(self.vocab, data, len(data), buf, cap, False, False)
        if n < 0:
            raise RuntimeError(f"llama_tokenize needs {-n} tokens")
        return list(buf[:n])

    def piece(self, token):
        L = self.L
        buf = ctypes.create_string_buffer(256)
        n = L.llama_token_to_piece(self.vocab, token, buf, 256, 0, True)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = L.llama_token_to_piece(self.vocab, token, buf, -n, 0, True)
        return buf.raw[:n]

    def decode(self, tokens, start):
        b = self.batch
        b.n_tokens = len(tokens)
        for i, t in enumerate(tokens):
            b.token[i] = t
            b.pos[i] = start + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = 1 if i == len(tokens) - 1 else 0
        rc = self.L.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        ptr = self.L.llama_get_logits_ith(self.ctx, -1)
        logits = self.np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
        best = int(self.np.argmax(logits))
        top2 = self.np.partition(logits, -2)[-2:]
        self.margins.append(float(top2[1] - top2[0]))
        return best

    def run(self, prompt, n):
        self.L.llama_memory_clear(self.L.llama_get_memory(self.ctx), True)
        ids = self.tokenize(prompt) or [self.eos]
        if len(ids) >= self.n_ctx:
            raise RuntimeError(f"the prompt is {len(ids)} tokens; the context is {self.n_ctx}")
        out, pos = [], len(ids)
        self.margins = []
        nxt = self.decode(ids, 0)
        while True:
            out.append(nxt)
            if len(out) == n or pos >= self.n_ctx:
                break
            nxt = self.decode([nxt], pos)
            pos += 1
        return ids, out


def label(path):
    """The file's name without .gguf; for export's NAME/model.gguf, the folder's name."""
    name = os.path.basename(path)
    if name == "model.gguf":
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return name[:-5] if name.endswith(".gguf") else name


def compare_with_pipe(pipe, tokenizer, model, prompt, n, g, ids):
    """Token k agrees when pipe's continuation carries its bytes at that point."""
    res = subprocess.run([pipe, "generate", model, "-t", tokenizer, f"--prompt={prompt}", "-n", str(n), "--temperature", "0"],
                         capture_output=True, timeout=1800)
    if res.returncode != 0:
        return {"agree": False, "error": res.stderr.decode("utf-8", "replace").strip()[-400:]}
    text = res.stdout
    head = prompt.encode("utf-8")
    if not text.startswith(head) or not text.endswith(b"\n"):
        return {"agree": False, "error": "pipe's output does not start with the prompt and end with a newline",
                "pipe_text": text.decode("utf-8", "replace")}
    theirs = text[len(head):-1]
    offset, k = 0, 0
    compared = ids if g.eos not in ids else ids[:ids.index(g.eos)]
    for k, t in enumerate(compared):
        piece = g.piece(t)
        if theirs[offset:offset + len(piece)] != piece:
            break
        offset += len(piece)
    else:
        k = len(compared)
    agree = k == len(compared) and offset == len(theirs)
    return {"agree": agree, "tokens_agreeing": k, "tokens_compared": len(compared),
            "first_divergence": None if agree else k,
            "margin_at_divergence": None if agree or k >= len(g.margins) else round(g.margins[k], 4), "pipe_text": theirs.decode("utf-8", "replace")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="GGUF files")
    ap.add_argument("--prompt", action="append", help="a prompt (repeatable; default: the quickstart's samples)")
    ap.add_argument("-n", type=int, default=64, help="tokens to generate (default 64)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--flash-attn", choices=["auto", "on", "off"], default="off",
                    help="llama.cpp's flash attention (default off: exact f32 attention)")
    ap.add_argument("--pipe", help="pipe binary to compare with")
    ap.add_argument("--tokenizer", help="the tokenizer folder (tokenizer.json) pipe generate needs with a GGUF")
    args = ap.parse_args(argv)
    if bool(args.pipe) != bool(args.tokenizer):
        ap.error("--pipe and --tokenizer go together")
    prompts = args.prompt or DEFAULT_PROMPTS
    import llama_cpp

    global _quiet  # the callback must outlive every llama.cpp call
    _quiet = llama_cpp.llama_log_callback(lambda level, text, data: None)
    llama_cpp.llama_log_set(_quiet, ctypes.c_void_p(0))
    total, agreeing = 0, 0
    for path in args.models:
        g = Greedy(path, args.threads, args.flash_attn)
        for p in prompts:
            prompt_ids, ids = g.run(p, args.n)
            line = {"model": label(path), "prompt": p, "prompt_ids": prompt_ids, "ids": ids,
                    "text": b"".join(g.piece(t) for t in ids).decode("utf-8", "replace"),
                    "eos_at": ids.index(g.eos) if g.eos in ids else None,
                    "margins": [round(m, 4) for m in g.margins[:len(ids)]]}
            if args.pipe:
                line["pipe"] = compare_with_pipe(args.pipe, args.tokenizer, path, p, args.n, g, ids)
                total += 1
                agreeing += bool(line["pipe"]["agree"])
            print(json.dumps(line, ensure_ascii=False), flush=True)
    if args.pipe:
        print(json.dumps({"summary": f"{agreeing} of {total} agree", "agree": agreeing, "total": total,
                          "engine": f"llama-cpp-python {llama_cpp.__version__}"}), flush=True)
        return 0 if agreeing == total else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
