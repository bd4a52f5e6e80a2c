"""DD528: a triton that does not pair with the installed torch (extensions.toml's triton table)."""

from __future__ import annotations

import re

from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import known
from dldoctor.facts.model import Facts
from dldoctor.fixes import extensions as fx
from dldoctor.matrix import Matrix, minor_of
from dldoctor.model import Area, Severity


@check(
    "DD528",
    "triton-for-another-torch",
    "The installed triton is not the release line the installed torch pins",
    Area.PACKAGES,
)
def triton_for_another_torch(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: torch X.Y's Linux wheels pin one triton release line (torch 2.5: triton 3.1, 2.6:
    3.2, 2.13: 3.7); the installed triton is of another line, and torch's own metadata does
    not pin it (a conda or source build of torch, or a triton installed by hand after it: a pin
    torch does state is pip's check, DD303). ROCm builds use pytorch-triton-rocm: not judged.

    Why: torch.compile's Inductor generates code for the triton it was released with; another
    line fails to import its APIs ("Cannot find a working triton installation"), miscompiles,
    or crashes, and triton-based extensions (flash-attn's triton kernels, vllm) follow.

    Fix: install the triton release torch's wheels pin.
    """
    torch = q.installed(facts, "torch")
    triton = q.installed(facts, "triton")
    if torch is None or triton is None:
        raise NotApplicable("torch and triton are not both installed")
    if any(re.match(r"\s*triton\b", str(r)) for r in torch.get("requires") or []):
        raise NotApplicable("torch's metadata pins triton: pip's check (DD303) judges it")
    if known(facts, "packages.frameworks.torch.build.hip"):
        raise NotApplicable("a ROCm torch pairs with pytorch-triton-rocm")
    release = minor_of(str(torch.get("version") or ""))
    row = next(
        (r for r in matrix.tables["extensions"].get("triton", []) if r["torch"] == release), None
    )
    if row is None:
        raise NotApplicable(f"no triton pairing is known for torch {release}")
    if minor_of(str(triton.get("version") or "")) == row["triton"]:
        return []
    pin = str(row["pinned"][-1])
    return [
        Verdict(
            Severity.WARNING,
            f"triton {triton.get('version')} does not pair with torch {torch['version']}: torch "
            f"{release} pins triton {row['triton']} (torch.compile and triton kernels may fail)",
            evidence={
                "framework": "torch",
                "extension": "triton",
                "version": triton.get("version"),
                "torch": torch.get("version"),
                "paired": row["triton"],
                "pinned": list(row["pinned"]),
                "source": row["source"],
            },
            fixes=(fx.paired_triton(facts, pin, str(torch["version"])),),
        )
    ]
