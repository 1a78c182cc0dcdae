"""A sweep trial's objective as a plugin stage, for bench/sweep-e2e.sh: evaluates the test
function named by the `objective` param (bench/sweep_objectives.py, copied beside this file) at
the stage's other params and reports it as the metric `value` (`::metric value ...`, and in
metrics.json). The stage.yaml is written per objective by bench/sweep_e2e.py (one param per
dimension of the objective's space)."""
import json
import os

from sweep_objectives import OBJECTIVES

request = json.load(open(os.environ["PIPE_REQUEST"]))
params = dict(request["params"])
value = OBJECTIVES[params.pop("objective")](params)
print(f"::metric value {value!r}")
with open(os.path.join(request["outputs"]["metrics"], "metrics.json"), "w") as out:
    json.dump({"value": value}, out)
