"""Optuna's answers that Tests/SweepTests hold as expected values (Optuna 5.0):

  * the log densities of TPE's Parzen estimator on fixed observations (TPESamplerTests);
  * where MedianPruner and SuccessiveHalvingPruner stop each of 12 synthetic learning curves,
    the trials run one after another with a pruning check at every step (PrunerTests).

    python3 -m venv /tmp/optuna-venv && /tmp/optuna-venv/bin/pip install optuna
    /tmp/optuna-venv/bin/python tests-python/sweep_reference.py
"""
import math

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_weights


def parzen():
    parameters = _ParzenEstimatorParameters(prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False,
                                            weights=default_weights, multivariate=True)
    space = {"a": FloatDistribution(-5, 10), "b": FloatDistribution(1e-4, 1, log=True),
             "c": IntDistribution(1, 9, step=2), "d": IntDistribution(1, 64, log=True),
             "e": CategoricalDistribution(["x", "y", "z"])}
    observations = {"a": [0.5, -4.0, 9.0, 2.0], "b": [1e-3, 0.5, 0.02, 1e-4], "c": [3, 9, 1, 5],
                    "d": [2, 64, 7, 30], "e": [0, 2, 2, 1]}
    points = {"a": [0.0, 9.9, -5.0], "b": [0.01, 0.9, 2e-4], "c": [3, 7, 9], "d": [1, 33, 64], "e": [2, 0, 1]}
    estimator = _ParzenEstimator({k: np.array(v, dtype=float) for k, v in observations.items()}, space, parameters)
    print("mixed:", estimator.log_pdf({k: np.array(v, dtype=float) for k, v in points.items()}).tolist())
    ramped = _ParzenEstimator({"a": np.array([-4.9 + 14.8 * i / 29 for i in range(30)])}, {"a": space["a"]}, parameters)
    print("ramped:", ramped.log_pdf({"a": np.array([0.0, 9.95, -5.0])}).tolist())


def curve_value(trial, step):
    """The synthetic curves, as PrunerTests.curveValue computes them."""
    return (1 + 0.3 * math.sin(trial * 7.1)) * math.exp(-step / (5 + 3 * math.cos(trial * 3.3))) \
        + 0.05 * math.sin(trial * 13 + step * 1.7)


def pruned_steps(pruner, direction, trials=12, steps=30):
    study = optuna.create_study(direction=direction, pruner=pruner)
    stops = []

    def objective(trial):
        sign = 1 if direction == "minimize" else -1
        for step in range(1, steps + 1):
            value = sign * curve_value(trial.number, step)
            trial.report(value, step)
            if trial.should_prune():
                stops.append(step)
                raise optuna.TrialPruned()
        stops.append(None)
        return value

    study.optimize(objective, n_trials=trials)
    return stops


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parzen()
    for direction in ("minimize", "maximize"):
        print(direction, "median(3, 2, 2):", pruned_steps(optuna.pruners.MedianPruner(3, 2, 2), direction))
        print(direction, "median(2, 0, 1):", pruned_steps(optuna.pruners.MedianPruner(2, 0, 1), direction))
        print(direction, "median(1, 5, 3):", pruned_steps(optuna.pruners.MedianPruner(1, 5, 3), direction))
        print(direction, "asha(1, 3, 0):", pruned_steps(optuna.pruners.SuccessiveHalvingPruner(1, 3, 0), direction))
        print(direction, "asha(2, 2, 1):", pruned_steps(optuna.pruners.SuccessiveHalvingPruner(2, 2, 1), direction))
