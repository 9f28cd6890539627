"""Run every benchmark: ``python -m bench.run [--json] [--quick] [--only NAME]``.

A benchmark is a function ``run(quick: bool) -> list[dict]``; register it in
:data:`BENCHMARKS`. Rows with the same keys form one table; rows whose only key
is ``"note"`` are printed as notes below the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bench import calendar_bench

Row = dict[str, object]


@dataclass(frozen=True)
class Benchmark:
    """One registered benchmark."""

    name: str
    title: str
    run: Callable[[bool], list[Row]]
    labels: Mapping[str, str] = field(default_factory=dict)


BENCHMARKS: list[Benchmark] = [
    Benchmark(
        name="calendar",
        title="BusinessCalendar.add / between vs day-stepping vs pandas CustomBusinessHour",
        run=calendar_bench.run,
        labels=calendar_bench.LABELS,
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


def format_table(rows: Sequence[Row], labels: Mapping[str, str] | None = None) -> str:
    """Rows sharing the same keys as an aligned plain-text table (numbers right-aligned)."""
    labels = labels or {}
    keys = list(rows[0])
    header = [labels.get(k, k) for k in keys]
    body = [[_cell(row[k]) for k in keys] for row in rows]
    right = [all(_is_number(row[k]) for row in rows) for k in keys]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(keys))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def format_result(result: Result) -> str:
    """One benchmark's tables and notes."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in result.rows:
        groups.setdefault(tuple(row), []).append(row)
    out = [f"== {result.benchmark.name}: {result.benchmark.title} ({result.seconds:.1f} s)"]
    notes = groups.pop(("note",), [])
    for rows in groups.values():
        out += ["", format_table(rows, result.benchmark.labels)]
    if notes:
        out += ["", *(f"  * {row['note']}" for row in notes)]
    return "\n".join(out)


def _machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


# -- entry point -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks and print a text report or JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--quick", action="store_true", help="smaller samples (a few seconds)")
    parser.add_argument(
        "--only",
        action="append",
        choices=[b.name for b in BENCHMARKS],
        help="run only this benchmark (repeatable)",
    )
    args = parser.parse_args(argv)
    selected = [b for b in BENCHMARKS if not args.only or b.name in args.only]

    machine = _machine()
    if not args.json:
        mode = "quick" if args.quick else "full"
        print(
            f"SLA engine benchmarks ({mode}) — {machine['implementation']} "
            f"{machine['python']}, {machine['platform']}, {machine['cpus']} CPUs",
            flush=True,
        )
    results: list[Result] = []
    for bench in selected:
        t0 = time.perf_counter()
        rows = bench.run(args.quick)
        result = Result(bench, rows, time.perf_counter() - t0)
        results.append(result)
        if not args.json:
            print()
            print(format_result(result), flush=True)

    if args.json:
        payload = {
            "machine": machine,
            "quick": args.quick,
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
        json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
