"""The view of `dldoctor diff`: one line per difference, findings present on one side only."""

from __future__ import annotations

from dldoctor.document.diff import Compared
from dldoctor.report.clean import clean

COMMON = 10  # lines shown unless --all: "works here, fails there" is rarely more


def render(compared: Compared, name_a: str, name_b: str, show_all: bool = False) -> str:
    out = [f"{clean(name_a)} → {clean(name_b)}"]
    shown = compared.differences if show_all else compared.differences[:COMMON]
    width = max((len(d.name) for d in shown), default=0)
    for d in shown:
        out.append(f"  {clean(d.name).ljust(width)}  {clean(d.a)} → {clean(d.b)}")
    hidden = len(compared.differences) - len(shown)
    if hidden:
        out.append(f"  … {hidden} more difference(s) of less weight (--all shows them)")
    if not compared.differences:
        out.append("  the facts compared are the same")
    for code, title in compared.only_a:
        out.append(f"Only in {clean(name_a)}: {clean(code)} {clean(title)}")
    for code, title in compared.only_b:
        out.append(f"Only in {clean(name_b)}: {clean(code)} {clean(title)}")
    return "\n".join(out) + "\n"
