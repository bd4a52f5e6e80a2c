"""Slurm's host list syntax (``node[01-04,07]``, ``rack[1-2]-gpu[1-8]``): expanded and written back."""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_HOSTS = 100_000  # a list that expands past this is not a real allocation
_TRAILING_DIGITS = re.compile(r"^(.*?)(\d+)$")


class NodeListError(ValueError):
    """The text is not a host list Slurm would write; the message says where."""


def expand(text: str) -> list[str]:
    """Every host name in ``text``, in Slurm's order; padding kept (``n[08-10]`` → n08, n09, n10)."""
    hosts: list[str] = []
    for entry in _entries(text.strip()):
        for host in _expand_entry(entry):
            hosts.append(host)
            if len(hosts) > MAX_HOSTS:
                raise NodeListError(f"more than {MAX_HOSTS} hosts in {text[:80]!r}")
    if not hosts:
        raise NodeListError("the host list is empty")
    return hosts


def first(text: str) -> str:
    """The first host: where the rendezvous is, as Slurm's own ``scontrol show hostnames`` lists."""
    for entry in _entries(text.strip()):
        for host in _expand_entry(entry):
            return host
    raise NodeListError("the host list is empty")


def _entries(text: str) -> Iterator[str]:
    """The comma-separated entries, commas inside brackets not counted."""
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
            if depth > 1:
                raise NodeListError(f"nested brackets in {text[:80]!r}")
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise NodeListError(f"unbalanced ']' in {text[:80]!r}")
        elif char == "," and depth == 0:
            if i > start:
                yield text[start:i]
            start = i + 1
    if depth:
        raise NodeListError(f"unclosed '[' in {text[:80]!r}")
    if start < len(text):
        yield text[start:]


def _expand_entry(entry: str) -> Iterator[str]:
    """``a[1-2]b[3,5]`` → a1b3, a1b5, a2b3, a2b5 (the first bracket varies slowest)."""
    open_at = entry.find("[")
    if open_at < 0:
        if not entry or any(c.isspace() for c in entry):
            raise NodeListError(f"not a host name: {entry[:80]!r}")
        yield entry
        return
    close_at = entry.index("]", open_at)
    prefix, ranges, rest = entry[:open_at], entry[open_at + 1 : close_at], entry[close_at + 1 :]
    tails = list(_expand_entry(rest)) if rest else [""]
    for value in _values(ranges, entry):
        for tail in tails:
            yield prefix + value + tail


def _values(ranges: str, entry: str) -> Iterator[str]:
    for part in ranges.split(","):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise NodeListError(f"bad range {part!r} in {entry[:80]!r}")
        if not sep:
            yield low
            continue
        width = len(low)  # Slurm pads to the lower bound's digits: n[08-10], n[8-10]
        start, stop = int(low), int(high)
        if stop < start:
            raise NodeListError(f"range {part!r} runs backwards in {entry[:80]!r}")
        if stop - start >= MAX_HOSTS:
            raise NodeListError(f"range {part!r} is larger than {MAX_HOSTS} hosts")
        for number in range(start, stop + 1):
            yield str(number).zfill(width)


def compress(hosts: list[str]) -> str:
    """The shortest usual spelling of ``hosts`` (``gpu[03,07-09],login``), first-seen order kept."""
    groups: dict[tuple[str, int], list[int]] = {}
    plain: list[str] = []
    order: list[object] = []
    for host in hosts:
        match = _TRAILING_DIGITS.match(host)
        if not match:
            if host not in plain:
                plain.append(host)
                order.append(host)
            continue
        digits = match.group(2)
        padded = len(digits) > 1 and digits.startswith("0")  # "07" is padded, "0" is not
        key = (match.group(1), len(digits) if padded else 0)
        if not padded and (match.group(1), len(digits)) in groups:  # gpu10 after gpu08, gpu09
            key = (match.group(1), len(digits))
        if key not in groups:
            groups[key] = []
            order.append(key)
        number = int(match.group(2))
        if number not in groups[key]:
            groups[key].append(number)
    parts = []
    for item in order:
        if isinstance(item, str):
            parts.append(item)
            continue
        assert isinstance(item, tuple)
        prefix, width = item
        numbers = sorted(groups[item])
        if len(numbers) == 1:
            parts.append(f"{prefix}{str(numbers[0]).zfill(width)}")
        else:
            parts.append(f"{prefix}[{_runs(numbers, width)}]")
    return ",".join(parts)


def _runs(numbers: list[int], width: int) -> str:
    runs: list[str] = []
    start = prev = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == prev + 1:
            prev = number
            continue
        low, high = str(start).zfill(width), str(prev).zfill(width)
        runs.append(low if start == prev else f"{low}-{high}")
        if number is not None:
            start = prev = number
    return ",".join(runs)
