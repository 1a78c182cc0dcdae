"""quality-table: one row per model variant (float, f16, q8_0, q4_0, pruned, distilled, ...) with its
perplexity, bits per byte and weight-file size, relative to the float model. Writes table.md and
metrics.json (<variant>.perplexity, <variant>.bytes, <variant>.perplexity_change)."""
import json
import os
import pathlib

request = json.load(open(os.environ["PIPE_REQUEST"]))
inputs = request["inputs"]
split = request["params"]["split"]
out = pathlib.Path(request["outputs"]["table"])

variants = ["baseline", "f16", "q8_0", "q4_0", "pruned", "distilled", "student_alone"]
labels = {"baseline": "float32", "f16": "f16", "q8_0": "q8_0", "q4_0": "q4_0", "pruned": "pruned",
          "distilled": "distilled student", "student_alone": "same student, no teacher"}


def weights_bytes(folder):
    folder = pathlib.Path(folder)
    for name in ("model.gguf", "model.safetensors"):
        if (folder / name).exists():
            return (folder / name).stat().st_size
    return None


rows, metrics = [], {}
base = json.load(open(pathlib.Path(inputs["baseline"]) / "metrics.json"))
base_ppl = base[f"{split}.perplexity"]
for v in variants:
    if v not in inputs:
        continue
    m = json.load(open(pathlib.Path(inputs[v]) / "metrics.json"))
    ppl, bpb = m[f"{split}.perplexity"], m.get(f"{split}.bits_per_byte")
    size = weights_bytes(inputs[v + "_model"]) if v + "_model" in inputs else None
    change = (ppl / base_ppl - 1) * 100
    metrics[f"{v}.perplexity"] = ppl
    metrics[f"{v}.perplexity_change_percent"] = change
    if size is not None:
        metrics[f"{v}.bytes"] = size
    rows.append(f"| {labels[v]} | {ppl:.3f} | {change:+.2f}% | {bpb:.4f} | {size / 1e6:.2f} MB |" if size is not None
                else f"| {labels[v]} | {ppl:.3f} | {change:+.2f}% | {bpb:.4f} | - |")
    print(f"::metric {v}.perplexity {ppl}")

table = [f"| variant | {split} perplexity | change | bits/byte | weights |", "|---|---:|---:|---:|---:|"] + rows
(out / "table.md").write_text("\n".join(table) + "\n")
(out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
print("\n".join(table))
