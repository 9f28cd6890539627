"""Run the benchmarks: ``python -m bench.run [--json] [--quick] [--only NAME] ...``.

* ``calendar`` — business-time arithmetic (:mod:`bench.calendar_bench`);
* ``engine`` — N incident lifecycles against the baseline workflow on a local
  Temporal dev server (:mod:`bench.engine_bench`, ``--incidents``);
* ``parked`` — N open incidents waiting on timers: memory and visibility
  (:mod:`bench.parked_bench`, ``--parked``; ``--parked 0`` skips it);
* ``intake`` — N reports through the HTTP API vs ``service.open_incident``
  called directly (:mod:`bench.intake_bench`, ``--reports``; 0 skips it);
* ``archive`` — ``search`` and ``list`` p50 over N archived incidents on SQLite
  and PostgreSQL (:mod:`bench.archive_bench`, ``--archived``; 0 skips it).

A benchmark is a function ``run(options) -> list[dict]``; register it in
:data:`BENCHMARKS`. Rows with the same keys form one table; rows whose only key
is ``"note"`` are printed as notes below the tables. ``engine`` and ``parked``
share one dev server, started when the first of them runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from bench import calendar_bench
from bench.stack import Stack

Row = dict[str, object]

DEFAULT_INCIDENTS = 500
DEFAULT_PARKED = 10_000
QUICK_INCIDENTS = 50
QUICK_PARKED = 500
DEFAULT_CONCURRENCY = 50
DEFAULT_REPORTS = 1000
QUICK_REPORTS = 200
DEFAULT_ARCHIVED = 100_000
QUICK_ARCHIVED = 10_000


@dataclass
class Options:
    """What the command line asked for, and the shared dev server (started on demand)."""

    quick: bool = False
    incidents: int = DEFAULT_INCIDENTS
    parked: int = DEFAULT_PARKED
    concurrency: int = DEFAULT_CONCURRENCY
    reports: int = DEFAULT_REPORTS
    archived: int = DEFAULT_ARCHIVED
    keep: bool = False
    db: str = "memory"
    _stack: Stack | None = None

    def stack(self) -> Stack:
        """The benchmark's Temporal dev server (one per run, in a temporary directory)."""
        if self._stack is None:
            workdir = Path(tempfile.mkdtemp(prefix="sla-bench-"))
            stack = Stack(workdir, in_memory=self.db == "memory")
            stack.start_server()
            self._stack = stack
        return self._stack

    def close(self, failed: bool = False) -> Path | None:
        """Stop the server and workers; remove the work dir unless ``keep`` or ``failed``."""
        if self._stack is None:
            return None
        self._stack.stop()
        workdir = self._stack.workdir
        self._stack = None
        if self.keep or failed:
            if failed:
                print(f"benchmark failed; logs and data kept in {workdir}", file=sys.stderr)
            return workdir
        shutil.rmtree(workdir, ignore_errors=True)
        return None


def _calendar(options: Options) -> list[Row]:
    return calendar_bench.run(options.quick)


def _engine(options: Options) -> list[Row]:
    from bench import engine_bench

    return engine_bench.run(options.stack(), options.incidents, options.concurrency)


def _parked(options: Options) -> list[Row]:
    from bench import parked_bench

    return parked_bench.run(options.stack(), options.parked, options.concurrency)


def _intake(options: Options) -> list[Row]:
    from bench import intake_bench

    return intake_bench.run(options.stack(), options.reports, options.concurrency)


def _archive(options: Options) -> list[Row]:
    from bench import archive_bench

    return archive_bench.run(options.archived)


def _archive_labels() -> Mapping[str, str]:
    from bench import archive_bench

    return archive_bench.LABELS


def _intake_labels() -> Mapping[str, str]:
    from bench import intake_bench

    return intake_bench.LABELS


def _engine_labels() -> Mapping[str, str]:
    from bench import engine_bench

    return engine_bench.LABELS


def _parked_labels() -> Mapping[str, str]:
    from bench import parked_bench

    return parked_bench.LABELS


@dataclass(frozen=True)
class Benchmark:
    """One registered benchmark."""

    name: str
    title: str
    run: Callable[[Options], list[Row]]
    labels: Callable[[], Mapping[str, str]] = field(default=lambda: {})
    skip: Callable[[Options], bool] = field(default=lambda options: False)


BENCHMARKS: list[Benchmark] = [
    Benchmark(
        name="calendar",
        title="BusinessCalendar.add / between vs day-stepping vs pandas CustomBusinessHour",
        run=_calendar,
        labels=lambda: calendar_bench.LABELS,
    ),
    Benchmark(
        name="engine",
        title="incident lifecycles (report → ack → resolve) vs the baseline workflow",
        run=_engine,
        labels=_engine_labels,
        skip=lambda options: options.incidents <= 0,
    ),
    Benchmark(
        name="parked",
        title="open incidents parked on timers: memory and visibility",
        run=_parked,
        labels=_parked_labels,
        skip=lambda options: options.parked <= 0,
    ),
    Benchmark(
        name="intake",
        title="reports through the HTTP API vs service.open_incident called directly",
        run=_intake,
        labels=_intake_labels,
        skip=lambda options: options.reports <= 0,
    ),
    Benchmark(
        name="archive",
        title="archive search and list p50 over N incidents, SQLite and PostgreSQL",
        run=_archive,
        labels=_archive_labels,
        skip=lambda options: options.archived <= 0,
    ),
]


@dataclass(frozen=True)
class Result:
    """Rows of one benchmark and how long it took."""

    benchmark: Benchmark
    rows: list[Row]
    seconds: float


# -- text output -------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if abs(value) < 10:
            return f"{value:.2f}"
        if abs(value) < 1000:
            return f"{value:.1f}"
        return f"{value:.0f}"
    return str(value)


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def make_table(rows: Sequence[Row], labels: Mapping[str, str] | None = None) -> Table:
    """Rows sharing the same keys as a rich table (numbers right-aligned)."""
    labels = labels or {}
    keys = list(rows[0])
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for key in keys:
        numeric = all(_is_number(row[key]) for row in rows)
        table.add_column(labels.get(key, key), justify="right" if numeric else "left")
    for row in rows:
        cells = []
        for key in keys:
            text = _cell(row[key])
            if isinstance(row[key], bool) and not row[key]:
                text = f"[bold red]{text}[/]"
            cells.append(text)
        table.add_row(*cells)
    return table


def print_result(console: Console, result: Result) -> None:
    """One benchmark's tables and notes."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in result.rows:
        groups.setdefault(tuple(row), []).append(row)
    console.print(
        f"[bold]== {result.benchmark.name}[/]: {result.benchmark.title} ({result.seconds:.1f} s)",
        highlight=False,
    )
    notes = groups.pop(("note",), [])
    labels = result.benchmark.labels()
    for rows in groups.values():
        console.print()
        console.print(make_table(rows, labels))
    if notes:
        console.print()
        for row in notes:
            console.print(f"  * {row['note']}", highlight=False, markup=False, soft_wrap=True)


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


# -- entry point -------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smaller samples (calendar; --incidents {QUICK_INCIDENTS}, "
        f"--parked {QUICK_PARKED} unless given)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[b.name for b in BENCHMARKS],
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument(
        "--incidents",
        type=int,
        default=None,
        metavar="N",
        help=f"engine: lifecycles per side (default {DEFAULT_INCIDENTS}; 0 skips)",
    )
    parser.add_argument(
        "--parked",
        type=int,
        default=None,
        metavar="N",
        help=f"parked: open incidents (default {DEFAULT_PARKED}; 0 skips)",
    )
    parser.add_argument(
        "--reports",
        type=int,
        default=None,
        metavar="N",
        help=f"intake: reports per door (default {DEFAULT_REPORTS}; 0 skips)",
    )
    parser.add_argument(
        "--archived",
        type=int,
        default=None,
        metavar="N",
        help=f"archive: incidents seeded per database (default {DEFAULT_ARCHIVED:,}; 0 skips)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="K",
        help=f"engine and parked: calls in flight (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--db",
        choices=["file", "memory"],
        default="memory",
        help="dev server store: in-memory SQLite (default) or a SQLite file in the work dir "
        "(as `sla dev`)",
    )
    parser.add_argument(
        "--save", type=Path, metavar="FILE", help="also write the JSON report to FILE"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the dev server's work dir (logs, database)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks and print rich tables or JSON."""
    args = _parser().parse_args(argv)
    options = Options(
        quick=args.quick,
        incidents=args.incidents
        if args.incidents is not None
        else (QUICK_INCIDENTS if args.quick else DEFAULT_INCIDENTS),
        parked=args.parked
        if args.parked is not None
        else (QUICK_PARKED if args.quick else DEFAULT_PARKED),
        concurrency=max(1, args.concurrency),
        reports=args.reports
        if args.reports is not None
        else (QUICK_REPORTS if args.quick else DEFAULT_REPORTS),
        archived=args.archived
        if args.archived is not None
        else (QUICK_ARCHIVED if args.quick else DEFAULT_ARCHIVED),
        keep=args.keep,
        db=args.db,
    )
    selected = [
        b for b in BENCHMARKS if (not args.only or b.name in args.only) and not b.skip(options)
    ]

    machine = _machine()
    console = Console(width=None if sys.stdout.isatty() else 200)
    if not args.json:
        mode = "quick" if args.quick else "full"
        console.print(
            f"SLA engine benchmarks ({mode}) — {machine['implementation']} "
            f"{machine['python']}, {machine['platform']}, {machine['cpus']} CPUs, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {_load()}",
            highlight=False,
        )
    results: list[Result] = []
    load_start = _load()
    started = time.perf_counter()
    failed = True
    try:
        for bench in selected:
            t0 = time.perf_counter()
            rows = bench.run(options)
            result = Result(bench, rows, time.perf_counter() - t0)
            results.append(result)
            if not args.json:
                console.print()
                print_result(console, result)
        failed = False
    finally:
        kept = options.close(failed)
    total = time.perf_counter() - started

    payload = {
        "machine": machine,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "incidents": options.incidents,
        "parked": options.parked,
        "reports": options.reports,
        "archived": options.archived,
        "concurrency": options.concurrency,
        "db": options.db,
        "load_average_start": load_start,
        "load_average_end": _load(),
        "seconds": round(total, 1),
        "benchmarks": [
            {
                "name": r.benchmark.name,
                "title": r.benchmark.title,
                "seconds": round(r.seconds, 2),
                "rows": r.rows,
            }
            for r in results
        ],
    }
    if args.save is not None:
        args.save.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    if args.json:
        json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        console.print()
        console.print(f"total {total:.1f} s, load average {_load()}", highlight=False)
        if kept is not None:
            console.print(f"work dir kept: {kept}", highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
