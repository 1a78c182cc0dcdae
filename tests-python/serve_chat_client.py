"""Chat against a `pipe serve` whose tokenizer has a chat template, with the openai client.

usage: serve_chat_client.py BASE_URL
"""
import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="none", max_retries=0, timeout=60)
model = client.models.list().data[0].id
messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "the cat"}]}]


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


reply = client.chat.completions.create(model=model, messages=messages, max_completion_tokens=6, temperature=0,
                                       logprobs=True, top_logprobs=2)
choice = reply.choices[0]
check("chat", reply.object == "chat.completion" and choice.message.role == "assistant" and choice.finish_reason == "length", reply)
check("chat logprobs", len(choice.logprobs.content) == 6 and all(len(t.top_logprobs) == 2 for t in choice.logprobs.content), choice)
check("chat usage", reply.usage.completion_tokens == 6, reply.usage)

chunks = list(client.chat.completions.create(model=model, messages=messages, max_tokens=6, temperature=0, stream=True,
                                             stream_options={"include_usage": True}))
with_choices = [c for c in chunks if c.choices]
check("role first", with_choices[0].choices[0].delta.role == "assistant", with_choices[0])
check("content deltas", "".join(c.choices[0].delta.content or "" for c in with_choices) == choice.message.content)
check("finish chunk", with_choices[-1].choices[0].finish_reason == "length" and not with_choices[-1].choices[0].delta.content)
check("usage chunk last", chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6, chunks[-1])
print("all checks passed")
