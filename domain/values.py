"""Small value types shared by the domain models (pydantic annotated types).

Everything the outside world hands us passes through these types, so every
door (CLI, starter, HTTP API, mailbox) refuses and normalises the same way:

* **Text is bounded and normalised.** Single-line fields (company, names,
  phone, titles, services …) refuse every control character (C0 incl. CR, LF
  and TAB, DEL, C1), the line and paragraph separators U+2028/U+2029 and the
  bidirectional embeddings, overrides and isolates (U+202A–U+202E,
  U+2066–U+2069): a line break in a company name would otherwise start the
  body of a critical page with text of the reporter's choosing. Free text
  (descriptions, reasons, summaries, messages, notes) may span lines: CRLF,
  CR, U+2028 and U+2029 become LF, TAB stays (pasted logs carry it); every
  other control character is refused. Both are NFC-normalised, stripped of
  surrounding whitespace and have a hard maximum length.
* **E-mail addresses** are what the mail stack can send to (:data:`EmailAddress`).
* **Instants** carry an offset and lie in a fixed window of years (:data:`AwareDatetime`).

The hard maxima below are a ceiling; a policy's ``[limits]`` may lower them
(:func:`limit_violations`, applied at intake).

**Recorded data is read back as it was recorded.** The same models also
travel in workflow inputs, events and state, which Temporal keeps for months.
A check added later must never make a recorded value fail to decode: the
workflow would be stuck on replay ("Failed decoding arguments"). So every check
here runs on data *coming in* and is skipped when the validation context says
:data:`RECORDED` — which the data converter (``workflows/converter.py``) says
for every payload it reads back. Workflow update validators, which receive
their argument through that converter, re-check it as fresh input
(:func:`check_fresh`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.errors import NonASCIILocalPartDefect
from email.headerregistry import Address
from email.policy import SMTPUTF8
from encodings import idna
from types import NoneType, UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
)

_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,6})?)S)?$")

# -- hard maxima ---------------------------------------------------------------

NAME_MAX = 200
"""Single-line texts: company, person and operator names, titles, services."""
PHONE_MAX = 50
"""Phone numbers (characters, separators included)."""
TEXT_MAX = 5_000
"""Free text: reasons, summaries, messages, notes, decisions."""
DESCRIPTION_MAX = 20_000
"""A report's or ticket's description."""
ATTACHMENTS_MAX = 20
"""References (URLs, file names) per report."""
REFERENCE_MAX = 2_000
"""One reference (a URL or a file name)."""
RELEASE_MAX = 64
"""A feature release's name."""
EMAIL_MAX = 254
"""An e-mail address (RFC 5321: a path is at most 256 octets, ``<`` and ``>`` included)."""
CUSTOMER_NUMBER_MAX = 40
"""A customer number ("Kundennummer") as the customer directory lists it."""
_LOCAL_PART_MAX = 64  # octets, RFC 5321

# Instants the outside world gives us (a fault noticed, an estimate, a window)
# must lie in [EARLIEST_INSTANT, LATEST_INSTANT). A pure model cannot read the
# clock, so the window is absolute. The business calendar answers only for a
# finite range of years (domain.calendar: 1971–9998, narrowed to the holiday
# table's years, 1991–2100 for DE/NW) and refuses the rest; a booking in year
# 9999 hung the CLI before it did. The window ends a year before the calendar's
# last year, so that deadlines computed from an accepted instant (at most a
# few months of business time later) stay inside the calendar as well.
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
"""The earliest instant accepted from outside."""
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)
"""The first instant no longer accepted from outside."""


# -- fresh input or recorded data -------------------------------------------------

RECORDED = "recorded"
"""Validation-context key: the value is read back from a workflow history or result."""

RECORDED_CONTEXT: Mapping[str, bool] = {RECORDED: True}
"""The validation context of data read back (see the module docstring)."""

V = TypeVar("V")
M = TypeVar("M", bound=BaseModel)


def is_recorded(info: ValidationInfo) -> bool:
    """Whether the value under validation is read back, not coming in."""
    context = info.context
    return isinstance(context, Mapping) and bool(context.get(RECORDED))


def on_input(check: Callable[[V], V]) -> Callable[[V, ValidationInfo], V]:
    """``check`` as a validator for data coming in; recorded data passes unchanged."""

    def validate(value: V, info: ValidationInfo) -> V:
        return value if is_recorded(info) else check(value)

    validate.__name__ = getattr(check, "__name__", "check")
    return validate


def check_fresh(model: M) -> M:
    """``model`` validated as input coming in now (all checks, normalised).

    For values that arrived through the data converter, which reads leniently
    (e.g. an update's argument in its validator).

    Raises:
        pydantic.ValidationError: A field breaks a check.
    """
    return type(model).model_validate(model.model_dump())


def _length(minimum: int, maximum: int) -> Callable[[V], V]:
    def check(value: V) -> V:
        size = len(value)  # type: ignore[arg-type]
        unit = "character" if isinstance(value, str) else "item"
        if size < minimum:
            raise ValueError(f"at least {minimum} {unit}{'s' if minimum != 1 else ''}")
        if size > maximum:
            raise ValueError(f"at most {maximum} {unit}s, got {size}")
        return value

    return check


# -- markers for the policy's limits ---------------------------------------------


@dataclass(frozen=True)
class Limit:
    """Marks a field whose hard maximum a policy's ``[limits]`` entry ``key`` may lower.

    Pydantic ignores the marker; :func:`limit_violations` reads it.
    """

    key: str


@dataclass(frozen=True)
class _MailAddressMarker:
    """Marks an e-mail address field (for the policy's ``[mail] smtputf8``)."""


_MAIL_ADDRESS = _MailAddressMarker()


# -- text ------------------------------------------------------------------------

# C0 controls (CR, LF, TAB included), DEL, C1 controls, the line and paragraph
# separators, the bidirectional embeddings/overrides and isolates ("Trojan
# Source" reordering) and lone surrogates (not encodable, so every send fails).
_NOT_IN_A_LINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Free text after its line breaks became LF: the same without LF and TAB.
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAK = re.compile(r"\r\n?|[\u2028\u2029]")
_CHARACTER_NAMES = {"\n": "line break", "\r": "carriage return", "\t": "tab"}


def _shown(value: str, limit: int = 60) -> str:
    """``value`` for an error message: quoted, escaped, and short (inputs may be megabytes)."""
    return repr(value[:limit]) + ("…" if len(value) > limit else "")


def _refuse_characters(value: str, forbidden: re.Pattern[str], where: str) -> None:
    found = forbidden.search(value)
    if found is None:
        return
    char = found.group()
    code = ord(char)
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        kind = "bidirectional control character"
    elif code in (0x2028, 0x2029):
        kind = "line separator"
    elif 0xD800 <= code <= 0xDFFF:
        kind = "lone surrogate"
    else:
        kind = "control character"
    name = f" ({_CHARACTER_NAMES[char]})" if char in _CHARACTER_NAMES else ""
    raise ValueError(
        f"{kind} U+{code:04X}{name} not allowed {where} (character {found.start() + 1})"
    )


def _as_text(value: object) -> object:
    # Pydantic would turn bytes into str after a before-validator has run.
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return value  # pydantic names it
    return value


def _normalise_address(value: object) -> object:
    value = _as_text(value)
    if not isinstance(value, str):
        return value
    _refuse_characters(value, _NOT_IN_A_LINE, "in a single-line field")
    return unicodedata.normalize("NFC", value).strip()


def normalise_line(value: object) -> object:
    """Single-line text: refuse what cannot stand in one line, NFC, strip.

    A pydantic before-validator (non-strings are left to pydantic). Characters
    are checked before stripping: a company of newline, ``---``, newline is refused,
    not shortened to ``"---"``. Single-line texts end up in mail headers (a
    company in the subject of a critical page), where the ``email`` package
    decodes an encoded-word as it is assigned: ``=?utf-8?q?x=0D=0AX-Evil:_1?=``
    would add a header. So ``=?`` followed by ``?=`` is refused as well.

    Raises:
        ValueError: A control, separator or bidirectional character (named, with
            position), or an encoded-word.
    """
    value = _normalise_address(value)
    if not isinstance(value, str):
        return value
    # str.find, not a regular expression: linear even for megabytes of "=?".
    start = value.find("=?")
    if start >= 0 and value.find("?=", start + 2) >= 0:
        raise ValueError(
            f"an encoded-word (=?…?=) is not allowed in a single-line field (character {start + 1})"
        )
    return value


def normalise_text(value: object) -> object:
    """Free text: line breaks become LF, other control characters are refused, NFC, strip.

    A pydantic before-validator (non-strings are left to pydantic).

    Raises:
        ValueError: A control or bidirectional character (named, with position).
    """
    value = _as_text(value)
    if not isinstance(value, str):
        return value
    value = _LINE_BREAK.sub("\n", value)
    _refuse_characters(value, _NOT_IN_TEXT, "in text")
    return unicodedata.normalize("NFC", value).strip()


# -- phone numbers and references ---------------------------------------------------

_PHONE = re.compile(r"^\+?[0-9 ()/\-.]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def _check_phone(value: str) -> str:
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE.match(value) or not 6 <= digits <= 20:
        raise ValueError(
            f"not a phone number: {_shown(value)} (digits, spaces and + - / ( ) . only, "
            "6 to 20 digits)"
        )
    return value


def _check_reference(value: str) -> str:
    if _SCHEME.match(value):
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"only http(s) URLs or file names: {_shown(value)}")
        if any(ch.isspace() for ch in value):
            raise ValueError(f"a URL contains no spaces (write %20): {_shown(value)}")
        return value
    segments = re.split(r"[/\\]", value)
    if value.startswith(("/", "\\", "~")) or any(s.strip() in ("", ".", "..") for s in segments):
        raise ValueError(
            f"a file name without folders above it (no /…, ~, .. or empty parts): {_shown(value)}"
        )
    return value


# -- e-mail addresses ------------------------------------------------------------------

# RFC 5322 dot-atom text; "=?" is excluded separately (encoded-word shape).
_ATEXT = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
)
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TOP_LABEL = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
# The stdlib codec implements IDNA 2003, which maps these unlike IDNA 2008 (what
# registries use): "straße.de" would become "strasse.de", another domain.
_IDNA_DEVIATIONS = frozenset("ßς\u200c\u200d")


def needs_smtputf8(address: str) -> bool:
    """Whether sending to ``address`` needs a relay with SMTPUTF8 (a non-ASCII local part).

    Domains are stored in their ASCII (IDNA) form, so only the local part can need it.
    """
    return not address.isascii()


def _local_char_ok(char: str) -> bool:
    if char.isascii():
        return char in _ATEXT
    # RFC 6531 UTF8-non-ascii; printable only (no controls, format characters, spaces).
    return unicodedata.category(char)[0] not in "CZ"


def _ascii_domain(domain: str) -> str:
    """The domain in ASCII (non-ASCII labels IDNA-encoded), or ``ValueError`` with the reason."""
    if domain.isascii():
        ascii_domain = domain
    elif any(ch in _IDNA_DEVIATIONS for ch in domain):
        raise ValueError("write this domain in its xn-- form (ß, ς, ZWJ and ZWNJ are ambiguous)")
    else:
        try:
            # The codec module itself, not str.encode("idna"): no codec lookup
            # (a lazy import) when a workflow sandbox decodes a report.
            ascii_domain = idna.Codec().encode(domain)[0].decode("ascii")
        except UnicodeError:
            raise ValueError("the domain cannot be IDNA-encoded") from None
    labels = ascii_domain.split(".")
    if (
        len(labels) < 2
        or len(ascii_domain) > 253
        or not all(_LABEL.match(label) for label in labels)
        or not _TOP_LABEL.match(labels[-1])
    ):
        raise ValueError("the domain needs dot-separated labels of letters, digits and hyphens")
    return ascii_domain


def _check_email(value: str) -> str:
    def refused(reason: str) -> ValueError:
        return ValueError(f"not an e-mail address: {_shown(value)} ({reason})")

    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise refused("needs a local part, an @ and a domain")
    if "=?" in local or "?=" in local:
        raise refused("no encoded-word =?…?= in the local part")
    bad = next((ch for ch in local if ch != "." and not _local_char_ok(ch)), None)
    if bad is not None:
        raise refused(f"{bad!r} not allowed in the local part")
    if any(not atom for atom in local.split(".")):
        raise refused("no empty part between dots in the local part")
    if len(local.encode()) > _LOCAL_PART_MAX:
        raise refused(f"the local part has at most {_LOCAL_PART_MAX} bytes")
    try:
        ascii_domain = _ascii_domain(domain)
    except ValueError as exc:
        raise refused(str(exc)) from None
    address = f"{local}@{ascii_domain}"
    if len(address.encode()) > EMAIL_MAX:
        raise refused(f"at most {EMAIL_MAX} bytes")
    # What the mailer does with it: a To header, parsed back to one address.
    header = SMTPUTF8.header_factory("To", address)
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    parsed = header.addresses
    if (
        defects
        or len(parsed) != 1
        or parsed[0].addr_spec != address
        or str(Address(username=local, domain=ascii_domain)) != address
    ):
        raise refused("does not survive a mail header")
    return address


def _check_mail_domain(value: str) -> str:
    if "@" in value:
        raise ValueError(f"a domain without local part or @: {_shown(value)}")
    try:
        # Addresses keep their domain in ASCII (IDNA) form: so must the directory.
        return _ascii_domain(value).lower()
    except ValueError as exc:
        raise ValueError(f"not a mail domain: {_shown(value)} ({exc})") from None


def mail_domain_of(address: str) -> str:
    """The lower-cased domain of an :data:`EmailAddress` (already in ASCII form)."""
    return address.rpartition("@")[2].lower()


# -- customer numbers --------------------------------------------------------------

_CUSTOMER_NUMBER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 ._/-]*[A-Za-z0-9])?$")


def _check_customer_number(value: str) -> str:
    if not _CUSTOMER_NUMBER.match(value):
        raise ValueError(
            f"not a customer number: {_shown(value)} (letters, digits and . _ / - or spaces "
            "between them)"
        )
    return value


def customer_number_key(value: str) -> str:
    """How customer numbers compare: case, spaces and separators do not count.

    ``K-10001``, ``k 10001`` and ``K10001`` are the same number read out on the phone.
    """
    return re.sub(r"[ ._/-]", "", value).casefold()


# -- instants ----------------------------------------------------------------------


def check_instant(value: datetime) -> datetime:
    """An instant from outside: aware, and in [:data:`EARLIEST_INSTANT`, :data:`LATEST_INSTANT`).

    The check of :data:`AwareDatetime`, for callers that parse times themselves
    (a command line's ``--at``).

    Raises:
        ValueError: Naive, or outside the window (see the constants for why).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a time zone or UTC offset, e.g. 2026-11-24T09:12:00+01:00")
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise ValueError(
            f"must lie in the years {EARLIEST_INSTANT.year}–{LATEST_INSTANT.year - 1} (UTC)"
        )
    return value


def parse_business_duration(value: object) -> timedelta:
    """Parse an ISO 8601 business-time duration written in hours/minutes/seconds.

    Day, week, month and year designators are refused on purpose: in business
    time a "day" is ambiguous (10 business hours? 24?), so policy files spell
    durations out in hours, e.g. ``PT140H`` for the SLA's "14 Tage".

    Args:
        value: A string such as ``"PT1H30M"`` or an existing ``timedelta``.

    Returns:
        The duration.

    Raises:
        ValueError: Not such a duration, or not positive.
    """
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, str):
        match = _DURATION.match(value.strip().upper())
        if not match or not any(match.groups()):
            hint = " (write days as hours: a business day has 10 h)" if "D" in value.upper() else ""
            raise ValueError(f"not an ISO 8601 duration like PT4H or PT30M: {value!r}{hint}")
        hours, minutes, seconds = match.groups()
        duration = timedelta(
            hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0)
        )
    else:
        raise ValueError(f"expected a duration string like PT4H, got {value!r}")
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    return duration


def format_business_duration(value: timedelta) -> str:
    """``timedelta`` → ``PT…H…M…S`` (the inverse of :func:`parse_business_duration`)."""
    total_us = value // timedelta(microseconds=1)
    hours, rest = divmod(total_us, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if seconds or micros or text == "PT":
        text += f"{seconds}.{micros:06d}S".replace(".000000S", "S")
    return text


EmailAddress = Annotated[
    str,
    BeforeValidator(on_input(_normalise_address)),
    AfterValidator(on_input(_length(1, EMAIL_MAX))),
    AfterValidator(on_input(_check_email)),
    _MAIL_ADDRESS,
]
"""An e-mail address the mail stack can send to.

Local part: RFC 5322 dot-atom (ASCII letters, digits and ``!#$%&'*+-/=?^_`{|}~``,
no quotes or spaces), no encoded-word shape ``=?…?=`` (``email`` decodes it in
a header: ``=?utf-8?q?x=0D=0A?=@example.de`` became a CR LF), at most 64
bytes. Domain: dot-separated LDH labels; a non-ASCII domain is stored in its
IDNA form (``info@bücher.de`` → ``info@xn--bcher-kva.de``) so that any relay
takes it. The address must survive a ``To`` header of the ``email`` package
unchanged; at most 254 bytes.

A non-ASCII local part (``müller@…``) passes the type, because a value must
read back from a workflow history without a policy at hand; it needs a relay
with SMTPUTF8, so intake refuses it unless the policy says ``[mail] smtputf8 =
true`` (:func:`limit_violations`).
"""

MailDomain = Annotated[
    str,
    BeforeValidator(on_input(_normalise_address)),
    AfterValidator(on_input(_length(1, 253))),
    AfterValidator(on_input(_check_mail_domain)),
]
"""The domain of a customer's e-mail addresses (``beispiel-versand.de``): lower-cased,
non-ASCII labels in IDNA form, as :data:`EmailAddress` stores them."""

CustomerNumber = Annotated[
    str,
    BeforeValidator(on_input(normalise_line)),
    AfterValidator(on_input(_length(1, CUSTOMER_NUMBER_MAX))),
    AfterValidator(on_input(_check_customer_number)),
]
"""A customer number ("Kundennummer"): letters and digits, ``. _ / -`` or spaces between
them, at most :data:`CUSTOMER_NUMBER_MAX` characters. Compared by :func:`customer_number_key`."""

SingleLineText = Annotated[
    str,
    BeforeValidator(on_input(normalise_line)),
    AfterValidator(on_input(_length(0, NAME_MAX))),
    Limit("name"),
]
"""One line of text (a title, an operator's name); may be empty (the rules say when not)."""

NonEmptyLine = Annotated[
    str,
    BeforeValidator(on_input(normalise_line)),
    AfterValidator(on_input(_length(1, NAME_MAX))),
    Limit("name"),
]
"""One line of text, not empty (company, person name, service)."""

ReleaseName = Annotated[
    str,
    BeforeValidator(on_input(normalise_line)),
    AfterValidator(on_input(_length(0, RELEASE_MAX))),
    Limit("name"),
]
"""A feature release's name (``2027.1``); may be empty: the rules say when it is required."""

FreeText = Annotated[
    str,
    BeforeValidator(on_input(normalise_text)),
    AfterValidator(on_input(_length(0, TEXT_MAX))),
    Limit("text"),
]
"""Free text (reason, summary, message, note); may be empty: the rules say when it is required."""

NonEmptyText = Annotated[
    str,
    BeforeValidator(on_input(normalise_text)),
    AfterValidator(on_input(_length(1, TEXT_MAX))),
    Limit("text"),
]
"""Free text that is not empty after stripping whitespace."""

LongText = Annotated[
    str,
    BeforeValidator(on_input(normalise_text)),
    AfterValidator(on_input(_length(0, DESCRIPTION_MAX))),
    Limit("description"),
]
"""A description that may be empty (a bug ticket linked to an existing one)."""

Description = Annotated[
    str,
    BeforeValidator(on_input(normalise_text)),
    AfterValidator(on_input(_length(1, DESCRIPTION_MAX))),
    Limit("description"),
]
"""A description: free text, not empty."""

PhoneNumber = Annotated[
    str,
    BeforeValidator(on_input(normalise_line)),
    AfterValidator(on_input(_length(3, PHONE_MAX))),
    AfterValidator(on_input(_check_phone)),
    Limit("phone"),
]
"""A phone number: digits, spaces and ``+ - / ( ) .`` (``+`` only first), 6–20 digits."""

Reference = Annotated[
    str,
    BeforeValidator(on_input(normalise_line)),
    AfterValidator(on_input(_length(1, REFERENCE_MAX))),
    AfterValidator(on_input(_check_reference)),
]
"""A screenshot or log: an http(s) URL, or a file name (no absolute path, no ``..``)."""

Attachments = Annotated[
    tuple[Reference, ...],
    AfterValidator(on_input(_length(0, ATTACHMENTS_MAX))),
    Limit("attachments"),
]
"""At most :data:`ATTACHMENTS_MAX` references."""

AwareDatetime = Annotated[datetime, AfterValidator(on_input(check_instant))]
"""An instant from outside: it carries a UTC offset (naive ones are refused) and lies
in [:data:`EARLIEST_INSTANT`, :data:`LATEST_INSTANT`) (why: see those constants)."""


# -- the policy's limits -----------------------------------------------------------


def limit_violations(
    model: BaseModel, limits: Mapping[str, int], *, smtputf8: bool = True
) -> list[str]:
    """Fields of ``model`` (and of the models, tuples and mappings in it) over a policy's limits.

    The types above carry hard maxima; a policy may set lower ones in
    ``[limits]``. A field takes part when its type is marked with
    :class:`Limit` (``name``, ``phone``, ``text``, ``description``,
    ``attachments``) or is an :data:`EmailAddress`.

    Args:
        model: A validated model (a report, a change request, a command …).
        limits: ``[limits]`` key → maximum (characters, or items for ``attachments``).
        smtputf8: Whether the mail relay takes non-ASCII local parts; if not,
            such addresses are violations.

    Returns:
        One ``"field: message"`` per violation, dotted paths as in
        :func:`domain.errors.describe_validation_error`; empty when all is well.
    """
    found = dict.fromkeys(
        f"{path}: {message}" for path, message in _model_violations(model, "", limits, smtputf8)
    )
    return list(found)


def _model_violations(
    model: BaseModel, prefix: str, limits: Mapping[str, int], smtputf8: bool
) -> Iterator[tuple[str, str]]:
    for name, info in type(model).model_fields.items():
        yield from _violations(
            f"{prefix}{name}",
            info.annotation,
            tuple(info.metadata),
            getattr(model, name),
            limits,
            smtputf8,
        )


def _violations(
    path: str,
    annotation: Any,
    metadata: tuple[Any, ...],
    value: Any,
    limits: Mapping[str, int],
    smtputf8: bool,
) -> Iterator[tuple[str, str]]:
    for mark in metadata:
        if isinstance(mark, Limit) and mark.key in limits and isinstance(value, str | tuple):
            limit = limits[mark.key]
            if len(value) > limit:
                unit = "characters" if isinstance(value, str) else "items"
                yield path, f"at most {limit} {unit} here ([limits] {mark.key}), got {len(value)}"
        elif (
            mark is _MAIL_ADDRESS
            and isinstance(value, str)
            and not smtputf8
            and needs_smtputf8(value)
        ):
            yield (
                path,
                f"{_shown(value)} has a non-ASCII local part, which needs a mail relay "
                "with SMTPUTF8 ([mail] smtputf8 = false)",
            )
    if isinstance(value, BaseModel):
        yield from _model_violations(value, f"{path}.", limits, smtputf8)
        return
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        yield from _violations(path, args[0], args[1:], value, limits, smtputf8)
    elif origin in (Union, UnionType):
        if value is not None:
            for arg in args:
                if arg is not NoneType:
                    yield from _violations(path, arg, (), value, limits, smtputf8)
    elif origin in (tuple, list) and isinstance(value, tuple | list):
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            items = [(args[0] if args else Any, item) for item in value]
        else:
            items = list(zip(args, value, strict=False))
        for index, (item_type, item) in enumerate(items):
            yield from _violations(f"{path}.{index}", item_type, (), item, limits, smtputf8)
    elif origin is dict and isinstance(value, Mapping) and len(args) == 2:
        for key, item in value.items():
            yield from _violations(f"{path}.{key}", args[1], (), item, limits, smtputf8)


BusinessDuration = Annotated[
    timedelta,
    BeforeValidator(parse_business_duration),
    PlainSerializer(format_business_duration, return_type=str, when_used="json"),
]
"""A positive duration of business time, ``PT…`` in files and JSON."""
