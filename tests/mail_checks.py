"""Checks of a sent mail's MIME shape and HTML part, shared by the mail tests.

The HTML part is read with the standard library's ``html.parser``: well-formed
(every element closed in order), only the frame's own elements and attributes
(so no text of a customer or operator became markup), no script, no external
resource, the one link going to the status page, and every word of the plain
text readable in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser

VOID = frozenset({"br", "meta", "hr", "img", "link", "input"})
ALLOWED_TAGS = frozenset(
    {
        "html",
        "head",
        "meta",
        "title",
        "body",
        "div",
        "header",
        "main",
        "footer",
        "h1",
        "h2",
        "p",
        "span",
        "strong",
        "br",
        "dl",
        "dt",
        "dd",
        "ul",
        "li",
        "pre",
        "code",
        "a",
    }
)
ALLOWED_ATTRIBUTES = frozenset(
    {"style", "href", "id", "lang", "dir", "role", "aria-label", "charset", "name", "content"}
)


@dataclass
class HtmlReading:
    """What the parser saw in an HTML part."""

    tags: list[str] = field(default_factory=list)
    attributes: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    text: str = ""
    title: str = ""
    lang: str | None = None
    problems: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.reading = HtmlReading()
        self._open: list[str] = []
        self._text: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.reading.tags.append(tag)
        for name, value in attrs:
            self.reading.attributes.add(name)
            if name == "href" and value is not None:
                self.reading.links.append(value)
            if tag == "html" and name == "lang":
                self.reading.lang = value
        if tag not in VOID:
            self._open.append(tag)
        self._in_title = tag == "title"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1] != tag:
            self.reading.problems.append(f"</{tag}> closes {self._open[-1:] or 'nothing'}")
            return
        self._open.pop()
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.reading.title += data
        else:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        if self._open:
            self.reading.problems.append(f"unclosed: {self._open}")
        self.reading.text = " ".join("".join(self._text).split())


def read_html(html: str) -> HtmlReading:
    """Parse ``html`` and record what a reader and an auditor need to know."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.reading


def parts_of(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts of a sent mail, asserting the MIME shape.

    ``multipart/alternative`` with exactly two parts: ``text/plain`` first
    (what plain-text readers and our intake read), ``text/html`` second (what
    clients that can show it prefer: the last alternative wins, RFC 2046).
    """
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = (p.get_content() for p in parts)
    assert isinstance(text, str) and isinstance(html, str)
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def check_html(
    html: str, *, text: str, reference: str | None, status_page_url: str | None
) -> HtmlReading:
    """Assert what every HTML part must be; returns the reading for more checks.

    Args:
        html: The HTML part.
        text: The plain-text part of the same mail: each of its words must be
            readable in the HTML (as text: the tag check shows none became markup).
        reference: The ticket (maintenance, booking …) ID it must show.
        status_page_url: The status page it must link, if the mail has one.
    """
    reading = read_html(html)
    assert reading.problems == [], reading.problems
    assert reading.lang == "de"
    assert reading.title.strip(), "no <title>"
    assert reading.tags.count("h1") == 1
    assert set(reading.tags) <= ALLOWED_TAGS, set(reading.tags) - ALLOWED_TAGS
    assert reading.attributes <= ALLOWED_ATTRIBUTES, reading.attributes - ALLOWED_ATTRIBUTES
    # No script and no external resource: neither tag nor attribute (src) is allowed.
    assert "script" not in reading.tags
    for word in text.split():
        readable = word.strip(":-")
        assert readable in reading.text, f"{readable!r} of the text part is missing"
    if reference is not None:
        assert reference in reading.text
    if status_page_url is not None:
        assert reading.links and set(reading.links) == {status_page_url}, reading.links
    else:
        assert reading.links == []
    return reading
