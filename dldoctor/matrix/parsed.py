"""The matrix's TOML files, parsed once per content: a JSON copy in the user's cache folder.

Parsing the TOML files is most of what loading the matrix costs (pure-Python tomllib, ~30 ms
for 80 kB), paid on every `dldoctor check`; the C JSON parser reads the same data in ~1 ms.
The copy is named by the SHA-256 of the TOML bytes it came from, so an edited file never meets
a stale copy, and it is only an accelerator: any failure to read or write it falls back to the
TOML file, and the data goes through the same validation either way.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_BYTES = 4 * 1024 * 1024  # a data file (or its copy) larger than this is not ours
ENV_OFF = "DLDOCTOR_NO_CACHE"  # set (to anything) to read the TOML every time
EDITIONS = 4  # copies kept per data file, the newest (see _forget_old_editions)
# Hashed with the bytes of a file read with a check: bump it when a check proves more.
CHECKED = b"\0checked 1"


def cache_dir() -> Path | None:
    """Where the parsed copies go: $XDG_CACHE_HOME/dldoctor, else ~/.cache/dldoctor."""
    if os.environ.get(ENV_OFF):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):  # the XDG spec: a relative value is to be ignored
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "dldoctor" / "matrix"


def read(path: Path, check: Callable[[dict[str, Any]], object] | None = None) -> dict[str, Any]:
    """The TOML document at path, from its parsed copy when one exists for these bytes.

    ``check`` validates a freshly parsed document, raising to refuse it, before its copy is
    written: a copy made with a check holds only data that passed it (and is named apart from
    one made without), so what the check proves need not be proved again on every read.
    Raises OSError, or ValueError (TOMLDecodeError, UnicodeDecodeError) for a bad file.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise OSError(f"larger than {MAX_BYTES} bytes")
    folder = cache_dir()
    digest = _sha256(data + (CHECKED if check is not None else b"")).hexdigest()[:32]
    copy = None if folder is None else folder / f"{path.stem}-{digest}.json"
    kept = None if copy is None else _load_copy(copy)
    if kept is not None:
        return kept
    doc = _parse(data)
    if check is not None:
        check(doc)
    if copy is not None:
        _write_copy(copy, doc)
    return doc


def _sha256(data: bytes) -> Any:
    """hashlib's SHA-256 without hashlib's import: hashlib loads OpenSSL (~6 ms, more than the
    rest of reading the matrix), CPython's own SHA-256 module is ~1 ms; hashlib where a build
    lacks it."""
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # CPython 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]  # CPython 3.9-3.11
        except ImportError:
            from hashlib import sha256
    return sha256(data)


def _parse(data: bytes) -> dict[str, Any]:
    # Imported here: with a copy in the cache, a check never needs the TOML parser.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.9/3.10 only
        import tomli as tomllib
    return tomllib.loads(data.decode("utf-8"))


def _load_copy(copy: Path) -> dict[str, Any] | None:
    try:
        with open(copy, "rb") as f:
            text = f.read(MAX_BYTES + 1)
        doc = json.loads(text) if len(text) <= MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _write_copy(copy: Path, doc: dict[str, Any]) -> None:
    try:
        # A value JSON cannot hold (a TOML date) means no copy: the TOML stays the source.
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return
    import tempfile  # only when a copy is written, not on every check that reads one

    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=copy.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, copy)  # atomic: a concurrent check reads the old copy or the new
        except BaseException:
            os.unlink(tmp)
            raise
        _forget_old_editions(copy)
    except OSError:
        return  # a read-only home, a full disk: the TOML was read, that is enough


def _forget_old_editions(copy: Path) -> None:
    """Keep the copies of the EDITIONS most recently written editions of this file, remove the
    rest: two installs of dldoctor (two venvs, two checkouts) that share the cache folder but
    ship different editions would otherwise remove each other's copy on every run."""
    olds = []
    for old in copy.parent.glob(f"{copy.stem.rsplit('-', 1)[0]}-*.json"):
        if old != copy and len(old.stem.rsplit("-", 1)[-1]) == 32:
            try:
                olds.append((old.stat().st_mtime, old))
            except OSError:
                continue  # removed meanwhile by another check
    for _, old in sorted(olds, reverse=True)[EDITIONS - 1 :]:
        old.unlink(missing_ok=True)
