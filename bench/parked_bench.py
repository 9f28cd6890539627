"""Parked load: N open incidents waiting on their timers, then memory and visibility.

A fresh ``sla worker`` process (outbox mailer, its own data dir) on the
benchmark's dev server. N minor reports go in through ``starter.report_incident``
(at most ``concurrency`` at a time) and are never acknowledged: each incident
sends its receipt, upserts its search attributes and waits on its reaction-warning
timer (18 business hours away, so none fires during the run).

"Settled" means: every receipt e-mail is in the outbox, the visibility count of
running incidents has reached N, and worker and server together use less than
3 % of a core over a second. Then it reads the resident memory of the worker and
the server from ``/proc`` and times visibility: listing every page of a query on
our search attributes (``Severity``, ``TicketStatus``; ``LifecycleState`` belongs
to maintenance, on-call and change requests, not incidents) and
``client.count_workflows`` with the same query.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench.engine_bench import guarded, plain_report, wait_ready
from bench.stack import Stack, Worker, cpu_seconds, rss_bytes, wait_quiet
from domain.sla import SlaPolicy
from starter import report_incident

Row = dict[str, object]

RUNNING = "WorkflowType = 'IncidentWorkflow' AND ExecutionStatus = 'Running'"
FILTERED = f"{RUNNING} AND Severity = 'minor' AND TicketStatus = 'new'"
SETTLE_LIMIT_S = 1800.0

LABELS: dict[str, str] = {"metric": "metric", "value": "value", "detail": "detail"}


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


async def _timed(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    """Median seconds over ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def _list_all(client: Client, query: str) -> int:
    return sum([1 async for _ in client.list_workflows(query, page_size=1000)])


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


def _receipts(outbox: Path) -> int:
    with os.scandir(outbox) as entries:
        return sum(1 for e in entries if e.name.endswith(".receipt.eml"))


async def _settle(client: Client, stack: Stack, worker: Worker, outbox: Path, n: int) -> None:
    deadline = time.monotonic() + SETTLE_LIMIT_S
    while _receipts(outbox) < n or await _count(client, RUNNING) < n:
        worker.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{n} parked incidents did not settle within {SETTLE_LIMIT_S:.0f} s")
        await asyncio.sleep(1.0)
    await wait_quiet([worker.pid, stack.server_pid])


async def _run(stack: Stack, parked: int, concurrency: int) -> list[Row]:
    client = await stack.client()
    policy = SlaPolicy.default()
    tag = f"{os.getpid()}-{int(time.time())}-parked"
    data = stack.workdir / "parked-data"
    outbox = data / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    before = await _count(client, RUNNING)
    if before:
        raise RuntimeError(f"{before} incidents already running on the benchmark server")

    await wait_quiet([stack.server_pid])
    server_rss_0 = rss_bytes(stack.server_pid)
    worker = stack.start_worker("parked", ["cli.main", "worker"], {"SLA_DATA_DIR": str(data)})
    try:
        await wait_ready(worker)
        await wait_quiet([worker.pid])
        worker_rss_0 = rss_bytes(worker.pid)
        worker_cpu_0, server_cpu_0 = worker.cpu(), cpu_seconds(stack.server_pid)

        gate = asyncio.Semaphore(concurrency)

        async def start(i: int) -> str:
            async with gate:
                return await report_incident(client, plain_report(f"{tag}-{i}"), policy=policy)

        started = time.perf_counter()
        await guarded(asyncio.gather(*(start(i) for i in range(parked))), [worker])
        start_s = time.perf_counter() - started
        await _settle(client, stack, worker, outbox, parked)
        settle_s = time.perf_counter() - started - start_s
        worker_cpu_1, server_cpu_1 = worker.cpu(), cpu_seconds(stack.server_pid)
        worker_rss_1 = rss_bytes(worker.pid)
        server_rss_1 = rss_bytes(stack.server_pid)

        list_s, listed = await _timed(lambda: _list_all(client, FILTERED), 3)
        list_all_s, listed_all = await _timed(lambda: _list_all(client, RUNNING), 3)
        count_s, counted = await _timed(lambda: _count(client, FILTERED), 5)
    finally:
        worker.stop()

    def cpu_ms(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round((b - a) * 1000 / parked, 2)

    rows: list[Row] = [
        {"metric": "parked incidents", "value": parked, "detail": "minor, not acknowledged"},
        {
            "metric": "start rate, incidents/s",
            "value": round(parked / start_s, 1),
            "detail": f"{start_s:.1f} s for all report_incident calls",
        },
        {
            "metric": "settled after last start, s",
            "value": round(settle_s, 1),
            "detail": "receipts written, visibility count = N, CPU quiet",
        },
        {
            "metric": "worker RSS, MiB",
            "value": _mib(worker_rss_1),
            "detail": f"idle before: {_mib(worker_rss_0)} MiB",
        },
        {
            "metric": "server RSS, MiB",
            "value": _mib(server_rss_1),
            "detail": f"before the parked phase: {_mib(server_rss_0)} MiB",
        },
        {
            "metric": "worker CPU per parked incident, ms",
            "value": cpu_ms(worker_cpu_0, worker_cpu_1),
            "detail": "start to settled",
        },
        {
            "metric": "server CPU per parked incident, ms",
            "value": cpu_ms(server_cpu_0, server_cpu_1),
            "detail": "start to settled",
        },
        {
            "metric": "list, filtered, all pages, s",
            "value": round(list_s, 3),
            "detail": f"{listed} rows, median of 3 (query A)",
        },
        {
            "metric": "list, running incidents, all pages, s",
            "value": round(list_all_s, 3),
            "detail": f"{listed_all} rows, median of 3 (query B)",
        },
        {
            "metric": "count_workflows, filtered, ms",
            "value": round(count_s * 1000, 1),
            "detail": f"count {counted}, median of 5 (query A)",
        },
        {
            "note": (
                "one worker process with the SDK's default cache (max_cached_workflows=1000); "
                f"dev server with {stack.store} (SQL visibility); "
                "page size 1000"
            )
        },
        {"note": f"query A: {FILTERED}"},
        {"note": f"query B: {RUNNING}"},
    ]
    return rows


def run(stack: Stack, parked: int, concurrency: int) -> list[Row]:
    """Park ``parked`` incidents on ``stack``'s server; return table rows."""
    return asyncio.run(_run(stack, parked, concurrency))
