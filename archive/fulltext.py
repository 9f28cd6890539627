"""User text → a full-text condition that cannot be a syntax error, on SQLite and PostgreSQL.

Both engines have a query language (FTS5: ``"…"``, ``*``, ``NEAR``, ``AND``,
column filters; tsquery: ``&``, ``|``, ``!``, ``<->``, ``:*``). People type
ticket IDs, e-mail addresses and pasted error messages, never that language,
so the text is cut into words (letters and digits; everything else separates)
and every word must occur, as a word or the beginning of one: "Anmeld" finds
"Anmeldung". Words are quoted for the engine, so ``NEAR`` or ``OR`` are just
words. No input can reach the parser as syntax.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from archive.tables import streams

MAX_WORDS = 16
"""Words beyond this are ignored: a pasted page must not become a huge query."""
MAX_WORD = 64
"""Longer words are cut: no indexed word is longer in practice (FTS5 and tsvector agree)."""

# Letters and digits only: FTS5's unicode61 tokenizer and PostgreSQL's parser
# both treat underscores, punctuation and symbols as separators.
_WORD = re.compile(r"[^\W_]+")
_ID = re.compile(r"^[A-Za-z]{2,5}-[A-Za-z0-9-]{4,40}$")


def words(text: str) -> list[str]:
    """The words of ``text`` a search looks for (NFKC-normalised, at most :data:`MAX_WORDS`)."""
    normal = unicodedata.normalize("NFKC", text)
    found: list[str] = []
    for match in _WORD.finditer(normal):
        word = match.group(0)[:MAX_WORD]
        if word.lower() not in (w.lower() for w in found):
            found.append(word)
        if len(found) == MAX_WORDS:
            break
    return found


def document(*parts: str | None) -> str:
    """The indexed form of ``parts``: their words, space-separated.

    Indexing words rather than raw text makes both engines see the same
    tokens a query is cut into: PostgreSQL's parser would otherwise keep an
    e-mail address as one token and read ``INC-20261124-7QK2AB`` as
    ``inc``, ``-20261124``, ``-7``, ``qk2ab``.
    """
    text = unicodedata.normalize("NFKC", "\n".join(p for p in parts if p))
    return " ".join(_WORD.findall(text))


def looks_like_id(text: str) -> str | None:
    """``text`` upper-cased when it looks like a ticket/stream ID (``INC-20261124-7QK2AB``)."""
    stripped = text.strip()
    return stripped.upper() if _ID.match(stripped) else None


def fts5_query(found: list[str]) -> str:
    """An FTS5 MATCH expression: every word, as a quoted prefix (``"anmeld"* "503"*``)."""
    return " ".join('"' + w.replace('"', '""') + '"*' for w in found)


def tsquery_text(found: list[str]) -> str:
    """A ``to_tsquery`` text: every word as a quoted prefix (``'anmeld':* & '503':*``)."""
    return " & ".join("'" + w.replace("'", "''").replace("\\", "\\\\") + "':*" for w in found)


def match_condition(dialect: str, found: list[str]) -> ColumnElement[bool]:
    """A WHERE condition on ``streams`` that is true for rows containing all ``found`` words.

    Args:
        dialect: ``sqlite`` or ``postgresql``.
        found: From :func:`words`; not empty.
    """
    if dialect == "postgresql":
        query = sa.func.to_tsquery(sa.literal_column("'german'::regconfig"), tsquery_text(found))
        return sa.literal_column("streams.search_vector").bool_op("@@")(query)
    matching: sa.Select[Any] = (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.text("streams_fts"))
        .where(sa.literal_column("streams_fts").op("MATCH")(fts5_query(found)))
    )
    return streams.c.id.in_(matching)
