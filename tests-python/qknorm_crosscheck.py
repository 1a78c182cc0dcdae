"""Cross-checks of llama_reference.py and export_conformance.py against third-party implementations,
for both architectures they know (llama, and qwen3 = llama + QK-norm), without pipe.

usage:
  qknorm_crosscheck.py [--keep DIR]

Needs numpy, tokenizers, gguf (gguf-py) and, for the transformers checks, transformers (with
Qwen3ForCausalLM, >= 4.51) and torch; those checks are skipped (and say so) when transformers or
torch is missing. llama.cpp (check d) is not exercised here.

For each of four tiny random models (llama tied H=2/KVH=1; llama untied H=4/KVH=2; qwen3 the same
two) it writes a Hugging Face folder (config.json as pipe's export writes it, model.safetensors, a
byte-level BPE tokenizer.json trained here, tokenizer_config.json, generation_config.json) and:
  transformers  LlamaForCausalLM / Qwen3ForCausalLM, eager attention:
                float32 logits vs llama_reference's float64 logits (max|diff|/max|ref| < 1e-5);
                float64 (the same float32 weights) logits and autograd gradients of the mean
                cross-entropy vs the hand-written backward (< 1e-6: transformers builds its RoPE
                tables in float32 even in a float64 model)
  gguf          a GGUF written with gguf-py the way convert_hf_to_gguf.py lays it out (llama:
                llama.* keys, q/k rows permuted; qwen3: qwen3.* keys, rows as in HF, attn_q_norm /
                attn_k_norm) passes export_conformance's hf and GGUF checks, and check e
                (transformers) with the reference logits standing in for pipe's;
                wrong files fail with the right message: a qwen3 model's GGUF with llama-permuted
                q/k rows, or with llama as its architecture and llama.* keys; a llama GGUF with
                unpermuted rows; a llama folder holding q_norm / k_norm tensors.
  conformance   export_conformance.py's default mode end to end on the folder and the good GGUF,
                with a fake pipe (tokenizers + llama_reference): checks hf, a, b, c, c.pipe all pass.
Prints one line per check and `N passed, M failed`; exit code 1 on any failure.
"""
import argparse
import contextlib
import io
import json
import math
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_conformance as ec  # noqa: E402
import llama_reference as ref  # noqa: E402

TEXT = ("the quick brown fox jumps over the lazy dog. a model that reads its own weights back "
        "should say the same things twice; numbers 0123456789 and symbols (+-*/) too.\n") * 4
PROMPTS = ["the quick brown fox", "numbers 12 and (+)", "a model"]
EOS = "<|endoftext|>"


def make_tokenizer(folder, vocab_size):
    """A byte-level BPE trained on TEXT: 256 bytes + EOS + merges, exactly vocab_size tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([TEXT], trainer)
    tok.save(os.path.join(folder, "tokenizer.json"))
    eos = tok.token_to_id(EOS)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": EOS, "eos_token": EOS,
                   "model_input_names": ["input_ids", "attention_mask"]}, f)
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": eos, "eos_token_id": eos}, f)
    return tok.get_vocab_size(), eos


def make_model(folder, label, d, rng):
    os.makedirs(folder)
    V, eos = make_tokenizer(folder, d["vocab_size"])
    d = dict(d, vocab_size=V, bos_token_id=eos, eos_token_id=eos, torch_dtype="float32")
    cfg = ref.Config(d)
    p = ref.random_model(cfg, rng)
    config = cfg.to_json()
    config.update(head_dim=cfg.hd, attention_bias=False, bos_token_id=eos, eos_token_id=eos, torch_dtype="float32")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    ref.write_safetensors(os.path.join(folder, "model.safetensors"), p)
    return cfg, p


def write_gguf(path, folder, cfg, p, arch=None, permute=None):
    """convert_hf_to_gguf.py's layout: arch (default: qwen3 for QK-norm, else llama) names the key
    prefix; permute (default: arch == llama) permutes the q/k rows like LlamaModel.permute."""
    import gguf

    arch = arch or ec.gguf_arch(cfg)
    permute = (arch == "llama") if permute is None else permute
    hf = ec.HFDir(folder)
    w = gguf.GGUFWriter(path, arch)
    w.add_name("crosscheck")
    w.add_context_length(cfg.max_pos)
    w.add_embedding_length(cfg.C)
    w.add_block_count(cfg.L)
    w.add_feed_forward_length(cfg.F)
    w.add_head_count(cfg.H)
    w.add_head_count_kv(cfg.KVH)
    w.add_layer_norm_rms_eps(cfg.eps)
    w.add_rope_freq_base(cfg.theta)
    w.add_rope_dimension_count(cfg.hd)
    w.add_vocab_size(cfg.V)
    w.add_key_length(cfg.hd)
    w.add_value_length(cfg.hd)
    w.add_file_type(0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list([hf.id_to_token[i] for i in range(hf.n_tokens)])
    w.add_token_types(hf.expected_token_types())
    w.add_token_merges(hf.merges)
    w.add_bos_token_id(hf.special_id("bos")[0])
    w.add_eos_token_id(hf.special_id("eos")[0])
    for name in ref.param_shapes(cfg):
        t = p[name].astype(np.float32)
        if permute and name.endswith("q_proj.weight"):
            t = ec.llama_permute(t, cfg.H, cfg.H)
        elif permute and name.endswith("k_proj.weight"):
            t = ec.llama_permute(t, cfg.H, cfg.KVH)
        w.add_tensor(ec.gguf_name(name), np.ascontiguousarray(t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def run_checks(fn, *args):
    """Runs an export_conformance check function quietly; returns its Report."""
    rep = ec.Report(quiet=True)
    with contextlib.redirect_stdout(io.StringIO()):
        fn(rep, *args)
    return rep


def transformers_checks(report, folder, cfg, p, rng):
    try:
        import torch
        import transformers
    except ImportError as e:
        report(True, f"transformers checks skipped: {e}")
        return
    cls = getattr(transformers, ec.hf_class(cfg))
    try:
        model = cls.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = cls.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    B, T = 2, 9
    tokens = rng.integers(0, cfg.V, size=(B, T + 1))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    loss, want, _ = ref.forward(cfg, {k: v.copy() for k, v in p.items()}, inputs, targets)
    with torch.no_grad():
        got = model(torch.tensor(inputs)).logits.double().numpy()
    fig = ec.rel_max(got, want)
    report(fig < 1e-5, f"{type(model).__name__} float32 eager logits vs reference: max|diff|/max|ref| = {fig:.2e}")

    model = model.double()
    model.zero_grad()
    logits = model(torch.tensor(inputs)).logits
    t_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.V), torch.tensor(targets).reshape(-1))
    t_loss.backward()
    _, _, grads = ref.loss_and_grads(cfg, {k: v.copy() for k, v in p.items()}, inputs, targets)
    fig = ec.rel_max(logits.detach().numpy(), want)
    theirs = {n: q.grad.numpy() for n, q in model.named_parameters()}
    worst, worst_name = 0.0, None
    if set(theirs) != set(grads):
        report(False, f"parameter names differ: {sorted(set(theirs) ^ set(grads))[:4]}")
        return
    for n in grads:
        e = float(np.linalg.norm(theirs[n] - grads[n]) / max(np.linalg.norm(grads[n]), 1e-300))
        if e > worst:
            worst, worst_name = e, n
    ok = fig < 1e-6 and worst < 1e-6 and abs(t_loss.item() - loss) < 1e-6 * abs(loss)
    report(ok, f"float64 {type(model).__name__}: logits {fig:.1e}, loss {t_loss.item():.9f} vs {loss:.9f}, "
               f"autograd vs hand-written gradients, {len(grads)} tensors: worst rel err {worst:.1e} ({worst_name})")


def gguf_checks(report, tmp, folder, cfg, p, label):
    hf = ec.HFDir(folder)
    rep = run_checks(ec.check_hf_dir, hf, cfg)
    bad = [c for c in rep.checks if not c["ok"]]
    report(not bad, f"export_conformance hf checks: {len(rep.checks) - len(bad)} of {len(rep.checks)} pass"
           + "".join(f"; FAIL {c['name']}: {c['text']}" for c in bad))

    good = os.path.join(tmp, f"{label}.gguf")
    write_gguf(good, folder, cfg, p)
    rep = ec.Report(quiet=True)
    with contextlib.redirect_stdout(io.StringIO()):
        kind = ec.check_gguf(rep, good, hf, cfg, p)
    bad = [c for c in rep.checks if not c["ok"]]
    report(not bad and kind == "F32", f"{ec.gguf_arch(cfg)} GGUF (gguf-py) passes check c: "
           + "; ".join(f"{c['name']} {'ok' if c['ok'] else 'FAIL'}: {c['text'][:90]}" for c in rep.checks))

    def expect_failure(what, path, check, words):
        rep = ec.Report(quiet=True)
        with contextlib.redirect_stdout(io.StringIO()):
            ec.check_gguf(rep, path, hf, cfg, p)
        failed = {c["name"]: c["text"] for c in rep.checks if not c["ok"]}
        ok = check in failed and all(w in failed[check] for w in words)
        report(ok, f"{what}: check c FAILs {sorted(failed)}; {check}: {failed.get(check, '(passed)')[:200]}")

    if cfg.qk_norm:
        path = os.path.join(tmp, f"{label}-permuted.gguf")
        write_gguf(path, folder, cfg, p, permute=True)
        expect_failure("qwen3 GGUF with llama-permuted q/k rows", path, "tensors", ["attn_q", "no permute"])
        path = os.path.join(tmp, f"{label}-as-llama.gguf")
        write_gguf(path, folder, cfg, p, arch="llama", permute=False)
        expect_failure("qwen3 model written as arch llama (llama.* keys)", path, "hyperparameters",
                       ["general.architecture = 'llama'", "qwen3"])
    else:
        path = os.path.join(tmp, f"{label}-unpermuted.gguf")
        write_gguf(path, folder, cfg, p, permute=False)
        expect_failure("llama GGUF with unpermuted q/k rows", path, "tensors", ["UNpermuted"])


def e_check(report, folder, cfg, p):
    """export_conformance check e with the reference's logits standing in for pipe's."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        report(True, f"check e skipped: {e}")
        return
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    ids = [tok.encode(q, add_special_tokens=False).ids for q in PROMPTS]
    logits = [ref.forward(cfg, p, np.array([i]), np.array([i]))[1][0] for i in ids]
    rep = run_checks(ec.check_transformers, ec.HFDir(folder), cfg, PROMPTS, ids, logits)
    bad = [c for c in rep.checks if not c["ok"]]
    figs = [c["figure"] for c in rep.checks if "figure" in c]
    report(not bad and len(figs) == len(PROMPTS),
           f"export_conformance check e: {rep.checks[0]['text'][:70]}…; logits worst {max(figs, default=math.nan):.2e}"
           + "".join(f"; FAIL {c['name']}: {c['text']}" for c in bad))


FAKE_PIPE = """#!{python}
# Stands in for pipe's CLI: encode with tokenizers, logits from llama_reference (a GGUF is read as
# the HF folder given with -t). Only what export_conformance's default mode calls.
import sys
sys.path.insert(0, {here!r})
import numpy as np
import llama_reference as ref
from tokenizers import Tokenizer
args = sys.argv[1:]
folder = args[args.index("-t") + 1]
tok = Tokenizer.from_file(folder + "/tokenizer.json")
if args[0] == "encode":
    print(" ".join(map(str, tok.encode(args[-1], add_special_tokens=False).ids)))
elif args[0] == "generate" and "--dump-logits" in args:
    prompt = next(a for a in args if a.startswith("--prompt="))[len("--prompt="):]
    ids = np.array([tok.encode(prompt, add_special_tokens=False).ids])
    cfg, p = ref.load_model(folder)
    ref.forward(cfg, p, ids, ids)[1][0].astype("<f4").tofile(args[args.index("--dump-logits") + 1])
else:
    sys.exit("fake pipe: unsupported " + " ".join(args))
"""


def conformance_main(report, tmp, folder, label):
    """export_conformance.py's default mode end to end (its main, in a child process) with a fake
    pipe: checks hf, a, b, c and c.pipe wired for this architecture."""
    import subprocess

    pipe = os.path.join(tmp, "fake-pipe")
    if not os.path.exists(pipe):
        with open(pipe, "w") as f:
            f.write(FAKE_PIPE.format(python=sys.executable, here=os.path.dirname(os.path.abspath(__file__))))
        os.chmod(pipe, 0o755)
    prompts = os.path.join(tmp, "prompts.txt")
    with open(prompts, "w") as f:
        f.write("\n".join(PROMPTS) + "\n")
    out = os.path.join(tmp, f"{label}.json")
    res = subprocess.run([sys.executable, ec.__file__, "--hf", folder, "--gguf", os.path.join(tmp, f"{label}.gguf"),
                          "--prompts", prompts, "--pipe", pipe, "--json", out], capture_output=True, text=True)
    result = json.load(open(out)) if os.path.exists(out) else {"passed": 0, "failed": "?", "checks": []}
    groups = sorted({c["group"].split(" ")[0] for c in result["checks"]})
    report(res.returncode == 0 and result["failed"] == 0,
           f"export_conformance.py (fake pipe) exit {res.returncode}: {result['passed']} passed, "
           f"{result['failed']} failed, groups {groups}"
           + "".join(f"; FAIL {c['group']} {c['name']}: {c['text'][:120]}" for c in result["checks"] if not c["ok"]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", help="write the models and GGUFs here (a new folder) instead of a temporary one")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass
    failures, total = 0, 0

    def report(ok, text):
        nonlocal failures, total
        total += 1
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} [{current}] {text}", flush=True)

    base = dict(vocab_size=300, hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, rms_norm_eps=1e-5, rope_theta=100.0, max_position_embeddings=32,
                hidden_act="silu")
    models = [
        ("llama-tied", dict(base, tie_word_embeddings=True)),
        ("llama-gqa", dict(base, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)),
        ("qwen3-tied", dict(base, tie_word_embeddings=True, model_type="qwen3", head_dim=8)),
        ("qwen3-gqa", dict(base, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
                           model_type="qwen3", head_dim=8)),
    ]
    rng = np.random.default_rng(2024)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        if args.keep:
            os.makedirs(tmp)
        for label, d in models:
            current = label
            folder = os.path.join(tmp, label)
            cfg, p = make_model(folder, label, d, rng)
            transformers_checks(report, folder, cfg, p, rng)
            gguf_checks(report, tmp, folder, cfg, p, label)
            conformance_main(report, tmp, folder, label)
            e_check(report, folder, cfg, p)

        current = "llama folder + q_norm"
        folder = os.path.join(tmp, "llama-with-qk-norm")
        cfg, p = make_model(folder, "x", dict(base, tie_word_embeddings=True, model_type="qwen3", head_dim=8), rng)
        config = json.load(open(os.path.join(folder, "config.json")))
        config.update(model_type="llama", architectures=["LlamaForCausalLM"])
        json.dump(config, open(os.path.join(folder, "config.json"), "w"))
        try:
            ref.load_model(folder)
            report(False, "llama_reference loads a llama folder holding q_norm / k_norm tensors")
        except ValueError as e:
            report("qwen3" in str(e), f"refused: {e}")
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
