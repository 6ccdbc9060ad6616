"""Load test of ``agrochat serve`` on loopback: N concurrent clients for a fixed time per scenario.

Not a test: measurements from one run on one machine. Scenarios: ``/v1/predict`` with 1 and 64 sequences per
request, and a chat completion, each at 1, 8 and 32 concurrent clients. The server is the real command
(``python -m agrochat serve``, the shipped model) in its own process. Every client sends its own sequence(s) and
checks each number it gets against the prediction made directly with ``Assistant.predict`` in this process
(a "mixed-up" answer is one whose sequence or number is not its own). Errors: anything but HTTP 200 (a 503 from
a full queue included; the server runs with its default queue unless ``--queue-size`` says otherwise).

    python bench/serve_load.py --out bench/results/serve_load_cpu.json
    python bench/serve_load.py --scenarios predict_b1 predict_b64 --clients 1 32 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import torch
from _common import report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from serve_util import free_port  # noqa: E402

from conftest import read_promoters  # noqa: E402

QUESTION = "How strongly is this promoter expressed in tobacco leaf?"
TOL = 1e-4  # batch composition may move the last float digits; a mix-up moves the number by far more


def start_server(port: int, queue_size: int | None) -> subprocess.Popen:
    queue = [] if queue_size is None else ["--queue-size", str(queue_size)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "agrochat", "serve", "--port", str(port), *queue],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("agrochat serve did not start")


class Scenario:
    """One client's request and its check: returns the number of mixed-up answers in a 200 response."""

    def __init__(self, kind: str, seqs: list[str], expected: dict[str, float]) -> None:
        self.kind, self.seqs, self.expected = kind, seqs, expected

    def request(self, client: httpx.Client, i: int) -> tuple[httpx.Response, list[str]]:
        n = len(self.seqs)
        if self.kind == "chat":
            mine = [self.seqs[i % n]]
            body = {"model": "agrochat", "messages": [{"role": "user", "content": f"{QUESTION}\n{mine[0]}"}]}
            return client.post("/v1/chat/completions", json=body), mine
        size = 1 if self.kind == "predict_b1" else 64
        mine = [self.seqs[(i + k) % n] for k in range(size)]  # each client its own order / sequence
        body = {"sequences": mine, "task": "promoter_strength", "tissue": "leaf", "explanations": False}
        return client.post("/v1/predict", json=body), mine

    def mixed_up(self, response: httpx.Response, mine: list[str]) -> int:
        body = response.json()
        if self.kind == "chat":
            preds = body["agrochat"]["predictions"]
            if len(preds) != 1 or preds[0]["sequence"] != mine[0]:
                return 1
            want = self.expected[mine[0]]
            text = body["choices"][0]["message"]["content"]
            return int(abs(preds[0]["value"] - want) > TOL or f"{want:.2f} ±" not in text)
        rows = body["data"]
        if len(rows) != len(mine):
            return len(mine)
        return sum(
            r["sequence"] != s or abs(r["value"] - self.expected[s]) > TOL
            for r, s in zip(rows, mine, strict=True)
        )


def run(base: str, scenario: Scenario, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    counts = {"errors": 0, "mixed_up": 0, "answers": 0}
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client_loop(i: int) -> None:
        with httpx.Client(base_url=base, timeout=600) as c:
            while time.monotonic() < end:
                t = time.perf_counter()
                try:
                    r, mine = scenario.request(c, i)
                    ok = r.status_code == 200
                    bad = scenario.mixed_up(r, mine) if ok else 0
                except (httpx.HTTPError, KeyError, ValueError):
                    ok, bad, mine = False, 0, []
                dt = time.perf_counter() - t
                with lock:
                    if ok:
                        latencies.append(dt)
                        counts["answers"] += len(mine)
                    counts["errors"] += not ok
                    counts["mixed_up"] += bad

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0  # the fixed time plus the requests in flight at its end
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=20) if len(lat) >= 2 else lat * 19
    return {
        "scenario": scenario.kind,
        "clients": clients,
        "seconds": round(wall, 2),
        "requests_ok": len(lat),
        "requests_per_s": round(len(lat) / wall, 3),
        "sequences_per_s": round(counts["answers"] / wall, 2),
        "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "p95_ms": round(1000 * q[18], 1) if lat else None,
        "errors": counts["errors"],
        "mixed_up": counts["mixed_up"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="load time per scenario (plus the drain)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument(
        "--scenarios", nargs="+", default=["predict_b1", "predict_b64", "chat"], help="which scenarios to run"
    )
    ap.add_argument(
        "--queue-size",
        type=int,
        default=None,
        help="the server's --queue-size (default: the server's own default, as a user runs it)",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from agrochat.chat import DEFAULT_MODEL_DIR, Assistant
    from agrochat.provenance import provenance

    seqs = [r["sequence"] for r in read_promoters()]
    assistant = Assistant.from_pretrained()
    expected = {
        p.sequence: p.value
        for p in assistant.predict(seqs, "promoter_strength/leaf", None, explanations=False)
    }
    del assistant
    port = free_port()
    proc = start_server(port, queue_size=args.queue_size)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for kind in args.scenarios:
            scenario = Scenario(kind, seqs, expected)
            run(base, scenario, 1, 1.0)  # warm-up, not reported
            for n in args.clients:
                rows.append(run(base, scenario, n, args.seconds))
                print(rows[-1], flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    report(
        {
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
            },
            "model": "shipped (agrochat/chat/default_model)",
            "sequence_bp": len(seqs[0]),
            "seconds_per_scenario": args.seconds,
            "server_queue_size": args.queue_size if args.queue_size is not None else "default (16)",
            "tolerance": TOL,
            "results": rows,
        },
        args.out,
        provenance(None, DEFAULT_MODEL_DIR),  # fixture sequences, no split
    )


if __name__ == "__main__":
    main()
