"""What a probe's record says of the CUDA libraries: which library each mapped file is (and its
SONAME), and the loads that failed, as facts ``{library, error}`` read by the signatures."""

from __future__ import annotations

import os
import stat
from typing import Any

from dldoctor.facts.elf import read_dynamic
from dldoctor.facts.libscan import library_of
from dldoctor.matrix import Matrix

JSON = dict[str, Any]
# The causes whose signatures name a library that did not load (compat_matrix/signatures.toml).
LOAD_CAUSES = ("missing-library", "shadowed-library", "system-library-too-old")
MAX_FAILED = 20
_EXTRA = ("symbol", "provider", "dlerror", "needed")  # facts a signature extracts, kept


def annotate(record: JSON, matrix: Matrix) -> None:
    """Add each loaded library's key and SONAME, and the record's failed loads; in place."""
    by_stem = {str(row["file"]): str(row["key"]) for row in matrix.tables["libraries"]["library"]}
    for lib in record.get("libraries") or []:
        lib["library"] = library_of(str(lib.get("name") or ""), by_stem)
        lib["soname"] = _soname(str(lib.get("path") or ""))
    record["failed_loads"] = failed_loads(record, matrix)
    for key, said in (record.get("versions") or {}).items():
        # Beside what the framework says: the file it really mapped (TensorFlow and ONNX
        # Runtime report no run-time version; this is theirs).
        lib = next((x for x in record.get("libraries") or [] if x.get("library") == key), None)
        if isinstance(said, dict) and lib is not None:
            said["loaded"] = {"path": lib["path"], "version": lib.get("version")}


def _soname(path: str) -> str | None:
    """The file's DT_SONAME. The path came from the child (untrusted): a regular file only
    (opening a FIFO named like a library would block)."""
    try:
        if not os.path.isabs(path) or not stat.S_ISREG(os.stat(path).st_mode):
            return None
    except (OSError, ValueError):
        return None
    info = read_dynamic(path)
    return info.soname if info is not None else None


def failed_loads(record: JSON, matrix: Matrix) -> list[JSON]:
    """Every library the framework's words say did not load, once, with the line that said so."""
    from dldoctor.checks.runtime_common import texts  # the one reader of a record's words

    found: list[JSON] = []
    for where, said in texts(record):
        for match in matrix.signatures.scan(said):
            groups = match.groups
            # The library that failed to load: an undefined symbol's victim, the one a too-old
            # libstdc++ was "required by", else the one named missing.
            library = groups.get("victim") or (
                groups.get("path") if match.cause == "system-library-too-old" else None
            )
            library = library or groups.get("library")
            if match.cause not in LOAD_CAUSES or not library:
                continue
            same = next((f for f in found if f["library"] == library), None)
            if same is not None:  # another signature of the same failure: what it adds
                same.update({k: v for k, v in groups.items() if k in _EXTRA and k not in same})
                continue
            if len(found) >= MAX_FAILED:
                continue
            entry = {
                "library": library,
                "error": match.line,
                "where": where,
                "signature": match.signature.id,
                "cause": match.cause,
            }
            if library != groups.get("library") and groups.get("library"):
                entry["provider"] = groups["library"]  # the library that lacks what it needs
            for key in _EXTRA:
                if key in groups and key not in entry:
                    entry[key] = groups[key]
            found.append(entry)
    return found
