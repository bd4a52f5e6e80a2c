"""Failure signatures (signatures.toml): what frameworks say when they fail, read as data.

The engine is a pure function of text: ``scan(text)`` returns the signatures the text matches,
with the facts their named groups extract. The runtime checks run it over every line a probe
recorded; ``triage`` will run it over pasted logs.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dldoctor.model import ACTIONS, Intent

SEVERITIES = ("error", "warning")
TEXT_LIMIT = 65536  # characters of one text scanned: a pasted log is scanned in pieces
_CODE = re.compile(r"^DD\d{3}$")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Title fields the engine fills in besides the named groups.
COMPUTED = ("framework", "provider")


@dataclass(frozen=True)
class Signature:
    """One row: the words, the root cause they prove, and where maintainers said so."""

    id: str
    cause: str
    code: str
    severity: str
    pattern_texts: tuple[str, ...]
    title: str
    source: str
    fix: str | None = None
    advice: str = ""
    # What the advice has a person do (reload a module, reboot): fixes/ renders them, by hand.
    intents: tuple[Intent, ...] = ()
    generic: bool = False
    examples: tuple[str, ...] = ()
    near_misses: tuple[str, ...] = ()

    @cached_property
    def patterns(self) -> tuple[re.Pattern[str], ...]:
        """Compiled at the first scan: a check that scans nothing (`--quick`) compiles none of
        the ~90 (~15 ms). A broken one is refused where the file is validated (see ``read``)."""
        return tuple(re.compile(t) for t in self.pattern_texts)


@dataclass(frozen=True)
class Match:
    """A signature found in a text: the line it is on and the facts it extracts."""

    signature: Signature
    line: str
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def cause(self) -> str:
        return self.signature.cause

    @property
    def code(self) -> str:
        return self.signature.code

    def title(self, framework: str = "the framework") -> str:
        """The signature's title with the extracted facts ("?" for one this text lacks)."""
        values = _Missing(self.groups, framework=framework)
        return string.Formatter().vformat(self.signature.title, (), values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "signature": self.signature.id,
            "cause": self.cause,
            "line": self.line,
            "extracted": dict(self.groups),
            "source": self.signature.source,
        }


class _Missing(dict[str, str]):
    def __init__(self, groups: dict[str, str], **extra: str) -> None:
        super().__init__({**groups, **extra})

    def __missing__(self, key: str) -> str:
        return "?"


@dataclass(frozen=True)
class Signatures:
    """Every signature, in file order, and which library each CUDA symbol prefix belongs to."""

    rows: tuple[Signature, ...]
    providers: tuple[tuple[str, str], ...] = ()  # (symbol prefix, library), longest first

    def scan(self, text: str) -> list[Match]:
        return scan(text, self)

    def provider(self, symbol: str) -> str | None:
        """'__nvJitLinkComplete_12_4' → 'libnvJitLink'."""
        return next((lib for prefix, lib in self.providers if symbol.startswith(prefix)), None)

    def by_id(self, signature_id: str) -> Signature | None:
        return next((s for s in self.rows if s.id == signature_id), None)


def scan(text: str, signatures: Signatures | None = None) -> list[Match]:
    """The signatures ``text`` shows, in file order; a specific one hides the generic ones.

    Pure: the same text gives the same matches. ``signatures`` defaults to the shipped table.
    """
    if signatures is None:
        from dldoctor.matrix import load

        signatures = load().signatures
    text = text[:TEXT_LIMIT]
    found = []
    for row in signatures.rows:
        for pattern in row.patterns:
            hit = pattern.search(text)
            if hit:
                found.append(Match(row, _line(text, hit), _groups(signatures, hit)))
                break
    if any(not m.signature.generic for m in found):
        found = [m for m in found if not m.signature.generic]
    return found


def _line(text: str, hit: re.Match[str]) -> str:
    """The whole line(s) the match is on."""
    start = text.rfind("\n", 0, hit.start()) + 1
    end = text.find("\n", hit.end())
    return text[start : end if end >= 0 else len(text)].strip()[:1000]


def _groups(signatures: Signatures, hit: re.Match[str]) -> dict[str, str]:
    groups = {k: v for k, v in hit.groupdict().items() if v is not None}
    symbol = groups.get("symbol")
    if symbol and "provider" not in groups:
        provider = groups.get("library") or signatures.provider(symbol)
        if provider:
            groups["provider"] = provider
    return groups


def load_signatures(
    doc: dict[str, Any], name: str = "signatures.toml", patterns_checked: bool = False
) -> Signatures:
    """Validate the parsed file. Raises ValueError naming the row and problem.

    Every pattern is compiled, and the title's fields checked against its groups, unless
    ``patterns_checked`` says this document already passed that (a parsed copy is written only
    after it did); the patterns are then compiled at their first use.
    """
    rows, ids = [], set()
    for i, row in enumerate(doc.get("signature", [])):
        where = f"{name} signature #{i + 1} ({row.get('id', '?')})"
        rows.append(_signature(row, where, patterns_checked))
        if rows[-1].id in ids:
            raise ValueError(f"{where}: id listed twice")
        ids.add(rows[-1].id)
    providers = []
    for i, row in enumerate(doc.get("symbol_provider", [])):
        where = f"{name} symbol_provider #{i + 1}"
        for key in ("prefix", "library", "source"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise ValueError(f"{where}: missing '{key}'")
        providers.append((row["prefix"], row["library"]))
    providers.sort(key=lambda p: -len(p[0]))
    return Signatures(tuple(rows), tuple(providers))


def _signature(row: dict[str, Any], where: str, patterns_checked: bool) -> Signature:
    for key in ("id", "cause", "code", "severity", "title", "source"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise ValueError(f"{where}: missing '{key}'")
    if not _ID.match(row["id"]) or not _ID.match(row["cause"]):
        raise ValueError(f"{where}: id and cause must be kebab-case")
    if not _CODE.match(row["code"]):
        raise ValueError(f"{where}: code {row['code']!r} is not of the form DD123")
    if row["severity"] not in SEVERITIES:
        raise ValueError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    if "commands" in row:
        raise ValueError(f"{where}: commands are rendered by fixes/: name intents instead")
    if row.get("intents") and not row.get("advice"):
        raise ValueError(f"{where}: intents need the advice that explains them")
    if not row["source"].startswith("https://"):
        raise ValueError(f"{where}: source must be an https URL")
    texts = row.get("patterns")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{where}: patterns must be a non-empty list of strings")
    if not patterns_checked:
        try:
            patterns = tuple(re.compile(t) for t in texts)
        except re.error as exc:
            raise ValueError(f"{where}: bad pattern: {exc}") from exc
        named = {g for p in patterns for g in p.groupindex} | set(COMPUTED)
        fields = {f for _, f, _, _ in string.Formatter().parse(row["title"]) if f}
        if not fields <= named:
            raise ValueError(
                f"{where}: title uses {sorted(fields - named)}, which no pattern names"
            )
    return Signature(
        id=row["id"],
        cause=row["cause"],
        code=row["code"],
        severity=row["severity"],
        pattern_texts=tuple(texts),
        title=row["title"],
        source=row["source"],
        fix=row.get("fix"),
        advice=str(row.get("advice", "")),
        intents=_intents(row.get("intents", []), where),
        generic=bool(row.get("generic", False)),
        examples=tuple(row.get("examples", ())),
        near_misses=tuple(row.get("near_misses", ())),
    )


def _intents(value: Any, where: str) -> tuple[Intent, ...]:
    """Intents as tables (``{ action = "reload-module", names = ["nvidia_uvm"] }``), for a person."""
    if not isinstance(value, list) or not all(
        isinstance(i, dict) and i.get("action") in ACTIONS for i in value
    ):
        raise ValueError(f"{where}: intents must be tables naming an action ({', '.join(ACTIONS)})")
    return tuple(Intent.from_dict(i) for i in value)


def read(root: Path) -> Signatures:
    """Load signatures.toml from a data folder (MatrixError on any problem, via the caller)."""
    from dldoctor.matrix import MatrixError, _read

    try:
        # A fresh parse is validated whole (every pattern compiled) before its copy is
        # written; the copy, read on every later run, then skips what that proved.
        doc = _read("signatures.toml", root, check=_check)
        return load_signatures(doc, patterns_checked=True)
    except ValueError as exc:
        if isinstance(exc, MatrixError):
            raise
        raise MatrixError(str(exc)) from exc


def _check(doc: dict[str, Any]) -> None:
    from dldoctor.matrix import MatrixError

    try:
        load_signatures(doc)
    except ValueError as exc:
        raise MatrixError(str(exc)) from exc
