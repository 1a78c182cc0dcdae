"""Samplers side by side on the sweep objectives: pipe's (sweep-bench's JSON lines on stdin)
against Optuna's TPE (default settings, seeded) and Optuna's random search, run here on the same
spaces (`sweep-bench --spaces`). Prints the mean (± its standard error) and median best value
after 25, 50 and 100 trials and writes everything to the JSON file named by --out.

    sweep-bench --seeds 20 --trials 100 | python3 bench/sweep_compare.py --spaces SPACES.json --out OUT.json
"""
import argparse
import json
import math
import statistics
import sys
import time

import optuna

from sweep_objectives import OBJECTIVES

CHECKPOINTS = (25, 50, 100)


def suggest(trial, path, dim):
    """The Optuna suggestion for one dimension in `sweep.space` form."""
    kind = dim["kind"]
    if kind in ("uniform", "log_uniform"):
        return trial.suggest_float(path, dim["low"], dim["high"], log=kind == "log_uniform")
    if kind == "int":
        return trial.suggest_int(path, dim["low"], dim["high"], step=dim.get("step", 1), log=dim.get("log", False))
    return trial.suggest_categorical(path, dim["values"])


def run_optuna(name, space, sampler, trials):
    objective = OBJECTIVES[name]
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(lambda t: objective({p: suggest(t, p, d) for p, d in sorted(space.items())}), n_trials=trials)
    return [t.value for t in study.trials]


def best_after(values, n):
    return min(values[:n])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spaces", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spaces = json.load(open(args.spaces))

    runs = []  # {objective, sampler, seed, values, seconds}
    for line in sys.stdin:
        run = json.loads(line)
        objective = OBJECTIVES[run["objective"]]
        for params, value in zip(run["params"], run["values"]):  # both sides compute the same function
            assert math.isclose(objective(params), value, rel_tol=1e-12, abs_tol=1e-12), (run["objective"], params, value)
        del run["params"]
        runs.append(run)
    for name in sorted({run["objective"] for run in runs}):
        for label, make in (("optuna-tpe", lambda s: optuna.samplers.TPESampler(seed=s)),
                            ("optuna-random", lambda s: optuna.samplers.RandomSampler(seed=s))):
            for seed in range(args.seeds):
                start = time.perf_counter()
                values = run_optuna(name, spaces[name], make(seed), args.trials)
                runs.append({"objective": name, "sampler": label, "seed": seed, "values": values,
                             "seconds": time.perf_counter() - start})

    summary = []
    for name in sorted({run["objective"] for run in runs}):
        for label in dict.fromkeys(run["sampler"] for run in runs if run["objective"] == name):
            group = [run for run in runs if run["objective"] == name and run["sampler"] == label]
            row = {"objective": name, "sampler": label, "seeds": len(group),
                   "seconds_per_trial": statistics.mean(r["seconds"] / len(r["values"]) for r in group)}
            for n in CHECKPOINTS:
                if all(len(r["values"]) >= n for r in group):
                    bests = [best_after(r["values"], n) for r in group]
                    row[f"mean_{n}"], row[f"median_{n}"] = statistics.mean(bests), statistics.median(bests)
                    row[f"se_{n}"] = statistics.stdev(bests) / math.sqrt(len(bests)) if len(bests) > 1 else 0.0
            summary.append(row)

    checkpoints = [n for n in CHECKPOINTS if f"mean_{n}" in summary[0]]
    print(f"{'objective':<10} {'sampler':<21}" + "".join(f"{f'mean@{n} ± se':>19}{f'median@{n}':>11}" for n in checkpoints)
          + f"{'ms/trial':>10}")
    for row in summary:
        cells = "".join(f"{row[f'mean_{n}']:>11.4f} ±{row[f'se_{n}']:>6.4f}{row[f'median_{n}']:>11.4f}" for n in checkpoints)
        print(f"{row['objective']:<10} {row['sampler']:<21}{cells}{1000 * row['seconds_per_trial']:>10.2f}")
    json.dump({"optuna": optuna.__version__, "summary": summary, "runs": runs}, open(args.out, "w"))


if __name__ == "__main__":
    main()
