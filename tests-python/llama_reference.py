"""Independent float64 numpy reference for a LLaMA-style decoder: forward AND hand-written backward.
Also Qwen3's variant of it, the same decoder with QK-norm (see Math).

Used by the Swift tests to check the training kernels. Only dependency: numpy (no torch).

usage:
  llama_reference.py --model DIR --batch FILE --batch-shape B,T1 [--out GRADS.safetensors]
                     [--logits LOGITS.f32] [--lr LR --steps N] [--params-out PARAMS.safetensors]
                     [--targets TARGETS.i32] [--segments SEGMENTS.i32] [--loss-sum]
  llama_reference.py --self-test

Inputs
  DIR/config.json        Hugging Face LlamaForCausalLM fields (hidden_size, intermediate_size,
                         num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size,
                         rms_norm_eps, rope_theta, tie_word_embeddings, max_position_embeddings).
                         QK-norm is on iff "model_type" is "qwen3" (Qwen3ForCausalLM; without a
                         model_type, iff "architectures" names Qwen3ForCausalLM; the two disagreeing
                         is refused). A qwen3 config must give head_dim (= hidden_size /
                         num_attention_heads; transformers' default would be 128) and no sliding window.
  DIR/model.safetensors  HF tensor names (model.embed_tokens.weight [V,C], model.layers.{i}.* ,
                         model.norm.weight [C], lm_head.weight [V,C] only when not tied);
                         F32 (F16 / BF16 / F64 also read). Computation is always float64.
                         qwen3 also needs model.layers.{i}.self_attn.q_norm.weight and
                         .k_norm.weight [hd]; a llama config with them is refused (not ignored).
  FILE                   raw little-endian int32 tokens [B, T1]; inputs = tokens[:, :-1],
                         targets = tokens[:, 1:], so T = T1 - 1.
  --targets              raw little-endian int32 [B, T]: the targets to use instead of tokens[:, 1:].
                         An entry < 0 is masked: no loss and no gradient at that position.
  --segments             raw little-endian int32 [B, T]: start[b, t] = index (in row b, 0-based) of
                         the first position of the example position t belongs to, for several
                         examples packed into one row: start[b, 0] = 0 and start[b, t] is either
                         start[b, t-1] (same example) or t (a new one). Default: 0 everywhere.
  --loss-sum             the loss (reported and differentiated) is the SUM of the unmasked
                         cross-entropies instead of their mean.

Outputs
  stdout                 one JSON line {"loss": the loss below (float64),
                         "logits_checksum": sum of all float64 logits (masked positions included),
                         "tokens": number of unmasked positions}; with --steps N > 0 also
                         "losses": [loss after 0, 1, ..., N SGD steps] (losses[-1] == loss).
  --out                  safetensors, F32, keys sorted, header space-padded to a multiple of 8:
                         d loss / d parameter under each parameter's own name (tied models have no
                         lm_head.weight; the embedding gradient then holds both contributions;
                         qwen3 models also have self_attn.q_norm.weight / k_norm.weight per layer).
  --logits               raw little-endian float32 logits [B, T, V].
  --steps N --lr LR      first take N plain SGD steps (p -= LR * grad, parameters kept in float64);
                         loss / logits / grads above are then those at the updated parameters.
  --params-out           the (updated) parameters, same safetensors format as --out.

Math (conventions the Swift side must match)
  x = embed[tokens]                                                   [B,T,C]
  per layer:  a = rmsnorm(x, w_in);  q = a Wq^T, k = a Wk^T, v = a Wv^T
              heads: hd = C/H; query head j uses kv head j // (H/KVH)   (GQA)
              qwen3 only (QK-norm), per head and per position, BEFORE RoPE:
                q_h = rmsnorm(q_h, w_qn), k_h = rmsnorm(k_h, w_kn)  over the hd elements of the head;
                w_qn [hd] (q_norm) shared by all H query heads, w_kn [hd] (k_norm) by all KVH key
                heads; eps = rms_norm_eps; v untouched. d w_qn sums over batch, heads and positions.
              RoPE, HF rotate_half style: inv_freq[i] = theta^(-2i/hd), i < hd/2;
              angle[b,t,i] = pos[b,t]*inv_freq[i], pos[b,t] = t - start[b,t] (= t without --segments;
              under the mask below this changes logits only by rounding: scores depend on t - j);
              cos/sin [...,hd] = table concatenated with itself;
              rot(x) = concat(-x[..., hd/2:], x[..., :hd/2]); q' = q*cos + rot(q)*sin (same for k)
              P = softmax(mask(q' k'^T / sqrt(hd))); o = P v; x = x + merge(o) Wo^T
              mask: query t of row b sees key j iff start[b,t] <= j <= t (block-diagonal causal;
              plain causal without --segments), other scores -> -inf
              b = rmsnorm(x, w_post); m = silu(b Wgate^T) * (b Wup^T); x = x + m Wdown^T
  rmsnorm(x, w) = x / sqrt(mean(x^2, last axis) + eps) * w;  silu(z) = z * sigmoid(z)
  logits = rmsnorm(x, w_norm) W_head^T, W_head = embed if tie_word_embeddings else lm_head
  ce[b,t] = logsumexp(logits[b,t]) - logits[b,t,targets[b,t]];  U = {(b,t): targets[b,t] >= 0}
  loss = sum_{U} ce / |U|  (= mean over all B*T positions when nothing is masked, bit for bit);
         sum_{U} ce with --loss-sum;  0 when U is empty (every gradient then 0 too).

--self-test checks every gradient of tiny random models (tied/untied, GQA; plain, with masked
targets, with packed segments, both) against central finite differences, the vectorised forward
against a loop-based one, that a packed row's summed loss and gradients are the sums over its examples
run as separate rows, the safetensors reader/writer, and the CLI round trips; then the same for
qwen3 models (GQA untied; tied with masked targets + segments + --loss-sum), that QK-norm makes each
head's q / k scale-free, and the qwen3 config / tensor refusals. It prints one line per check, a
final PASS/FAIL line, and exits non-zero on failure.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

# ----------------------------------------------------------------------------------------------
# safetensors I/O
# ----------------------------------------------------------------------------------------------

_NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path):
    """Returns {name: ndarray}; BF16 / F16 are widened to float32, other dtypes kept."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = np.frombuffer(blob[:8], dtype="<u8")
    header = json.loads(blob[8:8 + int(n)].decode("utf-8"))
    data = memoryview(blob)[8 + int(n):]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw, shape, dtype = data[begin:end], tuple(info["shape"]), info["dtype"]
        if dtype == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype in _NUMPY_DTYPES:
            arr = np.frombuffer(raw, dtype=_NUMPY_DTYPES[dtype])
            if dtype == "F16":
                arr = arr.astype(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dtype}")
        if arr.size != math.prod(shape):
            raise ValueError(f"{path}: tensor {name}: {arr.size} values for shape {list(shape)}")
        out[name] = arr.reshape(shape).copy()
    return out


def _float32_to_bf16_bits(a):
    """Round-to-nearest-even float32 -> bfloat16 bit patterns (uint16)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def write_safetensors(path, tensors, dtype="F32"):
    """Writes {name: array} with keys sorted, data contiguous in key order, and the JSON header
    padded with spaces so the data buffer starts at a multiple of 8. dtype: F32 (default), F16,
    BF16 or F64 for every tensor."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if dtype == "BF16":
            raw = _float32_to_bf16_bits(a).tobytes()
        else:
            raw = np.ascontiguousarray(a, dtype=_NUMPY_DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(np.array([len(text)], dtype="<u8").tobytes())
        f.write(text)
        for raw in chunks:
            f.write(raw)


# ----------------------------------------------------------------------------------------------
# config and parameters
# ----------------------------------------------------------------------------------------------


class Config:
    """The LlamaConfig / Qwen3Config fields this reference uses (HF defaults where HF has one).
    qk_norm: the model is a Qwen3 one (see "QK-norm" in the module docstring)."""

    def __init__(self, d):
        self.qk_norm = is_qwen3(d)
        self.C = int(d["hidden_size"])
        self.F = int(d["intermediate_size"])
        self.L = int(d["num_hidden_layers"])
        self.H = int(d["num_attention_heads"])
        self.KVH = int(d.get("num_key_value_heads") or self.H)
        self.V = int(d["vocab_size"])
        self.eps = float(d.get("rms_norm_eps", 1e-6))
        self.theta = float(d.get("rope_theta", 10000.0))
        self.tied = bool(d.get("tie_word_embeddings", False))
        self.max_pos = int(d.get("max_position_embeddings", 2048))
        if self.C % self.H or self.H % self.KVH:
            raise ValueError("hidden_size must divide by num_attention_heads, and heads by kv heads")
        self.hd = self.C // self.H
        if self.hd % 2:
            raise ValueError("head_dim must be even for RoPE")
        # Refuse variants whose math differs from the one documented above.
        if d.get("head_dim") not in (None, self.hd):
            raise ValueError(f"head_dim {d['head_dim']} != hidden_size / num_attention_heads")
        if self.qk_norm:
            if d.get("head_dim") is None:  # Qwen3Config's default is 128, whatever the hidden size
                raise ValueError("a qwen3 config.json must give head_dim (transformers' Qwen3Config defaults it to 128)")
            if d.get("use_sliding_window") or any(t != "full_attention" for t in d.get("layer_types") or []):
                raise ValueError("sliding-window attention (use_sliding_window / layer_types) is not supported")
        if d.get("rope_scaling"):
            raise ValueError("rope_scaling is not supported")
        if d.get("attention_bias") or d.get("mlp_bias"):
            raise ValueError("attention_bias / mlp_bias are not supported")
        if d.get("hidden_act", "silu") != "silu":
            raise ValueError(f"hidden_act {d['hidden_act']} is not supported")

    def to_json(self):
        d = {"hidden_size": self.C, "intermediate_size": self.F, "num_hidden_layers": self.L,
             "num_attention_heads": self.H, "num_key_value_heads": self.KVH, "vocab_size": self.V,
             "rms_norm_eps": self.eps, "rope_theta": self.theta, "tie_word_embeddings": self.tied,
             "max_position_embeddings": self.max_pos, "hidden_act": "silu",
             "architectures": ["LlamaForCausalLM"], "model_type": "llama"}
        if self.qk_norm:
            d.update(architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=self.hd,
                     attention_bias=False, use_sliding_window=False)
        return d


def is_qwen3(d):
    """Whether config.json d describes a Qwen3 (QK-norm) model: its model_type is "qwen3", or,
    without a model_type, its architectures name Qwen3ForCausalLM. A model_type and architectures
    that disagree on this are refused."""
    model_type, archs = d.get("model_type"), d.get("architectures") or []
    by_arch = "Qwen3ForCausalLM" in archs
    if model_type is None:
        return by_arch
    if archs and by_arch != (model_type == "qwen3"):
        raise ValueError(f"model_type {model_type!r} and architectures {archs} disagree on Qwen3")
    return model_type == "qwen3"


def param_shapes(cfg):
    """{HF parameter name: shape} for every trainable parameter."""
    C, F, V, qd, kvd = cfg.C, cfg.F, cfg.V, cfg.H * cfg.hd, cfg.KVH * cfg.hd
    shapes = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,)}
    for i in range(cfg.L):
        pre = f"model.layers.{i}."
        shapes.update({
            pre + "input_layernorm.weight": (C,),
            pre + "self_attn.q_proj.weight": (qd, C),
            pre + "self_attn.k_proj.weight": (kvd, C),
            **({pre + "self_attn.q_norm.weight": (cfg.hd,),
                pre + "self_attn.k_norm.weight": (cfg.hd,)} if cfg.qk_norm else {}),
            pre + "self_attn.v_proj.weight": (kvd, C),
            pre + "self_attn.o_proj.weight": (C, qd),
            pre + "post_attention_layernorm.weight": (C,),
            pre + "mlp.gate_proj.weight": (F, C),
            pre + "mlp.up_proj.weight": (F, C),
            pre + "mlp.down_proj.weight": (C, F),
        })
    if not cfg.tied:
        shapes["lm_head.weight"] = (V, C)
    return shapes


def load_model(model_dir):
    """Returns (Config, {name: float64 array}) from a HF-style model directory."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = Config(json.load(f))
    tensors = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name not in tensors:
            raise ValueError(f"model.safetensors lacks {name}")
        if tuple(tensors[name].shape) != shape:
            raise ValueError(f"{name}: shape {list(tensors[name].shape)}, expected {list(shape)}")
        params[name] = tensors[name].astype(np.float64)
    extra = sorted(set(tensors) - set(params))
    qk = [n for n in extra if n.endswith(("self_attn.q_norm.weight", "self_attn.k_norm.weight"))]
    if qk:  # ignoring them would silently compute another model than the file holds
        raise ValueError(f"model.safetensors has {qk[0]} but config.json is not a qwen3 one "
                         "(model_type \"qwen3\" turns QK-norm on)")
    if extra:
        print(f"warning: ignoring tensors {extra}", file=sys.stderr)
    return cfg, params


# ----------------------------------------------------------------------------------------------
# building blocks: forward returns (output, cache); backward maps output grads to input grads
# ----------------------------------------------------------------------------------------------


def rmsnorm_fwd(x, w, eps):
    r = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    xhat = x * r
    return xhat * w, (xhat, r)


def rmsnorm_bwd(dy, w, cache):
    """y = xhat*w, xhat = x*r, r = (mean(x^2)+eps)^-1/2  =>
    dw = sum dy*xhat;  dx = r * (dxhat - xhat * mean(dxhat*xhat))."""
    xhat, r = cache
    dw = np.sum(dy * xhat, axis=tuple(range(dy.ndim - 1)))
    dxhat = dy * w
    dx = r * (dxhat - xhat * np.mean(dxhat * xhat, axis=-1, keepdims=True))
    return dx, dw


def rope_tables(T, hd, theta, positions=None):
    """cos, sin of shape [T, hd] (HF: the [T, hd/2] angle table concatenated with itself) for
    positions 0..T-1; given positions (an int array [..., T]), of shape [..., T, hd] for those."""
    inv_freq = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)  # i = 0..hd/2-1: theta^(-2i/hd)
    pos = np.arange(T, dtype=np.float64) if positions is None else np.asarray(positions, dtype=np.float64)
    angle = pos[..., None] * inv_freq
    emb = np.concatenate([angle, angle], axis=-1)
    return np.cos(emb), np.sin(emb)


def attention_mask(T, starts=None):
    """Which keys each query sees: [T, T] causal (query t sees j <= t) without starts; with
    starts [B, T] (segment start of each position) [B, T, T], query t sees start[b, t] <= j <= t."""
    causal = np.tril(np.ones((T, T), dtype=bool))
    if starts is None:
        return causal
    return causal & (np.arange(T)[None, None, :] >= np.asarray(starts)[:, :, None])


def segment_error(starts):
    """None if starts [B, T] is a valid packing (start[b, 0] = 0; start[b, t] is start[b, t-1] or t),
    else a message naming the first offending position."""
    T = starts.shape[1]
    t = np.arange(T)
    prev = np.concatenate([np.zeros_like(starts[:, :1]), starts[:, :-1]], axis=1)
    bad = ~((starts == prev) | (starts == t))
    bad[:, 0] = starts[:, 0] != 0
    if not bad.any():
        return None
    b, i = (int(z) for z in np.argwhere(bad)[0])
    return f"segments[{b}, {i}] = {int(starts[b, i])}: must be 0 at t = 0, else segments[b, t-1] or t"


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def rope_fwd(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def rope_bwd(dy, cos, sin):
    """rotate_half is the linear map R with R^T = -R, so dx = dy*cos + R^T(dy*sin) = dy*cos - R(dy*sin)."""
    return dy * cos - rotate_half(dy * sin)


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


def softmax(s):
    e = np.exp(s - np.max(s, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _flat(x):
    """[..., D] -> [N, D] so weight gradients are single matmuls."""
    return x.reshape(-1, x.shape[-1])


# ----------------------------------------------------------------------------------------------
# model forward / backward
# ----------------------------------------------------------------------------------------------


def forward(cfg, p, inputs, targets, starts=None, loss_sum=False):
    """Returns (loss, logits [B,T,V], cache for backward). targets < 0 are masked out of the loss;
    starts [B,T] (None = 0 everywhere) packs examples: RoPE position t - start, attention only
    within the example; loss_sum: sum of the unmasked cross-entropies instead of their mean."""
    B, T = inputs.shape
    H, KVH, hd = cfg.H, cfg.KVH, cfg.hd
    n_rep, scale = H // KVH, 1.0 / math.sqrt(hd)
    if starts is None:
        cos, sin = rope_tables(T, hd, cfg.theta)  # [T,hd]
        causal = attention_mask(T)  # [t, s]: position t sees s <= t
    else:
        cos, sin = (z[:, None] for z in rope_tables(T, hd, cfg.theta, np.arange(T) - starts))  # [B,1,T,hd]
        causal = attention_mask(T, starts)[:, None]  # [B,1,t,s]: also s >= start[b,t]

    x = p["model.embed_tokens.weight"][inputs]  # [B,T,C]
    layers = []
    for i in range(cfg.L):
        pre = f"model.layers.{i}."
        c = {}
        # --- attention block
        a, c["norm1"] = rmsnorm_fwd(x, p[pre + "input_layernorm.weight"], cfg.eps)
        q = (a @ p[pre + "self_attn.q_proj.weight"].T).reshape(B, T, H, hd).transpose(0, 2, 1, 3)
        k = (a @ p[pre + "self_attn.k_proj.weight"].T).reshape(B, T, KVH, hd).transpose(0, 2, 1, 3)
        v = (a @ p[pre + "self_attn.v_proj.weight"].T).reshape(B, T, KVH, hd).transpose(0, 2, 1, 3)
        if cfg.qk_norm:  # Qwen3: each head's vector RMS-normalised over hd, before RoPE
            q, c["q_norm"] = rmsnorm_fwd(q, p[pre + "self_attn.q_norm.weight"], cfg.eps)
            k, c["k_norm"] = rmsnorm_fwd(k, p[pre + "self_attn.k_norm.weight"], cfg.eps)
        qr, kr = rope_fwd(q, cos, sin), rope_fwd(k, cos, sin)
        # GQA: repeat each kv head n_rep times, so expanded head j is kv head j // n_rep.
        kr_e, v_e = np.repeat(kr, n_rep, axis=1), np.repeat(v, n_rep, axis=1)  # [B,H,T,hd]
        s = np.where(causal, (qr @ kr_e.swapaxes(-1, -2)) * scale, -np.inf)
        P = softmax(s)  # [B,H,T,T]
        o = (P @ v_e).transpose(0, 2, 1, 3).reshape(B, T, H * hd)
        x = x + o @ p[pre + "self_attn.o_proj.weight"].T
        # --- MLP block
        b, c["norm2"] = rmsnorm_fwd(x, p[pre + "post_attention_layernorm.weight"], cfg.eps)
        g = b @ p[pre + "mlp.gate_proj.weight"].T
        u = b @ p[pre + "mlp.up_proj.weight"].T
        sg = sigmoid(g)
        m = g * sg * u
        x = x + m @ p[pre + "mlp.down_proj.weight"].T
        c.update(a=a, qr=qr, kr_e=kr_e, v_e=v_e, P=P, o=o, b=b, g=g, u=u, sg=sg, m=m)
        layers.append(c)

    y, norm_f = rmsnorm_fwd(x, p["model.norm.weight"], cfg.eps)
    w_head = p["model.embed_tokens.weight"] if cfg.tied else p["lm_head.weight"]
    logits = y @ w_head.T  # [B,T,V]

    # Cross-entropy over the unmasked positions, summed, divided by their count unless loss_sum
    # (np.sum(ce) / (B*T) is what np.mean computes, so nothing masked = the plain mean bit for bit).
    valid = targets >= 0
    mx = np.max(logits, axis=-1, keepdims=True)
    lse = mx[..., 0] + np.log(np.sum(np.exp(logits - mx), axis=-1))
    picked = np.take_along_axis(logits, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
    denom = 1 if loss_sum else max(int(np.sum(valid)), 1)
    loss = float(np.sum(np.where(valid, lse - picked, 0.0)) / denom)

    cache = dict(layers=layers, y=y, norm_f=norm_f, lse=lse, cos=cos, sin=sin, valid=valid, denom=denom)
    return loss, logits, cache


def backward(cfg, p, inputs, targets, logits, cache):
    """Hand-written chain rule through forward(); returns {name: d loss / d param} (float64)."""
    B, T = inputs.shape
    H, KVH, hd = cfg.H, cfg.KVH, cfg.hd
    n_rep, scale = H // KVH, 1.0 / math.sqrt(hd)
    cos, sin = cache["cos"], cache["sin"]
    grads = {}

    # d loss / d logits = (softmax - onehot) / denom at unmasked positions, 0 at masked ones
    # (denom = number of unmasked positions, or 1 for the summed loss).
    valid = cache["valid"]
    picked = np.where(valid, targets, 0)[..., None]
    dlogits = np.exp(logits - cache["lse"][..., None])
    np.put_along_axis(dlogits, picked, np.take_along_axis(dlogits, picked, axis=-1) - 1.0, axis=-1)
    dlogits = np.where(valid[..., None], dlogits, 0.0)
    dlogits /= cache["denom"]

    # logits = y W_head^T
    w_head = p["model.embed_tokens.weight"] if cfg.tied else p["lm_head.weight"]
    d_head = _flat(dlogits).T @ _flat(cache["y"])  # [V,C]
    dy = dlogits @ w_head
    dx, grads["model.norm.weight"] = rmsnorm_bwd(dy, p["model.norm.weight"], cache["norm_f"])

    for i in reversed(range(cfg.L)):
        pre = f"model.layers.{i}."
        c = cache["layers"][i]
        # --- MLP block: x_out = x_mid + m Wdown^T, m = g*sigmoid(g)*u
        w_down = p[pre + "mlp.down_proj.weight"]
        grads[pre + "mlp.down_proj.weight"] = _flat(dx).T @ _flat(c["m"])
        dm = dx @ w_down
        g, u, sg = c["g"], c["u"], c["sg"]
        du = dm * g * sg
        dg = dm * u * sg * (1.0 + g * (1.0 - sg))  # silu'(g) = s + g s (1-s)
        w_gate, w_up = p[pre + "mlp.gate_proj.weight"], p[pre + "mlp.up_proj.weight"]
        grads[pre + "mlp.gate_proj.weight"] = _flat(dg).T @ _flat(c["b"])
        grads[pre + "mlp.up_proj.weight"] = _flat(du).T @ _flat(c["b"])
        db = dg @ w_gate + du @ w_up
        dxn, grads[pre + "post_attention_layernorm.weight"] = rmsnorm_bwd(
            db, p[pre + "post_attention_layernorm.weight"], c["norm2"])
        dx = dx + dxn  # residual

        # --- attention block: x_mid = x_in + o Wo^T
        w_o = p[pre + "self_attn.o_proj.weight"]
        grads[pre + "self_attn.o_proj.weight"] = _flat(dx).T @ _flat(c["o"])
        do = (dx @ w_o).reshape(B, T, H, hd).transpose(0, 2, 1, 3)  # [B,H,T,hd]
        P, qr, kr_e, v_e = c["P"], c["qr"], c["kr_e"], c["v_e"]
        dP = do @ v_e.swapaxes(-1, -2)
        dv_e = P.swapaxes(-1, -2) @ do
        dS = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))  # softmax backward (masked P = 0)
        dqr = (dS @ kr_e) * scale
        dkr_e = (dS.swapaxes(-1, -2) @ qr) * scale
        # GQA backward: sum over the n_rep query heads sharing each kv head.
        dkr = dkr_e.reshape(B, KVH, n_rep, T, hd).sum(axis=2)
        dv = dv_e.reshape(B, KVH, n_rep, T, hd).sum(axis=2)
        dq, dk = rope_bwd(dqr, cos, sin), rope_bwd(dkr, cos, sin)
        if cfg.qk_norm:  # per-head rmsnorm: the weight gradient sums over B, heads and T
            dq, grads[pre + "self_attn.q_norm.weight"] = rmsnorm_bwd(dq, p[pre + "self_attn.q_norm.weight"], c["q_norm"])
            dk, grads[pre + "self_attn.k_norm.weight"] = rmsnorm_bwd(dk, p[pre + "self_attn.k_norm.weight"], c["k_norm"])
        dq = dq.transpose(0, 2, 1, 3).reshape(B, T, H * hd)
        dk = dk.transpose(0, 2, 1, 3).reshape(B, T, KVH * hd)
        dv = dv.transpose(0, 2, 1, 3).reshape(B, T, KVH * hd)
        a = c["a"]
        da = np.zeros_like(a)
        for name, d in (("q_proj", dq), ("k_proj", dk), ("v_proj", dv)):
            w = p[pre + "self_attn." + name + ".weight"]
            grads[pre + "self_attn." + name + ".weight"] = _flat(d).T @ _flat(a)
            da += d @ w
        dxn, grads[pre + "input_layernorm.weight"] = rmsnorm_bwd(
            da, p[pre + "input_layernorm.weight"], c["norm1"])
        dx = dx + dxn  # residual

    # x = embed[tokens]: scatter-add (repeated tokens accumulate); tied head adds its own part.
    d_embed = np.zeros_like(p["model.embed_tokens.weight"])
    np.add.at(d_embed, inputs.reshape(-1), _flat(dx))
    if cfg.tied:
        d_embed += d_head
    else:
        grads["lm_head.weight"] = d_head
    grads["model.embed_tokens.weight"] = d_embed
    return grads


def loss_and_grads(cfg, p, inputs, targets, starts=None, loss_sum=False):
    """forward() then backward(): (loss, logits, {name: d loss / d param}); options as forward()."""
    loss, logits, cache = forward(cfg, p, inputs, targets, starts, loss_sum)
    return loss, logits, backward(cfg, p, inputs, targets, logits, cache)


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------


def read_int32(path, B, T, option):
    """Raw little-endian int32 [B, T] from path as int64; exits naming option if the size is wrong."""
    values = np.fromfile(path, dtype="<i4")
    if values.size != B * T:
        raise SystemExit(f"{path}: {values.size} int32 values, {option} needs {B * T}")
    return values.reshape(B, T).astype(np.int64)


def run_cli(args):
    if args.steps < 0 or (args.steps > 0 and args.lr is None):
        raise SystemExit("--steps must be >= 0, and --steps > 0 needs --lr")
    cfg, params = load_model(args.model)
    try:
        B, T1 = (int(s) for s in args.batch_shape.split(","))
    except ValueError:
        raise SystemExit("--batch-shape must be B,T1")
    tokens = read_int32(args.batch, B, T1, "--batch-shape")
    if T1 < 2:
        raise SystemExit("need T1 >= 2")
    if tokens.min() < 0 or tokens.max() >= cfg.V:
        raise SystemExit(f"token ids must be in [0, {cfg.V})")
    if T1 - 1 > cfg.max_pos:
        raise SystemExit(f"T = {T1 - 1} exceeds max_position_embeddings {cfg.max_pos}")
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    if args.targets:
        targets = read_int32(args.targets, B, T1 - 1, "--targets (B, T1-1)")
        if targets.max() >= cfg.V:
            raise SystemExit(f"--targets: ids must be < {cfg.V} (negative = masked)")
    starts = None
    if args.segments:
        starts = read_int32(args.segments, B, T1 - 1, "--segments (B, T1-1)")
        error = segment_error(starts)
        if error:
            raise SystemExit(f"--segments: {error}")
    options = dict(starts=starts, loss_sum=args.loss_sum)

    losses = []
    for _ in range(args.steps):
        loss, _, grads = loss_and_grads(cfg, params, inputs, targets, **options)
        losses.append(loss)
        for name in params:
            params[name] = params[name] - args.lr * grads[name]
    loss, logits, grads = loss_and_grads(cfg, params, inputs, targets, **options)

    if args.out:
        write_safetensors(args.out, grads)
    if args.logits:
        logits.astype("<f4").tofile(args.logits)
    if args.params_out:
        write_safetensors(args.params_out, params)
    result = {"loss": loss, "logits_checksum": float(np.sum(logits)), "tokens": int(np.sum(targets >= 0))}
    if args.steps > 0:
        result["losses"] = losses + [loss]
    print(json.dumps(result))


# ----------------------------------------------------------------------------------------------
# self-test
# ----------------------------------------------------------------------------------------------


def random_model(cfg, rng):
    """Random float32-representable parameters (stored as float64), big enough to be nonlinear."""
    p = {}
    for name, shape in param_shapes(cfg).items():
        if len(shape) == 1:  # norm weights around 1
            w = 1.0 + 0.3 * rng.standard_normal(shape)
        else:
            w = rng.standard_normal(shape) / math.sqrt(shape[1]) * (2.0 if "embed" in name else 1.0)
        p[name] = w.astype(np.float32).astype(np.float64)
    return p


def naive_logits(cfg, p, inputs, starts=None):
    """Loop-based forward written straight from the formulas (explicit (i, i+hd/2) RoPE pairs,
    explicit kv head j // n_rep, explicit key range start..t and position t - start for packed
    examples, starts as in forward()), to cross-check the vectorised forward's reshapes."""
    B, T = inputs.shape
    starts = np.zeros((B, T), dtype=np.int64) if starts is None else starts
    H, hd, half = cfg.H, cfg.hd, cfg.hd // 2
    n_rep = H // cfg.KVH

    def norm(vec, w):
        return vec / math.sqrt(sum(z * z for z in vec) / len(vec) + cfg.eps) * w

    def rope(vec, t):
        out = np.empty(hd)
        for i in range(half):
            ang = t * cfg.theta ** (-2.0 * i / hd)
            x1, x2 = vec[i], vec[i + half]
            out[i] = x1 * math.cos(ang) - x2 * math.sin(ang)
            out[i + half] = x2 * math.cos(ang) + x1 * math.sin(ang)
        return out

    logits = np.empty((B, T, cfg.V))
    for bi in range(B):
        xs = [p["model.embed_tokens.weight"][inputs[bi, t]].copy() for t in range(T)]
        for li in range(cfg.L):
            pre = f"model.layers.{li}."
            Wq, Wk, Wv, Wo = (p[pre + f"self_attn.{n}_proj.weight"] for n in "qkvo")
            a = [norm(x, p[pre + "input_layernorm.weight"]) for x in xs]
            pos = [t - int(starts[bi, t]) for t in range(T)]
            if cfg.qk_norm:  # each head's projection normalised on its own, then rotated
                wqn, wkn = p[pre + "self_attn.q_norm.weight"], p[pre + "self_attn.k_norm.weight"]
                q = [[rope(norm(Wq[h * hd:(h + 1) * hd] @ a[t], wqn), pos[t]) for h in range(H)] for t in range(T)]
                k = [[rope(norm(Wk[h * hd:(h + 1) * hd] @ a[t], wkn), pos[t]) for h in range(cfg.KVH)] for t in range(T)]
            else:
                q = [[rope(Wq[h * hd:(h + 1) * hd] @ a[t], pos[t]) for h in range(H)] for t in range(T)]
                k = [[rope(Wk[h * hd:(h + 1) * hd] @ a[t], pos[t]) for h in range(cfg.KVH)] for t in range(T)]
            v = [[Wv[h * hd:(h + 1) * hd] @ a[t] for h in range(cfg.KVH)] for t in range(T)]
            new = []
            for t in range(T):
                heads = []
                keys = range(int(starts[bi, t]), t + 1)
                for h in range(H):
                    kv = h // n_rep
                    sc = [float(q[t][h] @ k[s][kv]) / math.sqrt(hd) for s in keys]
                    mx = max(sc)
                    e = [math.exp(z - mx) for z in sc]
                    heads.append(sum(e[i] / sum(e) * v[s][kv] for i, s in enumerate(keys)))
                new.append(xs[t] + Wo @ np.concatenate(heads))
            xs = new
            new = []
            for t in range(T):
                b = norm(xs[t], p[pre + "post_attention_layernorm.weight"])
                g, u = p[pre + "mlp.gate_proj.weight"] @ b, p[pre + "mlp.up_proj.weight"] @ b
                m = np.array([gi / (1.0 + math.exp(-gi)) for gi in g]) * u
                new.append(xs[t] + p[pre + "mlp.down_proj.weight"] @ m)
            xs = new
        head = p["model.embed_tokens.weight"] if cfg.tied else p["lm_head.weight"]
        for t in range(T):
            logits[bi, t] = head @ norm(xs[t], p["model.norm.weight"])
    return logits


def finite_difference_check(cfg, p, inputs, targets, eps=1e-6, starts=None, loss_sum=False):
    """Central differences for every element of every parameter (starts / loss_sum as in forward()).
    Returns {name: relative error}, relative error = ||analytic - numeric|| / max(||analytic||, ||numeric||)."""
    _, _, grads = loss_and_grads(cfg, p, inputs, targets, starts, loss_sum)
    errors = {}
    for name in sorted(p):
        w = p[name]
        num = np.empty_like(w)
        for idx in range(w.size):
            orig = w.flat[idx]
            w.flat[idx] = orig + eps
            lp = forward(cfg, p, inputs, targets, starts, loss_sum)[0]
            w.flat[idx] = orig - eps
            lm = forward(cfg, p, inputs, targets, starts, loss_sum)[0]
            w.flat[idx] = orig
            num.flat[idx] = (lp - lm) / (2 * eps)
        denom = max(np.linalg.norm(grads[name]), np.linalg.norm(num), 1e-300)
        errors[name] = float(np.linalg.norm(grads[name] - num) / denom)
    return errors


def self_test():
    rng = np.random.default_rng(1234)
    base = dict(vocab_size=11, hidden_size=8, intermediate_size=16, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, rms_norm_eps=1e-5, rope_theta=10000.0,
                max_position_embeddings=16)
    cases = [
        ("tied, H=2 KVH=1", dict(base, tie_word_embeddings=True)),
        ("untied, H=2 KVH=1", dict(base, tie_word_embeddings=False)),
        # KVH > 1 with n_rep > 1 is where j // n_rep differs from j % KVH; small theta = big angles.
        ("untied, H=4 KVH=2 C=16", dict(base, hidden_size=16, num_attention_heads=4,
                                         num_key_value_heads=2, rope_theta=50.0,
                                         tie_word_embeddings=False)),
    ]
    B, T = 2, 5
    failures = 0

    def report(ok, text):
        nonlocal failures
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {text}")

    for label, d in cases:
        cfg = Config(d)
        p = random_model(cfg, rng)
        tokens = rng.integers(0, cfg.V, size=(B, T + 1))
        tokens[0, 1] = tokens[0, 3]  # a repeated input token exercises the embedding scatter-add
        inputs, targets = tokens[:, :-1], tokens[:, 1:]

        loss, logits, _ = forward(cfg, p, inputs, targets)
        fwd_err = float(np.max(np.abs(logits - naive_logits(cfg, p, inputs))))
        report(fwd_err < 1e-10, f"[{label}] vectorised vs loop forward: max |dlogits| = {fwd_err:.1e}, loss = {loss:.6f}")

        # Causality: changing the last input token must leave earlier positions' logits alone.
        changed = inputs.copy()
        changed[:, -1] = (changed[:, -1] + 1) % cfg.V
        _, logits2, _ = forward(cfg, p, changed, targets)
        leak = float(np.max(np.abs(logits2[:, :-1] - logits[:, :-1])))
        report(leak == 0.0, f"[{label}] causal mask: earlier logits change by {leak:.1e}")

        _report_finite_differences(f"[{label}]", cfg, p, inputs, targets, report)

    _fine_tuning_checks(np.random.default_rng(5678), report)  # own stream: the other checks' numbers stay put

    # safetensors: F16 / BF16 / F32 read back, header layout.
    with tempfile.TemporaryDirectory() as tmp:
        vals = np.array([[1.0, -2.5, 0.15625], [3.0e-3, 65504.0, -0.0]], dtype=np.float32)
        ok = True
        bf16 = (_float32_to_bf16_bits(vals).astype(np.uint32) << 16).view(np.float32)
        for dt, expect in (("F32", vals), ("F16", vals.astype(np.float16).astype(np.float32)), ("BF16", bf16)):
            path = os.path.join(tmp, f"{dt}.safetensors")
            write_safetensors(path, {"b": vals, "a": vals[0]}, dtype=dt)
            back = read_safetensors(path)
            ok &= np.array_equal(back["b"], expect) and np.array_equal(back["a"], expect[0])
            ok &= _header_ok(path, ["a", "b"])
        bf = read_safetensors(os.path.join(tmp, "BF16.safetensors"))["b"]
        ok &= bool(np.all(np.abs(bf - vals) <= np.abs(vals) * 2.0 ** -8))
        report(ok, "safetensors write/read F32, F16, BF16 (sorted keys, 8-byte aligned header)")

    # CLI round trip on the untied GQA model and the tied model, then with --targets --segments --loss-sum.
    for label, d in (cases[2], cases[0]):
        _cli_round_trip(label, Config(d), rng, report)
    _cli_round_trip(cases[2][0], Config(cases[2][1]), rng, report, fine_tune=True)

    _qk_norm_checks(np.random.default_rng(91011), report)  # own stream too: the llama checks above stay put

    print(("PASS" if failures == 0 else f"FAIL ({failures} checks failed)") + ": llama_reference self-test")
    return 0 if failures == 0 else 1


def _report_finite_differences(label, cfg, p, inputs, targets, report, **options):
    """Runs finite_difference_check (options: starts, loss_sum) and reports the worst tensor."""
    errors = finite_difference_check(cfg, p, inputs, targets, **options)
    worst = max(errors, key=errors.get)
    n = sum(w.size for w in p.values())
    report(errors[worst] < 1e-6, f"{label} finite differences, {len(errors)} tensors / {n} values: "
                                 f"max rel err {errors[worst]:.1e} ({worst})")
    for name, err in sorted(errors.items()):
        if err >= 1e-6:
            print(f"       {name}: rel err {err:.1e}")


def packed_starts(lengths):
    """Segment starts [sum(lengths)] of one row packing examples of these lengths back to back."""
    return np.concatenate([np.full(n, sum(lengths[:i]), dtype=np.int64) for i, n in enumerate(lengths)])


def random_targets(rng, V, shape, masked=0.3):
    """Random targets with about a fraction `masked` of entries -1 (masked)."""
    targets = rng.integers(0, V, size=shape)
    targets[rng.random(shape) < masked] = -1
    return targets


def _fine_tuning_checks(rng, report):
    """Masked targets and packed segments: loop forward, finite differences, packed row = its
    examples as separate rows, everything masked, and no-op options bit-identical to none."""
    # One layer keeps the three finite-difference runs fast; H=2 KVH=1 keeps GQA in the mask broadcast.
    cfg = Config(dict(vocab_size=7, hidden_size=8, intermediate_size=8, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, rms_norm_eps=1e-5, rope_theta=50.0,
                      max_position_embeddings=16, tie_word_embeddings=False))
    label = "[masks, H=2 KVH=1 L=1]"
    p = random_model(cfg, rng)
    rows = [[3, 5, 2], [4, 1, 5]]  # example lengths per row; T = 10
    starts = np.stack([packed_starts(r) for r in rows])
    B, T = starts.shape
    inputs = rng.integers(0, cfg.V, size=(B, T))
    targets = random_targets(rng, cfg.V, (B, T))
    targets[0, 2] = targets[1, 4] = -1  # an example boundary, and the length-1 example wholly masked
    targets[0, 0] = targets[1, 0] = 1  # something unmasked in each row
    unmasked = np.abs(targets)

    _, logits, cache = forward(cfg, p, inputs, targets, starts)
    err = float(np.max(np.abs(logits - naive_logits(cfg, p, inputs, starts))))
    report(err < 1e-10, f"{label} segments {rows}: vectorised vs loop forward: max |dlogits| = {err:.1e}")
    # RoPE scores depend only on t - j, so within an example positions t - start and t give the same
    # logits up to rounding: check the tables forward() uses directly.
    cos, sin = rope_tables(T, cfg.hd, cfg.theta)
    pos = np.arange(T) - starts
    ok = np.array_equal(cache["cos"][:, 0], cos[pos]) and np.array_equal(cache["sin"][:, 0], sin[pos])
    report(ok, f"{label} RoPE tables with segments are those of positions t - start")
    report(segment_error(starts) is None and segment_error(starts + (np.arange(T) == 4)) is not None,
           f"{label} segment validation accepts packings, rejects a start that is neither t nor start[t-1]")

    _report_finite_differences(f"{label} mask only,", cfg, p, inputs, targets, report)
    _report_finite_differences(f"{label} segments only,", cfg, p, inputs, unmasked, report, starts=starts)
    _report_finite_differences(f"{label} mask + segments, --loss-sum,", cfg, p, inputs, targets, report,
                               starts=starts, loss_sum=True)

    # A packed row's summed loss / gradients / logits = those of its examples run as their own rows.
    for b, lengths in enumerate(rows):
        loss, logits, grads = loss_and_grads(cfg, p, inputs[b:b + 1], targets[b:b + 1], starts[b:b + 1], True)
        total, total_grads, logit_err = 0.0, {k: np.zeros_like(v) for k, v in p.items()}, 0.0
        offsets = np.cumsum([0] + lengths)
        for e in (slice(s, t) for s, t in zip(offsets[:-1], offsets[1:])):
            l, lg, g = loss_and_grads(cfg, p, inputs[b:b + 1, e], targets[b:b + 1, e], loss_sum=True)
            total += l
            logit_err = max(logit_err, float(np.max(np.abs(lg - logits[:, e]))))
            for k in g:
                total_grads[k] += g[k]
        grad_err = max(float(np.max(np.abs(grads[k] - total_grads[k]))) for k in p)
        ok = abs(loss - total) <= 1e-10 and grad_err <= 1e-10 and logit_err <= 1e-10
        report(ok, f"{label} row {b} packing {lengths}: summed loss {loss:.6f} vs separate rows {total:.6f}, "
                   f"max |dgrad| {grad_err:.1e}, max |dlogits| {logit_err:.1e}")

    # Everything masked: loss 0, every gradient exactly 0.
    loss, _, grads = loss_and_grads(cfg, p, inputs, np.full((B, T), -1), starts)
    report(loss == 0.0 and all(not np.any(g) for g in grads.values()),
           f"{label} all targets masked: loss {loss}, every gradient 0")

    # No-op options (all-zero starts, nothing masked) give today's numbers bit for bit.
    plain = loss_and_grads(cfg, p, inputs, unmasked)
    noop = loss_and_grads(cfg, p, inputs, unmasked, np.zeros((B, T), dtype=np.int64))
    same = plain[0] == noop[0] and np.array_equal(plain[1], noop[1])
    same &= all(np.array_equal(plain[2][k], noop[2][k]) for k in p)
    report(bool(same), f"{label} all-zero segments, nothing masked: bit-identical to no options")


def _qk_norm_checks(rng, report):
    """Qwen3 (QK-norm) models: loop forward, finite differences (plain; GQA; masked targets with
    packed segments and the summed loss), what the norm does, config / tensor refusals, CLI."""
    base = dict(vocab_size=11, hidden_size=16, intermediate_size=16, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=50.0,
                max_position_embeddings=16, tie_word_embeddings=False, model_type="qwen3",
                architectures=["Qwen3ForCausalLM"], head_dim=4)
    gqa = Config(base)
    label = "[qwen3 untied, H=4 KVH=2 C=16]"
    p = random_model(gqa, rng)
    B, T = 2, 5
    inputs, targets = rng.integers(0, gqa.V, size=(B, T)), rng.integers(0, gqa.V, size=(B, T))
    loss, logits, _ = forward(gqa, p, inputs, targets)
    err = float(np.max(np.abs(logits - naive_logits(gqa, p, inputs))))
    report(err < 1e-10, f"{label} vectorised vs loop forward: max |dlogits| = {err:.1e}, loss = {loss:.6f}")
    _report_finite_differences(label, gqa, p, inputs, targets, report)

    # What the norm does: each head's q (k) is scale-free, head by head, so scaling one head's rows
    # of Wq (one kv head's rows of Wk) leaves the logits alone (up to eps, here 1e-30); with the
    # norms dropped (a llama model with the same other weights) they change.
    tiny_eps = Config(dict(base, rms_norm_eps=1e-30))
    scaled = dict(p)
    for name, rows in (("q_proj", slice(gqa.hd, 2 * gqa.hd)), ("k_proj", slice(0, gqa.hd))):
        w = p["model.layers.0.self_attn." + name + ".weight"].copy()
        w[rows] *= 3.0
        scaled["model.layers.0.self_attn." + name + ".weight"] = w
    moved = float(np.max(np.abs(forward(tiny_eps, scaled, inputs, targets)[1] - forward(tiny_eps, p, inputs, targets)[1])))
    llama = Config(dict(base, model_type="llama", architectures=["LlamaForCausalLM"]))
    plain = {k: v for k, v in p.items() if k in param_shapes(llama)}
    off = float(np.max(np.abs(forward(llama, plain, inputs, targets)[1] - logits)))
    report(moved < 1e-12 and off > 1e-3, f"{label} one head's q / k rows x3: logits move {moved:.1e}; "
                                         f"without the norms: {off:.2e}")

    # Tied, H=2 KVH=1, one layer: masked targets + packed segments + --loss-sum, and a packed row
    # against its examples as separate rows.
    tied = Config(dict(base, hidden_size=8, num_attention_heads=2, num_key_value_heads=1, num_hidden_layers=1,
                       intermediate_size=8, vocab_size=7, tie_word_embeddings=True))
    label = "[qwen3 tied, H=2 KVH=1 L=1]"
    p = random_model(tied, rng)
    rows = [[3, 5, 2], [4, 1, 5]]
    starts = np.stack([packed_starts(r) for r in rows])
    B, T = starts.shape
    inputs = rng.integers(0, tied.V, size=(B, T))
    targets = random_targets(rng, tied.V, (B, T))
    targets[0, 0] = targets[1, 0] = 1
    err = float(np.max(np.abs(forward(tied, p, inputs, targets, starts)[1] - naive_logits(tied, p, inputs, starts))))
    report(err < 1e-10, f"{label} segments {rows}: vectorised vs loop forward: max |dlogits| = {err:.1e}")
    _report_finite_differences(f"{label} mask + segments, --loss-sum,", tied, p, inputs, targets, report,
                               starts=starts, loss_sum=True)
    loss, _, grads = loss_and_grads(tied, p, inputs[:1], targets[:1], starts[:1], True)
    total, total_grads = 0.0, {k: np.zeros_like(v) for k, v in p.items()}
    offsets = np.cumsum([0] + rows[0])
    for e in (slice(s, t) for s, t in zip(offsets[:-1], offsets[1:])):
        l, _, g = loss_and_grads(tied, p, inputs[:1, e], targets[:1, e], loss_sum=True)
        total += l
        for k in g:
            total_grads[k] += g[k]
    grad_err = max(float(np.max(np.abs(grads[k] - total_grads[k]))) for k in p)
    report(abs(loss - total) <= 1e-10 and grad_err <= 1e-10,
           f"{label} row 0 packing {rows[0]}: summed loss {loss:.6f} vs separate rows {total:.6f}, max |dgrad| {grad_err:.1e}")

    # config.json / model.safetensors combinations that must be refused.
    refused = []
    for what, d in (("no head_dim", {k: v for k, v in base.items() if k != "head_dim"}),
                    ("model_type qwen3, architectures Llama", dict(base, architectures=["LlamaForCausalLM"])),
                    ("model_type llama, architectures Qwen3", dict(base, model_type="llama")),
                    ("use_sliding_window", dict(base, use_sliding_window=True))):
        try:
            Config(d)
        except ValueError:
            refused.append(what)
    ok = len(refused) == 4 and Config({k: v for k, v in base.items() if k != "model_type"}).qk_norm
    with tempfile.TemporaryDirectory() as tmp:
        p = random_model(gqa, rng)
        for what, cfg_json, tensors in (
                ("llama config, q_norm / k_norm tensors", llama.to_json(), p),
                ("qwen3 config, no k_norm tensors", gqa.to_json(), {k: v for k, v in p.items() if "k_norm" not in k})):
            with open(os.path.join(tmp, "config.json"), "w") as f:
                json.dump(cfg_json, f)
            write_safetensors(os.path.join(tmp, "model.safetensors"), tensors)
            try:
                load_model(tmp)
            except ValueError:
                refused.append(what)
    ok &= len(refused) == 6
    report(ok, f"qwen3 refusals ({len(refused)} of 6): " + "; ".join(refused))

    _cli_round_trip("qwen3 untied, H=4 KVH=2 C=16", gqa, rng, report)
    _cli_round_trip("qwen3 tied, H=2 KVH=1", tied, rng, report, fine_tune=True)


def _header_ok(path, names):
    """Keys sorted, header length a multiple of 8, data contiguous and exactly filling the file."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int(np.frombuffer(blob[:8], dtype="<u8")[0])
    header = json.loads(blob[8:8 + n])
    keys = [k for k in header if k != "__metadata__"]
    end = 0
    for k in keys:
        b, e = header[k]["data_offsets"]
        if b != end:
            return False
        end = e
    return n % 8 == 0 and keys == sorted(names) and 8 + n + end == len(blob)


def _cli_round_trip(label, cfg, rng, report, fine_tune=False):
    """Writes a model dir + batch file, runs this script as a subprocess, compares with in-process;
    fine_tune: also passes --targets (some masked), --segments and --loss-sum."""
    B, T1 = 3, 6
    p = random_model(cfg, rng)
    tokens = rng.integers(0, cfg.V, size=(B, T1)).astype("<i4")
    inputs, targets = tokens[:, :-1].astype(np.int64), tokens[:, 1:].astype(np.int64)
    options, extra = {}, []
    if fine_tune:
        label += " --targets --segments --loss-sum"
        targets = random_targets(rng, cfg.V, (B, T1 - 1))
        targets[:, 0] = 0
        options = dict(starts=np.stack([packed_starts(r) for r in ([2, 3], [5], [1, 1, 3])]), loss_sum=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "model")
        os.makedirs(model_dir)
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            json.dump(cfg.to_json(), f)
        write_safetensors(os.path.join(model_dir, "model.safetensors"), p)
        batch = os.path.join(tmp, "batch.i32")
        tokens.tofile(batch)
        if fine_tune:
            targets.astype("<i4").tofile(os.path.join(tmp, "targets.i32"))
            options["starts"].astype("<i4").tofile(os.path.join(tmp, "segments.i32"))
            extra = ["--targets", os.path.join(tmp, "targets.i32"),
                     "--segments", os.path.join(tmp, "segments.i32"), "--loss-sum"]
        out, logits_path = os.path.join(tmp, "grads.safetensors"), os.path.join(tmp, "logits.f32")
        cmd = [sys.executable, os.path.abspath(__file__), "--model", model_dir, "--batch", batch,
               "--batch-shape", f"{B},{T1}", "--out", out, "--logits", logits_path] + extra
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            report(False, f"[{label}] CLI failed: {res.stderr.strip()}")
            return
        lines = res.stdout.strip().splitlines()
        result = json.loads(lines[-1])

        loss, logits, grads = loss_and_grads(cfg, p, inputs, targets, **options)
        back = read_safetensors(out)
        file_logits = np.fromfile(logits_path, dtype="<f4").reshape(B, T1 - 1, cfg.V)
        tokens_used = int(np.sum(targets >= 0))
        ok = len(lines) == 1 and set(result) == {"loss", "logits_checksum", "tokens"}
        ok &= result["tokens"] == tokens_used
        ok &= abs(result["loss"] - loss) <= 1e-12 * abs(loss)
        ok &= abs(result["logits_checksum"] - float(np.sum(logits))) <= 1e-9 * (1 + np.abs(logits).sum())
        ok &= set(back) == set(param_shapes(cfg)) and _header_ok(out, list(param_shapes(cfg)))
        ok &= all(back[k].dtype == np.float32 and np.array_equal(back[k], grads[k].astype(np.float32)) for k in grads)
        ok &= np.array_equal(file_logits, logits.astype(np.float32))
        report(bool(ok), f"[{label}] CLI round trip: loss {result['loss']:.6f}, tokens {result['tokens']}, "
                         f"{len(back)} gradient tensors, logits [{B},{T1 - 1},{cfg.V}]")

        # --steps: N SGD steps in the subprocess match N steps in process.
        lr, steps = (0.01 if fine_tune else 0.1), 3  # the summed loss has ~tokens times the gradient
        params_out = os.path.join(tmp, "params.safetensors")
        res = subprocess.run(cmd + ["--lr", str(lr), "--steps", str(steps), "--params-out", params_out],
                             capture_output=True, text=True)
        if res.returncode != 0:
            report(False, f"[{label}] CLI --steps failed: {res.stderr.strip()}")
            return
        result = json.loads(res.stdout)
        q = {k: v.copy() for k, v in p.items()}
        losses = []
        for _ in range(steps + 1):
            loss, _, grads = loss_and_grads(cfg, q, inputs, targets, **options)
            losses.append(loss)
            if len(losses) <= steps:
                q = {k: q[k] - lr * grads[k] for k in q}
        back_p = read_safetensors(params_out)
        back_g = read_safetensors(out)
        ok = np.allclose(result["losses"], losses, rtol=1e-12, atol=0) and result["loss"] == result["losses"][-1]
        ok &= all(np.array_equal(back_p[k], q[k].astype(np.float32)) for k in q)
        ok &= all(np.array_equal(back_g[k], grads[k].astype(np.float32)) for k in grads)
        ok &= losses[-1] < losses[0]
        report(bool(ok), f"[{label}] CLI --lr {lr} --steps {steps}: losses "
                         + " ".join(f"{x:.6f}" for x in result["losses"]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="dir with config.json and model.safetensors")
    ap.add_argument("--batch", help="raw little-endian int32 tokens [B, T1]")
    ap.add_argument("--batch-shape", help="B,T1 of the batch file (T = T1 - 1)")
    ap.add_argument("--out", help="gradients safetensors (F32, parameter names)")
    ap.add_argument("--logits", help="raw little-endian float32 logits [B, T, V]")
    ap.add_argument("--lr", type=float, help="SGD learning rate for --steps")
    ap.add_argument("--steps", type=int, default=0, help="SGD steps taken before reporting (default 0)")
    ap.add_argument("--params-out", help="write the (updated) parameters as F32 safetensors")
    ap.add_argument("--targets", help="raw little-endian int32 targets [B, T1-1] replacing tokens[:, 1:]; < 0 = masked")
    ap.add_argument("--segments", help="raw little-endian int32 [B, T1-1]: start of each position's packed example")
    ap.add_argument("--loss-sum", action="store_true", help="loss = sum (not mean) of the unmasked cross-entropies")
    ap.add_argument("--self-test", action="store_true", help="finite-difference and round-trip self-test")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not (args.model and args.batch and args.batch_shape):
        ap.error("--model, --batch and --batch-shape are required (or --self-test)")
    run_cli(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
