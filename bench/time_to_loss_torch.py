"""PyTorch reference of the time-to-loss benchmark (bench/time-to-loss.sh): trains on pipe's own
token shards and records the validation loss against wall time, the way pipe's `train` stage does.

Two models:
  --model gpt    nanoGPT's GPT-2 style model, for its CPU "baby" recipe on tinyshakespeare:
                 learned token and position embeddings; L blocks of
                   x += c_proj(causal SDPA(q, k, v))   on LayerNorm(x)
                   x += c_proj(GELU(c_fc(h)))          on h = LayerNorm(x), c_fc 4*dim wide
                 final LayerNorm; LM head tied to the token embedding; no biases (nanoGPT's
                 train.py sets bias=False); dropout 0. Init as nanoGPT: normal(0, 0.02) for every
                 Linear and Embedding, normal(0, 0.02/sqrt(2L)) for the residual projections.
  --model llama  the LLaMA-style decoder of bench/train_torch.py (RMSNorm, RoPE, SwiGLU, tied
                 embeddings), the same shapes as pipe's Transformer, for the quickstart corpus;
                 --residual-init scaled (default) gives o_proj and down normal(0, 0.02/sqrt(2L)) as
                 pipe's initialization does, uniform keeps train_torch.py's 0.02 everywhere.

Optimizer: AdamW as nanoGPT configures it: weight decay on every tensor of 2 or more dimensions
(matrices and embeddings), none on norm weights; betas (0.9, --beta2); eps 1e-8; global
gradient-norm clip --clip. Schedule, nanoGPT's get_lr, which is also pipe's LearningRateSchedule:
  step < warmup:  lr * (step + 1) / (warmup + 1)
  after:          min_lr + 0.5 * (1 + cos(pi * progress)) * (lr - min_lr),
                  progress = (step - warmup) / (steps - warmup)
  (0-based steps; nanoGPT runs iterations 0..max_iters inclusive, this runs --steps steps, as pipe).

Data: --tokens is a folder holding a `tokens` artifact of pipe's bpe-tokenize stage (meta.json and
the uint16/uint32 shards of each split), published by the benchmark's pipeline, so that both
sides train on the same token streams. Training batches are random windows of context + 1 tokens
of the train split (torch.randint from --seed; pipe draws its own with SplitMix64, so the batches
differ, their distribution does not). Validation reproduces pipe's Trainer exactly
(Sources/Training/Trainer.swift and TrainingData.swift, TokenWindows):
  rows  = min(eval_tokens // context, (len(val) - 1) // context), then rounded down to a
          multiple of min(batch, rows);
  row r = inputs val[r*context : (r+1)*context], targets shifted by one;
  loss  = the mean cross-entropy over every target of every row, the same rows every time.
Evaluation happens after every --eval-every steps and after the last one.

Timing: `seconds` is the wall time since the first training step began, evaluations included
(pipe's curve.json `seconds`). A curve point is written every --log-every steps, as pipe's are:
train_loss is the mean of the steps since the previous point, tokens_per_second that window's
tokens over its wall time excluding any evaluation.

Parameters are counted as pipe counts them: every tensor once (the tied head is the embedding);
the GPT's position embedding is included.

Output: one JSON object (--out FILE, else stdout) with the curve, the final validation loss,
the parameter count, tokens/s (the median window rate, as pipe's train.tokens_per_second) and
this process's peak RSS.

usage: .venv-bench/bin/python bench/time_to_loss_torch.py --tokens DIR [--model gpt|llama]
    [--layers 4] [--heads 4] [--dim 128] [--context 64] [--batch 12] [--steps 2000] [--lr 1e-3]
    [--min-lr 1e-4] [--warmup 100] [--beta2 0.99] [--weight-decay 0.1] [--clip 1.0]
    [--eval-every 250] [--eval-tokens 102400] [--log-every 50] [--threads 2] [--seed 0] [--out FILE]
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
import warnings

# The CPU wheel is installed without NumPy, which this script does not need.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------------------------
# nanoGPT-style GPT (written for this benchmark after nanoGPT's model.py recipe)

class LayerNorm(nn.Module):
    """LayerNorm with a weight and no bias (nanoGPT's bias=False)."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)


class GPTBlock(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.heads = a.heads
        self.ln_1 = LayerNorm(a.dim)
        self.c_attn = nn.Linear(a.dim, 3 * a.dim, bias=False)   # q, k, v in one matrix
        self.attn_proj = nn.Linear(a.dim, a.dim, bias=False)
        self.ln_2 = LayerNorm(a.dim)
        self.c_fc = nn.Linear(a.dim, 4 * a.dim, bias=False)
        self.mlp_proj = nn.Linear(4 * a.dim, a.dim, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.wte = nn.Embedding(a.vocab, a.dim)
        self.wpe = nn.Embedding(a.context, a.dim)
        self.blocks = nn.ModuleList(GPTBlock(a) for _ in range(a.layers))
        self.ln_f = LayerNorm(a.dim)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
        # GPT-2's scaled init of the projections that add into the residual stream.
        for block in self.blocks:
            for proj in (block.attn_proj, block.mlp_proj):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * a.layers))

    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied LM head


def make_model(a):
    if a.model == "gpt":
        return GPT(a)
    # The LLaMA-style model of bench/train_torch.py, built from that script's own classes.
    import train_torch
    a.kv_heads = a.kv_heads or a.heads
    a.ffn_dim = a.ffn_dim or train_torch.default_ffn_dim(a.dim)
    a.rope_theta, a.norm_eps = 10000.0, 1e-5
    llama = train_torch.Llama(a)  # normal(0, 0.02) everywhere
    if a.residual_init == "scaled":
        # pipe's TransformerModel.initialize (and GPT-2's): 0.02 / sqrt(2L) for the projections
        # that add into the residual stream.
        for layer in llama.layers:
            for proj in (layer.o_proj, layer.down):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * a.layers))
    return LlamaLogits(llama)


class LlamaLogits(nn.Module):
    """bench/train_torch.py's Llama returns the loss; this returns the logits, as GPT does."""

    def __init__(self, llama):
        super().__init__()
        self.llama = llama

    def forward(self, idx):
        m, T = self.llama, idx.shape[1]
        x = m.embed(idx)
        for layer in m.layers:
            x = layer(x, m.cos[:T], m.sin[:T])
        return F.linear(m.norm(x), m.embed.weight)


# ---------------------------------------------------------------------------------------------
# pipe's token shards

def read_split(folder, meta, name):
    """All ids of one split of a tokens artifact, as one int64 tensor."""
    dtype = {"uint16": torch.uint16, "uint32": torch.uint32}[meta["dtype"]]
    width = 2 if meta["dtype"] == "uint16" else 4
    parts = []
    for file in meta["splits"][name]["files"]:
        path = os.path.join(folder, file)
        n = os.path.getsize(path) // width
        parts.append(torch.from_file(path, shared=False, size=n, dtype=dtype).to(torch.int64))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)


def lr_at(a, step):
    """nanoGPT's get_lr, identical to pipe's LearningRateSchedule (cosine decay)."""
    if step < a.warmup:
        return a.lr * (step + 1) / (a.warmup + 1)
    if a.steps <= a.warmup:
        return a.lr
    progress = min(1.0, (step - a.warmup) / (a.steps - a.warmup))
    return a.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (a.lr - a.min_lr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", required=True, help="folder of a published tokens artifact (meta.json + shards)")
    p.add_argument("--model", choices=["gpt", "llama"], default="gpt")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=None, help="llama only; default --heads")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--ffn-dim", type=int, default=None, help="llama only; default as pipe's")
    p.add_argument("--residual-init", choices=["scaled", "uniform"], default="scaled",
                   help="llama only: scaled = 0.02/sqrt(2L) for o_proj and down as pipe and GPT-2; "
                        "uniform = 0.02 everywhere as bench/train_torch.py")
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.99)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-tokens", type=int, default=102400)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", default="torch")
    p.add_argument("--out", default=None)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(os.path.join(a.tokens, "meta.json")) as f:
        meta = json.load(f)
    a.vocab = meta["vocab_size"]
    train, val = read_split(a.tokens, meta, "train"), read_split(a.tokens, meta, "val")
    if len(train) < a.context + 2:
        raise SystemExit(f"the train split has {len(train)} tokens, fewer than context + 2")

    # pipe's validation rows (TokenWindows.validationRows, Trainer.validation).
    available = min(a.eval_tokens // a.context, max(0, (len(val) - 1) // a.context))
    if available == 0:
        raise SystemExit("the val split is shorter than one row")
    eval_batch = min(a.batch, available)
    eval_rows = available // eval_batch * eval_batch
    starts = torch.arange(eval_rows) * a.context
    offsets = torch.arange(a.context)
    val_x = val[starts[:, None] + offsets]          # [rows, T]
    val_y = val[starts[:, None] + offsets + 1]

    model = make_model(a)
    params = sum(t.numel() for t in model.parameters())  # tied head counted once
    decay = [t for t in model.parameters() if t.dim() >= 2]
    no_decay = [t for t in model.parameters() if t.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(a.beta1, a.beta2), eps=1e-8)
    gen = torch.Generator().manual_seed(a.seed)

    @torch.no_grad()
    def validation_loss():
        model.eval()
        total = 0.0
        for first in range(0, eval_rows, eval_batch):
            logits = model(val_x[first:first + eval_batch])
            total += F.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                     val_y[first:first + eval_batch].reshape(-1), reduction="sum").item()
        model.train()
        return total / (eval_rows * a.context)

    curve, rates = [], []
    window_loss, window_steps, window_seconds = 0.0, 0, 0.0
    began = time.perf_counter()
    for step in range(a.steps):
        t = time.perf_counter()
        lr = lr_at(a, step)
        for group in opt.param_groups:
            group["lr"] = lr
        s = torch.randint(0, len(train) - a.context - 1, (a.batch,), generator=gen)
        idx = s[:, None] + offsets
        x, y = train[idx], train[idx + 1]
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip).item()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss = loss.item()
        if not math.isfinite(loss):
            raise SystemExit(f"training diverged at step {step + 1}: loss {loss}")
        window_loss += loss
        window_steps += 1
        window_seconds += time.perf_counter() - t

        done = step + 1
        evaluate = done % a.eval_every == 0 or done == a.steps
        if done % a.log_every == 0 or evaluate:
            rate = window_steps * a.batch * a.context / window_seconds
            if len(curve) > 0:  # pipe also leaves its first window (warm-up) out of the median
                rates.append(rate)
            point = {"step": done, "trainLoss": window_loss / window_steps, "learningRate": lr,
                     "gradientNorm": norm, "tokensPerSecond": rate}
            if evaluate:
                point["valLoss"] = validation_loss()
                print(f"{a.label}: step {done}: train {point['trainLoss']:.4f} val {point['valLoss']:.4f} "
                      f"{time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
            point["seconds"] = time.perf_counter() - began
            curve.append(point)
            window_loss, window_steps, window_seconds = 0.0, 0, 0.0

    result = {
        "tool": "pytorch", "label": a.label, "model": a.model, "torch": torch.__version__,
        "threads": a.threads, "params": params, "vocab": a.vocab,
        "config": {k: getattr(a, k) for k in ("layers", "heads", "dim", "context", "batch", "steps", "lr",
                                              "min_lr", "warmup", "beta1", "beta2", "weight_decay", "clip",
                                              "eval_every", "eval_tokens", "log_every", "seed")},
        "eval_rows": eval_rows, "train_tokens": len(train), "val_tokens": len(val),
        "val_loss": curve[-1]["valLoss"], "seconds": curve[-1]["seconds"],
        "tokens_per_second": statistics.median(rates) if rates else curve[-1]["tokensPerSecond"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "curve": curve,
    }
    if a.model == "llama":
        result["config"].update(kv_heads=a.kv_heads, ffn_dim=a.ffn_dim, residual_init=a.residual_init)
    text = json.dumps(result, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
