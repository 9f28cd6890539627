"""Engine throughput: plain incident lifecycles against the baseline workflow, in one run.

One Temporal dev server (:mod:`bench.stack`), one worker process per side:

* **engine** — ``sla worker`` (``python -m cli.main worker``) with the outbox
  mailer in a temporary data dir. A lifecycle is what intake and an operator do:
  ``starter.report_incident`` (a minor report: workaround available, chat, some
  workstations, with a ``request_id`` like every intake service sends), then the
  CLI's updates ``IncidentWorkflow.acknowledge`` (minor, estimate tomorrow) and
  ``IncidentWorkflow.resolve``, then the workflow's result. Policy: the shipped
  one (``SlaPolicy.default()``, Mon-Fri 08-18 Europe/Berlin); with a minor report
  no deadline comes near during the run, so no timer fires, whatever the hour.
* **baseline** — :class:`bench.baseline.BaselineWorkflow` in its own worker
  process (same sandbox runner, same data converter): the same two updates with
  the same payloads and one no-op activity per e-mail the engine sent after each
  step, counted first on a few calibration lifecycles of the real engine.

Both sides run N lifecycles with at most ``concurrency`` in flight, from one
client, after a warm-up that is not counted, in alternating rounds (baseline,
engine, baseline, engine). Latency "call → e-mail": from issuing a step's call
(``time.time()``) to the last e-mail of that step — the outbox file's mtime
(engine) or the no-op activity's completion time (baseline). CPU from ``/proc``
before/after each measured round. Histories of a sample of each side, and of a
few lifecycles run one at a time at an operator's pace ("paced"), give events,
bytes and billable actions per lifecycle (rules: :mod:`bench.histories`).
Details and figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench import baseline
from bench.baseline import BaselineInput, BaselineWorkflow
from bench.histories import (
    ACTION_KINDS,
    billable_actions,
    describe,
    event_type_name,
    histogram,
    mean_max,
    typical,
)
from bench.stack import Stack, Worker, cpu_seconds
from domain.incident import Acknowledge, Resolve
from domain.sla import Severity, SlaPolicy
from starter import report_incident
from workflows.incident import IncidentWorkflow

Row = dict[str, object]

TARGET_RATIO = 0.6
TARGET_EVENTS = 30
CALIBRATION = 3
WARM_UP = 10
HISTORY_SAMPLE = 50
ROUNDS = 2

LABELS: dict[str, str] = {
    "metric": "metric",
    "engine": "engine",
    "baseline": "baseline",
    "engine_over_baseline": "engine / baseline",
    "billable_action": "billable action (per lifecycle, mean)",
    "paced_engine": "engine, paced",
    "paced_baseline": "baseline, paced",
    "event_type": "history event (one lifecycle)",
    "paced_events": "engine, paced",
    "paced_baseline_events": "baseline, paced",
    "engine_events": "engine, under load",
    "baseline_events": "baseline, under load",
    "target": "target",
    "value": "measured",
    "limit": "limit",
    "met": "met",
}


def plain_report(request_id: str) -> dict[str, Any]:
    """A valid minor report (workaround available) on the chat channel."""
    return {
        "company": "Beispiel Versand GmbH",
        "full_name": "Erika Mustermann",
        "phone": "+49 2131 123456",
        "email": "erika.mustermann@beispiel-versand.de",
        "description": "Statistik lädt langsam; Export als Umweg funktioniert.",
        "first_noticed_at": datetime.now(UTC).isoformat(),
        "scope": "some_workstations",
        "reproducible": True,
        "channel": "chat",
        "request_id": request_id,
        "workaround_available": True,
    }


def _acknowledge() -> Acknowledge:
    return Acknowledge(severity=Severity.MINOR, estimate=datetime.now(UTC) + timedelta(days=1))


_RESOLVE = Resolve(summary="Index neu aufgebaut (Benchmark).")


@dataclass
class Sample:
    """One lifecycle: when each step's call was issued and returned, and its e-mails."""

    ticket: str
    issued: list[float]
    returned: list[float]
    closed: float
    written: list[float | None] = field(default_factory=lambda: [None, None, None])


async def engine_lifecycle(
    client: Client, policy: SlaPolicy, request_id: str, pause: float = 0.0
) -> Sample:
    """Report, acknowledge, resolve one incident the way intake and the CLI do."""
    issued, returned = [time.time()], []
    ticket = await report_incident(client, plain_report(request_id), policy=policy)
    returned.append(time.time())
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
    await asyncio.sleep(pause)
    issued.append(time.time())
    await handle.execute_update(IncidentWorkflow.acknowledge, _acknowledge())
    returned.append(time.time())
    await asyncio.sleep(pause)
    issued.append(time.time())
    await handle.execute_update(IncidentWorkflow.resolve, _RESOLVE)
    returned.append(time.time())
    await handle.result()
    return Sample(ticket, issued, returned, time.time())


async def baseline_lifecycle(
    client: Client, workflow_id: str, mails: tuple[int, int, int], pause: float = 0.0
) -> Sample:
    """The same three calls against the baseline workflow."""
    issued, returned = [time.time()], []
    handle = await client.start_workflow(
        BaselineWorkflow.run,
        BaselineInput(ticket_id=workflow_id, mails=mails),
        id=workflow_id,
        task_queue=baseline.TASK_QUEUE,
    )
    returned.append(time.time())
    await asyncio.sleep(pause)
    issued.append(time.time())
    await handle.execute_update(BaselineWorkflow.acknowledge, _acknowledge())
    returned.append(time.time())
    await asyncio.sleep(pause)
    issued.append(time.time())
    await handle.execute_update(BaselineWorkflow.resolve, _RESOLVE)
    returned.append(time.time())
    written = await handle.result()
    return Sample(workflow_id, issued, returned, time.time(), list(written))


async def guarded(work: Awaitable[Any], workers: Sequence[Worker]) -> Any:
    """Await ``work``, failing at once if a worker process dies meanwhile."""
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.wait({task}, timeout=1.0)
        for worker in workers:
            if worker.process.poll() is not None:
                task.cancel()
                worker.check()
    return task.result()


async def drive(
    n: int, concurrency: int, lifecycle: Callable[[int], Awaitable[Sample]]
) -> tuple[list[Sample], float]:
    """Run ``n`` lifecycles, at most ``concurrency`` at a time; samples and wall seconds."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Sample:
        async with gate:
            return await lifecycle(i)

    started = time.perf_counter()
    samples = await asyncio.gather(*(one(i) for i in range(n)))
    return list(samples), time.perf_counter() - started


@dataclass
class Phase:
    """One measured side."""

    samples: list[Sample]
    wall_s: float
    worker_cpu_s: float | None
    server_cpu_s: float | None
    client_cpu_s: float
    histograms: list[Counter[str]] = field(default_factory=list)
    actions: list[Counter[str]] = field(default_factory=list)
    sequences: list[list[str]] = field(default_factory=list)
    sizes: list[Counter[str]] = field(default_factory=list)
    mails_per_lifecycle: float = 0.0

    @classmethod
    def combine(cls, parts: Sequence[Phase]) -> Phase:
        """One phase from measured rounds: samples joined, times and CPU added up."""

        def total(values: list[float | None]) -> float | None:
            return None if any(v is None for v in values) else sum(v or 0.0 for v in values)

        return cls(
            samples=[s for p in parts for s in p.samples],
            wall_s=sum(p.wall_s for p in parts),
            worker_cpu_s=total([p.worker_cpu_s for p in parts]),
            server_cpu_s=total([p.server_cpu_s for p in parts]),
            client_cpu_s=sum(p.client_cpu_s for p in parts),
        )


def _engine_by_id(client: Client, request_id: str, policy: SlaPolicy) -> Awaitable[Sample]:
    return engine_lifecycle(client, policy, request_id)


def _numbered(
    lifecycle: Callable[[Client, str, Any], Awaitable[Sample]],
    client: Client,
    prefix: str,
    extra: Any,
) -> Callable[[int], Awaitable[Sample]]:
    """``lifecycle(client, f"{prefix}-{i}", extra)`` for lifecycle number ``i``."""
    return lambda i: lifecycle(client, f"{prefix}-{i}", extra)


def _rounds(n: int, rounds: int) -> list[tuple[int, int]]:
    """(first index, size) of ``rounds`` nearly equal parts of ``n``."""
    sizes = [n // rounds + (1 if r < n % rounds else 0) for r in range(rounds)]
    firsts = [sum(sizes[:r]) for r in range(rounds)]
    return [(f, z) for f, z in zip(firsts, sizes, strict=True) if z]


async def measure(
    stack: Stack,
    worker: Worker,
    n: int,
    concurrency: int,
    lifecycle: Callable[[int], Awaitable[Sample]],
) -> Phase:
    """Drive ``n`` lifecycles and read the CPU of worker, server and this process around it."""
    worker_0, server_0, client_0 = worker.cpu(), cpu_seconds(stack.server_pid), time.process_time()
    samples, wall = await guarded(drive(n, concurrency, lifecycle), [worker])
    worker_1, server_1 = worker.cpu(), cpu_seconds(stack.server_pid)
    return Phase(
        samples=samples,
        wall_s=wall,
        worker_cpu_s=None if worker_0 is None or worker_1 is None else worker_1 - worker_0,
        server_cpu_s=None if server_0 is None or server_1 is None else server_1 - server_0,
        client_cpu_s=time.process_time() - client_0,
    )


# -- the outbox -------------------------------------------------------------------------


def scan_outbox(outbox: Path) -> dict[str, list[tuple[str, float]]]:
    """Per ticket: (message kind, mtime) of each ``<ticket>.<seq>.<kind>.eml`` file."""
    found: dict[str, list[tuple[str, float]]] = {}
    with os.scandir(outbox) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(".eml"):
                continue
            parts = entry.name[: -len(".eml")].split(".")
            if len(parts) != 3:
                continue
            ticket, _, kind = parts
            found.setdefault(ticket, []).append((kind, entry.stat().st_mtime_ns / 1e9))
    return found


@dataclass(frozen=True)
class Calibration:
    """Which step sends which kind of e-mail, and how many per step."""

    step_of_kind: dict[str, int]
    mails: tuple[int, int, int]
    shapes: int
    tickets: tuple[str, ...]


async def wait_ready(worker: Worker, limit: float = 90) -> None:
    """Wait until the worker process logged that it polls its task queue."""
    deadline = time.monotonic() + limit
    while "worker on task queue" not in worker.log.read_text(errors="replace"):
        worker.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker {worker.name} did not start within {limit:.0f} s")
        await asyncio.sleep(0.2)


async def calibrate(
    client: Client, policy: SlaPolicy, tag: str, outbox: Path, worker: Worker
) -> Calibration:
    """A few lifecycles, one at a time with pauses, to attribute each e-mail to its step.

    The first lifecycle of a fresh worker is slow (imports, calendar index); a
    kind's step is the one most lifecycles agree on.
    """
    samples = []
    for i in range(CALIBRATION):
        samples.append(
            await guarded(engine_lifecycle(client, policy, f"{tag}-cal-{i}", pause=1.0), [worker])
        )
    await asyncio.sleep(0.5)
    mails = scan_outbox(outbox)
    votes: dict[str, Counter[int]] = {}
    steps_seen: list[list[tuple[str, int]]] = []
    for sample in samples:
        seen = []
        for kind, at in mails.get(sample.ticket, []):
            step = 0 if at < sample.issued[1] else 1 if at < sample.issued[2] else 2
            votes.setdefault(kind, Counter())[step] += 1
            seen.append((kind, step))
        steps_seen.append(seen)
    step_of_kind = {kind: c.most_common(1)[0][0] for kind, c in votes.items()}
    counts: Counter[tuple[int, int, int]] = Counter()
    for seen in steps_seen:
        per_step = [0, 0, 0]
        for kind, _ in seen:
            per_step[step_of_kind[kind]] += 1
        counts[per_step[0], per_step[1], per_step[2]] += 1
    return Calibration(
        step_of_kind,
        counts.most_common(1)[0][0],
        len(counts),
        tuple(s.ticket for s in samples),
    )


def attribute_mails(samples: Sequence[Sample], outbox: Path, calibration: Calibration) -> float:
    """Fill each sample's per-step e-mail time from the outbox; mean e-mails per lifecycle."""
    mails = scan_outbox(outbox)
    total = 0
    for sample in samples:
        for kind, at in mails.get(sample.ticket, []):
            total += 1
            step = calibration.step_of_kind.get(kind)
            if step is not None:
                current = sample.written[step]
                sample.written[step] = at if current is None else max(current, at)
    return total / len(samples)


# -- histories ------------------------------------------------------------------------------


def _archive_appends(phase: Phase) -> str:
    """Archive appends per sampled lifecycle: local attempts / regular (retried) ones."""
    if not phase.sequences:
        return "-"
    local = [s.count("MarkerRecorded(archive_append)") for s in phase.sequences]
    retried = [s.count("ActivityTaskScheduled(archive_append)") for s in phase.sequences]
    return f"{statistics.fmean(local):.2f} / {statistics.fmean(retried):.2f}"


async def read_histories(client: Client, ids: Sequence[str], phase: Phase) -> None:
    """Event histograms and billable actions of the workflows ``ids``."""
    gate = asyncio.Semaphore(8)

    async def one(workflow_id: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        events = list(history.events)
        phase.histograms.append(histogram(events))
        phase.sequences.append([describe(e) for e in events])
        sizes: Counter[str] = Counter()
        for event in events:
            sizes[event_type_name(event)] += event.ByteSize()
        phase.sizes.append(sizes)
        phase.actions.append(billable_actions(events))

    await asyncio.gather(*(one(i) for i in ids))


def sample_ids(samples: Sequence[Sample], size: int = HISTORY_SAMPLE) -> list[str]:
    """Up to ``size`` workflow IDs spread evenly over the samples."""
    step = max(1, len(samples) // size)
    return [s.ticket for s in samples[::step][:size]]


# -- figures --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``None`` for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def _latencies(phase: Phase, steps: Sequence[int]) -> list[float]:
    return [
        written - s.issued[step]
        for s in phase.samples
        for step in steps
        if (written := s.written[step]) is not None
    ]


def _call_times(phase: Phase, steps: Sequence[int]) -> list[float]:
    return [s.returned[step] - s.issued[step] for s in phase.samples for step in steps]


def _per_lifecycle_ms(seconds: float | None, n: int) -> float | None:
    return None if seconds is None else round(seconds * 1000 / n, 2)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 2)


def _row(metric: str, engine: float | None, base: float | None) -> Row:
    return {
        "metric": metric,
        "engine": engine,
        "baseline": base,
        "engine_over_baseline": _ratio(engine, base),
    }


def figures(engine: Phase, base: Phase, paced: Phase, paced_base: Phase, n: int) -> list[Row]:
    """The comparison table rows."""
    rows: list[Row] = []
    rate_e, rate_b = n / engine.wall_s, n / base.wall_s
    rows.append(_row("lifecycles/s", round(rate_e, 2), round(rate_b, 2)))
    rows.append(_row("wall time, s", round(engine.wall_s, 2), round(base.wall_s, 2)))
    for label, steps, q in (
        ("update call → e-mail written, p50 ms", (1, 2), 50),
        ("update call → e-mail written, p99 ms", (1, 2), 99),
        ("start call → receipt e-mail, p50 ms", (0,), 50),
        ("start call → receipt e-mail, p99 ms", (0,), 99),
    ):
        rows.append(
            _row(
                label,
                _ms(percentile(_latencies(engine, steps), q)),
                _ms(percentile(_latencies(base, steps), q)),
            )
        )
    for label, steps in (
        ("start call returns, p50 ms", (0,)),
        ("update call returns, p50 ms", (1, 2)),
    ):
        rows.append(
            _row(
                label,
                _ms(percentile(_call_times(engine, steps), 50)),
                _ms(percentile(_call_times(base, steps), 50)),
            )
        )
    rows.append(
        _row(
            "lifecycle (start call → closed), p50 ms",
            _ms(percentile([s.closed - s.issued[0] for s in engine.samples], 50)),
            _ms(percentile([s.closed - s.issued[0] for s in base.samples], 50)),
        )
    )
    events_e = [sum(h.values()) for h in engine.histograms]
    events_b = [sum(h.values()) for h in base.histograms]
    mean_e, max_e = mean_max(events_e)
    mean_b, max_b = mean_max(events_b)
    rows.append(_row("history events per lifecycle, mean", round(mean_e, 1), round(mean_b, 1)))
    rows.append(_row("history events per lifecycle, max", max_e, max_b))
    rows.append(
        _row(
            "history size per lifecycle, mean KiB",
            round(statistics.fmean(sum(z.values()) for z in engine.sizes) / 1024, 1),
            round(statistics.fmean(sum(z.values()) for z in base.sizes) / 1024, 1),
        )
    )
    tasks_e = [h["WorkflowTaskCompleted"] for h in engine.histograms]
    tasks_b = [h["WorkflowTaskCompleted"] for h in base.histograms]
    rows.append(
        _row(
            "workflow tasks per lifecycle, mean",
            round(statistics.fmean(tasks_e), 1),
            round(statistics.fmean(tasks_b), 1),
        )
    )
    rows.append(
        {
            "metric": "archive appends per lifecycle, mean (local / retried)",
            "engine": _archive_appends(engine),
            "baseline": "-",
            "engine_over_baseline": None,
        }
    )
    actions_e = [sum(a.values()) for a in engine.actions]
    actions_b = [sum(a.values()) for a in base.actions]
    a_mean_e, a_max_e = mean_max(actions_e)
    a_mean_b, a_max_b = mean_max(actions_b)
    rows.append(
        _row("billable actions per lifecycle, mean", round(a_mean_e, 2), round(a_mean_b, 2))
    )
    rows.append(_row("billable actions per lifecycle, max", a_max_e, a_max_b))
    rows.append(
        _row(
            "e-mails / no-op activities per lifecycle",
            round(engine.mails_per_lifecycle, 2),
            round(base.mails_per_lifecycle, 2),
        )
    )
    rows.append(
        _row(
            "worker CPU per lifecycle, ms",
            _per_lifecycle_ms(engine.worker_cpu_s, n),
            _per_lifecycle_ms(base.worker_cpu_s, n),
        )
    )
    rows.append(
        _row(
            "server CPU per lifecycle, ms",
            _per_lifecycle_ms(engine.server_cpu_s, n),
            _per_lifecycle_ms(base.server_cpu_s, n),
        )
    )
    rows.append(
        _row(
            "client (this process) CPU per lifecycle, ms",
            _per_lifecycle_ms(engine.client_cpu_s, n),
            _per_lifecycle_ms(base.client_cpu_s, n),
        )
    )

    for kind in [*ACTION_KINDS, "total"]:
        means = [
            statistics.fmean(sum(a.values()) if kind == "total" else a[kind] for a in phase.actions)
            for phase in (paced, paced_base, engine, base)
        ]
        if any(means):
            rows.append(
                {
                    "billable_action": kind,
                    "paced_engine": round(means[0], 2),
                    "paced_baseline": round(means[1], 2),
                    "engine": round(means[2], 2),
                    "baseline": round(means[3], 2),
                }
            )

    shape_p, _ = typical(paced.histograms)
    shape_pb, _ = typical(paced_base.histograms)
    shape_e, _ = typical(engine.histograms)
    shape_b, _ = typical(base.histograms)
    for event_type in sorted(
        set(shape_p) | set(shape_pb) | set(shape_e) | set(shape_b),
        key=lambda t: (-shape_p[t], -shape_e[t], t),
    ):
        rows.append(
            {
                "event_type": event_type,
                "paced_events": shape_p[event_type],
                "paced_baseline_events": shape_pb[event_type],
                "engine_events": shape_e[event_type],
                "baseline_events": shape_b[event_type],
            }
        )
    rows.append(
        {
            "event_type": "total",
            "paced_events": sum(shape_p.values()),
            "paced_baseline_events": sum(shape_pb.values()),
            "engine_events": sum(shape_e.values()),
            "baseline_events": sum(shape_b.values()),
        }
    )

    ratio = rate_e / rate_b
    rows.append(
        {
            "target": "engine lifecycles/s ≥ 0.6 × baseline",
            "value": f"{ratio:.2f} ({rate_e:.1f} / {rate_b:.1f} per s)",
            "limit": f"{TARGET_RATIO:g}",
            "met": ratio >= TARGET_RATIO,
        }
    )
    max_p = max(sum(h.values()) for h in paced.histograms)
    max_pb = max(sum(h.values()) for h in paced_base.histograms)
    rows.append(
        {
            "target": "history events per plain lifecycle ≤ 30",
            "value": (
                f"paced {max_p} (baseline {max_pb}); under load {max_e} max, {mean_e:.1f} mean"
            ),
            "limit": f"{TARGET_EVENTS}",
            "met": max(max_e, max_p) <= TARGET_EVENTS,
        }
    )
    return rows


# -- the benchmark --------------------------------------------------------------------------


async def _run(stack: Stack, incidents: int, concurrency: int) -> list[Row]:
    client = await stack.client()
    policy = SlaPolicy.default()
    tag = f"{os.getpid()}-{int(time.time())}"
    data = stack.workdir / "engine-data"
    outbox = data / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    engine_worker = stack.start_worker(
        "engine", ["cli.main", "worker"], {"SLA_DATA_DIR": str(data)}
    )
    try:
        await wait_ready(engine_worker)
        calibration = await calibrate(client, policy, tag, outbox, engine_worker)
        await guarded(
            drive(
                min(WARM_UP, incidents),
                concurrency,
                lambda i: engine_lifecycle(client, policy, f"{tag}-warm-{i}"),
            ),
            [engine_worker],
        )

        base_worker = stack.start_worker("baseline", ["bench.baseline"], {})
        mails = calibration.mails
        try:
            await wait_ready(base_worker)
            await guarded(
                drive(
                    min(WARM_UP, incidents),
                    concurrency,
                    lambda i: baseline_lifecycle(client, f"BASE-{tag}-warm-{i}", mails),
                ),
                [base_worker],
            )
            # Alternate the sides in rounds, so that load from elsewhere on the
            # machine hits both alike.
            base_parts, engine_parts = [], []
            for first, size in _rounds(incidents, ROUNDS):
                base_parts.append(
                    await measure(
                        stack,
                        base_worker,
                        size,
                        concurrency,
                        _numbered(baseline_lifecycle, client, f"BASE-{tag}-{first}", mails),
                    )
                )
                engine_parts.append(
                    await measure(
                        stack,
                        engine_worker,
                        size,
                        concurrency,
                        _numbered(_engine_by_id, client, f"{tag}-{first}", policy),
                    )
                )
            paced_ids = []
            for i in range(CALIBRATION):
                sample = await guarded(
                    baseline_lifecycle(client, f"BASE-{tag}-paced-{i}", mails, pause=1.0),
                    [base_worker],
                )
                paced_ids.append(sample.ticket)
        finally:
            base_worker.stop()
        base = Phase.combine(base_parts)
        engine = Phase.combine(engine_parts)
        base.mails_per_lifecycle = float(sum(mails))
        engine.mails_per_lifecycle = attribute_mails(engine.samples, outbox, calibration)
        await read_histories(client, sample_ids(engine.samples), engine)
        await read_histories(client, sample_ids(base.samples), base)
        paced = Phase(samples=[], wall_s=0.0, worker_cpu_s=None, server_cpu_s=None, client_cpu_s=0)
        await read_histories(client, calibration.tickets, paced)
        paced_base = Phase(
            samples=[], wall_s=0.0, worker_cpu_s=None, server_cpu_s=None, client_cpu_s=0
        )
        await read_histories(client, paced_ids, paced_base)
    finally:
        engine_worker.stop()

    rows = figures(engine, base, paced, paced_base, incidents)
    _, shapes_e = typical(engine.histograms)

    def largest(phase: Phase) -> str:
        total: Counter[str] = Counter()
        for sizes in phase.sizes:
            total.update(sizes)
        n = len(phase.sizes)
        return ", ".join(f"{k} {v / n / 1024:.1f}" for k, v in total.most_common(5))

    def sequence_of(phase: Phase) -> str:
        shape, _ = typical(phase.histograms)
        found = next(
            seq for seq, h in zip(phase.sequences, phase.histograms, strict=True) if h == shape
        )
        return ", ".join(f"{i} {name}" for i, name in enumerate(found, 1))

    kinds = ", ".join(f"{k} → {baseline.STEPS[s]}" for k, s in calibration.step_of_kind.items())
    rows += [
        {
            "note": (
                f"N = {incidents} lifecycles per side, at most {concurrency} in flight, one "
                f"client, one worker process per side; warm-up of {min(WARM_UP, incidents)} "
                f"per side not counted; measured in {ROUNDS} alternating rounds (baseline, "
                "engine, baseline, engine); lifecycles/s = N / summed wall time of the rounds"
            )
        },
        {
            "note": (
                f"e-mails per step (start, acknowledge, resolve) = {calibration.mails}, from "
                f"{CALIBRATION} calibration lifecycles ({kinds}); the baseline runs that many "
                "no-op activities"
            )
        },
        {
            "note": (
                f"histories of {len(engine.histograms)} engine and {len(base.histograms)} "
                f"baseline lifecycles; {shapes_e} distinct engine event histograms (the table "
                "shows the most common one); billable actions per Temporal Cloud's definition "
                "(docs/PERFORMANCE.md)"
            )
        },
        {
            "note": (
                f"paced = {CALIBRATION} lifecycles per side one at a time, 1 s between the steps "
                "(an operator's pace; each update lands in a workflow task of its own); under "
                f"load = {concurrency} in flight (an update may share a workflow task with the "
                "start or with a mail's completion)"
            )
        },
        {"note": "largest engine history events, mean KiB per lifecycle: " + largest(engine)},
        {"note": "event sequence, engine, paced: " + sequence_of(paced)},
        {"note": "event sequence, engine, under load: " + sequence_of(engine)},
        {
            "note": (
                "engine: shipped policy (Mon-Fri 08-18 Europe/Berlin), minor chat report with "
                "request_id via starter.report_incident (idempotency look-ups + on-call "
                "visibility query + start), ack as minor with estimate +1 day, resolve; outbox "
                f"mailer (fsync per .eml); dev server with {stack.store}"
            )
        },
    ]
    return rows


def run(stack: Stack, incidents: int, concurrency: int) -> list[Row]:
    """Measure both sides on ``stack``'s server; return table rows (see :data:`LABELS`)."""
    return asyncio.run(_run(stack, incidents, concurrency))
