r"""Untrusted text on the operator's terminal: shown as text, never obeyed.

Company names, reporters, messages and reasons come from customers (reports,
e-mails, the API) or from other operators. Printed as they are, they can break
or take over the operator's terminal:

* rich markup: ``ACME [/] GmbH`` makes rich raise ``MarkupError`` and
  ``[link=…]`` or ``[bold red]`` would be obeyed;
* terminal control sequences: ESC (CSI ``\x1b[2J`` clears the screen, OSC 8
  ``\x1b]8;;URL\x07`` plants a hidden hyperlink), BEL, CR (overwrites the
  line), the 8-bit C1 controls U+0080–U+009F (``\x9b`` is a one-byte CSI on
  many terminals);
* bidirectional overrides (U+202E …) that show text in another order than it
  is stored ("Trojan source").

:func:`safe` makes such a string harmless for rich's ``console.print`` and
table cells: every control character becomes a visible stand-in and the
markup is escaped. Use it on every customer- or operator-supplied string the
CLI prints, and only there: the result is *markup*, meant to be printed by
rich (inside a ``rich.text.Text`` the escaping backslashes would show).
"""

from __future__ import annotations

from rich.markup import escape

NEWLINE_MARK = "↵"
"""Stands for a line break in single-line output (table cells)."""

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
"""Stands for a C1 control or a bidirectional formatting character."""

BIDI_CONTROLS = frozenset(
    "\u061c"  # ARABIC LETTER MARK
    "\u200e\u200f"  # LEFT-TO-RIGHT MARK, RIGHT-TO-LEFT MARK
    "\u202a\u202b\u202c\u202d\u202e"  # LRE, RLE, PDF, LRO, RLO
    "\u2066\u2067\u2068\u2069"  # LRI, RLI, FSI, PDI
)
"""Characters that reorder the text around them on screen."""

_LINE_BREAKS = ("\r\n", "\r", "\u2028", "\u2029", "\x85")
"""Line breaks other than ``\\n`` (NEL U+0085 is a C1 control too)."""


def _stand_in(char: str) -> str:
    """The visible stand-in of one control or bidi character."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # Control Pictures: ␀ … ␟ (␛ for ESC)
    if code == 0x7F:
        return "\N{SYMBOL FOR DELETE}"
    return REPLACEMENT  # C1 controls and bidi formatting characters


def _is_unsafe(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or char in BIDI_CONTROLS


def neutralise(text: str, *, multiline: bool = False) -> str:
    r"""``text`` without terminal control or bidi characters (no markup escaping).

    Args:
        text: Untrusted text.
        multiline: Keep line breaks (normalised to ``\n``) for output meant to
            span lines; otherwise each line break becomes :data:`NEWLINE_MARK`.

    A TAB becomes a space; every other C0 control, DEL, C1 control and bidi
    formatting character becomes a visible stand-in (``␛`` for ESC, ``␇`` for
    BEL, U+FFFD for C1 and bidi), so the operator sees that something was there.
    """
    for brk in _LINE_BREAKS:
        text = text.replace(brk, "\n")
    text = text.replace("\t", " ")
    if not multiline:
        text = text.replace("\n", NEWLINE_MARK)
    return "".join(
        _stand_in(c) if _is_unsafe(c) and not (multiline and c == "\n") else c for c in text
    )


def safe(text: object, *, multiline: bool = False) -> str:
    """``text`` as rich markup that prints literally and cannot control the terminal.

    Args:
        text: Untrusted text (anything else is converted with ``str``; ``None``
            gives ``""``).
        multiline: Keep line breaks (detail views); by default, for table
            cells and one-line output, they become :data:`NEWLINE_MARK`.

    Returns:
        Markup for ``console.print``, ``Table.add_row`` and f-strings printed
        by rich: the text after :func:`neutralise`, with ``rich.markup.escape``
        applied.
    """
    if text is None:
        return ""
    return escape(neutralise(str(text), multiline=multiline))
