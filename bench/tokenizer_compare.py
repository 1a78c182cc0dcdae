"""Hugging Face tokenizers and tiktoken on the same corpus and vocabulary as pipe.

usage: tokenizer_compare.py CORPUS.jsonl PIPE_TOKENIZER_JSON VOCAB THREADS

Trains tokenizers' BpeTrainer (same settings as pipe's bpe-tokenize defaults), then times
encoding of the corpus with tokenizers (encode_batch, THREADS threads) and with tiktoken built
offline from pipe's ranks and the GPT-2 pattern (one thread, and encode_ordinary_batch with
THREADS threads). Prints seconds, MB/s and peak RSS; checks tiktoken's ids equal pipe's.
"""
import json
import os
import resource
import sys
import time

corpus, pipe_tokenizer, vocab, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.environ["RAYON_NUM_THREADS"] = str(threads)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
import tiktoken  # noqa: E402

docs = [json.loads(line)["text"] for line in open(corpus, encoding="utf-8")]
mb = sum(len(d.encode()) for d in docs) / 1e6

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def med(f, runs=3):
    times = []
    for _ in range(runs):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]

hf = Tokenizer(models.BPE())
hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
hf.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
t = time.perf_counter()
hf.train_from_iterator(docs, trainer=trainer)
train_s = time.perf_counter() - t
print(f"tokenizers train: {train_s:.2f} s for {mb:.1f} MB at vocab {vocab} ({threads} threads), peak RSS {peak_mb():.0f} MB")

ours = Tokenizer.from_file(pipe_tokenizer)
s = med(lambda: ours.encode_batch(docs, add_special_tokens=False), runs=1)
print(f"tokenizers encode_batch ({threads} threads): {mb / s:.1f} MB/s")
s1 = med(lambda: [ours.encode(d, add_special_tokens=False) for d in docs], runs=1)
print(f"tokenizers encode (1 thread): {mb / s1:.1f} MB/s")

data = json.load(open(pipe_tokenizer))
order = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
byte_decoder = {chr(x): x for x in order}
n = 0
for b in range(256):
    if b not in order:
        byte_decoder[chr(256 + n)] = b
        n += 1
specials = {t["content"]: t["id"] for t in data["added_tokens"]}
ranks = {bytes(byte_decoder[c] for c in tok): i for tok, i in data["model"]["vocab"].items() if tok not in specials}
enc = tiktoken.Encoding("pipe", pat_str=r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
                        mergeable_ranks=ranks, special_tokens=specials)
t1 = med(lambda: [enc.encode_ordinary(d) for d in docs])
print(f"tiktoken encode_ordinary (1 thread): {mb / t1:.1f} MB/s")
tn = med(lambda: enc.encode_ordinary_batch(docs, num_threads=threads))
print(f"tiktoken encode_ordinary_batch ({threads} threads): {mb / tn:.1f} MB/s")
mismatch = sum(enc.encode_ordinary(d) != ours.encode(d, add_special_tokens=False).ids for d in docs[:2000])
print(f"tiktoken ids differ from pipe's on {mismatch} of {min(2000, len(docs))} documents; peak RSS {peak_mb():.0f} MB")
