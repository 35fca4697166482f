#!/usr/bin/env python3
"""Soak test for `cloze serve`: mixed requests for a while, RSS sampled.

Starts `cloze serve` on a free loopback port with the given model, then runs
N client threads that loop over a mix of requests: classify with varying
labels / templates / calibration (the classifier cache turns over), scoring
completions with logprobs, short generations, /health, /metrics, /v1/models,
bad JSON (400), unknown paths (404), bodies over the limit (413), half-sent
requests that time out (408), new connections and keep-alive ones. Every
response must have the expected status; the server's RSS (VmRSS) is sampled
every few seconds. Passes when no request failed and the RSS after the warm-up
grew by less than --max-growth (default 5%): the median sample of the last
fifth of the run against the median of the first fifth after the warm-up.

Usage: soak_server.py CLOZE_BIN MODEL_DIR [--seconds 600] [--warmup 60]
                      [--clients 6] [--max-growth 0.05]
Prints one line per sample and a summary line; exit 0 on pass.
"""
import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cloze")
    ap.add_argument("model")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--max-growth", type=float, default=0.05)
    ap.add_argument("--sample", type=float, default=5)
    a = ap.parse_args()

    srv = subprocess.Popen(
        [a.cloze, "serve", "--model", a.model, "--port", "0", "--threads", "1",
         "--max-body-bytes", "65536", "--header-timeout", "1", "--timeout", "2",
         "--classifier-cache", "4"],
        stderr=subprocess.PIPE, text=True)
    port = None
    for line in srv.stderr:
        if "listening on http://127.0.0.1:" in line:
            port = int(line.split("127.0.0.1:")[1].split()[0])
        if "cloze: ready" in line:
            break
    if not port:
        print("soak: the server did not start", file=sys.stderr)
        return 1
    threading.Thread(target=lambda: srv.stderr.read(), daemon=True).start()

    stop = time.monotonic() + a.seconds
    counts = {"ok": 0, "bad": 0}
    failures = []
    lock = threading.Lock()
    words = "good bad movie film great awful plot actor boring loved hated script".split()

    def text(rng):
        return " ".join(rng.choice(words) for _ in range(rng.randint(3, 60)))

    def requests(rng):
        labels = [["positive", "negative"], ["good", "bad"], ["yes", "no", "maybe"],
                  ["sports", "politics", "science"], ["a", "b"], ["up", "down"]]
        kind = rng.randrange(12)
        if kind <= 3:
            body = {"texts": [text(rng) for _ in range(rng.randint(1, 4))]}
            if rng.random() < 0.6:
                body["labels"] = rng.choice(labels)
            if rng.random() < 0.3:
                body["template"] = rng.choice(["Review: {text} Sentiment:", "{text}\nAnswer:", "Q: {text} A:"])
            if rng.random() < 0.2:
                body["calibrate"] = "contextual"
            return "POST", "/v1/classify", json.dumps(body), 200
        if kind == 4:
            return "POST", "/v1/completions", json.dumps(
                {"prompt": text(rng), "max_tokens": 0, "echo": True, "logprobs": 2}), 200
        if kind == 5:
            return "POST", "/v1/completions", json.dumps(
                {"prompt": text(rng), "max_tokens": 3, "temperature": 0.7, "seed": rng.randrange(100)}), 200
        if kind == 6:
            return "GET", rng.choice(["/health", "/v1/models", "/metrics"]), None, 200
        if kind == 7:
            return "POST", "/v1/classify", '{"texts": [', 400
        if kind == 8:
            return "GET", "/no/such/path", None, 404
        if kind == 9:
            return "POST", "/v1/classify", json.dumps({"texts": ["x" * 70000]}), 413
        if kind == 10:
            return "SLOW", None, None, 408
        return "POST", "/v1/classify", json.dumps({"texts": [text(rng)], "labels": ["x", ""]}), 400

    def client(seed):
        rng = random.Random(seed)
        conn = None
        while time.monotonic() < stop:
            method, path, body, want = requests(rng)
            try:
                if method == "SLOW":
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                    s.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\n")
                    got = s.recv(4096).decode("latin-1")
                    s.close()
                    status = int(got.split()[1]) if got.startswith("HTTP/1.1 ") else -1
                else:
                    if conn is None or rng.random() < 0.3:  # new connections and kept-alive ones
                        if conn:
                            conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    headers = {"Content-Type": "application/json"} if body is not None else {}
                    conn.request(method, path, body=body, headers=headers)
                    r = conn.getresponse()
                    r.read()
                    status = r.status
                    if r.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                ok = status == want or (status == 503 and want == 200)
            except Exception as e:  # noqa: BLE001 - any transport failure is a soak failure
                status, ok = repr(e), False
                if conn:
                    conn.close()
                conn = None
            with lock:
                counts["ok" if ok else "bad"] += 1
                if not ok and len(failures) < 10:
                    failures.append(f"{method} {path}: wanted {want}, got {status}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    samples = []
    while time.monotonic() < stop:
        time.sleep(min(a.sample, max(0.0, stop - time.monotonic())))
        el = time.monotonic() - t0
        r = rss_kib(srv.pid)
        samples.append((el, r))
        with lock:
            print(f"t={el:6.0f}s rss={r / 1024:8.1f} MiB requests ok={counts['ok']} failed={counts['bad']}", flush=True)
    for t in threads:
        t.join()
    srv.terminate()
    code = srv.wait(timeout=60)
    # Sustained growth, not a large request in flight at one sample: the
    # median RSS of the last fifth of the run against that of the first fifth
    # after the warm-up.
    after = [r for el, r in samples if el >= a.warmup] or [samples[-1][1]]
    k = max(1, len(after) // 5)
    base, last, peak = statistics.median(after[:k]), statistics.median(after[-k:]), max(after)
    growth = (last - base) / base if base else 0.0
    passed = counts["bad"] == 0 and growth < a.max_growth and code == 0
    print(f"soak: {a.seconds:.0f} s, {counts['ok']} requests ok, {counts['bad']} failed; RSS after warm-up "
          f"{base / 1024:.1f} MiB (first fifth), {last / 1024:.1f} MiB (last fifth, medians), peak {peak / 1024:.1f} MiB, growth {growth * 100:.2f}% "
          f"(limit {a.max_growth * 100:.0f}%); server exit {code}: {'PASS' if passed else 'FAIL'}")
    for f in failures:
        print("  " + f)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
