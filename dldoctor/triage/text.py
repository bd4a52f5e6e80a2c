"""Pasted text as its parsers read it: Markdown wrapping removed, lines bounded, sections found."""

from __future__ import annotations

import re

from dldoctor.report.clean import clean

MAX_LINE_CHARS = 4096  # a longer line is cut: no parser needs more, and regexes stay cheap
_FENCE = re.compile(r"^\s*(```+|~~~+)[\w+.-]*\s*$")
_TAG = re.compile(r"</?(details|summary|pre|code|br)\b[^>]*>", re.IGNORECASE)
_QUOTE = re.compile(r"^(?:\s{0,3}>\s?)+")
_PROMPT = re.compile(r"^(?:\(\S+\)\s*)?(?:\$|>>>|PS [^>]{0,200}>|[A-Z]:\\[^>]{0,200}>)\s?")


def unwrap(text: str) -> list[str]:
    """The paste's lines without Markdown code fences, <details>/<summary> tags or quote marks.

    Issues quote what others pasted ("> PyTorch version: ..."), fold it in <details>, and fence
    it; none of that is the tools' own output. Carriage returns (Windows pastes) go too, and
    terminal escape sequences (a colour, or a hostile clipboard write): never a fact.
    """
    lines = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _QUOTE.sub("", clean(raw[:MAX_LINE_CHARS]))
        if _FENCE.match(line):
            continue
        line = _TAG.sub("", line)
        lines.append(line.rstrip())
    return lines


def is_prompt(line: str) -> bool:
    """A shell or Python prompt line ("$ nvidia-smi", ">>> import jax", "C:\\Users\\me>pip list")."""
    return bool(_PROMPT.match(line)) and bool(_PROMPT.sub("", line).strip())


def after_prompt(line: str) -> str:
    return _PROMPT.sub("", line).strip()


def paragraphs(lines: list[str]) -> list[list[str]]:
    """Runs of non-blank lines, in order."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks
