"""The status site is replaced atomically: a concurrent reader never sees half a file."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from activities.status_page import StatusSiteActivities, StatusSnapshot
from domain.sla import Severity
from domain.status import StatusBoard, StatusPost, StatusPostKind


def board_with(entries: int, start: datetime) -> StatusBoard:
    board = StatusBoard()
    for n in range(entries):
        board = board.apply(
            StatusPost(
                ticket_id=f"INC-20261125-{n:06d}",
                kind=StatusPostKind.PUBLISHED,
                at=start + timedelta(minutes=n),
                severity=Severity.CRITICAL,
                # Long texts make each write big enough to be caught half-way if it weren't atomic.
                message="Anmeldung gestört – " + "x" * 2000,
                expected_resolution=start + timedelta(hours=2),
            )
        )
    return board


async def test_a_concurrent_reader_only_ever_sees_complete_files(tmp_path: Path) -> None:
    site = StatusSiteActivities(tmp_path)
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    await site.render_status_site(StatusSnapshot(board=board_with(1, start), generated_at=start))

    stop = threading.Event()
    reads = {"index.html": 0, "status.json": 0, "feed.atom": 0}
    broken: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            for name in reads:
                data = (tmp_path / name).read_bytes()
                reads[name] += 1
                if name == "status.json":
                    try:
                        json.loads(data)
                    except ValueError:
                        broken.append(name)
                elif not data.rstrip().endswith(b"</html>" if name == "index.html" else b"</feed>"):
                    broken.append(name)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(60):
            snapshot = StatusSnapshot(board=board_with(1 + n % 25, start), generated_at=start)
            await site.render_status_site(snapshot)
            await asyncio.sleep(0)
    finally:
        stop.set()
        thread.join()

    assert broken == []
    assert min(reads.values()) > 50, reads
    assert not list(tmp_path.glob(".*.tmp")), "no temporary files are left behind"
