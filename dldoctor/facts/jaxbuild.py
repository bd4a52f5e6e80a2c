"""JAX build facts from jaxlib's and the CUDA plugins' own files, read as text (nothing imported).

jaxlib/version.py and jaxlib/xla_client.py carry the release, commit and the XLA client API
version as literals; a CUDA plugin's Requires-Dist (its ``with-cuda`` extra) names the CUDA
libraries it was built for. The PJRT C API version is a field the plugin's library fills in
when it is loaded, so it is known only at run time (the probe's job) and is said so here.
"""

from __future__ import annotations

import ast
import posixpath
import re
from typing import Any

from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import is_file, read_text
from dldoctor.facts.interpreter import canonical, module_literals

JSON = dict[str, Any]

MAX_SOURCE_BYTES = 256 * 1024  # jaxlib/xla_client.py is ~40 KB
_PLUGIN = re.compile(r"^jax-(cuda|rocm)(\d+)-(plugin|pjrt)$")
# "nvidia-cudnn-cu12<10.0,>=9.8; extra == "with-cuda"" → component cudnn, range.
_NVIDIA_PIN = re.compile(
    r"^\s*nvidia-([a-z0-9-]+?)(?:-cu\d+)?(?=[\s\[<>=!~;(]|$)\s*(?:\[[^\]]*\])?\s*\(?([^;)]*)"
)
_CLIENT_VERSION = re.compile(r"^_version\s*(?::\s*int\s*)?=\s*(\d+)\b", re.M)
PJRT_UNKNOWN = "set by the plugin's library when it is loaded: known only at run time"


def _literals(host: Host, path: str) -> JSON | None:
    text = read_text(host, path, MAX_SOURCE_BYTES)
    if text is None:
        return None
    try:
        return module_literals(ast.parse(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}


def jaxlib_build(host: Host, location: str) -> JSON:
    """jaxlib's release, commit and XLA client version, from its own version.py/xla_client.py."""
    version = _literals(host, posixpath.join(location, "jaxlib", "version.py"))
    # xla_client.py is ~40 KB of code around one literal: find it, do not parse the module.
    text = read_text(host, posixpath.join(location, "jaxlib", "xla_client.py"), MAX_SOURCE_BYTES)
    match = _CLIENT_VERSION.search(text or "")
    client = {"_version": int(match.group(1))} if match else {}
    facts: JSON = {
        "version": None,
        "git_hash": None,
        "xla_client_version": client.get("_version")
        if type(client.get("_version")) is int
        else None,
        "error": None,
    }
    if version is None:
        facts["error"] = "jaxlib/version.py not found"
        return facts
    release = version.get("_release_version") or version.get("_version")
    facts["version"] = release if isinstance(release, str) else None
    facts["git_hash"] = (
        version.get("_git_hash") if isinstance(version.get("_git_hash"), str) else None
    )
    return facts


def plugin_build(host: Host, distribution: JSON) -> JSON:
    """What a CUDA plugin distribution was built for: the NVIDIA wheels it pins, its library."""
    name = canonical(distribution.get("name"))
    match = _PLUGIN.match(name)
    built_for: JSON = {}
    for requirement in distribution.get("requires") or []:
        pin = _NVIDIA_PIN.match(str(requirement))
        if pin and pin.group(2).strip():
            built_for.setdefault(pin.group(1), pin.group(2).strip())
    library: str | None = None
    if match and match.group(3) == "pjrt":
        candidate = posixpath.join(
            str(distribution.get("location") or ""),
            "jax_plugins",
            f"xla_{match.group(1)}{match.group(2)}",
            f"xla_{match.group(1)}_plugin.so",
        )
        library = candidate if is_file(host, candidate) else None
    return {
        "name": distribution.get("name"),
        "built_for": built_for,
        "pjrt_library": library or False,  # False: no PJRT library in this distribution
        "pjrt_c_api_version": None,
        "pjrt_c_api_note": PJRT_UNKNOWN if library else None,
    }


def jax_build_facts(host: Host, distributions: list[JSON]) -> JSON | bool:
    """The ``static`` part of the jax framework's build facts; False when jaxlib is absent."""
    jaxlib = next((d for d in distributions if canonical(d.get("name")) == "jaxlib"), None)
    if jaxlib is None:
        return False
    seen: set[str] = set()
    plugins = []
    for dist in distributions:  # the first copy of each name is the one that imports
        name = canonical(dist.get("name"))
        if _PLUGIN.match(name) and name not in seen:
            seen.add(name)
            plugins.append(plugin_build(host, dist))
    return {"jaxlib": jaxlib_build(host, str(jaxlib.get("location") or "")), "plugins": plugins}
