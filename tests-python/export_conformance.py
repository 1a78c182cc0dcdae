"""Independent conformance checker for pipe's `export` stage: a Hugging Face directory and GGUF files.

usage:
  export_conformance.py --hf HF_DIR --gguf FILE.gguf [--gguf FILE2.gguf ...] --prompts PROMPTS.txt
                        --pipe PIPE_BINARY [--full] [--json OUT.json]

  HF_DIR       config.json (LlamaForCausalLM, or Qwen3ForCausalLM for a QK-norm model), model.safetensors,
               tokenizer.json (byte-level BPE), tokenizer_config.json, generation_config.json
  PROMPTS.txt  one prompt per line (blank lines are skipped; other whitespace is kept)
  PIPE_BINARY  pipe's CLI, used as
                 PIPE encode -t HF_DIR -- TEXT                      (space-separated ids)
                 PIPE generate MODEL -t HF_DIR --prompt=P -n 0 --dump-logits FILE
                                            (raw little-endian float32 [prompt tokens, vocab])
                 PIPE generate MODEL -t HF_DIR --prompt=P -n 20 --temperature 0
                                            (prompt + greedy continuation + newline on stdout)
               MODEL is HF_DIR or a .gguf file.

Default mode (numpy + gguf + safetensors + tokenizers only; runs in CI):
  hf       the HF directory is what transformers and llama.cpp's converter expect (files, architecture,
           tokenizer_class, F32 tensors with HF names, vocab sizes, bos/eos ids agreeing across files).
           Two architectures: model_type "llama" / ["LlamaForCausalLM"], or model_type "qwen3" /
           ["Qwen3ForCausalLM"] with head_dim and model.layers.{i}.self_attn.q_norm.weight and
           .k_norm.weight [head_dim] (QK-norm); those two tensors are refused in a llama directory
  a        tokenizers' encoding of each prompt (tokenizer.json, no special tokens) == `pipe encode`
  b        float64 numpy reference (llama_reference.py) logits on the HF weights vs pipe's dumped
           logits: max|diff| / max|ref| < 1e-4 per prompt
  c        each GGUF, read with gguf-py: layout as llama.cpp's loader requires (version 3, key types,
           aligned contiguous tensor data, tensor set and shapes), general.architecture = the HF
           model_type (llama or qwen3) and the hyperparameters under that prefix (llama.* / qwen3.*;
           the other prefix is refused), gpt2 tokenizer (tokens, token types, merges, bos/eos), every
           tensor dequantized vs the HF weight (llama: q/k rows permuted like convert_hf_to_gguf.py's
           LlamaModel.permute; qwen3: NEOX RoPE, rows NOT permuted, plus blk.N.attn_q_norm.weight and
           blk.N.attn_k_norm.weight [head_dim], F32 like every 1-D tensor): F32 exact, F16 within 1e-3
           relative, Q8_0 within d/2 per 32-block (d = max|w|/127), Q4_0 within d (d = max|w|/8),
           each plus the f16 rounding of d; relative RMS error reported per tensor type
  c.pipe   pipe reads each GGUF back (`generate FILE.gguf --dump-logits`): vs pipe on HF_DIR,
           F32 files < 1e-5 relative; other types report the figure and top-1 agreement
--full adds (llama_cpp, transformers, torch):
  d        llama.cpp (llama-cpp-python) on each GGUF, loaded as the expected architecture (llama /
           qwen3): tokenization == tokenizers'; prompt logits vs pipe's (HF_DIR): F32 files < 1e-3
           relative (others: figure and top-1 agreement, also vs pipe on the same file); greedy
           20-token continuation (argmax, stopping at eos) == pipe's greedy `generate` on the same
           file (required for F32 files). llama.cpp runs with n_ctx = max_position_embeddings, an
           F32 KV cache, 2 threads, in a child process per file (ggml aborts the process on some
           malformed files, e.g. F16 norm weights: that is one FAIL)
  e        transformers LlamaForCausalLM, or Qwen3ForCausalLM for qwen3 (float32, eager attention)
           logits vs pipe's < 1e-4 relative; AutoTokenizer from HF_DIR encodes like tokenizers

Every check prints one line `ok  ...` or `FAIL ...` with its figure; the last line is
`N passed, M failed`; the exit code is 1 when any check failed (2 for usage errors).
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402

REL_REF = 1e-4          # pipe vs numpy reference / transformers
REL_PIPE_GGUF_F32 = 1e-5  # pipe on an F32 GGUF vs pipe on the HF directory
REL_LLAMA_CPP_F32 = 1e-3  # llama.cpp on an F32 GGUF vs pipe
GREEDY_TOKENS = 20
PIPE_TIMEOUT = 1800

# convert_hf_to_gguf.py's names: HF suffix -> llama.cpp suffix (blk.N.<suffix>.weight)
LAYER_NAMES = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
}

# GGUF value types (gguf spec numbering)
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
TYPE_NAMES = {U8: "UINT8", I8: "INT8", U16: "UINT16", I16: "INT16", U32: "UINT32", I32: "INT32", F32: "FLOAT32",
              BOOL: "BOOL", STRING: "STRING", ARRAY: "ARRAY", U64: "UINT64", I64: "INT64", F64: "FLOAT64"}

# general.architecture of the GGUF: "qwen3" for a QK-norm (Qwen3ForCausalLM) model, else "llama";
# the hyperparameter keys sit under that prefix ("<arch>.context_length", ...).
ARCHS = ("llama", "qwen3")
ARCH_KEY_TYPES = {
    "context_length": U32, "embedding_length": U32, "block_count": U32, "feed_forward_length": U32,
    "attention.head_count": U32, "attention.head_count_kv": U32, "attention.layer_norm_rms_epsilon": F32,
    "rope.freq_base": F32, "rope.dimension_count": U32, "vocab_size": U32, "attention.key_length": U32,
    "attention.value_length": U32,
}
REQUIRED_ARCH_KEYS = [
    "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
    "attention.head_count_kv", "attention.layer_norm_rms_epsilon", "rope.freq_base", "rope.dimension_count",
]

# The exact types llama.cpp's loader demands (llama-model-loader.cpp GKV::get_kv throws
# "key ... has wrong type" on any other; arrays are (ARRAY, element type)).
KEY_TYPES = {
    "general.architecture": (STRING,), "general.name": (STRING,), "general.alignment": (U32,),
    "general.file_type": (U32,), "general.quantization_version": (U32,),
    **{f"{arch}.{key}": (t,) for arch in ARCHS for key, t in ARCH_KEY_TYPES.items()},
    "tokenizer.ggml.model": (STRING,), "tokenizer.ggml.pre": (STRING,),
    "tokenizer.ggml.tokens": (ARRAY, STRING), "tokenizer.ggml.token_type": (ARRAY, I32),
    "tokenizer.ggml.merges": (ARRAY, STRING), "tokenizer.ggml.scores": (ARRAY, F32),
    "tokenizer.ggml.bos_token_id": (U32,), "tokenizer.ggml.eos_token_id": (U32,),
    "tokenizer.ggml.unknown_token_id": (U32,), "tokenizer.ggml.padding_token_id": (U32,),
    "tokenizer.ggml.seperator_token_id": (U32,), "tokenizer.ggml.eot_token_id": (U32,),
    "tokenizer.ggml.add_bos_token": (BOOL,), "tokenizer.ggml.add_eos_token": (BOOL,),
    "tokenizer.ggml.add_space_prefix": (BOOL,),
}
REQUIRED_TOKENIZER_KEYS = [
    "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
]


def gguf_arch(cfg):
    """The GGUF architecture of a model: qwen3 for QK-norm (llama.cpp's LLM_ARCH_QWEN3), else llama."""
    return "qwen3" if cfg.qk_norm else "llama"


def hf_class(cfg):
    return "Qwen3ForCausalLM" if cfg.qk_norm else "LlamaForCausalLM"


def required_keys(arch):
    return ["general.architecture"] + [f"{arch}.{k}" for k in REQUIRED_ARCH_KEYS] + REQUIRED_TOKENIZER_KEYS
# token_type values (gguf TokenType / llama.cpp LLAMA_TOKEN_TYPE_*)
TT_NORMAL, TT_CONTROL, TT_USER_DEFINED = 1, 3, 4
# ggml tensor types handled here, and the llama_ftype (general.file_type) of a file made of them
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0, GGML_BF16 = 0, 1, 2, 8, 30
GGML_NAMES = {GGML_F32: "F32", GGML_F16: "F16", GGML_Q4_0: "Q4_0", GGML_Q8_0: "Q8_0", GGML_BF16: "BF16"}
FILE_TYPES = {GGML_F32: 0, GGML_F16: 1, GGML_Q4_0: 2, GGML_Q8_0: 7, GGML_BF16: 32}
BLOCK = {GGML_Q4_0: (32, 18), GGML_Q8_0: (32, 34)}


# ----------------------------------------------------------------------------------------------
# reporting
# ----------------------------------------------------------------------------------------------


class Report:
    def __init__(self, quiet=False):
        self.checks = []
        self.quiet = quiet

    def add(self, group, name, ok, text, **figures):
        ok = bool(ok)
        self.checks.append({"group": group, "name": name, "ok": ok, "text": text, **figures})
        if not self.quiet:
            print(f"{'ok  ' if ok else 'FAIL'} [{group}] {name}: {text}", flush=True)
        return ok

    def note(self, text):
        if not self.quiet:
            print(f"     {text}", flush=True)

    @property
    def failed(self):
        return sum(not c["ok"] for c in self.checks)


def rel_max(a, b):
    """max |a - b| / max |b| (b is the reference)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return math.inf
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else float(np.max(np.abs(a - b), initial=0.0))


def top1(a, b):
    """Fraction of positions whose argmax agrees."""
    return float(np.mean(np.argmax(a, axis=-1) == np.argmax(b, axis=-1))) if len(a) else 1.0


def short(x, n=60):
    s = repr(x)
    return s if len(s) <= n else s[:n] + "…"


# ----------------------------------------------------------------------------------------------
# HF directory
# ----------------------------------------------------------------------------------------------


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (the ByteLevel pre-tokenizer's alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class HFDir:
    def __init__(self, path):
        self.path = path
        self.config = self._json("config.json")
        self.tokenizer_json = self._json("tokenizer.json")
        self.tokenizer_config = self._json("tokenizer_config.json", optional=True)
        self.generation_config = self._json("generation_config.json", optional=True)
        model = self.tokenizer_json.get("model", {})
        self.vocab = model.get("vocab", {})
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.added = {a["id"]: a for a in self.tokenizer_json.get("added_tokens", [])}
        for i, a in self.added.items():
            self.id_to_token.setdefault(i, a["content"])
        self.merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
        self.n_tokens = max(self.id_to_token) + 1 if self.id_to_token else 0
        u2b = {c: b for b, c in bytes_to_unicode().items()}
        self.token_bytes = {}
        for i, t in self.id_to_token.items():
            if i in self.added or not all(c in u2b for c in t):
                self.token_bytes[i] = t.encode("utf-8")
            else:
                self.token_bytes[i] = bytes(u2b[c] for c in t)

    def _json(self, name, optional=False):
        p = os.path.join(self.path, name)
        if optional and not os.path.exists(p):
            return None
        with open(p, encoding="utf-8") as f:
            return json.load(f)

    def special_id(self, which):
        """bos/eos id the HF files declare (config.json, then generation_config.json, then the
        tokenizer_config.json token string); None when none does. Returns (id, source)."""
        key = f"{which}_token_id"
        for src, d in (("config.json", self.config), ("generation_config.json", self.generation_config)):
            v = (d or {}).get(key)
            if isinstance(v, list):
                v = v[0] if v else None
            if v is not None:
                return int(v), src
        tok = (self.tokenizer_config or {}).get(f"{which}_token")
        if isinstance(tok, dict):
            tok = tok.get("content")
        if tok is not None and tok in self.vocab:
            return self.vocab[tok], "tokenizer_config.json"
        return None, None

    def expected_token_types(self):
        """convert_hf_to_gguf.py get_vocab_base(): added special -> CONTROL, added non-special ->
        USER_DEFINED, everything else NORMAL."""
        return [(TT_CONTROL if self.added[i].get("special") else TT_USER_DEFINED) if i in self.added else TT_NORMAL
                for i in range(self.n_tokens)]


def safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def check_hf_dir(rep, hf, cfg):
    g = "hf"
    missing = [n for n in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                           "generation_config.json") if not os.path.exists(os.path.join(hf.path, n))]
    rep.add(g, "files", not missing, "all five files present" if not missing else f"missing {missing}")
    c = hf.config
    problems = []
    if c.get("architectures") != [hf_class(cfg)]:
        problems.append(f"architectures {c.get('architectures')} (want [{hf_class(cfg)!r}])")
    if c.get("model_type") != gguf_arch(cfg):  # the GGUF architecture names are the HF model types
        problems.append(f"model_type {c.get('model_type')!r} (want {gguf_arch(cfg)!r})")
    if cfg.qk_norm and c.get("head_dim") != cfg.hd:
        problems.append(f"head_dim {c.get('head_dim')!r} (Qwen3Config needs it: {cfg.hd})")
    if (hf.tokenizer_config or {}).get("tokenizer_class") != "PreTrainedTokenizerFast":
        problems.append(f"tokenizer_class {(hf.tokenizer_config or {}).get('tokenizer_class')!r}")
    if c.get("vocab_size") != hf.n_tokens:
        problems.append(f"vocab_size {c.get('vocab_size')} but tokenizer.json has {hf.n_tokens} tokens")
    tj = hf.tokenizer_json
    if (tj.get("model") or {}).get("type") != "BPE":
        problems.append(f"tokenizer model {(tj.get('model') or {}).get('type')!r}")
    pre = tj.get("pre_tokenizer") or {}
    if pre.get("type") != "ByteLevel" or pre.get("add_prefix_space") or pre.get("use_regex") is False:
        problems.append(f"pre_tokenizer {short(pre)} (want ByteLevel, use_regex, no prefix space)")
    if (tj.get("decoder") or {}).get("type") != "ByteLevel":
        problems.append(f"decoder {short(tj.get('decoder'))}")
    rep.add(g, "config", not problems, f"{hf_class(cfg)} / {gguf_arch(cfg)} / PreTrainedTokenizerFast / byte-level BPE, "
            f"vocab {hf.n_tokens}" if not problems else "; ".join(problems))

    header = safetensors_header(os.path.join(hf.path, "model.safetensors"))
    header.pop("__metadata__", None)
    expected = ref.param_shapes(cfg)
    problems = []
    if set(header) != set(expected):
        problems.append(f"tensors missing {sorted(set(expected) - set(header))[:4]} extra {sorted(set(header) - set(expected))[:4]}"
                        + (" (q_norm / k_norm belong to qwen3 models only)" if not cfg.qk_norm and any(
                            n.endswith("_norm.weight") and ".self_attn." in n for n in header) else ""))
    for name, info in header.items():
        if info.get("dtype") != "F32":
            problems.append(f"{name} is {info.get('dtype')}")
        if name in expected and tuple(info.get("shape", ())) != tuple(expected[name]):
            problems.append(f"{name} shape {info.get('shape')} != {list(expected[name])}")
    rep.add(g, "model.safetensors", not problems, f"{len(header)} F32 tensors with HF names and shapes"
            + (f" (q_norm / k_norm [{cfg.hd}] in each of {cfg.L} layers)" if cfg.qk_norm else "")
            if not problems else "; ".join(problems[:6]))

    problems, seen = [], []
    for which in ("bos", "eos"):
        ids = {}
        for src, d in (("config.json", hf.config), ("generation_config.json", hf.generation_config)):
            v = (d or {}).get(f"{which}_token_id")
            if isinstance(v, list):
                v = v[0] if v else None
            if v is not None:
                ids[src] = v
        tok = (hf.tokenizer_config or {}).get(f"{which}_token")
        if isinstance(tok, dict):
            tok = tok.get("content")
        if tok is not None:
            ids["tokenizer_config.json"] = hf.vocab.get(tok, f"{tok!r} not in vocab")
        if len(set(map(str, ids.values()))) > 1:
            problems.append(f"{which}: {ids}")
        seen.append(f"{which} {sorted(set(map(str, ids.values())))}")
    rep.add(g, "bos/eos", not problems, ", ".join(seen) + " agree across files" if not problems else "; ".join(problems))

    # transformers 4.x passes token_type_ids to generate() unless the tokenizer names its inputs;
    # transformers 5 warns on every call when generation_config.json sets max_length.
    names = (hf.tokenizer_config or {}).get("model_input_names")
    rep.add(g, "model_input_names", names == ["input_ids", "attention_mask"], f"tokenizer_config.json model_input_names {names}")
    rep.add(g, "generation_config", "max_length" not in (hf.generation_config or {}),
            "generation_config.json leaves max_length to the caller" if "max_length" not in (hf.generation_config or {})
            else f"generation_config.json sets max_length {hf.generation_config['max_length']}")


def check_transformers_tokenizer(rep, hf, prompts):
    """What a transformers user does first, without torch: load the tokenizer and the generation
    config; the tokenizer's outputs are exactly what LlamaForCausalLM / Qwen3ForCausalLM.generate accepts."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    g = "transformers-files"
    try:
        import logging
        import transformers
    except ImportError:
        return
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING and "PyTorch" not in record.getMessage():
                records.append(record.getMessage())

    handler = Collect()
    logging.getLogger("transformers").addHandler(handler)
    try:
        tok = transformers.AutoTokenizer.from_pretrained(hf.path)
        config = transformers.GenerationConfig.from_pretrained(hf.path)
        config.validate()
    except Exception as e:  # noqa: BLE001
        rep.add(g, "load", False, f"{type(e).__name__}: {e}")
        return
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    rep.add(g, "load", not records, f"transformers {transformers.__version__}: AutoTokenizer and GenerationConfig load"
            + (" without warnings" if not records else f" with warnings: {short(records)}"))
    keys = sorted(tok(prompts[0] if prompts else "x").keys())
    rep.add(g, "tokenizer outputs", keys == ["attention_mask", "input_ids"], f"tokenizer(p) gives {keys}")


# ----------------------------------------------------------------------------------------------
# pipe CLI
# ----------------------------------------------------------------------------------------------


class Pipe:
    def __init__(self, binary, hf_dir, tmp):
        self.binary, self.hf_dir, self.tmp, self.n = binary, hf_dir, tmp, 0

    def _run(self, args):
        res = subprocess.run([self.binary] + args, capture_output=True, timeout=PIPE_TIMEOUT)
        if res.returncode != 0:
            lines = [x.strip() for x in res.stderr.decode("utf-8", "replace").splitlines() if x.strip()]
            raise RuntimeError(f"`pipe {' '.join(args[:2])} …` exited {res.returncode}: {' | '.join(lines[-3:])[-400:]}")
        return res.stdout

    def encode(self, text):
        out = self._run(["encode", "-t", self.hf_dir, "--", text]).decode("utf-8")
        return [int(x) for x in out.split()]

    def logits(self, model, prompt, vocab):
        self.n += 1
        path = os.path.join(self.tmp, f"logits-{self.n}.f32")
        self._run(["generate", model, "-t", self.hf_dir, f"--prompt={prompt}", "-n", "0", "--dump-logits", path])
        raw = np.fromfile(path, dtype="<f4")
        if raw.size % vocab:
            raise RuntimeError(f"dumped logits hold {raw.size} floats, not a multiple of vocab {vocab}")
        return raw.reshape(-1, vocab).astype(np.float64)

    def greedy(self, model, prompt, n=GREEDY_TOKENS):
        """Raw stdout bytes: prompt + continuation + newline."""
        return self._run(["generate", model, "-t", self.hf_dir, f"--prompt={prompt}", "-n", str(n),
                          "--temperature", "0"])


# ----------------------------------------------------------------------------------------------
# GGUF
# ----------------------------------------------------------------------------------------------


def gguf_name(hf_name):
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    parts = hf_name.split(".")  # model.layers.N.<sub...>.weight
    return f"blk.{parts[2]}.{LAYER_NAMES['.'.join(parts[3:-1])]}.weight"


def llama_permute(w, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate_half row order -> llama.cpp's."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def field_types(field):
    t = [int(x) for x in field.types]
    return tuple(t[:2]) if t and t[0] == ARRAY else tuple(t[:1])


def field_value(field):
    return field.contents()


def tensor_tolerance(w, deq, raw, ttype):
    """Per-element bound |w - deq| <= tol for quantized types; raw is the [rows, bytes] block data."""
    qk, size = BLOCK[ttype]
    rows = w.shape[0]
    blocks = raw.reshape(rows, -1, size)
    d_file = np.abs(blocks[..., :2].copy().view("<f2")[..., 0].astype(np.float64))  # [rows, nblocks]
    amax = np.max(np.abs(w.reshape(rows, -1, qk)), axis=-1)
    if ttype == GGML_Q8_0:
        d = amax / 127.0
        tol = 0.5 * np.maximum(d, d_file) + 127.0 * np.abs(d - d_file)
    else:  # Q4_0: d = max / -8, q in [0, 15] -> values (q - 8) d; clamping at 15 costs up to |d|
        d = amax / 8.0
        tol = np.maximum(d, d_file) + 8.0 * np.abs(d - d_file)
    tol = tol + 1e-7 * amax + 1e-30
    return np.repeat(tol, qk, axis=-1).reshape(w.shape)


def file_kind(types_2d):
    """'F32', 'F16', 'Q8_0', ... by the most common 2-D tensor type."""
    if not types_2d:
        return "F32"
    vals, counts = np.unique(types_2d, return_counts=True)
    t = int(vals[np.argmax(counts)])
    return GGML_NAMES.get(t, f"type{t}")


def check_gguf(rep, path, hf, cfg, params):
    """Structure, metadata, tokenizer and tensor data of one GGUF. Returns its kind ('F32', ...)
    or None when it could not be read."""
    import gguf

    g = f"gguf {os.path.basename(path)}"
    try:
        r = gguf.GGUFReader(path)
    except Exception as e:  # noqa: BLE001
        rep.add(g, "read", False, f"gguf-py cannot read it: {e}")
        return None
    fields = {k: f for k, f in r.fields.items() if not k.startswith("GGUF.")}
    arch = gguf_arch(cfg)

    # --- layout: what llama.cpp's gguf_init_from_file / llama_model_loader insist on
    problems = []
    version = int(r.fields["GGUF.version"].parts[0][0])
    if version != 3:
        problems.append(f"version {version}")
    for key in required_keys(arch):
        if key not in fields:
            problems.append(f"missing {key}")
    for key, f in fields.items():
        want = KEY_TYPES.get(key)
        got = field_types(f)
        if want is not None and got != want:
            problems.append(f"{key} is {'/'.join(TYPE_NAMES.get(t, str(t)) for t in got)}, llama.cpp needs "
                            f"{'/'.join(TYPE_NAMES[t] for t in want)}")
    align = r.alignment
    if r.data_offset % align:
        problems.append(f"tensor data starts at {r.data_offset}, not a multiple of alignment {align}")
    expected_offset = 0
    file_size = os.path.getsize(path)
    for t in r.tensors:
        rel = t.data_offset - r.data_offset
        if rel != expected_offset:
            problems.append(f"{t.name} at data offset {rel}, llama.cpp expects {expected_offset} "
                            "(tensor data in tensor-info order, each padded to the alignment)")
            break
        expected_offset += -(-t.n_bytes // align) * align
        if len(t.name.encode()) >= 64:
            problems.append(f"tensor name {t.name!r} is >= 64 bytes")
        if t.tensor_type in BLOCK and int(t.shape[0]) % BLOCK[t.tensor_type][0]:
            problems.append(f"{t.name}: row length {int(t.shape[0])} is not a multiple of 32 for {t.tensor_type.name}")
        if t.data_offset + t.n_bytes > file_size:
            problems.append(f"{t.name} runs past the end of the file")
    rep.add(g, "layout", not problems, f"GGUF v{version}, {len(fields)} keys with llama.cpp's types, {len(r.tensors)} "
            f"tensors, data aligned to {align} and contiguous" if not problems else "; ".join(problems[:8]))

    def val(key):
        return field_value(fields[key]) if key in fields else None

    # --- hyperparameters, under the architecture's prefix (llama.cpp reads only "<arch>.*")
    c = hf.config
    want = {
        "general.architecture": arch,
        f"{arch}.context_length": cfg.max_pos, f"{arch}.embedding_length": cfg.C, f"{arch}.block_count": cfg.L,
        f"{arch}.feed_forward_length": cfg.F, f"{arch}.attention.head_count": cfg.H,
        f"{arch}.attention.head_count_kv": cfg.KVH, f"{arch}.rope.dimension_count": cfg.hd,
        f"{arch}.attention.layer_norm_rms_epsilon": cfg.eps, f"{arch}.rope.freq_base": cfg.theta,
    }
    problems = []
    for key, v in want.items():
        got = val(key)
        if isinstance(v, float):
            ok = got is not None and abs(float(got) - v) <= 1e-6 * abs(v)  # stored as float32
        else:
            ok = got == v
        if not ok:
            problems.append(f"{key} = {got!r}, config.json gives {v!r}")
            if key == "general.architecture":
                problems[-1] += (f" (model_type {c.get('model_type')!r}: " + ("QK-norm needs llama.cpp's qwen3 arch"
                                 if cfg.qk_norm else "no QK-norm, so llama") + f", keys under '{arch}.')")
    if f"{arch}.vocab_size" in fields and val(f"{arch}.vocab_size") != cfg.V:
        problems.append(f"{arch}.vocab_size = {val(f'{arch}.vocab_size')}, config.json gives {cfg.V}")
    for key in (f"{arch}.attention.key_length", f"{arch}.attention.value_length"):
        if key in fields and val(key) != cfg.hd:
            problems.append(f"{key} = {val(key)}, head_dim is {cfg.hd}")
    for key in fields:
        if key.startswith(f"{arch}.rope.scaling") or key.startswith(f"{arch}.expert"):
            problems.append(f"unexpected {key} = {val(key)!r}")
    others = sorted(k for k in fields if any(k.startswith(f"{a}.") for a in ARCHS if a != arch))
    if others:
        problems.append(f"keys of another architecture in a {arch} file: {others[:4]}")
    rep.add(g, "hyperparameters", not problems,
            f"{arch}, ctx {cfg.max_pos}, C {cfg.C}, L {cfg.L}, F {cfg.F}, H {cfg.H}/{cfg.KVH}, rope {cfg.hd} "
            f"theta {cfg.theta:g}, eps {cfg.eps:g} match config.json" if not problems else "; ".join(problems))

    # --- tokenizer
    problems = []
    if val("tokenizer.ggml.model") != "gpt2":
        problems.append(f"tokenizer.ggml.model = {val('tokenizer.ggml.model')!r}, want 'gpt2'")
    if val("tokenizer.ggml.pre") != "gpt-2":
        problems.append(f"tokenizer.ggml.pre = {val('tokenizer.ggml.pre')!r}, want 'gpt-2'")
    tokens = val("tokenizer.ggml.tokens") or []
    want_tokens = [hf.id_to_token.get(i) for i in range(hf.n_tokens)]
    if tokens != want_tokens:
        diff = next((i for i, (a, b) in enumerate(zip(tokens, want_tokens)) if a != b), min(len(tokens), len(want_tokens)))
        problems.append(f"tokens differ from tokenizer.json ({len(tokens)} vs {len(want_tokens)}; first at id {diff}: "
                        f"{short(tokens[diff] if diff < len(tokens) else None, 30)} vs "
                        f"{short(want_tokens[diff] if diff < len(want_tokens) else None, 30)})")
    types = val("tokenizer.ggml.token_type") or []
    want_types = hf.expected_token_types()
    if list(types) != want_types:
        diff = next((i for i, (a, b) in enumerate(zip(types, want_types)) if a != b), min(len(types), len(want_types)))
        problems.append(f"token_type differs (first at id {diff}: {types[diff] if diff < len(types) else None} vs "
                        f"{want_types[diff] if diff < len(want_types) else None}; want 1 NORMAL, 3 CONTROL for "
                        "special added tokens, 4 USER_DEFINED for other added tokens)")
    merges = val("tokenizer.ggml.merges") or []
    if merges != hf.merges:
        diff = next((i for i, (a, b) in enumerate(zip(merges, hf.merges)) if a != b), min(len(merges), len(hf.merges)))
        problems.append(f"merges differ from tokenizer.json ({len(merges)} vs {len(hf.merges)}; first at {diff})")
    for which in ("bos", "eos"):
        want_id, src = hf.special_id(which)
        got = val(f"tokenizer.ggml.{which}_token_id")
        if want_id is None:
            if got is not None and not (0 <= got < hf.n_tokens):
                problems.append(f"{which}_token_id {got} out of range")
        elif got != want_id:
            problems.append(f"tokenizer.ggml.{which}_token_id = {got}, {src} gives {want_id}")
    if val("tokenizer.ggml.add_bos_token"):
        problems.append("tokenizer.ggml.add_bos_token is true but pipe never prepends BOS")
    rep.add(g, "tokenizer", not problems, f"gpt2 / gpt-2, {len(tokens)} tokens, {len(merges)} merges, token types, "
            f"bos {val('tokenizer.ggml.bos_token_id')} eos {val('tokenizer.ggml.eos_token_id')} match tokenizer.json"
            if not problems else "; ".join(problems))

    # --- tensors
    by_name = {t.name: t for t in r.tensors}
    expected = {gguf_name(n): n for n in params}
    problems, notes = [], []
    if cfg.tied and "output.weight" in by_name:
        notes.append("output.weight present in a tied model (llama.cpp accepts it; convert_hf_to_gguf.py omits it)")
        expected["output.weight"] = "model.embed_tokens.weight"
    missing = sorted(set(expected) - set(by_name))
    extra = sorted(set(by_name) - set(expected))
    if missing:
        problems.append(f"missing {missing[:6]}" + (" (untied model: without output.weight llama.cpp silently "
                                                   "uses token_embd)" if "output.weight" in missing else ""))
    if extra:
        problems.append(f"unexpected {extra[:6]} (llama.cpp refuses files with tensors it does not use)")
    stats = {}  # type name -> [sum sq err, sum sq w, count]
    worst = {}
    types_2d = []
    for gname, hname in expected.items():
        t = by_name.get(gname)
        if t is None:
            continue
        ttype = int(t.tensor_type)
        tname = GGML_NAMES.get(ttype, t.tensor_type.name)
        w = params[hname]
        # llama's GGUF rows are permuted for llama.cpp's normal (interleaved) RoPE; qwen3 runs
        # NEOX RoPE (= HF's rotate_half), so convert_hf_to_gguf.py keeps HF's row order there.
        if arch == "llama" and hname.endswith("q_proj.weight"):
            w = llama_permute(w, cfg.H, cfg.H)
        elif arch == "llama" and hname.endswith("k_proj.weight"):
            w = llama_permute(w, cfg.H, cfg.KVH)
        want_ne = list(reversed(w.shape))
        if [int(x) for x in t.shape] != want_ne:
            problems.append(f"{gname}: ne {[int(x) for x in t.shape]}, want {want_ne}")
            continue
        if w.ndim == 1 and ttype != GGML_F32:
            problems.append(f"{gname}: 1-D tensors must stay F32 (is {tname})")
        if w.ndim == 2:
            types_2d.append(ttype)
        try:
            deq = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64).reshape(w.shape)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{gname}: cannot dequantize {tname}: {e}")
            continue
        err = np.abs(deq - w)
        if ttype == GGML_F32:
            bad = err > 0
            bound = "exact"
        elif ttype == GGML_F16:
            bad = err > 1e-3 * np.abs(w) + 6e-8  # f16 subnormal spacing is 2^-24
            bound = "1e-3 relative"
        elif ttype == GGML_BF16:
            bad = err > 2.0 ** -8 * np.abs(w) + 1e-38
            bound = "2^-8 relative"
        elif ttype in BLOCK:
            bad = err > tensor_tolerance(w, deq, np.asarray(t.data), ttype)
            bound = "block step"
        else:
            problems.append(f"{gname}: tensor type {tname} is not covered by this checker")
            continue
        s = stats.setdefault(tname, [0.0, 0.0, 0])
        s[0] += float(np.sum(err ** 2))
        s[1] += float(np.sum(w ** 2))
        s[2] += 1
        rel_rms = math.sqrt(float(np.sum(err ** 2)) / max(float(np.sum(w ** 2)), 1e-300))
        worst[tname] = max(worst.get(tname, 0.0), rel_rms)
        if np.any(bad) or not np.all(np.isfinite(deq)):
            n_bad = int(np.count_nonzero(bad))
            hint = ""
            if hname.endswith(("q_proj.weight", "k_proj.weight")):
                raw = params[hname]
                atol = 1e-2 * float(np.max(np.abs(raw)))
                if arch == "qwen3":
                    n_kv = cfg.H if hname.endswith("q_proj.weight") else cfg.KVH
                    if any(np.allclose(deq, llama_permute(raw, cfg.H, n), rtol=1e-2, atol=atol) for n in {n_kv, cfg.H}):
                        hint = " (it equals the llama-permuted HF weight: qwen3 keeps HF's row order, no permute)"
                elif np.allclose(deq, raw, rtol=1e-2, atol=atol):
                    hint = " (it equals the UNpermuted HF weight: apply LlamaModel.permute)"
                elif hname.endswith("k_proj.weight") and cfg.H != cfg.KVH and np.allclose(
                        deq, llama_permute(raw, cfg.H, cfg.H), rtol=1e-2, atol=atol):
                    hint = " (permuted with n_head instead of n_head_kv)"
            problems.append(f"{gname} ({tname}): {n_bad} of {w.size} values outside {bound}, "
                            f"max err {float(np.max(err)):.3g}, rel RMS {rel_rms:.3g}{hint}")
    kind = file_kind(types_2d)
    ftype = val("general.file_type")
    if ftype is not None and types_2d and FILE_TYPES.get(int(np.bincount(types_2d).argmax())) not in (None, ftype):
        notes.append(f"general.file_type {ftype} but most 2-D tensors are {kind}")
    summary = ", ".join(f"{k} {v[2]} tensors rel RMS {math.sqrt(v[0] / max(v[1], 1e-300)):.2e} (worst {worst[k]:.2e})"
                        for k, v in sorted(stats.items()))
    rep.add(g, "tensors", not problems, (summary or "no tensors") if not problems else "; ".join(problems[:6]),
            rel_rms={k: math.sqrt(v[0] / max(v[1], 1e-300)) for k, v in stats.items()}, kind=kind)
    for n in notes:
        rep.note(n)
    return kind


# ----------------------------------------------------------------------------------------------
# --full: llama.cpp and transformers
# ----------------------------------------------------------------------------------------------


def llama_cpp_load_error(path):
    """llama.cpp's own reason for refusing a file (its log, silenced by verbose=False)."""
    code = "import sys, llama_cpp; llama_cpp.Llama(model_path=sys.argv[1], verbose=True, n_ctx=64)"
    try:
        res = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=300)
    except Exception:  # noqa: BLE001
        return ""
    keys = ("error", "wrong", "invalid", "unknown", "cannot", "missing", "failed", "expected")
    lines = [x.strip() for x in res.stderr.splitlines()
             if any(w in x.lower() for w in keys) and not x.startswith("print_info")
             and not any(w in x for w in ("Traceback", "raise ", "ValueError"))]
    return f" — llama.cpp says: {' | '.join(lines[:4])}" if lines else ""


def token_piece(llm, token):
    """llama.cpp's bytes for one token (llama_token_to_piece, no special tokens), any length."""
    import ctypes
    import llama_cpp

    try:
        vocab = llm._model.vocab
        buf = (ctypes.c_char * 256)()
        n = llama_cpp.llama_token_to_piece(vocab, llama_cpp.llama_token(token), buf, 256, 0, False)
        if n < 0:
            buf = (ctypes.c_char * -n)()
            n = llama_cpp.llama_token_to_piece(vocab, llama_cpp.llama_token(token), buf, -n, 0, False)
        return bytes(buf[:n])
    except AttributeError:
        return llm.detokenize([token])


def check_llama_cpp(rep, path, kind, hf, cfg, prompts, hf_ids, pipe, pipe_logits, pipe_gguf_logits):
    g = f"llama.cpp {os.path.basename(path)}"
    try:
        import llama_cpp
    except ImportError as e:
        rep.add(g, "load", False, f"--full needs llama-cpp-python: {e}")
        return
    try:
        kwargs = dict(model_path=path, logits_all=True, n_ctx=cfg.max_pos, n_batch=cfg.max_pos, n_ubatch=cfg.max_pos,
                      verbose=False, n_threads=2, n_threads_batch=2, seed=0)
        try:  # an F32 KV cache keeps llama.cpp's own rounding out of the comparison
            llm = llama_cpp.Llama(type_k=0, type_v=0, **kwargs)
        except TypeError:
            llm = llama_cpp.Llama(**kwargs)
    except Exception as e:  # noqa: BLE001
        rep.add(g, "load", False, f"llama.cpp cannot load it: {e}{llama_cpp_load_error(path)}")
        return
    try:
        n_ctx_train = llm._model.n_ctx_train()
    except Exception:  # noqa: BLE001
        n_ctx_train = "?"
    arch = (getattr(llm, "metadata", None) or {}).get("general.architecture")
    rep.add(g, "load", arch in (None, gguf_arch(cfg)), f"llama.cpp {getattr(llama_cpp, '__version__', '?')} loads it "
            f"as {arch or '?'} (want {gguf_arch(cfg)}; n_vocab {llm.n_vocab()}, n_ctx_train {n_ctx_train})")
    eos = llm.token_eos()
    for n, p in enumerate(prompts):
        label = f"prompt {n + 1} {short(p, 30)}"
        ids = llm.tokenize(p.encode("utf-8"), add_bos=False, special=False)
        rep.add(g, f"tokenize {label}", ids == hf_ids[n], f"{len(ids)} ids == tokenizers'" if ids == hf_ids[n]
                else f"llama.cpp {ids[:12]} vs tokenizers {hf_ids[n][:12]}")
        use = hf_ids[n]
        if not use or len(use) >= cfg.max_pos:
            continue
        llm.reset()
        llm.eval(use)
        logits = np.array(llm.scores[:llm.n_tokens], dtype=np.float64)
        mine = pipe_logits[n]
        if mine is not None and mine.shape == logits.shape:
            fig, agree = rel_max(logits, mine), top1(logits, mine)
            if kind == "F32":
                rep.add(g, f"logits {label}", fig < REL_LLAMA_CPP_F32,
                        f"max|diff|/max|pipe| = {fig:.2e} (< {REL_LLAMA_CPP_F32:g}), top-1 agreement {agree:.0%}",
                        figure=fig, top1=agree)
            else:
                same = pipe_gguf_logits.get(n)
                extra, figs = "", {}
                if same is not None and same.shape == logits.shape:
                    figs = dict(figure_vs_pipe_gguf=rel_max(logits, same), top1_vs_pipe_gguf=top1(logits, same))
                    extra = (f"; vs pipe on this file {figs['figure_vs_pipe_gguf']:.2e}, "
                             f"top-1 {figs['top1_vs_pipe_gguf']:.0%}")
                rep.add(g, f"logits {label}", np.all(np.isfinite(logits)),
                        f"{kind}: max|diff|/max|pipe| = {fig:.2e}, top-1 agreement {agree:.0%}{extra} (reported, no bound)",
                        figure=fig, top1=agree, **figs)
        else:
            rep.add(g, f"logits {label}", False, f"shapes differ: llama.cpp {logits.shape}, pipe "
                    f"{None if mine is None else mine.shape}")
        # greedy continuation, stopping at eos like pipe
        out_ids, cur = [], logits[-1]
        for _ in range(GREEDY_TOKENS):
            if llm.n_tokens >= cfg.max_pos:
                break
            nxt = int(np.argmax(cur))
            if nxt == eos:
                break
            out_ids.append(nxt)
            if llm.n_tokens < cfg.max_pos:
                llm.eval([nxt])
                cur = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        text_cpp = b"".join(token_piece(llm, i) for i in out_ids)
        text_hf = b"".join(hf.token_bytes[i] for i in out_ids)
        try:
            theirs = pipe.greedy(path, p)
        except Exception as e:  # noqa: BLE001
            rep.add(g, f"greedy {label}", False, str(e))
            continue
        want = p.encode("utf-8") + text_hf + b"\n"
        same = theirs == want
        detok_ok = text_cpp == text_hf
        msg = (f"{len(out_ids)} tokens, text == pipe's" if same else
               f"llama.cpp {short((p.encode() + text_hf).decode('utf-8', 'replace'), 70)} vs pipe "
               f"{short(theirs.decode('utf-8', 'replace'), 70)}")
        if not detok_ok:
            msg += f"; llama.cpp detokenizes to {short(text_cpp)} instead of {short(text_hf)}"
        required = kind == "F32"
        rep.add(g, f"greedy {label}", (same and detok_ok) if required else detok_ok,
                msg + ("" if required else " (reported; required for F32 files only)"), match=same)
    llm.close() if hasattr(llm, "close") else None


def check_transformers(rep, hf, cfg, prompts, hf_ids, pipe_logits):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    g = "transformers"
    try:
        import torch
        import transformers
    except ImportError as e:
        rep.add(g, "load", False, f"--full needs transformers and torch: {e}")
        return
    try:
        model_class = getattr(transformers, hf_class(cfg))  # Qwen3ForCausalLM needs transformers >= 4.51
        try:
            model = model_class.from_pretrained(hf.path, dtype=torch.float32, attn_implementation="eager")
        except TypeError:
            model = model_class.from_pretrained(hf.path, torch_dtype=torch.float32, attn_implementation="eager")
        model.eval()
        tok = transformers.AutoTokenizer.from_pretrained(hf.path)
        transformers.GenerationConfig.from_pretrained(hf.path)
        with torch.no_grad():
            model.generate(**tok(prompts[0] if prompts else "x", return_tensors="pt"), max_new_tokens=4, do_sample=False)
    except Exception as e:  # noqa: BLE001
        rep.add(g, "load", False, f"{type(e).__name__}: {e}")
        return
    rep.add(g, "load", True, f"transformers {transformers.__version__}: {type(model).__name__}, {type(tok).__name__}, "
            "GenerationConfig load; generate(**tokenizer(p, return_tensors='pt')) runs")
    for n, p in enumerate(prompts):
        label = f"prompt {n + 1} {short(p, 30)}"
        ids = tok(p, add_special_tokens=False)["input_ids"]
        rep.add(g, f"AutoTokenizer {label}", ids == hf_ids[n], f"{len(ids)} ids == tokenizers'" if ids == hf_ids[n]
                else f"{ids[:12]} vs {hf_ids[n][:12]}")
        if not hf_ids[n] or pipe_logits[n] is None:
            continue
        with torch.no_grad():
            logits = model(torch.tensor([hf_ids[n]])).logits[0].double().numpy()
        fig = rel_max(logits, pipe_logits[n])
        rep.add(g, f"logits {label}", fig < REL_REF, f"max|diff|/max|pipe| = {fig:.2e} "
                f"(< {REL_REF:g}), top-1 agreement {top1(logits, pipe_logits[n]):.0%}", figure=fig)


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------


def run_llama_cpp_worker(rep, args, path, kind, prompts, hf_ids, pipe_logits, gguf_logits, tmp):
    """Runs the llama.cpp checks of one GGUF in a child process: ggml aborts the whole process on
    some malformed files (e.g. an F16 norm weight), which must cost one FAIL, not the report."""
    base = os.path.join(tmp, f"llama-cpp-{len(rep.checks)}")
    arrays = {f"pipe{n}": a for n, a in enumerate(pipe_logits) if a is not None}
    arrays.update({f"gguf{n}": a for n, a in gguf_logits.items()})
    np.savez(base + ".npz", **arrays)
    with open(base + ".in.json", "w") as f:
        json.dump({"path": path, "kind": kind, "hf": args.hf, "pipe": args.pipe, "prompts": prompts,
                   "hf_ids": hf_ids, "arrays": base + ".npz", "tmp": tmp}, f)
    cmd = [sys.executable, os.path.abspath(__file__), "--llama-cpp-worker", base + ".in.json", base + ".out.json"]
    res = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if res.returncode == 0 and os.path.exists(base + ".out.json"):
        with open(base + ".out.json") as f:
            for c in json.load(f):
                rep.add(c.pop("group"), c.pop("name"), c.pop("ok"), c.pop("text"), **c)
        return
    lines = list(dict.fromkeys(x.strip() for x in (res.stderr or "").splitlines()
                               if any(w in x for w in ("GGML_ASSERT", "unsupported", "error", "Error", "abort"))))
    rep.add(f"llama.cpp {os.path.basename(path)}", "run", False,
            f"the llama.cpp checks died (exit {res.returncode}): {' | '.join(lines[-4:])[-600:] or 'no message'}")


def llama_cpp_worker(in_path, out_path):
    with open(in_path) as f:
        job = json.load(f)
    arrays = np.load(job["arrays"])
    n_prompts = len(job["prompts"])
    pipe_logits = [arrays[f"pipe{n}"] if f"pipe{n}" in arrays else None for n in range(n_prompts)]
    gguf_logits = {n: arrays[f"gguf{n}"] for n in range(n_prompts) if f"gguf{n}" in arrays}
    with open(os.path.join(job["hf"], "config.json")) as f:
        cfg = ref.Config(json.load(f))
    rep = Report(quiet=True)
    pipe = Pipe(job["pipe"], job["hf"], job["tmp"])
    pipe.n = 10 ** 6 + os.getpid()  # distinct scratch names
    check_llama_cpp(rep, job["path"], job["kind"], HFDir(job["hf"]), cfg, job["prompts"], job["hf_ids"], pipe,
                    pipe_logits, gguf_logits)
    with open(out_path, "w") as f:
        json.dump(rep.checks, f, default=float)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--llama-cpp-worker"]:
        return llama_cpp_worker(argv[1], argv[2])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hf", required=True, help="exported Hugging Face directory")
    ap.add_argument("--gguf", action="append", default=[], help="exported GGUF file (repeatable)")
    ap.add_argument("--prompts", required=True, help="text file, one prompt per line")
    ap.add_argument("--pipe", required=True, help="pipe binary")
    ap.add_argument("--full", action="store_true", help="also llama.cpp (llama_cpp) and transformers")
    ap.add_argument("--json", help="write every check and figure here")
    args = ap.parse_args(argv)

    with open(args.prompts, encoding="utf-8") as f:
        prompts = [line.rstrip("\r\n") for line in f]
    prompts = [p for p in prompts if p.strip()]
    if not prompts:
        ap.error(f"{args.prompts} has no prompts")

    from tokenizers import Tokenizer

    rep = Report()
    hf = HFDir(args.hf)
    try:
        cfg, params = ref.load_model(args.hf)
    except Exception as e:  # noqa: BLE001
        rep.add("hf", "load", False, f"llama_reference cannot load it: {e}")
        return finish(rep, args)
    check_hf_dir(rep, hf, cfg)
    check_transformers_tokenizer(rep, hf, prompts)

    with tempfile.TemporaryDirectory(prefix="export-conformance-") as tmp:
        pipe = Pipe(args.pipe, args.hf, tmp)
        tok = Tokenizer.from_file(os.path.join(args.hf, "tokenizer.json"))
        hf_ids, pipe_logits = [], []
        for n, p in enumerate(prompts):
            label = f"prompt {n + 1} {short(p, 30)}"
            ids = tok.encode(p, add_special_tokens=False).ids
            hf_ids.append(ids)
            try:
                theirs = pipe.encode(p)
                rep.add("a tokenizers", label, theirs == ids, f"{len(ids)} ids identical" if theirs == ids
                        else f"pipe {theirs[:12]} vs tokenizers {ids[:12]}")
            except Exception as e:  # noqa: BLE001
                theirs = None
                rep.add("a tokenizers", label, False, str(e))
            # b: pipe's logits on the HF directory vs the float64 reference on pipe's own tokens
            try:
                mine = pipe.logits(args.hf, p, cfg.V)
            except Exception as e:  # noqa: BLE001
                rep.add("b reference", label, False, str(e))
                pipe_logits.append(None)
                continue
            pipe_logits.append(mine)
            use = next((u for u in (theirs, ids) if u and len(u) == mine.shape[0]), None)
            if use is None:
                rep.add("b reference", label, False, f"pipe dumped {mine.shape[0]} rows for {len(ids)} prompt tokens")
                continue
            _, want, _ = ref.forward(cfg, params, np.array([use], dtype=np.int64), np.array([use], dtype=np.int64))
            fig = rel_max(mine, want[0])
            rep.add("b reference", label, fig < REL_REF and np.all(np.isfinite(mine)),
                    f"max|diff|/max|ref| = {fig:.2e} (< {REL_REF:g}), top-1 agreement {top1(mine, want[0]):.0%}",
                    figure=fig, top1=top1(mine, want[0]))

        kinds, gguf_logits = {}, {}
        for path in args.gguf:
            kind = check_gguf(rep, path, hf, cfg, params)
            kinds[path] = kind
            if kind is None:
                continue
            # c.pipe: pipe reads its own GGUF back
            g = f"gguf {os.path.basename(path)}"
            figs, agrees = [], []
            try:
                for n, p in enumerate(prompts):
                    if pipe_logits[n] is None:
                        continue
                    back = pipe.logits(path, p, cfg.V)
                    gguf_logits.setdefault(path, {})[n] = back
                    if back.shape != pipe_logits[n].shape:
                        raise RuntimeError(f"prompt {n + 1}: {back.shape} logits vs {pipe_logits[n].shape} from HF_DIR")
                    figs.append(rel_max(back, pipe_logits[n]))
                    agrees.append(top1(back, pipe_logits[n]))
            except Exception as e:  # noqa: BLE001
                rep.add(g, "pipe reads it back", False, str(e))
            else:
                if not figs:
                    rep.add(g, "pipe reads it back", False, "nothing to compare: pipe gave no logits on HF_DIR")
                    continue
                fig = max(figs) if figs else 0.0
                agree = min(agrees) if agrees else 1.0
                if kind == "F32":
                    rep.add(g, "pipe reads it back", fig < REL_PIPE_GGUF_F32,
                            f"logits vs HF_DIR: worst max|diff|/max = {fig:.2e} (< {REL_PIPE_GGUF_F32:g})", figure=fig)
                else:
                    rep.add(g, "pipe reads it back", all(np.isfinite(figs)),
                            f"{kind}: logits vs HF_DIR worst max|diff|/max = {fig:.2e}, top-1 agreement >= {agree:.0%} "
                            "(reported, no bound)", figure=fig, top1=agree)

        if args.full:
            for path in args.gguf:
                if kinds.get(path) is not None:
                    run_llama_cpp_worker(rep, args, path, kinds[path], prompts, hf_ids, pipe_logits,
                                         gguf_logits.get(path, {}), tmp)
            check_transformers(rep, hf, cfg, prompts, hf_ids, pipe_logits)
    return finish(rep, args)


def finish(rep, args):
    passed = len(rep.checks) - rep.failed
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"passed": passed, "failed": rep.failed, "checks": rep.checks}, f, indent=1, default=float)
    print(f"{passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
