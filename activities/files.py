"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Files are private by default: the outbox e-mails, the billing ledger and the
audit reports hold personal data (names, e-mail addresses, phone numbers) and
must not be readable by other users of the host. Only the public status site,
which a web server running as another user serves, is written world-readable,
and it says so explicitly (``mode=PUBLIC``).
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path

PRIVATE = 0o600
"""Owner read/write only: the default of :func:`write_atomic`."""

PUBLIC = 0o644
"""World-readable: files another user (the status site's web server) must read."""

_UMASK_LINE = re.compile(rb"^Umask:\s*([0-7]+)$", re.MULTILINE)


@functools.cache
def _umask_by_setting() -> int:
    """The umask, read the only portable way: by setting it (once, then remembered)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def current_umask() -> int:
    """The process umask, read without changing it where the system allows.

    ``os.umask`` reads by writing, which races with other threads creating
    files (``write_atomic`` runs in worker threads); Linux reports the umask in
    ``/proc/self/status``. Elsewhere it is read once by setting it.
    """
    try:
        status = Path("/proc/self/status").read_bytes()
    except OSError:
        return _umask_by_setting()
    match = _UMASK_LINE.search(status)
    return int(match[1], 8) if match else _umask_by_setting()


def write_atomic(path: Path, data: bytes, mode: int = PRIVATE) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename.

    ``os.replace`` is atomic on POSIX within one file system, so concurrent
    readers never observe a partially written file.

    Args:
        path: The file to create or replace.
        data: Its new content.
        mode: Permission bits (default :data:`PRIVATE`, ``0600``); a stricter
            process umask still applies (``PUBLIC`` under umask ``027`` gives
            ``0640``). The file never has wider permissions than the result,
            not even while it is written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600; it gets its final mode before it holds any data.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode & 0o777 & ~current_umask())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
