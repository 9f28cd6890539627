"""The part every decider shares: folding events into state with its ``evolve``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

S = TypeVar("S")
E = TypeVar("E")


def fold_with(
    evolve: Callable[[S | None, E], S],
    state: S | None,
    events: Iterable[E],
    *,
    empty: str = "no events to fold",
) -> S:
    """Apply ``events`` to ``state`` in order with ``evolve``.

    Raises:
        ValueError: The sequence is empty and ``state`` is ``None`` (message ``empty``).
    """
    for event in events:
        state = evolve(state, event)
    if state is None:
        raise ValueError(empty)
    return state
