"""Samplers through `pipe sweep`, for bench/sweep-e2e.sh: for each objective, sampler and seed,
a fresh workspace whose manifest has a `sweep:` block (the objective's space from
`sweep-bench --spaces`, the sampler seeded, TRIALS trials one at a time) over one plugin stage
computing the objective (bench/plugins/sweep-objective), a fresh cache, `pipe sweep`, then the
trials' params and values from `pipe sweep status --json`. Prints one JSON line per study in
sweep-bench's form (sampler `pipe-sweep-<name>`, `seconds` the wall time of `pipe sweep`), for
bench/sweep_compare.py, which recomputes every value from its params and runs Optuna.

With `--library FILE` (sweep-bench's lines for the same seeds), it also says on standard error
how many studies gave exactly the trials the sampler gives when called directly.

    python3 bench/sweep_e2e.py --pipe .build/release/pipe --spaces SPACES.json --seeds 20 --trials 100
"""
import argparse
import concurrent.futures
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
PLUGIN_TYPES = {"uniform": "float", "log_uniform": "float", "int": "int"}


def stage_yaml(space):
    """The plugin's stage.yaml: the objective's name and one param per dimension."""
    params = {"objective": {"type": "string"}}
    for path, dim in space.items():
        params[path] = {"type": PLUGIN_TYPES.get(dim["kind"], "any")}
    return "\n".join(["name: sweep-objective", "version: 1", "run: [python3, main.py]",
                      "outputs: {metrics: {kind: metrics}}", f"params: {json.dumps(params)}", ""])


def manifest(objective, space, sampler, seed, trials):
    """A manifest whose sweep block searches `space` for the least `objective.value`."""
    start = {path: dim["values"][0] if "values" in dim else dim["low"] for path, dim in space.items()}
    uses = {path: "${params.%s}" % path for path in space}
    uses["objective"] = objective
    return "\n".join([
        "version: 1", "name: sweep-e2e", f"params: {json.dumps(start)}",
        "stages:", "  objective:", "    uses: ./stages/objective", f"    with: {json.dumps(uses)}",
        "sweep:", "  metric: objective.value", "  direction: minimize", f"  space: {json.dumps(space)}",
        f"  sampler: {{kind: {sampler}, seed: {seed}}}", f"  trials: {trials}", "  parallel: 1", ""])


def study(pipe, objective, space, sampler, seed, trials):
    """Runs one study in a fresh workspace and cache; its line in sweep-bench's form."""
    work = tempfile.mkdtemp(prefix="pipe-sweep-e2e-")
    try:
        stage = os.path.join(work, "stages", "objective")
        os.makedirs(stage)
        shutil.copy(os.path.join(BENCH, "plugins", "sweep-objective", "main.py"), stage)
        shutil.copy(os.path.join(BENCH, "sweep_objectives.py"), stage)
        with open(os.path.join(stage, "stage.yaml"), "w") as f:
            f.write(stage_yaml(space))
        with open(os.path.join(work, "m.yaml"), "w") as f:
            f.write(manifest(objective, space, sampler, seed, trials))
        command = [pipe, "sweep", "-C", work, "--cache", os.path.join(work, "cache"), "m.yaml"]
        started = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {run.returncode}:\n{run.stderr[-3000:]}")
        status = subprocess.run([pipe, "sweep", "status", "-C", work, "--cache", os.path.join(work, "cache"), "m.yaml",
                                 "--json"], capture_output=True, text=True, check=True)
        ordered = sorted(json.loads(status.stdout)["trials"], key=lambda t: t["number"])
        states = {t["state"] for t in ordered}
        if len(ordered) != trials or states != {"complete"}:
            raise RuntimeError(f"{objective} {sampler} seed {seed}: {len(ordered)} trials, states {states}")
        return {"objective": objective, "sampler": f"pipe-sweep-{sampler}", "seed": seed, "seconds": seconds,
                "params": [t["params"] for t in ordered], "values": [t["value"] for t in ordered]}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def same_as_library(runs, library_file):
    """How many studies gave the trials the library gives for the same seed: the same params, and
    values equal to 1e-12 (Python's Hartmann sums in another order than Swift's)."""
    library = {}
    for line in open(library_file):
        run = json.loads(line)
        library[(run["objective"], run["sampler"].removeprefix("pipe-"), run["seed"])] = run
    same = 0
    for run in runs:
        twin = library.get((run["objective"], run["sampler"].removeprefix("pipe-sweep-"), run["seed"]))
        same += (twin is not None and twin["params"] == run["params"]
                 and all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in zip(twin["values"], run["values"])))
    return same


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipe", required=True)
    parser.add_argument("--spaces", required=True, help="sweep-bench --spaces")
    parser.add_argument("--objectives", default="branin,hartmann6")
    parser.add_argument("--samplers", default="tpe,random")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1, help="studies at once")
    parser.add_argument("--library", help="sweep-bench's lines for the same objectives and seeds")
    args = parser.parse_args()
    spaces = json.load(open(args.spaces))
    plan = [(name, sampler, seed) for name in args.objectives.split(",") for sampler in args.samplers.split(",")
            for seed in range(args.seeds)]
    runs = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(study, args.pipe, name, spaces[name], sampler, seed, args.trials)
                   for name, sampler, seed in plan]
        for future in futures:
            run = future.result()
            runs.append(run)
            print(json.dumps(run), flush=True)
            print(f"{run['objective']} {run['sampler']} seed {run['seed']}: best {min(run['values']):.6g}, "
                  f"{1000 * run['seconds'] / args.trials:.1f} ms/trial", file=sys.stderr, flush=True)
    if args.library:
        print(f"pipe sweep gave the same trials as its sampler called directly (sweep-bench) in "
              f"{same_as_library(runs, args.library)} of {len(runs)} studies", file=sys.stderr)


if __name__ == "__main__":
    main()
