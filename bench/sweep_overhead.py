"""Optuna's overhead per trial on an objective that does nothing, for bench/sweep-overhead.sh.

Runs TRIALS trials of random search (seeded) over one uniform parameter, and prints one line per
setting, `optuna-<setting> <seconds per trial>`: the objective returning at once, in memory and
with a journal file (Optuna's resumable, multi-process storage, the closest to pipe's journal);
and, with the journal, an objective that runs a do-nothing shell script in a child process, as
a pipe plugin stage is run (`--script`).
"""
import argparse
import os
import subprocess
import tempfile
import time

import optuna


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--script", required=True, help="the do-nothing stage's run.sh")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        def journal(name):
            return optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(os.path.join(folder, name + ".log")))

        def in_process(trial):
            return trial.suggest_float("x", 0, 1)

        def child_process(trial):
            x = trial.suggest_float("x", 0, 1)
            os.makedirs(os.path.join(folder, "out"), exist_ok=True)
            env = dict(os.environ, PIPE_PARAM_X=str(x), PIPE_OUTPUT_METRICS=os.path.join(folder, "out"))
            line = subprocess.run(["sh", args.script], env=env, check=True, capture_output=True, text=True).stdout
            return float(line.split()[2])

        for name, storage, objective in [("memory", None, in_process), ("journal", journal("a"), in_process),
                                         ("journal+process", journal("b"), child_process)]:
            study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
            started = time.perf_counter()
            study.optimize(objective, n_trials=args.trials)
            print("optuna-%s %.6f" % (name, (time.perf_counter() - started) / args.trials))


if __name__ == "__main__":
    main()
