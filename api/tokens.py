"""API tokens: ``SLA_API_TOKENS`` (``name:sha256hex,…``) or the file ``SLA_API_TOKENS_FILE``.

Only SHA-256 digests are configured, never tokens: a leaked configuration
does not let anyone in. A presented token is hashed and compared with every
digest in constant time, so timing tells nothing about which (or whether a)
digest matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ApiTokens", "TokenConfigError", "token_digest"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_TOKEN_LENGTH = 512
"""Longer bearer values are refused before hashing."""


class TokenConfigError(ValueError):
    """The token configuration cannot be read; the message names the entry, never a secret."""


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of ``token``, as configured in ``SLA_API_TOKENS``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiTokens:
    """The configured tokens as ``(name, digest)`` pairs."""

    entries: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, text: str, *, where: str) -> ApiTokens:
        """Read ``name:sha256hex`` entries separated by commas or lines (``#`` comments).

        Raises:
            TokenConfigError: An entry is malformed or a name repeats (``where``
                names the source; the entry's position is given, not its text).
        """
        entries: list[tuple[str, bytes]] = []
        items = [
            item.strip()
            for line in text.splitlines()
            for item in line.split("#", 1)[0].split(",")
            if item.strip()
        ]
        for position, item in enumerate(items, start=1):
            name, _, digest = item.partition(":")
            name, digest = name.strip(), digest.strip()
            if not _NAME.match(name):
                raise TokenConfigError(
                    f"{where}: entry {position} needs a name of letters, digits, '.', '_' or '-' "
                    "before the ':'"
                )
            if not _DIGEST.match(digest):
                raise TokenConfigError(
                    f"{where}: entry {position} ({name}) needs the token's SHA-256 as 64 hex "
                    "digits after the ':' (e.g. `printf %s TOKEN | sha256sum`)"
                )
            if any(existing == name for existing, _ in entries):
                raise TokenConfigError(f"{where}: the name {name!r} is listed twice")
            entries.append((name, bytes.fromhex(digest)))
        return cls(tuple(entries))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiTokens:
        """The tokens of ``SLA_API_TOKENS`` and ``SLA_API_TOKENS_FILE`` (both may be set).

        Raises:
            TokenConfigError: Unreadable file or malformed entry.
        """
        tokens = cls.parse(environ.get("SLA_API_TOKENS", ""), where="SLA_API_TOKENS")
        path = environ.get("SLA_API_TOKENS_FILE", "").strip()
        if path:
            try:
                text = Path(path).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise TokenConfigError(
                    f"SLA_API_TOKENS_FILE: cannot read {path}: {error.__class__.__name__}"
                ) from None
            more = cls.parse(text, where=f"SLA_API_TOKENS_FILE ({path})")
            names = {name for name, _ in tokens.entries}
            clash = next((name for name, _ in more.entries if name in names), None)
            if clash is not None:
                raise TokenConfigError(f"the token name {clash!r} is configured twice")
            tokens = cls(tokens.entries + more.entries)
        return tokens

    def __bool__(self) -> bool:
        """Whether any token is configured."""
        return bool(self.entries)

    def name_of(self, token: str) -> str | None:
        """The name of the configured token ``token`` is, or ``None``.

        Every digest is compared (no early exit) in constant time.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found: str | None = None
        for name, digest in self.entries:
            if hmac.compare_digest(presented, digest) and found is None:
                found = name
        return found
