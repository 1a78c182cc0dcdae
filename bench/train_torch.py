"""PyTorch side of the CPU training benchmark: the same LLaMA-style decoder as pipe's Transformer.

What it measures: training throughput on the CPU of one model shape, in fp32 eager PyTorch by
default. Each step is a full optimizer step: sample a batch, forward, cross-entropy, backward,
grad-norm clip (1.0), AdamW. The first --warmup-steps steps are run but not timed (they absorb
allocator warm-up and, with --mode compile, the compilation). Prints ONE JSON line:

  {"tool":"pytorch","mode":..,"threads":..,"tokens_per_second":..,"step_ms_median":..,
   "params":..,"loss_first":..,"loss_last":..,"peak_rss_mb":.., ...extra fields}

tokens_per_second = batch * context * timed steps / their total wall time; loss_first is the
loss of the very first (warm-up) step, loss_last that of the last step; peak_rss_mb is
ru_maxrss / 1024 of this process (compile workers not included).

Model (names and shapes as Hugging Face's LlamaForCausalLM, as in Sources/Transformer):
  token embedding [V, C]; L blocks of
    x += o_proj(causal SDPA(RoPE(q), RoPE(k), v))   on RMSNorm(x)   (optional grouped KV heads)
    x += down(silu(gate(h)) * up(h))                on h = RMSNorm(x)
  final RMSNorm; LM head tied to the embedding; no biases anywhere.
  q/k/v are one [C + 2*kvC, C] matrix and gate/up one [2F, C] matrix (one GEMM each), as in
  pipe's ParameterLayout. RoPE is Hugging Face's (rotate_half, inv_freq = theta^(-2i/hd)).
  Init: normal(0, 0.02) for every matrix, ones for norm weights.
Optimizer: AdamW(lr, betas (0.9, 0.95), weight decay 0.1 on matrices and the embedding, none on
  norm weights), constant lr, fused CPU kernel by default (--adamw foreach|fused|forloop).
Modes: eager (fp32); compile (torch.compile of the model, fp32; optimizer stays eager);
  bf16 (fp32 master weights, forward/backward under torch.autocast("cpu", torch.bfloat16)).
Data: --data FILE is raw little-endian uint16 token ids; batches are random windows of it.
  Without it, tokens are uniform random in [0, V) from a fixed seed (loss stays near ln V).

setup (CPU-only torch; plain PyPI `torch` pulls the CUDA wheels, the local /opt/wheels one does not):
  python3 -m venv .venv-bench && .venv-bench/bin/pip install 'torch==2.13.0+cpu'
usage (from the repository root):
  .venv-bench/bin/python bench/train_torch.py [--layers 4] [--heads 4] [--kv-heads 4]
      [--dim 256] [--ffn-dim F] [--context 256] [--vocab 8192] [--batch 16] [--steps 20]
      [--warmup-steps 3] [--threads 2] [--mode eager|compile|bf16] [--data FILE] [--lr 3e-4]
      [--rope-theta 10000] [--norm-eps 1e-5] [--seed 0] [--adamw fused|foreach|forloop]
"""
import argparse
import json
import math
import os
import resource
import statistics
import time
import warnings

# The CPU wheel is installed without NumPy, which this script does not need.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def default_ffn_dim(dim):
    """The multiple of 32 nearest 8*dim/3 (pipe's ModelConfig.defaultFFNDim)."""
    return max(32, round(8 * dim / 3 / 32) * 32)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = a.heads, a.kv_heads, a.dim // a.heads
        kv_dim = self.kv_heads * self.head_dim
        self.input_norm = RMSNorm(a.dim, a.norm_eps)
        self.qkv = nn.Linear(a.dim, a.dim + 2 * kv_dim, bias=False)
        self.o_proj = nn.Linear(a.dim, a.dim, bias=False)
        self.post_norm = RMSNorm(a.dim, a.norm_eps)
        self.gate_up = nn.Linear(a.dim, 2 * a.ffn_dim, bias=False)
        self.down = nn.Linear(a.ffn_dim, a.dim, bias=False)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        hd = self.head_dim
        q, k, v = self.qkv(self.input_norm(x)).split(
            [self.heads * hd, self.kv_heads * hd, self.kv_heads * hd], dim=-1)
        q = q.view(B, T, self.heads, hd).transpose(1, 2)      # [B, H, T, hd]
        k = k.view(B, T, self.kv_heads, hd).transpose(1, 2)   # [B, KV, T, hd]
        v = v.view(B, T, self.kv_heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.kv_heads != self.heads:  # Hugging Face's repeat_kv
            rep = self.heads // self.kv_heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o_proj(y.transpose(1, 2).reshape(B, T, C))
        gate, up = self.gate_up(self.post_norm(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed = nn.Embedding(a.vocab, a.dim)
        self.layers = nn.ModuleList(Block(a) for _ in range(a.layers))
        self.norm = RMSNorm(a.dim, a.norm_eps)
        hd = a.dim // a.heads
        inv_freq = 1.0 / (a.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        freqs = torch.outer(torch.arange(a.context, dtype=torch.float64), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)                 # [T, hd]
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.embed(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for layer in self.layers:
            x = layer(x, cos, sin)
        logits = F.linear(self.norm(x), self.embed.weight)  # tied LM head
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))


def batches(a):
    """Yields (inputs, targets) int64 [B, T] forever, deterministically from a.seed."""
    g = torch.Generator().manual_seed(a.seed)
    if a.data is None:
        while True:
            tok = torch.randint(0, a.vocab, (a.batch, a.context + 1), generator=g)
            yield tok[:, :-1], tok[:, 1:]
    n = os.path.getsize(a.data) // 2
    if n < a.context + 2:
        raise SystemExit(f"{a.data}: {n} tokens, fewer than context + 2")
    data = torch.from_file(a.data, shared=False, size=n, dtype=torch.uint16)
    while True:
        starts = torch.randint(0, n - a.context - 1, (a.batch,), generator=g).tolist()
        tok = torch.stack([data[s:s + a.context + 1].to(torch.int64) for s in starts])
        if int(tok.max()) >= a.vocab:
            raise SystemExit(f"{a.data}: token id {int(tok.max())} >= --vocab {a.vocab}")
        yield tok[:, :-1], tok[:, 1:]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=None, help="default: --heads")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--ffn-dim", type=int, default=None, help="default: multiple of 32 nearest 8*dim/3")
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20, help="timed steps, after the warm-up ones")
    p.add_argument("--warmup-steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mode", choices=["eager", "compile", "bf16"], default="eager")
    p.add_argument("--data", default=None, help="raw uint16 token file; default: random tokens")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.95)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--norm-eps", type=float, default=1e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--adamw", choices=["fused", "foreach", "forloop"], default="fused")
    a = p.parse_args()
    a.kv_heads = a.kv_heads or a.heads
    a.ffn_dim = a.ffn_dim or default_ffn_dim(a.dim)
    if a.dim % a.heads or (a.dim // a.heads) % 2 or a.heads % a.kv_heads:
        p.error("dim must be a multiple of heads, head size even, heads a multiple of kv-heads")
    if a.steps < 1:
        p.error("--steps must be at least 1")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = Llama(a)
    params = sum(t.numel() for t in model.parameters())  # tied head counted once

    decay = [t for t in model.parameters() if t.dim() >= 2]
    no_decay = [t for t in model.parameters() if t.dim() < 2]
    impl = {"fused": {"fused": True}, "foreach": {"foreach": True},
            "forloop": {"foreach": False}}[a.adamw]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(a.beta1, a.beta2), **impl)

    fwd = torch.compile(model) if a.mode == "compile" else model
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=(a.mode == "bf16"))
    data = batches(a)

    def step():
        x, y = next(data)
        with autocast:
            loss = fwd(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    t0 = time.perf_counter()
    losses = [step() for _ in range(a.warmup_steps)]
    warmup_s = time.perf_counter() - t0
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t)

    if not all(math.isfinite(v) for v in losses):
        raise SystemExit(f"non-finite loss: {losses}")
    print(json.dumps({
        "tool": "pytorch",
        "mode": a.mode,
        "threads": a.threads,
        "tokens_per_second": round(a.batch * a.context * a.steps / sum(times), 1),
        "step_ms_median": round(statistics.median(times) * 1000, 2),
        "params": params,
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "warmup_s": round(warmup_s, 2),
        "torch": torch.__version__,
        "adamw": a.adamw,
        "config": {"layers": a.layers, "heads": a.heads, "kv_heads": a.kv_heads, "dim": a.dim,
                   "ffn_dim": a.ffn_dim, "context": a.context, "vocab": a.vocab,
                   "batch": a.batch, "steps": a.steps, "warmup_steps": a.warmup_steps,
                   "data": a.data},
    }))


if __name__ == "__main__":
    main()
