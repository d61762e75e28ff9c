#!/usr/bin/env python3
# Load generator for `lora serve`: concurrent keep-alive clients POST /v1/classify; reports throughput and latency.
"""Closed-loop load generator for `lora serve` (Python 3 standard library only).

Usage (from the repository root, with the server running):

    python3 scripts/bench/serve_load.py --url http://127.0.0.1:8080 \
        --adapters sst2,mrpc,qnli --data ../shared/glue/SST-2/dev.tsv \
        --clients 16 --requests 2000 --warmup 64 --json results/serve_load.json

Workload (the same as scripts/bench/peft_mixed_batch.py, so the two can be compared):
- The sentences are the `sentence` column of a GLUE SST-2 style TSV (header row; the column is
  found by name), in file order.
- Request i (a global index 0, 1, 2, ...) goes to adapter i % n (n = number of --adapters) and
  carries --inputs-per-request sentences, starting at sentence (i * inputs_per_request) % len,
  wrapping around. Its body is {"adapter": NAME, "inputs": [TEXT, ...]}.
- --clients threads, each with its own persistent HTTP/1.1 keep-alive connection, take the next
  index from a shared counter, send the request, wait for the answer and take the next index
  (closed loop: at most --clients requests are in flight).
- Requests 0 .. warmup-1 are a warm-up phase (not counted); then the counted phase runs requests
  warmup .. warmup+requests-1 on the same connections. Wall time is the counted phase's.
- --duration bounds the whole run: no request starts after it has passed, and a request still in
  flight then gets 5 s more (its socket timeout) before it counts as an error (a timeout).

An answer is correct when its status is 200 and its JSON has `results` with exactly one result per
input. Anything else (another status, a body that is not such JSON, a connection error, a timeout)
is an error; the status and the first 200 bytes of the body are kept for the first few.

Latency = from sending the request to having read the whole answer, per counted request that
succeeded; p50/p95/p99 are nearest-rank percentiles. Throughput = requests (sequences: requests *
inputs per request) that succeeded in the counted phase / its wall time.

Prints one summary line and writes the numbers as JSON with --json. Exits with 1 when any request
failed (warm-up included) or none succeeded, 2 on bad options or data.
"""

import argparse
import csv
import http.client
import json
import math
import socket
import sys
import threading
import time
import urllib.parse

GRACE_S = 5.0          # how long a request in flight at the deadline may still take
MAX_ERROR_SAMPLES = 5  # errors whose status and body are kept
BODY_SAMPLE_BYTES = 200


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Closed-loop load generator for `lora serve` (POST /v1/classify).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the server's base URL")
    p.add_argument("--adapters", required=True,
                   help="comma-separated adapter names; request i goes to adapter i %% n")
    p.add_argument("--data", required=True,
                   help="GLUE SST-2 style TSV with a header and a `sentence` column")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (connections)")
    p.add_argument("--requests", type=int, default=2000, help="counted requests in total")
    p.add_argument("--duration", type=float, default=120.0,
                   help="hard stop for the whole run, warm-up included, in seconds")
    p.add_argument("--warmup", type=int, default=64, help="requests sent first and not counted")
    p.add_argument("--inputs-per-request", type=int, default=1, help="sentences per request")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON to this file")
    args = p.parse_args(argv)
    args.adapter_names = [a.strip() for a in args.adapters.split(",") if a.strip()]
    if not args.adapter_names:
        p.error("--adapters: no adapter names")
    if args.clients < 1:
        p.error("--clients must be at least 1")
    if args.requests < 1:
        p.error("--requests must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must not be negative")
    if args.inputs_per_request < 1:
        p.error("--inputs-per-request must be at least 1")
    if not args.duration > 0:
        p.error("--duration must be positive")
    url = urllib.parse.urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        p.error(f"--url: expected http://HOST[:PORT], got {args.url!r}")
    args.scheme = url.scheme
    args.host = url.hostname
    args.port = url.port or (443 if url.scheme == "https" else 80)
    args.path = url.path.rstrip("/") + "/v1/classify"
    return args


def read_sentences(path):
    """The `sentence` column of a GLUE-style TSV (no quoting, as GLUE writes them), in file order."""
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header is None:
            raise ValueError(f"{path}: empty file")
        try:
            column = [h.strip() for h in header].index("sentence")
        except ValueError:
            raise ValueError(f"{path}: no `sentence` column in the header {header}") from None
        sentences = []
        for n, row in enumerate(rows, start=2):
            if not row:
                continue
            if column >= len(row):
                raise ValueError(f"{path}:{n}: {len(row)} fields, no `sentence`")
            sentences.append(row[column])
    if not sentences:
        raise ValueError(f"{path}: no rows")
    return sentences


def request_for(i, adapters, sentences, ipr):
    """(adapter, texts) of request i: the workload shared with peft_mixed_batch.py."""
    start = (i * ipr) % len(sentences)
    return adapters[i % len(adapters)], [sentences[(start + j) % len(sentences)] for j in range(ipr)]


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


class Counter:
    """The shared request index: each call hands out the next one, up to `end` (exclusive)."""

    def __init__(self, start, end):
        self._next = start
        self._end = end
        self._lock = threading.Lock()

    def take(self):
        with self._lock:
            if self._next >= self._end:
                return None
            i = self._next
            self._next += 1
            return i


class Client:
    """One persistent keep-alive connection, used by one thread at a time."""

    def __init__(self, args):
        self.args = args
        self.conn = None

    def _connect(self):
        cls = http.client.HTTPSConnection if self.args.scheme == "https" else http.client.HTTPConnection
        self.conn = cls(self.args.host, self.args.port, timeout=GRACE_S)
        self.conn.connect()
        # one small request per round trip: never let Nagle's algorithm hold a segment back
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, body, timeout):
        """POST body; (status, response bytes). Raises on connection errors and timeouts."""
        if self.conn is None:
            self._connect()
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        self.conn.request("POST", self.args.path, body=body, headers={
            "Content-Type": "application/json", "Accept": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()  # the whole body, so that the connection can be reused
        if resp.will_close:
            self.close()
        return resp.status, data


class Phase:
    """Results of one phase (warm-up or counted), merged from all client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.errors = 0
        self.latencies = []
        self.error_samples = []
        self.first_start = None
        self.last_end = None

    def record(self, i, adapter, t0, t1, error):
        with self.lock:
            self.first_start = t0 if self.first_start is None else min(self.first_start, t0)
            self.last_end = t1 if self.last_end is None else max(self.last_end, t1)
            if error is None:
                self.ok += 1
                self.latencies.append(t1 - t0)
            else:
                self.errors += 1
                if len(self.error_samples) < MAX_ERROR_SAMPLES:
                    status, body = error
                    self.error_samples.append({"index": i, "adapter": adapter, "status": status, "body": body})


def check_answer(status, data, n_inputs):
    """None when the answer is a correct classify answer, else (status, first bytes of the body)."""
    sample = data[:BODY_SAMPLE_BYTES].decode("utf-8", errors="replace")
    if status != 200:
        return status, sample
    try:
        results = json.loads(data)["results"]
    except (ValueError, KeyError, TypeError):
        return status, "not a classify answer: " + sample
    if not isinstance(results, list) or len(results) != n_inputs:
        got = len(results) if isinstance(results, list) else type(results).__name__
        return status, f"expected {n_inputs} results, got {got}: " + sample
    return None


def client_loop(client, counter, phase, args, sentences, deadline):
    while True:
        if time.monotonic() >= deadline:
            return
        i = counter.take()
        if i is None:
            return
        adapter, texts = request_for(i, args.adapter_names, sentences, args.inputs_per_request)
        body = json.dumps({"adapter": adapter, "inputs": texts}).encode("utf-8")
        timeout = max(deadline - time.monotonic(), 0.0) + GRACE_S
        t0 = time.perf_counter()
        try:
            status, data = client.send(body, timeout)
            error = check_answer(status, data, len(texts))
        except (socket.timeout, TimeoutError):
            client.close()
            error = ("timeout", f"no complete answer within {timeout:.1f} s")
        except (OSError, http.client.HTTPException) as e:
            client.close()
            error = ("connection", f"{type(e).__name__}: {e}"[:BODY_SAMPLE_BYTES])
        t1 = time.perf_counter()
        phase.record(i, adapter, t0, t1, error)


def run_phase(clients, start, end, args, sentences, deadline):
    phase = Phase()
    if end <= start:
        return phase
    counter = Counter(start, end)
    threads = [threading.Thread(target=client_loop, args=(c, counter, phase, args, sentences, deadline),
                                daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        # a client returns by the deadline plus one socket timeout; the extra second is slack
        t.join(max(deadline - time.monotonic(), 0.0) + GRACE_S + 1.0)
    return phase


def main(argv=None):
    args = parse_args(argv)
    try:
        sentences = read_sentences(args.data)
    except (OSError, ValueError) as e:
        print(f"serve_load: {e}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.duration
    clients = [Client(args) for _ in range(args.clients)]

    warm = run_phase(clients, 0, args.warmup, args, sentences, deadline)
    counted = run_phase(clients, args.warmup, args.warmup + args.requests, args, sentences, deadline)
    for c in clients:
        c.close()

    lat_ms = sorted(x * 1000.0 for x in counted.latencies)
    wall = (counted.last_end - counted.first_start) if counted.first_start is not None else 0.0
    attempted = counted.ok + counted.errors
    r = {
        "tool": "serve_load",
        "url": args.url,
        "adapters": args.adapter_names,
        "clients": args.clients,
        "inputs_per_request": args.inputs_per_request,
        "warmup": args.warmup,
        "requests": attempted,
        "requests_planned": args.requests,
        "ok": counted.ok,
        "errors": counted.errors,
        "warmup_errors": warm.errors,
        "stopped_by_duration": attempted < args.requests,
        "wall_s": round(wall, 6),
        "requests_per_s": round(counted.ok / wall, 3) if wall > 0 else None,
        "sequences_per_s": round(counted.ok * args.inputs_per_request / wall, 3) if wall > 0 else None,
        "p50_ms": percentile(lat_ms, 50),
        "p95_ms": percentile(lat_ms, 95),
        "p99_ms": percentile(lat_ms, 99),
        "max_ms": lat_ms[-1] if lat_ms else None,
        "mean_ms": sum(lat_ms) / len(lat_ms) if lat_ms else None,
        "error_samples": (warm.error_samples + counted.error_samples)[:MAX_ERROR_SAMPLES],
    }
    for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"):
        if r[k] is not None:
            r[k] = round(r[k], 3)

    def ms(v):
        return "-" if v is None else f"{v:.1f}"
    line = (f"serve_load: {r['ok']}/{args.requests} ok, {r['errors']} errors"
            + (f" (+{warm.errors} in warm-up)" if warm.errors else "")
            + f", {wall:.2f} s, {r['requests_per_s'] or 0:.1f} req/s, {r['sequences_per_s'] or 0:.1f} seq/s;"
            + f" latency ms p50 {ms(r['p50_ms'])} p95 {ms(r['p95_ms'])} p99 {ms(r['p99_ms'])} max {ms(r['max_ms'])}"
            + f" ({args.clients} clients, {len(args.adapter_names)} adapters, {args.inputs_per_request} inputs/request)"
            + (" [stopped by --duration]" if r["stopped_by_duration"] else ""))
    print(line)
    for s in r["error_samples"]:
        print(f"  error: request {s['index']} ({s['adapter']}): {s['status']}: {s['body']}", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(r, f, indent=2)
            f.write("\n")
    return 1 if (counted.errors or warm.errors or counted.ok == 0) else 0


if __name__ == "__main__":
    sys.exit(main())
