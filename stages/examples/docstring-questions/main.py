"""docstring-questions: "What does module.function do?" answered by the first sentence of its docstring.

Walks the named standard-library modules in sorted order and writes one document per public
function or class with a docstring whose first sentence is short enough: meta.messages is the
question (user) and the answer (assistant) as a chat.
"""
import importlib
import inspect
import json
import os
import pathlib
import re
import sys

request = json.load(open(os.environ["PIPE_REQUEST"]))
params = request["params"]
out = pathlib.Path(request["outputs"]["documents"])
sentence_end = re.compile(r"(?<=[.!?])\s")


def first_sentence(doc):
    """The docstring's first paragraph, joined into one line, cut after its first sentence."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return sentence_end.split(paragraph, maxsplit=1)[0]


count = 0
with open(out / "part-00000.jsonl", "w", encoding="utf-8") as handle:
    for n, name in enumerate(sorted(params["modules"])):
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            sys.exit(f"docstring-questions: cannot import {name}: {error}")
        for attribute, value in sorted(vars(module).items()):
            if attribute.startswith("_") or not (inspect.isfunction(value) or inspect.isclass(value) or inspect.isbuiltin(value)):
                continue
            if getattr(value, "__module__", name) not in (name, "_" + name) or not inspect.getdoc(value):
                continue
            answer = first_sentence(inspect.getdoc(value))
            if not answer or len(answer) > params["max_answer_chars"] or not answer.endswith("."):
                continue
            messages = [{"role": "user", "content": f"What does {name}.{attribute} do?"},
                        {"role": "assistant", "content": answer}]
            document = {"id": f"{name}.{attribute}", "text": answer, "source": name, "meta": {"messages": messages}}
            handle.write(json.dumps(document, ensure_ascii=False) + "\n")
            count += 1
        print(f"::progress {(n + 1) / len(params['modules']):.3f} {name}")
print(f"::metric documents.count {count}")
print(f"{count} questions from {len(params['modules'])} modules (Python {sys.version.split()[0]})")
