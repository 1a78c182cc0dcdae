"""Writes the fuzz targets' seed corpus into fuzz/seeds/<target>/ (small, valid files).

The model and tokenizer seeds come from the reference libraries (gguf, safetensors, tokenizers,
numpy), so the fuzzer starts from files the rest of the ecosystem writes. Run with the test venv:
    .venv/bin/python fuzz/make-seeds.py
"""
import glob
import json
import os
import shutil

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEEDS = os.path.join(HERE, "seeds")


def folder(target):
    path = os.path.join(SEEDS, target)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def write(target_folder, name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(target_folder, name), mode) as f:
        f.write(data)


def manifests():
    out = folder("manifest")
    for path in sorted(glob.glob(os.path.join(ROOT, "pipelines", "*.yaml"))):
        shutil.copy(path, out)


def jsonl():
    out = folder("jsonl")
    write(out, "documents.jsonl", "\n".join(json.dumps(d, ensure_ascii=a) for d, a in [
        ({"id": "a", "text": "plain text", "source": "docs"}, True),
        ({"id": "b", "text": "tab\tquote\" backslash\\ newline\n \u00e9 \U0001F600", "meta": {"n": [1, 2.5, None]}}, True),
        ({"id": "c", "text": "ünïcödé written raw"}, False),
    ]) + "\n")
    write(out, "surrogates.jsonl", '{"id": "d", "text": "\\ud83d\\ude00 \\ud800 lone"}\n')


def plugin_lines():
    out = folder("plugin-line")
    write(out, "lines.txt", "::progress 0.5 halfway there\n::metric loss 3.25\n::warning disk almost full\n"
          "::progress 1\n::metric a.b.c 1e-3\nplain log line\n")


def gguf_files():
    import gguf
    out = folder("gguf")
    rng = np.random.default_rng(0)
    for kind, name in [(gguf.GGMLQuantizationType.F32, "f32"), (gguf.GGMLQuantizationType.Q8_0, "q8_0"),
                       (gguf.GGMLQuantizationType.Q4_0, "q4_0")]:
        path = os.path.join(out, f"tiny-{name}.gguf")
        w = gguf.GGUFWriter(path, "llama")
        w.add_context_length(16)
        w.add_embedding_length(32)
        w.add_block_count(1)
        w.add_feed_forward_length(64)
        w.add_head_count(2)
        w.add_head_count_kv(2)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_tokenizer_model("gpt2")
        w.add_token_list([f"t{i}" for i in range(8)])
        w.add_token_types([1] * 8)
        w.add_token_merges(["t 0", "t 1"])
        for tensor, shape in [("token_embd.weight", (8, 32)), ("blk.0.attn_q.weight", (32, 32)),
                              ("output_norm.weight", (32,))]:
            data = rng.standard_normal(shape).astype(np.float32)
            if len(shape) == 2 and kind != gguf.GGMLQuantizationType.F32:
                w.add_tensor(tensor, gguf.quants.quantize(data, kind), raw_dtype=kind)
            else:
                w.add_tensor(tensor, data)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


def safetensors_files():
    from safetensors.numpy import save_file
    out = folder("safetensors")
    rng = np.random.default_rng(1)
    save_file({"model.embed_tokens.weight": rng.standard_normal((8, 4)).astype(np.float32),
               "model.norm.weight": np.ones(4, dtype=np.float32)},
              os.path.join(out, "tiny.safetensors"), metadata={"format": "pt"})


def model_configs():
    out = folder("model-config")
    write(out, "config.json", json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256, "hidden_size": 64,
        "intermediate_size": 172, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
        "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True,
        "bos_token_id": 0, "eos_token_id": 0}, indent=2))


def tokenizer_files():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    out = folder("tokenizer")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|user|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = ["The engine reads a manifest, plans the graph and runs what is stale."] * 20
    tok.train_from_iterator(text, trainer)
    tok.save(os.path.join(out, "tokenizer.json"))


def collect_files():
    import gzip
    import subprocess
    lines = "".join(json.dumps({"id": str(i), "text": f"document {i}: caf\u00e9 \u2014 text"}) + "\n" for i in range(5))
    out = folder("collect-jsonl")
    write(out, "docs.jsonl", lines)
    write(out, "custom.jsonl", '{"text": "no id field"}\n{"id": 3, "text": "number id"}\n\n{"id": "x"}\n')
    out = folder("gzip")
    write(out, "docs.jsonl.gz", gzip.compress(lines.encode(), mtime=0))
    write(out, "two-members.jsonl.gz", gzip.compress(lines[:40].encode(), mtime=0) + gzip.compress(lines[40:].encode(), mtime=0))
    out = folder("zstd")
    write(out, "notes.txt.zst", subprocess.run(["zstd", "-q", "-c"], input=("a plain text note\n" * 20).encode(),
                                               capture_output=True, check=True).stdout)
    out = folder("warc")
    html = b"<html><head><title>t</title></head><body><p>Hello from a crawl.</p></body></html>"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s" % (len(html), html)
    text = b"Plain converted text of a page."
    records = [
        (b"warcinfo", b"application/warc-fields", b"software: pipe-fuzz\r\n", None),
        (b"response", b"application/http; msgtype=response", http, b"https://example.org/a"),
        (b"conversion", b"text/plain", text, b"https://example.org/b"),
    ]
    warc = b""
    for kind, ctype, body, uri in records:
        head = b"WARC/1.0\r\nWARC-Type: " + kind + b"\r\n"
        if uri:
            head += b"WARC-Target-URI: " + uri + b"\r\n"
        head += b"Content-Type: " + ctype + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        warc += head + body + b"\r\n\r\n"
    write(out, "crawl.warc", warc)


if __name__ == "__main__":
    manifests()
    jsonl()
    plugin_lines()
    gguf_files()
    safetensors_files()
    model_configs()
    tokenizer_files()
    collect_files()
    for target in sorted(os.listdir(SEEDS)):
        files = os.listdir(os.path.join(SEEDS, target))
        size = sum(os.path.getsize(os.path.join(SEEDS, target, f)) for f in files)
        print(f"{target}: {len(files)} files, {size} bytes")
