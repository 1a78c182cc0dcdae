"""Checks `pipe stages --schema` with the jsonschema package: the schema is valid draft 2020-12,
every manifest given validates, and broken variants (an unknown parameter, a parameter of the
wrong type, an unknown stage field) are refused.

usage: manifest_schema_check.py SCHEMA.json MANIFEST.yaml...
Prints one line per check and `N passed, M failed`; exit 1 when any failed.
"""
import copy
import json
import sys

import jsonschema
import yaml


def main(argv):
    schema = json.load(open(argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    results = []

    def check(name, ok, detail=""):
        print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""))
        results.append(ok)

    for path in argv[2:]:
        manifest = yaml.safe_load(open(path))  # pipe's manifests use only true/false as booleans
        errors = [e.message for e in validator.iter_errors(manifest)]
        check(f"{path} validates", not errors, "; ".join(errors[:3]))
        name, stage = next(iter(manifest["stages"].items()))
        for label, change in [("an unknown parameter", lambda s: s.setdefault("with", {}).update(no_such_parameter=1)),
                              ("an unknown stage field", lambda s: s.update(neds=["x"]))]:
            broken = copy.deepcopy(manifest)
            change(broken["stages"][name])
            check(f"{path}: {label} in stage {name} is refused", not validator.is_valid(broken))

    typed = {"version": 1, "name": "t", "stages": {"tok": {"uses": "bpe-tokenize", "with": {"vocab_size": [1]}}}}
    check("a list where bpe-tokenize's vocab_size takes an int is refused", not validator.is_valid(typed))
    typed["stages"]["tok"]["with"]["vocab_size"] = "${params.vocab}"
    check("a ${params.x} reference where an int goes is accepted", validator.is_valid(typed))
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
