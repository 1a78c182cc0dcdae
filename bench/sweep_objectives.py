"""Test functions for comparing samplers (Branin, Hartmann 6-D and a made-up training-like one):
the Python side of bench/sweep-objectives/Objectives.swift (same functions, same params names),
for Optuna and for a plugin stage that evaluates a trial.

    python3 bench/sweep_objectives.py NAME '{"x1": 1.0, "x2": 2.0}'    # prints the value

References: Surjanovic & Bingham, "Virtual Library of Simulation Experiments"
(https://www.sfu.ca/~ssurjano/branin.html, /hart6.html).
"""
import json
import math
import sys


def branin(params):
    """Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887."""
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
              [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[p * 1e-4 for p in row] for row in [
    [1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]]


def hartmann6(params):
    """Hartmann 6-D on [0, 1]^6 (x1..x6); minimum -3.32237."""
    x = [params[f"x{j}"] for j in range(1, 7)]
    return -sum(alpha * math.exp(-sum(a * (xj - p) ** 2 for a, xj, p in zip(row_a, x, row_p)))
                for alpha, row_a, row_p in zip(HARTMANN_ALPHA, HARTMANN_A, HARTMANN_P))


def hyperparams(params):
    """A made-up training-like loss over lr (log_uniform), width (log int), layers (int), warmup
    (int, step 50) and optimizer (choice); least at lr 10^-2.7, width 158, 5 layers, 300, adamw."""
    penalty = {"adamw": 0, "sgd": 0.8, "lion": 0.3}[params["optimizer"]]
    a, b = math.log10(params["lr"]) + 2.7, math.log2(params["width"]) - 7.3
    c, d = params["layers"] - 5, (params["warmup"] - 300) / 400
    return a * a + 0.5 * b * b + 0.1 * c * c + d * d + penalty


OBJECTIVES = {"branin": branin, "hartmann6": hartmann6, "hyperparams": hyperparams}

if __name__ == "__main__":
    print(repr(OBJECTIVES[sys.argv[1]](json.loads(sys.argv[2]))))
