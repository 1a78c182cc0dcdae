"""Checks that a fine-tuned export renders chats exactly as pipe does.

usage: chat_template_conformance.py --hf DIR --gguf FILE --conversations FILE

FILE holds one JSON object per line: {"messages": [...], "rendered": pipe's text with the
generation prompt, "rendered_closed": pipe's text without it, "ids": pipe's token ids of
"rendered"}. For every line, `transformers`' apply_chat_template on the Hugging Face folder must
give the same two texts, and its tokenizer the same ids; the GGUF's tokenizer.chat_template
must be the folder's chat_template. Prints one line per failure and a final count; exits
non-zero on any failure.
"""
import argparse
import json
import sys

import gguf
from transformers import AutoTokenizer


def gguf_chat_template(path):
    """The string value of tokenizer.chat_template in a GGUF file, or None."""
    field = gguf.GGUFReader(path).fields.get("tokenizer.chat_template")
    if field is None:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hf", required=True)
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--conversations", required=True)
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.hf)
    failures = 0
    if gguf_chat_template(args.gguf) != tokenizer.chat_template:
        print("the GGUF's tokenizer.chat_template differs from tokenizer_config.json's chat_template")
        failures += 1
    lines = [json.loads(line) for line in open(args.conversations, encoding="utf-8") if line.strip()]
    for n, case in enumerate(lines, 1):
        messages = case["messages"]
        open_text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        closed_text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        ids = tokenizer(case["rendered"], add_special_tokens=False)["input_ids"]
        for name, theirs, mine in [("with the generation prompt", open_text, case["rendered"]),
                                   ("without it", closed_text, case["rendered_closed"]), ("token ids", ids, case["ids"])]:
            if theirs != mine:
                print(f"conversation {n} {name}: transformers {theirs!r} != pipe {mine!r}")
                failures += 1
    print(f"{len(lines)} conversations, {failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
