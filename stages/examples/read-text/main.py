"""read-text: one document per text file under a folder, in sorted path order."""
import json
import os
import pathlib

request = json.load(open(os.environ["PIPE_REQUEST"]))
params = request["params"]
root = pathlib.Path(request["workspace"], params["path"])
out = pathlib.Path(request["outputs"]["documents"])

files = sorted({p for pattern in params["include"] for p in root.glob(pattern) if p.is_file()})
if not files:
    raise SystemExit(f"read-text: no files match {params['include']} under {root}")

shard, size, handle = 0, 0, None
for n, path in enumerate(files):
    if handle is None or size >= params["shard_bytes"]:
        if handle:
            handle.close()
        handle = open(out / f"part-{shard:05d}.jsonl", "w", encoding="utf-8")
        shard, size = shard + 1, 0
    rel = path.relative_to(root).as_posix()
    text = path.read_bytes().decode("utf-8", errors="replace")
    line = json.dumps({"id": rel, "text": text, "source": "files", "meta": {"path": rel}}, ensure_ascii=False)
    handle.write(line + "\n")
    size += len(line)
    print(f"::progress {(n + 1) / len(files):.3f} {n + 1}/{len(files)} files")
handle.close()
print(f"::metric documents.count {len(files)}")
print(f"read {len(files)} files into {shard} shard(s)")
