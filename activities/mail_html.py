"""The HTML part of every e-mail: the plain-text body's structure in one accessible frame.

The German texts live once, in the ``.txt.j2`` templates. Instead of a second
copy of every text in HTML, the rendered plain-text body is read back into its
structure — paragraphs, fact lines (``Label: value``), lists, timelines,
command lines, the signature — and those blocks are laid out by one frame
template, ``email/_frame.html.j2``. What the frame shows around them (company,
ticket or maintenance ID, status-page link) comes from the message's data,
not from the text.

Nothing here produces markup from text: blocks hold plain strings and the
frame template is rendered with autoescaping on, so a ``<script>`` in a
customer's description or an operator's reason reaches the HTML as text. The
only link is the policy's status-page URL (configuration, never message text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

import jinja2

from activities.rendering import template_environment


@dataclass(frozen=True)
class Run:
    """A piece of text in a line: plain, bold (a label) or a link."""

    text: str
    href: str | None = None
    strong: bool = False


Line = tuple[Run, ...]


class BlockKind(StrEnum):
    """How a block of the plain-text body is laid out."""

    PARAGRAPH = "paragraph"  # lines shown one below the other (wrapped prose reflowed)
    FACTS = "facts"  # "Label: value" lines, as a description list
    HEADING = "heading"  # a short caption ("Verlauf:") introducing the list below it
    LIST = "list"  # "- item" or indented lines (timelines, attachments), items may span lines
    COMMANDS = "commands"  # indented `sla …` command lines, shown as code
    SIGNATURE = "signature"  # "Mit freundlichen Grüßen …" or "-- " and what follows


@dataclass(frozen=True)
class Fact:
    """One ``Label: value`` line."""

    label: str
    value: Line


@dataclass(frozen=True)
class Block:
    """One laid-out part of the body; which fields are used depends on ``kind``."""

    kind: BlockKind
    lines: tuple[Line, ...] = ()
    facts: tuple[Fact, ...] = ()
    items: tuple[tuple[Line, ...], ...] = ()


@dataclass(frozen=True)
class Brand:
    """Who sends the mails, as the HTML frame names them.

    The plain-text signatures name the same company ("Convento GmbH", in the
    templates' layouts); the frame shows it as its header.
    """

    company: str = "Convento GmbH"
    team: str = "myconvento Support"


@dataclass(frozen=True)
class Reference:
    """The ID a mail is about, as its header box shows it (``Ticket-ID`` …)."""

    label: str
    value: str


# -- reading the plain text back into blocks ------------------------------------------

# Hard-wrapped template prose breaks lines at about 80 characters: a line at
# least this long that does not end a sentence continues on the next line.
_WRAPPED = 60
_SENTENCE_END = (".", ":", "!", "?", "…", "“", '"')
# "Klassifizierung:   kritische Störung", "Ihre Ticket-ID: INC-…": a capitalised
# label of at most five words and no sentence punctuation, then the value.
_FACT = re.compile(
    r"^(?P<label>[A-ZÄÖÜ][^\s:.,;!?„“\"]*(?: [^\s:.,;!?„“\"]+){0,4}):\s+(?P<value>\S.*)$"
)
_LABEL_MAX = 45
_CAPTION_MAX = 40
_NUMBERED = re.compile(r"^\d+\. \S")
_SIGNATURE_STARTS = ("Mit freundlichen Grüßen", "-- ")


def body_blocks(text: str, *, link: str | None = None) -> tuple[Block, ...]:
    """The blocks of a rendered plain-text body.

    Args:
        text: The body as the text template rendered it.
        link: The status-page URL: where the text names it, it becomes a link.

    Returns:
        The blocks in text order. Every word of the text is in one of them;
        only layout is dropped: line wrapping, indentation, list markers
        (``- ``), the colon after a label or caption and the ``-- `` line.
    """
    blocks: list[Block] = []
    for paragraph in re.split(r"\n[ \t]*\n", text.strip("\n")):
        lines = [line.rstrip() for line in paragraph.split("\n")]
        if not any(lines):
            continue
        if lines[0].startswith(_SIGNATURE_STARTS) or lines[0] == "--":
            kept = [line.strip() for line in lines if line.strip() not in ("--", "")]
            blocks.append(
                Block(BlockKind.SIGNATURE, lines=tuple(_runs(line, link) for line in kept))
            )
            continue
        blocks.extend(_paragraph_blocks(lines, link))
    return tuple(blocks)


@dataclass
class _Builder:
    link: str | None
    blocks: list[Block] = field(default_factory=list)
    prose: list[list[str]] = field(default_factory=list)  # lines, each of joined pieces
    facts: list[Fact] = field(default_factory=list)
    items: list[list[str]] = field(default_factory=list)
    item_indent: int = 0  # of the open list's items: deeper lines are their details
    commands: list[str] = field(default_factory=list)

    def flush(self) -> None:
        if self.prose:
            self.blocks.append(
                Block(
                    BlockKind.PARAGRAPH,
                    lines=tuple(_prose_line(" ".join(parts), self.link) for parts in self.prose),
                )
            )
        if self.facts:
            self.blocks.append(Block(BlockKind.FACTS, facts=tuple(self.facts)))
        if self.items:
            self.blocks.append(
                Block(
                    BlockKind.LIST,
                    items=tuple(
                        tuple(_item_line(p, self.link) for p in item) for item in self.items
                    ),
                )
            )
        if self.commands:
            self.blocks.append(
                Block(BlockKind.COMMANDS, lines=tuple((Run(c),) for c in self.commands))
            )
        self.prose, self.facts, self.items, self.commands = [], [], [], []


def _paragraph_blocks(lines: list[str], link: str | None) -> list[Block]:
    out = _Builder(link)
    continues = False  # the previous line was wrapped prose: this one goes on with it
    for index, raw in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        prose = False
        if continues:
            out.prose[-1].append(stripped)
            prose = True
        elif stripped.startswith("- ") or stripped == "-":
            _start(out, "items")
            out.items.append([stripped[2:].strip()])
            out.item_indent = indent
        elif indent >= 2 and out.items and indent > out.item_indent:
            out.items[-1].append(stripped)  # a detail line under a list item (audits)
        elif indent >= 2 and stripped.startswith("sla "):
            _start(out, "commands")
            out.commands.append(stripped)
        elif indent >= 2:
            _start(out, "items")
            out.items.append([stripped])
            out.item_indent = indent
        elif _is_caption(stripped, following):
            out.flush()
            out.blocks.append(Block(BlockKind.HEADING, lines=(_runs(stripped.rstrip(":"), link),)))
        elif (fact := _fact(stripped, following)) is not None:
            _start(out, "facts")
            out.facts.append(Fact(fact[0], _runs(fact[1], link)))
        else:
            _start(out, "prose")
            out.prose.append([stripped])
            prose = True
        # Only prose wraps: a fact, list item or command is one line each.
        continues = prose and _wraps(raw, following)
    out.flush()
    return out.blocks


def _start(out: _Builder, kind: str) -> None:
    """Flush whatever is open unless it is a block of ``kind``."""
    open_kinds = {
        "prose": bool(out.prose),
        "facts": bool(out.facts),
        "items": bool(out.items),
        "commands": bool(out.commands),
    }
    if any(is_open for name, is_open in open_kinds.items() if name != kind):
        out.flush()


def _wraps(line: str, following: str) -> bool:
    """Whether ``line`` is hard-wrapped prose that goes on in ``following``."""
    nxt = following.strip()
    return (
        len(line) >= _WRAPPED
        and not line.rstrip().endswith(_SENTENCE_END)
        and bool(nxt)
        and not following.startswith(" ")
        and not nxt.startswith("- ")
        # A long fact ("Kunde: … (Name, Adresse, Telefon)") above the next fact.
        and _FACT.match(nxt) is None
    )


def _is_caption(line: str, following: str) -> bool:
    """A short ``Verlauf:``/``1. Frist überschritten (2)`` line that introduces a list."""
    nxt = following.lstrip()
    introduces_list = nxt.startswith("- ") or (
        following.startswith("  ") and not nxt.startswith("sla ")
    )
    short = len(line) <= _CAPTION_MAX
    return introduces_list and ((short and line.endswith(":")) or bool(_NUMBERED.match(line)))


def _fact(line: str, following: str) -> tuple[str, str] | None:
    match = _FACT.match(line)
    if match is None or len(match["label"]) > _LABEL_MAX or _wraps(line, following):
        return None
    return match["label"], match["value"].strip()


def _prose_line(text: str, link: str | None) -> Line:
    """A prose line; a short ``Beschreibung:`` caption on its own line is bold."""
    if text.endswith(":") and len(text) <= _CAPTION_MAX and " " not in text.strip():
        return (Run(text, strong=True),)
    return _runs(text, link)


def _item_line(text: str, link: str | None) -> Line:
    """A list line; a timeline's time (before the two-space gap) is bold."""
    head, gap, rest = text.partition("  ")
    if not gap or not rest.strip():
        return _runs(text, link)
    return (Run(head, strong=True), Run(" "), *_runs(rest.strip(), link))


def _runs(text: str, link: str | None) -> Line:
    """``text`` as runs, the status-page URL (if any) as a link to it."""
    if not link or link not in text:
        return (Run(text),)
    runs: list[Run] = []
    for index, piece in enumerate(text.split(link)):
        if index:
            runs.append(Run(link, href=link))
        if piece:
            runs.append(Run(piece))
    return tuple(runs)


# -- the frame -------------------------------------------------------------------------

FRAME = "email/_frame.html.j2"


class HtmlMailRenderer:
    """Lays out a plain-text body in the HTML frame (autoescaped)."""

    def __init__(self, environment: jinja2.Environment | None = None) -> None:
        """Use ``environment`` or the packaged templates; the frame is loaded at once."""
        self._env = environment or template_environment()
        if not _autoescapes(self._env, FRAME):
            # Customer and operator text would become markup.
            raise ValueError(f"{FRAME} must be rendered with autoescaping")
        self._frame = self._env.get_template(FRAME)

    def render(
        self,
        *,
        subject: str,
        text: str,
        brand: Brand,
        reference: Reference | None,
        status_page_url: str | None,
    ) -> str:
        """The HTML document of one mail.

        Args:
            subject: The mail's subject (the document's title and heading).
            text: The plain-text body, as sent in the text part.
            brand: The sending company.
            reference: The ticket (maintenance, booking …) ID to show prominently.
            status_page_url: The public status page; linked where the text names it
                and in the footer.
        """
        link = status_page_url if _is_web_url(status_page_url) else None
        heading = subject
        if reference is not None:
            # The ID stands in its own box: "[INC-…]" at the end of the heading repeats it.
            heading = heading.removesuffix(f" [{reference.value}]")
        return self._frame.render(
            title=subject,
            heading=heading,
            brand=brand,
            reference=reference,
            blocks=body_blocks(text, link=link),
            status_page_url=link,
            status_page_name=_display(link) if link else None,
        )


def _autoescapes(env: jinja2.Environment, name: str) -> bool:
    autoescape = env.autoescape
    return bool(autoescape(name) if callable(autoescape) else autoescape)


def _is_web_url(url: str | None) -> bool:
    return bool(url) and re.match(r"^https?://[^\s\"'<>]+$", url or "") is not None


def _display(url: str) -> str:
    """``https://stoerung.convento.de/`` → ``stoerung.convento.de``: link text people read."""
    return re.sub(r"^https?://", "", url).rstrip("/")
