"""Drives a running `pipe serve` with the official openai client and checks what it answers.

usage: serve_openai_client.py BASE_URL API_KEY PROMPT LOGITS_FILE

LOGITS_FILE holds `pipe generate --dump-logits` of PROMPT (float32 [tokens, vocabulary]): the
echoed prompt's log-probabilities must equal its log-softmax. Prints one line per check and
exits non-zero on the first failure.
"""
import json
import sys
import urllib.request

import numpy as np
import openai

base_url, api_key, prompt, logits_file = sys.argv[1:5]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=60)
model = client.models.list().data[0].id


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


def metric(name):
    """The value of an unlabelled metric, or the sum of a labelled one's matching series."""
    text = urllib.request.urlopen(base_url.removesuffix("/v1") + "/metrics").read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


# A completion, greedy: the same request gives the same text, and usage adds up.
first = client.completions.create(model=model, prompt=prompt, max_tokens=12, temperature=0)
again = client.completions.create(model=model, prompt=prompt, max_tokens=12, temperature=0)
choice = first.choices[0]
check("completion", first.object == "text_completion" and len(choice.text) > 0 and choice.finish_reason == "length", first)
check("greedy is repeatable", choice.text == again.choices[0].text, (choice.text, again.choices[0].text))
check("usage", first.usage.completion_tokens == 12 and first.usage.total_tokens == first.usage.prompt_tokens + 12, first.usage)

# Streaming with usage: the chunks join to the same text, then one usage chunk with no choices.
chunks = list(client.completions.create(model=model, prompt=prompt, max_tokens=12, temperature=0, stream=True,
                                        stream_options={"include_usage": True}))
streamed = "".join(c.choices[0].text for c in chunks if c.choices)
check("stream text", streamed == choice.text, (streamed, choice.text))
check("stream finish", [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length")
check("stream usage", chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 12, chunks[-1])

# n=2 with a seed: two choices, indexed, seeded apart; the same seed repeats them.
two = client.completions.create(model=model, prompt=prompt, max_tokens=8, n=2, seed=5, temperature=1)
repeat = client.completions.create(model=model, prompt=prompt, max_tokens=8, n=2, seed=5, temperature=1)
check("n=2", sorted(c.index for c in two.choices) == [0, 1], two)
check("seeded", [c.text for c in two.choices] == [c.text for c in repeat.choices])
check("n=2 usage", two.usage.completion_tokens == 16, two.usage)

# Stop strings: the text ends before the first occurrence, with finish_reason stop.
long = client.completions.create(model=model, prompt=prompt, max_tokens=24, temperature=0).choices[0].text
# A stop string from the greedy text (plain ASCII, so bytes and characters agree).
start = next(i for i in range(3, len(long) - 3) if long[i:i + 3].isascii() and long[i:i + 3].isprintable())
stop = long[start:start + 3]
cut = client.completions.create(model=model, prompt=prompt, max_tokens=24, temperature=0, stop=[stop, "\u0000never"]).choices[0]
check("stop", cut.text == long[:long.index(stop)] and cut.finish_reason == "stop", (long, stop, cut))
streamed_cut = "".join(c.choices[0].text for c in client.completions.create(
    model=model, prompt=prompt, max_tokens=24, temperature=0, stop=stop, stream=True) if c.choices)
check("stop streamed", streamed_cut == cut.text, (streamed_cut, cut.text))

# Echo + logprobs: the prompt's scores equal the log-softmax of the engine's logits.
logits = np.fromfile(logits_file, dtype=np.float32)
ids = json.loads(urllib.request.urlopen(urllib.request.Request(
    base_url.removesuffix("/v1") + "/tokenize", data=json.dumps({"prompt": prompt}).encode(),
    headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"})).read())["tokens"]
logits = logits.reshape(len(ids), -1).astype(np.float64)
logsoftmax = logits - logits.max(axis=1, keepdims=True)
logsoftmax -= np.log(np.exp(logsoftmax).sum(axis=1, keepdims=True))
echo = client.completions.create(model=model, prompt=prompt, max_tokens=0, echo=True, logprobs=3)
lp = echo.choices[0].logprobs
check("echo text", echo.choices[0].text == prompt, echo.choices[0].text)
check("echo shape", len(lp.tokens) == len(ids) and lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
      and lp.text_offset[0] == 0, lp)
expected = [logsoftmax[i - 1, ids[i]] for i in range(1, len(ids))]
worst = max(abs(a - b) for a, b in zip(lp.token_logprobs[1:], expected))
check("echo logprobs equal the engine's scores", worst < 1e-4, worst)
best = [float(np.sort(logsoftmax[i - 1])[::-1][:3].max()) for i in range(1, len(ids))]
check("echo top logprobs", all(abs(max(t.values()) - b) < 1e-4 and len(t) <= 3 for t, b in zip(lp.top_logprobs[1:], best)))
by_ids = client.completions.create(model=model, prompt=ids, max_tokens=0, echo=True, logprobs=0)
check("token-id prompt", by_ids.choices[0].logprobs.token_logprobs == lp.token_logprobs, by_ids)
gen = client.completions.create(model=model, prompt=prompt, max_tokens=4, temperature=0, echo=True, logprobs=1)
glp = gen.choices[0].logprobs
check("echo then generated", len(glp.tokens) == len(ids) + 4 and all(v is not None for v in glp.token_logprobs[1:])
      and gen.choices[0].text.startswith(prompt), glp)

# Errors answer once (no retry: max_retries=0 and the server's count moves by one each).
before = metric('pipe_requests_total{endpoint="/v1/completions",status="400"}')
try:
    client.completions.create(model=model, prompt=prompt, max_tokens=1_000_000)
    check("context length", False, "accepted")
except openai.BadRequestError as error:
    check("context length", error.code == "context_length_exceeded", error.body)
for bad in [dict(max_tokens=-1), dict(temperature="hot"), dict(logprobs=9)]:
    try:
        client.completions.create(model=model, prompt=prompt, **bad)
        check(f"400 for {bad}", False, "accepted")
    except openai.BadRequestError as error:
        check(f"400 for {bad}", error.status_code == 400 and error.body["type"] == "invalid_request_error", error.body)
after = metric('pipe_requests_total{endpoint="/v1/completions",status="400"}')
check("each error counted once (no retries)", after - before == 4, (before, after))
check("no 5xx", metric('pipe_requests_total{endpoint="/v1/completions",status="5') == 0)

try:
    openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).completions.create(model=model, prompt=prompt)
    check("invalid key", False, "accepted")
except openai.AuthenticationError as error:
    check("invalid key", error.status_code == 401, error)

try:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    check("chat without a template", False, "accepted")
except openai.BadRequestError as error:
    check("chat without a template", error.code == "chat_template_missing" and "chat template" in error.message, error)
print("all checks passed")
