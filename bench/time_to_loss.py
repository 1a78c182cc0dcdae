"""Helpers of bench/time-to-loss.sh: the recipes file, the manifests, and the report.

Subcommands (all take --recipes FILE, bench/time-to-loss-recipes.yaml by default):
  names [NAME ...]             the recipes to run, in file order (all when none is named);
                               exits 2 naming an unknown one
  reference-args               bench/time_to_loss_torch.py's options for the reference run,
                               its validation settings taken from `defaults:`
  manifest NAME OUT.yaml --max-parameters N
                               the pipeline of a recipe: the file's `pipeline:` stages, with the
                               tokens published to out/tokens/, an objective whose budget caps the
                               parameters at N (pipe refuses a larger model before training), and
                               `train` with `with:` = defaults merged with the recipe
  report RUNS_DIR OUT_DIR      reads every run under RUNS_DIR, writes OUT_DIR/report.json (all
                               figures and curves), report.md (the table) and val-loss.svg (the
                               validation loss against wall seconds, every run)

Run folders (written by the shell script): RUNS_DIR/<name>-r<round>/ with, for the PyTorch
reference (name "torch"), result.json (bench/time_to_loss_torch.py's output), and for a pipe
recipe, curve.json and metrics.json (the train stage's metrics) or refused.txt; both have
time.txt (/usr/bin/time -v), load.txt (the load average before and after), cpu-stat.txt (the
`cpu` line of /proc/stat before and after) and tokens.sha256 (the hash of the tokens both sides read). RUNS_DIR/machine.json holds the sgemm peak and OpenBLAS core.

Time to target: the target is the reference's final validation loss (the median over its rounds).
A run reaches it at the first evaluation whose loss is <= target; the seconds and steps are
interpolated linearly between that evaluation and the one before (validation losses are only
known at evaluations), from (0 s, step 0) when the first evaluation is already below.
A load-robust estimate beside it: tokens to target / the run's median training tokens/s
(pipe's train.tokens_per_second; the PyTorch script computes it the same way).
MFU = 6 * parameters * training tokens/s / the sgemm peak (fp32 GFLOP/s with OpenBLAS on the same
thread count, measured by train-bench before and after the runs; the higher of the two).
"""
import argparse
import copy
import json
import math
import os
import re
import statistics
import sys

import yaml



def stolen_share(text):
    """The share of all CPU time that was steal (the hypervisor running other machines) between
    two `cpu` lines of /proc/stat, or None without both."""
    rows = [[int(v) for v in line.split()[1:]] for line in text.splitlines() if line.startswith("cpu ")]
    if len(rows) < 2 or len(rows[0]) < 8:
        return None
    delta = [b - a for a, b in zip(rows[0], rows[1])]
    return delta[7] / sum(delta) if sum(delta) > 0 else None

def load(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    for key in ("pipeline", "reference", "defaults", "recipes"):
        if key not in doc:
            raise SystemExit(f"{path}: no `{key}:`")
    return doc


def merge(base, extra):
    """`extra` over `base`; nested mappings merged key by key."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def cmd_names(a, doc):
    names = a.names or list(doc["recipes"])
    unknown = [n for n in names if n not in doc["recipes"]]
    if unknown:
        print(f"unknown recipe(s): {', '.join(unknown)}; the file has: {', '.join(doc['recipes'])}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(names))


def cmd_reference_args(a, doc):
    ref = dict(doc["reference"])
    for k in ("eval_every", "eval_tokens", "log_every"):
        ref.setdefault(k, doc["defaults"][k])
    print(" ".join(f"--{k.replace('_', '-')} {v}" for k, v in ref.items()))


def cmd_manifest(a, doc):
    recipe = doc["recipes"][a.name]
    if "eval_tokens" in recipe and recipe["eval_tokens"] != doc["defaults"]["eval_tokens"]:
        raise SystemExit(f"recipe {a.name}: eval_tokens must stay {doc['defaults']['eval_tokens']} (the reference's windows)")
    stages = copy.deepcopy(doc["pipeline"])
    stages["tokenize"].setdefault("publish", {})["tokens"] = "out/tokens/"
    stages["ttl_budget"] = {"uses": "objective",
                            "with": {"task": "text-generation", "domain": "time-to-loss benchmark",
                                     "budget": {"max_parameters": a.max_parameters}}}
    stages["train"] = {"uses": "train",
                       "inputs": {"tokens": "tokenize.tokens", "budget": "ttl_budget.budget"},
                       "with": merge(doc["defaults"], recipe),
                       "publish": {"metrics": "out/metrics/"}}
    manifest = {"version": 1, "name": f"time-to-loss-{a.name}", "stages": stages}
    with open(a.out, "w") as f:
        f.write(f"# bench/time-to-loss.sh: recipe {a.name} of {os.path.basename(a.recipes)}\n")
        yaml.safe_dump(manifest, f, sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------------------------------------------
# report

def time_v(path):
    """Peak RSS (MB), user + system CPU seconds and elapsed wall seconds from /usr/bin/time -v."""
    text = open(path).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", text).group(1)) for k in ("User", "System"))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    return rss, cpu, seconds


def reach(curve, target):
    """(seconds, step) at which the validation loss first reaches target, linearly interpolated
    between evaluations; None when it never does."""
    prev = (0.0, 0, None)
    for p in curve:
        if p.get("valLoss") is None:
            continue
        s, step, v = p["seconds"], p["step"], p["valLoss"]
        if v <= target:
            if prev[2] is None or prev[2] <= v:
                return s, float(step)
            f = (prev[2] - target) / (prev[2] - v)
            return prev[0] + f * (s - prev[0]), prev[1] + f * (step - prev[1])
        prev = (s, step, v)
    return None


def read_runs(runs):
    out = []
    for entry in sorted(os.listdir(runs)):
        folder = os.path.join(runs, entry)
        m = re.fullmatch(r"(.+)-r(\d+)", entry)
        if not m or not os.path.isdir(folder):
            continue
        name, rnd = m.group(1), int(m.group(2))
        run = {"name": name, "round": rnd, "folder": folder}
        if os.path.exists(os.path.join(folder, "load.txt")):
            run["load"] = open(os.path.join(folder, "load.txt")).read().split()
        if os.path.exists(os.path.join(folder, "cpu-stat.txt")):
            run["stolen"] = stolen_share(open(os.path.join(folder, "cpu-stat.txt")).read())
        if os.path.exists(os.path.join(folder, "tokens.sha256")):
            run["tokens_sha256"] = open(os.path.join(folder, "tokens.sha256")).read().split()[0]
        if os.path.exists(os.path.join(folder, "refused.txt")):
            run["refused"] = open(os.path.join(folder, "refused.txt")).read().strip()
            out.append(run)
            continue
        if os.path.exists(os.path.join(folder, "time.txt")):
            run["peak_rss_mb"], run["cpu_seconds"], run["process_seconds"] = time_v(os.path.join(folder, "time.txt"))
        if name == "torch":
            r = json.load(open(os.path.join(folder, "result.json")))
            run.update(tool="pytorch", curve=r["curve"], params=r["params"], tokens_per_second=r["tokens_per_second"],
                       tokens_per_step=r["config"]["batch"] * r["config"]["context"], steps=r["config"]["steps"],
                       val_loss=r["val_loss"], seconds=r["seconds"], torch=r["torch"])
        else:
            metrics = json.load(open(os.path.join(folder, "metrics.json")))
            curve = json.load(open(os.path.join(folder, "curve.json")))
            run.update(tool="pipe", curve=curve, params=int(metrics["train.parameters"]),
                       tokens_per_second=metrics["train.tokens_per_second"],
                       tokens_per_step=metrics["train.tokens"] / metrics["train.steps"], steps=int(metrics["train.steps"]),
                       val_loss=metrics.get("val.loss"), seconds=metrics["train.seconds"])
        out.append(run)
    return out


def svg_plot(runs, target, path):
    """Validation loss against wall seconds, one polyline per run, the target dashed."""
    W, H, L, R, T, B = 820, 500, 70, 200, 30, 50
    pts = [(p["seconds"], p["valLoss"]) for r in runs for p in r.get("curve", []) if p.get("valLoss") is not None]
    if not pts:
        return
    xmax = max(x for x, _ in pts) * 1.03
    ymin = min(min(y for _, y in pts), target) - 0.05
    ymax = min(max(y for _, y in pts), ymin + 2.5) + 0.05
    sx = lambda x: L + (W - L - R) * x / xmax  # noqa: E731
    sy = lambda y: T + (H - T - B) * (ymax - min(y, ymax)) / (ymax - ymin)  # noqa: E731
    colors = ["#000000", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    names = list(dict.fromkeys(r["name"] for r in runs))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    step = 10 ** math.floor(math.log10(xmax / 5)) if xmax > 0 else 1
    step *= 2 if xmax / step > 10 else 1
    x = 0.0
    while x <= xmax:
        out.append(f'<line x1="{sx(x):.1f}" y1="{H - B}" x2="{sx(x):.1f}" y2="{H - B + 5}" stroke="black"/>'
                   f'<text x="{sx(x):.1f}" y="{H - B + 18}" text-anchor="middle">{x:g}</text>')
        x += step
    y = math.ceil(ymin * 10) / 10
    while y <= ymax:
        out.append(f'<line x1="{L - 5}" y1="{sy(y):.1f}" x2="{W - R}" y2="{sy(y):.1f}" stroke="#e0e0e0"/>'
                   f'<text x="{L - 8}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.1f}</text>')
        y = round(y + 0.1, 10)
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">wall seconds of training (validation included)</text>')
    out.append(f'<text x="15" y="{(T + H - B) / 2}" transform="rotate(-90 15 {(T + H - B) / 2})" text-anchor="middle">validation loss</text>')
    out.append(f'<line x1="{L}" y1="{sy(target):.1f}" x2="{W - R}" y2="{sy(target):.1f}" stroke="gray" stroke-dasharray="6 4"/>'
               f'<text x="{W - R + 5}" y="{sy(target) + 4:.1f}" fill="gray">target {target:.4f}</text>')
    for r in runs:
        c = colors[names.index(r["name"]) % len(colors)]
        line = [(sx(p["seconds"]), sy(p["valLoss"])) for p in r.get("curve", []) if p.get("valLoss") is not None]
        if line:
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="'
                       + " ".join(f"{px:.1f},{py:.1f}" for px, py in line) + '"/>')
            out += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{c}"/>' for px, py in line]
    for i, n in enumerate(names):
        c = colors[i % len(colors)]
        out.append(f'<line x1="{W - R + 10}" y1="{T + 40 + 18 * i}" x2="{W - R + 30}" y2="{T + 40 + 18 * i}" stroke="{c}" stroke-width="2"/>'
                   f'<text x="{W - R + 35}" y="{T + 44 + 18 * i}">{n}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def cmd_report(a, doc):
    runs = read_runs(a.runs)
    machine = json.load(open(os.path.join(a.runs, "machine.json")))
    peaks = [p["sgemm_peak_gflops"] for p in machine.get("sgemm", [])]
    peak = max(peaks) if peaks else None
    torch_runs = [r for r in runs if r["name"] == "torch"]
    if not torch_runs:
        raise SystemExit("no reference run")
    target = statistics.median(r["val_loss"] for r in torch_runs)
    ref_params = torch_runs[0]["params"]
    hashes = {r.get("tokens_sha256") for r in runs if not r.get("refused")} - {None}
    for r in runs:
        if r.get("refused"):
            continue
        hit = reach(r["curve"], target)
        r["reached"] = hit is not None
        if hit:
            r["seconds_to_target"], r["steps_to_target"] = hit
            r["tokens_to_target"] = hit[1] * r["tokens_per_step"]
            r["seconds_per_step"] = hit[0] / hit[1] if hit[1] else None
            # The load-robust estimate: the steps to target at the median window rate, no evaluations.
            r["steady_seconds_to_target"] = r["tokens_to_target"] / r["tokens_per_second"]
        r["mfu"] = 6 * r["params"] * r["tokens_per_second"] / (peak * 1e9) if peak else None
        r["params_ok"] = r["params"] <= ref_params

    # Medians over rounds, per recipe.
    def med(rs, key):
        v = [r[key] for r in rs if r.get(key) is not None]
        return statistics.median(v) if v else None

    rows = []
    order = ["torch"] + list(doc["recipes"])
    for name in sorted(dict.fromkeys(r["name"] for r in runs), key=lambda n: order.index(n) if n in order else len(order)):
        rs = [r for r in runs if r["name"] == name]
        if all(r.get("refused") for r in rs):
            rows.append({"name": name, "refused": rs[0]["refused"]})
            continue
        rs = [r for r in rs if not r.get("refused")]
        row = {"name": name, "tool": rs[0]["tool"], "rounds": len(rs), "reached": f"{sum(r['reached'] for r in rs)}/{len(rs)}"}
        for key in ("seconds_to_target", "steady_seconds_to_target", "steps_to_target", "tokens_to_target", "seconds_per_step", "val_loss", "seconds",
                    "steps", "params", "tokens_per_second", "mfu", "peak_rss_mb", "cpu_seconds"):
            row[key] = med(rs, key)
        rows.append(row)
    ref = next(r for r in rows if r["name"] == "torch")
    for row in rows:
        if row.get("seconds_to_target") and ref.get("seconds_to_target"):
            row["time_ratio"] = row["seconds_to_target"] / ref["seconds_to_target"]
            row["steps_ratio"] = row["steps_to_target"] / ref["steps_to_target"]
            row["seconds_per_step_ratio"] = row["seconds_per_step"] / ref["seconds_per_step"]
            row["tokens_ratio"] = row["tokens_to_target"] / ref["tokens_to_target"]
            row["steady_time_ratio"] = row["steady_seconds_to_target"] / ref["steady_seconds_to_target"]

    report = {"target_val_loss": target, "reference_params": ref_params, "sgemm_peak_gflops": peak, "machine": machine,
              "same_tokens_on_every_run": len(hashes) == 1, "tokens_sha256": sorted(hashes),
              "interpolation": "linear in (seconds, steps) between the evaluations around the first val loss <= target",
              "mfu": "6 * params * tokens_per_second / sgemm peak (the higher of the measurements before and after the runs)",
              "summary": rows, "runs": [{k: v for k, v in r.items() if k != "folder"} for r in runs]}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    svg_plot([r for r in runs if not r.get("refused")], target, os.path.join(a.out, "val-loss.svg"))

    def fmt(v, spec):
        return "—" if v is None else format(v, spec)
    lines = [f"target: the reference's final validation loss {target:.4f} (median of {len(torch_runs)} run(s)); "
             f"parameters at most {ref_params:,}; sgemm peak {fmt(peak, '.1f')} GFLOP/s "
             f"({machine.get('threads')} threads, OpenBLAS core {machine.get('openblas_core')}, "
             f"OPENBLAS_CORETYPE={machine.get('openblas_coretype')}); same token shards on every run: {len(hashes) == 1}",
             "",
             "| run | rounds | reached | s to target | steps to target | tokens to target | params | tokens/s | MFU | peak RSS MB | "
             "CPU s | final val | time / torch | steps / torch | s per step / torch | at median rates / torch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.get("refused"):
            lines.append(f"| {r['name']} | refused: {r['refused']} |" + " |" * 14)
            continue
        lines.append(" | ".join([f"| {r['name']}", str(r["rounds"]), r["reached"], fmt(r["seconds_to_target"], ".1f"),
                                 fmt(r["steps_to_target"], ".0f"), fmt(r["tokens_to_target"], ",.0f"), f"{int(r['params']):,}",
                                 fmt(r["tokens_per_second"], ",.0f"), fmt(r["mfu"] and 100 * r["mfu"], ".1f") + "%",
                                 fmt(r["peak_rss_mb"], ".0f"), fmt(r["cpu_seconds"], ".0f"), fmt(r["val_loss"], ".4f"),
                                 fmt(r.get("time_ratio"), ".3f"), fmt(r.get("steps_ratio"), ".3f"),
                                 fmt(r.get("seconds_per_step_ratio"), ".3f"), fmt(r.get("steady_time_ratio"), ".3f")]) + " |")
    lines.append("")
    lines.append("s to target: wall seconds of training (validation included) at which the val loss first reaches the "
                 "target, interpolated linearly between evaluations; medians over rounds. time / torch = "
                 "(steps / torch) x (s per step / torch). At median rates: tokens to target / the median training "
                 "tokens/s (no validation), a load-robust estimate. CPU s: user + system of the whole process.")
    lines.append("")
    lines.append("Load average (1 min) before/after each run: " + "; ".join(
        f"{r['name']}-r{r['round']} {r['load'][0]}/{r['load'][3]}" for r in runs if r.get("load") and len(r["load"]) >= 4))
    lines.append("")
    lines.append("CPU time the hypervisor gave to other machines during each run (steal, of all CPU time): " + "; ".join(
        f"{r['name']}-r{r['round']} {100 * r['stolen']:.0f}%" for r in runs if r.get("stolen") is not None))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write(text)
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "time-to-loss-recipes.yaml"))
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("names")
    s.add_argument("names", nargs="*")
    sub.add_parser("reference-args")
    s = sub.add_parser("manifest")
    s.add_argument("name")
    s.add_argument("out")
    s.add_argument("--max-parameters", type=int, required=True)
    s = sub.add_parser("report")
    s.add_argument("runs")
    s.add_argument("out")
    a = p.parse_args()
    doc = load(a.recipes)
    {"names": cmd_names, "reference-args": cmd_reference_args, "manifest": cmd_manifest, "report": cmd_report}[a.cmd](a, doc)


if __name__ == "__main__":
    main()
