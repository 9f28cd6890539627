"""What a mail to the support mailbox means: a new report, a reply to a ticket, or nothing.

:func:`classify` reads one raw RFC 5322 message (as fetched from IMAP) and
returns

* :class:`Ignored` for auto-replies, bounces, read receipts, our own mails
  coming back (loop protection) and mails without a usable sender;
* :class:`Reply` when the mail answers one of our mails (``In-Reply-To`` or
  ``References`` name a Message-ID we sent, or the subject carries
  ``[INC-…]``); it joins that incident's timeline;
* :class:`NewReport` otherwise: the fields of a DESIGN §4 intake report
  (channel ``email``) plus the attachments.

Everything here is pure except :func:`save_attachments` (and
:func:`planned_attachment_names`, which reads): the stdlib ``email`` package
with ``policy.default``, no network, no clock. Nothing a sender can put into a
mail makes :func:`classify` raise; broken charsets become replacement
characters, and no CR or LF reaches a single-line value.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser
from pathlib import Path

__all__ = [
    "SYSTEM_LOCAL_PARTS",
    "TEXT_LIMIT",
    "TICKET_ID_PATTERN",
    "Attachment",
    "Ignored",
    "MailOutcome",
    "NewReport",
    "Reply",
    "classify",
    "planned_attachment_names",
    "sanitise_filename",
    "save_attachments",
    "ticket_in_message_id",
]

TICKET_ID_PATTERN = r"INC-\d{8}-[A-Z0-9]{6}(?:-\d+)?"
"""An incident ticket ID (``domain.ids.ticket_id_for``; the code is base32, a suffix is allowed)."""

_TICKET_ID = re.compile(TICKET_ID_PATTERN)
_SUBJECT_TICKET = re.compile(rf"\[({TICKET_ID_PATTERN})\]")
# <{ticket_id}.{seq}.{kind}@{domain}> as domain.notifications.message_id builds it.
_OUR_MESSAGE_ID = re.compile(
    rf"^<({TICKET_ID_PATTERN})\.\d+\.[A-Za-z0-9_-]+@([A-Za-z0-9.-]+)>$", re.ASCII
)
_ANGLE_ADDR = re.compile(r"<[^<>\s]{1,500}>")

TEXT_LIMIT = 5_000
"""The longest description or reply text handed on (``domain.values.TEXT_MAX``)."""

_NAME_LIMIT = 200  # domain.values.NAME_MAX
_FILENAME_LIMIT = 100
# Bodies of megabytes are cut before the quote and HTML passes, which only
# need the first screens of text.
_SCAN_LIMIT = 200_000

SYSTEM_LOCAL_PARTS = frozenset(
    {
        "support",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "sla",
        "status",
        "mailer-daemon",
        "postmaster",
        "bounce",
        "bounces",
    }
)
"""Local parts of our own domains that machines send from: their mail never opens a ticket."""

_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply", "list"})
_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
# Signatures are wrapping, not content a customer attached.
_SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "message/rfc822": ".eml",
}

# Same sets as domain.values: what a single line / a free text must not contain.
_NOT_IN_A_LINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
)
_NOT_IN_TEXT = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
)
_LINE_BREAK = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSAFE_NAME_CHAR = re.compile(r"[^\w.\- ()]")
_SAFE_NAME = re.compile(r"^[\w\- ()][\w.\- ()]*$")
_ATTRIBUTION_START = re.compile(r"^\s*(?:Am|On|Le|El)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"\b(?:schrieb|wrote|a écrit|escribió)\b.*:\s*$", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Originalnachricht)\s*-{2,}"
    r"|_{10,})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Attachment:
    """A file that came with a mail.

    Attributes:
        name: Sanitised file name, unique (case-insensitively) within its mail.
        content: The decoded bytes.
        content_type: MIME type, e.g. ``image/png``.
    """

    name: str
    content: bytes = field(repr=False)
    content_type: str


@dataclass(frozen=True)
class NewReport:
    """A mail that opens an incident.

    Attributes:
        fields: The intake report (DESIGN §4 JSON shape): ``channel``,
            ``email``, ``full_name`` (only with two words or more),
            ``description`` (omitted when the mail has neither subject nor
            text, so that intake refuses it), ``request_id`` (from the
            Message-ID: the same mail twice is one ticket) and ``attachments``
            (the file names).
        message_id: The mail's Message-ID (a stand-in derived from the bytes if it has none).
        attachments: The files to save once the ticket exists.
        dropped: Attachments left out, each ``"name: reason"``.
    """

    fields: dict[str, object]
    message_id: str
    attachments: tuple[Attachment, ...] = ()
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    """A mail that answers one of ours: a customer message on an existing ticket.

    Attributes:
        ticket_id: The incident it belongs to.
        message_id: The mail's Message-ID (a stand-in derived from the bytes if it has none).
        sender: The sender's address (domain lower-cased).
        sender_name: The sender's display name (may be empty).
        subject: The subject: one line, at most 200 characters.
        text: What the customer wrote: quoted lines and the quoted mail below
            the "Am … schrieb …:" line removed; at most :data:`TEXT_LIMIT` characters.
        attachments: The files to save under the ticket.
        dropped: Attachments left out, each ``"name: reason"``.
        fallback: The same mail as a new report, for a ticket that turns out to be unknown.
    """

    ticket_id: str
    message_id: str
    sender: str
    sender_name: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...]
    dropped: tuple[str, ...]
    fallback: NewReport


@dataclass(frozen=True)
class Ignored:
    """A mail that opens no ticket and joins none (auto-reply, bounce, our own mail …).

    Attributes:
        reason: Why, in English, for the log.
        message_id: The mail's Message-ID (may be empty).
        sender: The sender's address (may be empty).
    """

    reason: str
    message_id: str = ""
    sender: str = ""


MailOutcome = NewReport | Reply | Ignored
"""What :func:`classify` returns."""


# -- public API ----------------------------------------------------------------------


def classify(
    raw: bytes,
    *,
    our_domains: frozenset[str],
    max_attachment_bytes: int,
    max_attachments: int,
    system_local_parts: frozenset[str] = SYSTEM_LOCAL_PARTS,
) -> NewReport | Reply | Ignored:
    """What one raw mail means for the support desk. Never raises.

    Args:
        raw: The message as fetched (``BODY[]``).
        our_domains: The domains we send from; a subdomain counts as ours
            (our Message-IDs end in ``@sla.myconvento.com``).
        max_attachment_bytes: Larger attachments are dropped.
        max_attachments: Attachments beyond this many are dropped.
        system_local_parts: Local parts (lower case) of machine senders in our
            domains whose mails are ignored, so a mail loop cannot open tickets.

    Returns:
        :class:`Ignored`, :class:`Reply` or :class:`NewReport`.
    """
    try:
        return _classify(
            raw,
            our_domains=frozenset(d.lower().rstrip(".") for d in our_domains),
            max_attachment_bytes=max_attachment_bytes,
            max_attachments=max_attachments,
            system_local_parts=system_local_parts,
        )
    except Exception as exc:  # pragma: no cover - the parts below already catch
        # A parser bug must not stop the mailbox: the mail stays for a person.
        return Ignored(f"unreadable message ({type(exc).__name__})")


def ticket_in_message_id(message_id: str, our_domains: frozenset[str]) -> str | None:
    """The ticket ID in one of our Message-IDs (``<INC-….4.receipt@domain>``), else ``None``."""
    match = _OUR_MESSAGE_ID.match(message_id.strip())
    if match is None or not _is_ours(match.group(2), our_domains):
        return None
    return match.group(1)


def sanitise_filename(name: str | None, index: int) -> str:
    """A file name safe on every file system and as a report reference.

    Only the last path segment is kept; characters other than letters
    (umlauts included), digits, ``_ . - ( )`` and space become ``_``; leading
    dots and spaces go; at most 100 characters (the extension is kept).

    Args:
        name: The name the mail gives, if any.
        index: 1-based position, for the stand-in ``attachment-N``.

    Returns:
        The name, or ``attachment-N`` when nothing usable is left.
    """
    text = unicodedata.normalize("NFC", _clean_surrogates(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE_NAME_CHAR.sub("_", text)
    text = re.sub(r"_{2,}", "_", re.sub(r" {2,}", " ", text))
    text = text.lstrip(". ").rstrip(". ")
    if len(text) > _FILENAME_LIMIT:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            text = stem[: _FILENAME_LIMIT - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            text = text[:_FILENAME_LIMIT].rstrip(". ")
    if not text or not any(ch.isalnum() for ch in text):
        return f"attachment-{index}"
    return text


def planned_attachment_names(
    root: Path, ticket_id: str, attachments: Sequence[Attachment]
) -> list[str]:
    """The names :func:`save_attachments` would write, without writing (reads the folder).

    A name already taken in the ticket's folder by other bytes gets a suffix
    (``screenshot (2).png``); a file with the same bytes is the same attachment.

    Raises:
        ValueError: ``ticket_id`` is no ticket ID, an attachment name is not
            sanitised, or the folder is a link out of ``root``.
    """
    folder = _ticket_folder(root, ticket_id, create=False)
    return [name for name, _ in _plan(folder, attachments)]


def save_attachments(root: Path, ticket_id: str, attachments: Sequence[Attachment]) -> list[str]:
    """Write the attachments to ``root/attachments/<ticket_id>/``; idempotent.

    Each file is written to a temporary name and renamed into place, so a
    reader never sees half a file. A file with the same name and bytes is
    left alone; another file of that name keeps its bytes and the new one gets
    a suffix (``name (2).ext``). Symbolic links are never followed out of
    ``root``: a linked folder that leads outside is refused, a link where a
    file would go counts as a taken name.

    Args:
        root: The data directory (``$SLA_DATA_DIR``).
        ticket_id: The incident; must look like a ticket ID.
        attachments: Files from :func:`classify` (sanitised names).

    Returns:
        The file names used, in the order of ``attachments``.

    Raises:
        ValueError: ``ticket_id`` is no ticket ID, a name is not sanitised, or
            the folder leads out of ``root``.
        OSError: The files cannot be written (e.g. disk full).
    """
    folder = _ticket_folder(root, ticket_id, create=bool(attachments))
    names: list[str] = []
    for name, attachment in _plan(folder, attachments):
        names.append(name)
        target = folder / name
        if _same_file(target, attachment.content):
            continue
        _write_atomically(folder, target, attachment.content)
    if attachments:
        _fsync_dir(folder)
    return names


def remove_attachments(root: Path, ticket_id: str) -> int:
    """Delete the ticket's saved attachments (GDPR erasure); returns how many files went.

    Only ``root/attachments/<ticket_id>/`` is touched: its entries are
    unlinked (a symbolic link is removed, never followed), then the folder.
    A stream ID that is no ticket ID, or a ticket without attachments, has
    nothing to remove.

    Raises:
        ValueError: The folder leads out of ``root`` (a planted link).
        OSError: A file cannot be removed.
    """
    try:
        folder = _ticket_folder(root, ticket_id, create=False)
    except ValueError:
        if isinstance(ticket_id, str) and _TICKET_ID.fullmatch(ticket_id):
            raise  # a ticket's folder that leads elsewhere: say so
        return 0
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            continue  # never written by intake; left for a person to look at
        entry.unlink()
        removed += 1
    with contextlib.suppress(OSError):
        folder.rmdir()  # left when something unexpected stays inside
    _fsync_dir(folder.parent)
    return removed


# -- classification ------------------------------------------------------------------


def _classify(
    raw: bytes,
    *,
    our_domains: frozenset[str],
    max_attachment_bytes: int,
    max_attachments: int,
    system_local_parts: frozenset[str],
) -> NewReport | Reply | Ignored:
    message = message_from_bytes(raw, policy=policy.default)
    message_id = _message_id(message, raw)
    name, address = _sender(message)
    local, _, domain = address.rpartition("@")

    auto = _automatic(message, local)
    if auto is not None:
        return Ignored(auto, message_id, address)
    if ticket_in_message_id(message_id, our_domains) or (
        _has_header(message, "X-SLA-Kind")
        and _is_ours(message_id.rpartition("@")[2].rstrip(">"), our_domains)
    ):
        # A copy of a mail we sent (e.g. to support_lead) reached the mailbox.
        return Ignored("our own message", message_id, address)
    if not address:
        return Ignored("no usable From address", message_id)
    if _is_ours(domain, our_domains) and local.lower() in system_local_parts:
        return Ignored(f"sent by our own system address {address}", message_id, address)

    subject = _line(_header(message, "Subject"))
    body = _body_text(message)
    attachments, dropped = _attachments(message, max_attachment_bytes, max_attachments)

    fields: dict[str, object] = {
        "channel": "email",
        "email": address,
        "request_id": "mail-" + _request_digest(message, raw),
        "attachments": [a.name for a in attachments],
    }
    if len(name.split()) >= 2 and len(name) <= _NAME_LIMIT:
        fields["full_name"] = name
    description = _bounded("\n\n".join(part for part in (subject, body) if part))
    if description:
        fields["description"] = description
    report = NewReport(fields, message_id, tuple(attachments), tuple(dropped))

    ticket_id = _replied_ticket(message, our_domains) or _subject_ticket(subject)
    if ticket_id is None:
        return report
    return Reply(
        ticket_id=ticket_id,
        message_id=message_id,
        sender=address,
        sender_name=name,
        subject=_short_line(subject),
        text=_bounded(_strip_quotes(body)),
        attachments=tuple(attachments),
        dropped=tuple(dropped),
        fallback=report,
    )


def _automatic(message: Message, local: str) -> str | None:
    """Why the mail was sent by a machine (RFC 3834, DSN, MDN, vacation), or ``None``."""
    auto_submitted = _header(message, "Auto-Submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"auto-submitted ({auto_submitted})"
    for name in ("X-Autoreply", "X-Autorespond"):
        if _has_header(message, name):
            return f"auto-reply ({name})"
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"precedence {precedence}"
    if _content_type(message) == "multipart/report":
        return "delivery or read report (multipart/report)"
    if _has_header(message, "Return-Path") and _header(message, "Return-Path").strip() == "<>":
        return "null return path (bounce)"
    if local.lower() in _DAEMON_LOCAL_PARTS:
        return f"sent by {local}"
    return None


def _replied_ticket(message: Message, our_domains: frozenset[str]) -> str | None:
    """The ticket of the newest of our Message-IDs this mail answers."""
    candidates = _ANGLE_ADDR.findall(_raw_header(message, "In-Reply-To"))
    # References lists the thread oldest first: the newest mail of ours wins.
    candidates += reversed(_ANGLE_ADDR.findall(_raw_header(message, "References")))
    for candidate in candidates:
        ticket_id = ticket_in_message_id(candidate, our_domains)
        if ticket_id is not None:
            return ticket_id
    return None


def _subject_ticket(subject: str) -> str | None:
    match = _SUBJECT_TICKET.search(subject)
    return match.group(1) if match else None


def _is_ours(domain: str, our_domains: frozenset[str]) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in our_domains if d)


def _message_id(message: Message, raw: bytes) -> str:
    found = _ANGLE_ADDR.search(_raw_header(message, "Message-ID"))
    if found:
        value = _line(found.group())
        # Intake keeps it in a single-line field: at most 200 characters, no encoded-word.
        if len(value) <= _NAME_LIMIT and not ("=?" in value and "?=" in value):
            return value
        seed = found.group().encode("utf-8", "replace")
    else:
        # Without one, the bytes stand in: the same mail fetched twice is the same mail.
        seed = raw
    return f"<{hashlib.sha256(seed).hexdigest()[:40]}@mail-intake.invalid>"


def _request_digest(message: Message, raw: bytes) -> str:
    found = _ANGLE_ADDR.search(_raw_header(message, "Message-ID"))
    seed = found.group().encode("utf-8", "replace") if found else raw
    return hashlib.sha256(seed).hexdigest()[:40]


def _sender(message: Message) -> tuple[str, str]:
    """Display name and address of the first ``From`` mailbox; ``("", "")`` when unusable."""
    name, address = "", ""
    try:
        header = message.get("From")
        mailboxes = getattr(header, "addresses", ())
        if mailboxes:
            first = mailboxes[0]
            name, address = str(first.display_name), str(first.addr_spec)
    except Exception:  # e.g. ValueError for a CR LF encoded into the display name
        # Split the raw header first, so nothing decoded can pose as syntax.
        pairs = getaddresses([_raw_header(message, "From")])
        if pairs:
            name, address = _decode_words(pairs[0][0]), pairs[0][1]
    return _name(name), _address(address)


def _address(value: str) -> str:
    value = _clean_surrogates(value).strip()
    local, at, domain = value.rpartition("@")
    domain = domain.rstrip(".")
    if (
        not at
        or not local
        or "." not in domain
        or _NOT_IN_A_LINE.search(value)
        or any(ch.isspace() or ch in '<>()[]\\,;:"@' for ch in domain)
        or any(ch.isspace() or ch in "<>()[]\\,;:" for ch in local)
        or len(value) > 254
    ):
        return ""
    return f"{local}@{domain.lower()}"


def _name(value: str) -> str:
    return _defused(_line(value)).strip("\"' ")


def _defused(line: str) -> str:
    # The intake refuses an encoded-word shape in a line (it would decode in a header).
    if "=?" in line and "?=" in line:
        return line.replace("=?", "= ?")
    return line


def _short_line(line: str) -> str:
    """A line as intake takes it in a single-line field: defused, at most 200 characters."""
    line = _defused(line)
    return line if len(line) <= _NAME_LIMIT else line[: _NAME_LIMIT - 1].rstrip() + "…"


def _content_type(message: Message) -> str:
    try:
        return message.get_content_type()
    except Exception:
        return "text/plain"


# -- headers -------------------------------------------------------------------------


def _raw_header(message: Message, name: str) -> str:
    """The raw (undecoded) value of the first ``name`` header, ``""`` when absent."""
    for key, value in message.raw_items() if isinstance(message, EmailMessage) else ():
        if key.lower() == name.lower():
            return _clean_surrogates(str(value))
    return ""


def _has_header(message: Message, name: str) -> bool:
    return name in message  # case-insensitive


def _header(message: Message, name: str) -> str:
    """The decoded value of the first ``name`` header; never raises."""
    try:
        value = message.get(name)
    except Exception:  # the stdlib header parser has crash bugs on odd input
        return _decode_words(_raw_header(message, name))
    return "" if value is None else _clean_surrogates(str(value))


def _decode_words(raw: str) -> str:
    """RFC 2047 decoding by hand, for headers the stdlib parser chokes on."""
    try:
        parts = decode_header(raw)
    except Exception:
        return _clean_surrogates(raw)
    out = []
    for chunk, charset in parts:
        out.append(chunk if isinstance(chunk, str) else _decode_bytes(chunk, charset))
    return _clean_surrogates("".join(out))


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """``data`` in ``charset``; unknown or non-text charsets fall back to UTF-8."""
    name = (charset or "utf-8").strip().strip('"').lower() or "utf-8"
    if name in ("us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        name = "utf-8"  # mislabelled 8-bit mail is mostly UTF-8
    try:
        # bytes.decode takes text encodings only (LookupError for base64, zlib …).
        return data.decode(name, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return data.decode("utf-8", errors="replace")


def _clean_surrogates(value: str) -> str:
    """Undo ``surrogateescape`` (raw 8-bit header bytes) as UTF-8; others become U+FFFD."""
    if not _SURROGATE.search(value):
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return _SURROGATE.sub("\ufffd", value)


def _line(value: str) -> str:
    """One line: breaks and tabs become spaces, other controls go, NFC, spaces collapsed."""
    value = value.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    value = unicodedata.normalize("NFC", _NOT_IN_A_LINE.sub("", _clean_surrogates(value)))
    return " ".join(value.split())


def _text(value: str) -> str:
    """Free text: LF line breaks, no other controls, NFC, no trailing blanks, ≤ 2 empty lines."""
    value = _LINE_BREAK.sub("\n", _clean_surrogates(value[:_SCAN_LIMIT]))
    value = unicodedata.normalize("NFC", _NOT_IN_TEXT.sub("", value))
    value = "\n".join(line.rstrip() for line in value.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", value).strip()


def _bounded(value: str) -> str:
    value = value.strip()
    if len(value) <= TEXT_LIMIT:
        return value
    return value[: TEXT_LIMIT - 1].rstrip() + "…"


# -- bodies ----------------------------------------------------------------------------


def _body_parts(message: EmailMessage) -> tuple[Message | None, Message | None]:
    """The plain-text and the HTML body part (either may be missing)."""
    try:
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
    except Exception:
        return None, None
    return plain, html


def _body_text(message: EmailMessage) -> str:
    """The text of the mail: the plain-text part, else the HTML part as crude text."""
    plain, html = _body_parts(message)
    if plain is not None:
        text = _text(_part_text(plain))
        if text:
            return text
    if html is not None:
        return _text(_html_to_text(_part_text(html)))
    return ""


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return _decode_bytes(payload[: _SCAN_LIMIT * 4], charset)


class _TextExtractor(HTMLParser):
    """HTML to crude text: blocks become lines, scripts go, blockquotes are quoted with ``>``."""

    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre"}
    )
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote = 0
        self.skip = 0

    def _newline(self, *, always: bool = False) -> None:
        # Blocks end lines; an empty line is only started again by <br>.
        if always or self.lines[-1].strip(" >"):
            self.lines.append("> " * self.quote)
        else:
            self.lines[-1] = "> " * self.quote

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self.quote += 1
            self._newline()
        elif tag == "br":
            self._newline(always=True)
        elif tag in self._BLOCKS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._newline()
        elif tag in self._BLOCKS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        chunks = " ".join(data.split("\n")).replace("\xa0", " ")
        self.lines[-1] += re.sub(r"[ \t]+", " ", chunks)


def _html_to_text(html: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(html[:_SCAN_LIMIT])
        parser.close()
        lines = parser.lines
    except Exception:  # html.parser is lenient; should it still fail, strip tags
        lines = re.sub(r"<[^>]*>", " ", html[:_SCAN_LIMIT]).split("\n")
    return "\n".join(line.strip() for line in lines)


def _strip_quotes(text: str) -> str:
    """What the customer wrote above the quoted mail: ``>`` lines and the quote block go."""
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(">"):
            continue
        if _ORIGINAL_MESSAGE.match(stripped):
            break
        if _ATTRIBUTION_START.match(stripped):
            # Clients wrap a long "Am …, schrieb Name <address>:" over two lines.
            one = stripped
            two = f"{stripped} {lines[i + 1].strip()}" if i + 1 < len(lines) else stripped
            if _ATTRIBUTION_END.search(one) or _ATTRIBUTION_END.search(two):
                break
        kept.append(line)
    return _text("\n".join(kept))


# -- attachments ------------------------------------------------------------------------


def _leaves(part: Message) -> Iterator[Message]:
    """Leaf parts in order; an attached mail (message/rfc822) is one leaf."""
    if _content_type(part) == "message/rfc822" or not part.is_multipart():
        yield part
        return
    payload = part.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                yield from _leaves(sub)


def _leaf_bytes(part: Message) -> bytes | None:
    try:
        if _content_type(part) == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0].as_bytes()
            return None
        payload = part.get_payload(decode=True)
    except Exception:
        return None
    return payload if isinstance(payload, bytes) else None


def _is_attachment(part: Message, body_parts: Iterable[Message | None]) -> bool:
    if any(part is body for body in body_parts):
        return False
    content_type = _content_type(part)
    if content_type in _SIGNATURE_TYPES:
        return False
    try:
        disposition = part.get_content_disposition()
        filename = part.get_filename()
    except Exception:
        disposition, filename = None, None
    if disposition == "attachment" or filename:
        return True
    # Inline images and other non-text parts are files the customer sent (screenshots).
    return not content_type.startswith(("text/", "multipart/"))


def _attachment_name(part: Message, index: int) -> str:
    try:
        filename = part.get_filename()
    except Exception:
        filename = None
    if filename:
        filename = _line(_decode_words(filename) if "=?" in filename else filename)
    name = sanitise_filename(filename, index)
    if name == f"attachment-{index}":
        name += _EXTENSIONS.get(_content_type(part), "")
    return name


def _attachments(
    message: EmailMessage, max_bytes: int, max_count: int
) -> tuple[list[Attachment], list[str]]:
    body_parts = _body_parts(message)
    kept: list[Attachment] = []
    dropped: list[str] = []
    taken: set[str] = set()
    index = 0
    for part in _leaves(message):
        if not _is_attachment(part, body_parts):
            continue
        index += 1
        name = _attachment_name(part, index)
        content = _leaf_bytes(part)
        if content is None:
            dropped.append(f"{name}: unreadable")
            continue
        if len(content) > max_bytes:
            dropped.append(f"{name}: larger than {max_bytes} bytes ({len(content)} bytes)")
            continue
        if len(kept) >= max_count:
            dropped.append(f"{name}: more than {max_count} attachments")
            continue
        name = _unique(name, taken)
        taken.add(name.casefold())
        kept.append(Attachment(name, content, _content_type(part)))
    return kept, dropped


def _unique(name: str, taken: set[str] | frozenset[str], start: int = 2) -> str:
    """``name``, or ``stem (N).ext`` for the first N ≥ ``start`` not taken (case-insensitive)."""
    if name.casefold() not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    suffix_ext = f".{ext}" if ext else ""
    n = start
    while True:
        suffix = f" ({n})"
        room = _FILENAME_LIMIT - len(suffix) - len(suffix_ext)
        candidate = f"{stem[:room].rstrip('. ')}{suffix}{suffix_ext}"
        if candidate.casefold() not in taken:
            return candidate
        n += 1


# -- saving -------------------------------------------------------------------------------


def _ticket_folder(root: Path, ticket_id: str, *, create: bool) -> Path:
    if not isinstance(ticket_id, str) or not _TICKET_ID.fullmatch(ticket_id):
        raise ValueError(f"not a ticket ID: {ticket_id!r}")
    base = root.resolve()
    folder = base / "attachments" / ticket_id

    def check() -> None:
        # A link planted as attachments/ or attachments/<ticket>/ must not carry
        # writes (or the mkdir below) out of the data directory.
        if not folder.resolve().is_relative_to(base):
            raise ValueError(f"{folder} leads out of {base}; refusing to use it for attachments")

    check()
    if create:
        folder.mkdir(parents=True, exist_ok=True)
        check()  # it may have been swapped for a link meanwhile
    return folder


def _check_name(name: str) -> None:
    if not _SAFE_NAME.match(name) or len(name) > _FILENAME_LIMIT or name.startswith((".", " ")):
        raise ValueError(f"not a sanitised attachment name: {name!r}")


def _plan(folder: Path, attachments: Sequence[Attachment]) -> list[tuple[str, Attachment]]:
    """Final names: the own name, or a suffixed one when other bytes hold it."""
    planned: list[tuple[str, Attachment]] = []
    used: set[str] = set()
    for attachment in attachments:
        _check_name(attachment.name)
        name = attachment.name
        n = 2
        while name.casefold() in used or not _free_or_same(folder / name, attachment.content):
            name = _unique(attachment.name, {name.casefold()} | used, start=n)
            n += 1
        used.add(name.casefold())
        planned.append((name, attachment))
    return planned


def _free_or_same(path: Path, content: bytes) -> bool:
    if not os.path.lexists(path):
        return True
    return _same_file(path, content)


def _same_file(path: Path, content: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link) holding exactly ``content``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.EISDIR, errno.ENOTDIR):
            return False
        raise
    with os.fdopen(fd, "rb") as handle:
        if os.fstat(handle.fileno()).st_size != len(content):
            return False
        return handle.read(len(content) + 1) == content


def _write_atomically(folder: Path, target: Path, content: bytes) -> None:
    # A leading dot: sanitised names never start with one, so no clash.
    temporary = folder / f".{uuid.uuid4().hex}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temporary, flags, 0o640)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # rename replaces a link at the target itself; it never writes through it.
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
