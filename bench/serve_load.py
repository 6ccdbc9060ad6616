"""Load test of ``agrochat serve`` on loopback: N concurrent clients for a fixed time per scenario.

Not a test: measurements from one run on one machine. Scenarios: ``/v1/predict`` with 1 and 64 sequences per
request, and a chat completion, each at 1, 8 and 32 concurrent clients. The server is the real command
(``python -m agrochat serve``, the shipped model) in its own process. Every client sends its own sequence(s) and
checks each number it gets against the prediction made directly with ``Assistant.predict`` in this process
(a "mixed-up" answer is one whose sequence or number is not its own). Errors: anything but HTTP 200 (a 503 from
a full queue included; the server runs with its default queue unless ``--queue-size`` says otherwise).

The clients are coroutines on one event loop, each with its own kept-alive HTTP/1.1 connection, written with bare
asyncio streams: the server shares the machine's cores with them, and 32 threads of a full HTTP client library
took more CPU per request than the server did (the earlier version of this benchmark, with ``httpx`` threads,
measured its own clients as much as the server).

    python bench/serve_load.py --out bench/results/serve_load_cpu.json
    python bench/serve_load.py --scenarios predict_b1 predict_b64 --clients 1 32 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
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


def start_server(
    port: int, queue_size: int | None, wait_ms: float | None = None, max_batch: int | None = None
) -> subprocess.Popen:
    queue = [] if queue_size is None else ["--queue-size", str(queue_size)]
    queue += [] if wait_ms is None else ["--batch-wait-ms", str(wait_ms)]
    queue += [] if max_batch is None else ["--max-batch", str(max_batch)]
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

    def request(self, i: int) -> tuple[str, dict, list[str]]:
        """The path, the JSON body and the sequences of client ``i``'s request."""
        n = len(self.seqs)
        if self.kind == "chat":
            mine = [self.seqs[i % n]]
            body = {"model": "agrochat", "messages": [{"role": "user", "content": f"{QUESTION}\n{mine[0]}"}]}
            return "/v1/chat/completions", body, mine
        size = 1 if self.kind == "predict_b1" else 64
        mine = [self.seqs[(i + k) % n] for k in range(size)]  # each client its own order / sequence
        body = {"sequences": mine, "task": "promoter_strength", "tissue": "leaf", "explanations": False}
        return "/v1/predict", body, mine

    def mixed_up(self, body: dict, mine: list[str]) -> int:
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


def encode(path: str, body: dict) -> bytes:
    """An HTTP/1.1 POST of ``body`` as JSON (each client sends the same request again and again)."""
    data = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data


async def post(reader, writer, message: bytes) -> tuple[int, bytes]:
    """One request on a kept-alive connection: the status and the body of its answer."""
    writer.write(message)
    lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    fields = dict(line.split(b":", 1) for line in lines[1:] if b":" in line)
    length = {k.strip().lower(): v for k, v in fields.items()}.get(b"content-length")
    if length is None:
        raise ValueError("no Content-Length (a streamed answer)")
    return status, await reader.readexactly(int(length))


async def run_async(port: int, scenario: Scenario, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    counts = {"errors": 0, "mixed_up": 0, "answers": 0}
    end = time.monotonic() + seconds

    async def client_loop(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        path, body, mine = scenario.request(i)
        message = encode(path, body)
        try:
            while time.monotonic() < end:
                t = time.perf_counter()
                try:
                    status, data = await post(reader, writer, message)
                    ok = status == 200
                    bad = scenario.mixed_up(json.loads(data), mine) if ok else 0
                except (OSError, asyncio.IncompleteReadError, KeyError, ValueError):
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)  # a fresh connection
                    ok, bad = False, 0
                dt = time.perf_counter() - t
                if ok:
                    latencies.append(dt)
                    counts["answers"] += len(mine)
                counts["errors"] += not ok
                counts["mixed_up"] += bad
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client_loop(i) for i in range(clients)))
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


def batches(port: int) -> int:
    """The model batches /v1/predict has run so far (the server's /health)."""
    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["queue"]["predict_batches"]


def run(port: int, scenario: Scenario, clients: int, seconds: float) -> dict:
    before = batches(port)
    row = asyncio.run(run_async(port, scenario, clients, seconds))
    if scenario.kind != "chat":  # the mean model batch the requests were gathered into
        n = batches(port) - before
        row["mean_batch"] = round(row["sequences_per_s"] * row["seconds"] / max(n, 1), 1)
    return row


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
    ap.add_argument(
        "--batch-wait-ms", type=float, default=None, help="the server's --batch-wait-ms (default: its own)"
    )
    ap.add_argument("--max-batch", type=int, default=None, help="the server's --max-batch (default: its own)")
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
    proc = start_server(
        port, queue_size=args.queue_size, wait_ms=args.batch_wait_ms, max_batch=args.max_batch
    )
    rows = []
    try:
        for kind in args.scenarios:
            scenario = Scenario(kind, seqs, expected)
            run(port, scenario, 1, 1.0)  # warm-up, not reported
            for n in args.clients:
                rows.append(run(port, scenario, n, args.seconds))
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
            "server_max_batch": args.max_batch if args.max_batch is not None else "default (256)",
            "tolerance": TOL,
            "results": rows,
        },
        args.out,
        provenance(None, DEFAULT_MODEL_DIR),  # fixture sequences, no split
    )


if __name__ == "__main__":
    main()
