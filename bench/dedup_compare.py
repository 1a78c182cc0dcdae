"""datasketch and datatrove on the planted-duplicate corpus, for bench/dedup.sh.

usage: dedup_compare.py CORPUS.jsonl TRUTH.json WORKDIR

datasketch: MinHash (128 permutations) + MinHashLSH(threshold=0.8) over word 5-grams of
lowercased text, the usual dedup loop (query; if a candidate exists drop, else insert), one
thread. datatrove: its four-stage MinHash pipeline with its default MinhashConfig (5-grams,
14 buckets x 8 hashes, simplify_text normalization; sha1 shingle hashes, see below), one
worker.
Each writes the kept ids to WORKDIR/<tool>.kept and prints seconds and MB/s.
"""
import glob
import gzip
import json
import os
import resource
import sys
import time

corpus, truth, work = sys.argv[1:4]
docs = [json.loads(line) for line in open(corpus, encoding="utf-8")]
mb = sum(len(d["text"].encode()) for d in docs) / 1e6

from datasketch import MinHash, MinHashLSH  # noqa: E402

t = time.perf_counter()
lsh = MinHashLSH(threshold=0.8, num_perm=128)
kept = []
for d in docs:
    words = d["text"].lower().split()
    grams = {" ".join(words[i:i + 5]).encode() for i in range(max(1, len(words) - 4))}
    m = MinHash(num_perm=128)
    m.update_batch(list(grams))
    if lsh.query(m):
        continue
    lsh.insert(d["id"], m)
    kept.append(d["id"])
s = time.perf_counter() - t
open(f"{work}/datasketch.kept", "w").write("\n".join(kept))
print(f"datasketch: {s:.2f} s, {mb / s:.2f} MB/s (1 thread), kept {len(kept)} of {len(docs)}, "
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")

from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.dedup import (MinhashDedupBuckets, MinhashDedupCluster,  # noqa: E402
                                      MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.dedup.minhash import MinhashConfig  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.writers.jsonl import JsonlWriter  # noqa: E402
from datatrove.utils.hashing import HashConfig  # noqa: E402

# datatrove 0.10's default xxhash path fails on str input ("Strings must be encoded before
# hashing"); its sha1 hash function is the documented alternative and leaves the rest default.
config = MinhashConfig(hash_config=HashConfig(precision=64, hash_fc="sha1"))
input_dir = os.path.dirname(os.path.abspath(corpus))
dt = f"{work}/datatrove"
t = time.perf_counter()
LocalPipelineExecutor(pipeline=[JsonlReader(input_dir), MinhashDedupSignature(output_folder=f"{dt}/sigs", config=config)],
                      tasks=1, logging_dir=f"{dt}/logs1").run()
LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=f"{dt}/sigs", output_folder=f"{dt}/buckets", config=config)],
                      tasks=config.num_buckets, workers=1, logging_dir=f"{dt}/logs2").run()
LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=f"{dt}/buckets", output_folder=f"{dt}/remove", config=config)],
                      tasks=1, logging_dir=f"{dt}/logs3").run()
LocalPipelineExecutor(pipeline=[JsonlReader(input_dir), MinhashDedupFilter(input_folder=f"{dt}/remove"), JsonlWriter(f"{dt}/out")],
                      tasks=1, logging_dir=f"{dt}/logs4").run()
s = time.perf_counter() - t
kept = []
for path in sorted(glob.glob(f"{dt}/out/*")):
    opener = gzip.open if path.endswith(".gz") else open
    kept += [json.loads(line)["id"] for line in opener(path, "rt", encoding="utf-8")]
open(f"{work}/datatrove.kept", "w").write("\n".join(kept))
print(f"datatrove: {s:.2f} s, {mb / s:.2f} MB/s (1 worker), kept {len(kept)} of {len(docs)}")
