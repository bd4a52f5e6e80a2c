"""`dldoctor triage`: the facts a pasted dump shows (every other fact unknown), ready to judge.

One small parser per format, each a pure function of the paste's lines; `read` runs them all
over one paste (several formats concatenated, fenced, folded in <details>, quoted) and merges
what they found. Nothing pasted is trusted: it is bounded here and cleaned where it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dldoctor.facts.model import Facts
from dldoctor.facts.withhold import withhold_all
from dldoctor.matrix import Matrix
from dldoctor.triage import (
    collect_env,
    hf_env,
    jax_env,
    logs,
    nvidia_smi,
    own,
    packages,
    paddle,
    system,
    tensorflow,
    toolkit,
)
from dldoctor.triage.assemble import merge_all
from dldoctor.triage.partial import JSON, Partial
from dldoctor.triage.text import paragraphs, unwrap


@dataclass(frozen=True)
class Pasted:
    """What a paste showed: its facts (unknown where it is silent) and the formats recognised."""

    facts: Facts
    formats: tuple[str, ...]
    complete_listing: bool
    notes: tuple[str, ...] = ()
    meta: JSON = field(default_factory=dict)


def read(text: str, matrix: Matrix) -> Pasted:
    """The facts of a paste; pure (the same text gives the same facts)."""
    notes = []
    mine, why, rest = own.parse(text)
    if why:
        notes.append(why)
    lines = unwrap(rest)
    found: list[Partial] = [mine] if mine else []
    found += nvidia_smi.parse(lines)
    for parser in (collect_env.parse, jax_env.parse, paddle.parse, tensorflow.parse):
        partial = parser(lines)
        if partial is not None:
            found.append(partial)
    found += hf_env.parse(lines)
    found += system.parse(lines)
    found += toolkit.parse(lines)
    found += packages.parse(lines)
    said = logs.parse(paragraphs(lines), matrix.signatures)
    if said is not None:
        found.append(said)
    facts, meta = merge_all(found, matrix)
    return Pasted(
        facts=Facts.from_dict(withhold_all(facts)),  # a pasted token is never written back
        formats=tuple(dict.fromkeys(p.format for p in found)),
        complete_listing=any(p.complete_listing for p in found),
        notes=tuple(notes),
        meta=meta,
    )
