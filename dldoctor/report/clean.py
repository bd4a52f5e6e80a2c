"""The one cleaning boundary: outside text (facts, reports, subprocess and NVML output) made safe to show.

Every string that did not come from dldoctor itself passes through ``clean`` where a renderer
shows it (terminal, Markdown, the fix plan, the profile view, the progress block); JSON keeps it
verbatim. ``clean`` drops terminal escape sequences whole (CSI: colours, erase-line, cursor
moves; OSC: window titles, OSC 52 clipboard writes, hyperlinks; DCS/SOS/PM/APC strings; 8-bit
C1 forms of all of them) and shows every other control character, carriage return, backspace
and bidirectional override as U+FFFD, so that hidden text becomes visible instead of
overwriting or reordering what is shown. The Markdown helpers also keep outside text inside the
table cell, prose or code fence it was put in. (Probe children's output is also cleaned where
it is collected, before the failure signatures read it: there the report holds it cleaned.)
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"

# ESC or its 8-bit C1 twin, then the sequence's body. Strings (OSC, DCS, SOS, PM, APC) run to
# BEL or ST (ESC \ or 0x9c); an unterminated one swallows the rest of the text, as a terminal would.
_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?     # CSI ... final byte
    | (?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])               # OSC, DCS, SOS, PM, APC ...
      (?:[^\x07\x1b\x9c]|\x1b(?!\\))*(?:\x07|\x1b\\|\x9c)?  # ... up to BEL or ST
    | \x1b[\x20-\x2f]*[\x30-\x7e]?                         # any other escape (ESC c, ESC 7...)
    """,
    re.VERBOSE,
)
# C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidi embeddings,
# overrides and isolates (the "Trojan Source" characters) and line/paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: object, newlines: bool = False) -> str:
    """``text`` as a string with no escape sequence and no control character left.

    A tab becomes a space; a newline stays only with ``newlines`` (a multi-line block), else it
    becomes U+FFFD too, so that one outside string cannot fake a line of dldoctor's own.
    """
    value = text if isinstance(text, str) else str(text)
    value = _SEQUENCE.sub("", value).replace("\t", " ")
    if not newlines:
        value = value.replace("\n", REPLACEMENT)
    return _CONTROL.sub(REPLACEMENT, value)


# Characters that open Markdown or inline HTML constructs anywhere (links, images, code spans,
# emphasis, tags, entities, table columns), and those that do only at the start of a block.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|&~])")
_BLOCK_START = re.compile(r"^(\s*(?:\d+)?)([#+=>.)-])")


def md_text(text: object, line_start: bool = False) -> str:
    """Outside text as literal Markdown prose: no link, image, HTML tag or emphasis of its own.

    ``line_start``: the text begins a line (a list item's body), where "#", ">", "-" or "1."
    would open a heading, a quote or a list.
    """
    escaped = _MARKDOWN.sub(r"\\\1", clean(text))
    if not line_start:
        return escaped
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def md_cell(text: object) -> str:
    """Outside text inside one table cell (a ``|`` cannot open another column, nor a newline a row)."""
    return md_text(text)


def md_fence(lines: list[str], info: str = "") -> list[str]:
    """Lines of outside text as one fenced block whose fence no line can close."""
    body = [clean(line) for line in lines]
    longest = max((_longest_run(line, "`") for line in body), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *body, fence]


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)
