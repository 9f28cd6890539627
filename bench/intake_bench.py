"""Intake through the HTTP API vs ``service.open_incident`` called directly, in one run.

One Temporal dev server (:mod:`bench.stack`, shared with the other benchmarks)
and one ``sla api`` process against it (uvicorn, one worker process, a token
configured as in production). Both sides open N incidents from distinct minor
reports (each with its own request ID, as intake systems send them) with at
most ``concurrency`` calls in flight, after a warm-up that is not counted, in
alternating rounds (direct, HTTP, direct, HTTP):

* **direct** — ``service.incidents.open_incident`` from this process (the path
  ``starter.report_incident`` takes);
* **HTTP** — ``POST /v1/reports`` with ``Authorization: Bearer`` and an
  ``Idempotency-Key``, from an ``httpx`` client with as many connections as
  calls in flight; the API process then makes the same ``open_incident`` call.

Latency per call from sending to the answer; reports/s over each side's rounds.
No worker runs: intake ends when the workflow is started (the worker's part is
the ``engine`` benchmark's).
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from api.tokens import token_digest
from bench.stack import Stack, Worker, free_port
from domain.sla import SlaPolicy
from service.incidents import open_incident

LABELS = {
    "door": "door",
    "reports": "reports",
    "per_second": "reports/s",
    "p50_ms": "p50 ms",
    "p99_ms": "p99 ms",
    "ratio": "time ÷ direct",
}

TARGET_RATIO = 1.3
"""The API may cost at most this much of the direct call (issue 15)."""


def _report(tag: str, number: int) -> dict[str, Any]:
    return {
        "company": "Bench Versand GmbH",
        "full_name": "Erika Mustermann",
        "phone": "+49 2131 123456",
        "email": "erika.mustermann@beispiel-versand.de",
        "description": f"Benchmark {tag} {number}: Etikettendruck langsam.",
        "first_noticed_at": "2026-11-24T09:12:00+01:00",
        "scope": "some_workstations",
        "reproducible": True,
        "channel": "chat",
        "workaround_available": True,
    }


async def _measure(
    count: int, concurrency: int, call: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Run ``call(i)`` for ``i < count`` with ``concurrency`` in flight; (seconds, latencies)."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int) -> None:
        async with gate:
            started = time.perf_counter()
            await call(number)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return time.perf_counter() - started, latencies


def _start_api(stack: Stack, token: str) -> tuple[Worker, int]:
    port = free_port()
    worker = stack.start_worker(
        "api",
        ["cli.main", "api", "--host", "127.0.0.1", "--port", str(port)],
        {"SLA_API_TOKENS": f"bench:{token_digest(token)}"},
    )
    return worker, port


async def _until_healthy(worker: Worker, base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as http:
        while True:
            worker.check()
            try:
                if (await http.get(base + "/healthz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not answer on {base}")
            await asyncio.sleep(0.2)


async def _run(stack: Stack, count: int, concurrency: int) -> list[dict[str, object]]:
    client = await stack.client()
    policy = SlaPolicy.default()
    token = uuid.uuid4().hex
    worker, port = _start_api(stack, token)
    base = f"http://127.0.0.1:{port}"
    try:
        await _until_healthy(worker, base)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=base,
            limits=limits,
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            run_id = uuid.uuid4().hex[:8]

            def direct(round_: str) -> Callable[[int], Awaitable[None]]:
                async def call(number: int) -> None:
                    await open_incident(
                        client,
                        {**_report("direct", number), "request_id": f"{run_id}-{round_}-{number}"},
                        policy=policy,
                    )

                return call

            def over_http(round_: str) -> Callable[[int], Awaitable[None]]:
                async def call(number: int) -> None:
                    response = await http.post(
                        "/v1/reports",
                        json=_report("http", number),
                        headers={"Idempotency-Key": f"{run_id}-{round_}-{number}"},
                    )
                    if response.status_code != 201:
                        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")

                return call

            warm = max(10, concurrency)
            await _measure(warm, concurrency, direct("warm"))
            await _measure(warm, concurrency, over_http("warm"))
            half = max(1, count // 2)
            totals = {"direct": 0.0, "HTTP": 0.0}
            latencies: dict[str, list[float]] = {"direct": [], "HTTP": []}
            for round_ in ("a", "b"):
                for door, make in (("direct", direct), ("HTTP", over_http)):
                    seconds, measured = await _measure(half, concurrency, make(round_))
                    totals[door] += seconds
                    latencies[door] += measured
                    worker.check()
    finally:
        worker.stop()
        stack.workers.remove(worker)

    rows: list[dict[str, object]] = []
    for door, label in (
        ("direct", "direct: service.open_incident"),
        ("HTTP", "HTTP: POST /v1/reports"),
    ):
        samples = sorted(latencies[door])
        rows.append(
            {
                "door": label,
                "reports": len(samples),
                "per_second": len(samples) / totals[door],
                "p50_ms": statistics.median(samples) * 1000,
                "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
                "ratio": totals[door] / totals["direct"],
            }
        )
    ratio = totals["HTTP"] / totals["direct"]
    verdict = "within" if ratio <= TARGET_RATIO else "ABOVE"
    rows.append(
        {
            "note": f"{concurrency} calls in flight, {socket.gethostname()}: the API takes "
            f"{ratio:.2f}× the direct call's time, {verdict} the target of {TARGET_RATIO}×"
        }
    )
    return rows


def run(stack: Stack, count: int, concurrency: int) -> list[dict[str, object]]:
    """The intake rows (direct, HTTP) and a note on the ratio."""
    return asyncio.run(_run(stack, count, concurrency))
