"""lowercase: lowercases each document's text, shard by shard; drops documents under min_chars."""
import json
import os
import pathlib

request = json.load(open(os.environ["PIPE_REQUEST"]))
source = pathlib.Path(request["inputs"]["documents"])
target = pathlib.Path(request["outputs"]["documents"])
min_chars = request["params"]["min_chars"]

shards = sorted(source.glob("part-*.jsonl"))
kept = dropped = 0
for n, shard in enumerate(shards):
    with open(shard, encoding="utf-8") as src, open(target / shard.name, "w", encoding="utf-8") as dst:
        for line in src:
            doc = json.loads(line)
            if len(doc["text"]) < min_chars:
                dropped += 1
                continue
            doc["text"] = doc["text"].lower()
            dst.write(json.dumps(doc, ensure_ascii=False) + "\n")
            kept += 1
    print(f"::progress {(n + 1) / len(shards):.3f} shard {n + 1}/{len(shards)}")
print(f"::metric documents.kept {kept}")
print(f"::metric documents.dropped {dropped}")
print(f"kept {kept} documents, dropped {dropped} shorter than {min_chars} characters")
