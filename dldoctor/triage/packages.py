"""`pip list`, `pip freeze`, `conda list` and `conda env export`: the distributions installed."""

from __future__ import annotations

import re

from dldoctor.triage.partial import Partial

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,200}[A-Za-z0-9])?"
_VER = r"[0-9][0-9A-Za-z.+!_-]{0,100}"
_FREEZE = re.compile(rf"^(?P<name>{_NAME})(?:\[[^\]]*\])?\s*==\s*(?P<version>{_VER})\s*$")
_FREEZE_URL = re.compile(rf"^(?P<name>{_NAME})\s+@\s+\S+")
_OLD_PIP = re.compile(rf"^(?P<name>{_NAME})\s+\((?P<version>{_VER})(?:,\s*[^)]*)?\)$")
_LIST_HEADER = re.compile(r"^Package\s+Version(?:\s+.*)?$")
_LIST_RULE = re.compile(r"^-{3,}(?:\s+-{3,})+\s*$")
_LIST_ROW = re.compile(rf"^(?P<name>{_NAME})\s+(?P<version>{_VER})(?:\s+(?P<rest>.*))?$")
_CONDA_HEADER = re.compile(r"^#\s*packages in environment at\s+(?P<prefix>.+?):?\s*$")
_CONDA_ROW = re.compile(
    rf"^(?P<name>{_NAME})\s+(?P<version>{_VER})\s+(?P<build>\S+)(?:\s+(?P<channel>\S+))?\s*$"
)
_EXPORT_CONDA = re.compile(rf"^\s+-\s+(?P<name>{_NAME})=(?P<version>{_VER})(?:=(?P<build>\S+))?$")
_EXPORT_PIP = re.compile(rf"^\s+-\s+(?P<name>{_NAME})==(?P<version>{_VER})$")
_CONDA_CUDA = re.compile(r"(?:^|_)cuda(?P<cuda>\d+(?:\.\d+)?)")
_CONDA_CUDNN = re.compile(r"(?:^|_)cudnn(?P<cudnn>\d+(?:\.\d+)*)")
# conda's names for Python distributions whose pip name differs.
CONDA_TO_PIP = {"pytorch": "torch", "pytorch-gpu": "torch", "pytorch-cpu": "torch"}
# `pip check`, and pip's resolver after an install ("... which is incompatible.").
_CHECK_MISSING = re.compile(
    rf"^(?P<name>{_NAME}) (?P<version>{_VER}) requires (?P<req>.+?), which is not installed\.$"
)
_CHECK_CONFLICT = re.compile(
    rf"^(?P<name>{_NAME}) (?P<version>{_VER}) (?:has requirement|requires) (?P<req>.+?), "
    rf"but you have (?P<dep>{_NAME}) (?P<installed>{_VER})(?: which is incompatible)?\.$"
)
MIN_FREEZE_LINES = 3  # fewer "name==version" lines could be a requirements snippet in prose


def parse(lines: list[str]) -> list[Partial]:
    """Every package listing in the paste (one Partial each)."""
    found = []
    for finder in (_pip_list, _conda_list, _conda_export, _pip_freeze, _pip_check):
        partial = finder(lines)
        if partial is not None:
            found.append(partial)
    return found


def pip_entry(partial: Partial, entry: str) -> bool:
    """One "name==version" (or pip 1.x "name (version)") entry; False when it is none."""
    match = _FREEZE.match(entry) or _OLD_PIP.match(entry)
    if not match:
        return False
    partial.add_distribution(match.group("name"), match.group("version"))
    return True


def conda_line(partial: Partial, entry: str, channel_default: str | None = None) -> bool:
    """One `conda list` row; a torch build string also says the CUDA it was built for."""
    match = _CONDA_ROW.match(entry)
    if not match or entry.startswith("#"):
        return False
    name, ver, build = match.group("name"), match.group("version"), match.group("build")
    channel = match.group("channel") or channel_default
    if channel == "pypi" or build == "pypi_0":
        partial.add_distribution(name, ver, installer="pip")
        return True
    if name == "python":  # conda's own record of the interpreter
        partial.put("python.version", ver)
        partial.put("python.marker_environment.python_version", ".".join(ver.split(".")[:2]))
        return True
    pip_name = CONDA_TO_PIP.get(name.lower(), name)
    summary = {"name": name, "version": ver, "build": build, "channel": channel}
    partial.add_distribution(pip_name, ver, installer="conda", conda=summary)
    if pip_name == "torch":
        _torch_conda_build(partial, ver, build)
    return True


def _torch_conda_build(partial: Partial, ver: str, build: str) -> None:
    cuda = _CONDA_CUDA.search(build)
    if partial.get("packages.frameworks.torch.build.cuda") is not None:
        return
    if cuda:
        digits = cuda.group("cuda")
        # conda-forge writes cuda112 for 11.2, the pytorch channel cuda11.8
        shown = digits if "." in digits else f"{digits[:-1]}.{digits[-1]}"
        partial.put("packages.frameworks.torch.build.cuda", shown)
    elif "cpu" in build.split("_"):
        partial.put("packages.frameworks.torch.build.cuda", False)
    else:
        return
    partial.put("packages.frameworks.torch.build.__version__", ver)
    partial.put("packages.frameworks.torch.build.source", "conda build string (pasted)")


def _pip_check(lines: list[str]) -> Partial | None:
    """Unmet requirements as pip words them; "No broken requirements found." is none at all."""
    partial = Partial("pip check")
    unmet: list[dict[str, str | None]] = []
    clean_bill = False
    for line in lines:
        text = line.strip().removeprefix("ERROR: ")
        if text == "No broken requirements found.":
            clean_bill = True
        missing = _CHECK_MISSING.match(text)
        conflict = _CHECK_CONFLICT.match(text) if not missing else None
        found = missing or conflict
        if found is None:
            continue
        partial.add_distribution(found.group("name"), found.group("version"))
        entry = {
            "distribution": found.group("name"),
            "version": found.group("version"),
            "requirement": found.group("req"),
            "installed": None,
            "problem": "missing",
            "detail": None,
        }
        if conflict:
            partial.add_distribution(conflict.group("dep"), conflict.group("installed"))
            entry.update(installed=conflict.group("installed"), problem="version")
        if not any(
            (u["distribution"], u["requirement"]) == (entry["distribution"], entry["requirement"])
            for u in unmet
        ):  # pip's resolver and pip check say the same conflict in other words
            unmet.append(entry)
    if unmet:  # pip's resolver names only the conflicts it caused: what it lists, no more
        partial.put("packages.unsatisfied", unmet)
    elif clean_bill:
        partial.put("packages.unsatisfied", [])
    else:
        return None
    return partial


def _pip_list(lines: list[str]) -> Partial | None:
    for i, line in enumerate(lines[:-1]):
        if _LIST_HEADER.match(line.strip()) and _LIST_RULE.match(lines[i + 1].strip()):
            partial = Partial("pip list", complete_listing=True)
            for row in lines[i + 2 :]:
                match = _LIST_ROW.match(row.strip())
                if not match:
                    break
                partial.add_distribution(match.group("name"), match.group("version"))
            return partial
    return None


def _pip_freeze(lines: list[str]) -> Partial | None:
    partial = Partial("pip freeze", complete_listing=True)
    count = 0
    for line in lines:
        text = line.strip()
        if pip_entry(partial, text) and "==" in text:
            count += 1
        elif _FREEZE_URL.match(text):
            partial.add_distribution(_FREEZE_URL.match(text).group("name"), None)  # type: ignore[union-attr]
    return partial if count >= MIN_FREEZE_LINES else None


def _conda_list(lines: list[str]) -> Partial | None:
    for i, line in enumerate(lines):
        header = _CONDA_HEADER.match(line.strip())
        if not header:
            continue
        partial = Partial("conda list", complete_listing=True)
        partial.put("python.prefix", header.group("prefix").strip())
        for row in lines[i + 1 :]:
            text = row.strip()
            if text.startswith("#") or not text:
                if partial.get("packages.distributions") and not text:
                    break
                continue
            if not conda_line(partial, text):
                break
        return partial
    return None


def _conda_export(lines: list[str]) -> Partial | None:
    """`conda env export`: YAML with "dependencies:", conda specs, then a "- pip:" list."""
    if not any(line.strip() == "dependencies:" for line in lines):
        return None
    partial = Partial("conda env export", complete_listing=True)
    for line in lines:
        pip = _EXPORT_PIP.match(line)
        conda = _EXPORT_CONDA.match(line) if not pip else None
        if pip:
            partial.add_distribution(pip.group("name"), pip.group("version"), installer="pip")
        elif conda:
            build = conda.group("build") or ""
            conda_line(partial, f"{conda.group('name')} {conda.group('version')} {build or '-'}")
        if line.startswith("prefix:"):
            partial.put("python.prefix", line.partition(":")[2].strip())
    return partial if partial.get("packages.distributions") else None
