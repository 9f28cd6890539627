"""What the archive refuses, as exceptions with a message an operator can act on."""

from __future__ import annotations


class ArchiveError(Exception):
    """Base of the archive's refusals; ``str(error)`` is one clear line."""


class ArchiveNotMigrated(ArchiveError):
    """The database has no schema yet, or an older one than this program's."""


class ArchiveUnavailable(ArchiveError):
    """The database cannot be reached or opened."""


class ArchiveGap(ArchiveError):
    """A batch starts after a missing event; the caller must send the missing ones first.

    Attributes:
        stream_id: The stream.
        expected: The ``seq`` the archive needs next.
        got: The first ``seq`` the batch brought.
    """

    def __init__(self, stream_id: str, expected: int, got: int) -> None:
        super().__init__(
            f"archive of {stream_id} needs event {expected} next, the batch starts at {got}: "
            "send the events in order"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.got = got


class UnknownStream(ArchiveError):
    """No stream with this ID is archived."""


class ExportUnavailable(ArchiveError):
    """The export format needs a package that is not installed (parquet: pyarrow)."""
