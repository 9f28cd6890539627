"""Business-calendar benchmark: ``BusinessCalendar.add`` / ``between`` against two baselines.

Target (from the issue): ``add(start, 900 h)`` median ≤ 5 µs on this machine and
within 2x of ``add(start, 1 h)``.

Compared side by side, in the same run and interleaved batch by batch:

* **ours** — ``SlaPolicy.default().calendar`` (Mon-Fri 08:00-18:00 Europe/Berlin,
  holidays DE-NW); its index is built and grown by a warm-up pass first.
* **day-stepping** — the obvious implementation written below: walk the days in
  Europe/Berlin, skip weekends and NRW holidays, consume up to 10 h per day. Its
  holiday dates are precomputed into a ``frozenset`` (2024-2031) so the baseline
  is not slowed down by ``holidays``' lazy per-lookup machinery.
* **pandas** — ``naive_local_start + CustomBusinessHour(n=hours, start="08:00",
  end="18:00", holidays=NRW 2024-2031)``. The offsets (one per duration) and the
  naive local ``Timestamp`` starts are prepared outside the timed loop, which
  favours pandas. pandas is an optional, bench-only dependency.

Timing: ``time.perf_counter_ns`` around batches of calls (each batch ≈ a few ms,
cycling through a fixed-seed sample of start instants); a row's median and p90
are taken over the per-call averages of its batches. GC is off while timing.

Conventions: ours (and day-stepping) keep a deadline that lands exactly on closing
time at 18:00; pandas moves it to the next opening (same business time). The
pandas check counts those as convention differences, not mismatches.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time as time_mod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from domain.calendar import BusinessCalendar
from domain.sla import SlaPolicy

Row = dict[str, object]

BERLIN = ZoneInfo("Europe/Berlin")
HOURS: tuple[int, ...] = (1, 24, 140, 900)
HOLIDAY_YEARS = range(2024, 2032)
SEED = 20260101

TARGET_900H_US = 5.0
TARGET_RATIO = 2.0

# Column labels for the text table (JSON keeps the keys).
LABELS: dict[str, str] = {
    "operation": "operation",
    "duration": "duration",
    "ours_us_median": "ours µs median",
    "ours_us_p90": "ours µs p90",
    "day_stepping_us": "day-stepping µs",
    "pandas_us": "pandas µs",
    "day_stepping_over_ours": "day-stepping/ours",
    "pandas_over_ours": "pandas/ours",
    "check": "check",
    "target": "target",
    "value": "measured",
    "limit": "limit",
    "met": "met",
}


@dataclass(frozen=True)
class Settings:
    """Sample size and time budget of one run."""

    starts: int
    batches: int
    batch_ns: int


FULL = Settings(starts=2000, batches=100, batch_ns=5_000_000)
QUICK = Settings(starts=500, batches=25, batch_ns=2_000_000)


# -- the day-stepping baseline -------------------------------------------------

_OPENS = time(8)
_CLOSES = time(18)
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)


def nrw_holidays() -> list[date]:
    """NRW public holidays of 2024-2031, sorted."""
    table = holidays_lib.country_holidays("DE", subdiv="NW", years=HOLIDAY_YEARS)
    return sorted(table.keys())


def day_stepping_add(start: datetime, duration: timedelta, closed: frozenset[date]) -> datetime:
    """Deadline by walking day by day (Mon-Fri 08:00-18:00 Europe/Berlin, minus ``closed``)."""
    if duration < _ZERO:
        raise ValueError("duration must not be negative")
    local = start.astimezone(BERLIN)
    if not duration:
        return local
    remaining = duration
    day = local.date()
    while True:
        if day.weekday() < 5 and day not in closed:
            opens = datetime.combine(day, _OPENS, tzinfo=BERLIN)
            closes = datetime.combine(day, _CLOSES, tzinfo=BERLIN)
            begin = local if local > opens else opens
            if begin < closes:
                available = closes - begin  # no DST change between 08:00 and 18:00
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += _ONE_DAY


def day_stepping_between(start: datetime, end: datetime, closed: frozenset[date]) -> timedelta:
    """Business time from ``start`` to ``end`` by walking day by day."""
    if end < start:
        return -day_stepping_between(end, start, closed)
    a, b = start.astimezone(BERLIN), end.astimezone(BERLIN)
    total = _ZERO
    day, last = a.date(), b.date()
    while day <= last:
        if day.weekday() < 5 and day not in closed:
            opens = datetime.combine(day, _OPENS, tzinfo=BERLIN)
            closes = datetime.combine(day, _CLOSES, tzinfo=BERLIN)
            lo = a if a > opens else opens
            hi = b if b < closes else closes
            if hi > lo:
                total += hi - lo
        day += _ONE_DAY
    return total


# -- sample ----------------------------------------------------------------------


def sample_starts(n: int, seed: int = SEED) -> list[datetime]:
    """``n`` aware Europe/Berlin instants in 2026-2027, half of them in 08:00-18:00 wall time.

    The other half is uniform over the whole time line (mostly nights and weekends);
    a quarter of the in-hours ones sit on a whole hour, so exact openings and
    closings occur too. Weekend and holiday dates make some in-hours starts closed.
    """
    rng = random.Random(seed)
    lo = datetime(2026, 1, 1, tzinfo=BERLIN).timestamp()
    hi = datetime(2028, 1, 1, tzinfo=BERLIN).timestamp()
    first = date(2026, 1, 1)
    days = (date(2028, 1, 1) - first).days
    starts: list[datetime] = []
    for i in range(n):
        if i % 2:
            seconds = rng.randrange(int(lo), int(hi))
            starts.append(datetime.fromtimestamp(seconds, UTC).astimezone(BERLIN))
            continue
        day = first + timedelta(days=rng.randrange(days))
        if rng.random() < 0.25:
            clock = time(rng.randint(8, 18))
        else:
            minute = rng.randrange(8 * 60, 18 * 60)
            clock = time(minute // 60, minute % 60, rng.randrange(60))
        starts.append(datetime.combine(day, clock, tzinfo=BERLIN))
    return starts


# -- timing ------------------------------------------------------------------------

Batch = Callable[[Sequence[Any]], None]


@dataclass
class Cell:
    """One implementation of one operation at one duration, timed in batches."""

    run_batch: Batch
    args: Sequence[Any]
    size: int = 1
    chunks: list[Sequence[Any]] = field(default_factory=list)
    per_call_us: list[float] = field(default_factory=list)

    def calibrate(self, settings: Settings) -> None:
        """Pick a batch size of about ``settings.batch_ns`` and cut the chunks."""
        probe = self.args[: min(len(self.args), 50)]
        t0 = time_mod.perf_counter_ns()
        self.run_batch(probe)
        per_call = max((time_mod.perf_counter_ns() - t0) / len(probe), 1.0)
        self.size = max(1, min(len(self.args), round(settings.batch_ns / per_call)))
        doubled = list(self.args) * 2
        n = len(self.args)
        self.chunks = [
            doubled[(i * self.size) % n : (i * self.size) % n + self.size]
            for i in range(settings.batches)
        ]

    def time_batch(self, i: int) -> None:
        """Time chunk ``i`` and record its per-call average in µs."""
        chunk = self.chunks[i]
        t0 = time_mod.perf_counter_ns()
        self.run_batch(chunk)
        elapsed = time_mod.perf_counter_ns() - t0
        self.per_call_us.append(elapsed / len(chunk) / 1000)

    @property
    def median(self) -> float:
        """Median over the batches of the per-call time, µs."""
        return statistics.median(self.per_call_us)

    @property
    def p90(self) -> float:
        """90th percentile over the batches of the per-call time, µs."""
        return statistics.quantiles(self.per_call_us, n=10, method="inclusive")[-1]


def _time_interleaved(cells: Sequence[Cell], settings: Settings) -> None:
    for cell in cells:
        cell.calibrate(settings)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(settings.batches):
            for cell in cells:
                cell.time_batch(i)
    finally:
        if enabled:
            gc.enable()


def _add_batch(
    add: Callable[[datetime, timedelta], datetime], duration: timedelta
) -> Callable[[Sequence[datetime]], None]:
    def run_batch(chunk: Sequence[datetime]) -> None:
        for start in chunk:
            add(start, duration)

    return run_batch


def _day_stepping_add_batch(
    duration: timedelta, closed: frozenset[date]
) -> Callable[[Sequence[datetime]], None]:
    def run_batch(chunk: Sequence[datetime]) -> None:
        for start in chunk:
            day_stepping_add(start, duration, closed)

    return run_batch


def _between_batch(
    between: Callable[[datetime, datetime], timedelta],
) -> Callable[[Sequence[tuple[datetime, datetime]]], None]:
    def run_batch(chunk: Sequence[tuple[datetime, datetime]]) -> None:
        for start, end in chunk:
            between(start, end)

    return run_batch


def _day_stepping_between_batch(
    closed: frozenset[date],
) -> Callable[[Sequence[tuple[datetime, datetime]]], None]:
    def run_batch(chunk: Sequence[tuple[datetime, datetime]]) -> None:
        for start, end in chunk:
            day_stepping_between(start, end, closed)

    return run_batch


def _pandas_batch(offset: Any) -> Callable[[Sequence[Any]], None]:
    def run_batch(chunk: Sequence[Any]) -> None:
        for start in chunk:
            start + offset

    return run_batch


# -- pandas ------------------------------------------------------------------------


@dataclass
class PandasSide:
    """The pandas baseline, or why it is unavailable."""

    pd: Any = None
    reason: str = ""

    @classmethod
    def load(cls) -> PandasSide:
        """Import pandas; on failure remember the reason instead."""
        try:
            import pandas as pd
        except Exception as exc:  # ImportError, or a broken numpy/pandas build
            return cls(reason=f"{type(exc).__name__}: {exc}")
        return cls(pd=pd)

    def offset(self, hours: int, holidays: list[date]) -> Any:
        """``CustomBusinessHour`` adding ``hours`` in the NRW calendar."""
        return self.pd.offsets.CustomBusinessHour(
            n=hours, start="08:00", end="18:00", holidays=holidays
        )

    def naive_local(self, start: datetime) -> Any:
        """``start`` as a naive Europe/Berlin wall-clock ``Timestamp``."""
        return self.pd.Timestamp(start.astimezone(BERLIN).replace(tzinfo=None))


def _pandas_check(
    cal: BusinessCalendar,
    starts: Sequence[datetime],
    naive: Sequence[Any],
    ours: Sequence[datetime],
    offset: Any,
) -> str:
    """Compare pandas with ours on every start; report mismatches."""
    exact = moved = 0
    wrong: list[str] = []
    for start, ts, expected in zip(starts, naive, ours, strict=True):
        got = (ts + offset).to_pydatetime().replace(tzinfo=BERLIN)
        if got == expected:
            exact += 1
        elif not cal.is_open(expected) and cal.next_open(expected) == got:
            moved += 1  # ours stays at 18:00, pandas moves to the next opening
        else:
            wrong.append(f"{start.isoformat()} -> pandas {got.isoformat()}, ours {expected}")
    if wrong:
        return f"WARNING pandas differs on {len(wrong)}/{len(starts)}, e.g. {wrong[0]}"
    if moved:
        return f"pandas ok ({moved}/{len(starts)} closing → next opening)"
    return "pandas ok"


# -- the benchmark -------------------------------------------------------------------


def run(quick: bool = False) -> list[Row]:
    """Measure the calendar and the baselines; return table rows (see :data:`LABELS`)."""
    settings = QUICK if quick else FULL
    notes: list[Row] = []

    spec = SlaPolicy.default().calendar_spec
    cold_ms: list[float] = []
    for _ in range(5):  # the first one also pays for lazy imports inside ``holidays``
        t0 = time_mod.perf_counter_ns()
        BusinessCalendar(spec).add(datetime(2026, 3, 2, 9, tzinfo=BERLIN), timedelta(hours=1))
        cold_ms.append((time_mod.perf_counter_ns() - t0) / 1e6)

    cal = SlaPolicy.default().calendar
    holiday_list = nrw_holidays()
    closed = frozenset(holiday_list)
    starts = sample_starts(settings.starts)
    open_share = sum(cal.is_open(s) for s in starts) / len(starts)
    pandas = PandasSide.load()
    naive = [pandas.naive_local(s) for s in starts] if pandas.pd is not None else []

    # Warm-up doubles as the correctness check: every start, every duration.
    expected: dict[int, list[datetime]] = {}
    checks: dict[tuple[str, int], list[str]] = {}
    add_cells: dict[int, tuple[Cell, Cell, Cell | None]] = {}
    between_cells: dict[int, tuple[Cell, Cell]] = {}
    for hours in HOURS:
        duration = timedelta(hours=hours)
        ours = [cal.add(s, duration) for s in starts]
        expected[hours] = ours
        stepped_bad = sum(
            day_stepping_add(s, duration, closed) != e for s, e in zip(starts, ours, strict=True)
        )
        add_check = [
            "day-stepping ok"
            if not stepped_bad
            else f"WARNING day-stepping differs on {stepped_bad}/{len(starts)}"
        ]
        pandas_cell: Cell | None = None
        if pandas.pd is not None:
            offset = pandas.offset(hours, holiday_list)
            add_check.append(_pandas_check(cal, starts, naive, ours, offset))
            pandas_cell = Cell(_pandas_batch(offset), naive)
        else:
            add_check.append("pandas n/a (see note)")
        checks["add", hours] = add_check
        add_cells[hours] = (
            Cell(_add_batch(cal.add, duration), starts),
            Cell(_day_stepping_add_batch(duration, closed), starts),
            pandas_cell,
        )

        pairs = list(zip(starts, ours, strict=True))
        between_bad = sum(
            cal.between(s, e) != duration or day_stepping_between(s, e, closed) != duration
            for s, e in pairs
        )
        checks["between", hours] = [
            "= duration, day-stepping ok"
            if not between_bad
            else f"WARNING between differs on {between_bad}/{len(pairs)}"
        ]
        between_cells[hours] = (
            Cell(_between_batch(cal.between), pairs),
            Cell(_day_stepping_between_batch(closed), pairs),
        )

    all_cells: list[Cell] = []
    for trio in add_cells.values():
        all_cells.extend(c for c in trio if c is not None)
    for pair in between_cells.values():
        all_cells.extend(pair)
    t0 = time_mod.perf_counter_ns()
    _time_interleaved(all_cells, settings)
    timing_s = (time_mod.perf_counter_ns() - t0) / 1e9

    rows: list[Row] = []
    for operation, table in (("add", add_cells), ("between", between_cells)):
        for hours, cells in table.items():
            ours_cell, stepped_cell = cells[0], cells[1]
            pandas_cell = cells[2] if len(cells) > 2 else None
            mine = ours_cell.median
            stepped = stepped_cell.median
            pd_us = pandas_cell.median if pandas_cell is not None else None
            rows.append(
                {
                    "operation": operation,
                    "duration": f"{hours} h",
                    "ours_us_median": round(mine, 3),
                    "ours_us_p90": round(ours_cell.p90, 3),
                    "day_stepping_us": round(stepped, 3),
                    "pandas_us": None if pd_us is None else round(pd_us, 3),
                    "day_stepping_over_ours": round(stepped / mine, 2),
                    "pandas_over_ours": None if pd_us is None else round(pd_us / mine, 2),
                    "check": "; ".join(checks[operation, hours]),
                }
            )

    add_1h = add_cells[1][0].median
    add_900h = add_cells[900][0].median
    rows.append(
        {
            "target": "add 900 h: ours median ≤ 5 µs",
            "value": f"{add_900h:.2f} µs",
            "limit": f"{TARGET_900H_US:g} µs",
            "met": add_900h <= TARGET_900H_US,
        }
    )
    rows.append(
        {
            "target": "add 900 h / add 1 h (ours medians) ≤ 2",
            "value": f"{add_900h / add_1h:.2f} ({add_900h:.2f} / {add_1h:.2f} µs)",
            "limit": f"{TARGET_RATIO:g}",
            "met": add_900h / add_1h <= TARGET_RATIO,
        }
    )

    batch_sizes = sorted({c.size for c in all_cells})
    notes.append(
        {
            "note": (
                f"{len(starts)} starts (seed {SEED}) in 2026-2027, {open_share:.0%} of them "
                f"in open hours; {settings.batches} interleaved batches per cell "
                f"(batch sizes {batch_sizes[0]}-{batch_sizes[-1]} calls), timing {timing_s:.1f} s"
            )
        }
    )
    notes.append(
        {
            "note": (
                "first call on a fresh calendar (builds the 2025-2027 index): "
                f"{statistics.median(cold_ms):.1f} ms median of 5, {cold_ms[0]:.1f} ms the "
                "first time in the process; the timed calls use a warmed-up index"
            )
        }
    )
    if pandas.pd is not None:
        notes.append(
            {
                "note": (
                    f"pandas {pandas.pd.__version__}: naive local Timestamp + prebuilt "
                    "CustomBusinessHour(n=hours), NRW holidays 2024-2031; no between equivalent. "
                    "'closing → next opening': ours keeps a deadline that lands on 18:00 there, "
                    "pandas moves it to the next opening (same business time)"
                )
            }
        )
    else:
        notes.append({"note": f"pandas columns n/a: {pandas.reason}"})
    return rows + notes


def main(argv: Sequence[str] | None = None) -> int:
    """Run this benchmark alone: ``python -m bench.calendar_bench [--quick] [--json]``."""
    from bench.run import main as run_main

    parser = argparse.ArgumentParser(prog="python -m bench.calendar_bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    forwarded = ["--only", "calendar"]
    if args.quick:
        forwarded.append("--quick")
    if args.json:
        forwarded.append("--json")
    return run_main(forwarded)


if __name__ == "__main__":
    raise SystemExit(main())
