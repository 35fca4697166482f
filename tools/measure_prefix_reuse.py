#!/usr/bin/env python3
# Prefix reuse, measured: lm-evaluation-harness's loglikelihood requests for 4
# continuations of a ~300-token context (one request each, as batch_size=1
# sends them), against two `cloze serve` processes on the same model, one
# with the prefix cache and one with --prefix-cache-mb 0, interleaved
# (alternating which goes first). Prints wall and server CPU seconds per
# round and checks that both answer identically.
#
#   cloze serve --model M --port 18917 & cloze serve --model M --port 18918 --prefix-cache-mb 0 &
#   tools/measure_prefix_reuse.py 18917 18918 PID_WITH PID_WITHOUT [ROUNDS]
import json, sys, time, urllib.request
def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=600).read())
with_port, without_port = int(sys.argv[1]), int(sys.argv[2])
pids = {"with": int(sys.argv[3]), "without": int(sys.argv[4])}
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0  # utime + stime, clock ticks
tok = lambda port, s: post(port, "/tokenize", {"prompt": s, "add_special_tokens": False})["tokens"]
conts = [" Yes, very.", " No.", " It was fine", " Not at all, sadly"]
res = {"with": [], "without": []}
cpus = {"with": [], "without": []}
for rnd in range(int(sys.argv[5]) if len(sys.argv) > 5 else 2):
    ctx = f"{rnd} The film follows a family" + " through a long winter, their quarrels and small kindnesses" * 24 + ". Question: was it good? Answer:"
    c = tok(with_port, ctx)
    order = [("with", with_port), ("without", without_port)]
    if rnd % 2: order.reverse()
    answers = {}
    for name, port in order:
        t0 = time.time()
        c0 = cpu(pids[name])
        outs = []
        for k in conts:
            ids = c + tok(port, k)[0:]
            # _create_payload(generate=False) of lm_eval/models/openai_completions.py
            body = {"model": "m", "prompt": [ids], "temperature": 0, "max_tokens": 1, "logprobs": 1, "seed": 1234, "echo": True}
            outs.append(json.dumps(post(port, "/v1/completions", body)["choices"]))
        res[name].append(time.time() - t0)
        cpus[name].append(cpu(pids[name]) - c0)
        answers[name] = outs
    assert answers["with"] == answers["without"], "answers differ"
    print(f"round {rnd}: context {len(c)} tokens: without reuse {res['without'][-1]:.2f} s, with {res['with'][-1]:.2f} s, ratio {res['without'][-1]/res['with'][-1]:.2f}x; server CPU {cpus['without'][-1]:.1f} s vs {cpus['with'][-1]:.1f} s ({cpus['without'][-1]/cpus['with'][-1]:.2f}x); answers identical", flush=True)
